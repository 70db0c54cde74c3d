"""The drafter contract and registry.

A drafter only proposes: given the committed context it returns a `Draft` (a token tree
in the target vocabulary, with the distribution each node was drawn from). It may keep
its own KV cache, which it syncs to the context it is given; `commit` tells it what was
kept so it can update statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.tree import Draft
from playground.models.handle import ModelHandle
from playground.registry import Registry
from playground.samplers.base import Distribution
from playground.schedules.base import Schedule

DRAFTERS = Registry("drafter")


@dataclass
class DrafterContext:
    """What a drafter factory gets: the target, the knobs, and a way to load models."""

    target: ModelHandle
    spec: SpecConfig
    config: GenerationConfig
    load: Callable[[str], ModelHandle]


class Drafter:
    # "shared": ids are the target's; "other": the drafter has another vocabulary.
    vocabulary = "shared"

    def start(self, prompt_ids: list[int]) -> None:
        """A new run begins with this prompt."""

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        raise NotImplementedError

    def observe(
        self,
        context: list[int],
        p_target: Distribution,
        draft: Draft,
        verify_seconds: float | None = None,
    ) -> None:
        """The target's verified rows of this round, before commit (empty drafts included).

        `context` still ends in the pending token: `p_target` row 0 is what the target
        predicts after it, row i + 1 what it predicts after draft node i. `verify_seconds`
        is the wall time of the target forward over those rows (the engine's
        `Step.verify_time`; None when a caller has no clock), for drafters that size their
        drafts against a measured verify-cost curve (`lookup_tree`, `auto`). Drafters that
        learn from the target (token recycling) override this; the rest ignore it.
        """

    def commit(self, context: list[int], num_accepted: int) -> None:
        """The round is over; `context` is the committed text (ending in the next token)."""
