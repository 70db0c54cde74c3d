"""Verification of deterministic token trees (top-k children, no q_draft).

The rule of recursive rejection sampling (Jeon et al. 2024, arXiv 2402.14160) with
one-hot proposals; Sequoia (Chen et al. 2024, arXiv 2402.12374, §3.2) verifies its
top-k trees this way. Token Recycling, static top-k shapes and EAGLE-2-style dynamic
trees produce such drafts.

Rule. At a node with children x_1 … x_m (distinct in practice), p_1 = p, the target's
row. For i = 1 … m: accept x_i with probability p_i(x_i); otherwise p_{i+1} = p_i with
x_i removed, renormalised. If all are rejected, the correction token is drawn from
p_{m+1} = p restricted to the tokens not tried, renormalised.

Proof sketch (lossless). Fix the children. For distinct x's, P(emit x_i) =
Π_{j<i} (1 − p_j(x_j)) · p_i(x_i) = (1 − Σ_{j<i} p(x_j)) · p(x_i) / (1 − Σ_{j<i} p(x_j))
= p(x_i), and every other y is emitted with (1 − Σ_j p(x_j)) · p(y) / (1 − Σ_j p(x_j))
= p(y). A repeated child has p_i(x) = 0 and is never accepted. So conditioned on *any*
children the emitted token follows p; the rule never looks at q, and stays lossless
however the children were chosen, sampled ones included (it then just accepts less
than a rule that uses q). This is also the one-hot limit (q = δ_{x_i}) of the SpecInfer
and RSD rules, which use it when q_draft is None.
"""

from __future__ import annotations

import torch

from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tree_walk import NodeDecision, remove_tokens, tried_mask, walk_tree


def deterministic_node(
    p: torch.Tensor, q: torch.Tensor | None, tokens: torch.Tensor, uniforms: torch.Tensor
) -> NodeDecision:
    """The rule at B nodes: p (B, vocab); tokens, uniforms (B, m); q is ignored."""
    batch, m = tokens.shape
    current = p  # (B, vocab): p_i
    probs = torch.full((batch, m), float("nan"))  # (B, m)
    chosen = torch.full((batch,), -1, dtype=torch.long)  # (B,)
    for i in range(m):
        open_rows = chosen < 0
        if not bool(open_rows.any()):
            break
        accept = current.gather(1, tokens[:, i : i + 1])[:, 0]  # (B,): p_i(x_i)
        probs[:, i] = accept
        chosen = torch.where(open_rows & (uniforms[:, i] < accept), i, chosen)
        current = remove_tokens(current, tokens[:, i : i + 1])  # p_{i+1}
    probs = probs.masked_fill(~tried_mask(chosen, m), float("nan"))
    return NodeDecision(chosen, probs, current)


@SAMPLERS.register(
    "tree_deterministic",
    summary="tree: accept child x with prob. p(x) given earlier siblings were rejected, "
    "p ← p without them (top-k children, no q needed)",
    paper="Jeon et al. 2024 (arXiv 2402.14160) with one-hot proposals; Sequoia, Chen et al. 2024",
    tags=("trees",),
)
class TreeDeterministicSampler(Sampler):
    accepts_trees = True

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        return walk_tree(draft, p_target, rng, deterministic_node)
