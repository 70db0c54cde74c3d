"""Drafters propose token trees; each file is one proposal source."""

from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.drafters import cross_tokenizer, model, prompt_lookup, pruned  # noqa: F401  (registers)
from playground.drafters import auto, layer_skip, token_recycling  # noqa: F401  (registers)
from playground.drafters import tree  # noqa: F401  (registers)

__all__ = ["DRAFTERS", "Drafter", "DrafterContext"]
