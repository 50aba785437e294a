"""mmv3's registry scope.

Each registry is a child of mmengine's root registry of the same kind, with scope ``'mmv3'``.
Because mmdet's, mmseg's and mmpretrain's registries share those roots,
``type='mmv3.MobileNetV3'`` resolves from a config of any of the three toolboxes once
``custom_imports=dict(imports=['mmv3'])`` has imported us. Modules we build internally that
belong to a toolbox (losses, coders, ...) are built with that toolbox's own registry.
"""
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmv3', locations=['mmv3.models'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope='mmv3', locations=['mmv3.models'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmv3', locations=['mmv3.datasets'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmv3', locations=['mmv3.engine'])


def toolbox_scope(scope):
    """Context in which the default registry scope is ``scope`` (e.g. ``'mmseg'``).

    mmv3 modules that subclass a toolbox's class build that toolbox's parts (losses, coders,
    samplers) in its ``__init__``; mmengine resolves them in the *current default scope*, so
    they are built inside the toolbox's own scope, whatever scope the caller has set.
    """
    from mmengine.registry import DefaultScope
    return DefaultScope.overwrite_default_scope(scope)

#: Deployment runtimes (ONNX Runtime, PyTorch, ...), by name: ``RUNTIMES.build(dict(type='onnxruntime'))``.
#: No OpenMMLab toolbox has this kind, so it has no parent. See :mod:`mmv3.deploy.runtimes`.
RUNTIMES = Registry('runtime', scope='mmv3', locations=['mmv3.deploy.runtimes'])
