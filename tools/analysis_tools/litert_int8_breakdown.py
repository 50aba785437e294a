"""Where LiteRT int8 time goes: int8 as converted vs h-swish rewritten, the int8 HARD_SWISH ops alone, with and
without XNNPACK, timed interleaved (issue 16, item 3).

    python tools/analysis_tools/litert_int8_breakdown.py CONFIG [CKPT] [--shape H W] --calib-dir DIR
        [--num-calib 32] [--litert-quantizer aeq|pt2e] [--repeat 40] [--threads 1] [--work-dir DIR]

Exports the BN-folded model to a float .tflite and two int8 ones (hard_swish='keep' and 'float'; see
mmv3/deploy/runtimes/litert.py), prints which ops XNNPACK leaves to TFLite's kernels in each, and a table of
median / min latency with the ratio to LiteRT float. Needs the converter environment
(python tools/deployment/install_litert_env.py).
"""
import argparse
import os.path as osp
import warnings

import numpy as np

from mmv3.apis import add_cfg_options, add_shape, run_cli
from mmv3.deploy.calibration import read_images
from mmv3.deploy.pipeline import export, prepare


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', default=None)
    add_shape(p)
    p.add_argument('--calib-dir', required=True, help='calibration images')
    p.add_argument('--num-calib', type=int, default=32)
    p.add_argument('--litert-quantizer', default='aeq', choices=['aeq', 'pt2e'])
    p.add_argument('--repeat', type=int, default=40)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--work-dir', default=None, help='default: a temp dir')
    add_cfg_options(p)
    args = p.parse_args(argv)
    warnings.filterwarnings('ignore')
    from mmv3.analysis.benchmark import make_workdir
    from mmv3.analysis.litert_breakdown import int8_breakdown
    from mmv3.deploy.litert_env import converter_python
    from mmv3.deploy.runtimes import build_runtime
    rt = build_runtime('litert', args.threads)
    converter_python()
    work = make_workdir(args.work_dir)
    prep = prepare(args.config, args.checkpoint, args.shape, args.cfg_options)
    stem = osp.splitext(osp.basename(args.config))[0]
    fpath = osp.join(work, f'{stem}.tflite')
    export(prep, fpath, backend='litert')
    _, calib, _ = read_images(prep, args.calib_dir, args.num_calib)
    paths = {}
    for hs in ('keep', 'float'):
        paths[hs] = osp.join(work, f'{stem}.int8-{hs}.tflite')
        res = rt.quantize(prep.deploy_model, fpath, paths[hs], calib, quantizer=args.litert_quantizer, hard_swish=hs)
        x = res['xnnpack']
        print(f'int8 (hard_swish={hs}): {x["partitions"]} XNNPACK partition(s), ops on TFLite kernels: '
              f'{x["cpu_ops"] or "none"}')
    x = np.random.default_rng(0).standard_normal((1, 3) + tuple(prep.shape)).astype(np.float32)
    rows = int8_breakdown(fpath, paths['keep'], paths['float'], x, args.threads, args.repeat)
    base = rows[0][1]['median']
    print(f'\nLiteRT, {prep.shape[0]}x{prep.shape[1]}, {args.threads} thread(s), {args.repeat} interleaved rounds\n')
    print('| what | median ms | min ms | median / LiteRT float |\n|---|---|---|---|')
    for label, st in rows:
        print(f'| {label} | {st["median"]:.2f} | {st["min"]:.2f} | {st["median"] / base:.2f} |')


if __name__ == '__main__':
    run_cli(main, 'litert_int8_breakdown.py')
