"""Token-Level Intersection (TLI): speculative sampling over the shared vocabulary.

Timor et al. 2025, "Accelerating LLM Inference with Lossless Speculative Decoding
Algorithms for Heterogeneous Vocabularies" (arXiv 2502.05202, ICML 2025), TLI.

Rule. Let q be the drafter's (processed) distribution over its vocabulary D and I the
tokens whose strings the target vocabulary T also holds (`analysis.vocab.VocabBridge`).
The drafter samples from the restriction

    q'(x) = q(x) · 1[x ∈ I] / Σ_{y ∈ I} q(y)                                       (1)

and maps the token to its target id; `q_draft` is q' scattered into T (zero outside I).
The target verifies with standard speculative sampling: accept x with probability
min(1, p_target(x) / q'(x)); at the first rejection draw from norm(max(p_target - q', 0)),
after a fully accepted chain draw the bonus token from p_target.

Why lossless. q' is a distribution over T, so this is exactly Leviathan et al.'s rule
with proposal q': P(emit y) = min(p, q')(y) + (1 - Σ min(p, q')) · residual(y) = p(y).
Rows where the drafter puts no mass on I cannot be drafted; the drafter stops there
(a stopping decision, which never biases the output).

Expected acceptance. Per position, α = Σ_{x ∈ T} min(p_target(x), q'(x)) = 1 - TV(p, q').  (2)
Target tokens outside I are never proposed, so α ≤ p_target(I): shared mass caps TLI.

`verify_batch` is the vectorised rule over B independent chains; `TLISampler.verify` is
its B = 1 case, and RDK and SLRS (same rule, other proposals) reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict, residual_top


def restrict_to_intersection(
    q_drafter: torch.Tensor, drafter_to_target: torch.Tensor, target_vocab: int
) -> torch.Tensor:
    """Equation (1) in target-vocabulary space; rows with no shared mass stay all zero."""
    shared = drafter_to_target >= 0  # (drafter_vocab,)
    kept = q_drafter[:, shared]  # (B, shared)
    mass = kept.sum(dim=-1, keepdim=True)  # (B, 1)
    kept = torch.where(mass > 0, kept / mass.clamp_min(1e-30), torch.zeros_like(kept))
    out = torch.zeros(q_drafter.shape[0], target_vocab, dtype=q_drafter.dtype)  # (B, target)
    out[:, drafter_to_target[shared]] = kept
    return out


@dataclass
class BatchVerdict:
    num_accepted: torch.Tensor  # (B,) long: accepted prefix length of each chain
    next_token: torch.Tensor  # (B,) long: correction or bonus token
    accept_probs: torch.Tensor  # (B, k) float: min(1, p/q) of each node
    next_dist: torch.Tensor | None  # (B, vocab): what next_token was drawn from (None: greedy)


def verify_batch(
    p_target: torch.Tensor,
    q_draft: torch.Tensor | None,
    tokens: torch.Tensor,
    rng: torch.Generator,
    greedy: bool = False,
) -> BatchVerdict:
    """Speculative sampling for B chains at once.

    p_target: (B, k + 1, vocab) rows after the root and after each node; q_draft: (B, k,
    vocab) or None (deterministic drafts: one-hot); tokens: (B, k). With `greedy`, p_target
    rows only matter through their argmax and no randomness is used.
    """
    batch, k = tokens.shape
    arange = torch.arange(batch)
    if greedy:
        best = p_target.argmax(dim=-1)  # (B, k + 1)
        match = best[:, :k] == tokens  # (B, k)
        n = first_false(match)  # (B,)
        return BatchVerdict(n, best[arange, n], match.float(), None)
    p_tok = p_target[:, :k].gather(-1, tokens[..., None])[..., 0]  # (B, k)
    if q_draft is None:
        q_tok = torch.ones_like(p_tok)
    else:
        q_tok = q_draft.gather(-1, tokens[..., None])[..., 0].clamp_min(1e-30)  # (B, k)
    ratio = (p_tok / q_tok).clamp_max(1.0)  # (B, k)
    uniforms = torch.rand(batch, k, generator=rng)  # (B, k)
    n = first_false(uniforms < ratio)  # (B,)
    p_n = p_target[arange, n]  # (B, vocab)
    rejected = n < k  # (B,)
    at = n.clamp_max(k - 1)
    if q_draft is None:
        q_n = torch.zeros_like(p_n).scatter_(-1, tokens[arange, at][:, None], 1.0)  # (B, vocab)
    else:
        q_n = q_draft[arange, at]  # (B, vocab)
    res = (p_n - q_n).clamp_min(0.0)  # (B, vocab)
    total = res.sum(dim=-1, keepdim=True)  # (B, 1)
    res = torch.where(total > 0, res / total.clamp_min(1e-30), p_n)  # p == q: fall back to p
    next_dist = torch.where(rejected[:, None], res, p_n)  # (B, vocab)
    next_token = torch.multinomial(next_dist, 1, generator=rng)[:, 0]  # (B,)
    return BatchVerdict(n, next_token, ratio, next_dist)


def first_false(ok: torch.Tensor) -> torch.Tensor:
    """Index of the first False in each row of (B, k), k where a row is all True."""
    k = ok.shape[1]
    bad = ~ok
    first = bad.float().argmax(dim=-1)  # (B,)
    return torch.where(bad.any(dim=-1), first, torch.full_like(first, k))


def verdict_of(result: BatchVerdict, k: int, detail: dict | None = None) -> Verdict:
    """The engine's Verdict for chain 0 of a batch result."""
    n = int(result.num_accepted[0])
    reached = min(n + 1, k)
    accept_probs: list[float | None] = [None] * k
    accept_probs[:reached] = result.accept_probs[0, :reached].tolist()
    detail = dict(detail or {})
    kind = "bonus" if n == k else "correction"
    if kind == "correction" and result.next_dist is not None:
        detail["residual_top"] = residual_top(result.next_dist[0])
    return Verdict(list(range(n)), int(result.next_token[0]), accept_probs, kind, detail)


def verify_chain(
    draft: Draft,
    p_target: Distribution,
    rng: torch.Generator,
    q_draft: torch.Tensor | None,
    detail: dict | None = None,
) -> Verdict:
    """Speculative sampling of one chain against proposal rows q_draft (k, vocab) or None."""
    k = draft.num_nodes
    if p_target.greedy:
        p_rows = p_target.logits if p_target.logits is not None else p_target.probs
    else:
        p_rows = p_target.probs
    q = None if q_draft is None or p_target.greedy else q_draft[None]
    result = verify_batch(p_rows[None], q, draft.tokens[None], rng, greedy=p_target.greedy)
    return verdict_of(result, k, detail)


@SAMPLERS.register(
    "tli",
    summary="draft from the drafter's distribution restricted to shared tokens; verify with p/q",
    paper="Timor et al. 2025, arXiv 2502.05202 (ICML 2025): Token-Level Intersection",
    tags=("cross_vocab", "draft:token"),
)
class TLISampler(Sampler):
    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        if draft.q_draft is not None and draft.q_draft.shape[-1] != p_target.vocab_size:
            raise IncompatibleError(
                f"tli needs q_draft over the target vocabulary ({p_target.vocab_size} ids), got "
                f"{draft.q_draft.shape[-1]}; use the cross_tokenizer or pruned drafter"
            )
        return verify_chain(draft, p_target, rng, draft.q_draft)
