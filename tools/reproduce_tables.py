"""Regenerate the Params / MAdds columns of the paper's Tables 3, 6 and 7 from mmv3's configs.

    python tools/reproduce_tables.py [--tables 3 6 7] [--rows 'V3-Large 1.0' ...] [--out DIR]
        [--override 'V3-Large 1.0:model.head.num_classes=1000' ...]

Every row of the paper (``mmv3/analysis/paper_tables.py``: the paper's numbers and the config behind each
row) is built from its config with mmengine's registry and counted with the paper's convention
(``mmv3.analysis.count_model``): 224x224 and 1001 classes (Table 3), 320x320 and 91 class slots
(Table 6), 1025x2049 (Table 7). Prints Markdown, paper vs measured with the relative error;
``--out DIR`` writes ``DIR/paper_tables.md``, ``DIR/paper_tables.json`` and ``DIR/paper_tables.png``
(MAdds vs the paper's accuracy column).

The model index and the per-folder READMEs come from the same data (``mmv3/analysis/model_index.py``:
every config of ``configs/{cls,det,seg}`` counted, with the paper row it stands for):

    python tools/reproduce_tables.py --model-index --readmes     # writes model-index.yml, configs/*/metafile.yml,
                                                                 # configs/*/README.md (generated blocks only)
    python tools/reproduce_tables.py --model-index --readmes --check   # exit 1 if a committed file is stale
    python tools/reproduce_tables.py --model-index --index-out DIR     # write under DIR instead of the repository

Bad command-line input is refused with one line and exit status 2.
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


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refusal is one line (``reproduce_tables.py: error: ...``) and exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message}\n')


def parse_args(argv=None):
    p = OneLineParser(prog='reproduce_tables.py', description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
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
    g = p.add_argument_group('model index and READMEs (every config; no paper-table report)')
    g.add_argument('--model-index', action='store_true', help='write model-index.yml and configs/*/metafile.yml')
    g.add_argument('--readmes', action='store_true', help='write the generated blocks of configs/*/README.md')
    g.add_argument('--index-out', default=None, metavar='DIR',
                   help='write the files under DIR (default: --root, i.e. the committed files)')
    g.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 (naming them) if files under --root differ from the generated ones')
    args = p.parse_args(argv)
    if args.model_index or args.readmes:
        clash = [opt for opt, on in (('--rows', args.rows is not None), ('--override', bool(args.override)),
                                     ('--out', args.out is not None), ('--tables', args.tables != [3, 6, 7]))
                 if on]
        if clash:
            p.error(f'{", ".join(clash)}: only for the paper-table report; --model-index / --readmes always '
                    'cover every config (drop them)')
        if args.check and args.index_out:
            p.error('--check compares with the files under --root; it writes nothing, so --index-out makes no sense')
        if args.index_out and osp.exists(args.index_out) and not osp.isdir(args.index_out):
            p.error(f'--index-out {args.index_out} exists and is not a directory')
    elif args.check or args.index_out:
        p.error('--check / --index-out need --model-index and/or --readmes')
    if not osp.isdir(osp.join(args.root, 'configs')):
        p.error(f'--root {args.root} has no configs/ folder')
    args.overrides = parse_overrides(args.override)  # ToolError: one line via run_cli
    return args


def parse_overrides(items):
    out = {}
    for item in items:
        row, sep, kv = item.rpartition(':')
        if not sep or '=' not in kv:
            raise ToolError(f"--override expects 'ROW:KEY=VALUE', got {item!r}")
        out.setdefault(row, {}).update(parse_cfg_options([kv]))
    return out


def model_index_main(args):
    """--model-index / --readmes: generate, then write (or --check)."""
    from mmv3.analysis.model_index import generate, stale_files, write_files
    t0 = time.time()
    files = generate(args.root, model_index=args.model_index, readmes=args.readmes,
                     device='cpu' if args.device == 'cpu' else 'meta',
                     progress=lambda c: print(f'counting {c} ...', file=sys.stderr, flush=True))
    print(f'({len(files)} files from every config in {time.time() - t0:.0f} s)', file=sys.stderr)
    if args.check:
        stale = stale_files(files, args.root)
        if stale:
            print(f'reproduce_tables.py: stale (regenerate with --model-index --readmes): {", ".join(stale)}',
                  file=sys.stderr)
            sys.exit(1)
        print(f'up to date: {", ".join(files)}')
        return
    for path in write_files(files, args.index_out or args.root):
        print(f'wrote {path}')


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')  # OpenMMLab deprecation chatter; errors still raise
    if args.model_index or args.readmes:
        return model_index_main(args)
    t0 = time.time()

    def progress(row):
        print(f'[T{row.table}] {row.name} ...', file=sys.stderr, flush=True)

    results = reproduce(args.tables, args.root, args.overrides, args.rows, args.device, progress)
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
