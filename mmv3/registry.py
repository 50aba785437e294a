"""mmv3's registry scope.

``MODELS`` is a child of mmengine's root model registry with scope ``'mmv3'``. Because mmdet's,
mmseg's and mmpretrain's registries share that root, ``type='mmv3.MobileNetV3'`` resolves from a
config of any of the three toolboxes once ``custom_imports=dict(imports=['mmv3'])`` has imported us.
Modules we build internally that belong to a toolbox (losses, anchor generators, ...) are built with
that toolbox's own registry, never ours.
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmv3', locations=['mmv3.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmv3', locations=['mmv3.engine'])
