# Table 7 row 4: MobileNetV2, RF2, LR-ASPP, F = 128.
# Paper: 72.74 mIoU (Cityscapes val), 0.98M params, 12.57B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 0.987M params (+0.7%), 12.52B MAdds (-0.4%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v3-large-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

norm_cfg = dict(type='BN', eps=0.001, requires_grad=True)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmv3.MobileNetV2',
        widen_factor=1.0,
        # (1/8 skip = depthwise output of the 6th bneck, 1/16 = the 320-channel bneck);
        # the layers after the deepest tap (the 1280 conv) are not built
        out_indices=('6.depthwise', 17),
        output_stride=16,
        reduce_tail='rf2',
        norm_cfg=norm_cfg,
        init_cfg=None),
    decode_head=dict(in_channels=(192, 160), channels=128))
