"""Recursive rejection sampling for trees drawn without replacement (RSD).

Jeon et al. 2024, "Recursive Speculative Decoding: Accelerating LLM Inference via
Sampling Without Replacement" (arXiv 2402.14160), Algorithm 1 (recursive rejection
sampling); the drafts come from Gumbel-top-k per node (RSD-C, `gumbel_topk:` trees) or
stochastic beam search (RSD-S, `beam:` trees).

Setting. The children x_1 … x_m of a node were drawn one after another *without
replacement* from the drafter's q at that node: x_i follows q_i, where q_1 = q and
q_{i+1} = q_i with x_i removed, renormalised. The number of children may depend on
anything but the value of the next child (stochastic beam search keeps a prefix of
each node's Gumbel order whose length depends on the Gumbel values only, which are
independent of which tokens carry them).

Rule. p_1 = p, the target's row. For i = 1 … m: accept x_i with probability
min(1, p_i(x_i) / q_i(x_i)); otherwise p_{i+1} = norm(max(p_i − q_i, 0)) and
q_{i+1} = q_i without x_i, renormalised. If all are rejected, the correction token is
drawn from p_{m+1}.

Proof sketch. As for SpecInfer, by backward induction on i: given the rejected
x_1 … x_{i−1}, x_i follows q_i, so step i emits y with min(p_i, q_i)(y) and passes on
with Σ max(p_i − q_i, 0), after which the token follows p_{i+1}; the two add up to p_i.
The difference from SpecInfer is only that each later sibling's proposal is q_i (the
drafter distribution with earlier siblings removed) instead of q. Because q_i(x_j) = 0
for the rejected x_j, p_{i+1} keeps their leftover mass, but a later sibling can never
repeat them, and acceptance is higher than with independent children (no wasted
duplicates). q_draft None (deterministic children) is the one-hot case
(`tree_deterministic`).
"""

from __future__ import annotations

import torch

from playground.engine.tree import DETERMINISTIC, WITHOUT_REPLACEMENT, Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tree_deterministic import deterministic_node
from playground.samplers.tree_walk import (
    NodeDecision,
    check_children_drawn,
    normalise,
    remove_tokens,
    tried_mask,
    walk_tree,
)


def rsd_node(
    p: torch.Tensor, q: torch.Tensor | None, tokens: torch.Tensor, uniforms: torch.Tensor
) -> NodeDecision:
    """Recursive rejection sampling at B nodes: p, q (B, vocab); tokens, uniforms (B, m)."""
    if q is None:
        return deterministic_node(p, None, tokens, uniforms)
    batch, m = tokens.shape
    current_p, current_q = p, q  # (B, vocab): p_i, q_i
    ratios = torch.full((batch, m), float("nan"))  # (B, m)
    chosen = torch.full((batch,), -1, dtype=torch.long)  # (B,)
    for i in range(m):
        open_rows = chosen < 0
        if not bool(open_rows.any()):
            break
        token = tokens[:, i : i + 1]  # (B, 1)
        p_tok = current_p.gather(1, token)[:, 0]  # (B,)
        q_tok = current_q.gather(1, token)[:, 0].clamp_min(1e-30)  # (B,)
        ratio = (p_tok / q_tok).clamp_max(1.0)  # (B,)
        ratios[:, i] = ratio
        chosen = torch.where(open_rows & (uniforms[:, i] < ratio), i, chosen)
        current_p = normalise((current_p - current_q).clamp_min(0.0), current_p)  # p_{i+1}
        current_q = remove_tokens(current_q, token)  # q_{i+1}
    ratios = ratios.masked_fill(~tried_mask(chosen, m), float("nan"))
    return NodeDecision(chosen, ratios, current_p)


@SAMPLERS.register(
    "rsd",
    summary="tree: children drawn without replacement; accept with min(1, p/q_i), q_i = q "
    "without earlier siblings, else p ← norm(max(p − q_i, 0))",
    paper="Jeon et al. 2024, Recursive Speculative Decoding (arXiv 2402.14160)",
    tags=("trees",),
)
class RSDSampler(Sampler):
    accepts_trees = True

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        check_children_drawn(
            draft, "rsd", (WITHOUT_REPLACEMENT, DETERMINISTIC), "use specinfer or spectr"
        )
        return walk_tree(draft, p_target, rng, rsd_node)
