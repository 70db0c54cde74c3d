"""Schedules choose how many tokens to draft next, from what happened so far."""

from playground.schedules.base import SCHEDULES, Schedule
from playground.schedules import fixed, heuristic  # noqa: F401  (registers)

__all__ = ["SCHEDULES", "Schedule"]
