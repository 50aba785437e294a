# SSDLite on MnasNet 0.35: Table 6 row "MnasNet 0.35", 320x320 input. Paper: 1.02M params, 0.18B MAdds.
# This model with 91 class slots (model.bbox_head.num_classes=90): 1.032M params, 0.177B MAdds
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
        type='mmv3.MnasNet',
        arch='a1',
        widen_factor=0.35,
        min_channels=8,
        # C4 = block 13's expansion (240), C5 = the 1280 conv scaled: 448
        out_indices=('13.expand', 17),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # (C4, C5) + extra layers max(int(d * 0.35), 16) for d in (512, 256, 256, 128)
    neck=dict(in_channels=(240, 448), out_channels=(240, 448, 179, 89, 89, 44)),
    bbox_head=dict(in_channels=(240, 448, 179, 89, 89, 44)))
