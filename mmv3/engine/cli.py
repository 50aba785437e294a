"""Validation helpers behind ``tools/train.py`` and ``tools/test.py``.

Every check here runs *before* an mmengine Runner is built, so a refused command starts no
training and writes nothing into the work dir. A refusal is a :class:`ToolError` (or a
:class:`~mmv3.engine.CheckpointError`) whose message is one line; :func:`run_cli` prints it as
``<prog>: error: <message>`` and exits with status 2 (3 for a non-finite loss).
"""
import difflib
import inspect
import os
import os.path as osp
import re
import sys
import traceback
from typing import Iterator, List, Optional, Tuple

from .hooks import NonFiniteLossError
from .safe_checkpoint import (CheckpointError, check_training_checkpoint, check_weights_match,
                              complete_checkpoints, get_state_dict, load_checkpoint_safely)

TOOLBOXES = ('mmpretrain', 'mmdet', 'mmseg')
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class ToolError(Exception):
    """A refused command; ``str(e)`` is the one-line explanation."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


_REGISTRY_MISS = re.compile(r"([\w.]+) is not in the ([\w:]+) registry")


def explain_exception(exc: BaseException) -> Optional[str]:
    """One-line explanation of a known failure raised while building/running, else None."""
    seen = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (ToolError, CheckpointError, NonFiniteLossError)):
            return str(e)
        m = _REGISTRY_MISS.search(str(e))
        if isinstance(e, KeyError) and m:
            name, registry = m.groups()
            return (f"unknown type '{name}': it is not in the {registry} registry (nor in a "
                    f"child registry such as mmv3's). Check the spelling, or import the module "
                    f"that registers it with custom_imports=dict(imports=['...']) in the config "
                    f"(mmv3 modules: type='mmv3.{name.split('.')[-1]}' with imports=['mmv3'])")
        e = e.__cause__ or e.__context__
    return None


def run_cli(main, prog: str) -> None:
    """Run ``main()``; print known refusals as one line and exit non-zero."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: B902
        msg = explain_exception(e)
        if msg is None or os.environ.get('MMV3_DEBUG'):
            raise
        code = 3 if isinstance(e, NonFiniteLossError) else getattr(e, 'exit_code', 2)
        if os.environ.get('MMV3_TRACEBACK'):
            traceback.print_exc()
        print(f'{prog}: error: {msg}', file=sys.stderr, flush=True)
        sys.exit(code)


# ------------------------------------------------------------------------------------ config
def _all_configs() -> List[str]:
    out = []
    root = osp.join(REPO_ROOT, 'configs')
    for dirpath, _, files in os.walk(root):
        if '_base_' in dirpath:
            continue
        out += [osp.relpath(osp.join(dirpath, f), REPO_ROOT) for f in files if f.endswith('.py')]
    return sorted(out)


def load_config(path: str):
    """``Config.fromfile`` with one-line errors (missing file, syntax, custom_imports)."""
    from mmengine.config import Config
    if not osp.isfile(path):
        configs = _all_configs()
        close = difflib.get_close_matches(
            osp.basename(path), [osp.basename(c) for c in configs], n=3, cutoff=0.5)
        close = [c for c in configs if osp.basename(c) in close]
        hint = f'; did you mean {" or ".join(close)}?' if close else (
            '; the configs are under configs/{cls,det,seg}/' if configs else '')
        raise ToolError(f'config file {path} does not exist{hint}')
    try:
        return Config.fromfile(path)
    except ImportError as e:
        raise ToolError(f'config {path}: custom_imports failed: {e}') from None
    except SyntaxError as e:
        raise ToolError(f'config {path} (or a _base_ file) has a syntax error: '
                        f'{e.filename}:{e.lineno}: {e.msg}') from None
    except FileNotFoundError as e:
        raise ToolError(f'config {path}: {e}') from None
    except Exception as e:
        line = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ToolError(f'config {path} cannot be read: {type(e).__name__}: {line}') from None


def _flat_keys(node, prefix='', depth=0) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            key = f'{prefix}{k}'
            yield key
            yield from _flat_keys(v, key + '.', depth + 1)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            key = f'{prefix}{i}'
            yield key
            yield from _flat_keys(v, key + '.', depth + 1)


def _runner_keys() -> set:
    from mmengine.runner import Runner
    keys = set(inspect.signature(Runner.__init__).parameters) - {'self'}
    return keys | {'runner_type', 'sync_bn', 'find_unused_parameters', 'auto_scale_lr',
                   'work_dir', 'launcher', 'resume', 'load_from', 'tta_model', 'tta_pipeline'}


def check_cfg_options(cfg, options: Optional[dict]) -> None:
    """Refuse ``--cfg-options`` keys that do not exist in the config.

    A key must name an existing entry. Two kinds of new keys are accepted because OpenMMLab
    allows them on purpose: a new argument (or nested argument) inside a dict that has a
    ``type`` (it is passed to that class, which rejects unknown arguments itself: the model is
    built before training to check) or inside a ``None`` entry, and a top-level key that the
    Runner understands (``load_from``, ``sync_bn``, ...).
    """
    if not options:
        return
    runner_keys = None
    cfg = getattr(cfg, '_cfg_dict', cfg)
    for key in options:
        parts = key.split('.')
        node, path = cfg, []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if node is None:
                break
            if isinstance(node, dict):
                if part in node:
                    node = node[part]
                    path.append(part)
                    continue
                if 'type' in node:  # new argument of a registered class: it checks its kwargs
                    # ... unless the key exists deeper (e.g. data_root of a wrapped dataset)
                    deeper = [f"{'.'.join(path)}.{k}" for k in _flat_keys(node)
                              if k.endswith('.' + '.'.join(parts[i:]))]
                    if deeper:
                        raise ToolError(
                            f"--cfg-options key '{key}' does not exist in the config "
                            f"('{'.'.join(path)}' is a {node['type']} without '{part}'); "
                            f"close keys: {', '.join(deeper[:3])}")
                    break
                if not path:
                    runner_keys = runner_keys or _runner_keys()
                    if last and part in runner_keys:
                        break
                where = '.'.join(path) or 'the top level of the config'
            elif isinstance(node, (list, tuple)):
                if part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                    path.append(part)
                    continue
                where = f"list '{'.'.join(path)}' (length {len(node)})"
            else:
                raise ToolError(
                    f"--cfg-options key '{key}' does not exist in the config: "
                    f"'{'.'.join(path)}' is a {type(node).__name__} value, not a dict")
            candidates = list(_flat_keys(cfg))
            close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
            if not close and isinstance(node, dict):
                close = ['.'.join(path + [k]) for k in difflib.get_close_matches(
                    part, [str(k) for k in node.keys()], n=3, cutoff=0.5)]
            hint = f'; close keys: {", ".join(close)}' if close else ''
            raise ToolError(f"--cfg-options key '{key}' does not exist in the config "
                            f"({where} has no '{part}'){hint}")


def setup_scope(cfg, path: str) -> str:
    """Check ``default_scope`` and register the toolbox's modules, as the upstream tools do."""
    scope = cfg.get('default_scope', None)
    if scope not in TOOLBOXES:
        raise ToolError(f"config {path}: default_scope must be one of {', '.join(TOOLBOXES)} "
                        f"(the toolbox whose registries it uses), got {scope!r}")
    if scope == 'mmpretrain':
        from mmpretrain.utils import register_all_modules
    elif scope == 'mmdet':
        from mmdet.utils import register_all_modules
    else:
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    return scope


def add_launcher_args(parser) -> None:
    """``--launcher`` and ``--local-rank`` / ``--local_rank``, as every OpenMMLab train / test tool has them."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser, argv=None):
    """``parser.parse_args(argv)``, then ``LOCAL_RANK`` from ``--local-rank`` when the launcher did not set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def prepare_config(args):
    """The config a tool runs, after the checks that need no Runner.

    Loads ``args.config``, sets ``launcher``, checks and merges ``--cfg-options``, registers the
    toolbox of ``default_scope``, and sets ``work_dir`` (CLI > config > ./work_dirs/<config name>).

    Returns:
        tuple: ``(cfg, scope)``.
    """
    cfg = load_config(args.config)
    cfg.launcher = args.launcher
    check_cfg_options(cfg, args.cfg_options)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    scope = setup_scope(cfg, args.config)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg, scope


# ------------------------------------------------------------------------------------ data
def _prepare_hint(dataset_type: str, root: str) -> str:
    t = dataset_type.lower()
    if 'cityscapes' in t:
        return (f'`python tools/misc/make_sample_data.py cityscapes --out {root}` writes a small '
                f'sample; for the real dataset download leftImg8bit_trainvaltest and '
                f'gtFine_trainvaltest into {root} and run '
                f'`python tools/dataset_converters/cityscapes.py {root}`')
    if 'coco' in t:
        return (f'`python tools/misc/make_sample_data.py coco --out {root}` writes a small '
                f'sample; for the real dataset put COCO 2017 (train2017/, val2017/, '
                f'annotations/) in {root}')
    return (f'`python tools/misc/make_sample_data.py imagenet --out {root}` writes a small '
            f'sample; for the real dataset put ImageNet (train/, val/, meta/) in {root}')


def _datasets(ds_cfg) -> Iterator[dict]:
    if ds_cfg is None:
        return
    if isinstance(ds_cfg, (list, tuple)):
        for d in ds_cfg:
            yield from _datasets(d)
        return
    if not isinstance(ds_cfg, dict):
        return
    if 'dataset' in ds_cfg:
        yield from _datasets(ds_cfg['dataset'])
    elif 'datasets' in ds_cfg:
        yield from _datasets(ds_cfg['datasets'])
    else:
        yield ds_cfg


def check_dataset_roots(cfg, loaders: Tuple[str, ...]) -> None:
    """Refuse a missing dataset root / annotation file / image folder, naming the fix.

    Uses :func:`mmv3.datasets.check_data_cfg` (also empty splits, annotation files) when
    available, else checks roots, ``ann_file`` and ``data_prefix`` folders itself.
    """
    try:
        from mmv3.datasets.checks import DatasetNotReadyError, check_data_cfg
    except ImportError:
        check_data_cfg = None
    if check_data_cfg is not None:
        splits = tuple(loader.replace('_dataloader', '') for loader in loaders)
        try:
            check_data_cfg(cfg, splits=splits)
        except DatasetNotReadyError as e:
            raise ToolError(str(e)) from None
        return
    for loader in loaders:
        dl = cfg.get(loader, None)
        if not dl or not isinstance(dl, dict):
            continue
        for ds in _datasets(dl.get('dataset')):
            dtype = str(ds.get('type', ''))
            root = ds.get('data_root', None) or ''
            if root and '://' not in root and not osp.isdir(root):
                raise ToolError(f'{loader}: dataset root {root} does not exist; '
                                f'{_prepare_hint(dtype, root)}')
            paths = []
            ann = ds.get('ann_file', None)
            if isinstance(ann, str) and ann:
                paths.append(('ann_file', ann, osp.isfile))
            prefix = ds.get('data_prefix', None)
            if isinstance(prefix, str):
                prefix = dict(data_prefix=prefix)
            if isinstance(prefix, dict):
                for k, v in prefix.items():
                    if isinstance(v, str) and v:
                        paths.append((f'data_prefix.{k}', v, osp.isdir))
            for field, p, exists in paths:
                full = p if osp.isabs(p) or not root else osp.join(root, p)
                if '://' in full or exists(full):
                    continue
                if field.startswith('data_prefix') and osp.isfile(full):
                    continue
                raise ToolError(f'{loader}: {field} {full} does not exist; '
                                f'{_prepare_hint(dtype, root or osp.dirname(full))}')


# ------------------------------------------------------------------------------------ model
def build_model_for_checks(cfg):
    """Build ``cfg.model`` once (no weights loaded) to validate types and checkpoints."""
    from mmengine.registry import MODELS
    import copy
    try:
        return MODELS.build(copy.deepcopy(cfg.model))
    except Exception as e:
        msg = explain_exception(e)
        if msg is not None:
            raise ToolError(msg) from None
        text = re.sub(r'class `(\w+)` in [\w/]+\.py: ', r'\1: ', str(e))
        if isinstance(e, (TypeError, ValueError, AssertionError, KeyError)):
            raise ToolError(f'model cannot be built: {type(e).__name__}: {text}') from None
        raise


def _pretrained_init_cfgs(node, path=()) -> Iterator[Tuple[tuple, dict]]:
    if isinstance(node, dict):
        init = node.get('init_cfg', None)
        inits = init if isinstance(init, (list, tuple)) else [init]
        for ic in inits:
            if isinstance(ic, dict) and ic.get('type') == 'Pretrained' and ic.get('checkpoint'):
                yield path, ic
        for k, v in node.items():
            if k != 'init_cfg':
                yield from _pretrained_init_cfgs(v, path + (k, ))


def check_pretrained(cfg, model) -> None:
    """Check local ``init_cfg=dict(type='Pretrained', checkpoint=...)`` files of the model."""
    for path, ic in _pretrained_init_cfgs(cfg.model):
        ckpt_path = str(ic['checkpoint'])
        if '://' in ckpt_path:
            continue
        what = f"init_cfg checkpoint of model{''.join('.' + p for p in path)}"
        ckpt = load_checkpoint_safely(ckpt_path, what=what)
        module = model
        for p in path:
            module = getattr(module, p, None)
            if module is None:
                break
        if module is not None and hasattr(module, 'state_dict'):
            check_weights_match(get_state_dict(ckpt), module.state_dict(), ckpt_path, what=what,
                                prefix=ic.get('prefix'))


def check_checkpoint_for_model(path: str, model, what: str, resume: bool = False) -> dict:
    """Safe-load ``path`` and check it fits ``model`` (strictly for a resume)."""
    ckpt = load_checkpoint_safely(path, what=what)
    if resume:
        check_training_checkpoint(ckpt, path, what=what)
    check_weights_match(get_state_dict(ckpt), model.state_dict(), path, what=what, strict=resume)
    return ckpt


def find_resume_checkpoint(work_dir: str, model, log=print) -> Optional[str]:
    """Newest complete, loadable training checkpoint of ``work_dir`` (``--resume`` with no path).

    ``last_checkpoint`` is tried first; if it is missing, empty, or names a file that does not
    load, the ``iter_*.pth`` / ``epoch_*.pth`` files are tried from the newest.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    first = []
    if osp.isfile(pointer):
        with open(pointer) as f:
            target = f.read().strip()
        if target:
            first.append(target)
    for cand in complete_checkpoints(work_dir, first):
        try:
            check_checkpoint_for_model(cand, model, what='checkpoint', resume=True)
            return cand
        except CheckpointError as e:
            log(f'skipping {cand}: {e}')
    return None


# ------------------------------------------------------------------------------------ dist
def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Make ``--launcher pytorch`` work on machines without a GPU (gloo, CPU DDP).

    mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally and wraps
    the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail on CPU. Without CUDA, this
    initialises the process group with gloo itself (mmengine then skips its own init) and sets
    ``model_wrapper_cfg`` to a CPU DDP (``device_ids=None``) unless the config has one.

    Returns:
        bool: Whether it did so.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return False
    backend = (cfg.get('env_cfg', {}) or {}).get('dist_cfg', {}).get('backend', 'gloo')
    if backend != 'gloo':
        print(f'no CUDA device: using the gloo backend instead of {backend}', file=sys.stderr)
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise ToolError(f'--launcher pytorch needs {var} in the environment: start with '
                            f'torchrun or tools/dist_train.sh')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    if cfg.get('model_wrapper_cfg', None) is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters',
                                                                    False))
    return True


# ------------------------------------------------------------------------------------ types
def _unknown_type_error(name: str, where: str, registry) -> ToolError:
    known = list(registry.module_dict)
    if registry.parent is not None:
        known += list(registry.parent.module_dict)
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.7)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ''
    return ToolError(
        f"unknown type '{name}' in {where}{hint}: it is not in the {registry.scope}::"
        f"{registry.name} registry (nor in a child registry such as mmv3's). Check the "
        f"spelling, or import the "
        f"module that registers it with custom_imports=dict(imports=['...']) in the config "
        f"(mmv3 modules: type='mmv3.{name.split('.')[-1]}' with imports=['mmv3'])")


def _check_type(node, where: str, registry) -> None:
    if isinstance(node, dict) and isinstance(node.get('type'), str):
        # resolve as the Runner's builders do: in the default scope's registry first
        with registry.switch_scope_and_registry(None) as scoped:
            if scoped.get(node['type']) is None:
                raise _unknown_type_error(node['type'], where, scoped)


def _check_pipeline(pipeline, where: str, registry) -> None:
    for i, t in enumerate(pipeline or []):
        if not isinstance(t, dict):
            continue
        _check_type(t, f'{where}[{i}]', registry)
        for key in ('transforms', 'transform'):  # TestTimeAug, RandomApply, RandomChoice ...
            sub = t.get(key)
            if isinstance(sub, dict):
                sub = [sub]
            if isinstance(sub, (list, tuple)):
                flat = []
                for s in sub:
                    flat += list(s) if isinstance(s, (list, tuple)) else [s]
                _check_pipeline(flat, f'{where}[{i}].{key}', registry)


def check_registered_types(cfg, splits: Tuple[str, ...]) -> None:
    """Refuse an unknown ``type`` outside the model (datasets, transforms, metrics, hooks,
    optimizer, schedulers, visualizer) before the Runner is built, naming the config field.
    (The model's types are checked by building it, :func:`build_model_for_checks`.)"""
    from mmengine.registry import (DATASETS, HOOKS, METRICS, OPTIM_WRAPPERS, OPTIMIZERS,
                                   PARAM_SCHEDULERS, TRANSFORMS, VISBACKENDS, VISUALIZERS)
    for split in splits:
        loader = cfg.get(f'{split}_dataloader', None)
        if isinstance(loader, dict):
            stack = [(loader.get('dataset'), f'{split}_dataloader.dataset')]
            while stack:
                ds, where = stack.pop()
                if isinstance(ds, (list, tuple)):
                    stack += [(d, f'{where}[{i}]') for i, d in enumerate(ds)]
                    continue
                if not isinstance(ds, dict):
                    continue
                _check_type(ds, where, DATASETS)
                _check_pipeline(ds.get('pipeline'), f'{where}.pipeline', TRANSFORMS)
                if 'dataset' in ds:
                    stack.append((ds['dataset'], f'{where}.dataset'))
                if 'datasets' in ds:
                    stack.append((ds['datasets'], f'{where}.datasets'))
        if split != 'train':
            evs = cfg.get(f'{split}_evaluator', None)
            evs = [evs] if isinstance(evs, dict) else (evs or [])
            for i, ev in enumerate(evs):
                _check_type(ev, f'{split}_evaluator', METRICS)
    if 'train' in splits:
        ow = cfg.get('optim_wrapper', None)
        if isinstance(ow, dict):
            _check_type(ow, 'optim_wrapper', OPTIM_WRAPPERS)
            _check_type(ow.get('optimizer'), 'optim_wrapper.optimizer', OPTIMIZERS)
        ps = cfg.get('param_scheduler', None)
        ps = [ps] if isinstance(ps, dict) else (ps or [])
        for i, s in enumerate(ps):
            _check_type(s, f'param_scheduler[{i}]', PARAM_SCHEDULERS)
    for name, h in (cfg.get('default_hooks', None) or {}).items():
        _check_type(h, f'default_hooks.{name}', HOOKS)
    for i, h in enumerate(cfg.get('custom_hooks', None) or []):
        _check_type(h, f'custom_hooks[{i}]', HOOKS)
    vis = cfg.get('visualizer', None)
    if isinstance(vis, dict):
        _check_type(vis, 'visualizer', VISUALIZERS)
        for i, b in enumerate(vis.get('vis_backends') or []):
            _check_type(b, f'visualizer.vis_backends[{i}]', VISBACKENDS)
