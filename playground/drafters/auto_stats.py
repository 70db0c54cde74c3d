"""What the `auto` drafter measures, and the speedup it predicts from it.

All costs are in units of one plain target forward (the median verify time of rounds
that drafted nothing), as in `analysis.metrics.analytic_speedup`:

- `VerifyCurve`: v(n), the time of a target forward over n tokens: v(1) = 1 and, for
  n ≥ 2, a line 1 + jump + slope·(n-1) fitted to every round's verify time (a step from
  one row to several is common: plain decoding's own head shortcut, batching thresholds),
  pulled toward a prior line (`PRIOR_JUMP`, `PRIOR_SLOPE`) until about 32 rounds are
  measured.
- `ArmStats`: per proposal source, the drafting time per drafted token (median) and the
  acceptance: per-position α_i for chains (Beta(1, 1) prior), tokens per round per
  budget for trees (trees are not chains, so only budgets tried are predicted).
- predicted speedup of (source, size) = expected tokens per round /
  (size · drafting cost + v(size + 1)); plain decoding is 1 by definition.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from playground.analysis.metrics import analytic_speedup

# The prior line: v(n) = 1 + PRIOR_JUMP + PRIOR_SLOPE·(n-1) for n ≥ 2. DESIGN.md's rule of
# thumb is 8 tokens ≈ 1.4 forwards; on the CPUs measured here (README, verify cost) any
# draft first costs a step of about 0.2 (the screened head and the padded 1-row kernels
# make a plain step relatively cheaper), then about 0.055 per token.
PRIOR_JUMP = 0.2
PRIOR_SLOPE = 0.055
PRIOR_ROUNDS = 4


class VerifyCurve:
    def __init__(self) -> None:
        self.plain: list[float] = []  # seconds of 1-token rounds
        self.samples: list[tuple[int, float]] = []  # (tokens, seconds) of rounds with drafts

    def record(self, tokens: int, seconds: float) -> None:
        if tokens == 1:
            self.plain.append(seconds)
        else:
            self.samples.append((tokens, seconds))

    @property
    def unit(self) -> float | None:
        return statistics.median(self.plain[-32:]) if self.plain else None

    def line(self) -> tuple[float, float]:
        """(jump, slope) of v(n) = 1 + jump + slope·(n-1), n ≥ 2: weighted least squares in
        plain forwards over the last 64 drafted rounds plus two pseudo-points on the prior
        line (n = 2 and n = 8) worth `PRIOR_ROUNDS` rounds each, fading to a twentieth of
        that as 32 rounds are measured; jump and slope are kept ≥ 0."""
        unit = self.unit
        measured = [] if unit is None else self.samples[-64:]
        weight = PRIOR_ROUNDS * max(0.05, 1.0 - len(measured) / 32)
        points = [
            (x, PRIOR_JUMP + PRIOR_SLOPE * x, weight) for x in (1.0, 7.0)
        ]  # (n - 1, v - 1, weight)
        points += [(n - 1.0, t / unit - 1.0, 1.0) for n, t in measured]
        sw = sum(w for _, _, w in points)
        sx = sum(w * x for x, _, w in points)
        sy = sum(w * y for _, y, w in points)
        sxx = sum(w * x * x for x, _, w in points)
        sxy = sum(w * x * y for x, y, w in points)
        slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
        jump = (sy - slope * sx) / sw
        if jump < 0:  # refit through the origin: no jump
            jump, slope = 0.0, sxy / sxx
        return jump, max(slope, 0.0)

    @property
    def slope(self) -> float:
        return self.line()[1]

    def curve(self, size: int) -> list[float]:
        """v[n] for n = 0..size + 1 (the list `analytic_speedup` takes); v[0] = v[1] = 1."""
        jump, slope = self.line()
        return [1.0 + (jump + slope * (n - 1) if n >= 2 else 0.0) for n in range(size + 2)]


@dataclass
class ArmStats:
    tree: bool = False
    misses: int = 0  # rounds where the source had nothing to draft (a plain round)
    costs: list[float] = field(default_factory=list)  # seconds per drafted token
    reached: list[int] = field(default_factory=list)  # chains: rounds that drafted depth i
    accepted: list[int] = field(default_factory=list)  # chains: ... and accepted it
    tree_tokens: dict[int, list[int]] = field(default_factory=dict)  # budget -> tokens/round
    tree_nodes: dict[int, list[int]] = field(default_factory=dict)  # budget -> nodes drafted
    prior: tuple[float, float] | None = None  # (α, rounds): e.g. from the layer search
    prior_cost: float | None = None  # cost in plain forwards, until measured

    def record(self, size: int, drafted: int, num_accepted: int, draft_seconds: float) -> None:
        """One round: `size` requested, `drafted` nodes proposed (a chain may be shorter)."""
        if not drafted:
            self.misses += 1
            return
        self.costs.append(draft_seconds / drafted)
        if self.tree:
            self.tree_tokens.setdefault(size, []).append(num_accepted + 1)
            self.tree_nodes.setdefault(size, []).append(drafted)
            return
        for i in range(min(num_accepted + 1, drafted)):
            while len(self.reached) <= i:
                self.reached.append(0)
                self.accepted.append(0)
            self.reached[i] += 1
            self.accepted[i] += i < num_accepted

    @property
    def rounds(self) -> int:
        drafted = (
            sum(len(v) for v in self.tree_tokens.values())
            if self.tree
            else (self.reached[0] if self.reached else 0)
        )
        return drafted + self.misses

    @property
    def miss_rate(self) -> float:
        return self.misses / self.rounds if self.rounds else 0.0

    def alphas(self) -> list[float]:
        a0, n0 = self.prior if self.prior else (0.5, 2.0)
        out = []
        for i in range(max(len(self.reached), 1)):
            reached = self.reached[i] if i < len(self.reached) else 0
            hits = self.accepted[i] if i < len(self.accepted) else 0
            out.append((hits + a0 * n0) / (reached + n0))
        return out

    def cost(self, unit: float | None) -> float:
        """Drafting time per token in plain forwards."""
        if self.costs and unit:
            return statistics.median(self.costs[-16:]) / unit
        return self.prior_cost if self.prior_cost is not None else 0.0

    def sizes(self, cap: int) -> list[int]:
        if self.tree:
            return sorted(s for s in self.tree_tokens if s <= cap)
        return list(range(1, cap + 1))

    def predict(self, size: int, unit: float | None, verify: VerifyCurve) -> float:
        """Predicted speedup over plain decoding of asking for `size` tokens per round.

        A round with a draft costs C = size · cost + v(size + 1) and yields E tokens
        (E = `analytic_speedup` · C for chains; for trees E and C are the means over the
        last rounds, C from the nodes actually drafted, which a self-sizing tree keeps
        below its budget); a miss is a
        plain round (1 token for 1). With miss rate m: (m + (1 - m) E) / (m + (1 - m) C).
        """
        curve = verify.curve(size)
        spend = size * self.cost(unit) + curve[size + 1]
        if not self.tree:
            tokens = analytic_speedup(self.alphas(), self.cost(unit), curve, size) * spend
        elif self.tree_tokens.get(size):
            tokens = statistics.mean(self.tree_tokens[size][-16:])
            # a tree may hold fewer nodes than its budget: spend what was drafted
            spend = statistics.mean(
                n * self.cost(unit) + curve[n + 1] for n in self.tree_nodes[size][-16:]
            )
        else:
            return 0.0
        m = self.miss_rate
        return (m + (1 - m) * tokens) / (m + (1 - m) * spend)
