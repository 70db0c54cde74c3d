"""Verification rules; each file is one algorithm, named after its paper's method."""

from playground.samplers import (  # noqa: F401  (registers)
    bild,
    cascade,
    greedy,
    lenient,
    rdk,
    rdk_linear,
    rsd,
    slem,
    slrs,
    specinfer,
    spectr,
    speculative,
    tli,
    tree_deterministic,
    tree_greedy,
    typical,
)
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict

__all__ = ["SAMPLERS", "Distribution", "Sampler", "Verdict"]
