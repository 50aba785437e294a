# A classification config that trains in seconds on a CPU (tests of the tools and engine only).
# Data: a folder of class sub-folders (mmpretrain CustomDataset) set by the tests with
# --cfg-options train_dataloader.dataset.data_root=... test_dataloader.dataset.data_root=...
# The head has dropout, so exact resume also checks that torch's RNG state is restored.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmv3', 'mmv3.models', 'mmv3.engine'], allow_failed_imports=False)

data_root = 'data/tiny_cls'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmv3.MobileNetV3', arch='small', widen_factor=0.35),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=3,
        in_channels=200,  # = backbone.out_channels[-1]: V3-Small's final conv, 576 x 0.35 -> 200
        mid_channels=[32],
        dropout_rate=0.2,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(
    num_classes=3, mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
# 12 training images, batch 6: 2 iterations per epoch, so every checkpoint (interval 2) falls on
# an epoch end, where the dataloader iterator is re-created (the hardest case for exact resume).
train_dataloader = dict(
    batch_size=6,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
# no validation during training (keeps the tests fast); tools/test.py uses test_dataloader
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict()

optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[3], gamma=0.5)]
train_cfg = dict(by_epoch=False, max_iters=4)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=True)
