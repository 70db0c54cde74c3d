"""What every verification rule shares: the target distributions, the verdict, the registry.

`p_target` rows follow the draft tree: row 0 is the target's distribution after the
committed text (for the children of the root), row i + 1 the distribution after node i.
A sampler decides which nodes are accepted and which token comes next; it never touches
caches or models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from playground.engine.rowops import row_argmax
from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.registry import Registry

SAMPLERS = Registry("sampler")


class Distribution:
    """Processed next-token distributions, one row per position: (rows, vocab).

    Built from processed logits (temperature, top-k, top-p already applied) or directly
    from probabilities (tests, toy vocabularies). `greedy` rows are one-hot at the argmax,
    so every sampler reduces to greedy verification at temperature 0.
    """

    def __init__(
        self,
        logits: torch.Tensor | None = None,
        probs: torch.Tensor | None = None,
        greedy: bool = False,
    ):
        if (logits is None) == (probs is None):
            raise ValueError("give exactly one of logits or probs")
        self.logits = logits  # (rows, vocab)
        self._probs = probs
        self.greedy = greedy

    @classmethod
    def from_probs(cls, probs: torch.Tensor) -> Distribution:
        return cls(probs=probs if probs.dim() == 2 else probs[None])

    @cached_property
    def argmax(self) -> torch.Tensor:
        source = self.logits if self.logits is not None else self._probs
        return row_argmax(source)  # (rows,)

    @cached_property
    def probs(self) -> torch.Tensor:
        if self._probs is not None:
            return self._probs
        if self.greedy:
            one_hot = torch.zeros_like(self.logits)
            return one_hot.scatter_(-1, self.argmax[:, None], 1.0)  # (rows, vocab)
        return torch.softmax(self.logits, dim=-1)  # (rows, vocab)

    @property
    def num_rows(self) -> int:
        source = self.logits if self.logits is not None else self._probs
        return source.shape[0]

    @property
    def vocab_size(self) -> int:
        source = self.logits if self.logits is not None else self._probs
        return source.shape[-1]

    def prob_of(self, rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """p[rows[i], tokens[i]] for each i, without building one-hot rows when greedy."""
        if self.greedy and self._probs is None:
            return (self.argmax[rows] == tokens).float()  # (n,)
        return self.probs[rows, tokens]  # (n,)

    def sample(self, row: int, rng: torch.Generator) -> int:
        if self.greedy:
            return int(self.argmax[row])
        return sample_from(self.probs[row], rng)


def sample_from(probs: torch.Tensor, rng: torch.Generator) -> int:
    """One draw from an (unnormalised, non-negative) vector of weights."""
    return int(torch.multinomial(probs, 1, generator=rng))


@dataclass
class Verdict:
    accepted: list[int]  # node indices on the accepted path, root to leaf
    next_token: int  # correction or bonus token, target vocabulary
    accept_probs: list[float | None]  # per node; None where the rule never reached it
    next_kind: str  # "bonus" (every node on the path accepted) or "correction"
    # For teaching views: the uniform draws, the residual's top tokens, ...
    detail: dict[str, Any] = field(default_factory=dict)


class Sampler:
    """Base class: subclasses implement `verify` and are registered in SAMPLERS."""

    # Chain samplers refuse trees; tree samplers accept chains too.
    accepts_trees = False

    def check_draft(self, draft: Draft) -> None:
        if not self.accepts_trees and not draft.is_chain:
            tree_samplers = [e.name for e in SAMPLERS if "trees" in e.tags]
            raise IncompatibleError(
                f"sampler {type(self).__name__} verifies chains only; for trees use one of: "
                + ", ".join(tree_samplers)
            )

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        raise NotImplementedError


def residual_top(residual: torch.Tensor, k: int = 5) -> list[list]:
    """The k most likely tokens of a (normalised) residual distribution, for teaching."""
    values, ids = residual.topk(min(k, residual.numel()))
    return [[i, v] for i, v in zip(ids.tolist(), values.tolist(), strict=True) if v > 0]
