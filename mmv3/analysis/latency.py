"""Single-thread, batch-1 CPU latency: repeated timed calls, median and spread."""
import time
from typing import Callable, Dict, Optional

import numpy as np


def latency_stats(times_ms) -> Dict[str, float]:
    """Median, quartiles, min and max (ms) of a list of per-call times in milliseconds."""
    arr = np.asarray(list(times_ms), dtype=np.float64)
    if arr.size == 0:
        raise ValueError('no timings: --repeat must be >= 1')
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return dict(median=float(med), q1=float(q1), q3=float(q3), iqr=float(q3 - q1), min=float(arr.min()),
                max=float(arr.max()), mean=float(arr.mean()), n=int(arr.size))


def time_fn(fn: Callable[[], object], repeat: int = 50, warmup: int = 10, progress: Optional[str] = None,
            ) -> Dict[str, float]:
    """Time ``fn()`` ``repeat`` times after ``warmup`` untimed calls.

    Args:
        fn (callable): The zero-argument call to time (one batch-1 inference).
        repeat (int): Timed calls. Default: 50.
        warmup (int): Untimed calls first. Default: 10.
        progress (str, optional): Show a tqdm progress bar with this label. Default: None (silent).

    Returns:
        dict: :func:`latency_stats` of the timed calls (ms).
    """
    if repeat < 1:
        raise ValueError(f'repeat must be >= 1, got {repeat}')
    if warmup < 0:
        raise ValueError(f'warmup must be >= 0, got {warmup}')
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=warmup + repeat, desc=progress, leave=False, dynamic_ncols=True)
    for _ in range(warmup):
        fn()
        if bar is not None:
            bar.update(1)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return latency_stats(times)


def fmt_stats(s: Dict[str, float]) -> str:
    """``'12.34 ms (IQR 0.21, min 12.01, max 13.50)'``."""
    return f"{s['median']:.2f} ms (IQR {s['iqr']:.2f}, min {s['min']:.2f}, max {s['max']:.2f})"


__all__ = ['latency_stats', 'time_fn', 'fmt_stats']
