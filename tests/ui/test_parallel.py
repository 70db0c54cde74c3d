"""The parallel-schemes view as plain functions: Gantt rows, numbers, defaults, errors."""

from __future__ import annotations

import gradio as gr
import pytest

from playground import config as C
from playground.engine.events import Step
from playground.errors import ConfigError
from playground.simulate import (
    IIDAcceptance,
    Latencies,
    simulate_dsi,
    simulate_pearl,
    simulate_plain,
    simulate_sd,
)
from playground.ui import handlers, parallel
from playground.ui.parallel import SimInputs, run_key, simulate_scheme, simulation_defaults
from playground.ui.record import LegRecord, RunRecord
from playground.ui.wiring import guarded
from playground.worker import RunControl


@pytest.mark.parametrize(
    ("scheme", "servers", "rows"),
    [
        ("SD", 4, ["drafter", "target 1"]),
        ("PEARL", 4, ["drafter", "target 1"]),
        ("DSI", 1, ["drafter", "target 1"]),
        ("DSI", 3, ["drafter", "target 1", "target 2", "target 3"]),
        ("DSI", 8, ["drafter", *(f"target {i}" for i in range(1, 9))]),
    ],
)
def test_the_chart_has_one_row_per_device(scheme, servers, rows):
    view = simulate_scheme(SimInputs(scheme=scheme, servers=servers))
    axis = view.figure.layout.yaxis.categoryarray
    assert list(axis)[::-1] == rows, f"{scheme} with {servers} server(s) draws rows {rows}"
    drawn = {lane for trace in view.figure.data for lane in trace.y}
    assert drawn == set(rows), "every device has a row, idle DSI servers included"
    bars = {trace.name for trace in view.figure.data if trace.type == "bar"}
    assert bars == {"draft", "verify", "wasted"}, "bars are coloured by what the work was"


def simulator_result(sim: SimInputs):
    """What playground.simulate itself returns for these inputs (seed 0, SIM_TOKENS)."""
    lat = Latencies.linear(sim.draft_ms / 1000, sim.target_ms / 1000, sim.verify_growth)
    accept, n = IIDAcceptance(sim.alpha, seed=0), parallel.SIM_TOKENS
    if sim.scheme == "SD":
        return simulate_sd(lat, accept, n, sim.lookahead, sim.alpha), simulate_plain(lat, n)
    if sim.scheme == "DSI":
        result = simulate_dsi(lat, accept, n, sim.lookahead, sim.servers, alpha=sim.alpha)
        return result, simulate_plain(lat, n)
    return simulate_pearl(lat, accept, n, alpha=sim.alpha), simulate_plain(lat, n)


@pytest.mark.parametrize("scheme", parallel.SCHEMES)
def test_numbers_match_the_simulator(scheme):
    sim = SimInputs(scheme, 3, draft_ms=2.0, target_ms=20.0, verify_growth=0.2, alpha=0.7)
    view = simulate_scheme(sim)
    result, plain = simulator_result(sim)
    assert view.result.tokens_per_s == pytest.approx(result.tokens_per_s)
    assert view.result.expected_tokens_per_s == pytest.approx(result.expected_tokens_per_s)
    assert view.speedup == pytest.approx(result.tokens_per_s / plain.tokens_per_s)
    expected_speedup = result.expected_tokens_per_s / plain.expected_tokens_per_s
    assert view.expected_speedup == pytest.approx(expected_speedup)
    for shown in (
        f"{result.tokens_per_s:.1f}",
        f"{result.expected_tokens_per_s:.1f}",
        f"{result.tokens_per_s / plain.tokens_per_s:.2f}×",
        f"{expected_speedup:.2f}×",
    ):
        assert shown in view.summary, f"the summary shows the simulator's {shown}"


def test_the_same_inputs_give_the_same_chart():
    first, second = simulate_scheme(SimInputs()), simulate_scheme(SimInputs())
    assert first.figure == second.figure, "acceptance comes from an explicit seeded generator"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("servers", 9, "servers must be in"),
        ("servers", 0, "servers must be in"),
        ("draft_ms", 0.0, "draft_ms must be in"),
        ("target_ms", None, "target_ms must be a number"),
        ("verify_growth", -1.0, "verify_growth must be in"),
        ("alpha", 1.5, "sim_alpha must be in"),
        ("lookahead", 2.5, "whole number"),
        ("scheme", "Medusa", "scheme must be one of SD, DSI, PEARL"),
    ],
)
def test_bad_inputs_are_refused_with_a_message(field, value, match):
    sim = SimInputs(**{field: value})
    with pytest.raises(ConfigError, match=match):
        simulate_scheme(sim)
    with pytest.raises(gr.Error):  # what the page shows; the app keeps serving
        guarded(simulate_scheme)(sim)


def test_without_a_run_the_defaults_are_the_config_defaults():
    defaults = simulation_defaults(None, SimInputs(scheme="PEARL", servers=2))
    sim = defaults.inputs
    assert (sim.scheme, sim.servers) == ("PEARL", 2), "the user's scheme and servers stay"
    assert sim.draft_ms == C.SIM_DRAFT_MS.default and sim.target_ms == C.SIM_TARGET_MS.default
    assert sim.alpha == C.SIM_ALPHA.default and sim.lookahead == C.NUM_DRAFT_TOKENS.default
    assert "No run yet" in defaults.note


def drafted_round(index: int, accepted: int) -> Step:
    return Step(
        index=index,
        draft_tokens=[1, 2, 3, 4],
        draft_parents=[-1, 0, 1, 2],
        accepted=list(range(accepted)),
        emitted=[7] * (accepted + 1),
        draft_time=0.020,  # 5 ms per drafted token
        verify_time=0.030,  # a forward over 5 tokens
        sample_time=0.001,
    )


def plain_round(index: int) -> Step:
    return Step(index=index, emitted=[7], verify_time=0.010, sample_time=0.001)


def test_defaults_are_the_last_runs_measurements():
    record = RunRecord(
        legs=[
            LegRecord("model", "tiny:target", steps=[drafted_round(0, 2), drafted_round(1, 4)]),
            LegRecord("plain", "tiny:target", plain=True, steps=[plain_round(0), plain_round(1)]),
        ],
        finished=True,
    )
    defaults = simulation_defaults(record, SimInputs(scheme="SD", servers=6))
    sim = defaults.inputs
    assert (sim.scheme, sim.servers) == ("SD", 6)
    assert sim.draft_ms == pytest.approx(5.0), "drafter time per drafted token"
    # verify: 10 ms over 1 token, 30 ms over 5 → 5 ms per extra token; +1 ms sampling
    assert sim.target_ms == pytest.approx(11.0), "the one-token forward, overhead included"
    assert sim.verify_growth == pytest.approx(5.0 / 11.0, abs=1e-3), "rounded for the page"
    assert sim.alpha == pytest.approx(6 / 7, abs=0.005), "α per checked token: TTF then TTTT"
    assert sim.lookahead == 4
    assert "From the last run (model)" in defaults.note


def test_a_plain_run_fills_only_the_target_latency():
    record = RunRecord(legs=[LegRecord("plain", plain=True, steps=[plain_round(0)])])
    defaults = simulation_defaults(record)
    assert defaults.inputs.target_ms == pytest.approx(11.0)
    assert defaults.inputs.draft_ms == C.SIM_DRAFT_MS.default
    assert "drafted nothing" in defaults.note


def test_a_run_fills_the_view_once_it_has_finished(worker, make_inputs):
    updates = list(
        handlers.run_stream(
            worker, make_inputs(compare_plain=True, max_new_tokens=16), RunControl()
        )
    )
    record = updates[-1].record
    assert run_key(RunRecord(legs=record.legs)) is None, "a run still streaming fills nothing"
    assert run_key(record) is not None, "a finished run is new to the view"
    defaults = simulation_defaults(record)
    assert "From the last run" in defaults.note
    assert defaults.inputs.draft_ms > 0 and 0 <= defaults.inputs.alpha <= 1
    view = simulate_scheme(defaults.inputs)
    assert view.result.tokens >= parallel.SIM_TOKENS, "the measured devices simulate"
