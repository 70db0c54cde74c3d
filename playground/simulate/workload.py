"""What a simulator is fed: device latencies and a stream of accept/reject outcomes.

Either from parameters (`Latencies.linear`, `IIDAcceptance`) or from a recorded run
(`workload_from_steps`: the run's measured latencies and its accept/reject sequence).

Outcomes are per drafted token, in the order a verifier checks them: True when the token
is accepted given that every token before it was. A round of plain SD that drafted k and
accepted n checked n + 1 tokens (n when n = k): n Trues, then a False if n < k. Replaying
that sequence through the SD simulator with the run's draft lengths reproduces the run's
rounds exactly; other schemes group tokens differently and read the same sequence as a
per-token stream (cycled if they need more than the run checked).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from playground.engine.events import Step
from playground.errors import ConfigError


@dataclass(frozen=True)
class Latencies:
    """Seconds per device operation."""

    draft: float  # the drafter, per drafted token
    verify: tuple[float, ...]  # verify[n - 1]: one target forward over n tokens (n ≥ 1)
    overhead: float = 0.0  # per target forward: sampling and bookkeeping on the target lane
    prefill: float = 0.0  # the prompt's forward, before the first round

    def __post_init__(self) -> None:
        if self.draft < 0 or not self.verify or min(self.verify) <= 0:
            raise ConfigError("latencies must be positive: draft ≥ 0 and every verify > 0")

    def forward(self, n: int) -> float:
        """A target forward over n ≥ 1 tokens plus the round overhead; linear past the table."""
        table = self.verify
        if n <= len(table):
            return table[n - 1] + self.overhead
        slope = (table[-1] - table[0]) / (len(table) - 1) if len(table) > 1 else 0.0
        return table[-1] + slope * (n - len(table)) + self.overhead

    @classmethod
    def linear(
        cls, draft: float, target: float, per_token: float = 0.0, max_tokens: int = 65, **kw
    ) -> Latencies:
        """verify(n) = target · (1 + per_token · (n - 1)): a flat-ish GPU curve or a CPU one."""
        verify = tuple(target * (1.0 + per_token * (n - 1)) for n in range(1, max_tokens + 1))
        return cls(draft=draft, verify=verify, **kw)


def latencies_from_steps(steps: Sequence[Step], prefill: float = 0.0) -> Latencies:
    """Mean measured latencies of a run: drafter per token, target forward per size."""
    drafted = [s for s in steps if s.draft_tokens]
    num_drafted = sum(s.num_draft_tokens for s in drafted)
    draft = sum(s.draft_time for s in drafted) / num_drafted if num_drafted else 0.0
    by_size: dict[int, list[float]] = {}
    for step in steps:
        by_size.setdefault(step.num_draft_tokens + 1, []).append(step.verify_time)
    if not by_size:
        raise ConfigError("the trace has no steps to measure latencies from")
    known = {n: sum(v) / len(v) for n, v in by_size.items()}
    verify = tuple(_interpolate(known, n) for n in range(1, max(known) + 1))
    overhead = sum(s.sample_time for s in steps) / len(steps)
    return Latencies(draft=draft, verify=verify, overhead=overhead, prefill=prefill)


def _interpolate(known: dict[int, float], n: int) -> float:
    if n in known:
        return known[n]
    below = [m for m in known if m < n]
    above = [m for m in known if m > n]
    if not below:
        return known[min(above)]
    lo, hi = max(below), min(above)
    return known[lo] + (known[hi] - known[lo]) * (n - lo) / (hi - lo)


def outcomes_from_steps(steps: Sequence[Step]) -> list[bool]:
    """The run's accept/reject sequence, in checking order (see the module docstring)."""
    out: list[bool] = []
    for step in steps:
        if step.draft_tokens:
            out += [True] * step.num_accepted
            if step.num_accepted < step.num_draft_tokens:
                out.append(False)
    return out


def observed_alpha(outcomes: Sequence[bool]) -> float:
    """Per-check acceptance (the i.i.d. model's α): accepted / checked."""
    return sum(outcomes) / len(outcomes) if outcomes else 0.0


class IIDAcceptance:
    """Each checked token is accepted with probability α, independently (explicit generator)."""

    def __init__(self, alpha: float, seed: int = 0, block: int = 4096):
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"acceptance α must be in [0, 1], got {alpha}")
        self.alpha = alpha
        self._rng = torch.Generator().manual_seed(seed)
        self._block = block
        self._buffer: Iterator[bool] = iter(())

    def __call__(self) -> bool:
        value = next(self._buffer, None)
        if value is None:
            draws = torch.rand(self._block, generator=self._rng) < self.alpha  # (block,)
            self._buffer = iter(draws.tolist())
            value = next(self._buffer)
        return value


class ReplayAcceptance:
    """A recorded outcome sequence, read in order and cycled when exhausted."""

    def __init__(self, outcomes: Sequence[bool]):
        if not outcomes:
            raise ConfigError("the trace drafted nothing: no accept/reject outcomes to replay")
        self.outcomes = list(outcomes)
        self._stream = itertools.cycle(self.outcomes)
        self.used = 0

    def __call__(self) -> bool:
        self.used += 1
        return next(self._stream)

    @property
    def wrapped(self) -> bool:
        return self.used > len(self.outcomes)
