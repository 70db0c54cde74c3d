"""Metrics, defined once (the README and the UI quote these definitions).

- τ (tau): mean tokens emitted per target forward, the bonus/correction token included;
  plain decoding has τ = 1.00.
- acceptance rate: accepted draft tokens / drafted tokens, over the whole run.
- per-position acceptance: for draft position i (1-based depth), accepted nodes at depth i
  / rounds that drafted a node at depth i and accepted every node above it.
- tokens/s: new tokens / wall time of the whole generation, prefill included.
- speedup: tokens/s of a method / tokens/s of plain decoding of the same target, same
  prompt, same process, after warm-up.
- analytic bound: the speedup a zero-overhead engine would reach with the measured
  per-position acceptance, drafter cost per token and target verify-cost curve
  (`analytic_speedup`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from playground.engine.events import RunSummary, Step

if TYPE_CHECKING:
    from playground.engine.loop import Engine


def tau(steps: Sequence[Step]) -> float:
    return sum(len(s.emitted) for s in steps) / len(steps) if steps else math.nan


def acceptance_rate(steps: Sequence[Step]) -> float:
    drafted = sum(s.num_draft_tokens for s in steps)
    return sum(s.num_accepted for s in steps) / drafted if drafted else math.nan


def per_position_acceptance(steps: Sequence[Step]) -> list[float]:
    """Conditional acceptance α_i by draft depth (chain position for chains)."""
    reached: list[int] = []
    accepted: list[int] = []
    for step in steps:
        if not step.draft_tokens:
            continue
        depths = _depths(step.draft_parents)
        max_depth = max(depths)
        accepted_depth = len(step.accepted)
        for depth in range(1, min(accepted_depth + 1, max_depth) + 1):
            while len(reached) < depth:
                reached.append(0)
                accepted.append(0)
            reached[depth - 1] += 1
            accepted[depth - 1] += depth <= accepted_depth
    return [a / r for a, r in zip(accepted, reached, strict=True)]


def _depths(parents: list[int]) -> list[int]:
    depth: list[int] = []
    for parent in parents:
        depth.append(1 if parent < 0 else depth[parent] + 1)
    return depth


def expected_tokens_per_round(alphas: Sequence[float], num_draft_tokens: int) -> float:
    """1 + Σ_{i≤γ} Π_{j≤i} α_j: expected tokens per round for a chain of γ tokens."""
    total, survive = 1.0, 1.0
    for i in range(num_draft_tokens):
        survive *= alphas[min(i, len(alphas) - 1)] if alphas else 0.0
        total += survive
    return total


def analytic_speedup(
    alphas: Sequence[float], draft_cost: float, verify_cost: Sequence[float], num_draft_tokens: int
) -> float:
    """Speedup of a zero-overhead engine over plain decoding, all costs in target forwards.

    draft_cost: drafter time per drafted token / one plain target forward.
    verify_cost[n]: time of a target forward over n tokens / one plain forward (n ≥ 1;
    the list is extended flat past its end).
    """
    gamma = num_draft_tokens
    verify = verify_cost[min(gamma + 1, len(verify_cost) - 1)]
    return expected_tokens_per_round(alphas, gamma) / (gamma * draft_cost + verify)


def measured_bound(steps: Sequence[Step], plain_forward: float | None) -> float | None:
    """The analytic bound for this run, from its own steps and the plain forward time."""
    drafted = [s for s in steps if s.draft_tokens]
    alphas = per_position_acceptance(steps)
    if not drafted or not plain_forward or not alphas:
        return None
    num_drafted = sum(s.num_draft_tokens for s in drafted)
    draft_cost = sum(s.draft_time for s in drafted) / num_drafted / plain_forward
    gamma = round(num_drafted / len(drafted))
    by_size: dict[int, list[float]] = {}
    for s in drafted:
        by_size.setdefault(s.num_draft_tokens + 1, []).append(s.verify_time)
    curve = [1.0] * (max(by_size) + 1)
    for size in range(2, len(curve)):
        times = by_size.get(size)
        curve[size] = (sorted(times)[len(times) // 2] / plain_forward) if times else curve[size - 1]
    return analytic_speedup(alphas, draft_cost, curve, gamma)


def end_to_end_bound(
    decode_bound: float | None, plain: RunSummary, run: RunSummary
) -> float | None:
    """`decode_bound` (decoding only) turned into a bound on whole-generation speedup:
    plain's wall time over this run's prefill plus plain's decode time / decode_bound."""
    if not decode_bound:
        return None
    plain_decode = plain.wall_time - plain.prefill_time
    return plain.wall_time / (run.prefill_time + plain_decode / decode_bound)


def summarize(engine: Engine, prompt: str | list[int], steps: list[Step]) -> RunSummary:
    """Collect a run's Steps into a RunSummary (speedup is filled in by comparisons)."""
    ids = [t for s in steps for t in s.emitted]
    decode = sum(s.wall_time for s in steps)
    wall = decode + engine.prefill_time
    return RunSummary(
        label=engine.label,
        prompt=prompt if isinstance(prompt, str) else engine.target.decode(list(prompt)),
        text=engine.target.decode(ids),
        token_ids=ids,
        new_tokens=len(ids),
        steps=len(steps),
        tau=tau(steps),
        acceptance_rate=acceptance_rate(steps),
        per_position_acceptance=per_position_acceptance(steps),
        wall_time=wall,
        prefill_time=engine.prefill_time,
        draft_time=sum(s.draft_time for s in steps),
        verify_time=sum(s.verify_time for s in steps),
        sample_time=sum(s.sample_time for s in steps),
        tokens_per_s=len(ids) / wall if wall > 0 else math.nan,
        stop_reason=getattr(engine, "stop_reason", ""),
        config=engine.describe_config(),
    )


def plain_forward_time(steps: Sequence[Step]) -> float | None:
    """Median verify time of the rounds that drafted nothing (one-token forwards)."""
    times = sorted(s.verify_time for s in steps if not s.draft_tokens)
    return times[len(times) // 2] if times else None
