"""Config path -> checked, merged :class:`mmengine.Config` in its toolbox's scope.

Every tool (train, test, export, quantize, benchmark, get_flops, reproduce_tables, ...) loads its
config through :func:`load_config`, so a missing file, a syntax error or a failing
``custom_imports`` is the same one-line refusal everywhere, and ``--cfg-options`` are parsed with
mmengine's ``DictAction`` syntax (:func:`mmv3.apis.args.parse_value`, which keeps spaces inside values)
and checked against the config (:func:`check_cfg_options`) before they are merged.
"""
import difflib
import inspect
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple

from .errors import ToolError

#: default_scope -> task; the toolboxes mmv3 models run in.
TASK_BY_SCOPE = {'mmpretrain': 'cls', 'mmdet': 'det', 'mmseg': 'seg'}
TOOLBOXES = ('mmpretrain', 'mmdet', 'mmseg')
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def all_configs(root: str = REPO_ROOT) -> List[str]:
    """The repository's configs (``configs/**.py`` outside ``_base_``), relative to ``root``."""
    out = []
    for dirpath, _, files in os.walk(osp.join(root, 'configs')):
        if '_base_' in dirpath:
            continue
        out += [osp.relpath(osp.join(dirpath, f), root) for f in files if f.endswith('.py')]
    return sorted(out)


def _read_config(path: str):
    from mmengine.config import Config
    if not osp.isfile(path):
        configs = all_configs()
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


def load_config(config, cfg_options: Optional[dict] = None, check_options: bool = True):
    """Load a config file (or copy a loaded ``Config``), check and merge ``cfg_options``.

    Args:
        config (str | mmengine.Config): Path of a Python config, or an already loaded config.
        cfg_options (dict, optional): Dotted-key overrides as ``--cfg-options`` gives them, e.g.
            ``{'model.head.num_classes': 1001}``.
        check_options (bool): Refuse keys that are not in the config (:func:`check_cfg_options`).
            Default: True.

    Returns:
        mmengine.Config: The config.

    Raises:
        ToolError: Missing file, unreadable config, unknown ``--cfg-options`` key.
    """
    if isinstance(config, (str, bytes)) or hasattr(config, '__fspath__'):
        cfg = _read_config(os.fsdecode(config))
    else:
        cfg = config.copy() if hasattr(config, 'copy') else config
    if cfg_options:
        if check_options:
            check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


def parse_cfg_options(items: Optional[Sequence[str]]) -> Optional[dict]:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}``, exactly as ``--cfg-options`` parses them
    (:func:`mmv3.apis.args.parse_value`); for values that do not come from argparse."""
    if not items:
        return None
    from .args import parse_value
    out = {}
    for item in items:
        if '=' not in item:
            raise ToolError(f'--cfg-options expects KEY=VALUE, got {item!r}')
        key, val = item.split('=', maxsplit=1)
        out[key] = parse_value(val)
    return out


# ------------------------------------------------------------------------------ --cfg-options keys
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


#: mmengine's ``set_random_seed`` arguments (the Runner's ``randomness=dict(...)``)
RANDOMNESS_KEYS = ('seed', 'diff_rank_seed', 'deterministic')
#: keys a builder pops before the class sees them (not constructor arguments)
_BUILDER_KEYS = {
    'optim_wrapper': {'constructor', 'paramwise_cfg', 'optimizer'},
    'param_scheduler': {'convert_to_iter_based'},
    'hook': {'priority'},
}


def _registries_for(path: Sequence[str]) -> List[Tuple[str, object]]:
    """The registries a ``type`` at config ``path`` is built from (most likely first)."""
    from mmengine import registry as R
    head = path[0] if path else ''
    names = [str(p) for p in path]
    if 'pipeline' in names or 'transforms' in names:
        return [('transform', R.TRANSFORMS)]
    if head in ('model', 'data_preprocessor', 'tta_model'):
        if names[-1] == 'init_cfg' or 'init_cfg' in names:
            return [('init', R.WEIGHT_INITIALIZERS)]
        return [('model', R.MODELS), ('task util', R.TASK_UTILS)]
    if head == 'optim_wrapper':
        return [('optimizer', R.OPTIMIZERS)] if 'optimizer' in names[1:] else [('optim_wrapper', R.OPTIM_WRAPPERS)]
    if head.endswith('_dataloader'):
        if len(names) > 1 and names[1] in ('sampler', 'batch_sampler'):
            return [('sampler', R.DATA_SAMPLERS)]
        return [('dataset', R.DATASETS)]
    if head == 'param_scheduler':
        return [('param_scheduler', R.PARAM_SCHEDULERS)]
    if head in ('default_hooks', 'custom_hooks'):
        return [('hook', R.HOOKS)]
    if head == 'visualizer':
        return [('vis_backend', R.VISBACKENDS)] if 'vis_backends' in names else [('visualizer', R.VISUALIZERS)]
    if head == 'vis_backends':
        return [('vis_backend', R.VISBACKENDS)]
    if head.endswith('_evaluator'):
        return [('metric', R.METRICS)]
    if head in ('train_cfg', 'val_cfg', 'test_cfg'):
        return [('loop', R.LOOPS)]
    if head == 'log_processor':
        return [('log_processor', R.LOG_PROCESSORS)]
    return []


def _resolve_type(type_name, path, scope):
    """(kind, class or function) registered as ``type_name`` for config ``path``, or (None, None)."""
    if not isinstance(type_name, str):
        return (None, type_name) if callable(type_name) else (None, None)
    for kind, root in _registries_for(path):
        try:
            with root.switch_scope_and_registry(scope) as reg:
                obj = reg.get(type_name)
        except Exception:  # unknown scope, import error: check_registered_types reports it
            obj = None
        if obj is not None:
            return kind, obj
    return None, None


def constructor_args(obj) -> Optional[set]:
    """Keyword arguments ``obj(...)`` accepts, or None when it takes any (``**kwargs`` all the way).

    For a class the MRO's ``__init__`` are walked: one that takes ``**kwargs`` passes them on to
    the next, so its parents' arguments count too; the walk stops at the first ``__init__``
    without ``**kwargs``. Reaching ``object`` (or ``nn.Module``'s catch-all) means "anything".
    """
    P = inspect.Parameter
    named = (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind == P.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind in named}
    names = set()
    for klass in obj.__mro__:
        if klass is object:
            return None
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass.__module__.startswith('torch.nn.modules.module'):
            return None
        try:
            params = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in params[1:] if p.kind in named}
        if not any(p.kind == P.VAR_KEYWORD for p in params):
            return names
    return None


def _check_new_argument(key, node, path, part, scope):
    """Refuse a new ``part`` inside the ``type`` dict ``node`` at ``path`` that its class does not take."""
    kind, obj = _resolve_type(node['type'], path, scope)
    if obj is None:
        return  # unknown here: the class itself (or check_registered_types) reports it
    accepted = constructor_args(obj)
    if accepted is None:
        return
    accepted |= _BUILDER_KEYS.get(kind, set()) | set(node.keys())
    if part in accepted:
        return
    name = getattr(obj, '__name__', str(node['type']))
    close = difflib.get_close_matches(part, sorted(accepted), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join('.'.join(path + [c]) for c in close)}?" if close else (
        f"; it takes {', '.join(sorted(accepted)[:12])}{' ...' if len(accepted) > 12 else ''}")
    raise ToolError(f"--cfg-options key '{key}' does not exist in the config and {name} "
                    f"(the {kind} at '{'.'.join(path)}') takes no argument '{part}'{hint}")


def check_cfg_options(cfg, options: Optional[dict]) -> None:
    """Refuse ``--cfg-options`` keys that do not exist in the config.

    A key must name an existing entry. New keys are accepted where OpenMMLab allows them on
    purpose: a new argument inside a dict that has a ``type`` -- if the class registered under
    that type (resolved in the config's ``default_scope``, in the registry of that config field:
    optimizer, dataset, transform, hook, model, ...) takes it (its constructor signature, through
    the ``**kwargs`` of the MRO's ``__init__``; a class whose chain ends in ``**kwargs``, or a type
    that cannot be resolved here, takes anything); anything inside a ``None`` entry; and a
    top-level key that the Runner understands (``load_from``, ``sync_bn``,
    ``randomness.seed`` ...).
    """
    if not options:
        return
    runner_keys = None
    scope = cfg.get('default_scope', None) if hasattr(cfg, 'get') else None
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
                if 'type' in node:  # new argument of a registered class
                    # ... unless the key exists deeper (e.g. data_root of a wrapped dataset)
                    deeper = [f"{'.'.join(path)}.{k}" for k in _flat_keys(node)
                              if k.endswith('.' + '.'.join(parts[i:]))]
                    if deeper:
                        raise ToolError(
                            f"--cfg-options key '{key}' does not exist in the config "
                            f"('{'.'.join(path)}' is a {node['type']} without '{part}'); "
                            f"close keys: {', '.join(deeper[:3])}")
                    _check_new_argument(key, node, path, part, scope)
                    break
                if path == ['randomness'] and last and part in RANDOMNESS_KEYS:
                    break
                if not path:
                    runner_keys = runner_keys or _runner_keys()
                    if last and part in runner_keys:
                        break
                    if part == 'randomness' and len(parts) == 2:  # a Runner dict the config may lack
                        if parts[1] in RANDOMNESS_KEYS:
                            break
                        close = difflib.get_close_matches(parts[1], RANDOMNESS_KEYS, n=1, cutoff=0.5)
                        raise ToolError(
                            f"--cfg-options key '{key}': randomness takes {', '.join(RANDOMNESS_KEYS)} "
                            f"(mmengine's set_random_seed), not '{parts[1]}'"
                            + (f'; did you mean randomness.{close[0]}?' if close else ''))
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


# ------------------------------------------------------------------------------------ scope / task
def task_of(cfg) -> str:
    """``'cls'``, ``'det'`` or ``'seg'`` for a config, from its ``default_scope`` (else its model type)."""
    scope = cfg.get('default_scope', None)
    if scope in TASK_BY_SCOPE:
        return TASK_BY_SCOPE[scope]
    model_type = str(cfg.get('model', {}).get('type', ''))
    if 'Classifier' in model_type:
        return 'cls'
    if 'EncoderDecoder' in model_type:
        return 'seg'
    if model_type.split('.')[-1] in ('SingleStageDetector', 'RetinaNet', 'SSD', 'YOLOV3', 'FCOS'):
        return 'det'
    raise ToolError(
        f'cannot tell the task of this config: default_scope={scope!r}, model.type={model_type!r}; '
        f'add default_scope = one of {", ".join(TOOLBOXES)} to the config')


def setup_scope(cfg, path: str = 'the config') -> str:
    """Check ``default_scope`` and register the toolbox's modules, as the upstream tools do; the
    toolbox scope becomes the default scope (``Config.fromfile`` already imported ``custom_imports``).

    Returns:
        str: The scope (``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``).
    """
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


def prepare_config(args) -> Tuple[object, str]:
    """The config a Runner tool (train / test) runs, after the checks that need no Runner.

    Loads ``args.config``, sets ``launcher``, checks and merges ``--cfg-options``, registers the
    toolbox of ``default_scope``, and sets ``work_dir`` (CLI > config > ./work_dirs/<config name>).

    Returns:
        tuple: ``(cfg, scope)``.
    """
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    scope = setup_scope(cfg, args.config)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg, scope


def default_input_shape(task: str) -> Tuple[int, int]:
    """A sensible (H, W) when none is given: 224 (cls), 320 (det), 1024x2048 (seg)."""
    return {'cls': (224, 224), 'det': (320, 320)}.get(task, (1024, 2048))
