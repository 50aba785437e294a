"""The seed of a search: config checks, and models built with other widths (``arch_overrides``)."""
import copy
from typing import Dict, Optional

from mmv3.apis import ToolError, build_model, load_config, task_of


def merge_overrides(base: Optional[Dict[int, dict]], new: Optional[Dict[int, dict]]) -> Dict[int, dict]:
    """``base`` with ``new`` merged per row and key (``new`` wins): what a config that ``_base_``s the
    seed and sets ``new`` ends up with (mmengine merges dicts)."""
    out = {int(r): dict(o) for r, o in (base or {}).items()}
    for r, o in (new or {}).items():
        out.setdefault(int(r), {}).update(o)
    return dict(sorted(out.items()))


def load_seed(config, cfg_options: Optional[dict] = None, tool: str = 'this tool'):
    """Load a seed config and check it is a classifier with a mmv3 MobileNet backbone.

    Returns:
        (Config, nn.Module): The config and its model (random init, eval mode).
    """
    cfg = load_config(config, cfg_options)
    task = task_of(cfg)
    if task != 'cls':
        raise ToolError(f'{tool} supports mmpretrain classification configs; this is a {task} config (the '
                        f'seg/det task loop is not supported yet: adapt the classification backbone, then '
                        f'use its arch_overrides in the {task} config)')
    model = build_model(cfg)
    if not hasattr(getattr(model, 'backbone', None), 'plan'):
        raise ToolError(f'{tool} needs a mmv3 MobileNet-family backbone (mmv3.MobileNetV3 / V2 / V1 / MnasNet), '
                        f'got {type(getattr(model, "backbone", None)).__name__}')
    return cfg, model


def build_variant(cfg, overrides: Optional[Dict[int, dict]]):
    """``cfg``'s model with ``model.backbone.arch_overrides`` = the seed's merged with ``overrides``."""
    cfg = copy.deepcopy(cfg)
    seed = cfg.model.backbone.get('arch_overrides', None)
    cfg.model.backbone['arch_overrides'] = merge_overrides(seed, overrides) or None
    return build_model(cfg)
