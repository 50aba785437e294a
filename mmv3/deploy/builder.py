"""Build any mmv3 / OpenMMLab config into an eval-mode model and a tensor-in, tensor-out wrapper.

Every tool in ``tools/deployment`` and ``tools/analysis_tools`` goes through :func:`build_from_config`:
config path -> ``Config.fromfile`` -> ``custom_imports`` -> ``init_default_scope(cfg.default_scope)``
-> ``MODELS.build(cfg.model)`` -> optional checkpoint -> ``eval()``. The task (``'cls'``, ``'det'`` or
``'seg'``) is read from the config's ``default_scope`` (mmpretrain / mmdet / mmseg).

:class:`TaskWrapper` turns the toolbox model into a plain ``nn.Module`` whose ``forward(x)`` takes one
normalised NCHW tensor and returns tensors only, which is what ONNX export, BN folding, latency
measurement and the paper-convention counter need:

- cls: ``(logits,)``  -- ``ImageClassifier(mode='tensor')``, shape ``(N, num_classes)``.
- seg: ``(seg_logits,)`` -- ``EncoderDecoder(mode='tensor')`` (the decode head's output, at 1/8 for
  LR-ASPP) bilinearly resized to the input size, shape ``(N, num_classes, H, W)``.
- det: ``(cls_score_0, ..., cls_score_{L-1}, bbox_pred_0, ..., bbox_pred_{L-1})`` -- the raw outputs of
  the dense head per feature level, before anchor decoding and NMS (see :mod:`mmv3.deploy.detection`).
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

TASK_BY_SCOPE = {
    'mmpretrain': 'cls',
    'mmcls': 'cls',
    'mmdet': 'det',
    'mmseg': 'seg',
}


class ConfigError(ValueError):
    """A config that the deployment tools cannot handle; the message names the field and the fix."""


def load_config(config, cfg_options: Optional[dict] = None):
    """Load a config file (or pass a ``Config`` through) and merge ``cfg_options``.

    Args:
        config (str | mmengine.Config): Path of a Python config, or an already loaded config.
        cfg_options (dict, optional): Dotted-key overrides, as ``--cfg-options`` would give them,
            e.g. ``{'model.head.num_classes': 1001}``.

    Returns:
        mmengine.Config: The loaded config (a copy when a ``Config`` was passed).
    """
    from mmengine.config import Config
    if isinstance(config, (str, bytes)) or hasattr(config, '__fspath__'):
        path = str(config)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'config file not found: {path!r}; pass the path of a config such as '
                f"'configs/seg/lraspp_v3_large_cityscapes.py'")
        cfg = Config.fromfile(path)
    else:
        cfg = config.copy() if hasattr(config, 'copy') else config
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


def task_of(cfg) -> str:
    """Return ``'cls'``, ``'det'`` or ``'seg'`` for a config, from its ``default_scope``."""
    scope = cfg.get('default_scope', None)
    if scope in TASK_BY_SCOPE:
        return TASK_BY_SCOPE[scope]
    model_type = str(cfg.get('model', {}).get('type', ''))
    if 'Classifier' in model_type:
        return 'cls'
    if 'EncoderDecoder' in model_type:
        return 'seg'
    if model_type.split('.')[-1] in ('SingleStageDetector', 'RetinaNet', 'SSD', 'YOLOV3', 'FCOS'):
        return 'det'
    raise ConfigError(
        f'cannot tell the task of this config: default_scope={scope!r}, model.type={model_type!r}. '
        f'Allowed default_scope values: {sorted(TASK_BY_SCOPE)}; add e.g. default_scope = "mmseg" to the config.')


def _import_custom(cfg):
    custom = cfg.get('custom_imports', None)
    if custom:
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**custom)


def build_model(cfg, checkpoint: Optional[str] = None, device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` with mmengine's registry in the config's scope, load weights, eval mode.

    Args:
        cfg (mmengine.Config): A loaded config.
        checkpoint (str, optional): A checkpoint to load (``state_dict`` or ``model`` key, or a bare
            state dict). ``None`` keeps the random initialisation (enough for counting and latency).
        device (str): Device for the model. Default: ``'cpu'``.

    Returns:
        nn.Module: The model in eval mode; SyncBN is reverted to BN so it runs on one CPU process.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    _import_custom(cfg)
    scope = cfg.get('default_scope', None)
    if scope is not None:
        init_default_scope(scope)
    model_cfg = cfg.model.copy()
    # mmengine's Runner puts a top-level ``data_preprocessor`` into the model; do the same.
    if cfg.get('data_preprocessor', None) is not None and 'data_preprocessor' not in model_cfg:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor.copy()
    # Weights are not wanted from the internet when a checkpoint (or nothing) is given.
    model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    return model.to(device).eval()


def load_checkpoint(model: nn.Module, checkpoint: str) -> None:
    """Load a checkpoint file into ``model`` (strict), with mmv3's safe ``weights_only`` loader.

    Raises:
        mmv3.engine.CheckpointError: The file is missing, corrupt or holds a non-allow-listed object.
        RuntimeError: Its weights do not match the config's model.
    """
    from mmv3.engine import get_state_dict, load_checkpoint_safely
    state = get_state_dict(load_checkpoint_safely(checkpoint, what='checkpoint'))
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith('data_preprocessor.')]
    if missing or unexpected:
        raise RuntimeError(
            f'checkpoint {checkpoint!r} does not match the config: missing keys {missing[:5]}'
            f'{"..." if len(missing) > 5 else ""}, unexpected keys {unexpected[:5]}'
            f'{"..." if len(unexpected) > 5 else ""}')


class TaskWrapper(nn.Module):
    """Plain ``forward(x) -> tuple of tensors`` view of a cls / det / seg model.

    Args:
        model (nn.Module): An mmpretrain classifier, mmdet single-stage detector or mmseg
            encoder-decoder (anything with ``forward(inputs, mode='tensor')``).
        task (str): ``'cls'``, ``'det'`` or ``'seg'``.
        seg_resize (bool): For ``'seg'``, resize the logits to the input size (bilinear, the decode
            head's ``align_corners``), as mmseg's inference does. Default: True.
    """

    def __init__(self, model: nn.Module, task: str, seg_resize: bool = True):
        super().__init__()
        if task not in ('cls', 'det', 'seg'):
            raise ConfigError(f"task must be one of 'cls', 'det', 'seg', got {task!r}")
        self.model = model
        self.task = task
        self.seg_resize = seg_resize
        head = getattr(model, 'decode_head', None)
        self.align_corners = bool(getattr(head, 'align_corners', False))

    def output_names(self, num_outputs: Optional[int] = None) -> Sequence[str]:
        """Names of the outputs, in order (for ONNX)."""
        if self.task == 'cls':
            return ['logits']
        if self.task == 'seg':
            return ['seg_logits']
        if num_outputs is None:
            raise ValueError('num_outputs is needed for detection output names')
        levels = num_outputs // 2
        return [f'cls_score_{i}' for i in range(levels)] + [f'bbox_pred_{i}' for i in range(levels)]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.model(x, mode='tensor')
        if self.task == 'cls':
            if isinstance(out, (tuple, list)):
                out = out[-1]
            return (out, )
        if self.task == 'seg':
            if self.seg_resize:
                out = F.interpolate(out, size=x.shape[2:], mode='bilinear', align_corners=self.align_corners)
            return (out, )
        cls_scores, bbox_preds = out[0], out[1]
        return tuple(cls_scores) + tuple(bbox_preds)


def build_from_config(config, checkpoint: Optional[str] = None, cfg_options: Optional[dict] = None,
                      seg_resize: bool = True):
    """Config path -> (wrapper, cfg, task). See :class:`TaskWrapper` for the wrapper's outputs."""
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    model = build_model(cfg, checkpoint)
    return TaskWrapper(model, task, seg_resize=seg_resize).eval(), cfg, task


def default_input_shape(cfg, task: str) -> Tuple[int, int]:
    """A sensible (H, W) for a config when none is given: 224 (cls), 320 (det), 1024x2048 (seg)."""
    if task == 'cls':
        return (224, 224)
    if task == 'det':
        return (320, 320)
    return (1024, 2048)


def preprocess_params(model: nn.Module) -> Dict[str, object]:
    """Mean, std and BGR->RGB flag of a model's data preprocessor (for feeding images to ONNX).

    Returns:
        dict: ``mean`` and ``std`` as float lists (length 3) and ``to_rgb`` (bool).
    """
    if isinstance(model, TaskWrapper):
        model = model.model
    dp = getattr(model, 'data_preprocessor', None)
    mean = getattr(dp, 'mean', None)
    std = getattr(dp, 'std', None)
    to_rgb = False
    for attr in ('_channel_conversion', 'channel_conversion', 'to_rgb', 'bgr_to_rgb'):
        if hasattr(dp, attr):
            to_rgb = bool(getattr(dp, attr))
            break
    if mean is None or std is None or not getattr(dp, '_enable_normalize', True):
        mean, std = [0., 0., 0.], [1., 1., 1.]
    else:
        mean = [float(v) for v in torch.as_tensor(mean).flatten()]
        std = [float(v) for v in torch.as_tensor(std).flatten()]
    return dict(mean=mean, std=std, to_rgb=to_rgb)
