"""Schedules stay within their bounds."""

from playground.config import SpecConfig
from playground.schedules import SCHEDULES


def test_heuristic_grows_after_full_accepts_and_shrinks_otherwise():
    schedule = SCHEDULES.get("heuristic").factory(
        SpecConfig(num_draft_tokens=4, max_draft_tokens=9)
    )
    lengths = []
    for accepted_all in [True, True, True, True, False, False, False, False, False, False]:
        k = schedule.num_draft_tokens()
        lengths.append(k)
        schedule.update(k, k if accepted_all else 0)
    assert lengths == [4, 6, 8, 9, 9, 8, 7, 6, 5, 4]
    for _ in range(20):
        schedule.update(schedule.num_draft_tokens(), 0)
    assert schedule.num_draft_tokens() == 1


def test_fixed_never_changes():
    schedule = SCHEDULES.get("fixed").factory(SpecConfig(num_draft_tokens=3))
    schedule.update(3, 0)
    schedule.update(3, 3)
    assert schedule.num_draft_tokens() == 3
