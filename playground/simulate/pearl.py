"""PEARL (Liu et al. 2024, arXiv 2408.11850): pre-verify and post-verify, simulated.

One drafter and one target run side by side. PEARL alternates two phases:

- draft phase with pre-verify: the drafter drafts γ tokens while the target, in parallel,
  runs a single-token forward on the committed text and so decides the first drafted
  token as soon as it exists. If that token is rejected, the phase ends at once (the
  drafter's later tokens are wasted) with the target's token committed.
- verify phase with post-verify: the target verifies the remaining drafts in one forward
  while the drafter keeps drafting γ more tokens, assuming they will all be accepted.
  If they are, the forward's last row decides the first of the new drafts, and the next
  phase is again a verify phase over the rest of them (no drafting phase in between:
  the draft length adapts to the acceptance streak). Any rejection throws the new
  drafts away and returns to a draft phase.

A phase lasts until both devices are done (max of the two). The drafter drafts at least γ
tokens per phase and keeps going while the target is busy (PEARL's adaptive draft length;
a token still unfinished when the phase ends is dropped). γ defaults to PEARL's choice,
the target/drafter speed ratio: round(forward(1) / draft).
"""

from __future__ import annotations

from collections.abc import Callable

from playground.simulate.timeline import DRAFTER, Segment, SimResult, target_lane
from playground.simulate.workload import IIDAcceptance, Latencies

Acceptance = Callable[[], bool]
TARGET = target_lane(0)


def pearl_draft_length(lat: Latencies) -> int:
    """PEARL's γ: how many drafter tokens fit in one target forward (at least 1)."""
    return max(1, round(lat.forward(1) / lat.draft)) if lat.draft > 0 else 8


class _Pearl:
    def __init__(self, lat: Latencies, accept: Acceptance, gamma: int):
        self.lat, self.accept, self.gamma = lat, accept, gamma
        self.timeline: list[Segment] = []
        if lat.prefill:
            self.timeline.append(Segment(TARGET, 0.0, lat.prefill, "verify"))
        self.t, self.tokens, self.forwards = lat.prefill, 0, 0

    def _drafts(self, start: float, count: int) -> list[tuple[float, float]]:
        d = self.lat.draft
        return [(start + i * d, start + (i + 1) * d) for i in range(count)]

    def _settle(self, drafts: list[tuple[float, float]], kept: int, cut: float) -> None:
        """Draft segments: the first `kept` were committed, the rest wasted (cut at `cut`)."""
        for i, (start, end) in enumerate(drafts):
            if start < cut:
                kind = "draft" if i < kept else "wasted"
                self.timeline.append(Segment(DRAFTER, start, min(end, cut), kind))

    def _forward(self, start: float, n: int) -> float:
        end = start + self.lat.forward(n)
        self.timeline.append(Segment(TARGET, start, end, "verify"))
        self.forwards += 1
        return end

    def _count(self, busy: float) -> int:
        """Drafts made in a phase: γ, or as many as fit while the target is busy."""
        fit = int(busy / self.lat.draft + 1e-9) if self.lat.draft > 0 else 0
        return max(self.gamma, fit)

    def draft_phase(self) -> list[tuple[float, float]] | None:
        """Pre-verify; returns the drafts left for a verify phase (None: back to drafting)."""
        pre_end = self._forward(self.t, 1)
        drafts = self._drafts(self.t, self._count(pre_end - self.t))
        decided = max(drafts[0][1], pre_end)
        self.tokens += 1  # the first draft, or the target's token in its place
        if not self.accept():
            self._settle(drafts, 0, decided)
            self.t = decided
            return None
        self._settle(drafts[:1], 1, decided)
        self.t = max(decided, drafts[-1][1])
        return drafts[1:] or None

    def verify_phase(self, drafts: list[tuple[float, float]]) -> list[tuple[float, float]] | None:
        """Post-verify; returns the next drafts when every draft was accepted."""
        m = len(drafts)
        end = self._forward(self.t, m + 1)
        post = self._drafts(self.t, self._count(end - self.t))
        n = 0
        while n < m and self.accept():
            n += 1
        self._settle(drafts, n, end)
        self.tokens += n + 1  # accepted drafts, then a correction or the first new draft
        if n < m or post[0][1] > end or not self.accept():
            self._settle(post, 0, end)  # rejected, or the new draft came too late: bonus
            self.t = end
            return None
        self._settle(post[:1], 1, end)
        self.t = max(end, post[-1][1])
        return post[1:] or None

    def run(self, num_tokens: int) -> None:
        drafts = None
        while self.tokens < num_tokens:
            drafts = self.verify_phase(drafts) if drafts else self.draft_phase()


def simulate_pearl(
    lat: Latencies,
    accept: Acceptance,
    num_tokens: int,
    num_draft_tokens: int | None = None,
    alpha: float | None = None,
) -> SimResult:
    """PEARL until `num_tokens` are committed; with `alpha`, the expected rate comes from a
    long i.i.d. run (prefill excluded)."""
    gamma = num_draft_tokens or pearl_draft_length(lat)
    sim = _Pearl(lat, accept, gamma)
    sim.run(num_tokens)
    expected = None if alpha is None else expected_pearl_rate(lat, alpha, gamma)
    return SimResult("pearl", sim.tokens, sim.t, sim.timeline, sim.forwards, expected)


def expected_pearl_rate(lat: Latencies, alpha: float, gamma: int, tokens: int = 20_000) -> float:
    steady = Latencies(lat.draft, lat.verify, lat.overhead)  # no prefill
    sim = _Pearl(steady, IIDAcceptance(alpha, seed=1), gamma)
    sim.run(tokens)
    return sim.tokens / sim.t
