"""mmv3.search: the paper's latency-driven width search on the user's machine (Section 4.2).

- :mod:`.proposals`: NetAdapt proposals over ``arch_overrides`` (shrink one expansion, or the
  bottleneck width of a residual group), each cutting the predicted latency by at least delta;
- :mod:`.populate`: a proposal's weights from the previous model (largest-L1 filters kept);
- :mod:`.netadapt`: the search loop (short fine-tune, dAcc / |dLatency|, resumable) and its outputs.

The latency look-up table is :mod:`mmv3.analysis.latency_table`.
"""
from .common import build_variant, load_seed, merge_overrides
from .proposals import PROPOSAL_KINDS, Proposal, make_proposals, parse_kinds, search_units

__all__ = ['build_variant', 'load_seed', 'merge_overrides', 'PROPOSAL_KINDS', 'Proposal', 'make_proposals',
           'parse_kinds', 'search_units']
