"""The baseline of a NetAdapt result: the uniform width multiplier with the same measured latency.

:func:`uniform_overrides` writes the widths of ``widen_factor=alpha`` as ``arch_overrides`` of the
seed (so the baseline starts from the seed's weights by the same largest-L1 populate as NetAdapt's
proposals, and is one more plain config); :func:`match_latency` picks the alpha whose measured
latency is closest to a given one (the table's prediction narrows the candidates first).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

from mmv3.apis import build_model
from mmv3.models.backbones.base_mobilenet import override_widths


def uniform_overrides(cfg, seed_plan, alpha: float, num_built: int) -> Optional[Dict[int, dict]]:
    """``arch_overrides`` of the seed that give ``widen_factor=alpha``'s widths (the taps of the head and
    the last built layer keep the seed's), or ``None`` when they cannot be expressed as widths only."""
    c = copy.deepcopy(cfg)
    c.model.backbone['widen_factor'] = alpha * cfg.model.backbone.get('widen_factor', 1.0)
    c.model.backbone['arch_overrides'] = None
    plan = build_model(c).backbone.plan
    ov = {}
    for i, (p, q) in enumerate(zip(seed_plan[:num_built - 1], plan[:num_built - 1])):
        o = {}
        if q.out != p.out:
            o['out'] = q.out
        if p.expand and q.mid != p.mid:
            o['exp'] = q.mid
        if o:
            ov[i] = o
    try:
        new = override_widths(seed_plan, ov)
    except ValueError:
        return None
    if any(n.out > p.out or (n.mid or 0) > (p.mid or 0) for n, p in zip(new, seed_plan)):
        return None
    return ov


def match_latency(lut, cfg, seed_model, input_hw, target_ms: float, alphas: Sequence[float],
                  measure_top: int = 3, target_model=None) -> Tuple[float, Dict[int, dict], List[dict]]:
    """The alpha of ``alphas`` whose measured latency is closest to ``target_ms`` (or to ``target_model``'s).

    With ``target_model``: a bisection over the alphas (latency grows with the width) on the ratio
    candidate / target model, each candidate timed interleaved with the target model (the conditions of
    the final comparison); the alpha whose ratio is closest to 1 wins (about log2(len(alphas)) + 2
    timings). Without: the table's prediction ranks the alphas by ``|predicted - target_ms|`` and the
    ``measure_top`` best are timed alone against ``target_ms``.

    Returns:
        (float, dict, list[dict]): alpha, its overrides and the candidates measured (alpha, predicted, measured).
    """
    from .common import build_variant
    bb = seed_model.backbone
    cands = []
    for a in sorted(alphas, reverse=True):
        ov = uniform_overrides(cfg, bb.plan, a, len(bb.layer_names))
        if ov is None:
            continue
        pred = lut.predict(seed_model, override_widths(bb.plan, ov), input_hw)
        cands.append(dict(alpha=a, overrides=ov, predicted_ms=pred))
    if not cands:
        raise ValueError('no uniform multiplier of the given alphas can be written as widths of the seed')
    if target_model is None:
        cands.sort(key=lambda c: abs(c['predicted_ms'] - target_ms))
        for c in cands[:measure_top]:
            c['measured_ms'] = lut.measure_network(build_variant(cfg, c['overrides']), input_hw)
            c['measured_ratio'] = c['measured_ms'] / target_ms
        best = min(cands[:measure_top], key=lambda c: abs(c['measured_ratio'] - 1))
        return best['alpha'], best['overrides'], cands[:measure_top]

    def ratio(i):
        c = cands[i]
        if 'measured_ratio' not in c:
            c['measured_ms'], c['target_ms'] = lut.measure_networks(
                [build_variant(cfg, c['overrides']), target_model], input_hw)
            c['measured_ratio'] = c['measured_ms'] / c['target_ms']
        return c['measured_ratio']

    lo, hi = 0, len(cands) - 1  # widest (slowest) ... narrowest (fastest)
    if ratio(lo) > 1 and ratio(hi) < 1:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ratio(mid) >= 1:
                lo = mid
            else:
                hi = mid
    tried = [c for c in cands if 'measured_ratio' in c]
    best = min(tried, key=lambda c: abs(c['measured_ratio'] - 1))
    return best['alpha'], best['overrides'], tried
