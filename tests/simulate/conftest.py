"""Shared checks for simulator timelines."""

from __future__ import annotations

import pytest

from playground.analysis.metrics import summarize
from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.events import write_trace
from playground.models import load_model
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


def _record_tiny_trace(path, **spec):
    target = load_model("tiny:target")
    engine = build_engine(
        target,
        SpecConfig(drafter="model", drafter_model="tiny:drafter", **spec),
        GenerationConfig(max_new_tokens=60, temperature=1.0, seed=3),
        load=load_model,
    )
    prompt = "the little robot walked to the market every morning to buy bread"
    steps = list(engine.stream(prompt))
    summary = summarize(engine, prompt, steps)
    write_trace(path, steps, summary)
    return steps, summary


@pytest.fixture(scope="session")
def record_tiny_trace():
    """record(path, **spec) -> (steps, summary): a 60-token tiny-model run written as a trace."""
    return _record_tiny_trace
