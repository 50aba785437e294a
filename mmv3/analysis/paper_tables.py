"""The paper's Tables 3, 6 and 7 as data, each row mapped to the mmv3 config that builds it.

Numbers are copied from *Searching for MobileNetV3* (Howard et al., ICCV 2019), as transcribed in
``shared/paper/mobilenetv3.md``. Units: params in millions; MAdds in millions (Table 3) or billions
(Tables 6 and 7); accuracy = ImageNet top-1 (T3), COCO test-dev mAP (T6), Cityscapes val mIoU (T7);
latency in ms on the paper's phones (T3: Pixel-1; T6: Pixel-1; T7: Pixel-3 full resolution).

Counting inputs (the paper's conventions, ``shared/paper/constructions.md``):

- Table 3: 224x224, 1001 classes (TF's background slot): ``model.head.num_classes=1001``.
- Table 6: 320x320, 91 class slots (90 COCO ids + background): ``model.bbox_head.num_classes=90``
  (mmdet's SSD head adds the background slot).
- Table 7: 1025x2049 (DeepLab's evaluation size), 19 classes (the configs' default).

A row's ``cfg_options`` override (or extend) its table's. ``config=None`` marks rows the paper
reports for a network mmv3 does not build (Proxyless, Mnas-small).

:data:`REFERENCE_ROWS` sit next to Table 7 but are not the paper's: the DeepLab model zoo's released
MobileNetV3 Cityscapes models (``research/deeplab/g3doc/model_zoo.md``), whose numbers are the zoo's
(``source='DeepLab model zoo'``; no parameter count published; their "Multiply-Adds" are not counted in the
paper's convention). ``rows_of(..., reference=True)`` and :func:`mmv3.analysis.reproduce.reproduce` include them.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table.

    Attributes:
        table (int): 3, 6 or 7.
        name (str): The row as the paper names it (Table 7: ``'#8 V3 RF2 LR-ASPP F=128'``).
        config (str | None): Config path relative to the repository root.
        params (float): Paper params, millions.
        madds (float): Paper MAdds, in the table's unit (:data:`TABLE_SPECS`).
        accuracy (float): Paper accuracy column.
        latency (float | None): Paper latency column (ms), first latency column of the table.
        cfg_options (dict): Extra overrides for this row.
        note (str): Known residual or remark (from constructions.md).
        source (str): Whose numbers these are: ``'paper'``, or e.g. ``'DeepLab model zoo'`` for
            :data:`REFERENCE_ROWS` (then ``params`` may be ``None``: not published).
    """
    table: int
    name: str
    config: Optional[str]
    params: Optional[float]
    madds: float
    accuracy: float
    latency: Optional[float] = None
    cfg_options: Dict[str, object] = field(default_factory=dict)
    note: str = ''
    source: str = 'paper'


@dataclass(frozen=True)
class TableSpec:
    """How a table is counted and labelled."""
    number: int
    title: str
    input_hw: Tuple[int, int]
    madds_unit: float  # multiply-adds per unit of the table's MAdds column
    madds_label: str
    accuracy_label: str
    latency_label: str
    cfg_options: Dict[str, object] = field(default_factory=dict)
    params_tol: float = 0.02  # relative tolerance the issue sets (params)
    madds_tol: float = 0.025  # relative tolerance the issue sets (MAdds)


TABLE_SPECS: Dict[int, TableSpec] = {
    3: TableSpec(3, 'Table 3: ImageNet classification', (224, 224), 1e6, 'MAdds (M)', 'Top-1 (%)', 'P-1 (ms)',
                 {'model.head.num_classes': 1001}, params_tol=0.025),
    6: TableSpec(6, 'Table 6: SSDLite on COCO', (320, 320), 1e9, 'MAdds (B)', 'mAP', 'Pixel-1 (ms)',
                 {'model.bbox_head.num_classes': 90}),
    7: TableSpec(7, 'Table 7: LR-ASPP / R-ASPP on Cityscapes', (1025, 2049), 1e9, 'MAdds (B)', 'mIoU',
                 'CPU full-res (s)'),
}

_C = 'configs/cls/'
_D = 'configs/det/'
_S = 'configs/seg/'

PAPER_ROWS: List[PaperRow] = [
    # ---- Table 3 (top-1, MAdds M, params M, P-1 ms) ----
    PaperRow(3, 'V3-Large 1.0', _C + 'mobilenet-v3-large_8xb512_in1k.py', 5.4, 219, 75.2, 51),
    PaperRow(3, 'V3-Large 0.75', _C + 'mobilenet-v3-large-075_8xb512_in1k.py', 4.0, 155, 73.3, 39),
    PaperRow(3, 'MnasNet-A1', _C + 'mnasnet-a1_8xb512_in1k.py', 3.9, 315, 75.2, 71),
    PaperRow(3, 'Proxyless', None, 4.0, 320, 74.6, 72, note='not built by mmv3'),
    PaperRow(3, 'V2 1.0', _C + 'mobilenet-v2_8xb512_in1k.py', 3.4, 300, 72.0, 64),
    PaperRow(3, 'V3-Small 1.0', _C + 'mobilenet-v3-small_8xb512_in1k.py', 2.5, 56, 67.4, 15.8),
    PaperRow(3, 'V3-Small 0.75', _C + 'mobilenet-v3-small-075_8xb512_in1k.py', 2.0, 44, 65.4, 12.8),
    PaperRow(3, 'Mnas-small', None, 1.9, 65.1, 64.9, 20.3, note='not built by mmv3'),
    PaperRow(3, 'V2 0.35', _C + 'mobilenet-v2-035_8xb512_in1k.py', 1.6, 59.2, 60.8, 16.6),
    # ---- Table 6 (mAP, latency ms, params M, MAdds B) ----
    PaperRow(6, 'V1', _D + 'ssdlite_mobilenet-v1_8xb24-600e_coco.py', 5.1, 1.3, 22.2, 228),
    PaperRow(6, 'V2', _D + 'ssdlite_mobilenet-v2_8xb24-600e_coco.py', 4.3, 0.80, 22.1, 162,
             note="params: the V2 paper's own figure is low (constructions.md: 4.501M)"),
    PaperRow(6, 'MnasNet', _D + 'ssdlite_mnasnet-a1_8xb24-600e_coco.py', 4.88, 0.84, 23.0, 174),
    PaperRow(6, 'V3', _D + 'ssdlite_mobilenet-v3-large_8xb24-600e_coco.py', 4.97, 0.62, 22.0, 137),
    PaperRow(6, 'V3†', _D + 'ssdlite_mobilenet-v3-large-reduced_8xb24-600e_coco.py', 3.22, 0.51, 22.0, 119),
    PaperRow(6, 'V2 0.35', _D + 'ssdlite_mobilenet-v2-035_8xb24-600e_coco.py', 0.93, 0.16, 13.7, 66,
             note='MAdds: open residual (constructions.md: 0.167B, +4.2%)'),
    PaperRow(6, 'V2 0.5', _D + 'ssdlite_mobilenet-v2-050_8xb24-600e_coco.py', 1.54, 0.27, 16.6, 79),
    PaperRow(6, 'MnasNet 0.35', _D + 'ssdlite_mnasnet-a1-035_8xb24-600e_coco.py', 1.02, 0.18, 15.6, 68),
    PaperRow(6, 'MnasNet 0.5', _D + 'ssdlite_mnasnet-a1-050_8xb24-600e_coco.py', 1.68, 0.29, 18.5, 85),
    PaperRow(6, 'V3-Small', _D + 'ssdlite_mobilenet-v3-small_8xb24-600e_coco.py', 2.49, 0.21, 16.0, 52),
    PaperRow(6, 'V3-Small†', _D + 'ssdlite_mobilenet-v3-small-reduced_8xb24-600e_coco.py', 1.77, 0.16, 16.1, 43),
    # ---- Table 7 (mIoU, params M, MAdds B at 1025x2049, CPU full-res s) ----
    PaperRow(7, '#1 V2 R-ASPP F=256', _S + 'raspp_mobilenet-v2-d16_f256_8xb2-320k_cityscapes-769x769.py',
             2.11, 21.29, 72.84, 3.90),
    PaperRow(7, '#2 V2 RF2 R-ASPP F=256', _S + 'raspp_mobilenet-v2-d16-rf2_f256_8xb2-320k_cityscapes-769x769.py',
             1.15, 13.68, 72.56, 3.03),
    PaperRow(7, '#3 V2 RF2 LR-ASPP F=256',
             _S + 'lraspp_mobilenet-v2-d16-rf2_f256_8xb2-320k_cityscapes-769x769.py', 1.02, 12.83, 72.97, 2.98),
    PaperRow(7, '#4 V2 RF2 LR-ASPP F=128',
             _S + 'lraspp_mobilenet-v2-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py', 0.98, 12.57, 72.74, 2.89),
    PaperRow(7, '#5 V3 R-ASPP F=256', _S + 'raspp_mobilenet-v3-large-d16_f256_8xb2-320k_cityscapes-769x769.py',
             3.60, 18.43, 72.64, 3.55),
    PaperRow(7, '#6 V3 RF2 R-ASPP F=256',
             _S + 'raspp_mobilenet-v3-large-d16-rf2_f256_8xb2-320k_cityscapes-769x769.py', 1.76, 11.24, 71.91, 2.60),
    PaperRow(7, '#7 V3 RF2 LR-ASPP F=256',
             _S + 'lraspp_mobilenet-v3-large-d16-rf2_f256_8xb2-320k_cityscapes-769x769.py', 1.63, 10.33, 72.37, 2.55),
    PaperRow(7, '#8 V3 RF2 LR-ASPP F=128', _S + 'lraspp_v3_large_cityscapes.py', 1.51, 9.74, 72.36, 2.47,
             note='the paper\'s V3-Large segmentation model'),
    PaperRow(7, '#9 V2 0.5 RF2 LR-ASPP F=128',
             _S + 'lraspp_mobilenet-v2-050-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py', 0.28, 4.00, 68.57, 1.59),
    PaperRow(7, '#10 V2 0.35 RF2 LR-ASPP F=128',
             _S + 'lraspp_mobilenet-v2-035-d16-rf2_f128_8xb2-320k_cityscapes-769x769.py', 0.16, 2.54, 66.83, 1.27,
             note='params: open residual (constructions.md: 0.169M, +5.3%)'),
    PaperRow(7, '#11 V3-Small RF2 LR-ASPP F=128', _S + 'lraspp_v3_small_cityscapes.py', 0.47, 2.90, 68.38, 1.21,
             note='the paper\'s V3-Small segmentation model; MAdds: open residual (constructions.md: 2.78B, -4.1%)'),
]


# ---- next to Table 7: the DeepLab model zoo's released MobileNetV3 models (its numbers: val mIoU, eval output
# stride 32, single scale, no flip; "Multiply-Adds" as the zoo counts them), converted exactly by
# tools/model_converters/tf2mmv3.py --source deeplab. Not Table 7 rows: output stride 32, image pooling 25x25 /
# stride (4, 5), q-sigmoid gate (the configs' comments list every flag).
_ZOO = 'DeepLab model zoo'
_ZOO_NOTE = ("the zoo's numbers (model_zoo.md), not the paper's; its Multiply-Adds are not the paper's convention "
             '(the paper-convention count is about half: a float-op count would be 2 per multiply-add plus '
             'elementwise ops)')
REFERENCE_ROWS: List[PaperRow] = [
    PaperRow(7, 'zoo mnv3_large_cityscapes_trainfine (OS 32)', _S + 'lraspp_v3_large_tf-deeplab_cityscapes.py',
             None, 15.95, 72.41, None, note=_ZOO_NOTE, source=_ZOO),
    PaperRow(7, 'zoo mnv3_small_cityscapes_trainfine (OS 32)', _S + 'lraspp_v3_small_tf-deeplab_cityscapes.py',
             None, 4.63, 68.99, None, note=_ZOO_NOTE, source=_ZOO),
]


def rows_of(tables: Sequence[int] = (3, 6, 7), reference: bool = False) -> List[PaperRow]:
    """The rows of the given tables, in paper order (then :data:`REFERENCE_ROWS` if ``reference``)."""
    bad = [t for t in tables if t not in TABLE_SPECS]
    if bad:
        raise ValueError(f'unknown table(s) {bad}; allowed: {sorted(TABLE_SPECS)}')
    rows = PAPER_ROWS + (REFERENCE_ROWS if reference else [])
    return [r for r in rows if r.table in tables]


def find_row(table: int, name: str) -> PaperRow:
    """The row of ``table`` named ``name`` (as in :data:`PAPER_ROWS` or :data:`REFERENCE_ROWS`)."""
    for r in PAPER_ROWS + REFERENCE_ROWS:
        if r.table == table and r.name == name:
            return r
    names = [r.name for r in PAPER_ROWS if r.table == table]
    raise KeyError(f'no row {name!r} in Table {table}; rows: {names}')
