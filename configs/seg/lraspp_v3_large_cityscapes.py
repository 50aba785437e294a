# The paper's segmentation model: LR-ASPP on MobileNetV3-Large with RF2, F = 128, output
# stride 16, trained from scratch on Cityscapes fine (Table 7 row 8: 72.36 mIoU, 1.51M params,
# 9.74B MAdds at 1024x2048). The full recipe is in the file below: 769x769 crops, 8 GPUs x 2
# images, 320k iterations of SGD with poly lr.
#   python tools/train.py configs/seg/lraspp_v3_large_cityscapes.py
_base_ = './lraspp_mobilenet-v3-large-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py'
