# MobileNetV3-Small 0.75, 224x224, ImageNet-1k.
# Paper: Table 3 row "V3-Small 0.75" (65.4 top-1, 44M MAdds, 2.0M params) and Figure 7.
# Width multiplier 0.75: every layer's channels x 0.75, rounded to a multiple of 8
# (never below 90 % of the unrounded width); the final 1x1 conv becomes
# 576 x 0.75 -> 432 channels. The head's 1024-wide 1x1 conv keeps 1024 channels
# at every multiplier (TF finegrain_classification_mode, see the model base).
_base_ = ['./mobilenet-v3-small_8xb512_in1k.py']

model = dict(
    backbone=dict(widen_factor=0.75),
    head=dict(in_channels=432))  # = backbone.out_channels[-1]: the final 1x1 conv, 576 x 0.75 -> 432
