# Table 7 row 5: MobileNetV3-Large, no RF2, R-ASPP, F = 256.
# Paper: 72.64 mIoU (Cityscapes val), 3.60M params, 18.43B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 3.601M params (+0.0%), 18.16B MAdds (-1.5%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/raspp_mobilenet-v3-large-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(arch='large', widen_factor=1.0, out_indices=(16, ), reduce_tail=None),
    # = backbone.out_channels[-1]: the final 1x1 conv (960)
    decode_head=dict(in_channels=960, channels=256))
