# SSDLite on V3-Small: Table 6 row "V3-Small", 320x320 input. Paper: 2.49M params, 0.21B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 2.518M params, 0.210B MAdds
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
        arch='small',
        widen_factor=1.0,
        # C4 = bneck 9's expansion (288), C5 = the final 1x1 conv (576)
        out_indices=('9.expand', 12),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers 512, 256, 256, 128
    neck=dict(in_channels=(288, 576), out_channels=(288, 576, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(288, 576, 512, 256, 256, 128)))
