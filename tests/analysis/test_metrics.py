"""Metric definitions on hand-made Steps."""

import math

import pytest

from playground.analysis.metrics import (
    acceptance_rate,
    analytic_speedup,
    end_to_end_bound,
    expected_tokens_per_round,
    measured_bound,
    per_position_acceptance,
    tau,
)
from playground.engine.events import RunSummary, Step


def chain_step(drafted: int, accepted: int, verify=1.0, draft=0.0) -> Step:
    return Step(
        index=0,
        draft_tokens=list(range(drafted)),
        draft_parents=list(range(-1, drafted - 1)),
        accepted=list(range(accepted)),
        emitted=list(range(accepted + 1)),
        verify_time=verify,
        draft_time=draft,
    )


def test_tau_counts_the_bonus_token_and_plain_is_one():
    assert tau([Step(index=i, emitted=[1]) for i in range(5)]) == 1.0
    assert tau([chain_step(4, 4), chain_step(4, 0)]) == 3.0


def test_acceptance_rate_and_per_position():
    steps = [chain_step(3, 3), chain_step(3, 1), chain_step(3, 0)]
    assert acceptance_rate(steps) == pytest.approx(4 / 9)
    # position 1 reached 3x accepted 2x; position 2 reached 2x accepted 1x; position 3 1/1.
    assert per_position_acceptance(steps) == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert math.isnan(acceptance_rate([Step(index=0, emitted=[1])]))


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("gamma", [1, 4, 8])
def test_expected_tokens_matches_the_closed_form(alpha, gamma):
    closed = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    assert expected_tokens_per_round([alpha], gamma) == pytest.approx(closed)


def test_analytic_speedup_free_drafts_and_flat_verify_cost_equal_expected_tokens():
    assert analytic_speedup([0.8], 0.0, [1.0, 1.0], 4) == pytest.approx(
        expected_tokens_per_round([0.8], 4)
    )
    assert analytic_speedup([0.0], 0.5, [1.0, 1.0, 1.0], 1) == pytest.approx(1 / 1.5)


def test_measured_bound_uses_the_runs_own_costs():
    steps = [chain_step(2, 2, verify=0.2, draft=0.02)] * 4
    # α = 1 at both positions: E = 3 tokens; cost = 2 * (0.01/0.1) + 0.2/0.1 = 2.2 forwards.
    assert measured_bound(steps, plain_forward=0.1) == pytest.approx(3 / 2.2)
    assert measured_bound(steps, plain_forward=None) is None


def summary(wall: float, prefill: float) -> RunSummary:
    return RunSummary(
        "x", "p", "t", [], 10, 1, 1.0, math.nan, [], wall, prefill, 0.0, 0.0, 0.0, 1.0
    )


def test_end_to_end_bound_keeps_the_prefill_both_runs_pay():
    plain = summary(wall=10.0, prefill=2.0)  # 8 s of decoding
    run = summary(wall=5.0, prefill=2.0)
    # a decode bound of 2x halves the 8 s: 10 / (2 + 4)
    assert end_to_end_bound(2.0, plain, run) == pytest.approx(10 / 6)
    assert end_to_end_bound(None, plain, run) is None
    no_prefill = summary(wall=8.0, prefill=0.0)
    assert end_to_end_bound(2.0, no_prefill, no_prefill) == pytest.approx(2.0)
