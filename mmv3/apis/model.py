"""Config -> model, and "does this checkpoint fit this model", for every tool.

- :func:`build_model`: ``cfg.model`` (with a top-level ``data_preprocessor``, as the Runner does)
  built by mmengine's registry in the config's toolbox scope; SyncBN reverted to BN.
- :func:`load_weights`: a checkpoint through mmv3's safe ``weights_only`` loader, checked against
  the model (:func:`mmv3.engine.check_weights_match`) before it is loaded.
- :func:`build_model_for_checks`, :func:`check_pretrained`, :func:`check_checkpoint_for_model`,
  :func:`find_resume_checkpoint`: the same checks before a Runner is built (train / test).
- :class:`TaskWrapper` / :func:`build_from_config`: the model as ``forward(x) -> tuple of
  tensors`` for export, BN folding, latency and counting:

  - cls: ``(logits,)`` -- ``ImageClassifier(mode='tensor')``, shape ``(N, num_classes)``.
  - seg: ``(seg_logits,)`` -- ``EncoderDecoder(mode='tensor')`` bilinearly resized to the input.
  - det: ``(cls_score_0, ..., cls_score_{L-1}, bbox_pred_0, ..., bbox_pred_{L-1})`` -- the raw
    dense-head outputs before anchor decoding and NMS (see :mod:`mmv3.deploy.detection`).
"""
import copy
import os.path as osp
import re
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import load_config, setup_scope, task_of
from .errors import ToolError, explain_exception


def _model_cfg(cfg):
    model_cfg = copy.deepcopy(cfg.model)
    # mmengine's Runner puts a top-level ``data_preprocessor`` into the model; do the same.
    if cfg.get('data_preprocessor', None) is not None and 'data_preprocessor' not in model_cfg:
        model_cfg['data_preprocessor'] = copy.deepcopy(cfg.data_preprocessor)
    return model_cfg


def build_model_for_checks(cfg) -> nn.Module:
    """Build ``cfg.model`` once (no weights loaded), turning known failures into one line.

    Raises:
        ToolError: An unknown type, or a module that refuses its arguments.
    """
    from mmengine.registry import MODELS
    try:
        return MODELS.build(_model_cfg(cfg))
    except Exception as e:
        msg = explain_exception(e)
        if msg is not None:
            raise ToolError(msg) from None
        text = re.sub(r'class `(\w+)` in [\w/]+\.py: ', r'\1: ', str(e))
        if isinstance(e, (TypeError, ValueError, AssertionError, KeyError)):
            raise ToolError(f'model cannot be built: {type(e).__name__}: {text}') from None
        raise


def build_model(cfg, checkpoint: Optional[str] = None, device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` in the config's toolbox scope, load weights, eval mode.

    Args:
        cfg (mmengine.Config): A loaded config (:func:`mmv3.apis.load_config`).
        checkpoint (str, optional): Weights to load strictly (:func:`load_weights`). ``None``
            keeps the random initialisation (enough for counting and latency).
        device (str): Device for the model. Default: ``'cpu'``.

    Returns:
        nn.Module: The model in eval mode; SyncBN is reverted to BN so it runs on one CPU process.
    """
    from mmengine.model import revert_sync_batchnorm
    setup_scope(cfg)
    model = revert_sync_batchnorm(build_model_for_checks(cfg))
    if checkpoint is not None:
        load_weights(model, checkpoint)
    return model.to(device).eval()


def load_weights(model: nn.Module, checkpoint: str, what: str = 'checkpoint') -> None:
    """Load ``checkpoint`` into ``model`` strictly, after checking that it fits.

    Safe-loads the file (``weights_only``: :func:`mmv3.engine.load_checkpoint_safely`), checks
    every tensor of the model is there with its shape and no foreign tensor is left over
    (``data_preprocessor`` buffers may be missing), then loads it.

    Raises:
        mmv3.engine.CheckpointError: The file is missing, corrupt, holds a non-allow-listed
            object, or its weights do not fit the model (one line).
    """
    from mmv3.engine import check_weights_match, get_state_dict, load_checkpoint_safely
    ckpt = load_checkpoint_safely(checkpoint, what=what)
    warn_if_mmseg_checkpoint(ckpt, checkpoint)
    state = get_state_dict(ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    want = {k: v for k, v in model.state_dict().items() if not k.startswith('data_preprocessor.')}
    check_weights_match(state, want, checkpoint, what=what, strict=True, allow_unexpected=False,
                        ignore_unexpected=('data_preprocessor.', ))
    model.load_state_dict(state, strict=False)


def _pretrained_init_cfgs(node, path=()) -> Iterator[Tuple[tuple, dict]]:
    if isinstance(node, dict):
        init = node.get('init_cfg', None)
        inits = init if isinstance(init, (list, tuple)) else [init]
        for ic in inits:
            if isinstance(ic, dict) and ic.get('type') == 'Pretrained' and ic.get('checkpoint'):
                yield path, ic
        for k, v in node.items():
            if k != 'init_cfg':
                yield from _pretrained_init_cfgs(v, path + (k, ))


MMSEG_CKPT_WARNING = (
    '{path} was written by mmseg (its meta names mmseg{how}): mmseg\'s MobileNetV3 has the same '
    'parameter names as mmv3.MobileNetV3 but computes different features (TF-style "same" padding '
    'of the stride-2 convs, its own placement of the OS-8 dilation), so these weights load but do not '
    'reproduce mmseg\'s outputs; use them with mmseg\'s own MobileNetV3 (type=\'MobileNetV3\' '
    'in an mmseg config), or convert weights of the paper\'s models (tools/model_converters/)')


def mmseg_checkpoint_origin(ckpt) -> Optional[str]:
    """How ``ckpt``'s ``meta`` shows it was written by mmseg with mmseg's own MobileNetV3, else ``None``.

    mmseg's model-zoo checkpoints carry ``meta['mmseg_version']`` (mmseg 0.x) or the training config
    (``meta['config']`` / ``meta['cfg']``) naming mmseg's ``type='MobileNetV3'`` (no ``mmv3.``
    prefix). Key names cannot tell: they are the same as mmv3's.
    """
    meta = ckpt.get('meta', None) if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict):
        return None
    config = str(meta.get('config', meta.get('cfg', '')) or '')
    mmseg_v3 = re.search(r"type\s*=\s*'MobileNetV3'|\"type\":\s*\"MobileNetV3\"", config) is not None
    if 'mmseg_version' in meta and (mmseg_v3 or not config):
        return f" version {meta['mmseg_version']}"
    if mmseg_v3 and 'mmseg' in config:  # default_scope = 'mmseg' / mmseg's model types
        return "'s MobileNetV3 in its config"
    return None


def warn_if_mmseg_checkpoint(ckpt, path: str) -> Optional[str]:
    """Log :data:`MMSEG_CKPT_WARNING` when ``ckpt`` comes from mmseg's MobileNetV3; returns the message."""
    how = mmseg_checkpoint_origin(ckpt)
    if how is None:
        return None
    import warnings
    msg = MMSEG_CKPT_WARNING.format(path=path, how=how)
    warnings.warn(msg, stacklevel=2)
    return msg


def check_pretrained(cfg, model: nn.Module) -> None:
    """Check local ``init_cfg=dict(type='Pretrained', checkpoint=...)`` files of the model."""
    from mmv3.engine import check_weights_match, get_state_dict, load_checkpoint_safely
    for path, ic in _pretrained_init_cfgs(cfg.model):
        ckpt_path = str(ic['checkpoint'])
        if '://' in ckpt_path:
            continue
        what = f"init_cfg checkpoint of model{''.join('.' + p for p in path)}"
        ckpt = load_checkpoint_safely(ckpt_path, what=what)
        warn_if_mmseg_checkpoint(ckpt, ckpt_path)
        module = model
        for p in path:
            module = getattr(module, p, None)
            if module is None:
                break
        if module is not None and hasattr(module, 'state_dict'):
            check_weights_match(get_state_dict(ckpt), module.state_dict(), ckpt_path, what=what,
                                prefix=ic.get('prefix'))


def check_checkpoint_for_model(path: str, model: nn.Module, what: str, resume: bool = False) -> dict:
    """Safe-load ``path`` and check it fits ``model`` (strictly for a resume)."""
    from mmv3.engine import (check_training_checkpoint, check_weights_match, get_state_dict,
                             load_checkpoint_safely)
    ckpt = load_checkpoint_safely(path, what=what)
    warn_if_mmseg_checkpoint(ckpt, path)
    if resume:
        check_training_checkpoint(ckpt, path, what=what)
    check_weights_match(get_state_dict(ckpt), model.state_dict(), path, what=what, strict=resume)
    return ckpt


def find_resume_checkpoint(work_dir: str, model: nn.Module, log=print) -> Optional[str]:
    """Newest complete, loadable training checkpoint of ``work_dir`` (``--resume`` with no path).

    ``last_checkpoint`` is tried first; if it is missing, empty, or names a file that does not
    load, the ``iter_*.pth`` / ``epoch_*.pth`` files are tried from the newest.
    """
    from mmv3.engine import CheckpointError
    from mmv3.engine.safe_checkpoint import complete_checkpoints
    pointer = osp.join(work_dir, 'last_checkpoint')
    first = []
    if osp.isfile(pointer):
        with open(pointer) as f:
            target = f.read().strip()
        if target:
            first.append(target)
    for cand in complete_checkpoints(work_dir, first):
        try:
            check_checkpoint_for_model(cand, model, what='checkpoint', resume=True)
            return cand
        except CheckpointError as e:
            log(f'skipping {cand}: {e}')
    return None


# ------------------------------------------------------------------------------ tensor view
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
            raise ValueError(f"task must be one of 'cls', 'det', 'seg', got {task!r}")
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
    """Config path (or ``Config``) -> ``(TaskWrapper, cfg, task)``; see :class:`TaskWrapper`."""
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    model = build_model(cfg, checkpoint)
    return TaskWrapper(model, task, seg_resize=seg_resize).eval(), cfg, task


def preprocess_params(model: nn.Module) -> Dict[str, object]:
    """Mean, std and BGR->RGB flag of a model's data preprocessor (for feeding images to a runtime).

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
