# SSDLite on V2 0.35: Table 6 row "V2 0.35", 320x320 input. Paper: 0.93M params, 0.16B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 0.948M params, 0.167B MAdds
# (tests/test_det_ssdlite.py). Trained from scratch, like TF's SSDLite recipe.
# MAdds +4.2% over the paper: an open residual recorded in constructions.md.
_base_ = [
    '../_base_/models/ssdlite_320.py',
    '../_base_/datasets/coco_detection_ssdlite-320.py',
    '../_base_/schedules/schedule_ssdlite_sgd_600e.py',
    '../_base_/default_runtime_det.py',
]
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    backbone=dict(
        type='mmv3.MobileNetV2',
        widen_factor=0.35,
        min_channels=8,
        # the 1280 conv is width-scaled here: 448
        scale_final_conv=True,
        # C4 = bneck 14's expansion (192), C5 = the 448 conv
        out_indices=('14.expand', 18),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers max(int(d * 0.35), 16) for d in (512, 256, 256, 128)
    neck=dict(in_channels=(192, 448), out_channels=(192, 448, 179, 89, 89, 44)),
    bbox_head=dict(in_channels=(192, 448, 179, 89, 89, 44)))
