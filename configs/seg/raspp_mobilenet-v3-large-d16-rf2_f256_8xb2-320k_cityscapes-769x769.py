# Table 7 row 6: MobileNetV3-Large, RF2, R-ASPP, F = 256.
# Paper: 71.91 mIoU (Cityscapes val), 1.76M params, 11.24B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 1.762M params (+0.1%), 11.03B MAdds (-1.9%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/raspp_mobilenet-v3-large-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(arch='large', widen_factor=1.0, out_indices=(16, ), reduce_tail='rf2'),
    # = backbone.out_channels[-1]: the final 1x1 conv at RF2 (960 / 2 = 480)
    decode_head=dict(in_channels=480, channels=256))
