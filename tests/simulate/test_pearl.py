"""PEARL's two phases reach their closed-form rates at the extremes of acceptance."""

from __future__ import annotations

import math

import pytest

from playground.simulate.pearl import pearl_draft_length, simulate_pearl
from playground.simulate.workload import IIDAcceptance, Latencies

LAT = Latencies.linear(draft=0.004, target=0.02, per_token=0.05)


def test_default_draft_length_is_the_speed_ratio():
    assert pearl_draft_length(LAT) == 5


def test_nothing_accepted_is_one_token_per_pre_verify(timeline_ok):
    result = simulate_pearl(LAT, IIDAcceptance(0.0), 200)
    timeline_ok(result)
    assert math.isclose(result.tokens_per_s, 1 / max(LAT.draft, LAT.forward(1)), rel_tol=1e-9)


def steady_verify_rate(gamma: int) -> float:
    """All accepted: verify phases of m drafts; the drafter makes max(γ, fit) meanwhile."""
    m = gamma - 1
    for _ in range(50):  # the fixed point of m -> drafts made during forward(m + 1), minus one
        made = max(gamma, int(LAT.forward(m + 1) / LAT.draft + 1e-9))
        m = made - 1
    return (m + 1) / max(LAT.forward(m + 1), made * LAT.draft)


@pytest.mark.parametrize("gamma", [2, 5, 9])
def test_everything_accepted_is_pipelined(gamma, timeline_ok):
    """Steady state: each verify phase commits its drafts plus the next phase's first."""
    result = simulate_pearl(LAT, IIDAcceptance(1.0), 20_000, gamma)
    timeline_ok(result)
    assert math.isclose(result.tokens_per_s, steady_verify_rate(gamma), rel_tol=0.01)
    assert result.busy("wasted") == 0


def test_expected_rate_comes_with_alpha():
    result = simulate_pearl(LAT, IIDAcceptance(0.7, seed=3), 2000, alpha=0.7)
    assert math.isclose(result.tokens_per_s, result.expected_tokens_per_s, rel_tol=0.05)
