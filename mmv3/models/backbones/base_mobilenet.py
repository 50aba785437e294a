"""One builder for every MobileNet-family table in :mod:`.arch_tables`.

The paper's ablations are functions that take rows and return rows:

- :func:`halve_last_stage` -- RF2 (segmentation, Table 7) and the detection dagger (Table 6),
- :func:`place_hswish` -- the nonlinearity placement of Table 5,
- :func:`minimalistic_rows` -- the "minimalistic" MobileNetV3 of the released TF / Keras models,

(:func:`transform_rows` applies them), then :func:`plan_layers` decodes the rows into final
widths (:class:`LayerPlan`: the width multiplier, :func:`make_divisible` on every layer,
expansion ratios kept) and the output stride (:func:`dilate`: atrous convolution after the
stride budget is spent, TF DeepLab's placement), :func:`override_widths` sets per-row final
widths (``arch_overrides``, NetAdapt's output), and :class:`MobileNet` builds one module per
planned layer.
"""
import math
import re
from collections.abc import Mapping
from typing import NamedTuple, Optional

import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import ConvModule, DepthwiseSeparable, InvertedResidual, make_divisible
from ..layers.conv2d_same import PAD_TYPES
from .arch_tables import ARCHS

NL_CFGS = dict(RE=dict(type='ReLU'), HS=dict(type='HSwish'), R6=dict(type='ReLU6'))
REDUCE_TAIL_MODES = ('rf2', 'dagger')
OVERRIDE_KEYS = ('exp', 'out')
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


def minimalistic_rows(rows):
    """The "minimalistic" MobileNetV3 (TF slim's ``V3_*_MINIMALISTIC``, Keras' ``minimalistic=True``).

    The same layers and widths without the "advanced blocks": every kernel at most 3x3 (the 5x5
    depthwise convs become 3x3), no Squeeze-and-Excite, ReLU everywhere (stem and final conv
    included; the classification head's activation is the head's ``act_cfg``). On other tables it
    also replaces ReLU6 by ReLU.
    """
    return [r._replace(k=min(r.k, 3), se=False, nl='RE') for r in rows]


def dilate(rows, output_stride, atrous_rate_first=False):
    """Per row (stride, dilation) for an ``output_stride`` (TF DeepLab's placement by default).

    Once the running stride reaches ``output_stride``, a stride-s row runs at stride 1 with
    the current rate, and every later row uses a rate multiplied by s. With
    ``atrous_rate_first=True`` the row that gives up its stride is already dilated by s
    (torchvision's ``mobilenet_v3_large(dilated=True)``: bneck 13 at stride 1, dilation 2).
    """
    current, rate, plan = 1, 1, []
    for r in rows:
        if current >= output_stride and r.s > 1:
            if atrous_rate_first:
                rate *= r.s
                plan.append((1, rate))
            else:
                plan.append((1, rate))
                rate *= r.s
        else:
            plan.append((r.s, rate))
            current *= r.s
    return plan


def transform_rows(spec, reduce_tail=None, hswish_from=None, minimalistic=False):
    """The table's rows with the row ablations applied: ``reduce_tail``, ``minimalistic``, then ``hswish_from``.

    Args:
        spec (ArchSpec): The network (:data:`ARCHS` value).
        reduce_tail (str, optional): ``'rf2'`` or ``'dagger'``, see :func:`halve_last_stage`.
        hswish_from (int, optional): See :func:`place_hswish`.
        minimalistic (bool): See :func:`minimalistic_rows`. Default: False.

    Returns:
        list[Layer]: The transformed rows, still in table units (before the width multiplier).
    """
    rows = list(spec.rows)
    if reduce_tail is not None:
        rows = halve_last_stage(rows, reduce_tail, spec.rf2_first_expansion)
    if minimalistic:
        rows = minimalistic_rows(rows)
    if hswish_from is not None:
        rows = place_hswish(rows, hswish_from)
    return rows


class LayerPlan(NamedTuple):
    """One layer as built: final channel counts (after the width multiplier) and its placement.

    Attributes:
        op (str): ``'conv'``, ``'bneck'`` or ``'dwsep'`` (the row's operator).
        k (int): Kernel size.
        in_ch (int): Input channels (the previous layer's ``out``; 3 for the stem).
        mid (int | None): Expansion (depthwise) channels of a ``'bneck'`` (``in_ch`` when it has
            no expansion conv) or ``'dwsep'`` (``in_ch``); ``None`` for a ``'conv'``.
        out (int): Output channels.
        se (bool): Squeeze-and-Excite in the block.
        nl (str): Table code of the nonlinearity.
        stride (int): Stride as built (1 on rows made atrous by ``output_stride``).
        dilation (int): Dilation as built.
        reduction (int): Total stride of the layer's output.
    """
    op: str
    k: int
    in_ch: int
    mid: Optional[int]
    out: int
    se: bool
    nl: str
    stride: int
    dilation: int
    reduction: int

    @property
    def expand(self):
        """Whether the layer has a 1x1 expansion conv (a bneck whose expansion differs from its input)."""
        return self.op == 'bneck' and self.mid != self.in_ch

    @property
    def residual(self):
        """Whether the layer adds its input to its output (a bneck at stride 1 with ``in_ch == out``)."""
        return self.op == 'bneck' and self.stride == 1 and self.in_ch == self.out


def plan_layers(spec, rows, widen_factor=1.0, min_channels=8, scale_final_conv=None, output_stride=32,
                atrous_rate_first=False):
    """Decode rows (table units) into per-layer final widths, strides and dilations.

    Every layer's output is ``make_divisible(out x widen_factor, 8, min_channels)``; a bneck's
    expansion keeps the table's ratio ``exp / in`` over its actual (rounded) input; the final
    1x1 conv follows the multiplier per ``scale_final_conv`` (``None``: the network's
    ``final_conv_scaling``); strides and dilations come from :func:`dilate`.

    Returns:
        list[LayerPlan]: One entry per row.
    """
    def width(c):
        return make_divisible(c * widen_factor, 8, min_channels)

    plan, num_layers = [], len(rows)
    in_table, in_ch, reduction = 3, 3, 1
    for i, (r, (stride, dilation)) in enumerate(zip(rows, dilate(rows, output_stride, atrous_rate_first))):
        mid = None
        out_ch = width(r.out)
        if r.op == 'bneck':
            mid = in_ch if r.exp == in_table else make_divisible(in_ch * r.exp / in_table, 8, min_channels)
        elif r.op == 'dwsep':
            mid = in_ch
        elif i == num_layers - 1 and i > 0:  # the final conv
            scale = scale_final_conv
            if scale is None:
                scale = spec.final_conv_scaling == 'always' or widen_factor > 1
            out_ch = width(r.out) if scale else r.out
        reduction *= stride
        plan.append(LayerPlan(r.op, r.k, in_ch, mid, out_ch, r.se, r.nl, stride, dilation, reduction))
        in_table, in_ch = r.out, out_ch
    return plan


def residual_groups(plan):
    """The rows that must keep one output width: each residual chain of a stage.

    A bneck with a residual connection (:attr:`LayerPlan.residual`) needs ``out == in``, so
    the block feeding the first residual block of a chain and every residual block of the
    chain share one width (V3-Large: ``(0, 1), (2, 3), (4, 5, 6), (7, 8, 9, 10), (11, 12),
    (13, 14, 15)``). A row in no group can change its ``out`` alone.

    Args:
        plan (list[LayerPlan]): See :func:`plan_layers`.

    Returns:
        list[tuple[int]]: Row indices per group, in order.
    """
    groups = []
    for i, p in enumerate(plan):
        if not p.residual:
            continue
        if groups and groups[-1][-1] == i - 1:
            groups[-1].append(i)
        else:
            groups.append([i - 1, i])
    return [tuple(g) for g in groups]


def override_widths(plan, overrides):
    """Per-row final widths (NetAdapt's output as data): ``{row: dict(exp=..., out=...)}``.

    ``row`` is the ``out_indices`` numbering (0 = stem); ``exp`` (a bneck's expansion) and
    ``out`` (the layer's output) are final channel counts, used as given (no width multiplier,
    no rounding). Every layer's input follows the previous layer's ``out``; a block without an
    expansion conv keeps running its depthwise conv on its (new) input; an SE squeeze follows
    the block's new widths by the table's rule (:func:`se_channels`).

    Widths only: the network keeps the table's convs and residual connections. Refused:
    ``exp`` on a layer without an expansion conv; an ``out`` on part of a residual group
    (:func:`residual_groups`: give the whole group the same ``out`` and its residuals stay);
    widths that would remove an expansion conv (expansion == input) or add a residual
    (a stride-1 block with output == input where the table has none).

    Args:
        plan (list[LayerPlan]): See :func:`plan_layers`.
        overrides (dict[int, dict], optional): The overrides; empty or ``None``: no change.

    Returns:
        list[LayerPlan]: The plan with the new widths.
    """
    if not overrides:
        return list(plan)
    if not isinstance(overrides, Mapping):
        raise ValueError(f'arch_overrides must be a dict {{row: dict(exp=..., out=...)}}, got {overrides!r}')
    n = len(plan)
    for row, o in overrides.items():
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < n:
            raise ValueError(f'arch_overrides: row {row!r} is not a layer of this network: rows are the ints '
                             f'0..{n - 1} (the out_indices numbering: 0 = stem, {n - 1} = last layer)')
        if not isinstance(o, Mapping):
            raise ValueError(f'arch_overrides: row {row} must map to dict(exp=..., out=...), got {o!r}')
        unknown = sorted(map(str, set(o) - set(OVERRIDE_KEYS)))
        if unknown:
            raise ValueError(f"arch_overrides: row {row}: unknown keys {unknown}; allowed: 'exp' (expansion "
                             f"channels), 'out' (output channels)")
        for key, v in o.items():
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f'arch_overrides: row {row} {key!r} must be a positive int (a final channel '
                                 f'count), got {v!r}')
        if 'exp' in o and not plan[row].expand:
            p = plan[row]
            what = 'a bneck whose expansion equals its input' if p.op == 'bneck' else f'a {p.op!r} layer'
            raise ValueError(f"arch_overrides: row {row} has no expansion conv (it is {what}); only 'out' "
                             f'can be set there')
    new, in_ch = [], 3
    for i, p in enumerate(plan):
        o = overrides.get(i, {})
        if p.op == 'conv':
            mid = None
        elif p.expand:
            mid = o.get('exp', p.mid)
        else:  # dwsep, or a bneck without expansion conv: the depthwise conv runs on the input
            mid = in_ch
        new.append(p._replace(in_ch=in_ch, mid=mid, out=o.get('out', p.out)))
        in_ch = new[-1].out
    for g in residual_groups(plan):
        if len({new[j].out for j in g}) > 1:
            got = ', '.join(f'{j}: {new[j].out}' for j in g if 'out' in overrides.get(j, {}))
            raise ValueError(f"arch_overrides: rows {', '.join(map(str, g))} share a residual connection "
                             f"(stage output {plan[g[0]].out}): give them the same 'out' (got {got})")
    for i, (p, q) in enumerate(zip(plan, new)):
        if p.expand and not q.expand:
            raise ValueError(f"arch_overrides: row {i} would expand to {q.mid} channels, its input width, which "
                             f"removes its expansion conv (widths only): give row {i} another 'exp' or row "
                             f"{i - 1} another 'out'")
        if q.residual and not p.residual:
            raise ValueError(f"arch_overrides: row {i} would output {q.out} channels, its input width, at stride "
                             f"1, which adds a residual connection the table does not have (widths only): give "
                             f"row {i} or row {i - 1} another 'out'")
    return new


def se_channels(spec, in_ch, mid):
    """SE squeeze width of a block: ``se_ratio`` x its expansion (or input), rounded per ``spec``."""
    base = mid if spec.se_base == 'mid' else in_ch
    if spec.se_divisor > 1:
        return make_divisible(base * spec.se_ratio, spec.se_divisor)
    return max(1, int(base * spec.se_ratio))


def build_layer(p, spec, nl_cfgs, norm_cfg, with_cp=False, where='the plan', pad_type='', se_gate_cfg=None):
    """The module of one planned layer (:class:`LayerPlan`), as :class:`MobileNet` builds it.

    Also used standalone, e.g. to time one layer configuration (:mod:`mmv3.analysis.latency_table`).

    Args:
        p (LayerPlan): The layer.
        spec (ArchSpec): The network (SE width rule and gate).
        nl_cfgs (dict): Activation config per table code (``'RE'``, ``'HS'``, ``'R6'``).
        norm_cfg (dict): Norm config.
        with_cp (bool): Gradient checkpointing. Default: False.
        where (str): Named in the error of an unknown operator.
        pad_type (str): ``''`` (symmetric), ``'same'`` (TensorFlow's SAME for strided convs) or
            ``'keras'`` (see :class:`MobileNet`).
        se_gate_cfg (dict, optional): Gate of the SE blocks; ``None``: ``dict(type=spec.se_gate)``.
    """
    act = nl_cfgs[p.nl]
    if p.op == 'conv':
        return ConvModule(p.in_ch, p.out, p.k, p.stride, p.dilation, norm_cfg=norm_cfg, act_cfg=act,
                          pad_type=pad_type)
    if p.op == 'bneck':
        return InvertedResidual(
            p.in_ch, p.mid, p.out, p.k, p.stride, p.dilation,
            se_channels=se_channels(spec, p.in_ch, p.mid) if p.se else None,
            se_cfg=dict(gate_cfg=dict(se_gate_cfg or dict(type=spec.se_gate))), norm_cfg=norm_cfg, act_cfg=act,
            with_cp=with_cp, pad_type=pad_type)
    if p.op == 'dwsep':
        return DepthwiseSeparable(p.in_ch, p.out, p.k, p.stride, p.dilation, norm_cfg=norm_cfg, act_cfg=act,
                                  with_cp=with_cp, pad_type=pad_type)
    raise ValueError(f'unknown operator {p.op!r} in {where}')


class MobileNet(BaseModule):
    """The MobileNet-family builder: one table (:mod:`.arch_tables`) -> a backbone.

    Layers after the deepest tap in ``out_indices`` are not built (a segmentation
    MobileNetV2 ends at its 320-channel block).

    The build runs in three steps: :func:`transform_rows` (the row ablations),
    :func:`plan_layers` (final widths, strides, dilations) and one module per planned layer;
    then the taps are resolved. Public attributes after construction:

    - ``rows`` (list[Layer]): the transformed rows (table units); ``plan``
      (list[LayerPlan]): one entry per row, final widths (also for rows not built).
    - ``layer_names``: the built modules ``layer0 .. layer{deepest tap}``.
    - ``feature_info`` / ``out_channels``: channels, reduction and module of each tap.
    - :meth:`residual_groups`: the rows that share one output width.
    - ``int_taps`` (tuple[int]): layers whose outputs are taps; ``inner_taps``
      (dict[int, list[str]]): blocks whose ``'expand'`` / ``'depthwise'`` outputs are taps.

    Args:
        arch (str): Key of :data:`ARCHS`.
        widen_factor (float): Width multiplier alpha (> 0); every layer's channels are
            rounded to a multiple of 8 (``make_divisible``). Default: 1.0.
        out_indices (Sequence[int | str]): Taps. An int ``i`` is layer ``i``'s output
            (0 = stem, last = final 1x1 conv); ``'i.expand'`` / ``'i.depthwise'`` is block
            ``i``'s expansion / depthwise output after BN and activation. Default: the last layer.
        output_stride (int): 8, 16 or 32; below 32, the last stages run atrous. Default: 32.
        atrous_rate_first (bool): Where the atrous rate starts (see :func:`dilate`): ``False``
            (TF DeepLab): the block that gives up its stride keeps rate 1, later blocks are
            dilated; ``True`` (torchvision's ``dilated=True``): that block is dilated too.
            Default: False.
        reduce_tail (str, optional): ``'rf2'`` or ``'dagger'``, see :func:`halve_last_stage`.
        hswish_from (int, optional): Table 5: h-swish from the first layer with this many
            channels on, ReLU before it. Default: None (the table's placement).
        minimalistic (bool): The "minimalistic" MobileNetV3 of TF slim / Keras applications: 3x3
            kernels, no SE, ReLU everywhere (:func:`minimalistic_rows`). Default: False.
        act_cfg (dict, optional): Activation config per table code ``'RE'``, ``'HS'``,
            ``'R6'``, merged over the defaults (ReLU, HSwish, ReLU6); e.g. all-ReLU:
            ``dict(HS=dict(type='ReLU'))``.
        min_channels (int): Lower bound of every layer's rounded width. Default: 8.
        scale_final_conv (bool, optional): Whether the final 1x1 conv follows the width
            multiplier; ``None`` = the network's convention (see ``ArchSpec``). Default: None.
        arch_overrides (dict[int, dict], optional): Per-row final widths (e.g. NetAdapt's
            output), ``{row: dict(exp=..., out=...)}`` with ``row`` in the ``out_indices``
            numbering, applied after the width multiplier; a residual group changes its
            ``out`` together (:meth:`residual_groups`). See :func:`override_widths`.
            Default: None.
        pad_type (str): ``''``: symmetric padding (PyTorch's); ``'same'``: TensorFlow's
            ``'SAME'`` padding for every strided conv (stem and depthwise, dilated ones too;
            asymmetric at even input sizes), which weights trained in TensorFlow (Keras
            applications, slim, DeepLab, timm's ``tf_*``) need to compute their outputs;
            ``'keras'``: as ``'same'``, but every strided depthwise conv padded as for an even input
            size, whatever the size (Keras applications' ``ZeroPadding2D(correct_pad(...))`` in a
            model built with ``input_shape=None``: equal to ``'same'`` at 224x224, one pixel less
            before at odd sizes; :class:`~mmv3.models.layers.conv2d_same.Conv2dSameEven`).
            Parameter names are the same. Default: ``''``.
        se_gate_cfg (dict, optional): Activation config of the Squeeze-and-Excite gates; ``None``: the
            table's (``ArchSpec.se_gate``: hard sigmoid ``relu6(x + 3) / 6`` for MobileNetV3). TF slim's
            and DeepLab's MobileNetV3 gate with ``relu6(x + 3) * 0.16667``: ``dict(type='mmv3.QSigmoid')``
            (:class:`~mmv3.models.layers.QSigmoid`), which their checkpoints need to compute their outputs
            within 1e-5. Default: None.
        frozen_stages (int): Freeze layers ``0..frozen_stages`` (-1: none). Default: -1.
        norm_cfg (dict): Norm config; BN momentum 0.01 is TF's decay 0.99.
        norm_eval (bool): Keep BN layers in eval mode while training. Default: False.
        with_cp (bool): Gradient checkpointing of the blocks. Default: False.
        init_cfg (dict | list[dict], optional): mmengine init config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    arch_name = None  # set by the registered subclasses

    def __init__(self, arch, widen_factor=1.0, out_indices=None, output_stride=32, reduce_tail=None,
                 hswish_from=None, act_cfg=None, min_channels=8, scale_final_conv=None, arch_overrides=None,
                 pad_type='', atrous_rate_first=False, minimalistic=False, se_gate_cfg=None, frozen_stages=-1,
                 norm_cfg=dict(type='BN', eps=0.001, momentum=0.01),
                 norm_eval=False, with_cp=False,
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
        rows = transform_rows(spec, reduce_tail, hswish_from, minimalistic)
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
        self.out_indices, self._taps = self._parse_taps(out_indices, num_layers)
        if not -1 <= frozen_stages < num_layers:
            raise ValueError(f'{name}: frozen_stages must be in [-1, {num_layers - 1}], got {frozen_stages}')
        self.arch_overrides = arch_overrides
        if pad_type not in PAD_TYPES:
            raise ValueError(f"{name}: pad_type must be one of {PAD_TYPES} ('' = symmetric, 'same' = "
                             f"TensorFlow's SAME padding for TF-trained weights, 'keras' = Keras applications'), "
                             f"got {pad_type!r}")
        self.pad_type = pad_type
        if se_gate_cfg is not None and not (isinstance(se_gate_cfg, Mapping) and 'type' in se_gate_cfg):
            raise ValueError(f"{name}: se_gate_cfg must be an activation config dict with a 'type' (e.g. "
                             f"dict(type='mmv3.QSigmoid')), got {se_gate_cfg!r}")
        self.se_gate_cfg = se_gate_cfg
        self.plan = override_widths(
            plan_layers(spec, rows, widen_factor, min_channels, scale_final_conv, output_stride, atrous_rate_first),
            arch_overrides)
        last_built = max(i for i, _ in self._taps)
        self._build_layers(self.plan[:last_built + 1], spec, nl_cfgs, norm_cfg, with_cp)
        self._resolve_taps()
        self._freeze_stages()

    def _parse_taps(self, out_indices, num_layers):
        """``out_indices`` -> (the tuple as given, ``[(layer, None | 'expand' | 'depthwise')]``)."""
        if out_indices is None:
            out_indices = (num_layers - 1, )
        if isinstance(out_indices, (int, str)):
            out_indices = (out_indices, )
        out_indices = tuple(out_indices)
        taps = [self._parse_tap(t, num_layers) for t in out_indices]
        if not taps:
            raise ValueError(f'{type(self).__name__}: out_indices is empty; give at least one tap')
        return out_indices, taps

    def _build_layers(self, plan, spec, nl_cfgs, norm_cfg, with_cp):
        """One module ``layer{i}`` per planned layer (mmpretrain's parameter names)."""
        self.spec, self.nl_cfgs, self.norm_cfg, self.with_cp = spec, nl_cfgs, norm_cfg, with_cp
        self.layer_names = []
        for i, p in enumerate(plan):
            self.add_module(f'layer{i}', self.make_layer(p, where=f'row {i} of {self.arch}'))
            self.layer_names.append(f'layer{i}')

    def make_layer(self, p, where='the plan'):
        """A new module for the planned layer ``p`` (a :class:`LayerPlan`, e.g. of other widths) built as this
        backbone builds its own: the same table conventions, activations, norm, padding and SE gate (what the
        latency table times and the NetAdapt search counts)."""
        return build_layer(p, self.spec, self.nl_cfgs, self.norm_cfg, self.with_cp, where=where,
                           pad_type=self.pad_type, se_gate_cfg=self.se_gate_cfg)

    def _resolve_taps(self):
        """Check the inner taps against the built layers; set ``feature_info`` and ``out_channels``."""
        name = type(self).__name__
        self._int = {i for i, kind in self._taps if kind is None}
        self._inner = {}
        for i, kind in self._taps:
            if kind is None:
                continue
            p = self.plan[i]
            if p.op == 'conv' or (kind == 'expand' and not p.expand):
                raise ValueError(f'{name}: out_indices entry {i}.{kind!r}: layer {i} has no {kind} conv '
                                 f'(it is a {p.op!r} layer'
                                 f'{" whose expansion equals its input" if kind == "expand" else ""})')
            self._inner.setdefault(i, []).append(kind)
        self.feature_info = []
        for t, (i, kind) in zip(self.out_indices, self._taps):
            p = self.plan[i]
            if kind is None:
                self.feature_info.append(dict(num_chs=p.out, reduction=p.reduction, module=f'layer{i}', index=t))
            else:
                # the depthwise conv sets the block's stride; its input (expansion) is one stride earlier
                r = p.reduction if kind == 'depthwise' else p.reduction // p.stride
                sub = 'expand_conv' if kind == 'expand' else 'depthwise_conv'
                self.feature_info.append(dict(num_chs=p.mid, reduction=r, module=f'layer{i}.{sub}', index=t))
        self.out_channels = tuple(f['num_chs'] for f in self.feature_info)

    def residual_groups(self):
        """The rows that must change their ``out`` together (:func:`residual_groups` of ``plan``)."""
        return residual_groups(self.plan)

    @property
    def int_taps(self):
        """Layer indices whose outputs are taps (``out_indices`` ints), sorted."""
        return tuple(sorted(self._int))

    @property
    def inner_taps(self):
        """Inner taps: ``{block index: ['expand' | 'depthwise', ...]}`` (a copy).

        A block listed here has a head that reads its expansion / depthwise output and expects
        its width (e.g. :func:`mmv3.deploy.fuse.pad_channels` leaves such blocks alone).
        """
        return {i: list(kinds) for i, kinds in self._inner.items()}

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
            kinds = self._inner.get(i)
            if kinds:
                x, inner = layer.forward_taps(x)
                for kind in kinds:
                    outs[(i, kind)] = inner[kind]
            else:
                x = layer(x)
            if i in self._int:
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
