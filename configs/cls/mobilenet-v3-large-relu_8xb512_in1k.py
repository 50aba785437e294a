# Table 5, row "ReLU": MobileNetV3-Large 1.0 with every nonlinearity ReLU
# (paper: 74.5 top-1, 50.5 ms; the h-swish model: 75.2, 51.4 ms).
# Every h-swish of the backbone (stem, bnecks 7-15, final conv) and of the
# classification head (the 1280 conv) becomes ReLU. Params and MAdds are those
# of V3-Large 1.0 (activations have neither).
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']

model = dict(
    backbone=dict(act_cfg=dict(HS=dict(type='ReLU'))),
    head=dict(act_cfg=dict(type='ReLU')))
