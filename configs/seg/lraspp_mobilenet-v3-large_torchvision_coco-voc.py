# torchvision's trained LR-ASPP (`torchvision.models.segmentation.lraspp_mobilenet_v3_large`,
# weights COCO_WITH_VOC_LABELS_V1), converted exactly: a VARIANT of the paper's LR-ASPP, not Table 7.
# torchvision reports 57.9 mIoU / 91.2 pixel acc. on COCO val2017 restricted to the 20 VOC categories
# (the source's number, not re-measured here; mmseg has no dataset for that subset, so the test set
# below is Pascal VOC 2012 val, which gives a different number).
# Convert (the .pth from https://download.pytorch.org/models/lraspp_mobilenet_v3_large-d234d4ea.pth):
#   python tools/model_converters/torchvision2mmv3.py lraspp_mobilenet_v3_large-d234d4ea.pth \
#       lraspp_tv_mmv3.pth --model lraspp_mobilenet_v3_large --verify
#   python tools/test.py configs/seg/lraspp_mobilenet-v3-large_torchvision_coco-voc.py lraspp_tv_mmv3.pth
# Differences from Table 7 row 8 (each an argument, see mmv3/converters/torchvision_dense.py): full-width
# tail (no RF2), bneck 13 already dilated (atrous_rate_first=True), 1/8 features = bneck 4's 40-channel
# output, branch B = global pooling + 1x1 conv without bias, head BN eps 1e-5, align_corners=False,
# ImageNet mean/std inputs, 21 classes.
_base_ = ['../_base_/default_runtime_seg.py']

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(
        type='mmv3.MobileNetV3', arch='large', widen_factor=1.0, out_indices=(4, 16), output_stride=16,
        atrous_rate_first=True, norm_cfg=dict(type='BN', eps=0.001, momentum=0.01), init_cfg=None),
    decode_head=dict(
        type='mmv3.LRASPPHead', in_channels=(40, 960), in_index=(0, 1), channels=128, pool_kernel=None,
        gate_bias=False, dropout_ratio=0.0, num_classes=21, norm_cfg=dict(type='BN', eps=1e-5),
        act_cfg=dict(type='ReLU'), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# torchvision's eval preset: resize the short side to 520 (bilinear), ImageNet mean/std (above).
# mmcv's Resize keeps the ratio and fits (long <= 4096, short <= 520): the short side becomes 520.
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 520), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
