# DeepLab's poly schedule: SGD (momentum 0.9), lr 0.01 for a total batch of 16
# (8 GPUs x 2 images), weight decay 4e-5, lr = 0.01 * (1 - iter / 320k) ** 0.9 down to 0.
# (mmseg's own from-scratch LR-ASPP recipe also trains 320k iterations at lr 0.01; its
# configs set the dead key `runner=`, so they stop at the base file's 160k; here the
# iteration count is in `train_cfg`, the key mmengine reads.)
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=4e-5)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=320000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=320000, val_interval=32000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic checkpoints that load with torch.load(weights_only=True) (mmv3.engine)
    checkpoint=dict(type='mmv3.SafeCheckpointHook', by_epoch=False, interval=32000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
