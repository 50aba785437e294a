# Table 7 row 9: MobileNetV2 0.5, RF2, LR-ASPP, F = 128.
# Paper: 68.57 mIoU (Cityscapes val), 0.28M params, 4.00B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 0.283M params (+0.9%), 3.96B MAdds (-1.0%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v2-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(widen_factor=0.5, out_indices=('6.depthwise', 17), reduce_tail='rf2'),
    # = backbone.out_channels: bneck 6's expansion (6 x 16, its input 32 x 0.5), bneck 17 at RF2
    # (320 x 0.5 / 2 = 80)
    decode_head=dict(in_channels=(96, 80), channels=128))
