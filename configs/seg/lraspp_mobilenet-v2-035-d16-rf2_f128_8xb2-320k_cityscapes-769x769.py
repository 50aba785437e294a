# Table 7 row 10: MobileNetV2 0.35, RF2, LR-ASPP, F = 128.
# Paper: 66.83 mIoU (Cityscapes val), 0.16M params, 2.54B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 0.169M params (+5.3%), 2.50B MAdds (-1.7%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v2-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(widen_factor=0.35, out_indices=('6.depthwise', 17), reduce_tail='rf2'),
    # = backbone.out_channels: bneck 6's expansion (6 x 16: its input 32 x 0.35 = 11.2, which
    # make_divisible rounds up to 16, 8 being < 90 % of it), bneck 17 at RF2 (320 x 0.35 / 2 = 56)
    decode_head=dict(in_channels=(96, 56), channels=128))
