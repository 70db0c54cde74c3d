"""The walk every tree sampler shares: from the root, pick a child per level or stop.

At each node the sampler's *node rule* looks at the children drawn there (in drawing
order, `Draft.draws_at`) against the target's row for that node and either accepts one
child (the walk moves to it) or rejects them all and returns the distribution the
correction token is drawn from. A node without children ends the walk with a bonus
token from the target's row. Since the rule at each node outputs a token that follows
that row exactly, and the walk then continues with the row after that token, the emitted
text follows the target distribution token by token (lossless by induction on depth).

Node rules are batched: `p` (B, vocab), `q` (B, vocab) or None, `tokens` and `uniforms`
(B, m) — B independent nodes with m draws each — so the distribution tests can run
hundreds of thousands of draws at once; the walk calls them with B = 1.

Randomness: one uniform per draw, drawn up front from the explicit generator (as the
chain sampler does, so a chain-shaped tree reproduces it seed for seed), then one
draw for the correction or bonus token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers.base import Distribution, Verdict, residual_top, sample_from


@dataclass
class NodeDecision:
    chosen: torch.Tensor  # (B,) long: index of the accepted draw, -1 when all were rejected
    accept_probs: torch.Tensor  # (B, m): acceptance probability of each tried draw, nan if untried
    residual: torch.Tensor  # (B, vocab): the correction's law when chosen == -1


# rule(p (B, V), q (B, V) | None, tokens (B, m), uniforms (B, m)) -> NodeDecision
NodeRule = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor], NodeDecision]


def normalise(weights: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Rows of `weights` (B, V) scaled to sum 1; rows that sum to 0 take `fallback`'s row."""
    total = weights.sum(dim=-1, keepdim=True)  # (B, 1)
    return torch.where(total > 0, weights / total.clamp_min(1e-38), fallback)


def remove_tokens(p: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """p (B, V) with `tokens` (B, j) zeroed, renormalised (p itself where nothing is left)."""
    return normalise(p.scatter(1, tokens, 0.0), p)


def first_accepted(accept: torch.Tensor) -> torch.Tensor:
    """(B, m) bool -> (B,) index of the first True, -1 where there is none."""
    m = accept.shape[1]
    order = torch.where(accept, torch.arange(m), m)  # (B, m)
    first = order.min(dim=1).values  # (B,)
    return torch.where(first < m, first, -1)


def tried_mask(chosen: torch.Tensor, m: int) -> torch.Tensor:
    """(B, m) bool: draws up to and including the accepted one (all of them if none was)."""
    last = torch.where(chosen < 0, m - 1, chosen)  # (B,)
    return torch.arange(m)[None, :] <= last[:, None]


def check_children_drawn(draft: Draft, sampler: str, allowed: tuple[str, ...], hint: str) -> None:
    """Refuse trees whose siblings were drawn another way than the rule assumes."""
    law = draft.children_drawn
    if draft.is_chain or draft.q_draft is None or law in allowed:
        return
    drawn = law or "an unspecified way"
    raise IncompatibleError(
        f"sampler {sampler!r} assumes children drawn {' or '.join(allowed)}, but this draft's "
        f"were drawn {drawn}; {hint}"
    )


def walk_tree(
    draft: Draft, p_target: Distribution, rng: torch.Generator, rule: NodeRule
) -> Verdict:
    """Verify `draft` with `rule` at every visited node; see the module docstring."""
    nodes = [-1, *range(draft.num_nodes)]
    offsets = [0]
    for node in nodes:
        offsets.append(offsets[-1] + len(draft.draws_at(node)))
    uniforms = torch.rand(offsets[-1], generator=rng)  # (num_draws,) drawn always: same seed
    accept_probs: list[float | None] = [None] * draft.num_nodes
    accepted: list[int] = []
    tried: list[float] = []
    node = -1
    while True:
        draws, row = draft.draws_at(node), node + 1
        detail = {"uniforms": tried}
        if not draws:
            next_token = p_target.sample(row, rng)
            return Verdict(accepted, next_token, accept_probs, "bonus", detail)
        u = uniforms[offsets[row] : offsets[row + 1]]  # (m,)
        decision = _decide(draft, p_target, rule, node, draws, u)
        probs = decision.accept_probs[0].tolist()
        for draw, prob, value in zip(draws, probs, u.tolist(), strict=True):
            if not math.isnan(prob):
                accept_probs[draw] = prob
                tried.append(value)
        chosen = int(decision.chosen[0])
        if chosen < 0:
            next_token = _correction(p_target, row, decision.residual[0], rng, detail)
            return Verdict(accepted, next_token, accept_probs, "correction", detail)
        node = draws[chosen]
        accepted.append(node)


def _decide(draft, p_target, rule, node, draws, uniforms) -> NodeDecision:
    p = p_target.probs[node + 1][None]  # (1, vocab)
    q = None if draft.q_draft is None else draft.q_draft[draws[0]][None]  # (1, vocab)
    tokens = draft.tokens[draws][None]  # (1, m)
    return rule(p, q, tokens, uniforms[None])


def _correction(p_target, row, residual, rng, detail) -> int:
    if p_target.greedy:  # the residual of a one-hot row is that row: its argmax
        return int(p_target.argmax[row])
    detail["residual_top"] = residual_top(residual)
    return sample_from(residual, rng)
