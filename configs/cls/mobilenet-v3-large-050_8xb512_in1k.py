# MobileNetV3-Large 0.5, 224x224, ImageNet-1k.
# Paper: Figure 7 (width multiplier sweep at 224).
# Width multiplier 0.5: every layer's channels x 0.5, rounded to a multiple of 8
# (never below 90 % of the unrounded width); the final 1x1 conv becomes
# 960 x 0.5 -> 480 channels. The head's 1280-wide 1x1 conv keeps 1280 channels
# at every multiplier (TF finegrain_classification_mode, see the model base).
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']

model = dict(
    backbone=dict(widen_factor=0.5),
    head=dict(in_channels=480))  # = backbone.out_channels[-1]: the final 1x1 conv, 960 x 0.5 -> 480
