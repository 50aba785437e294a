# The paper's small segmentation model: LR-ASPP on MobileNetV3-Small with RF2, F = 128, output
# stride 16, trained from scratch on Cityscapes fine (Table 7 row 11: 68.38 mIoU, 0.47M params,
# 2.90B MAdds at 1024x2048). The full recipe is in the file below.
#   python tools/train.py configs/seg/lraspp_v3_small_cityscapes.py
_base_ = './lraspp_mobilenet-v3-small-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py'
