"""Drive the simulators with a recorded run: its measured latencies and accept/reject sequence.

Record a trace with `python -m playground generate ... --trace t.json` (or
`engine.events.write_trace`), then `workload_from_trace("t.json")` gives the workload and
`replay(workload, "sd" | "dsi" | "pearl" | "plain", servers=N)` one simulated run. Replaying
through "sd" with the run's own draft lengths re-enacts its rounds with mean latencies,
so its tokens/s should match the measured one; "dsi" and "pearl" answer "what if these
same devices and this same acceptance were orchestrated in parallel?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from playground.engine.events import RunSummary, Step, read_trace
from playground.errors import ConfigError
from playground.simulate.dsi import simulate_dsi
from playground.simulate.pearl import simulate_pearl
from playground.simulate.sd import expected_sd_rate, simulate_plain, simulate_sd
from playground.simulate.timeline import SimResult
from playground.simulate.workload import (
    Latencies,
    ReplayAcceptance,
    latencies_from_steps,
    observed_alpha,
    outcomes_from_steps,
)

SCHEMES = ("plain", "sd", "dsi", "pearl")


@dataclass(frozen=True)
class TraceWorkload:
    latencies: Latencies
    outcomes: list[bool]  # accept/reject per checked draft token, in order
    draft_sizes: list[int]  # tokens drafted per round (0 for plain rounds)
    tokens: int  # tokens the run emitted
    measured_tokens_per_s: float | None  # the run's own (prefill included), if summarised
    alpha: float  # per-check acceptance of the outcome sequence

    @property
    def mean_draft_length(self) -> int:
        drafted = [k for k in self.draft_sizes if k]
        return max(1, round(sum(drafted) / len(drafted))) if drafted else 1


def workload_from_steps(steps: Sequence[Step], summary: RunSummary | None = None) -> TraceWorkload:
    if not steps:
        raise ConfigError("the trace has no steps")
    prefill = summary.prefill_time if summary else 0.0
    outcomes = outcomes_from_steps(steps)
    return TraceWorkload(
        latencies=latencies_from_steps(steps, prefill),
        outcomes=outcomes,
        draft_sizes=[s.num_draft_tokens for s in steps],
        tokens=sum(len(s.emitted) for s in steps),
        measured_tokens_per_s=summary.tokens_per_s if summary else None,
        alpha=observed_alpha(outcomes),
    )


def workload_from_trace(path: str | Path) -> TraceWorkload:
    steps, summary = read_trace(path)
    return workload_from_steps(steps, summary)


def replay(
    workload: TraceWorkload, scheme: str, servers: int = 1, lookahead: int | None = None
) -> SimResult:
    """One simulated run of `scheme` on the recorded devices and acceptance."""
    lat, tokens, alpha = workload.latencies, workload.tokens, workload.alpha
    gamma = lookahead or workload.mean_draft_length
    if scheme == "plain":
        return simulate_plain(lat, tokens)
    accept = ReplayAcceptance(workload.outcomes)
    if scheme == "sd":
        sizes = [lookahead] if lookahead else workload.draft_sizes
        result = simulate_sd(lat, accept, tokens, sizes)
        result.expected_tokens_per_s = expected_sd_rate(lat, alpha, gamma)
        return result
    if scheme == "dsi":
        return simulate_dsi(lat, accept, tokens, gamma, servers, alpha=alpha)
    if scheme == "pearl":
        return simulate_pearl(lat, accept, tokens, lookahead, alpha=alpha)
    raise ConfigError(f"unknown scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
