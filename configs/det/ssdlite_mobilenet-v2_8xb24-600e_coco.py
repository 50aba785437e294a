# SSDLite on V2: Table 6 row "V2", 320x320 input. Paper: 4.3M params, 0.80B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 4.501M params, 0.804B MAdds
# (tests/test_det_ssdlite.py). Trained from scratch, like TF's SSDLite recipe.
# Paper figures from the MobileNetV2 paper; they fit 81 class slots (80 COCO classes +
# background): 4.337M params, 0.789B MAdds. With 91 slots params are +4.7% (documented residual).
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
        widen_factor=1.0,
        # C4 = bneck 14's expansion (576), C5 = the 1280 conv
        out_indices=('14.expand', 18),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers 512, 256, 256, 128
    neck=dict(in_channels=(576, 1280), out_channels=(576, 1280, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(576, 1280, 512, 256, 256, 128)))
