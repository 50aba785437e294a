"""Regenerate the paper's Params / MAdds columns (Tables 3, 6, 7) from the configs.

For each :class:`~mmv3.analysis.paper_tables.PaperRow`: load its config with the table's (and the row's)
``cfg_options``, build the model with mmengine's registry, count it with
``mmv3.analysis.count_model(model, input_shape=(1, 3, H, W), convention='paper')`` and compare with the
paper. :func:`format_markdown` prints paper vs measured with the relative error; :func:`plot` draws
MAdds vs the paper's accuracy column (Figure-2 style).
"""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from .paper_tables import TABLE_SPECS, PaperRow, rows_of

CONVENTION_NOTE = ('Counting convention: paper (conv/linear multiply-adds = output elements x in/groups x kh x kw; '
                   'BN, activations, pooling, resizes and elementwise ops not counted; params = all parameters).')


@dataclass
class RowResult:
    """A paper row and what mmv3 measures for it (``None`` when not measured)."""
    row: PaperRow
    params: Optional[int] = None
    madds: Optional[int] = None
    status: str = 'ok'  # 'ok' | 'no config' | 'missing config' | 'error: ...'

    @property
    def spec(self):
        return TABLE_SPECS[self.row.table]

    @property
    def params_m(self) -> Optional[float]:
        return None if self.params is None else self.params / 1e6

    @property
    def madds_unit(self) -> Optional[float]:
        return None if self.madds is None else self.madds / self.spec.madds_unit

    @property
    def params_err(self) -> Optional[float]:
        return None if self.params is None or self.row.params is None else self.params_m / self.row.params - 1

    @property
    def madds_err(self) -> Optional[float]:
        return None if self.madds is None else self.madds_unit / self.row.madds - 1

    @property
    def within_tol(self) -> Optional[bool]:
        if self.params is None or self.row.source != 'paper':
            return None  # reference rows: their counts are not the paper's convention
        return abs(self.params_err) <= self.spec.params_tol and abs(self.madds_err) <= self.spec.madds_tol


def merged_options(row: PaperRow, overrides: Optional[Dict[str, Dict[str, object]]] = None) -> Dict[str, object]:
    """The table's cfg_options, then the row's, then user ``overrides[row.name]`` (or ``'T<n>:<name>'``)."""
    opts = dict(TABLE_SPECS[row.table].cfg_options)
    opts.update(row.cfg_options)
    if overrides:
        for key in (row.name, f'T{row.table}:{row.name}'):
            opts.update(overrides.get(key, {}))
    return opts


def measure_row(row: PaperRow, root: str = '.', overrides=None, config: Optional[str] = None,
                device: str = 'auto') -> RowResult:
    """Build and count one row.

    Args:
        row (PaperRow): The row.
        root (str): Repository root the row's config path is relative to.
        overrides (dict, optional): ``{row name: {cfg key: value}}`` extra overrides.
        config (str, optional): Use this config instead of the row's.
        device (str): ``'cpu'``, ``'meta'`` (shape-only, fast at 1025x2049) or ``'auto'`` (meta for
            Table 7, falling back to cpu if the meta run fails).
    """
    from .complexity import count_model

    from mmv3.apis import build_model, load_config
    path = config or row.config
    if path is None:
        return RowResult(row, status='no config')
    full = path if osp.isabs(path) else osp.join(root, path)
    if not osp.isfile(full):
        return RowResult(row, status='missing config')
    cfg = load_config(full, merged_options(row, overrides))
    model = build_model(cfg)
    h, w = TABLE_SPECS[row.table].input_hw
    devices = {'auto': ['meta', 'cpu'] if row.table == 7 else ['cpu']}.get(device, [device])
    err = None
    for dev in devices:
        try:
            res = count_model(model, input_shape=(1, 3, h, w), convention='paper', device=dev)
            return RowResult(row, params=int(res['params']), madds=int(res['madds']))
        except Exception as e:  # noqa: BLE001 - try the next device, report the last error
            err = e
    return RowResult(row, status=f'error: {type(err).__name__}: {err}')


def reproduce(tables: Sequence[int] = (3, 6, 7), root: str = '.', overrides=None,
              only: Optional[Sequence[str]] = None, device: str = 'auto',
              progress: Optional[Callable[[PaperRow], None]] = None, reference: bool = True) -> List[RowResult]:
    """Measure every row of ``tables`` (or only the rows named in ``only``), with the
    :data:`~mmv3.analysis.paper_tables.REFERENCE_ROWS` next to their table unless ``reference=False``."""
    results = []
    for row in rows_of(tables, reference=reference):
        if only and row.name not in only and f'T{row.table}:{row.name}' not in only:
            continue
        if progress:
            progress(row)
        results.append(measure_row(row, root, overrides, device=device))
    return results


def _pct(x: Optional[float]) -> str:
    return '-' if x is None else f'{x * 100:+.1f}%'


def _num(x: Optional[float], digits: int) -> str:
    return '-' if x is None else f'{x:.{digits}f}'


def format_markdown(results: Sequence[RowResult]) -> str:
    """Markdown: one table per paper table, paper vs measured with relative errors."""
    out = [CONVENTION_NOTE, '']
    for t in sorted({r.row.table for r in results}):
        spec = TABLE_SPECS[t]
        rows = [r for r in results if r.row.table == t]
        h, w = spec.input_hw
        opts = ', '.join(f'{k}={v}' for k, v in spec.cfg_options.items()) or 'config defaults'
        unit = spec.madds_label.split('(')[-1].rstrip(')')
        mdig = 1 if unit == 'M' else 3
        out += [f'### {spec.title}', '',
                f'Input 1x3x{h}x{w}; {opts}. Tolerance: params {spec.params_tol * 100:.1f}%, '
                f'MAdds {spec.madds_tol * 100:.1f}%.', '',
                f'| row | config | {spec.accuracy_label} (paper) | Params (M) paper | measured | rel. err | '
                f'{spec.madds_label} paper | measured | rel. err | within tol | note |',
                '|---|---|---|---|---|---|---|---|---|---|---|']
        for r in rows:
            cfg = f'`{osp.basename(r.row.config)}`' if r.row.config else '-'
            ok = {None: r.status if r.status != 'ok' else '-', True: 'yes', False: 'no'}[r.within_tol]
            name = r.row.name if r.row.source == 'paper' else f'{r.row.name} [{r.row.source}]'
            paper_params = '-' if r.row.params is None else f'{r.row.params:g}'
            out.append(
                f'| {name} | {cfg} | {r.row.accuracy:g} | {paper_params} | {_num(r.params_m, 3)} | '
                f'{_pct(r.params_err)} | {r.row.madds:g} | {_num(r.madds_unit, mdig)} | {_pct(r.madds_err)} | '
                f'{ok} | {r.row.note} |')
        out.append('')
    return '\n'.join(out)


def plot(results: Sequence[RowResult], path: str) -> str:
    """Figure-2-style plot: paper accuracy vs MAdds (measured filled, paper hollow), one panel per table."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    tables = sorted({r.row.table for r in results})
    fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4.8), squeeze=False)
    for ax, t in zip(axes[0], tables):
        spec = TABLE_SPECS[t]
        rows = [r for r in results if r.row.table == t]
        for r in rows:
            is_v3 = 'V3' in r.row.name
            color = 'tab:red' if is_v3 else 'tab:blue'
            ax.scatter([r.row.madds], [r.row.accuracy], facecolors='none', edgecolors=color, s=50, zorder=2)
            if r.madds_unit is not None:
                ax.scatter([r.madds_unit], [r.row.accuracy], color=color, s=28, zorder=3)
                ax.plot([r.row.madds, r.madds_unit], [r.row.accuracy] * 2, color=color, lw=0.8, zorder=1)
            label = r.row.name.split()[0] if t == 7 else r.row.name  # '#8': Table 7 names are long
            ax.annotate(label, (r.madds_unit if r.madds_unit is not None else r.row.madds, r.row.accuracy),
                        textcoords='offset points', xytext=(4, 4), fontsize=7)
        ax.set_xlabel(spec.madds_label)
        ax.set_ylabel(f'{spec.accuracy_label} (paper)')
        ax.set_title(spec.title, fontsize=10)
        ax.grid(alpha=0.3)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker='o', ls='', color='k', label='measured MAdds (mmv3)'),
               Line2D([], [], marker='o', ls='', markerfacecolor='none', color='k', label='paper MAdds'),
               Line2D([], [], marker='o', ls='', color='tab:red', label='MobileNetV3'),
               Line2D([], [], marker='o', ls='', color='tab:blue', label='baselines')]
    fig.legend(handles=handles, loc='lower center', ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def to_records(results: Sequence[RowResult]) -> List[Dict[str, object]]:
    """JSON-friendly records of the results."""
    return [dict(table=r.row.table, row=r.row.name, source=r.row.source, config=r.row.config, status=r.status,
                 paper_params_m=r.row.params, params=r.params, params_rel_err=r.params_err,
                 paper_madds=r.row.madds, madds_unit=TABLE_SPECS[r.row.table].madds_label, madds=r.madds,
                 madds_rel_err=r.madds_err, paper_accuracy=r.row.accuracy, within_tol=r.within_tol)
            for r in results]
