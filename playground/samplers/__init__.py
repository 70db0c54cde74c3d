"""Verification rules; each file is one algorithm, named after its paper's method."""

from playground.samplers import greedy, rdk, slem, slrs, speculative, tli  # noqa: F401  (registers)
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict

__all__ = ["SAMPLERS", "Distribution", "Sampler", "Verdict"]
