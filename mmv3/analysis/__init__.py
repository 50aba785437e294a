"""Analysis: counting, timing and the paper's tables (what ``tools/analysis_tools`` and
``tools/reproduce_tables.py`` run).

- :mod:`.complexity`: Params / MAdds in the paper's convention (:func:`count_model`).
- :mod:`.paper_tables`, :mod:`.reproduce`: the paper's Tables 3/6/7 as data, regenerated from configs.
- :mod:`.latency`, :mod:`.benchmark`: single-thread CPU latency, interleaved comparisons over the
  deployment runtimes (:mod:`mmv3.deploy.runtimes`).
- :mod:`.probe`: a quantization test classifier without ImageNet training.
- :mod:`.logs`: mmengine json log curves.
"""
from .complexity import CONVENTIONS, count_model, count_params
from .latency import latency_stats, time_fn
from .paper_tables import PAPER_ROWS, TABLE_SPECS, PaperRow, find_row, rows_of

__all__ = [
    'CONVENTIONS', 'count_model', 'count_params', 'latency_stats', 'time_fn', 'PAPER_ROWS', 'TABLE_SPECS',
    'PaperRow', 'find_row', 'rows_of'
]
