"""Test (and evaluate) a checkpoint with an mmv3 / mmpretrain / mmdet / mmseg config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--show-dir DIR]
                         [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
    bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [ARGS...]

* ``--show-dir DIR``: draw predictions with the toolbox's visualization hook (mmseg / mmdet:
  segmentation maps / boxes over the images; mmpretrain: the predicted class) into DIR.
* ``--out FILE.pkl``: dump the raw predictions (mmengine ``DumpResults``; mmdet
  ``DumpDetResults``). For mmseg configs ``--out DIR`` (no ``.pkl``) writes the predicted label
  PNGs into DIR instead, as mmseg's own test tool does.

The checkpoint is loaded with ``torch.load(weights_only=True)`` and checked against the model
before anything runs; a missing, corrupt or foreign checkpoint is refused with one line.
"""
import argparse

from mmv3.apis import (add_cfg_options, add_launcher_args, build_runner, parse_tool_args, prepare_test_config,
                       run_cli)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out', type=str,
        help='dump predictions to a .pkl file (mmseg: or write label PNGs into a directory)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--interval', type=int, default=1,
                        help='with --show/--show-dir: draw every N-th test image (default 1)')
    parser.add_argument(
        '--skip-data-check', action='store_true',
        help='skip the dataset pre-flight (label ids, label/image sizes, COCO boxes, list entries, '
        'decodable images; mmv3.datasets.preflight) that runs before anything is written')
    add_cfg_options(parser)
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg, _, dump_pkl = prepare_test_config(args)  # every check before anything is written
    build_runner(cfg, args.launcher, dump_pkl).test()


if __name__ == '__main__':
    run_cli(main, 'test.py')
