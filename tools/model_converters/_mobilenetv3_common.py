"""Shared part of ``torchvision2mmv3.py`` and ``timm2mmv3.py``.

Both converters first read the source checkpoint into a *canonical* description of a
MobileNetV3 classifier (stem, bnecks with their optional expansion / SE, final 1x1 conv,
the 1280/1024 head conv and the classifier), then :func:`to_mmv3` writes it with the key
layout of an mmpretrain ``ImageClassifier`` built from ``type='mmv3.MobileNetV3'`` +
``GlobalAveragePooling`` + ``StackedLinearClsHead`` (the layout of
``configs/_base_/models/mobilenet_v3_*_cls.py``):

    backbone.layer0.{conv,bn}                    stem
    backbone.layer{i}.expand_conv.{conv,bn}      bneck i (1-based as in Tables 1-2)
    backbone.layer{i}.depthwise_conv.{conv,bn}
    backbone.layer{i}.se.conv{1,2}.conv
    backbone.layer{i}.linear_conv.{conv,bn}
    backbone.layer{N}.{conv,bn}                  final 1x1 conv (960 / 576)
    head.layers.0.fc                             1x1 conv 1280 / 1024 after pooling
    head.layers.1.fc                             classifier

The mmv3 model is then built from the inferred config and loaded with ``strict=True``,
so a checkpoint that does not fit the architecture exactly is refused, never silently
half-loaded.
"""
import os.path as osp
from collections import OrderedDict

import torch

from mmv3.converters.common import ConversionError  # one error type for every converter (a ToolError)

BN_SUFFIXES = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
WIDTH_CANDIDATES = (1.0, 0.75, 0.5, 0.35, 1.25)
TAIL_CANDIDATES = (None, 'dagger')
NUM_BLOCKS = dict(large=15, small=11)


def load_state_dict(path):
    """Read a checkpoint file (``.pth``/``.pt``/``.bin`` or ``.safetensors``) into a state dict.

    Accepts a bare state dict or one wrapped under ``'state_dict'``, ``'model'`` or
    ``'state_dict_ema'``; ``'module.'`` prefixes (DataParallel) are removed.
    """
    if not osp.isfile(path):
        raise ConversionError(f'checkpoint {path!r} does not exist')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            sd = load_file(path)
        except Exception as e:  # truncated / not a safetensors file: one line
            line = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            raise ConversionError(f'checkpoint {path} is not a readable .safetensors file ({line})') from None
    else:
        # weights_only with mmv3's allow-list: truncated / zero-byte / foreign / malicious files are
        # refused with one line (mmv3.engine.CheckpointError), never unpickled into code
        from mmv3.engine import CheckpointError, load_checkpoint_safely
        try:
            sd = load_checkpoint_safely(path, what='checkpoint')
        except CheckpointError as e:
            raise ConversionError(str(e)) from None
    if isinstance(sd, dict):
        for key in ('state_dict', 'model', 'state_dict_ema'):
            if key in sd and isinstance(sd[key], dict):
                sd = sd[key]
                break
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        raise ConversionError(f'{path!r} does not hold a state dict of tensors')
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in sd.items())


class Canonical:
    """A MobileNetV3 classifier's tensors, by role.

    Attributes:
        stem (tuple): (conv prefix, bn prefix) in the source.
        blocks (list[dict]): per bneck: ``expand`` / ``depthwise`` / ``linear`` -> (conv, bn)
            prefixes (``expand`` may be missing), ``se`` -> (fc1 prefix, fc2 prefix) or missing.
        final (tuple): (conv prefix, bn prefix) of the last 1x1 conv before pooling.
        head_fc (str): prefix of the 1x1 conv / linear layer after pooling.
        head_fc_is_conv (bool): whether its weight is 4-D (timm's ``conv_head``).
        classifier (str): prefix of the classifier.
    """

    def __init__(self, stem, blocks, final, head_fc, head_fc_is_conv, classifier):
        self.stem, self.blocks, self.final = stem, blocks, final
        self.head_fc, self.head_fc_is_conv, self.classifier = head_fc, head_fc_is_conv, classifier


class _Tracked:
    """Read-only view of a state dict that records which keys were read."""

    def __init__(self, data):
        self.data, self.used = data, set()

    def __getitem__(self, key):
        self.used.add(key)
        return self.data[key]

    def __contains__(self, key):
        return key in self.data


def _copy_conv_bn(sd, out, src, dst, conv_name='conv', bn_name='bn'):
    conv_src, bn_src = src
    out[f'{dst}.{conv_name}.weight'] = sd[f'{conv_src}weight']
    for s in BN_SUFFIXES:
        key = f'{bn_src}{s}'
        if key in sd:
            out[f'{dst}.{bn_name}.{s}'] = sd[key]


def to_mmv3(sd, can):
    """Rename the source tensors of ``can`` into mmv3's ImageClassifier layout.

    Raises:
        ConversionError: if a source tensor is left unused (an unsupported variant).
    """
    out = OrderedDict()
    sd = _Tracked(sd)
    _copy_conv_bn(sd, out, can.stem, 'backbone.layer0')
    for i, blk in enumerate(can.blocks, start=1):
        p = f'backbone.layer{i}'
        if 'expand' in blk:
            _copy_conv_bn(sd, out, blk['expand'], f'{p}.expand_conv')
        _copy_conv_bn(sd, out, blk['depthwise'], f'{p}.depthwise_conv')
        if 'se' in blk:
            for j, fc in enumerate(blk['se'], start=1):
                out[f'{p}.se.conv{j}.conv.weight'] = sd[f'{fc}weight']
                out[f'{p}.se.conv{j}.conv.bias'] = sd[f'{fc}bias']
        _copy_conv_bn(sd, out, blk['linear'], f'{p}.linear_conv')
    _copy_conv_bn(sd, out, can.final, f'backbone.layer{len(can.blocks) + 1}')
    w = sd[f'{can.head_fc}weight']
    out['head.layers.0.fc.weight'] = w.flatten(1) if can.head_fc_is_conv else w
    out['head.layers.0.fc.bias'] = sd[f'{can.head_fc}bias']
    out['head.layers.1.fc.weight'] = sd[f'{can.classifier}weight']
    out['head.layers.1.fc.bias'] = sd[f'{can.classifier}bias']
    unused = [k for k in sd.data if k not in sd.used]
    if unused:
        raise ConversionError(f'{len(unused)} source tensors have no place in mmv3\'s MobileNetV3 '
                              f'(an unsupported variant?), e.g. {unused[:5]}')
    return out


def model_config(arch, widen_factor, reduce_tail, bn_eps, in_channels, mid_channels, num_classes, pad_type=''):
    """The mmpretrain ``model`` config of the converted checkpoint."""
    backbone = dict(type='mmv3.MobileNetV3', arch=arch, widen_factor=widen_factor,
                    out_indices=(NUM_BLOCKS[arch] + 1, ),
                    norm_cfg=dict(type='BN', eps=bn_eps, momentum=0.01))
    if pad_type:
        backbone['pad_type'] = pad_type
    if reduce_tail is not None:
        backbone['reduce_tail'] = reduce_tail
    return dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='StackedLinearClsHead', num_classes=num_classes, in_channels=in_channels,
                  mid_channels=[mid_channels], dropout_rate=0.2, act_cfg=dict(type='HSwish'),
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, 5)))


def build_model(cfg):
    """Build an mmpretrain ImageClassifier (with mmv3's backbone) from ``cfg``."""
    import mmv3  # noqa: F401  (registers mmv3.*)
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    return MODELS.build(cfg)


def have_of(nearest, arch):
    from mmv3.models.backbones import MobileNetV3
    bb = MobileNetV3(arch=arch, widen_factor=nearest[0], reduce_tail=nearest[1],
                     out_indices=(NUM_BLOCKS[arch] + 1, ))
    v = bb.state_dict().get(nearest[2][0])
    return None if v is None else tuple(v.shape)


def infer_and_check(out, arch, bn_eps, widen_factor=None, reduce_tail='auto', pad_type=''):
    """Find the mmv3 config whose state dict has exactly the shapes of ``out``.

    Returns:
        tuple: (model config dict, built model with ``out`` loaded, in eval mode).
    """
    from mmv3.models.backbones import MobileNetV3
    want = {k[len('backbone.'):]: tuple(v.shape) for k, v in out.items() if k.startswith('backbone.')}
    widths = WIDTH_CANDIDATES if widen_factor is None else (widen_factor, )
    tails = TAIL_CANDIDATES if reduce_tail == 'auto' else (reduce_tail, )
    found, nearest = None, None
    for w in widths:
        for t in tails:
            bb = MobileNetV3(arch=arch, widen_factor=w, reduce_tail=t, out_indices=(NUM_BLOCKS[arch] + 1, ))
            have = {k: tuple(v.shape) for k, v in bb.state_dict().items()}
            if have == want:
                found = (w, t)
                break
            bad = [k for k in want if have.get(k) != want[k]] + [k for k in have if k not in want]
            if nearest is None or len(bad) < len(nearest[2]):
                nearest = (w, t, bad)
        if found:
            break
    if found is None:
        raise ConversionError(
            f'no mmv3 MobileNetV3(arch={arch!r}) with widen_factor in {list(widths)} and reduce_tail in '
            f'{list(tails)} has this checkpoint\'s backbone shapes. Nearest: widen_factor={nearest[0]}, '
            f'reduce_tail={nearest[1]!r}, which differs in {len(nearest[2])} tensors, first '
            f'{nearest[2][0]!r}: checkpoint {want.get(nearest[2][0])} vs mmv3 {have_of(nearest, arch)}. '
            'mmv3 rounds every width as TensorFlow does (expansion = make_divisible(input x ratio)); a '
            'model built with another rounding cannot be converted exactly. Pass --widen-factor if the '
            'model uses a multiplier outside the candidates.')
    mid, in_ch = out['head.layers.0.fc.weight'].shape
    num_classes = out['head.layers.1.fc.weight'].shape[0]
    cfg = model_config(arch, found[0], found[1], bn_eps, in_ch, mid, num_classes, pad_type)
    model = build_model(cfg)
    missing, unexpected = model.load_state_dict(out, strict=False)
    if missing or unexpected:
        raise ConversionError(f'converted keys do not fit mmv3: missing {missing[:5]}, unexpected {unexpected[:5]}')
    return cfg, model.eval()


def save(out, cfg, dst, source, notes, header=None):
    """Write ``{'state_dict', 'meta'}`` to ``dst`` and print the config to use with it."""
    import mmengine
    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(dst)))
    meta = dict(source=source, model=cfg, notes=notes)
    torch.save(dict(state_dict=out, meta=meta), dst)
    print(f'saved {len(out)} tensors to {dst}')
    print(header or ('model config for this checkpoint (mmpretrain ImageClassifier, default_scope="mmpretrain",\n'
                     "custom_imports=dict(imports=['mmv3'])):"))
    print(mmengine.Config(dict(model=cfg)).pretty_text)
    for n in notes:
        print('note:', n)
