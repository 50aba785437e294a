# Table 7 row 3: MobileNetV2, RF2, LR-ASPP, F = 256.
# Paper: 72.97 mIoU (Cityscapes val), 1.02M params, 12.83B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 1.031M params (+1.1%), 12.78B MAdds (-0.4%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v2-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(widen_factor=1.0, out_indices=('6.depthwise', 17), reduce_tail='rf2'),
    # = backbone.out_channels: bneck 6's expansion (6 x 32 = 192), bneck 17 at RF2 (320 / 2 = 160)
    decode_head=dict(in_channels=(192, 160), channels=256))
