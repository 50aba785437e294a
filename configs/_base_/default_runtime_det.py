# Runtime for the COCO SSDLite configs: mmdet's default runtime, with mmv3's atomic checkpoints
# that load with torch.load(weights_only=True) (mmv3.engine.SafeCheckpointHook).
_base_ = 'mmdet::_base_/default_runtime.py'

default_hooks = dict(checkpoint=dict(type='mmv3.SafeCheckpointHook', interval=1, max_keep_ckpts=3))
