# MobileNetV2 0.35, 224x224, ImageNet-1k: the baseline of Table 3 ("V2 0.35":
# 60.8 top-1, 59.2M MAdds, 1.6M params).
# Width multiplier 0.35 on every layer (rounded to multiples of 8, min 8), except
# the final 1x1 conv which stays at 1280 (the MobileNetV2 paper: "for multipliers
# less than one, we apply width multiplier to all layers except the very last").
_base_ = ['./mobilenet-v2_8xb512_in1k.py']

# head.in_channels = backbone.out_channels[-1]: the 1280 conv, not narrowed at 0.35
model = dict(backbone=dict(widen_factor=0.35), head=dict(in_channels=1280))
