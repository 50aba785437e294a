"""Plot loss / metric curves from mmengine's json logs, or summarise the training time.

    python tools/analysis_tools/analyze_logs.py plot_curve LOG.json [LOG.json ...] --keys loss mIoU --out x.png
    python tools/analysis_tools/analyze_logs.py cal_train_time LOG.json

LOG.json is what mmengine writes to ``work_dirs/<exp>/<timestamp>/vis_data/<timestamp>.json`` (one json
object per line). Training keys (``loss``, ``decode.loss_ce``, ``lr``, ...) are plotted against the
iteration, validation keys (``mIoU``, ``coco/bbox_mAP``, ``accuracy/top1``, ...) against the evaluation
step. An unknown key stops with the list of keys the log has.
"""
import argparse
import os.path as osp

from mmv3.analysis.logs import plot_curves, train_time
from mmv3.apis import ToolError, run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='task', required=True)
    pc = sub.add_parser('plot_curve', help='plot curves of some keys')
    pc.add_argument('json_logs', nargs='+', help='mmengine json logs (vis_data/*.json)')
    pc.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot. Default: loss')
    pc.add_argument('--legend', nargs='+', default=None, help='one label per log')
    pc.add_argument('--title', default=None, help='figure title')
    pc.add_argument('--smooth', type=int, default=1, help='moving-average window. Default: 1 (none)')
    pc.add_argument('--out', required=True, help='output image, e.g. curves.png')
    ct = sub.add_parser('cal_train_time', help='seconds per training iteration')
    ct.add_argument('json_logs', nargs='+')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for path in args.json_logs:
        if not osp.isfile(path):
            raise ToolError(f'log not found: {path!r} (expected work_dirs/<exp>/<timestamp>/vis_data/<timestamp>.json)')
    try:
        if args.task == 'plot_curve':
            out = plot_curves(args.json_logs, args.keys, args.out, args.legend, args.title, args.smooth)
            print(f'wrote {out}')
        else:
            for path in args.json_logs:
                t = train_time(path)
                print(f'{path}: {t["mean"]:.4f} s/iter (fastest {t["min"]:.4f}, slowest {t["max"]:.4f}, '
                      f'{t["n"]} records)')
    except (KeyError, ValueError) as e:
        raise ToolError(str(e.args[0] if e.args else e)) from None


if __name__ == '__main__':
    run_cli(main, 'analyze_logs.py')
