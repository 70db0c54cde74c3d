"""The parallel-schemes view: SD, DSI or PEARL simulated on the user's devices.

`simulation_defaults(record)` reads the last run's measured drafter and target latencies
and its accept/reject sequence (as `python -m playground.simulate parallel --trace` does);
`simulate_scheme(inputs)` runs the chosen scheme and plain decoding through
`playground.simulate` with i.i.d. acceptance and returns the Gantt chart (which device
does what when) with the expected and simulated tokens/s and speedups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import plotly.graph_objects as go

from playground import config as C
from playground.engine.events import Step
from playground.errors import ConfigError
from playground.simulate import (
    IIDAcceptance,
    Latencies,
    SimResult,
    gantt_figure,
    simulate_dsi,
    simulate_pearl,
    simulate_plain,
    simulate_sd,
)
from playground.simulate.pearl import pearl_draft_length
from playground.simulate.timeline import DRAFTER, target_lane
from playground.simulate.workload import observed_alpha, outcomes_from_steps
from playground.ui.record import RunRecord

SCHEMES = ("SD", "DSI", "PEARL")
SIM_TOKENS = 1000  # tokens each simulated run commits
GANTT_FORWARDS = 24  # the chart spans this many one-token target forwards
LOOKAHEAD_HIGH = 16  # the view's lookahead slider stops here (the knob allows more)


@dataclass(frozen=True)
class SimInputs:
    scheme: str = "DSI"
    servers: int = C.SIM_SERVERS.default
    draft_ms: float = C.SIM_DRAFT_MS.default
    target_ms: float = C.SIM_TARGET_MS.default
    verify_growth: float = C.SIM_VERIFY_GROWTH.default
    alpha: float = C.SIM_ALPHA.default
    lookahead: int = C.NUM_DRAFT_TOKENS.default

    def checked(self) -> SimInputs:
        """The same inputs validated against their knobs (ConfigError says what to fix)."""
        if self.scheme not in SCHEMES:
            raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        return SimInputs(
            self.scheme,
            C.SIM_SERVERS.check(self.servers),
            C.SIM_DRAFT_MS.check(self.draft_ms),
            C.SIM_TARGET_MS.check(self.target_ms),
            C.SIM_VERIFY_GROWTH.check(self.verify_growth),
            C.SIM_ALPHA.check(self.alpha),
            C.NUM_DRAFT_TOKENS.check(self.lookahead),
        )

    def latencies(self) -> Latencies:
        """forward(n) = target · (1 + verify_growth · (n - 1)); seconds."""
        return Latencies.linear(self.draft_ms / 1000, self.target_ms / 1000, self.verify_growth)

    def lanes(self) -> list[str]:
        """The devices the scheme uses: the drafter and one target server (N for DSI)."""
        servers = self.servers if self.scheme == "DSI" else 1
        return [DRAFTER, *(target_lane(i) for i in range(servers))]


# ---- defaults from the last run ------------------------------------------------------------


@dataclass(frozen=True)
class SimDefaults:
    inputs: SimInputs
    note: str  # where the numbers came from, for the page


def run_key(record: RunRecord | None) -> str | None:
    """Identifies a finished run, so its numbers fill the view once and never overwrite
    the user's later edits; None while nothing has finished."""
    if record is None or not record.finished or not record.legs:
        return None
    legs = ",".join(f"{leg.label}:{len(leg.steps)}" for leg in record.legs)
    return f"{record.source}|{record.prompt}|{legs}|{record.status}"


def simulation_defaults(record: RunRecord | None, current: SimInputs | None = None) -> SimDefaults:
    """Latencies, α and lookahead measured in the last run (its main leg, with the plain
    leg for the one-token forward); the config defaults where the run measured nothing.
    Scheme and servers stay as the user chose them."""
    current = current or SimInputs()
    base = replace(SimInputs(), scheme=current.scheme, servers=current.servers)
    main = record.main if record is not None else None
    if main is None or not main.steps:
        return SimDefaults(base, "No run yet: the config defaults are filled in.")
    plain = record.plain_for(main)
    reference = main.steps if main.plain else (plain.steps if plain is not None else [])
    spec = [] if main.plain else main.steps
    target_ms, growth = _target_latency(spec, reference)
    filled = replace(
        base,
        target_ms=_clamp(C.SIM_TARGET_MS, target_ms),
        verify_growth=_clamp(C.SIM_VERIFY_GROWTH, growth),
    )
    drafted = [s for s in spec if s.draft_tokens]
    if not drafted:
        note = (
            f"From the last run ({main.label}): target {filled.target_ms:.2f} ms per forward. "
            "It drafted nothing, so drafter latency, α and lookahead keep their defaults."
        )
        return SimDefaults(filled, note)
    num_drafted = sum(s.num_draft_tokens for s in drafted)
    filled = replace(
        filled,
        draft_ms=_clamp(C.SIM_DRAFT_MS, 1000 * sum(s.draft_time for s in drafted) / num_drafted),
        alpha=_clamp(C.SIM_ALPHA, observed_alpha(outcomes_from_steps(spec)), 2),
        lookahead=int(min(LOOKAHEAD_HIGH, max(1, round(num_drafted / len(drafted))))),
    )
    note = (
        f"From the last run ({main.label}): drafter {filled.draft_ms:.2f} ms/token, target "
        f"{filled.target_ms:.2f} ms per one-token forward + {filled.verify_growth:.2f} of that "
        f"per extra token, α {filled.alpha:.2f} per checked draft token, "
        f"lookahead {filled.lookahead}."
    )
    if len({s.num_draft_tokens for s in [*spec, *reference]}) < 2:
        note += (
            " Every forward verified the same number of tokens, so the target latency is "
            "that forward's; tick *compare with plain decoding* to measure a one-token one."
        )
    return SimDefaults(filled, note)


def _target_latency(steps: Sequence[Step], plain: Sequence[Step]) -> tuple[float, float]:
    """(ms of a one-token forward, growth per extra token) fitted to every measured forward:
    verify time against tokens verified, plus the per-round overhead (sampling)."""
    rounds = [*steps, *plain]
    points = [(s.num_draft_tokens + 1, s.verify_time) for s in rounds]
    overhead = sum(s.sample_time for s in rounds) / len(rounds)
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = 0.0
    if spread > 0:
        slope = max(0.0, sum((x - mean_x) * (y - mean_y) for x, y in points) / spread)
    one = max(mean_y - slope * (mean_x - 1), 1e-6) + overhead  # the fit at n = 1, seconds
    return 1000 * one, slope / one if one > 0 else 0.0


def _clamp(knob: C.Knob, value: float, digits: int = 3) -> float:
    """A measured value within the knob's bounds, rounded for the page (α to the slider's
    0.01, latencies to a microsecond)."""
    if math.isnan(value):
        return knob.default
    low = knob.low if knob.low_inclusive else knob.low + 10**-digits
    return round(max(low, min(knob.high, value)), digits)


# ---- one simulation ------------------------------------------------------------------------


@dataclass
class SimView:
    inputs: SimInputs
    result: SimResult  # the chosen scheme
    plain: SimResult  # plain decoding on the same target
    figure: go.Figure
    summary: str  # markdown: expected vs simulated tokens/s and speedups

    @property
    def speedup(self) -> float:
        return self.result.tokens_per_s / self.plain.tokens_per_s

    @property
    def expected_speedup(self) -> float:
        return self.result.expected_tokens_per_s / self.plain.expected_tokens_per_s


def simulate_scheme(inputs: SimInputs) -> SimView:
    """The chosen scheme and plain decoding, SIM_TOKENS tokens each, i.i.d. acceptance
    from an explicit generator (seed 0), so the same inputs give the same chart."""
    sim = inputs.checked()
    lat = sim.latencies()
    accept = IIDAcceptance(sim.alpha, seed=0)
    if sim.scheme == "SD":
        result = simulate_sd(lat, accept, SIM_TOKENS, sim.lookahead, sim.alpha)
    elif sim.scheme == "DSI":
        result = simulate_dsi(lat, accept, SIM_TOKENS, sim.lookahead, sim.servers, alpha=sim.alpha)
    else:
        result = simulate_pearl(lat, accept, SIM_TOKENS, alpha=sim.alpha)
    plain = simulate_plain(lat, SIM_TOKENS)
    until = GANTT_FORWARDS * lat.forward(1)
    title = f"{scheme_label(sim)}: who does what when (first {until * 1000:.0f} ms)"
    figure = gantt_figure(result.timeline, until=until, title=title, lanes=sim.lanes())
    view = SimView(sim, result, plain, figure, "")
    view.summary = summary_markdown(view)
    return view


def scheme_label(sim: SimInputs) -> str:
    if sim.scheme == "DSI":
        return f"DSI, {sim.servers} target server{'s' if sim.servers > 1 else ''}"
    if sim.scheme == "PEARL":
        return f"PEARL, γ = {pearl_draft_length(sim.latencies())}"
    return f"SD, γ = {sim.lookahead}"


def summary_markdown(view: SimView) -> str:
    r, p = view.result, view.plain
    busy = sum(r.busy(kind) for kind in ("draft", "verify", "wasted"))
    wasted = r.busy("wasted") / busy if busy else 0.0
    rows = [
        "| | expected tokens/s | simulated tokens/s | expected speedup | simulated speedup |",
        "|---|---:|---:|---:|---:|",
        f"| plain decoding | {p.expected_tokens_per_s:.1f} | {p.tokens_per_s:.1f} "
        "| 1.00× | 1.00× |",
        f"| {scheme_label(view.inputs)} | {r.expected_tokens_per_s:.1f} | {r.tokens_per_s:.1f} "
        f"| {view.expected_speedup:.2f}× | {view.speedup:.2f}× |",
    ]
    notes = (
        f"Simulated: {r.tokens} tokens, {r.forwards} target forwards, {wasted:.0%} of device "
        "time wasted (drafts thrown away, forwards preempted). Expected: the closed form for "
        "plain and SD (Leviathan et al. 2023, eq. 1), a 20,000-token i.i.d. run for DSI and "
        "PEARL. PEARL picks its own draft length (target forward ÷ drafter latency); "
        "lookahead sets SD's and DSI's."
    )
    return "\n".join([*rows, "", f"<small>{notes}</small>"])
