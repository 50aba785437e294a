"""One builder for every MobileNet-family table in :mod:`.arch_tables`.

The paper's ablations are functions that take rows and return rows:

- :func:`halve_last_stage` -- RF2 (segmentation, Table 7) and the detection dagger (Table 6),
- :func:`place_hswish` -- the nonlinearity placement of Table 5,

and :class:`MobileNet` decodes the transformed rows into layers, applying the width
multiplier (:func:`make_divisible` on every layer, expansion ratios kept) and the output
stride (atrous convolution after the stride budget is spent, TF DeepLab's placement).
"""
import math
import re

import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import ConvModule, DepthwiseSeparable, InvertedResidual, make_divisible
from .arch_tables import ARCHS

NL_CFGS = dict(RE=dict(type='ReLU'), HS=dict(type='HSwish'), R6=dict(type='ReLU6'))
REDUCE_TAIL_MODES = ('rf2', 'dagger')
_TAP_RE = re.compile(r'^(\d+)\.(expand|depthwise)$')


def last_stage_start(rows):
    """Index of the first row of the last stage: the last stride-2 row."""
    return max(i for i, r in enumerate(rows) if r.s == 2)


def halve_last_stage(rows, mode, first_expansion=True):
    """Halve the channels of the last stage (the rows from the last stride-2 block on).

    Every row of the last stage, and the final conv, gets half its output channels; the
    expansion ratios of its blocks are kept (so their expansions halve with their halved
    inputs). The first block's input is not halved: its expansion stays as in the table,
    except for ``mode='rf2'`` on networks whose reference halves it too
    (``first_expansion=True``: TF DeepLab's MobileNetV3).

    - ``'rf2'``: the paper's RF2 for segmentation ("reduce the filters in the last block by
      a factor of 2"). V3-Large: bneck 13 exp 672->336, out 160->80; bnecks 14-15 exp
      960->480, out 80; final conv 480.
    - ``'dagger'``: Table 6's "dagger" for detection. V3-Large: bneck 13 keeps exp 672 (it
      is SSDLite's C4 tap), out 80; bnecks 14-15 exp 480, out 80; final conv 480.

    Args:
        rows (list[Layer]): The table.
        mode (str): ``'rf2'`` or ``'dagger'``.
        first_expansion (bool): Whether RF2 halves the first block's expansion too.

    Returns:
        list[Layer]: The transformed table.
    """
    if mode not in REDUCE_TAIL_MODES:
        raise ValueError(f'reduce_tail={mode!r} is not one of {REDUCE_TAIL_MODES} (or None)')
    start = last_stage_start(rows)
    out = list(rows)
    for i in range(start, len(rows)):
        r = rows[i]
        if r.exp is None and r.op != 'conv':
            raise ValueError(f'reduce_tail={mode!r} needs inverted-residual blocks in the last '
                             f'stage; this network has {r.op!r} layers there')
        halve_exp = r.exp is not None and (i > start or (mode == 'rf2' and first_expansion))
        out[i] = r._replace(out=r.out // 2, exp=r.exp // 2 if halve_exp else r.exp)
    return out


def place_hswish(rows, first_channels):
    """Table 5: h-swish from the first block with ``first_channels`` outputs on, ReLU before.

    The stem keeps the table's nonlinearity unless ``first_channels`` equals its own width
    (then every layer uses h-swish: "h-swish @16" on V3-Large).
    """
    starts = [i for i, r in enumerate(rows) if r.out == first_channels]
    if not starts:
        widths = sorted({r.out for r in rows})
        raise ValueError(f'hswish_from={first_channels} matches no layer width; '
                         f'allowed values for this network: {widths}')
    first = starts[0]
    out = []
    for i, r in enumerate(rows):
        if i == 0 and first > 0:
            out.append(r)
        else:
            out.append(r._replace(nl='HS' if i >= first else 'RE'))
    return out


def dilate(rows, output_stride):
    """Per row (stride, dilation) for an ``output_stride`` (TF DeepLab's placement).

    Once the running stride reaches ``output_stride``, a stride-s row runs at stride 1 with
    the current rate, and every later row uses a rate multiplied by s.
    """
    current, rate, plan = 1, 1, []
    for r in rows:
        if current >= output_stride and r.s > 1:
            plan.append((1, rate))
            rate *= r.s
        else:
            plan.append((r.s, rate))
            current *= r.s
    return plan


class MobileNet(BaseModule):
    """The MobileNet-family builder: one table (:mod:`.arch_tables`) -> a backbone.

    Layers after the deepest tap in ``out_indices`` are not built (a segmentation
    MobileNetV2 ends at its 320-channel block).

    Args:
        arch (str): Key of :data:`ARCHS`.
        widen_factor (float): Width multiplier alpha (> 0); every layer's channels are
            rounded to a multiple of 8 (``make_divisible``). Default: 1.0.
        out_indices (Sequence[int | str]): Taps. An int ``i`` is layer ``i``'s output
            (0 = stem, last = final 1x1 conv); ``'i.expand'`` / ``'i.depthwise'`` is block
            ``i``'s expansion / depthwise output after BN and activation. Default: the last layer.
        output_stride (int): 8, 16 or 32; below 32, the last stages run atrous. Default: 32.
        reduce_tail (str, optional): ``'rf2'`` or ``'dagger'``, see :func:`halve_last_stage`.
        hswish_from (int, optional): Table 5: h-swish from the first layer with this many
            channels on, ReLU before it. Default: None (the table's placement).
        act_cfg (dict, optional): Activation config per table code ``'RE'``, ``'HS'``,
            ``'R6'``, merged over the defaults (ReLU, HSwish, ReLU6); e.g. all-ReLU:
            ``dict(HS=dict(type='ReLU'))``.
        min_channels (int): Lower bound of every layer's rounded width. Default: 8.
        scale_final_conv (bool, optional): Whether the final 1x1 conv follows the width
            multiplier; ``None`` = the network's convention (see ``ArchSpec``). Default: None.
        frozen_stages (int): Freeze layers ``0..frozen_stages`` (-1: none). Default: -1.
        norm_cfg (dict): Norm config; BN momentum 0.01 is TF's decay 0.99.
        norm_eval (bool): Keep BN layers in eval mode while training. Default: False.
        with_cp (bool): Gradient checkpointing of the blocks. Default: False.
        init_cfg (dict | list[dict], optional): mmengine init config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    arch_name = None  # set by the registered subclasses

    def __init__(self, arch, widen_factor=1.0, out_indices=None, output_stride=32, reduce_tail=None,
                 hswish_from=None, act_cfg=None, min_channels=8, scale_final_conv=None,
                 frozen_stages=-1, norm_cfg=dict(type='BN', eps=0.001, momentum=0.01), norm_eval=False,
                 with_cp=False,
                 init_cfg=(dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
                           dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'], val=1, bias=0),
                           dict(type='Normal', layer='Linear', std=0.01))):
        super().__init__(init_cfg=list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        name = type(self).__name__
        if arch not in ARCHS:
            raise ValueError(f'{name}: unknown arch={arch!r}; allowed: {sorted(ARCHS)}')
        if (not isinstance(widen_factor, (int, float)) or isinstance(widen_factor, bool)
                or not math.isfinite(widen_factor) or widen_factor <= 0):
            raise ValueError(f'{name}: widen_factor must be a number > 0 (the paper uses 0.35-1.25), '
                             f'got {widen_factor!r}')
        if output_stride not in (8, 16, 32):
            raise ValueError(f'{name}: output_stride must be 8, 16 or 32, got {output_stride!r}')
        spec = ARCHS[arch]
        rows = list(spec.rows)
        if reduce_tail is not None:
            rows = halve_last_stage(rows, reduce_tail, spec.rf2_first_expansion)
        if hswish_from is not None:
            rows = place_hswish(rows, hswish_from)
        nl_cfgs = dict(NL_CFGS, **(act_cfg or {}))
        unknown = set(nl_cfgs) - set(NL_CFGS)
        if unknown:
            raise ValueError(f'{name}: act_cfg keys must be table codes {sorted(NL_CFGS)}, got {sorted(unknown)}')

        self.arch = arch
        self.rows = rows
        self.widen_factor = widen_factor
        self.output_stride = output_stride
        self.reduce_tail = reduce_tail
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        num_layers = len(rows)
        if out_indices is None:
            out_indices = (num_layers - 1, )
        if isinstance(out_indices, (int, str)):
            out_indices = (out_indices, )
        self.out_indices = tuple(out_indices)
        taps = [self._parse_tap(t, num_layers) for t in self.out_indices]
        self._taps = taps
        if not taps:
            raise ValueError(f'{name}: out_indices is empty; give at least one tap')
        if not -1 <= frozen_stages < num_layers:
            raise ValueError(f'{name}: frozen_stages must be in [-1, {num_layers - 1}], got {frozen_stages}')
        last_built = max(i for i, _ in taps)

        def width(c):
            return make_divisible(c * widen_factor, 8, min_channels)

        plan = dilate(rows, output_stride)
        self.layer_names = []
        self._layer_info = []  # (out_channels, mid_channels, reduction) per built layer
        in_table, in_ch, reduction = 3, 3, 1
        for i, (r, (stride, dilation)) in enumerate(zip(rows, plan)):
            if i > last_built:
                break
            act = nl_cfgs[r.nl]
            is_final = i == num_layers - 1
            if r.op == 'conv':
                if is_final and i > 0:
                    scale = scale_final_conv
                    if scale is None:
                        scale = spec.final_conv_scaling == 'always' or widen_factor > 1
                    out_ch = width(r.out) if scale else r.out
                else:
                    out_ch = width(r.out)
                layer = ConvModule(in_ch, out_ch, r.k, stride, dilation, norm_cfg=norm_cfg, act_cfg=act)
                mid_ch = None
            elif r.op == 'bneck':
                out_ch = width(r.out)
                mid_ch = in_ch if r.exp == in_table else make_divisible(in_ch * r.exp / in_table, 8, min_channels)
                se_ch = None
                if r.se:
                    base = mid_ch if spec.se_base == 'mid' else in_ch
                    se_ch = (make_divisible(base * spec.se_ratio, spec.se_divisor)
                             if spec.se_divisor > 1 else max(1, int(base * spec.se_ratio)))
                layer = InvertedResidual(
                    in_ch, mid_ch, out_ch, r.k, stride, dilation, se_channels=se_ch,
                    se_cfg=dict(gate_cfg=dict(type=spec.se_gate)), norm_cfg=norm_cfg, act_cfg=act,
                    with_cp=with_cp)
            elif r.op == 'dwsep':
                out_ch = width(r.out)
                mid_ch = in_ch
                layer = DepthwiseSeparable(in_ch, out_ch, r.k, stride, dilation, norm_cfg=norm_cfg,
                                           act_cfg=act, with_cp=with_cp)
            else:
                raise ValueError(f'unknown operator {r.op!r} in row {i} of {arch}')
            reduction *= stride
            self.add_module(f'layer{i}', layer)
            self.layer_names.append(f'layer{i}')
            self._layer_info.append((out_ch, mid_ch, reduction, r.op))
            in_table, in_ch = r.out, out_ch

        self._int_taps = {i for i, kind in taps if kind is None}
        self._inner_taps = {}
        for i, kind in taps:
            if kind is None:
                continue
            if self._layer_info[i][3] == 'conv' or (kind == 'expand' and getattr(self, f'layer{i}').expand_conv is None):
                raise ValueError(f'{name}: out_indices entry {i}.{kind!r}: layer {i} has no {kind} conv '
                                 f'(it is a {self._layer_info[i][3]!r} layer'
                                 f'{" whose expansion equals its input" if kind == "expand" else ""})')
            self._inner_taps.setdefault(i, []).append(kind)
        self.feature_info = []
        for t, (i, kind) in zip(self.out_indices, taps):
            out_ch, mid_ch, red, _ = self._layer_info[i]
            if kind is None:
                self.feature_info.append(dict(num_chs=out_ch, reduction=red, module=f'layer{i}', index=t))
            else:
                # the depthwise conv sets the block's stride; its input (expansion) is one stride earlier
                r = red if kind == 'depthwise' else red // plan[i][0]
                sub = 'expand_conv' if kind == 'expand' else 'depthwise_conv'
                self.feature_info.append(dict(num_chs=mid_ch, reduction=r, module=f'layer{i}.{sub}', index=t))
        self.out_channels = tuple(f['num_chs'] for f in self.feature_info)
        self._freeze_stages()

    def _parse_tap(self, tap, num_layers):
        name = type(self).__name__
        if isinstance(tap, int) and not isinstance(tap, bool):
            if not 0 <= tap < num_layers:
                raise ValueError(f'{name}: out_indices entry {tap} is out of range: this network has layers '
                                 f'0..{num_layers - 1} (0 = stem, {num_layers - 1} = last layer)')
            return tap, None
        m = _TAP_RE.match(tap) if isinstance(tap, str) else None
        if m is None:
            raise ValueError(f'{name}: out_indices entry {tap!r} is not a layer index (int) or '
                             f"'<i>.expand' / '<i>.depthwise' (e.g. '13.expand')")
        i = int(m.group(1))
        if not 0 < i < num_layers:
            raise ValueError(f'{name}: out_indices entry {tap!r}: block index must be in 1..{num_layers - 1}')
        return i, m.group(2)

    def forward(self, x):
        outs = {}
        for i, layer_name in enumerate(self.layer_names):
            layer = getattr(self, layer_name)
            kinds = self._inner_taps.get(i)
            if kinds:
                x, inner = layer.forward_taps(x)
                for kind in kinds:
                    outs[(i, kind)] = inner[kind]
            else:
                x = layer(x)
            if i in self._int_taps:
                outs[(i, None)] = x
        return tuple(outs[t] for t in self._taps)

    def _freeze_stages(self):
        for i in range(min(self.frozen_stages + 1, len(self.layer_names))):
            layer = getattr(self, self.layer_names[i])
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
