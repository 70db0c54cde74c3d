"""Plain decoding and plain speculative decoding (Leviathan et al. 2023) on a timeline.

SD runs one device at a time: the drafter drafts γ tokens (γ · draft), then the target
verifies them in one forward over γ + 1 tokens; n accepted tokens plus the correction or
bonus token are committed. With i.i.d. acceptance α the expected tokens per round is

    E[tokens/round] = (1 - α^{γ+1}) / (1 - α)                 (Leviathan et al., eq. 1)

and the expected rate E[tokens/round] / (γ · draft + forward(γ + 1)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from playground.simulate.timeline import DRAFTER, Segment, SimResult, target_lane
from playground.simulate.workload import Latencies

Acceptance = Callable[[], bool]
TARGET = target_lane(0)


def expected_tokens_per_round(alpha: float, num_draft_tokens: int) -> float:
    """(1 - α^{γ+1}) / (1 - α), which is γ + 1 at α = 1."""
    if alpha >= 1.0:
        return num_draft_tokens + 1.0
    return (1.0 - alpha ** (num_draft_tokens + 1)) / (1.0 - alpha)


def expected_sd_rate(lat: Latencies, alpha: float, num_draft_tokens: int) -> float:
    """Steady-state tokens/s of SD (prefill excluded)."""
    round_time = num_draft_tokens * lat.draft + lat.forward(num_draft_tokens + 1)
    return expected_tokens_per_round(alpha, num_draft_tokens) / round_time


def simulate_plain(lat: Latencies, num_tokens: int) -> SimResult:
    """Autoregressive decoding: one single-token target forward per token."""
    timeline = [Segment(TARGET, 0.0, lat.prefill, "verify")] if lat.prefill else []
    t = lat.prefill
    for _ in range(num_tokens):
        timeline.append(Segment(TARGET, t, t + lat.forward(1), "verify"))
        t += lat.forward(1)
    return SimResult("plain", num_tokens, t, timeline, num_tokens, 1.0 / lat.forward(1))


def simulate_sd(
    lat: Latencies,
    accept: Acceptance,
    num_tokens: int,
    num_draft_tokens: int | Sequence[int],
    alpha: float | None = None,
) -> SimResult:
    """SD until `num_tokens` are committed; a sequence of draft lengths replays a run's rounds
    (cycled if it runs out). `alpha` (if known) fills in the closed-form expected rate."""
    sizes = [num_draft_tokens] if isinstance(num_draft_tokens, int) else list(num_draft_tokens)
    timeline = [Segment(TARGET, 0.0, lat.prefill, "verify")] if lat.prefill else []
    t, tokens, rounds = lat.prefill, 0, 0
    while tokens < num_tokens:
        k = sizes[rounds % len(sizes)]
        n = _accepted(accept, k)
        accepted_end = t + n * lat.draft
        draft_end = t + k * lat.draft
        if n:
            timeline.append(Segment(DRAFTER, t, accepted_end, "draft"))
        if k > n:
            timeline.append(Segment(DRAFTER, accepted_end, draft_end, "wasted"))
        verify_end = draft_end + lat.forward(k + 1)
        timeline.append(Segment(TARGET, draft_end, verify_end, "verify"))
        t, tokens, rounds = verify_end, tokens + n + 1, rounds + 1
    expected = None
    if alpha is not None and isinstance(num_draft_tokens, int):
        expected = expected_sd_rate(lat, alpha, num_draft_tokens)
    return SimResult("sd", tokens, t, timeline, rounds, expected)


def _accepted(accept: Acceptance, k: int) -> int:
    """Tokens accepted in a chain of k: outcomes are read until the first rejection."""
    n = 0
    while n < k and accept():
        n += 1
    return n
