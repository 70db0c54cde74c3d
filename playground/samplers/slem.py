"""String-Level Exact Match (SLEM): verify the drafter's text, re-tokenised for the target.

Timor et al. 2025, "Accelerating LLM Inference with Lossless Speculative Decoding
Algorithms for Heterogeneous Vocabularies" (arXiv 2502.05202, ICML 2025), SLEM.

Rule. The drafter writes text in its own vocabulary; the text is re-tokenised with the
target tokenizer into target tokens x_1 … x_k (the draft; the drafter's text travels in
`Draft.extra["drafter_text"]`). In one forward the target gives p_i = p_target(· | prefix,
x_1 … x_{i-1}). Draw y_i ~ p_i for every row (argmax when greedy) and accept x_i while
y_i = x_i; the first mismatching y_n is the correction, and after a fully matched draft
y_{k+1} is the bonus token.

Why lossless. Every emitted token is the target's own draw y_i from p_i, made in the
context of the tokens already emitted (a draft token is kept only when it equals that
draw). The emitted sequence is therefore exactly the target's autoregressive sample,
whatever the drafter proposed — the draft only decides how many draws one forward serves.
Equivalently: speculative sampling with a one-hot proposal (accept with p(x), residual p
with x removed), for which P(emit y) = p(x)·1[y = x] + (1 - p(x))·p(y)·1[y ≠ x]/(1 - p(x))
= p(y).

Expected acceptance. Given the draft token x at a position, α = p_target(x).            (1)
If the drafter's text makes x random with law r over target tokens, α = Σ_x r(x) p(x).
Greedy: α = 1[x = argmax p_target].
"""

from __future__ import annotations

import torch

from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tli import BatchVerdict, first_false, verdict_of


def exact_match_batch(
    p_target: torch.Tensor, tokens: torch.Tensor, rng: torch.Generator, greedy: bool = False
) -> BatchVerdict:
    """B chains at once. p_target: (B, k + 1, vocab); tokens: (B, k)."""
    batch, k = tokens.shape
    rows, vocab = k + 1, p_target.shape[-1]
    if greedy:
        draws = p_target.argmax(dim=-1)  # (B, k + 1)
    else:
        flat = p_target.reshape(batch * rows, vocab)  # (B·(k + 1), vocab)
        draws = torch.multinomial(flat, 1, generator=rng).view(batch, rows)  # (B, k + 1)
    n = first_false(draws[:, :k] == tokens)  # (B,)
    next_token = draws[torch.arange(batch), n]  # (B,)
    if greedy:
        accept_probs = (draws[:, :k] == tokens).float()  # (B, k)
    else:
        accept_probs = p_target[:, :k].gather(-1, tokens[..., None])[..., 0]  # (B, k)
    return BatchVerdict(n, next_token, accept_probs, None)


@SAMPLERS.register(
    "slem",
    summary="re-tokenise the drafter's text for the target; keep draft tokens the target samples",
    paper="Timor et al. 2025, arXiv 2502.05202 (ICML 2025): String-Level Exact Match",
    tags=("cross_vocab", "draft:text"),
)
class SLEMSampler(Sampler):
    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        if p_target.greedy:
            rows = p_target.logits if p_target.logits is not None else p_target.probs
        else:
            rows = p_target.probs
        result = exact_match_batch(rows[None], draft.tokens[None], rng, greedy=p_target.greedy)
        detail = {}
        if "drafter_text" in draft.extra:
            detail["drafter_text"] = draft.extra["drafter_text"]
        return verdict_of(result, draft.num_nodes, detail)
