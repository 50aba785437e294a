# MobileNetV3-Small 1.0, 224x224, ImageNet-1k.
# Paper: Searching for MobileNetV3 (Howard et al., ICCV 2019),
# Table 2 / Table 3 row "V3-Small 1.0" (67.4 top-1, 56M MAdds, 2.5M params).
# Model: configs/_base_/models/mobilenet_v3_small_cls.py
# Schedule: the paper's ImageNet protocol, total batch 4096 = 8 GPUs x 512 per GPU,
# lr 0.1 (scale linearly for other batches: tools/train.py --auto-scale-lr).
_base_ = [
    '../_base_/models/mobilenet_v3_small_cls.py',
    '../_base_/datasets/imagenet_bs512_inception_224.py',
    '../_base_/schedules/imagenet_bs4096_rmsprop.py',
    '../_base_/default_runtime.py',
]
