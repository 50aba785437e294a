# Table 5, row "h-swish @112": MobileNetV3-Large 1.0 with h-swish from the first
# layer with 112 channels (bneck 11) on and ReLU in bnecks 1-10 (paper: 75.0
# top-1, 51 ms). The stem keeps its h-swish; the head keeps its h-swish.
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']

model = dict(backbone=dict(hswish_from=112))
