# Runtime for the ImageNet classification configs (mmpretrain).
# mmv3's modules are registered under the 'mmv3' scope; everything else resolves
# in mmpretrain's registries, exactly like a user's own mmpretrain config.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmv3'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic checkpoints that load with torch.load(weights_only=True) (mmv3.engine)
    checkpoint=dict(type='mmv3.SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
