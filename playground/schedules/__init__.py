"""Schedules choose how many tokens to draft next, from what happened so far."""

from playground.schedules import confidence, disco, fixed, heuristic  # noqa: F401  (registers)  # noqa: F401  (registers)
from playground.schedules.base import SCHEDULES, Schedule

__all__ = ["SCHEDULES", "Schedule"]
