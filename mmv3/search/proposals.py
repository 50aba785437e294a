"""NetAdapt proposals (Yang et al. 2018; the paper's Section 4.2) over ``arch_overrides``.

A proposal is one width change that cuts the predicted latency (:class:`LatencyTable`) by at
least ``delta_ms``, the smallest such change in steps of 8 channels:

- ``'expand'``: shrink one block's expansion layer (row ``exp``);
- ``'bottleneck'``: shrink the output width of every row that shares it (a residual group,
  :func:`~mmv3.models.backbones.base_mobilenet.residual_groups`, or one row outside any group),
  so the residual connections stay valid.

Rows whose outputs are taps (the last layer of a classifier, the taps of a seg / det head) keep
their widths: the head is built for them.
"""
import copy
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from mmv3.models.backbones.base_mobilenet import override_widths, residual_groups

PROPOSAL_KINDS = ('expand', 'bottleneck')
STEP = 8
MIN_WIDTH = 8


class Unit(NamedTuple):
    """One thing a proposal can shrink: ``kind``, its ``rows`` and the key it sets (``'exp'`` / ``'out'``)."""
    kind: str
    rows: Tuple[int, ...]
    key: str


class Proposal(NamedTuple):
    """One proposal: the unit, its new ``width``, the full ``overrides``, the new ``plan`` and latencies (ms)."""
    kind: str
    rows: Tuple[int, ...]
    width: int
    old_width: int
    overrides: Dict[int, dict]
    plan: list
    predicted: float
    drop: float

    def describe(self) -> str:
        what = 'exp' if self.kind == 'expand' else 'out'
        return f"{self.kind} rows {','.join(map(str, self.rows))} {what} {self.old_width}->{self.width}"

    def to_json(self) -> dict:
        return dict(kind=self.kind, rows=list(self.rows), width=self.width, old_width=self.old_width,
                    predicted_ms=self.predicted, predicted_drop_ms=self.drop, name=self.describe())


def parse_kinds(text) -> Tuple[str, ...]:
    """``'expand,bottleneck'`` -> a tuple of kinds (ValueError naming the allowed ones)."""
    kinds = tuple(k.strip() for k in (text.split(',') if isinstance(text, str) else text) if k.strip())
    bad = [k for k in kinds if k not in PROPOSAL_KINDS]
    if bad or not kinds:
        raise ValueError(f'--proposals {text!r}: use a comma-separated subset of {",".join(PROPOSAL_KINDS)}')
    return kinds


def search_units(plan, tap_rows: Sequence[int], inner_tap_rows: Sequence[int], num_built: int,
                 kinds: Sequence[str] = PROPOSAL_KINDS) -> List[Unit]:
    """The units a proposal may shrink, in row order (see the module docstring)."""
    taps = set(tap_rows)
    inner = set(inner_tap_rows)
    units = []
    if 'expand' in kinds:
        units += [Unit('expand', (i, ), 'exp') for i, p in enumerate(plan[:num_built])
                  if p.expand and i not in inner]
    if 'bottleneck' in kinds:
        groups = residual_groups(plan)
        grouped = {i for g in groups for i in g}
        cands = list(groups) + [(i, ) for i in range(num_built) if i not in grouped]
        for g in sorted(cands):
            if any(i in taps or i >= num_built - 1 for i in g):
                continue  # a tap (the head reads it) or the last built layer
            units.append(Unit('bottleneck', tuple(g), 'out'))
    return units


def unit_width(plan, unit: Unit) -> int:
    p = plan[unit.rows[0]]
    return p.mid if unit.key == 'exp' else p.out


def with_width(overrides: Optional[Dict[int, dict]], unit: Unit, width: int) -> Dict[int, dict]:
    """A copy of ``overrides`` with ``unit`` set to ``width``."""
    new = copy.deepcopy(dict(overrides or {}))
    for r in unit.rows:
        new.setdefault(r, {})[unit.key] = int(width)
    return new


def shrink_widths(width: int) -> List[int]:
    """Candidate widths below ``width``: multiples of 8, largest first, down to 8."""
    top = (width - 1) // STEP * STEP
    return list(range(top, MIN_WIDTH - 1, -STEP))


def make_proposals(lut, model, seed_plan, overrides, input_hw, delta_ms: float, units: Sequence[Unit]
                   ) -> Tuple[float, List[Proposal]]:
    """Every unit's smallest shrink whose predicted latency drops by >= ``delta_ms``.

    The candidate widths of a unit are tried by bisection (latency falls with width; the chosen
    width is checked, so every proposal does cut ``delta_ms`` in the table's prediction). Widths
    that ``override_widths`` refuses (e.g. an expansion equal to its input) are skipped.

    Returns:
        (float, list[Proposal]): The current predicted latency and the proposals.
    """
    current = override_widths(seed_plan, overrides)
    cur_lat = lut.predict(model, current, input_hw)
    out = []
    for unit in units:
        old = unit_width(current, unit)
        cands = []
        for w in shrink_widths(old):
            ov = with_width(overrides, unit, w)
            try:
                plan = override_widths(seed_plan, ov)
            except ValueError:
                continue
            cands.append((w, ov, plan))
        if not cands:
            continue
        cache = {}

        def lat(i):
            if i not in cache:
                cache[i] = lut.predict(model, cands[i][2], input_hw)
            return cache[i]

        if cur_lat - lat(len(cands) - 1) < delta_ms:
            continue  # even the narrowest width does not cut delta
        lo, hi = 0, len(cands) - 1  # hi cuts enough
        while lo < hi:
            mid = (lo + hi) // 2
            if cur_lat - lat(mid) >= delta_ms:
                hi = mid
            else:
                lo = mid + 1
        w, ov, plan = cands[hi]
        out.append(Proposal(unit.kind, unit.rows, w, old, ov, plan, lat(hi), cur_lat - lat(hi)))
    return cur_lat, out
