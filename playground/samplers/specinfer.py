"""SpecInfer's multi-step speculative sampling (MSS) over a token tree.

Miao et al. 2024, "SpecInfer: Accelerating Large Language Model Serving with Tree-based
Speculative Inference and Verification" (arXiv 2305.09781), Algorithm 2 / Theorem 4.2.

Setting. The children x_1 … x_m of a node were drawn independently from the drafter's
distribution q at that node, *with replacement* (a token may repeat). p is the target's
row for the node.

Rule. p_1 = p. For i = 1 … m: accept x_i with probability min(1, p_i(x_i) / q(x_i)) and
move to that child; otherwise p_{i+1} = norm(max(p_i − q, 0)) and try the next child. If
all are rejected, the correction token is drawn from p_{m+1}.

Proof sketch. Claim: from step i on, the emitted token follows p_i. At the last step the
correction is drawn from p_{m+1} directly. At step i, x_i ~ q independently of
everything before, so P(emit y at step i) = q(y) min(1, p_i(y)/q(y)) = min(p_i, q)(y),
and P(reject) = 1 − Σ min(p_i, q) = Σ max(p_i − q, 0); then by induction the token
follows p_{i+1} = max(p_i − q, 0) / Σ max(p_i − q, 0), and min(p_i, q) + max(p_i − q, 0)
= p_i. With one child per node this is Leviathan et al.'s rule, and the walk reproduces
the chain sampler seed for seed. A deterministic tree (q_draft None) is the one-hot case:
q = δ_{x_i}, i.e. accept with p_i(x_i), then drop x_i from p_i (`tree_deterministic`).

Trees with children drawn without replacement need `rsd` (their later siblings do not
follow q); this sampler refuses them.
"""

from __future__ import annotations

import torch

from playground.engine.tree import DETERMINISTIC, IID, Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tree_deterministic import deterministic_node
from playground.samplers.tree_walk import (
    NodeDecision,
    check_children_drawn,
    normalise,
    tried_mask,
    walk_tree,
)


def specinfer_node(
    p: torch.Tensor, q: torch.Tensor | None, tokens: torch.Tensor, uniforms: torch.Tensor
) -> NodeDecision:
    """MSS at B nodes: p, q (B, vocab); tokens, uniforms (B, m) in drawing order."""
    if q is None:
        return deterministic_node(p, None, tokens, uniforms)
    batch, m = tokens.shape
    current = p  # (B, vocab): p_i
    ratios = torch.full((batch, m), float("nan"))  # (B, m)
    chosen = torch.full((batch,), -1, dtype=torch.long)  # (B,)
    q_tok = q.gather(1, tokens).clamp_min(1e-30)  # (B, m)
    for i in range(m):
        open_rows = chosen < 0
        if not bool(open_rows.any()):
            break
        p_tok = current.gather(1, tokens[:, i : i + 1])[:, 0]  # (B,)
        ratio = (p_tok / q_tok[:, i]).clamp_max(1.0)  # (B,)
        ratios[:, i] = ratio
        chosen = torch.where(open_rows & (uniforms[:, i] < ratio), i, chosen)
        if i + 1 < m or bool((chosen < 0).any()):
            current = normalise((current - q).clamp_min(0.0), current)  # p_{i+1}
    ratios = ratios.masked_fill(~tried_mask(chosen, m), float("nan"))
    return NodeDecision(chosen, ratios, current)


@SAMPLERS.register(
    "specinfer",
    summary="tree: try children drawn i.i.d. from q in turn, accept with min(1, p/q), "
    "else p ← norm(max(p − q, 0))",
    paper="Miao et al. 2024, SpecInfer (arXiv 2305.09781), multi-step speculative sampling",
    tags=("trees",),
)
class SpecInferSampler(Sampler):
    accepts_trees = True

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        hint = "use rsd for children drawn without replacement"
        check_children_drawn(draft, "specinfer", (IID, DETERMINISTIC), hint)
        return walk_tree(draft, p_target, rng, specinfer_node)
