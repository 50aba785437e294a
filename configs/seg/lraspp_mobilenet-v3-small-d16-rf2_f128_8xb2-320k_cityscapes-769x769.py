# Table 7 row 11: MobileNetV3-Small, RF2, LR-ASPP, F = 128 (one of the paper's two models).
# Paper: 68.38 mIoU (Cityscapes val), 0.47M params, 2.90B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 0.469M params (-0.2%), 2.78B MAdds (-4.1%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/lraspp_mobilenet-v3-large-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(arch='small', widen_factor=1.0, out_indices=('3.depthwise', 12), reduce_tail='rf2'),
    # = backbone.out_channels: bneck 3's expansion (88), the final 1x1 conv at RF2 (576 / 2 = 288)
    decode_head=dict(in_channels=(88, 288), channels=128))
