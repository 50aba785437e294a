# ImageNet-1k (mmpretrain layout: data/imagenet/{train,val,meta/train.txt,meta/val.txt})
# with Inception-style preprocessing, as the MobileNetV3 paper trains.
#
# train: Inception random crop (area 5%-100% of the image, aspect 3/4-4/3; TF's
#        distorted_bounding_box_crop), bilinear resize to 224, horizontal flip,
#        TF "fast mode" colour distortion approximated by brightness +-12.5 %
#        (TF: +-32/255 additive) and saturation 0.5-1.5.
# eval:  Inception central crop of 87.5 % (= resize the short edge to 256, centre
#        crop 224), bilinear.
# Pixels are scaled to [-1, 1] (TF Inception convention: (x - 127.5) / 127.5).
# The resolution variants (configs/cls/*-{96,128,160,192,256}px.py) state one value,
# `resolution`, and rebuild these pipelines with mmv3.datasets.resolution.at_resolution:
# train crop = resolution, short edge = round(resolution / 0.875), centre crop = resolution.
dataset_type = 'ImageNet'
data_preprocessor = dict(
    num_classes=1000,
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True,  # images are loaded BGR
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.05, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        interpolation='bilinear',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.125, saturation=0.5),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=512,  # per GPU; 8 GPUs x 512 = 4096, the paper's batch
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root='data/imagenet',
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root='data/imagenet',
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
