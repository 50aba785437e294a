# Table 7 row 1: MobileNetV2, no RF2, R-ASPP, F = 256.
# Paper: 72.84 mIoU (Cityscapes val), 2.11M params, 21.29B MAdds.
# Measured (mmv3.analysis.count_model, paper convention, 1025x2049): 2.113M params (+0.1%), 21.23B MAdds (-0.3%).
# Output stride 16 (atrous last stage), from scratch, 8 GPUs x 2 crops of 769x769, 320k iterations.
_base_ = [
    '../_base_/models/raspp_mobilenet-v2-d16.py',
    '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_poly_320k.py',
]

model = dict(
    backbone=dict(widen_factor=1.0, out_indices=(17, ), reduce_tail=None),
    # = backbone.out_channels[-1]: bneck 17 (320)
    decode_head=dict(in_channels=320, channels=256))
