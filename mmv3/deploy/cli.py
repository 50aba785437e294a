"""Small helpers shared by the deployment / analysis CLIs."""
from typing import List, Optional


def parse_cfg_options(items: Optional[List[str]]) -> Optional[dict]:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}`` (mmengine's ``DictAction`` parsing)."""
    if not items:
        return None
    from mmengine.config import DictAction
    out = {}
    for item in items:
        if '=' not in item:
            raise SystemExit(f'--cfg-options expects KEY=VALUE, got {item!r}')
        key, val = item.split('=', 1)
        out[key] = DictAction._parse_iterable(val)
    return out
