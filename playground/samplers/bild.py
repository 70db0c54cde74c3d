"""Big Little Decoder (BiLD; Kim et al. 2023, arXiv 2302.07863, NeurIPS 2023): lossy.

BiLD runs the little model (our drafter) on its own and hands control to the big model
(our target) by two policies:

- fallback: the little model stops at the first position where its confidence, its top
  probability max_v q(v), is below α_FB = `bild_fallback`; the big model produces that
  position's token instead;
- rollback: the big model, run once over the little model's tokens, rejects the first
  token x whose distance d(p, x) = -log p(x) (the cross-entropy of the little model's
  choice under the big model) exceeds α_RB = `bild_rollback`, discards everything after it
  and produces that position's token itself.

How it fits the draft/verify contract. Drafting and verification are one round: the
drafter proposes a chain, the target scores it in one forward, and `verify` applies both
policies to the scored chain. The accepted prefix ends before the first node that either
falls back (low drafter confidence) or rolls back (high target cross-entropy); the next
token is the target's own at that position, or a bonus token after a fully kept chain.
Fallback is applied after the fact here, so the drafter may have drafted past the
fallback point; pair `bild` with the `confidence` schedule (`confidence_threshold` =
`bild_fallback`) to also stop drafting there, as BiLD does, and save that drafter time.

What it follows. Per position, the drafter's token x ~ q when max q ≥ α_FB and
-log p(x) ≤ α_RB, else a draw from p_target:

    P(emit y) = c · q(y) · 1[p(y) ≥ e^{-α_RB}] + (1 - c · Σ_x q(x) · 1[p(x) ≥ e^{-α_RB}]) · p(y),
    c = 1[max q ≥ α_FB].

Confidences and distances use temperature-1 distributions when decoding greedily
(`samplers.confidence`), as BiLD does; otherwise a one-hot target would roll back every
disagreement and BiLD would reduce to greedy verification. α_FB = 1 and α_RB = 0 hand
every position to the target; α_FB = 0 and a large α_RB keep the drafter's text.

Drafters of another vocabulary (`pruned`, `cross_tokenizer`) feed it like TLI: q is the
drafter's distribution restricted to the shared tokens (q'), over the target vocabulary.
"""

from __future__ import annotations

import torch

from playground.config import BILD_FALLBACK, BILD_ROLLBACK, SpecConfig, read_option
from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.confidence import drafter_top_prob, target_probs


@SAMPLERS.register(
    "bild",
    summary="keep drafted tokens while the drafter is confident (fallback) and the target's "
    "cross-entropy of them is small (rollback)",
    paper="Kim et al. 2023, Speculative Decoding with Big Little Decoder (arXiv 2302.07863)",
    lossless=False,
    follows="per position, the drafter's token where max q ≥ α_FB and -log p(x) ≤ α_RB, the "
    "target's own draw elsewhere",
    tags=("cross_vocab", "draft:token"),
)
class BiLDSampler(Sampler):
    def __init__(self, spec: SpecConfig | None = None):
        options = spec.options if spec else {}
        self.fallback = read_option(options, BILD_FALLBACK)
        self.rollback = read_option(options, BILD_ROLLBACK)

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        k = draft.num_nodes
        confident = drafter_top_prob(draft) >= self.fallback  # (k,)
        p_tok = target_probs(p_target)[torch.arange(k), draft.tokens]  # (k,)
        distance = -torch.log(p_tok.clamp_min(1e-30))  # (k,) cross-entropy of x under p
        close = distance <= self.rollback  # (k,)
        kept = (confident & close).tolist()
        n = kept.index(False) if False in kept else k
        accept_probs: list[float | None] = [None] * k
        accept_probs[: min(n + 1, k)] = [float(x) for x in kept[: min(n + 1, k)]]
        detail = {"distance": distance[: min(n + 1, k)].tolist()}
        if n < k:
            detail["policy"] = "fallback" if not bool(confident[n]) else "rollback"
        kind = "bonus" if n == k else "correction"
        return Verdict(list(range(n)), p_target.sample(n, rng), accept_probs, kind, detail)
