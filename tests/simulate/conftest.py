"""Shared checks for simulator timelines."""

from __future__ import annotations

import pytest

from playground.simulate.timeline import KINDS


def check_timeline(result) -> None:
    """Each lane does one thing at a time, segments are well formed, kinds are known."""
    by_lane: dict[str, list] = {}
    for seg in result.timeline:
        assert seg.kind in KINDS, seg
        assert seg.end >= seg.start - 1e-12, seg
        by_lane.setdefault(seg.lane, []).append(seg)
    for lane, segs in by_lane.items():
        segs.sort(key=lambda s: s.start)
        for a, b in zip(segs, segs[1:], strict=False):
            assert b.start >= a.end - 1e-9, f"{lane} does two things at once: {a} and {b}"
    last = max(s.end for s in result.timeline)
    assert last <= result.seconds + 1e-9, f"work after the last commit: {last} > {result.seconds}"


@pytest.fixture(scope="session")
def timeline_ok():
    return check_timeline
