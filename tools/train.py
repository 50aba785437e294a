"""Train a model from an mmv3 / mmpretrain / mmdet / mmseg config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp] [--auto-scale-lr]
                          [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
    bash tools/dist_train.sh CONFIG NPROC [ARGS...]        # torchrun, one process per device

The toolbox is taken from the config's ``default_scope`` (mmpretrain | mmdet | mmseg). Like the
upstream tools this is a thin wrapper around :class:`mmengine.runner.Runner`; on top it

* checks the config, ``--cfg-options`` keys, dataset roots and every checkpoint it will load
  (``--resume``, ``load_from``, ``init_cfg=dict(type='Pretrained')``) before the Runner is
  built, and refuses bad input with one line (exit status 2);
* uses :class:`mmv3.engine.SafeCheckpointHook` instead of a plain ``CheckpointHook``
  (atomic writes, checkpoints that load with ``torch.load(weights_only=True)``) and adds
  :class:`mmv3.engine.NonFiniteLossHook` (stops at a NaN/inf loss, exit status 3);
* ``--auto-scale-lr`` (as upstream) sets ``auto_scale_lr.enable=True``: mmengine multiplies the lr by
  ``world_size x train_dataloader.batch_size / auto_scale_lr.base_batch_size``; a config without
  ``auto_scale_lr.base_batch_size`` is refused;
* ``--resume`` without a path resumes from the newest *complete* checkpoint of the work dir;
* one live training per work dir (a second one is refused, naming the first one's pid);
  Ctrl-C ends with one line and the command that resumes (exit status 130).

SyncBN: configs use plain BN. mmengine reverts SyncBN to BN when not distributed; with
``--launcher pytorch|slurm`` add ``--sync-bn`` to convert BN to ``torch.nn.SyncBatchNorm``.
"""
import argparse

from mmv3.apis import (add_cfg_options, add_launcher_args, parse_tool_args, prepare_train_config, run_cli,
                       train)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model (classification, detection or '
                                     'segmentation; toolbox from the config\'s default_scope)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CHECKPOINT, or without a value from the newest complete checkpoint '
        'in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr linearly by (GPUs x per-GPU batch) / auto_scale_lr.base_batch_size of the config')
    parser.add_argument(
        '--sync-bn', action='store_true',
        help='convert BN to SyncBN (torch) when distributed; ignored otherwise')
    parser.add_argument(
        '--skip-data-check', action='store_true',
        help='skip the dataset pre-flight (label ids, label/image sizes, COCO boxes, list entries, '
        'decodable images; mmv3.datasets.preflight) that runs before anything is written')
    add_cfg_options(parser)
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg, _ = prepare_train_config(args)  # every check, then the work dir's lock
    train(cfg, args)  # Ctrl-C / disk full: one line


if __name__ == '__main__':
    run_cli(main, 'train.py')
