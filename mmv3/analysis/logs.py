"""Read mmengine's json scalar logs and plot loss / metric curves.

mmengine's ``Visualizer`` with ``LocalVisBackend`` writes ``work_dirs/<exp>/<timestamp>/vis_data/<timestamp>.json``
(and ``scalars.json``), one json object per line. Training lines carry ``lr``, the losses, ``iter`` (and
``epoch`` for epoch-based loops) and ``step`` = the global iteration; validation lines carry the metrics
(``mIoU``, ``coco/bbox_mAP``, ``accuracy/top1``, ...) and ``step`` = the iteration (iter-based) or the
epoch (epoch-based) of the evaluation.
"""
import json
from typing import Dict, List, Optional, Sequence, Tuple


def load_json_log(path: str) -> Dict[str, List[dict]]:
    """Split a json log into ``{'train': [...], 'val': [...]}`` records (in file order).

    A line is a training record when it has ``lr`` (the learning rate is logged every training
    interval); other lines with ``step`` are validation / test records. Broken lines are skipped.
    """
    train, val = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(rec, dict):
                continue
            (train if any(k == 'lr' or k.endswith('/lr') or k.startswith('lr') for k in rec) else val).append(rec)
    if not train and not val:
        raise ValueError(f'{path!r} has no json records: pass a vis_data/*.json log written by mmengine')
    return dict(train=train, val=val)


def available_keys(log: Dict[str, List[dict]]) -> List[str]:
    keys = set()
    for recs in log.values():
        for r in recs:
            keys.update(k for k, v in r.items() if isinstance(v, (int, float)))
    return sorted(keys - {'step', 'iter', 'epoch'})


def curve(log: Dict[str, List[dict]], key: str) -> Tuple[List[float], List[float], str]:
    """``(x, y, x_label)`` of ``key`` in a log: training keys against the iteration, validation keys
    against the evaluation step (epoch for epoch-based logs, iteration otherwise)."""
    for split in ('train', 'val'):
        recs = [r for r in log[split] if isinstance(r.get(key), (int, float))]
        if recs:
            if split == 'train':
                x = [r.get('step', r.get('iter', i)) for i, r in enumerate(recs)]
                return x, [float(r[key]) for r in recs], 'iteration'
            by_epoch = any('epoch' in r for r in log['train'])
            x = [r.get('step', i) for i, r in enumerate(recs)]
            return x, [float(r[key]) for r in recs], 'epoch' if by_epoch else 'iteration'
    raise KeyError(f'key {key!r} is not in this log; available keys: {available_keys(log)}')


def smooth(y: Sequence[float], window: int) -> List[float]:
    """Trailing moving average over ``window`` points (1 = none)."""
    if window <= 1:
        return list(y)
    out, acc = [], 0.0
    for i, v in enumerate(y):
        acc += v
        if i >= window:
            acc -= y[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_curves(paths: Sequence[str], keys: Sequence[str], out: str, legend: Optional[Sequence[str]] = None,
                title: Optional[str] = None, smooth_window: int = 1) -> str:
    """One panel per key, one line per log; writes a PNG (matplotlib Agg).

    Args:
        paths (list[str]): mmengine json logs.
        keys (list[str]): Scalars to plot, e.g. ``['loss', 'mIoU']``.
        out (str): Output image path.
        legend (list[str], optional): One label per log (default: the file names).
        title (str, optional): Figure title.
        smooth_window (int): Moving-average window for the curves. Default: 1 (none).
    """
    import os
    import os.path as osp

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if legend is not None and len(legend) != len(paths):
        raise ValueError(f'--legend needs one label per log: {len(paths)} logs, {len(legend)} labels')
    logs = [load_json_log(p) for p in paths]
    labels = list(legend) if legend else [osp.basename(p) for p in paths]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for log, label in zip(logs, labels):
            x, y, xlabel = curve(log, key)
            ys = smooth(y, smooth_window)
            marker = 'o' if len(x) <= 30 else None
            ax.plot(x, ys, marker=marker, ms=3, label=label if len(keys) == 1 or len(logs) > 1 else None)
            ax.set_xlabel(xlabel)
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def train_time(path: str) -> Dict[str, float]:
    """Seconds per training iteration of a log: mean, slowest, fastest (from the ``time`` field)."""
    log = load_json_log(path)
    times = [float(r['time']) for r in log['train'] if isinstance(r.get('time'), (int, float))]
    if not times:
        raise KeyError(f'{path!r} has no training "time" records')
    return dict(mean=sum(times) / len(times), max=max(times), min=min(times), n=len(times))
