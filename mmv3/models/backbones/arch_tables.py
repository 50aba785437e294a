"""The architectures as data: the paper's Tables 1 and 2, and the baselines it compares with.

Each network is a list of rows, one per layer, read exactly like the paper's tables:

    Layer(operator, kernel, exp, out, SE, NL, stride)

- ``operator``: ``'conv'`` (conv + BN + NL: the stem and the final 1x1 conv), ``'bneck'``
  (inverted residual, Figures 3-4) or ``'dwsep'`` (MobileNetV1's depthwise-separable pair).
- ``exp``: the expansion width **as printed in the table**; the builder keeps the ratio
  ``exp / in`` (``in`` = the previous row's ``out``) when it applies a width multiplier.
- ``NL``: ``'RE'`` ReLU, ``'HS'`` h-swish, ``'R6'`` ReLU6.

Every ablation of the paper (width, RF2, the detection "dagger", output stride, nonlinearity
placement) is a transformation of these rows in :mod:`mmv3.models.backbones.base_mobilenet`,
never a copy of a table. Layer index ``i`` of a table is ``out_indices`` index ``i``
(0 = stem; for V3-Large 1-15 = the bnecks and 16 = the final 1x1 conv).
"""
from typing import NamedTuple, Optional


class Layer(NamedTuple):
    op: str
    k: int
    exp: Optional[int]
    out: int
    se: bool
    nl: str
    s: int


class ArchSpec(NamedTuple):
    """A network: its rows and the conventions its reference implementation uses.

    Attributes:
        rows (list[Layer]): Stem, blocks and the final 1x1 conv (the layer before pooling).
        se_base (str): SE squeeze width is ``se_ratio`` x the block's ``'mid'`` (expanded)
            or ``'in'`` (input) channels.
        se_ratio (float): Squeeze ratio.
        se_divisor (int): The squeeze width is rounded with ``make_divisible`` to this
            (``1`` = truncate, MnasNet's convention).
        se_gate (str): ``'HSigmoid'`` (MobileNetV3) or ``'Sigmoid'`` (MnasNet).
        final_conv_scaling (str): ``'always'``: the final conv follows the width multiplier;
            ``'up_only'``: only multipliers > 1 widen it (MobileNetV2's 1280 conv).
        rf2_first_expansion (bool): RF2 also halves the expansion of the first (stride-2)
            block of the last stage (TF DeepLab's MobileNetV3), not only its output.
    """
    rows: list
    se_base: str = 'mid'
    se_ratio: float = 0.25
    se_divisor: int = 8
    se_gate: str = 'HSigmoid'
    final_conv_scaling: str = 'always'
    rf2_first_expansion: bool = True


L = Layer

# Table 1: MobileNetV3-Large. The 1280 conv after pooling and the classifier are the
# classification head's (mmv3.models.heads), not the backbone's.
MOBILENET_V3_LARGE = ArchSpec(rows=[
    #  operator  k   exp  out   SE     NL    s
    L('conv',    3, None,  16, False, 'HS', 2),  # 0
    L('bneck',   3,   16,  16, False, 'RE', 1),  # 1
    L('bneck',   3,   64,  24, False, 'RE', 2),  # 2
    L('bneck',   3,   72,  24, False, 'RE', 1),  # 3
    L('bneck',   5,   72,  40, True,  'RE', 2),  # 4
    L('bneck',   5,  120,  40, True,  'RE', 1),  # 5
    L('bneck',   5,  120,  40, True,  'RE', 1),  # 6
    L('bneck',   3,  240,  80, False, 'HS', 2),  # 7
    L('bneck',   3,  200,  80, False, 'HS', 1),  # 8
    L('bneck',   3,  184,  80, False, 'HS', 1),  # 9
    L('bneck',   3,  184,  80, False, 'HS', 1),  # 10
    L('bneck',   3,  480, 112, True,  'HS', 1),  # 11
    L('bneck',   3,  672, 112, True,  'HS', 1),  # 12
    L('bneck',   5,  672, 160, True,  'HS', 2),  # 13
    L('bneck',   5,  960, 160, True,  'HS', 1),  # 14
    L('bneck',   5,  960, 160, True,  'HS', 1),  # 15
    L('conv',    1, None, 960, False, 'HS', 1),  # 16
])

# Table 2: MobileNetV3-Small. The table marks SE on the final 1x1 conv; the reference
# implementations have none there, and Table 3's 2.5M params only fit without it
# (with it: 2.71M, +8.4%), so the final conv has no SE.
MOBILENET_V3_SMALL = ArchSpec(rows=[
    #  operator  k   exp  out   SE     NL    s
    L('conv',    3, None,  16, False, 'HS', 2),  # 0
    L('bneck',   3,   16,  16, True,  'RE', 2),  # 1
    L('bneck',   3,   72,  24, False, 'RE', 2),  # 2
    L('bneck',   3,   88,  24, False, 'RE', 1),  # 3
    L('bneck',   5,   96,  40, True,  'HS', 2),  # 4
    L('bneck',   5,  240,  40, True,  'HS', 1),  # 5
    L('bneck',   5,  240,  40, True,  'HS', 1),  # 6
    L('bneck',   5,  120,  48, True,  'HS', 1),  # 7
    L('bneck',   5,  144,  48, True,  'HS', 1),  # 8
    L('bneck',   5,  288,  96, True,  'HS', 2),  # 9
    L('bneck',   5,  576,  96, True,  'HS', 1),  # 10
    L('bneck',   5,  576,  96, True,  'HS', 1),  # 11
    L('conv',    1, None, 576, False, 'HS', 1),  # 12
])

# MobileNetV2 (Sandler et al. 2018, Table 2), one row per block: t=6 expansions written
# out as exp = 6 x in. The 1280 conv is the backbone's final layer.
MOBILENET_V2 = ArchSpec(final_conv_scaling='up_only', rf2_first_expansion=False, rows=[
    #  operator  k   exp   out   SE     NL    s
    L('conv',    3, None,   32, False, 'R6', 2),  # 0
    L('bneck',   3,   32,   16, False, 'R6', 1),  # 1   t=1
    L('bneck',   3,   96,   24, False, 'R6', 2),  # 2
    L('bneck',   3,  144,   24, False, 'R6', 1),  # 3
    L('bneck',   3,  144,   32, False, 'R6', 2),  # 4
    L('bneck',   3,  192,   32, False, 'R6', 1),  # 5
    L('bneck',   3,  192,   32, False, 'R6', 1),  # 6
    L('bneck',   3,  192,   64, False, 'R6', 2),  # 7
    L('bneck',   3,  384,   64, False, 'R6', 1),  # 8
    L('bneck',   3,  384,   64, False, 'R6', 1),  # 9
    L('bneck',   3,  384,   64, False, 'R6', 1),  # 10
    L('bneck',   3,  384,   96, False, 'R6', 1),  # 11
    L('bneck',   3,  576,   96, False, 'R6', 1),  # 12
    L('bneck',   3,  576,   96, False, 'R6', 1),  # 13
    L('bneck',   3,  576,  160, False, 'R6', 2),  # 14
    L('bneck',   3,  960,  160, False, 'R6', 1),  # 15
    L('bneck',   3,  960,  160, False, 'R6', 1),  # 16
    L('bneck',   3,  960,  320, False, 'R6', 1),  # 17
    L('conv',    1, None, 1280, False, 'R6', 1),  # 18
])

# MnasNet-A1 (Tan et al. 2019, Figure 7): SepConv, then MBConv blocks; SE squeezes to
# 0.25 x the block's input channels with a sigmoid gate.
MNASNET_A1 = ArchSpec(se_base='in', se_divisor=1, se_gate='Sigmoid', rows=[
    #  operator  k   exp   out   SE     NL    s
    L('conv',    3, None,   32, False, 'RE', 2),  # 0
    L('bneck',   3,   32,   16, False, 'RE', 1),  # 1   SepConv k3x3
    L('bneck',   3,   96,   24, False, 'RE', 2),  # 2   MBConv6 k3x3 x2
    L('bneck',   3,  144,   24, False, 'RE', 1),  # 3
    L('bneck',   5,   72,   40, True,  'RE', 2),  # 4   MBConv3 k5x5 SE x3
    L('bneck',   5,  120,   40, True,  'RE', 1),  # 5
    L('bneck',   5,  120,   40, True,  'RE', 1),  # 6
    L('bneck',   3,  240,   80, False, 'RE', 2),  # 7   MBConv6 k3x3 x4
    L('bneck',   3,  480,   80, False, 'RE', 1),  # 8
    L('bneck',   3,  480,   80, False, 'RE', 1),  # 9
    L('bneck',   3,  480,   80, False, 'RE', 1),  # 10
    L('bneck',   3,  480,  112, True,  'RE', 1),  # 11  MBConv6 k3x3 SE x2
    L('bneck',   3,  672,  112, True,  'RE', 1),  # 12
    L('bneck',   5,  672,  160, True,  'RE', 2),  # 13  MBConv6 k5x5 SE x3
    L('bneck',   5,  960,  160, True,  'RE', 1),  # 14
    L('bneck',   5,  960,  160, True,  'RE', 1),  # 15
    L('bneck',   3,  960,  320, False, 'RE', 1),  # 16  MBConv6 k3x3 x1
    L('conv',    1, None, 1280, False, 'RE', 1),  # 17
])

# MobileNetV1 (Howard et al. 2017, Table 1): 13 depthwise-separable pairs, no final conv.
MOBILENET_V1 = ArchSpec(rows=[
    #  operator  k   exp   out   SE     NL    s
    L('conv',    3, None,   32, False, 'R6', 2),  # 0
    L('dwsep',   3, None,   64, False, 'R6', 1),  # 1
    L('dwsep',   3, None,  128, False, 'R6', 2),  # 2
    L('dwsep',   3, None,  128, False, 'R6', 1),  # 3
    L('dwsep',   3, None,  256, False, 'R6', 2),  # 4
    L('dwsep',   3, None,  256, False, 'R6', 1),  # 5
    L('dwsep',   3, None,  512, False, 'R6', 2),  # 6
    L('dwsep',   3, None,  512, False, 'R6', 1),  # 7
    L('dwsep',   3, None,  512, False, 'R6', 1),  # 8
    L('dwsep',   3, None,  512, False, 'R6', 1),  # 9
    L('dwsep',   3, None,  512, False, 'R6', 1),  # 10
    L('dwsep',   3, None,  512, False, 'R6', 1),  # 11
    L('dwsep',   3, None, 1024, False, 'R6', 2),  # 12
    L('dwsep',   3, None, 1024, False, 'R6', 1),  # 13
])

ARCHS = {
    'mobilenet_v3_large': MOBILENET_V3_LARGE,
    'mobilenet_v3_small': MOBILENET_V3_SMALL,
    'mobilenet_v2': MOBILENET_V2,
    'mnasnet_a1': MNASNET_A1,
    'mobilenet_v1': MOBILENET_V1,
}
