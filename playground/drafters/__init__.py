"""Drafters propose token trees; each file is one proposal source."""

from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.drafters import model, prompt_lookup  # noqa: F401  (registers)

__all__ = ["DRAFTERS", "Drafter", "DrafterContext"]
