"""The schedule contract and registry."""

from __future__ import annotations

from playground.config import SpecConfig
from playground.registry import Registry
from playground.schedules.features import TokenFeatures

SCHEDULES = Registry("schedule")


class Schedule:
    """Decides the draft length of the next round; told the outcome of each round.

    `keep_drafting` lets confidence-style schedules stop a draft early from the drafter's
    own probability of the token it just drafted (position counts from 1) and, when the
    drafter reports them, its `TokenFeatures` (probabilities at temperature 1, entropy).
    """

    def __init__(self, spec: SpecConfig):
        self.spec = spec

    def num_draft_tokens(self) -> int:
        raise NotImplementedError

    def keep_drafting(
        self, position: int, q_token: float | None, features: TokenFeatures | None = None
    ) -> bool:
        return True

    def update(self, num_drafted: int, num_accepted: int) -> None:
        """Called after every round that drafted something."""
