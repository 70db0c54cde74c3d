"""Plain SD on the timeline: the closed form, and a recorded tiny-model run replayed."""

from __future__ import annotations

import math

import pytest

from playground.simulate.replay import replay, workload_from_trace
from playground.simulate.sd import expected_tokens_per_round, simulate_plain, simulate_sd
from playground.simulate.workload import IIDAcceptance, Latencies, outcomes_from_steps

LAT = Latencies.linear(draft=0.002, target=0.02, per_token=0.05)


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.8, 0.95])
@pytest.mark.parametrize("gamma", [1, 4, 8])
def test_tokens_per_round_match_the_closed_form(alpha, gamma, timeline_ok):
    result = simulate_sd(LAT, IIDAcceptance(alpha, seed=gamma), 200_000, gamma, alpha=alpha)
    expected = expected_tokens_per_round(alpha, gamma)
    measured = result.tokens / result.forwards
    assert math.isclose(measured, expected, rel_tol=0.01), (
        f"α={alpha}, γ={gamma}: {measured:.4f} tokens/round, closed form {expected:.4f}"
    )
    assert math.isclose(result.tokens_per_s, result.expected_tokens_per_s, rel_tol=0.01)


def test_plain_is_one_forward_per_token(timeline_ok):
    result = simulate_plain(LAT, 50)
    timeline_ok(result)
    assert math.isclose(result.tokens_per_s, 1 / LAT.forward(1))


def test_timeline_marks_rejected_drafts_wasted(timeline_ok):
    outcomes = iter([True, True, False] + [True] * 100)
    result = simulate_sd(LAT, lambda: next(outcomes), 3, 4)
    timeline_ok(result)
    drafter = [s for s in result.timeline if s.lane == "drafter"]
    assert [s.kind for s in drafter] == ["draft", "wasted"]
    assert math.isclose(drafter[0].end - drafter[0].start, 2 * LAT.draft)


def test_replaying_a_recorded_run_reproduces_its_speed(tmp_path, timeline_ok, record_tiny_trace):
    steps, summary = record_tiny_trace(tmp_path / "t.json", sampler="speculative")
    workload = workload_from_trace(tmp_path / "t.json")
    assert workload.outcomes == outcomes_from_steps(steps)
    result = replay(workload, "sd")
    timeline_ok(result)
    assert abs(result.tokens - summary.new_tokens) <= max(s.num_draft_tokens for s in steps) + 1
    ratio = result.tokens_per_s / summary.tokens_per_s
    assert 0.9 <= ratio <= 1.1, (
        f"replayed {result.tokens_per_s:.1f} tok/s vs measured {summary.tokens_per_s:.1f}"
    )


def test_parallel_schemes_replay_the_same_trace(tmp_path, timeline_ok, record_tiny_trace):
    record_tiny_trace(tmp_path / "t.json", sampler="speculative", schedule="fixed")
    workload = workload_from_trace(tmp_path / "t.json")
    for scheme, servers in (("plain", 1), ("dsi", 1), ("dsi", 4), ("pearl", 1)):
        result = replay(workload, scheme, servers=servers)
        timeline_ok(result)
        assert result.tokens >= workload.tokens and result.tokens_per_s > 0
