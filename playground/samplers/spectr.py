"""SpecTr's k-sequential draft selection (K-SEQ) over k independent draft chains.

Sun et al. 2023, "SpecTr: Fast Speculative Decoding via Optimal Transport" (NeurIPS
2023, arXiv 2310.15141), Algorithm 2 (K-SEQ) and its validity condition; the drafts are
k chains sampled independently from the drafter (`chains:k` trees).

Setting. At a node, X_1 … X_k are k i.i.d. draws from the drafter's q there (one per
chain still alive, repeats allowed; merged chains keep their draws in `Draft.draws`).
p is the target's row. Papers swap the letters: here p is always the target.

Rule. For a division factor ρ ∈ [1, k] let

    β(ρ) = Σ_y min(q(y), p(y)/ρ)             (per-draw acceptance probability)
    c(ρ) = (1 − (1 − β)^k) / β = Σ_{i<k} (1 − β)^i     (c = k when β = 0)

For i = 1 … k accept X_i with probability min(1, p(X_i) / (ρ q(X_i))) and stop; if none
is accepted, draw the correction from

    p_res(y) = (p(y) − c · min(q(y), p(y)/ρ)) / (1 − β)^k.

Derivation. Draw i is reached with probability (1 − β)^{i−1} and emits y with
q(y) min(1, p(y)/(ρ q(y))) = min(q(y), p(y)/ρ), so acceptance emits y with probability
c · min(q(y), p(y)/ρ) in total, and nothing is accepted with probability (1 − β)^k. The
output follows p exactly iff p_res is a distribution, i.e. p(y) ≥ c · min(q(y), p(y)/ρ)
for all y; since min(q, p/ρ) ≤ p/ρ, ρ ≥ c(ρ) suffices (ρ = k always works: c ≤ k).
Acceptance 1 − (1 − β)^k grows as ρ shrinks, so we take the smallest ρ with
ρ · β(ρ) ≥ 1 − (1 − β(ρ))^k, found by a grid search on [1, k] narrowed pass by pass,
always keeping a feasible point (the paper's ρ*, which solves it with equality).
k = 1 gives ρ = 1: Leviathan et al.'s rule. With k' chains left below an accepted node,
the next level runs K-SEQ with k' draws (chains are independent, so their next tokens
are i.i.d. given the prefix).

q_draft None (deterministic chains) falls back to `tree_deterministic`'s rule.
"""

from __future__ import annotations

import torch

from playground.engine.tree import DETERMINISTIC, IID, Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tree_deterministic import deterministic_node
from playground.samplers.tree_walk import (
    NodeDecision,
    check_children_drawn,
    first_accepted,
    normalise,
    tried_mask,
    walk_tree,
)

GRID_POINTS, GRID_PASSES = 16, 4  # ρ to within (k - 1) / 16⁴


def kseq_rho(p: torch.Tensor, q: torch.Tensor, k: int) -> torch.Tensor:
    """(B,) the smallest feasible ρ in [1, k] for rows p, q (B, vocab), to (k - 1) / 16⁴.

    A grid search narrowed pass by pass (each pass is one batched evaluation, cheaper than
    bisection's many small steps); it always returns a feasible grid point, so the rule
    stays exact even where the feasible set is not an interval.
    """
    lo = torch.ones(p.shape[0], dtype=p.dtype)  # (B,)
    hi = torch.full_like(lo, float(k))
    steps = torch.linspace(0.0, 1.0, GRID_POINTS + 1, dtype=p.dtype)  # (G + 1,)
    for _ in range(GRID_PASSES if k > 1 else 0):
        grid = lo[:, None] + (hi - lo)[:, None] * steps  # (B, G + 1)
        grid[:, -1] = hi  # feasible by construction: keep it exact
        beta = torch.minimum(q[:, None], p[:, None] / grid[..., None]).sum(-1)  # (B, G + 1)
        ok = grid * beta >= 1 - (1 - beta) ** k  # (B, G + 1)
        first = torch.where(ok, torch.arange(GRID_POINTS + 1), GRID_POINTS).min(1).values
        hi = grid.gather(1, first[:, None])[:, 0]
        lo = grid.gather(1, (first - 1).clamp_min(0)[:, None])[:, 0]
    return hi


def kseq_node(
    p: torch.Tensor, q: torch.Tensor | None, tokens: torch.Tensor, uniforms: torch.Tensor
) -> NodeDecision:
    """K-SEQ at B nodes: p, q (B, vocab); tokens, uniforms (B, k) i.i.d. draws from q."""
    if q is None:
        return deterministic_node(p, None, tokens, uniforms)
    return kseq_select(p, q, tokens, uniforms, kseq_rho(p, q, tokens.shape[1]))


def kseq_select(
    p: torch.Tensor,
    q: torch.Tensor,
    tokens: torch.Tensor,
    uniforms: torch.Tensor,
    rho: torch.Tensor,  # (B,)
) -> NodeDecision:
    """K-SEQ with a given division factor ρ (B,); lossless only if ρ ≥ c(ρ) (see above)."""
    k = tokens.shape[1]
    p_tok, q_tok = p.gather(1, tokens), q.gather(1, tokens).clamp_min(1e-30)  # (B, k)
    ratios = (p_tok / (rho[:, None] * q_tok)).clamp_max(1.0)  # (B, k)
    chosen = first_accepted(uniforms < ratios)  # (B,)
    ratios = ratios.masked_fill(~tried_mask(chosen, k), float("nan"))
    return NodeDecision(chosen, ratios, kseq_residual(p, q, rho, k))


def kseq_residual(p: torch.Tensor, q: torch.Tensor, rho: torch.Tensor, k: int) -> torch.Tensor:
    """p_res (B, vocab) for the given ρ (B,)."""
    accepted = torch.minimum(q, p / rho[:, None])  # (B, vocab)
    beta = accepted.sum(dim=-1, keepdim=True)  # (B, 1)
    c = torch.where(beta > 0, (1 - (1 - beta) ** k) / beta.clamp_min(1e-38), float(k))
    return normalise((p - c * accepted).clamp_min(0.0), p)


@SAMPLERS.register(
    "spectr",
    summary="tree of k i.i.d. chains: accept draw i with min(1, p/(ρq)) in turn (ρ: SpecTr's "
    "optimal division factor), else draw from p_res",
    paper="Sun et al. 2023, SpecTr (arXiv 2310.15141), k-sequential selection (K-SEQ)",
    tags=("trees",),
)
class SpecTrSampler(Sampler):
    accepts_trees = True

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        check_children_drawn(
            draft, "spectr", (IID, DETERMINISTIC), "use rsd for children drawn without replacement"
        )
        return walk_tree(draft, p_target, rng, kseq_node)
