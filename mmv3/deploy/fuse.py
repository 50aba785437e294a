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


def _padded_conv(conv: nn.Conv2d, out_channels: Optional[int] = None, in_channels: Optional[int] = None
                 ) -> nn.Conv2d:
    """A copy of ``conv`` with zero filters appended (``out_channels``) and/or zero input channels
    (``in_channels``); a depthwise conv grows both together. The class is kept (a
    :class:`~mmv3.models.layers.Conv2dSame` keeps its TF padding)."""
    w = conv.weight.detach()
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels
    out_c = out_channels or conv.out_channels
    in_c = out_c if depthwise else (in_channels or conv.in_channels)
    if conv.groups > 1 and not depthwise:
        raise ValueError('only dense and depthwise convolutions can be padded')
    new = type(conv)(in_c, out_c, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    out_c if depthwise else 1, bias=True, padding_mode=conv.padding_mode)
    new = new.to(w.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.bias.zero_()
        new.weight[:w.shape[0], :w.shape[1]] = w
        if conv.bias is not None:
            new.bias[:w.shape[0]] = conv.bias.detach()
    return new


def pad_channels(model: nn.Module, multiple: int = 16) -> int:
    """Round the expansion width of every bneck up to a multiple of ``multiple``, in place.

    The added channels are exact zeros: the expansion conv gets zero filters (and zero bias), so the
    added channels are 0 after ReLU / h-swish; the depthwise conv keeps them 0; the SE reduction conv
    and the projection conv get zero input weights, so they contribute nothing (the SE gate of a zero
    channel multiplies 0). The model computes the same function (tested), with more, better-shaped
    channels: ONNX Runtime's uint8 depthwise kernels run a fast path over blocks of 16 channels and a
    slow scalar tail (measured for one 5x5 depthwise conv on 28x28: 120 channels 348 us, 128 channels
    175 us), so for int8 deployment V3-Large's 72/120/200/184-wide bnecks are padded to 80/128/208/192.
    A block whose expansion or depthwise output is a backbone tap (``'i.expand'``, read by a head
    that expects its width) is left as it is.

    Args:
        model (nn.Module): A model with :class:`~mmv3.models.layers.InvertedResidual` blocks (BN folded
            or not: a BN following a padded conv is padded too).
        multiple (int): Channel multiple. Default: 16.

    Returns:
        int: The number of blocks padded.
    """
    from mmv3.models.backbones import MobileNet
    from mmv3.models.layers.inverted_residual import InvertedResidual
    if multiple < 1:
        raise ValueError(f'multiple must be >= 1, got {multiple}')
    tapped = set()  # blocks whose expansion / depthwise output is a tap (a head reads its channel count)
    for m in model.modules():
        if isinstance(m, MobileNet):
            tapped.update(id(getattr(m, m.layer_names[i])) for i in m.inner_taps)
    count = 0
    for block in model.modules():
        if not isinstance(block, InvertedResidual) or block.expand_conv is None or block.mid_channels % multiple == 0 \
                or id(block) in tapped:
            continue
        mid = -(-block.mid_channels // multiple) * multiple
        for mod in (block.expand_conv, block.depthwise_conv):
            mod.conv = _padded_conv(mod.conv, out_channels=mid)
            if isinstance(getattr(mod, 'bn', None), _BatchNorm):
                mod.bn = _padded_bn(mod.bn, mid)
        if block.se is not None:
            block.se.conv1.conv = _padded_conv(block.se.conv1.conv, in_channels=mid)
            block.se.conv2.conv = _padded_conv(block.se.conv2.conv, out_channels=mid)
        block.linear_conv.conv = _padded_conv(block.linear_conv.conv, in_channels=mid)
        block.mid_channels = mid
        count += 1
    return count


def _padded_bn(bn: _BatchNorm, num_features: int) -> _BatchNorm:
    """A copy of an eval-mode BN with channels appended that map 0 to 0 (weight 0, bias 0)."""
    new = type(bn)(num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                   track_running_stats=bn.track_running_stats)
    n = bn.num_features
    with torch.no_grad():
        if bn.affine:
            new.weight.zero_()
            new.bias.zero_()
            new.weight[:n] = bn.weight
            new.bias[:n] = bn.bias
        if bn.track_running_stats:
            new.running_mean[:n] = bn.running_mean
            new.running_var[:n] = bn.running_var
    return new.train(bn.training)
