"""Prompt lookup decoding (Saxena 2023): draft by copying what followed an earlier match.

The last n tokens of the context (n from `ngram_max` down to `ngram_min`, longest
first) are looked up among earlier n-grams of the prompt and the text so far; the tokens
that followed the most recent earlier occurrence become the draft. No model runs, so the
draft is deterministic (q_draft is one-hot). An index of n-gram → end positions (oldest
first) is updated incrementally, so a round costs O(ngram_max) dictionary look-ups, not a
scan. `NgramIndex.matches` also lists the earlier occurrences, which the `lookup_tree`
drafter turns into branches.
"""

from __future__ import annotations

import torch

from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.engine.tree import Draft
from playground.schedules.base import Schedule


class NgramIndex:
    def __init__(self, ngram_min: int, ngram_max: int):
        self.sizes = range(ngram_min, ngram_max + 1)
        self.ends: dict[tuple[int, ...], list[int]] = {}  # n-gram -> its last tokens' indices
        self.indexed = 0  # n-grams ending before this position are indexed

    def extend(self, context: list[int]) -> None:
        """Index every n-gram that ends before the last token (it has a continuation)."""
        for end in range(self.indexed, len(context) - 1):
            for n in self.sizes:
                if end + 1 >= n:
                    self.ends.setdefault(tuple(context[end + 1 - n : end + 1]), []).append(end)
        self.indexed = max(self.indexed, len(context) - 1)

    def lookup(self, context: list[int], max_tokens: int) -> list[int]:
        for n in reversed(self.sizes):
            if len(context) < n:
                continue
            ends = self.ends.get(tuple(context[-n:]))
            if ends:
                return context[ends[-1] + 1 : ends[-1] + 1 + max_tokens]
        return []

    def matches(self, context: list[int], n: int, max_tokens: int, most: int) -> list[list[int]]:
        """What followed the `most` latest earlier occurrences of the last n tokens, latest
        first (each at most `max_tokens` long)."""
        if len(context) < n:
            return []
        ends = self.ends.get(tuple(context[-n:]), [])
        return [context[end + 1 : end + 1 + max_tokens] for end in reversed(ends[-most:])]


@DRAFTERS.register(
    "prompt_lookup",
    summary="copy the continuation of the latest earlier match of the last n tokens",
    paper="Saxena 2023, Prompt Lookup Decoding; Yang et al. 2023 (LLMA, arXiv 2304.04487)",
)
class PromptLookupDrafter(Drafter):
    def __init__(self, ctx: DrafterContext):
        self.spec = ctx.spec
        self.index = NgramIndex(ctx.spec.ngram_min, ctx.spec.ngram_max)

    def start(self, prompt_ids: list[int]) -> None:
        self.index = NgramIndex(self.spec.ngram_min, self.spec.ngram_max)

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        self.index.extend(context)
        tokens = self.index.lookup(context, num_draft_tokens)
        return Draft.chain(torch.tensor(tokens, dtype=torch.long))
