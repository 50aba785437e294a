# MobileNetV2 1.0, 224x224, ImageNet-1k: the baseline of Table 3 ("V2 1.0":
# 72.0 top-1, 300M MAdds, 3.4M params).
# Trained with the MobileNetV3 paper's protocol (not the V2 paper's lr 0.045 /
# wd 4e-5 recipe) so that the baselines and V3 share one schedule:
# total batch 4096 = 8 GPUs x 512 per GPU, lr 0.1 (--auto-scale-lr for others).
_base_ = [
    '../_base_/models/mobilenet_v2_cls.py',
    '../_base_/datasets/imagenet_bs512_inception_224.py',
    '../_base_/schedules/imagenet_bs4096_rmsprop.py',
    '../_base_/default_runtime.py',
]
