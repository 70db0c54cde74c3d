"""Prompt lookup: longest n-gram first, latest earlier occurrence, incremental index."""

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.base import DrafterContext
from playground.drafters.prompt_lookup import NgramIndex, PromptLookupDrafter
from playground.schedules.fixed import FixedSchedule


def lookup(context, n_max=3, n_min=1, k=4):
    index = NgramIndex(n_min, n_max)
    index.extend(context)
    return index.lookup(context, k)


def test_copies_what_followed_the_match():
    assert lookup([1, 2, 3, 4, 5, 1, 2, 3]) == [4, 5, 1, 2]


def test_longest_ngram_wins_over_a_later_shorter_match():
    # suffix (7, 8, 9): the trigram matched at the start beats the later unigram "9".
    assert lookup([7, 8, 9, 1, 1, 9, 2, 7, 8, 9], k=2) == [1, 1]


def test_latest_occurrence_of_the_same_ngram():
    assert lookup([5, 1, 5, 2, 5], n_max=1, k=1) == [2]


def test_no_match_gives_an_empty_draft():
    assert lookup([1, 2, 3, 4]) == []
    assert lookup([1], n_max=2) == []


def test_the_index_grows_incrementally_and_matches_a_fresh_one():
    context = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3]
    index = NgramIndex(1, 3)
    for end in range(1, len(context) + 1):
        index.extend(context[:end])
        assert index.lookup(context[:end], 3) == lookup(context[:end], k=3)


def test_drafter_returns_a_deterministic_chain():
    spec = SpecConfig(drafter="prompt_lookup")
    ctx = DrafterContext(target=None, spec=spec, config=GenerationConfig(), load=None)
    drafter = PromptLookupDrafter(ctx)
    drafter.start([1, 2, 3])
    draft = drafter.propose([1, 2, 3, 1, 2], 3, FixedSchedule(spec), torch.Generator())
    assert draft.tokens.tolist() == [3, 1, 2] and draft.is_chain and draft.q_draft is None
