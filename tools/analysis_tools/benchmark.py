"""Single-thread, batch-1 CPU latency of configs: eager, folded-BN + channels_last, ONNX Runtime float / int8,
OpenVINO f32 / bf16 / int8 (mmv3's recipe, and NNCF's defaults), LiteRT + XNNPACK float / int8.

    python tools/analysis_tools/benchmark.py CONFIG [CONFIG ...] [--shape H W] [--repeat 50] [--warmup 10]
        [--threads 1] [--modes eager,fused,ort,ort-int8,ort-int8-default,ov,ov-bf16,ov-int8,ov-int8-nncf,litert,
        litert-int8] [--compare] [--calib-dir DIR] [--out FILE.md]
        [int8 recipe flags, the same as tools/deployment/quantize.py's: mmv3/deploy/recipe_args.py]

Prints the median and spread (IQR, min, max) per model and mode. All models of one run are timed
interleaved, so their ratios are fair. ``--compare`` adds reference implementations in the same run:
torchvision's and timm's MobileNetV3 of the same arch/width (classification), or mmseg's own
``mobilenet-v3-d8_lraspp`` config from the installed mmseg (segmentation), and prints ours / peer.
With several configs and no ``--compare``, ratios are to the first config (e.g. Table 6 rows vs V2).
"""
import argparse
import json
import os.path as osp
import warnings

import torch

from mmv3.analysis.benchmark import (Candidate, format_results, make_workdir, mmseg_config_path, parse_modes,
                                     peer_classifiers, setup_runners, time_interleaved)
from mmv3.apis import ToolError, add_cfg_options, add_shape, run_cli
from mmv3.deploy.calibration import check_image_folders, read_images
from mmv3.deploy.pipeline import prepare
from mmv3.deploy.recipe_args import add_int8_args, check_int8_args, export_options, int8_options


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='+', help='config file(s)')
    p.add_argument('--checkpoint', default=None, help='checkpoint of the (first) config; default random init')
    add_shape(p)
    p.add_argument('--repeat', type=int, default=50, help='timed runs per model and mode. Default: 50')
    p.add_argument('--warmup', type=int, default=10, help='untimed runs first. Default: 10')
    p.add_argument('--threads', type=int, default=1, help='CPU threads (torch and ONNX Runtime). Default: 1')
    p.add_argument('--modes', default='eager,fused,ort,ort-int8',
                   help='comma-separated modes of the registered runtimes (mmv3.deploy.runtimes): '
                        'eager,fused,ort,ort-int8,ort-int8-default,ov,ov-bf16,ov-int8,ov-int8-nncf,litert,litert-int8. '
                        'Default: eager,fused,ort,ort-int8')
    p.add_argument('--compare', action='store_true',
                   help='also time torchvision/timm MobileNetV3 (cls) or mmseg\'s LR-ASPP config (seg)')
    p.add_argument('--calib-dir', default=None, help='image folder for int8 calibration (default: random inputs)')
    p.add_argument('--num-calib', type=int, default=32, help='calibration images. Default: 32')
    add_int8_args(p)
    p.add_argument('--work-dir', default=None, help='where the ONNX files go (default: a temp dir)')
    p.add_argument('--out', default=None, help='also write the Markdown tables (and a .json) here')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_cfg_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings('ignore')  # OpenMMLab deprecation chatter; errors still raise
    modes = parse_modes(args.modes)
    if args.threads < 1:
        raise ToolError(f'--threads must be >= 1, got {args.threads}')
    check_int8_args(args)
    check_image_folders(calib_dir=args.calib_dir)
    if any(m.startswith('litert') for m in modes):
        from mmv3.deploy.litert_env import converter_python
        from mmv3.deploy.runtimes import build_runtime
        build_runtime('litert')
        converter_python()  # refuse in one line before building anything
    torch.set_num_threads(args.threads)
    workdir = make_workdir(args.work_dir)
    cands, shape, task0, calib = [], None, None, None
    for i, config in enumerate(args.configs):
        prep = prepare(config, args.checkpoint if i == 0 else None, shape or args.shape, args.cfg_options,
                       fold=False)
        shape, task0 = shape or prep.shape, task0 or prep.task
        if args.calib_dir and any('-int8' in m for m in modes) and calib is None:
            _, calib, _ = read_images(prep, args.calib_dir, args.num_calib)
        cands.append(Candidate(osp.splitext(osp.basename(config))[0], prep.model, prep.task, ours=True, calib=calib))
        if i == 0:
            cfg0 = prep.cfg
    if args.compare:
        if task0 == 'cls':
            bb = cfg0.model.backbone
            arch = bb.get('arch', 'large')
            num_classes = cfg0.model.get('head', {}).get('num_classes', 1000)
            for label, m in peer_classifiers(arch, bb.get('widen_factor', 1.0), num_classes):
                cands.append(Candidate(label, m, 'cls', calib=calib))
        elif task0 == 'seg':
            peer = prepare(mmseg_config_path(), None, shape, fold=False)
            cands.append(Candidate('mmseg mobilenet-v3-d8_lraspp', peer.model, 'seg', calib=calib))
        else:
            print('--compare: no reference implementation for detection; pass several configs instead '
                  '(ratios are then to the first)')
    for c in cands:
        print(f'preparing {c.label}: {", ".join(modes)}', flush=True)
        setup_runners(c, shape, modes, args.threads, workdir,
                      int8_options=int8_options(args, keep_float=c.ours), export_options=export_options(args))
    stats = time_interleaved(cands, modes, args.repeat, args.warmup, progress=not args.no_progress)
    text = format_results(cands, modes, stats, shape, args.threads)
    if any('-int8' in m for m in modes) and not args.calib_dir:
        text += '\n\n(int8 calibrated on random inputs; pass --calib-dir for real images)'
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
        with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
            json.dump({f'{k[0]}|{k[1]}': v for k, v in stats.items()}, f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    run_cli(main, 'benchmark.py')
