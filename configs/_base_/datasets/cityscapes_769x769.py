# Cityscapes "fine" (train 2975 / val 500 images, 19 classes + 255 ignore), DeepLab's protocol:
# random scale 0.5-2.0 of the 2049x1025 image, random 769x769 crop (padded with ignore where the
# scaled image is smaller), horizontal flip. No photometric distortion (DeepLab uses none; add
# dict(type='PhotoMetricDistortion') before PackSegInputs to get mmseg's usual recipe).
# Evaluation: single scale, whole image at 2049x1025 (DeepLab's evaluation size), mIoU.
# Expected layout (tools/dataset_converters/cityscapes.py writes the *_labelTrainIds.png):
#   data/cityscapes/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png
#   data/cityscapes/gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes/'
crop_size = (769, 769)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2049, 1025), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    # refuse label maps with ids outside 0..18 / 255 (e.g. raw labelIds instead of labelTrainIds);
    # last before packing so that --cfg-options indices of the steps above stay as in mmseg's configs
    dict(type='mmv3.CheckSegLabels', num_classes=19, ignore_index=255),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2049, 1025), keep_ratio=True),
    # annotations are loaded after Resize: the metric compares at the original size
    dict(type='LoadAnnotations'),
    dict(type='mmv3.CheckSegLabels', num_classes=19, ignore_index=255),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
