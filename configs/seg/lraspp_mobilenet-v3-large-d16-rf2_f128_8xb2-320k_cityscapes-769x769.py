# Table 7 row 8: MobileNetV3-Large, RF2, LR-ASPP, F = 128 (one of the paper's two models).
# Paper: 72.36 mIoU (Cityscapes val), 1.51M params, 9.74B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 1.507M params (-0.2%), 9.53B MAdds (-2.1%).
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
    decode_head=dict(in_channels=(120, 480), channels=128))
