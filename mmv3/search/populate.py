"""A narrower network's weights from a wider one (NetAdapt: keep the most important filters).

Every channel dimension of a MobileNet-family backbone lives in one *space*: ``('O', i)`` the
output of row ``i`` (``('O', -1)`` = the RGB input), ``('M', i)`` the expansion (depthwise) width
of a block with an expansion conv (a block without one runs on its input: ``('O', i - 1)``) and
``('S', i)`` its SE squeeze. :func:`keep_indices` picks, per space that shrinks, the channels with
the largest L1 norm of the filters that produce them (the expansion conv, the projection / 1x1
conv, SE's squeeze conv; summed over a residual group, whose rows
share one space through the additions), kept in their original order; :func:`populate_state_dict`
slices every tensor along its spaces, so the kept filters are copied exactly.
"""
from typing import Dict, List, Optional, Tuple

import torch

from mmv3.models.backbones.base_mobilenet import residual_groups, se_channels

Space = Tuple[str, int]
_BN = ('weight', 'bias', 'running_mean', 'running_var')


def _layer_tensors(p, i: int, spec) -> List[Tuple[str, Space, Optional[Space]]]:
    """``(conv module path, out space, in space | None for depthwise)`` of row ``i``'s convs."""
    inp = ('O', i - 1)
    if p.op == 'conv':
        return [('', ('O', i), inp)]
    if p.op == 'dwsep':
        return [('depthwise_conv', inp, None), ('pointwise_conv', ('O', i), inp)]
    mid = ('M', i) if p.expand else inp
    out = []
    if p.expand:
        out.append(('expand_conv', mid, inp))
    out.append(('depthwise_conv', mid, None))
    if p.se:
        out += [('se.conv1', ('S', i), mid), ('se.conv2', mid, ('S', i))]
    out.append(('linear_conv', ('O', i), mid))
    return out


def _space_sizes(plan, spec) -> Dict[Space, int]:
    sizes = {('O', -1): 3}
    for i, p in enumerate(plan):
        sizes[('O', i)] = p.out
        if p.op == 'bneck' and p.expand:
            sizes[('M', i)] = p.mid
        if p.op == 'bneck' and p.se:
            sizes[('S', i)] = se_channels(spec, p.in_ch, p.mid)
    return sizes


def _conv_weight(sd, prefix, path):
    base = f'{prefix}{path}.' if path else prefix
    return sd[base + 'conv.weight']


def keep_indices(state_dict, old_plan, new_plan, spec, prefix: str = 'backbone.', num_built: Optional[int] = None
                 ) -> Dict[Space, torch.Tensor]:
    """Per shrinking space, the (sorted) channel indices to keep: largest L1 norm of the producing filters.

    Args:
        state_dict (dict): The wider model's state dict.
        old_plan, new_plan (list[LayerPlan]): The wider and the narrower plan (same rows; every
            width of ``new_plan`` <= the one of ``old_plan``).
        spec (ArchSpec): The network (SE widths).
        prefix (str): Key prefix of the backbone. Default: ``'backbone.'``.
        num_built (int, optional): Rows that have modules. Default: all.

    Returns:
        dict: ``{space: LongTensor}`` for the spaces whose width changes.
    """
    num_built = len(old_plan) if num_built is None else num_built
    old_sizes, new_sizes = _space_sizes(old_plan[:num_built], spec), _space_sizes(new_plan[:num_built], spec)
    if set(old_sizes) != set(new_sizes):
        raise ValueError('populate: the two plans differ in structure (expansion convs / SE), not only in widths')
    importance: Dict[Space, torch.Tensor] = {}
    for i, p in enumerate(old_plan[:num_built]):
        for path, out_sp, in_sp in _layer_tensors(p, i, spec):
            if in_sp is None or in_sp[0] == 'S':
                continue  # the depthwise conv and SE's excitation follow their channels, they do not make them
            w = _conv_weight(state_dict, f'{prefix}layer{i}.', path).detach().float()
            score = w.abs().flatten(1).sum(1)
            if out_sp in importance:
                importance[out_sp] = importance[out_sp] + score
            else:
                importance[out_sp] = score
    # a residual group is one space: its rows are added together
    alias = {}
    for g in residual_groups(old_plan[:num_built]):
        for j in g:
            alias[('O', j)] = ('O', g[0])
    merged: Dict[Space, torch.Tensor] = {}
    for sp, score in importance.items():
        root = alias.get(sp, sp)
        merged[root] = merged[root] + score if root in merged else score
    keep = {}
    for sp, old in old_sizes.items():
        new = new_sizes[sp]
        if new > old:
            raise ValueError(f'populate: {sp[0]}{sp[1]} grows from {old} to {new} channels; only shrinking is '
                             f'supported (NetAdapt removes filters)')
        if new == old:
            continue
        score = merged[alias.get(sp, sp)]
        keep[sp] = torch.sort(torch.topk(score, new).indices).values
    for sp, root in alias.items():  # every row of a group keeps the group's channels
        if root in keep and sp in old_sizes:
            keep[sp] = keep[root]
    return keep


def populate_state_dict(state_dict, old_plan, new_plan, spec, prefix: str = 'backbone.',
                        num_built: Optional[int] = None, keep: Optional[Dict[Space, torch.Tensor]] = None):
    """``state_dict`` sliced to ``new_plan``'s widths (see :func:`keep_indices`); other keys copied.

    Returns:
        (dict, dict): The new state dict and the kept indices per space.
    """
    num_built = len(old_plan) if num_built is None else num_built
    if keep is None:
        keep = keep_indices(state_dict, old_plan, new_plan, spec, prefix, num_built)
    new = {k: v.clone() for k, v in state_dict.items()}
    for i, p in enumerate(old_plan[:num_built]):
        for path, out_sp, in_sp in _layer_tensors(p, i, spec):
            base = f'{prefix}layer{i}.' + (f'{path}.' if path else '')
            ko, ki = keep.get(out_sp), keep.get(in_sp) if in_sp is not None else None
            key = base + 'conv.weight'
            w = new[key]
            if ko is not None:
                w = w.index_select(0, ko)
            if ki is not None:
                w = w.index_select(1, ki)
            new[key] = w.contiguous()
            if ko is not None:
                for name in ['conv.bias'] + [f'bn.{b}' for b in _BN]:
                    if base + name in new:
                        new[base + name] = new[base + name].index_select(0, ko).contiguous()
    return new, keep


__all__ = ['keep_indices', 'populate_state_dict']
