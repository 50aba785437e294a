# Runtime for the Cityscapes segmentation configs (mmseg).
# mmv3's modules are registered under the 'mmv3' scope (type='mmv3.X'); everything else
# resolves in mmseg's registries, exactly like a user's own mmseg config.
default_scope = 'mmseg'
custom_imports = dict(imports=['mmv3'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
# stop at the first NaN/inf loss (iteration named); nothing saved over the last good checkpoint
custom_hooks = [dict(type='mmv3.NonFiniteLossHook')]

# The models use plain BN so that single-process CPU/GPU runs work. For a distributed (GPU)
# run, ask mmengine to convert every BN to torch.nn.SyncBatchNorm: `tools/train.py ... --sync-bn`
# (or `--cfg-options sync_bn=torch`; mmengine reads `sync_bn` only when distributed).
