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
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmv3.engine.cli import (ToolError, add_launcher_args, build_model_for_checks, check_checkpoint_for_model,  # noqa: E402
                             check_dataset_roots, check_registered_types, parse_tool_args, prepare_config,
                             run_cli, setup_cpu_distributed)

VIS_DEFAULTS = dict(
    mmseg=(dict(type='SegVisualizationHook'), dict(type='SegLocalVisualizer')),
    mmdet=(dict(type='DetVisualizationHook'), dict(type='DetLocalVisualizer')),
    mmpretrain=(dict(type='VisualizationHook'), dict(type='UniversalVisualizer')),
)


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
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config; every key must exist in the config')
    add_launcher_args(parser)
    return parse_tool_args(parser, argv)


def enable_visualization(cfg, scope: str, args) -> None:
    """Turn the toolbox's visualization hook on and point it at ``--show-dir``."""
    hook_default, vis_default = VIS_DEFAULTS[scope]
    hooks = cfg.setdefault('default_hooks', {})
    if not isinstance(hooks.get('visualization'), dict):
        hooks['visualization'] = dict(hook_default)
    if not isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer = dict(vis_default, vis_backends=[dict(type='LocalVisBackend')])
    vis = hooks['visualization']
    vis['interval'] = args.interval
    show_dir = osp.abspath(args.show_dir) if args.show_dir else None
    if scope == 'mmpretrain':
        vis['enable'] = True
        vis['show'] = args.show
        vis['wait_time'] = args.wait_time
        if show_dir:
            vis['out_dir'] = show_dir
    else:
        vis['draw'] = True
        if args.show:
            vis['show'] = True
            vis['wait_time'] = args.wait_time
        if show_dir and scope == 'mmdet':
            vis['test_out_dir'] = show_dir
        elif show_dir:  # mmseg: the visualizer's LocalVisBackend writes under save_dir
            cfg.visualizer['save_dir'] = show_dir


def main(argv=None):
    args = parse_args(argv)
    import mmv3.engine  # noqa: F401

    cfg, scope = prepare_config(args)  # config, --cfg-options, toolbox scope, work_dir

    dump_pkl = None
    if args.out is not None:
        if args.out.endswith(('.pkl', '.pickle')):
            dump_pkl = args.out
        elif scope == 'mmseg':
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
        else:
            raise ToolError(f'--out must be a .pkl file for {scope} configs, got {args.out}')

    check_dataset_roots(cfg, ('test_dataloader', ))
    check_registered_types(cfg, ('test', ))
    model = build_model_for_checks(cfg)
    check_checkpoint_for_model(args.checkpoint, model, what='checkpoint')
    del model
    cfg.load_from = args.checkpoint
    cfg.resume = False

    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args)

    setup_cpu_distributed(cfg, args.launcher)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if dump_pkl is not None:
        if scope == 'mmdet':
            from mmdet.evaluation import DumpDetResults as Dump
        else:
            from mmengine.evaluator import DumpResults as Dump
        runner.test_evaluator.metrics.append(Dump(out_file_path=dump_pkl))
    runner.test()


if __name__ == '__main__':
    run_cli(main, 'test.py')
