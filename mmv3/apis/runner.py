"""Config -> mmengine Runner for ``tools/train.py`` and ``tools/test.py``.

:func:`prepare_train_config` / :func:`prepare_test_config` run every check that needs no Runner
(config, ``--cfg-options`` keys, dataset folders, registered types, the model and each checkpoint
it will load) and apply the command's flags, so a refused command starts nothing and writes
nothing; :func:`build_runner` then builds the Runner as the upstream tools do.
:func:`prepare_train_config` ends by taking the work dir's lock (:mod:`mmv3.apis.workdir`), and
:func:`train` turns an interrupt (Ctrl-C) or a full / read-only disk into one line.
"""
import errno
import logging
import os
import os.path as osp
import shlex
import sys

from .checks import check_dataset_files, check_dataset_roots, check_numeric_values, check_registered_types
from .config import prepare_config
from .dist import exit_with_launcher, setup_cpu_distributed
from .errors import ToolError
from .workdir import lock_work_dir, release_work_dir
from .model import (build_model_for_checks, check_checkpoint_for_model, check_pretrained,
                    find_resume_checkpoint)

VIS_DEFAULTS = dict(
    mmseg=(dict(type='SegVisualizationHook'), dict(type='SegLocalVisualizer')),
    mmdet=(dict(type='DetVisualizationHook'), dict(type='DetLocalVisualizer')),
    mmpretrain=(dict(type='VisualizationHook'), dict(type='UniversalVisualizer')),
)


def _log(msg, level=logging.INFO):
    from mmengine.logging import print_log
    print_log(msg, logger='current', level=level)


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


def _enable_amp(cfg) -> None:
    import torch
    if not torch.cuda.is_available():
        raise ToolError('--amp needs a CUDA GPU (mmengine\'s AmpOptimWrapper); none is '
                        'available here: train without --amp')
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper == 'AmpOptimWrapper':
        _log('AMP training is already enabled in your config.', logging.WARNING)
    elif wrapper != 'OptimWrapper':
        raise ToolError(f'--amp needs optim_wrapper.type=OptimWrapper, got {wrapper}')
    else:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def _enable_auto_scale_lr(cfg) -> None:
    """``--auto-scale-lr``: as upstream, turn on the config's ``auto_scale_lr`` (mmengine's Runner
    then scales the lr by ``world_size * batch_size / base_batch_size`` when training starts)."""
    scale = cfg.get('auto_scale_lr', None)
    if not isinstance(scale, dict) or not scale.get('base_batch_size'):
        raise ToolError('--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in the config '
                        '(N: the total batch its lr is for); add it, or train without --auto-scale-lr')
    base = scale['base_batch_size']
    if not isinstance(base, int) or isinstance(base, bool) or base <= 0:
        raise ToolError(f'auto_scale_lr.base_batch_size must be a positive int, got {base!r}')
    scale['enable'] = True
    _log(f'--auto-scale-lr: lr scaled by (world size x {cfg.train_dataloader.get("batch_size")}) / {base}')


def _resolve_resume(cfg, args, model) -> None:
    """Check the checkpoint a training starts from; ``--resume`` alone finds the newest complete one."""
    if args.resume == 'auto' or (args.resume is None and cfg.get('resume', False)
                                 and not cfg.get('load_from')):
        found = find_resume_checkpoint(cfg.work_dir, model, log=lambda m: _log(m, logging.WARNING))
        if found is None:
            _log(f'no complete checkpoint in {cfg.work_dir} to resume from: training from the start',
                 logging.WARNING)
            cfg.resume, cfg.load_from = False, None
        else:
            cfg.resume, cfg.load_from = True, found
    elif args.resume is not None:
        check_checkpoint_for_model(args.resume, model, what='--resume checkpoint', resume=True)
        cfg.resume, cfg.load_from = True, args.resume
    elif cfg.get('load_from'):
        what = '--resume checkpoint (load_from)' if cfg.get('resume') else 'load_from checkpoint'
        check_checkpoint_for_model(cfg.load_from, model, what=what, resume=bool(cfg.get('resume')))


def prepare_train_config(args):
    """The checked config ``tools/train.py`` runs (``args`` from its parser).

    Returns:
        tuple: ``(cfg, scope)``.
    """
    import mmv3.engine  # noqa: F401  (safe-load allow-list, hooks, atomic backend)
    if args.launcher == 'pytorch':
        exit_with_launcher()  # a worker never outlives torchrun
    cfg, scope = prepare_config(args)  # config, --cfg-options, toolbox scope, work_dir
    if args.amp:
        _enable_amp(cfg)
    if getattr(args, 'auto_scale_lr', False):
        _enable_auto_scale_lr(cfg)
    if args.sync_bn and args.launcher != 'none':
        cfg.sync_bn = 'torch'
    splits = ('train', ) + (('val', ) if cfg.get('val_cfg') else ())
    check_numeric_values(cfg, splits, train=True)
    check_dataset_roots(cfg, tuple(f'{s}_dataloader' for s in splits))
    check_registered_types(cfg, splits)
    model = build_model_for_checks(cfg)
    if not getattr(args, 'skip_data_check', False):
        check_dataset_files(cfg, splits)
    check_pretrained(cfg, model)
    _resolve_resume(cfg, args, model)
    del model
    use_safe_hooks(cfg)
    # the first write: refused if another live training owns the work dir, or it is read-only
    lock_work_dir(cfg.work_dir, args.launcher, log=lambda m: _log(m, logging.WARNING))
    return cfg, scope


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


def prepare_test_config(args):
    """The checked config ``tools/test.py`` runs (``args`` from its parser).

    ``--out FILE.pkl`` is returned as ``dump_pkl`` (added to the evaluator by :func:`build_runner`);
    for mmseg ``--out DIR`` makes the evaluator write label PNGs there.

    Returns:
        tuple: ``(cfg, scope, dump_pkl)``.
    """
    import mmv3.engine  # noqa: F401
    if args.launcher == 'pytorch':
        exit_with_launcher()
    cfg, scope = prepare_config(args)
    dump_pkl = None
    if args.out is not None:
        if args.out.endswith(('.pkl', '.pickle')):
            dump_pkl = args.out
        elif scope == 'mmseg':
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
        else:
            raise ToolError(f'--out must be a .pkl file for {scope} configs, got {args.out}')
    check_numeric_values(cfg, ('test', ), train=False)
    check_dataset_roots(cfg, ('test_dataloader', ))
    check_registered_types(cfg, ('test', ))
    model = build_model_for_checks(cfg)
    if not getattr(args, 'skip_data_check', False):
        check_dataset_files(cfg, ('test', ))
    check_checkpoint_for_model(args.checkpoint, model, what='checkpoint')
    del model
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args)
    return cfg, scope, dump_pkl


def build_runner(cfg, launcher: str = 'none', dump_pkl=None):
    """The Runner of a prepared config (``runner_type`` honoured); on CPU-only machines
    ``--launcher pytorch`` runs gloo + CPU DDP (:func:`mmv3.apis.setup_cpu_distributed`)."""
    setup_cpu_distributed(cfg, launcher)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if dump_pkl is not None:
        if cfg.get('default_scope') == 'mmdet':
            from mmdet.evaluation import DumpDetResults as Dump
        else:
            from mmengine.evaluator import DumpResults as Dump
        runner.test_evaluator.metrics.append(Dump(out_file_path=dump_pkl))
    _log(f'toolbox: {cfg.get("default_scope")}')
    return runner


_DISK_ERRNOS = {errno.ENOSPC: 'no space left on the device', errno.EDQUOT: 'disk quota exceeded',
                errno.EROFS: 'read-only file system', errno.EACCES: 'permission denied',
                errno.EPERM: 'permission denied'}


def _chain(exc):
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def resume_command(args, work_dir: str) -> str:
    """``python tools/train.py CONFIG --work-dir DIR --resume [--cfg-options ...]`` of this run
    (``bash tools/dist_train.sh CONFIG NPROC ...`` for a run started by that script)."""
    argv, opts, i = sys.argv[1:], [], 0
    while i < len(argv):
        if argv[i] == '--cfg-options':
            i += 1
            while i < len(argv) and not argv[i].startswith('--'):
                opts.append(argv[i])
                i += 1
        else:
            i += 1
    if getattr(args, 'launcher', 'none') == 'pytorch' and os.environ.get('MMV3_LAUNCHER_PID'):
        nproc = os.environ.get('LOCAL_WORLD_SIZE', os.environ.get('WORLD_SIZE', 'NPROC'))
        cmd = ['bash', 'tools/dist_train.sh', args.config, nproc]
    else:
        cmd = ['python', 'tools/train.py', args.config]
    cmd += ['--work-dir', work_dir, '--resume']
    if opts:
        cmd += ['--cfg-options'] + opts
    return ' '.join(shlex.quote(c) for c in cmd)


def _last_checkpoint(work_dir: str):
    try:
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            path = f.read().strip()
        return path if path and osp.isfile(path) else None
    except OSError:
        return None


def training_error(exc: BaseException, cfg, args, runner=None):
    """One-line :class:`ToolError` for an interrupted run (exit 130) or a failed write to the
    work dir (disk full, read-only, no permission: exit 2), else None."""
    work_dir = cfg.work_dir
    last = _last_checkpoint(work_dir)
    resume = resume_command(args, work_dir)
    for e in _chain(exc):
        if isinstance(e, KeyboardInterrupt):
            if runner is None or getattr(runner, '_train_loop', None) is None:
                return ToolError('interrupted before training started; nothing was trained',
                                 exit_code=130)
            kept = f' (last complete checkpoint: {osp.basename(last)})' if last else ''
            # mmengine's 1-based iteration of the log lines ("Iter(train) [3/6]")
            return ToolError(f'interrupted at iteration {runner.iter + 1}{kept}; resume with: '
                             f'{resume}', exit_code=130)
        if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
            where = e.filename or f'a file in the work dir {work_dir}'
            fix = ('free space on that disk, keep fewer checkpoints (--cfg-options '
                   'default_hooks.checkpoint.max_keep_ckpts=N) or use another --work-dir'
                   if e.errno in (errno.ENOSPC, errno.EDQUOT) else
                   'make the work dir writable or use another --work-dir')
            kept = (f'; the last complete checkpoint {last} is intact: resume with: {resume}'
                    if last else '; no checkpoint was written yet')
            return ToolError(f'cannot write {where}: {_DISK_ERRNOS[e.errno]} '
                             f'({errno.errorcode[e.errno]}); {fix}{kept}')
    return None


def train(cfg, args) -> None:
    """Build the Runner of a config from :func:`prepare_train_config` and train.

    Ctrl-C gives ``interrupted at iteration N ...; resume with: ...`` (exit status 130) instead of
    a traceback (or mmengine's "Failed to format the config file" with the whole config, when the
    interrupt lands while a checkpoint's config is being formatted); a full or read-only disk
    gives one line naming the file and the fix (exit 2). Checkpoints are written atomically, so
    the last complete one is intact either way. The work dir's lock is released at the end.
    """
    runner = None
    try:
        runner = build_runner(cfg, args.launcher)
        runner.train()
    except BaseException as e:  # noqa: B902
        err = training_error(e, cfg, args, runner)
        if err is None or os.environ.get('MMV3_DEBUG'):
            raise
        raise err from None
    finally:
        release_work_dir(cfg.work_dir)
