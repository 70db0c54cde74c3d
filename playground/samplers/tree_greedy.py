"""`tree_greedy`: the greedy sampler, listed under its tree name.

`samplers.greedy.GreedySampler` already walks trees (at each level, the child whose
token is the target's argmax); this entry points at that same class, so the UI and the
CLI offer it next to the other tree samplers without a second implementation.
"""

from __future__ import annotations

from playground.samplers.base import SAMPLERS
from playground.samplers.greedy import GreedySampler

SAMPLERS.register(
    "tree_greedy",
    summary="tree: follow the child matching the target's argmax at each level (alias of greedy)",
    paper="Stern et al. 2018, Blockwise Parallel Decoding; Miao et al. 2024, SpecInfer (greedy)",
    tags=("trees",),
)(GreedySampler)
