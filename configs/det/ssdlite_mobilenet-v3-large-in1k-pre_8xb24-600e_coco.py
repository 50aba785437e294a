# SSDLite, backbone V3 (Table 6 row "V3") initialised from ImageNet-1k weights.
# The checkpoint is torchvision's ImageNet model converted to mmv3's layout:
#   python tools/model_converters/torchvision2mmv3.py mobilenet_v3_large-8738ca79.pth checkpoints/mobilenet-v3-large_torchvision-in1k_mmv3.pth
# (an mmpretrain-style checkpoint whose backbone keys start with 'backbone.'; the head is ignored).
_base_ = ['./ssdlite_mobilenet-v3-large_8xb24-600e_coco.py']
pretrained = 'checkpoints/mobilenet-v3-large_torchvision-in1k_mmv3.pth'
model = dict(
    backbone=dict(
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=pretrained, prefix='backbone.')))
