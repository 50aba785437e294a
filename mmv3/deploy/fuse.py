"""Fold eval-mode BatchNorm into the convolution that feeds it.

The pairs are found by running the model once with hooks: a BN whose input tensor *is* the output
tensor of a ``nn.Conv2d`` (same object) is that conv's BN. This works for any module layout (mmcv's
``ConvModule``, our bnecks, torchvision's ``Conv2dNormActivation``, timm's blocks) without assuming an
attribute order. A conv used with several different BNs (shared predictors) or a BN fed by several
convs is left alone. After folding, :func:`fold_bn` checks the outputs against the unfolded model.
"""
import copy
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def _find_pairs(model: nn.Module, example_input: torch.Tensor,
                forward: Optional[Callable] = None) -> List[Tuple[str, str]]:
    names = {m: n for n, m in model.named_modules()}
    produced = {}  # id(tensor) -> (conv module, tensor); the tensor is kept alive so ids stay unique
    partners = {}  # bn -> set of convs (None for a non-conv producer)
    handles = []

    def conv_hook(mod, inp, out):
        if isinstance(out, torch.Tensor):
            produced[id(out)] = (mod, out)

    def bn_hook(mod, inp):
        x = inp[0] if inp else None
        entry = produced.get(id(x)) if isinstance(x, torch.Tensor) else None
        conv = entry[0] if entry is not None and entry[1] is x else None
        partners.setdefault(mod, set()).add(conv)

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, _BatchNorm):
            handles.append(m.register_forward_pre_hook(bn_hook))
    try:
        with torch.no_grad():
            (forward or model)(example_input)
    finally:
        for h in handles:
            h.remove()
    conv_uses = {}
    for bn, convs in partners.items():
        for c in convs:
            if c is not None:
                conv_uses.setdefault(c, set()).add(bn)
    pairs = []
    for bn, convs in partners.items():
        if len(convs) != 1 or None in convs:
            continue
        conv = next(iter(convs))
        if not set(dict(bn.named_children())) <= {'drop', 'act'}:
            continue  # a BN subclass doing more than BN (+ timm's drop/act): leave it
        if len(conv_uses[conv]) != 1 or conv.out_channels != bn.num_features:
            continue
        pairs.append((names[conv], names[bn]))
    return sorted(pairs)


@torch.no_grad()
def _fold_one(conv: nn.Conv2d, bn: _BatchNorm) -> None:
    var = bn.running_var
    mean = bn.running_mean
    scale = torch.rsqrt(var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
        shift = bn.bias - mean * scale
    else:
        shift = -mean * scale
    w = conv.weight
    conv.weight.copy_(w * scale.reshape(-1, 1, 1, 1).to(w.dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(shift.to(w.dtype).clone())
    else:
        conv.bias.copy_(conv.bias * scale + shift)


def _replacement(bn: _BatchNorm) -> nn.Module:
    """What replaces a folded BN: Identity, or what a BN+act module (timm's BatchNormAct2d) runs after BN."""
    children = dict(bn.named_children())
    if not children:
        return nn.Identity()
    # timm's BatchNormAct2d: BN -> drop -> act
    return nn.Sequential(*[children[k] for k in ('drop', 'act') if k in children])


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition('.')
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, new)


def fold_bn(model: nn.Module, example_input: torch.Tensor, forward: Optional[Callable] = None,
            inplace: bool = False, check: bool = True, atol: float = 1e-3) -> Tuple[nn.Module, int]:
    """Fold every eval-mode BN that directly follows a conv into that conv.

    Args:
        model (nn.Module): The model; must be in eval mode (running statistics are folded).
        example_input (Tensor): One input for the tracing run (and the check).
        forward (callable, optional): Called as ``forward(example_input)`` instead of ``model(...)``.
            It must call ``model`` (e.g. a lambda around a wrapper). Default: ``model``.
        inplace (bool): Fold in place; otherwise a deep copy is folded and returned. Default: False.
        check (bool): Compare outputs of the folded and the original model on ``example_input`` and
            raise if the largest difference exceeds ``atol`` (relative to the output scale). Default: True.
        atol (float): Tolerance of the check. Default: 1e-3.

    Returns:
        tuple: ``(folded_model, number_of_folded_bns)``.
    """
    if model.training:
        raise ValueError('fold_bn needs a model in eval mode (call model.eval() first): '
                         'training-mode BN uses batch statistics, which cannot be folded')
    if forward is not None and not inplace:
        raise ValueError('a custom forward is only supported with inplace=True')
    reference = None
    if check:
        with torch.no_grad():
            reference = (forward or model)(example_input)
    target = model if inplace else copy.deepcopy(model)
    pairs = _find_pairs(target, example_input, forward)
    for conv_name, bn_name in pairs:
        bn = target.get_submodule(bn_name)
        _fold_one(target.get_submodule(conv_name), bn)
        _set_module(target, bn_name, _replacement(bn))
    if check:
        with torch.no_grad():
            out = (forward or target)(example_input)
        diff, scale = _max_diff(reference, out)
        if diff > atol * max(1.0, scale):
            raise RuntimeError(
                f'BN folding changed the outputs by {diff:.3g} (scale {scale:.3g}); a conv output that '
                f'feeds its BN is also used elsewhere. Export without folding (--no-fold).')
    return target, len(pairs)


def _flatten(x) -> List[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _flatten(item)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flatten(v)]
    return []


def _max_diff(a, b) -> Tuple[float, float]:
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        raise RuntimeError(f'output structure changed: {len(fa)} vs {len(fb)} tensors')
    diff = max((float((x - y).abs().max()) for x, y in zip(fa, fb) if x.numel()), default=0.0)
    scale = max((float(x.abs().max()) for x in fa if x.numel()), default=0.0)
    return diff, scale


def count_bn(model: nn.Module) -> int:
    """Number of BatchNorm modules left in ``model``."""
    return sum(isinstance(m, _BatchNorm) for m in model.modules())
