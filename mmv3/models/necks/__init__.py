"""mmdet necks for mmv3's detectors.

SSDLite's extra layers need no new class: mmdet's ``SSDNeck(use_depthwise=True,
l2_norm_scale=None, act_cfg=dict(type='ReLU6'))`` is exactly the construction (per layer:
1x1 conv to d/2 + BN + ReLU6 -> depthwise 3x3 stride 2 + BN + ReLU6 -> 1x1 conv to d + BN
+ ReLU6), with ``out_channels = (C4, C5) + (max(int(d * alpha), 16) for d in (512, 256,
256, 128))``; ``int(d * alpha) // 2`` equals TensorFlow's ``int(d / 2 * alpha)`` for every
width of Table 6. See ``configs/_base_/models/ssdlite_320.py``.
"""
