# Table 7 row 7: MobileNetV3-Large, RF2, LR-ASPP, F = 256.
# Paper: 72.37 mIoU (Cityscapes val), 1.63M params, 10.33B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 1.633M params (+0.2%), 10.13B MAdds (-1.9%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v3-large-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(arch='large', widen_factor=1.0, out_indices=('6.depthwise', 16), reduce_tail='rf2'),
    # = backbone.out_channels: bneck 6's expansion (120), the final 1x1 conv at RF2 (960 / 2 = 480)
    decode_head=dict(in_channels=(120, 480), channels=256))
