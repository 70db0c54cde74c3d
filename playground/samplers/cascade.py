"""Speculative cascades (Narasimhan et al. 2024, arXiv 2405.19261, ICLR 2025): lossy.

A cascade lets the drafter answer where a deferral rule trusts it and the target
elsewhere; a speculative cascade evaluates that rule for every drafted position in the
target's one verification forward.

Deferral rules, per drafted position, with q the drafter's and p the target's
distribution there and α = `cascade_alpha` (`cascade_rule` picks one):

    chow:  r = 1[max_v q(v) < 1 - α]                      (drafter confidence only)
    diff:  r = 1[max_v q(v) < max_v p(v) - α]             (the target is surer by > α)
    opt:   r = 1[max_v q(v) < max_v p(v) - α · TV(p, q)]  (plug-in optimal rule; α·TV is
                                                          the expected cost of deferring)

The mixture the output follows. At a drafted position the cascade's distribution is

    π = (1 - r) · q + r · p                                                            (1)

(q where the rule keeps the drafter, p where it defers). The drafted token x ~ q is
accepted with probability min(1, π(x)/q(x)); at the first rejection the next token is
drawn from norm(max(π - q, 0)); after a fully accepted chain the bonus token comes from p
(there is no drafter distribution there: the position defers). This is speculative
sampling with π in place of p, so it is lossless with respect to π: P(emit y) = π(y) at
every drafted position (tested by χ²), and p(y) at bonus positions. r = 0 accepts x
outright; r = 1 is standard speculative sampling.

Temperature 0. p and q rows are one-hot and carry no confidence, so the rule reads the
target's temperature-1 distribution (softmax of its logits), the drafter's reported top
probability (`samplers.confidence`), and TV(p, one-hot x) = 1 - p(x), the rejection
probability of the deterministic draft. π is then one-hot: x where the rule keeps the
drafter, the target's argmax where it defers; verification is deterministic.

Drafters of another vocabulary (`pruned`, `cross_tokenizer`) feed it like TLI: q is the
drafter's distribution restricted to the shared tokens (q'), over the target vocabulary.
"""

from __future__ import annotations

import torch

from playground.config import CASCADE_ALPHA, CASCADE_RULE, SpecConfig, read_option
from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.confidence import drafter_top_prob, q_rows, target_probs
from playground.samplers.tli import BatchVerdict, verdict_of
from playground.samplers.tli import verify_batch as speculative_batch


def deferral(
    rule: str, alpha: float, top_q: torch.Tensor, top_p: torch.Tensor, tv: torch.Tensor
) -> torch.Tensor:
    """r per position (float 0/1, the shape of the inputs) for the named rule."""
    if rule == "chow":
        defer = top_q < 1.0 - alpha
    elif rule == "diff":
        defer = top_q < top_p - alpha
    elif rule == "opt":
        defer = top_q < top_p - alpha * tv
    else:
        raise ValueError(f"unknown cascade rule {rule!r}")
    return defer.float()


def mixture(p: torch.Tensor, q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Equation (1): (..., vocab) from p, q (..., vocab) and r (...)."""
    return (1.0 - r[..., None]) * q + r[..., None] * p


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return 0.5 * (p - q).abs().sum(dim=-1)  # (...,)


def verify_batch(
    p_target: torch.Tensor,
    q_draft: torch.Tensor,
    tokens: torch.Tensor,
    rng: torch.Generator,
    rule: str = CASCADE_RULE.default,
    alpha: float = CASCADE_ALPHA.default,
) -> BatchVerdict:
    """The cascade for B chains drawn from q: p_target (B, k + 1, vocab), q_draft (B, k, vocab)."""
    k = tokens.shape[1]
    p_drafted = p_target[:, :k]  # (B, k, vocab)
    tv = total_variation(p_drafted, q_draft)  # (B, k)
    r = deferral(rule, alpha, q_draft.max(-1).values, p_drafted.max(-1).values, tv)  # (B, k)
    pi = torch.cat([mixture(p_drafted, q_draft, r), p_target[:, k:]], dim=1)  # (B, k + 1, V)
    return speculative_batch(pi, q_draft, tokens, rng)


@SAMPLERS.register(
    "cascade",
    summary="speculative cascade: a deferral rule (chow, diff, opt) picks drafter or target per "
    "position; speculative sampling against that mixture",
    paper="Narasimhan et al. 2024, Faster Cascades via Speculative Decoding (arXiv 2405.19261)",
    lossless=False,
    follows="the rule's mixture π = (1 - r)·q + r·p at each drafted position (r = 1 where the "
    "rule defers to the target), p at the bonus position",
    tags=("cross_vocab", "draft:token"),
)
class CascadeSampler(Sampler):
    def __init__(self, spec: SpecConfig | None = None):
        options = spec.options if spec else {}
        self.rule = read_option(options, CASCADE_RULE)
        self.alpha = read_option(options, CASCADE_ALPHA)

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        k = draft.num_nodes
        r = self.defer(draft, p_target)  # (k,)
        q = q_rows(draft, p_target.vocab_size)  # (k, vocab)
        p = p_target.probs  # (k + 1, vocab), one-hot when greedy
        pi = torch.cat([mixture(p[:k], q, r), p[k:]])  # (k + 1, vocab)
        q_in = None if draft.q_draft is None else draft.q_draft[None]
        result = speculative_batch(pi[None], q_in, draft.tokens[None], rng, greedy=p_target.greedy)
        return verdict_of(result, k, {"deferred": r.tolist(), "rule": self.rule})

    def defer(self, draft: Draft, p_target: Distribution) -> torch.Tensor:
        """r per drafted node (k,), from the confidences `samplers.confidence` defines."""
        k = draft.num_nodes
        p_conf = target_probs(p_target)[:k]  # (k, vocab)
        if draft.q_draft is not None and not p_target.greedy:
            tv = total_variation(p_conf, draft.q_draft)  # (k,)
        else:
            tv = 1.0 - p_conf[torch.arange(k), draft.tokens]  # (k,) TV(p, one-hot x)
        return deferral(self.rule, self.alpha, drafter_top_prob(draft), p_conf.max(-1).values, tv)
