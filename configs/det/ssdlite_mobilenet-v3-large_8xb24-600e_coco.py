# SSDLite on V3: Table 6 row "V3", 320x320 input. Paper: 4.97M params, 0.62B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 5.007M params, 0.613B MAdds
# (tests/test_det_ssdlite.py). Trained from scratch, like TF's SSDLite recipe.
_base_ = [
    '../_base_/models/ssdlite_320.py',
    '../_base_/datasets/coco_detection_ssdlite-320.py',
    '../_base_/schedules/schedule_ssdlite_sgd_600e.py',
    '../_base_/default_runtime_det.py',
]
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    backbone=dict(
        type='mmv3.MobileNetV3',
        arch='large',
        widen_factor=1.0,
        # C4 = bneck 13's expansion (672), C5 = the final 1x1 conv (960)
        out_indices=('13.expand', 16),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers 512, 256, 256, 128
    neck=dict(in_channels=(672, 960), out_channels=(672, 960, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(672, 960, 512, 256, 256, 128)))
