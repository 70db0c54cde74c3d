"""The prompt sets: seven categories of ten, unique ids, well-formed records."""

from collections import Counter

import pytest

from playground.bench.prompts import load_prompts
from playground.errors import ConfigError

CATEGORIES = {
    "conversation",
    "translation",
    "summarisation",
    "question answering",
    "math",
    "retrieval",
    "code",
}


def test_full_set_has_ten_prompts_in_each_of_seven_categories():
    prompts = load_prompts("speclab")
    counts = Counter(p.category for p in prompts)
    assert set(counts) == CATEGORIES and min(counts.values()) >= 10
    assert len({p.id for p in prompts}) == len(prompts)
    checkable = [p for p in prompts if p.reference]
    assert len(checkable) >= 50, "most prompts carry a checkable reference"


def test_per_category_limit_and_unknown_set():
    assert len(load_prompts("speclab", per_category=2)) == 14
    with pytest.raises(ConfigError, match="known sets"):
        load_prompts("nope")
