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
