"""Lenient speculative sampling: accept more often than p/q allows (lossy; λ = 1 is exact).

The lenience relaxation of Leviathan et al. 2023 (arXiv 2211.17192, appendix on lenience;
their l ∈ (0, 1] is our 1/λ).

Rule. A drafted token x ~ q_draft is accepted with probability

    a(x) = min(1, λ · p_target(x) / q_draft(x)),    λ = `lenience` ≥ 1,              (1)

i.e. it is accepted outright whenever p(x) ≥ q(x)/λ. At the first rejection the next token
is drawn from the residual

    r = norm(max(p_target - q_draft, 0)),                                              (2)

the target's deficit, exactly speculative sampling's residual; a fully accepted chain
ends with a bonus token from p_target. With λ = 1, (1) and (2) are speculative sampling,
and `verify` draws its random numbers in the same order as `SpeculativeSampler`, so one
seed gives the same run token for token.

What it follows. Per position,

    P(emit y) = min(q(y), λ·p(y)) + (1 - Σ_v min(q(v), λ·p(v))) · r(y).                  (3)

Why this residual. Acceptance alone over-serves the tokens with q > p (by min(q, λp) - p)
and under-serves those with q < p (by p - q). (2) puts the rejection mass only where p is
under-served, and never more than the deficit there (the rejection mass, 1 - Σ min(q, λp),
is at most Σ (p - q)⁺), so (3) is the closest law to p_target in total variation that
rule (1) allows: TV = Σ_{q > p} (min(q, λp) - p). The other natural choice,
norm(max(p - q/λ, 0)), also reduces to (2) at λ = 1 but adds mass to over-served tokens.

Temperature 0. p_target rows are one-hot, so (1) accepts exactly the argmax for any λ:
the output is plain greedy decoding's.

Drafters of another vocabulary (`pruned`, `cross_tokenizer`) feed it like TLI: q is the
drafter's distribution restricted to the shared tokens (q'), over the target vocabulary.
"""

from __future__ import annotations

import torch

from playground.config import LENIENCE, SpecConfig, read_option
from playground.engine.tree import Draft
from playground.samplers.base import (
    SAMPLERS,
    Distribution,
    Sampler,
    Verdict,
    residual_top,
    sample_from,
)
from playground.samplers.speculative import residual


@SAMPLERS.register(
    "lenient",
    summary="accept x with prob. min(1, λ·p/q), λ ≥ 1; on rejection resample from "
    "norm(max(p - q, 0)); λ = 1 is speculative sampling",
    paper="Leviathan et al. 2023 (arXiv 2211.17192), lenience (l = 1/λ)",
    lossless=False,
    follows="min(q, λ·p) + (1 - Σ min(q, λ·p))·norm(max(p - q, 0)) per position; p itself at "
    "λ = 1 and at temperature 0",
    tags=("cross_vocab", "draft:token"),
)
class LenientSampler(Sampler):
    def __init__(self, spec: SpecConfig | None = None):
        self.lenience = read_option(spec.options if spec else {}, LENIENCE)

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        k = draft.num_nodes
        tokens = draft.tokens  # (k,)
        rows = torch.arange(k)
        uniforms = torch.rand(k, generator=rng)  # (k,) drawn always, as speculative does
        p_tok = p_target.prob_of(rows, tokens)  # (k,)
        if draft.q_draft is None:
            q_tok = torch.ones(k)
        else:
            q_tok = draft.q_draft[rows, tokens].clamp_min(1e-30)  # (k,)
        ratio = (self.lenience * p_tok / q_tok).clamp_max(1.0)  # (k,) equation (1)
        rejected = (uniforms >= ratio).nonzero()
        n = int(rejected[0]) if rejected.numel() else k
        reached = min(n + 1, k)
        accept_probs: list[float | None] = [None] * k
        accept_probs[:reached] = ratio[:reached].tolist()
        detail = {"uniforms": uniforms[:reached].tolist(), "lenience": self.lenience}
        if n == k:
            return Verdict(list(range(k)), p_target.sample(k, rng), accept_probs, "bonus", detail)
        if p_target.greedy:
            next_token = int(p_target.argmax[n])
        else:
            q_row = None if draft.q_draft is None else draft.q_draft[n]
            res = residual(p_target.probs[n], q_row, int(tokens[n]))  # equation (2)
            next_token = sample_from(res, rng)
            detail["residual_top"] = residual_top(res)
        return Verdict(list(range(n)), next_token, accept_probs, "correction", detail)


def emitted_law(p: torch.Tensor, q: torch.Tensor, lenience: float) -> torch.Tensor:
    """Equation (3) for one position: (vocab,) from p and q (vocab,)."""
    accepted = torch.minimum(q, lenience * p)  # (vocab,)
    deficit = (p - q).clamp_min(0.0)  # (vocab,)
    total = deficit.sum()
    res = deficit / total if total > 0 else p
    return accepted + (1.0 - accepted.sum()) * res
