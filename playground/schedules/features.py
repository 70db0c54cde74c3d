"""What a drafter knows about each token it drafts, for schedules that stop drafts early.

Computed from the drafter's raw logits at temperature 1, whatever the sampling settings,
so a greedy drafter (whose processed distribution is one-hot) still reports how sure it
was. Confidence-style schedules (`confidence`, `disco`) read them in `keep_drafting`; the
engine copies them into the trace (`Step.extra["draft_features"]`) for training DISCO.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import torch

NAMES = ("token_prob", "top_prob", "entropy")


@dataclass(frozen=True)
class TokenFeatures:
    token_prob: float  # the drafter's probability of the token it drafted
    top_prob: float  # its probability of its most likely token
    entropy: float  # nats, of its whole next-token distribution

    def as_list(self) -> list[float]:
        return list(astuple(self))


def token_features(logits: torch.Tensor, token: int) -> TokenFeatures:
    """Features of drafting `token` from raw logits (vocab,); -inf entries are allowed."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (vocab,)
    probs = logp.exp()
    entropy = -torch.where(probs > 0, probs * logp, torch.zeros_like(probs)).sum()
    return TokenFeatures(float(probs[token]), float(probs.max()), float(entropy))
