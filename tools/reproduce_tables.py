"""Regenerate the Params / MAdds columns of the paper's Tables 3, 6 and 7 from mmv3's configs.

    python tools/reproduce_tables.py [--tables 3 6 7] [--rows 'V3-Large 1.0' ...] [--out DIR]
        [--override 'V3-Large 1.0:model.head.num_classes=1000' ...]

Every row of the paper (``mmv3/analysis/paper_tables.py``: the paper's numbers and the config behind each
row) is built from its config with mmengine's registry and counted with the paper's convention
(``mmv3.analysis.count_model``): 224x224 and 1001 classes (Table 3), 320x320 and 91 class slots
(Table 6), 1025x2049 (Table 7). Prints Markdown, paper vs measured with the relative error;
``--out DIR`` writes ``DIR/paper_tables.md``, ``DIR/paper_tables.json`` and ``DIR/paper_tables.png``
(MAdds vs the paper's accuracy column).
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings
import time

from mmv3.analysis.reproduce import format_markdown, plot, reproduce, to_records
from mmv3.apis import ToolError, parse_cfg_options, run_cli

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tables', type=int, nargs='+', default=[3, 6, 7], choices=[3, 6, 7],
                   help='which tables (default: 3 6 7)')
    p.add_argument('--rows', nargs='+', default=None,
                   help="only these rows, by the paper's name (e.g. 'V3-Large 1.0' or 'T6:V3†')")
    p.add_argument('--override', nargs='+', default=[], metavar='ROW:KEY=VALUE',
                   help="per-row config override, e.g. 'V3-Small 1.0:model.head.num_classes=1000'")
    p.add_argument('--root', default=ROOT, help='repository root the table\'s config paths are relative to')
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'meta'],
                   help="forward device for counting (auto: 'meta' for Table 7, else cpu)")
    p.add_argument('--out', default=None, help='directory for paper_tables.{md,json,png}')
    return p.parse_args(argv)


def parse_overrides(items):
    out = {}
    for item in items:
        row, sep, kv = item.rpartition(':')
        if not sep or '=' not in kv:
            raise ToolError(f"--override expects 'ROW:KEY=VALUE', got {item!r}")
        out.setdefault(row, {}).update(parse_cfg_options([kv]))
    return out


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')  # OpenMMLab deprecation chatter; errors still raise
    t0 = time.time()

    def progress(row):
        print(f'[T{row.table}] {row.name} ...', file=sys.stderr, flush=True)

    results = reproduce(args.tables, args.root, parse_overrides(args.override), args.rows, args.device, progress)
    if not results:
        raise ToolError(f'no rows selected (tables {args.tables}, rows {args.rows})')
    text = format_markdown(results)
    print(text)
    print(f'({len(results)} rows in {time.time() - t0:.0f} s)', file=sys.stderr)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(osp.join(args.out, 'paper_tables.md'), 'w') as f:
            f.write(text + '\n')
        with open(osp.join(args.out, 'paper_tables.json'), 'w') as f:
            json.dump(to_records(results), f, indent=1, ensure_ascii=False)
        png = plot(results, osp.join(args.out, 'paper_tables.png'))
        print(f'wrote {osp.join(args.out, "paper_tables.md")}, .json and {png}', file=sys.stderr)


if __name__ == '__main__':
    run_cli(main, 'reproduce_tables.py')
