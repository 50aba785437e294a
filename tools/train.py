"""Train a model from an mmv3 / mmpretrain / mmdet / mmseg config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
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
* ``--resume`` without a path resumes from the newest *complete* checkpoint of the work dir.

SyncBN: configs use plain BN. mmengine reverts SyncBN to BN when not distributed; with
``--launcher pytorch|slurm`` add ``--sync-bn`` to convert BN to ``torch.nn.SyncBatchNorm``.
"""
import argparse
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402

from mmv3.engine.cli import (ToolError, add_launcher_args, build_model_for_checks, check_checkpoint_for_model,  # noqa: E402
                             check_dataset_roots, check_pretrained, check_registered_types,
                             find_resume_checkpoint, parse_tool_args, prepare_config, run_cli,
                             setup_cpu_distributed)


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
        '--sync-bn', action='store_true',
        help='convert BN to SyncBN (torch) when distributed; ignored otherwise')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. train_cfg.max_iters=100 '
        'model.backbone.widen_factor=0.5; every key must exist in the config')
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def use_safe_hooks(cfg) -> None:
    """Swap in mmv3's checkpoint hook and add the non-finite-loss guard."""
    hooks = cfg.get('default_hooks', None)
    if hooks is not None and isinstance(hooks.get('checkpoint'), dict):
        if hooks.checkpoint.get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
            hooks.checkpoint.type = 'mmv3.SafeCheckpointHook'
    custom = list(cfg.get('custom_hooks', None) or [])
    if not any(str(h.get('type', '')).endswith('NonFiniteLossHook') for h in custom):
        custom.append(dict(type='mmv3.NonFiniteLossHook'))
    cfg.custom_hooks = custom


def main(argv=None):
    args = parse_args(argv)
    import mmv3.engine  # noqa: F401  (safe-load allow-list, hooks, atomic backend)

    cfg, scope = prepare_config(args)  # config, --cfg-options, toolbox scope, work_dir

    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise ToolError('--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper); none is '
                            'available here: train without --amp')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        elif wrapper != 'OptimWrapper':
            raise ToolError(f'--amp needs optim_wrapper.type=OptimWrapper, got {wrapper}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.sync_bn and args.launcher != 'none':
        cfg.sync_bn = 'torch'

    loaders = ('train_dataloader', ) + (('val_dataloader', ) if cfg.get('val_cfg') else ())
    check_dataset_roots(cfg, loaders)

    check_registered_types(cfg, ('train', ) + (('val', ) if cfg.get('val_cfg') else ()))
    model = build_model_for_checks(cfg)
    check_pretrained(cfg, model)
    if args.resume == 'auto' or (args.resume is None and cfg.get('resume', False)
                                 and not cfg.get('load_from')):
        found = find_resume_checkpoint(cfg.work_dir, model,
                                       log=lambda m: print_log(m, logger='current',
                                                               level=logging.WARNING))
        if found is None:
            print_log(f'no complete checkpoint in {cfg.work_dir} to resume from: '
                      'training from the start', logger='current', level=logging.WARNING)
            cfg.resume, cfg.load_from = False, None
        else:
            cfg.resume, cfg.load_from = True, found
    elif args.resume is not None:
        check_checkpoint_for_model(args.resume, model, what='--resume checkpoint', resume=True)
        cfg.resume, cfg.load_from = True, args.resume
    elif cfg.get('load_from'):
        what = '--resume checkpoint (load_from)' if cfg.get('resume') else 'load_from checkpoint'
        check_checkpoint_for_model(cfg.load_from, model, what=what,
                                   resume=bool(cfg.get('resume')))
    del model

    use_safe_hooks(cfg)

    setup_cpu_distributed(cfg, args.launcher)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    print_log(f'toolbox: {scope}', logger='current')
    runner.train()


if __name__ == '__main__':
    run_cli(main, 'train.py')
