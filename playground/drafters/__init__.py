"""Drafters propose token trees; each file is one proposal source."""

from playground.drafters import (  # noqa: F401  (registers)
    auto,
    cross_tokenizer,
    layer_skip,
    lookup_tree,
    model,
    prompt_lookup,
    pruned,
    token_recycling,
    tree,
)
from playground.drafters.base import DRAFTERS, Drafter, DrafterContext

__all__ = ["DRAFTERS", "Drafter", "DrafterContext"]
