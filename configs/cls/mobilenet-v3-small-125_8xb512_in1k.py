# MobileNetV3-Small 1.25, 224x224, ImageNet-1k.
# Paper: Figure 7 (width multiplier sweep at 224).
# Width multiplier 1.25: every layer's channels x 1.25, rounded to a multiple of 8
# (never below 90 % of the unrounded width); the final 1x1 conv becomes
# 576 x 1.25 -> 720 channels. The head's 1024-wide 1x1 conv keeps 1024 channels
# at every multiplier (TF finegrain_classification_mode, see the model base).
_base_ = ['./mobilenet-v3-small_8xb512_in1k.py']

model = dict(
    backbone=dict(widen_factor=1.25),
    head=dict(in_channels=720))  # = backbone.out_channels[-1]: the final 1x1 conv, 576 x 1.25 -> 720
