# Table 5, row "h-swish @16": MobileNetV3-Large 1.0 with h-swish from the first
# layer with 16 channels on, i.e. every layer including the stem and bnecks 1-6
# (paper: 75.4 top-1, 53.5 ms). The head keeps its h-swish.
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']

model = dict(backbone=dict(hswish_from=16))
