"""Standard speculative sampling (Leviathan et al. 2023, Algorithm 1; Chen et al. 2023).

For draft token x drawn from q_draft, accept with probability min(1, p_target(x) /
q_draft(x)). At the first rejection, draw the next token from the residual
norm(max(p_target - q_draft, 0)); if every token is accepted, draw a bonus token from
p_target after the last one. Then P(next = y) = min(p, q)(y) + (1 - Σ min(p, q)) ·
residual(y) = p_target(y): the output follows the processed target distribution exactly.
A deterministic drafter (q_draft None) is the one-hot case: accept with probability
p_target(x), residual = p_target with x removed.
"""

from __future__ import annotations

import torch

from playground.engine.tree import Draft
from playground.samplers.base import (
    SAMPLERS,
    Distribution,
    Sampler,
    Verdict,
    residual_top,
    sample_from,
)


def residual(p: torch.Tensor, q: torch.Tensor | None, token: int) -> torch.Tensor:
    """norm(max(p - q, 0)); q None means one-hot at `token`. Falls back to p when p == q."""
    if q is None:
        out = p.clone()
        out[token] = 0.0
    else:
        out = (p - q).clamp_min_(0.0)
    total = out.sum()
    return out / total if total > 0 else p


@SAMPLERS.register(
    "speculative",
    summary="accept x with prob. min(1, p/q); on rejection resample from norm(max(p - q, 0))",
    paper="Leviathan et al. 2023 (arXiv 2211.17192); Chen et al. 2023 (arXiv 2302.01318)",
)
class SpeculativeSampler(Sampler):
    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        k = draft.num_nodes
        tokens = draft.tokens  # (k,)
        rows = torch.arange(k)
        uniforms = torch.rand(k, generator=rng)  # (k,) drawn always: same seed, same run
        p_tok = p_target.prob_of(rows, tokens)  # (k,)
        if draft.q_draft is None:
            q_tok = torch.ones(k)
        else:
            q_tok = draft.q_draft[rows, tokens].clamp_min(1e-30)  # (k,)
        ratio = (p_tok / q_tok).clamp_max(1.0)  # (k,)
        rejected = (uniforms >= ratio).nonzero()
        n = int(rejected[0]) if rejected.numel() else k
        accept_probs: list[float | None] = [None] * k
        accept_probs[: min(n + 1, k)] = ratio[: min(n + 1, k)].tolist()
        detail = {"uniforms": uniforms[: min(n + 1, k)].tolist()}
        if n == k:
            return Verdict(list(range(k)), p_target.sample(k, rng), accept_probs, "bonus", detail)
        q_row = None if draft.q_draft is None else draft.q_draft[n]
        if p_target.greedy:
            next_token = int(p_target.argmax[n])
        else:
            res = residual(p_target.probs[n], q_row, int(tokens[n]))
            next_token = sample_from(res, rng)
            detail["residual_top"] = residual_top(res)
        return Verdict(list(range(n)), next_token, accept_probs, "correction", detail)
