"""Where LiteRT int8 time goes (issue 16, item 3): the int8 model as converted vs with h-swish rewritten, the
int8 ``HARD_SWISH`` ops alone on TFLite's kernel vs rewritten for XNNPACK, and both with and without XNNPACK,
timed interleaved in one process (:func:`int8_breakdown`, ``tools/analysis_tools/litert_int8_breakdown.py``).

The Python interpreter of ``ai-edge-litert`` exposes no per-op profiler, so the cost of the ops left outside
XNNPACK is measured by models that hold only those ops (:func:`mmv3.deploy.tflite_graph.int8_hard_swish_only`).
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import numpy as np


def _runner(path: str, x: np.ndarray, threads: int, xnnpack: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=path, num_threads=threads,
                     experimental_op_resolver_type=(OpResolverType.AUTO if xnnpack else
                                                    OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    it.allocate_tensors()
    rng = np.random.default_rng(1)
    for d in it.get_input_details():
        if tuple(d['shape']) == x.shape and d['dtype'] == np.float32:
            v = x
        elif d['dtype'] == np.float32:
            v = rng.standard_normal(tuple(d['shape'])).astype(np.float32)
        else:  # an int8 tensor (the h-swish-only models): any int8 values, the kernels' cost does not depend on them
            v = rng.integers(-128, 128, tuple(d['shape'])).astype(d['dtype'])
        it.set_tensor(d['index'], v)
    return it.invoke


def int8_breakdown(float_path: str, asis_path: str, fixed_path: str, x: np.ndarray, threads: int = 1,
                   repeat: int = 40, warmup: int = 5, work_dir: Optional[str] = None
                   ) -> List[Tuple[str, Dict[str, float]]]:
    """Time the LiteRT variants of one model interleaved; ``[(label, dict(median, min, n_ops))]``.

    Args:
        float_path, asis_path, fixed_path (str): The float ``.tflite``, the int8 one as the converter wrote it
            (``hard_swish='keep'``) and the int8 one with h-swish rewritten (``'float'``).
        x (np.ndarray): The float input.
        work_dir (str, optional): Where the h-swish-only models go. Default: ``asis_path``'s folder.
    """
    from mmv3.deploy import tflite_graph as tg
    work = work_dir or osp.dirname(osp.abspath(asis_path))
    only = {}
    for rewrite in (False, True):
        m = tg.read_model(asis_path)
        n = tg.int8_hard_swish_only(m, rewrite)
        name = f'hard_swish_only.{"rewritten" if rewrite else "int8"}.tflite'
        only[rewrite] = tg.write_model(m, osp.join(work, name))
    cases = [('float, XNNPACK', float_path, True),
             ('int8 as converted (h-swish int8, outside XNNPACK)', asis_path, True),
             ('int8, h-swish rewritten (mmv3 default)', fixed_path, True),
             (f'the {n} int8 HARD_SWISH alone, TFLite kernel', only[False], True),
             (f'the {n} h-swish rewritten alone, XNNPACK', only[True], True),
             ('float, TFLite kernels (no XNNPACK)', float_path, False),
             ('int8 rewritten, TFLite kernels (no XNNPACK)', fixed_path, False)]
    fns = {label: _runner(path, x, threads, xnn) for label, path, xnn in cases}
    keys = list(fns)
    for k in keys:
        for _ in range(warmup):
            fns[k]()
    times = {k: [] for k in keys}
    for r in range(repeat):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            t0 = time.perf_counter()
            fns[k]()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return [(k, dict(median=float(np.median(times[k])), min=float(np.min(times[k])))) for k in keys]
