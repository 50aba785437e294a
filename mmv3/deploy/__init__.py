"""Deployment and reproduction tooling: reusable logic behind the thin CLIs in ``tools/``.

- :mod:`.builder`: config path -> eval model -> :class:`TaskWrapper` (tensor in, tensors out).
- :mod:`.fuse`: fold BN into convs (hook-traced pairs, checked).
- :mod:`.onnx_export`: ONNX export + ONNX Runtime round-trip check.
- :mod:`.quantize`: ONNX Runtime static int8 quantization, image-folder calibration, agreement.
- :mod:`.detection`: documented post-processing of exported detectors.
- :mod:`.latency`, :mod:`.benchmark`: single-thread CPU latency, interleaved comparisons.
- :mod:`.paper_tables`, :mod:`.reproduce`: the paper's Tables 3/6/7 as data, regenerated from configs.
- :mod:`.logs`: mmengine json log curves.

onnx / onnxruntime / matplotlib are imported only when a function needs them.
"""
from .builder import TaskWrapper, build_from_config, build_model, load_config, preprocess_params, task_of
from .fuse import count_bn, fold_bn
from .latency import latency_stats, time_fn
from .paper_tables import PAPER_ROWS, TABLE_SPECS, PaperRow, find_row, rows_of

__all__ = [
    'TaskWrapper', 'build_from_config', 'build_model', 'load_config', 'preprocess_params', 'task_of', 'count_bn',
    'fold_bn', 'latency_stats', 'time_fn', 'PAPER_ROWS', 'TABLE_SPECS', 'PaperRow', 'find_row', 'rows_of'
]
