"""DSI is never slower than SD, nor (with a server for the non-SI thread) plain decoding."""

from __future__ import annotations

import itertools
import math

import pytest

from playground.simulate.dsi import simulate_dsi
from playground.simulate.gantt import gantt_figure
from playground.simulate.sd import expected_sd_rate
from playground.simulate.workload import IIDAcceptance, Latencies

TARGET = 0.02  # seconds per single-token target forward
TOKENS = 8000
SLACK = 0.98  # Monte Carlo noise of an 8000-token run is about 1%

GRID = list(
    itertools.product(
        [0.05, 0.5, 2.0],  # drafter cost per token / target forward
        [0.0, 0.5, 0.9],  # acceptance α
        [1, 4],  # lookahead γ (SD's draft length)
        [1, 2, 8],  # target servers
    )
)


def latencies(cost: float) -> Latencies:
    return Latencies.linear(draft=cost * TARGET, target=TARGET, per_token=0.1)


@pytest.mark.parametrize(("cost", "alpha", "gamma", "servers"), GRID)
def test_never_slower_than_sd_or_plain(cost, alpha, gamma, servers, timeline_ok):
    lat = latencies(cost)
    dsi = simulate_dsi(lat, IIDAcceptance(alpha, seed=1), TOKENS, gamma, servers)
    timeline_ok(dsi)
    sd, plain = expected_sd_rate(lat, alpha, gamma), 1.0 / lat.forward(1)
    assert dsi.tokens_per_s >= SLACK * sd, f"DSI {dsi.tokens_per_s:.1f} < SD {sd:.1f} tok/s"
    if servers >= 2:  # N = 1 is pipelined SI: no server is left for the non-SI thread
        assert dsi.tokens_per_s >= SLACK * plain, f"DSI {dsi.tokens_per_s:.1f} < plain {plain:.1f}"


def test_single_server_with_useless_drafter_is_sd():
    lat = latencies(0.5)
    dsi = simulate_dsi(lat, IIDAcceptance(0.0), 500, 4, 1)
    assert math.isclose(dsi.tokens_per_s, expected_sd_rate(lat, 0.0, 4), rel_tol=1e-9)


def test_non_si_thread_keeps_plain_speed_with_useless_drafter():
    lat = latencies(0.5)
    dsi = simulate_dsi(lat, IIDAcceptance(0.0), 500, 4, 2)
    assert math.isclose(dsi.tokens_per_s, 1.0 / lat.forward(1), rel_tol=1e-6)
    assert dsi.busy("wasted") > 0, "the drafter's work is thrown away every round"


def test_more_servers_help_a_good_cheap_drafter():
    lat = latencies(0.05)
    rates = [
        simulate_dsi(lat, IIDAcceptance(0.9, seed=2), TOKENS, 4, n).tokens_per_s for n in (1, 2, 4)
    ]
    assert rates[0] < rates[1] < rates[2], rates


def test_gantt_figure_draws_every_lane():
    lat = latencies(0.3)
    result = simulate_dsi(lat, IIDAcceptance(0.7), 40, 3, 3, alpha=0.7)
    assert result.expected_tokens_per_s and result.expected_tokens_per_s > 0
    fig = gantt_figure(result.timeline, until=0.5)
    lanes = {y for trace in fig.data for y in trace.y}
    assert lanes == {"drafter", "target 1", "target 2", "target 3"}
    assert {trace.name for trace in fig.data} == {"draft", "verify", "wasted"}
    assert all(trace.orientation == "h" and trace.base is not None for trace in fig.data)
