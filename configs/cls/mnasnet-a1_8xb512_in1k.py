# MnasNet-A1, 224x224, ImageNet-1k: the baseline of Table 3 ("MnasNet-A1":
# 75.2 top-1, 315M MAdds, 3.9M params).
# Trained with the MobileNetV3 paper's protocol: total batch 4096 = 8 GPUs x 512
# per GPU, lr 0.1 (--auto-scale-lr for others).
_base_ = [
    '../_base_/models/mnasnet_a1_cls.py',
    '../_base_/datasets/imagenet_bs512_inception_224.py',
    '../_base_/schedules/imagenet_bs4096_rmsprop.py',
    '../_base_/default_runtime.py',
]
