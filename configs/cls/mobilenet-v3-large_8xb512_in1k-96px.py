# MobileNetV3-Large 1.0 at input resolution 96x96, ImageNet-1k.
# Paper: Figure 7 (resolution sweep 96-256 at multiplier 1.0).
# Same model and schedule as mobilenet-v3-large_8xb512_in1k.py; only the data
# sizes change. Train: Inception random crop resized to 96. Eval: the Inception
# central crop of 87.5 %: short edge -> round(96 / 0.875) = 110, centre crop 96.
_base_ = ['./mobilenet-v3-large_8xb512_in1k.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=96,
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
    dict(type='ResizeEdge', scale=110, edge='short', backend='pillow',
         interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=96),
    dict(type='PackInputs'),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
