"""Checks of a config that need no Runner: dataset folders and every registered ``type``.

Both run before a Runner is built, so a refused command writes nothing.
"""
import difflib
from typing import Tuple

from .errors import ToolError


def check_dataset_roots(cfg, loaders: Tuple[str, ...]) -> None:
    """Refuse a missing dataset root / annotation file / image folder / empty split, naming the fix
    (:func:`mmv3.datasets.checks.check_data_cfg`).

    Args:
        cfg (mmengine.Config): The config.
        loaders (tuple[str]): Dataloader keys to check, e.g. ``('train_dataloader', 'val_dataloader')``.
    """
    from mmv3.datasets.checks import DatasetNotReadyError, check_data_cfg
    splits = tuple(loader.replace('_dataloader', '') for loader in loaders)
    try:
        check_data_cfg(cfg, splits=splits)
    except DatasetNotReadyError as e:
        raise ToolError(str(e)) from None


def close_type_names(name: str, registry, n: int = 2):
    """Registered names close to ``name`` in ``registry``, its parent and its children (these as
    ``'<scope>.<name>'``, e.g. ``'mmv3.MobileNetV3'``)."""
    known = list(registry.module_dict)
    parent = registry.parent
    if parent is not None:
        known += list(parent.module_dict)
    for reg in (registry, parent):
        for scope, child in (getattr(reg, 'children', None) or {}).items():
            if child is not registry:
                known += [f'{scope}.{k}' for k in child.module_dict]
    short = name.split('.')[-1]
    close = difflib.get_close_matches(name, known, n=n, cutoff=0.7)
    if not close and short != name:
        close = difflib.get_close_matches(short, known, n=n, cutoff=0.7)
    if not close:  # 'mobilenetv3' -> 'MobileNetV3'
        close = [k for k in known if k.split('.')[-1].lower() == short.lower()][:n]
    return close


def _unknown_type_error(name: str, where: str, registry) -> ToolError:
    close = close_type_names(name, registry)
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


def check_dataset_files(cfg, splits: Tuple[str, ...]) -> None:
    """Pre-flight of the dataset *content* (label ids, label / image sizes, COCO boxes and
    categories, list entries, decodable images): :func:`mmv3.datasets.preflight.preflight_data_cfg`.
    ``tools/train.py`` / ``tools/test.py --skip-data-check`` skip it."""
    from mmv3.datasets.checks import DatasetNotReadyError
    from mmv3.datasets.preflight import preflight_data_cfg
    try:
        preflight_data_cfg(cfg, splits=splits)
    except DatasetNotReadyError as e:
        raise ToolError(str(e)) from None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_numeric_values(cfg, splits: Tuple[str, ...], train: bool = True) -> None:
    """Refuse values that would fail (or silently do nothing) once the Runner runs, naming the key:
    ``batch_size`` < 1, ``num_workers`` < 0, ``persistent_workers=True`` with ``num_workers=0``
    (torch's DataLoader raises), and for training ``lr`` <= 0, ``max_epochs`` / ``max_iters`` < 1,
    ``val_interval`` < 1."""
    for split in splits:
        key = f'{split}_dataloader'
        loader = cfg.get(key, None)
        if not isinstance(loader, dict):
            continue
        bs = loader.get('batch_size', 1)
        if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
            raise ToolError(f'{key}.batch_size must be a positive integer, got {bs!r}: '
                            f'set e.g. --cfg-options {key}.batch_size=2')
        nw = loader.get('num_workers', 0)
        if not isinstance(nw, int) or isinstance(nw, bool) or nw < 0:
            raise ToolError(f'{key}.num_workers must be an integer >= 0, got {nw!r}')
        if nw == 0 and loader.get('persistent_workers', False):
            raise ToolError(f'{key}.persistent_workers=True needs num_workers > 0 (torch DataLoader raises '
                            f'otherwise): set {key}.persistent_workers=False or {key}.num_workers=2')
    if not train:
        return
    opt = (cfg.get('optim_wrapper', None) or {}).get('optimizer', None)
    if isinstance(opt, dict) and 'lr' in opt:
        lr = opt['lr']
        if not _is_number(lr) or lr <= 0:
            raise ToolError(f'optim_wrapper.optimizer.lr must be a positive number, got {lr!r}: '
                            f'set e.g. --cfg-options optim_wrapper.optimizer.lr=0.01')
    tc = cfg.get('train_cfg', None)
    if isinstance(tc, dict):
        for k in ('max_epochs', 'max_iters', 'val_interval', 'val_begin'):
            if k not in tc:
                continue
            v = tc[k]
            low = 0 if k == 'val_begin' else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ToolError(f'train_cfg.{k} must be an integer >= {low}, got {v!r}: set e.g. '
                                f'--cfg-options train_cfg.{k}={max(low, 1)}')
