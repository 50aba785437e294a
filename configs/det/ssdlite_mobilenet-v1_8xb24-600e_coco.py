# SSDLite on V1: Table 6 row "V1", 320x320 input. Paper: 5.1M params, 1.3B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 5.247M params, 1.322B MAdds
# (tests/test_det_ssdlite.py). Trained from scratch, like TF's SSDLite recipe.
# Paper figures from the MobileNetV2 paper; they fit 81 class slots (80 COCO classes +
# background): 5.101M params, 1.309B MAdds. With 91 slots params are +2.9% (documented residual).
_base_ = [
    '../_base_/models/ssdlite_320.py',
    '../_base_/datasets/coco_detection_ssdlite-320.py',
    '../_base_/schedules/schedule_ssdlite_sgd_600e.py',
    '../_base_/default_runtime_det.py',
]
norm_cfg = dict(type='BN', eps=0.001, momentum=0.03)
model = dict(
    backbone=dict(
        type='mmv3.MobileNetV1',
        widen_factor=1.0,
        # C4 = 11th dw-separable pair (512, 1/16), C5 = 13th (1024, 1/32)
        out_indices=(11, 13),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers 512, 256, 256, 128
    neck=dict(in_channels=(512, 1024), out_channels=(512, 1024, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(512, 1024, 512, 256, 256, 128)))
