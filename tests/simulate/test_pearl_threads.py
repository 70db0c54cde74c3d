"""Threaded PEARL on tiny models: the output is plain greedy decoding's (no timing asserts)."""

from __future__ import annotations

from functools import cache

import pytest

from playground.config import GenerationConfig, SpecConfig
from playground.drafters import DRAFTERS, DrafterContext
from playground.engine.build import build_engine
from playground.models import load_model
from playground.schedules import SCHEDULES
from playground.simulate.pearl_threads import run_threaded_pearl

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def drafter(name: str, **spec):
    spec = SpecConfig(drafter=name, sampler="greedy", schedule="fixed", **spec)
    ctx = DrafterContext(tiny("target"), spec, GenerationConfig(), load_model)
    return DRAFTERS.get(name).factory(ctx), SCHEDULES.get("fixed").factory(spec)


@pytest.mark.parametrize(
    ("name", "spec"),
    [("model", {"drafter_model": "tiny:drafter"}), ("target", {}), ("random", {})],
    ids=["tiny-drafter", "self", "random"],
)
def test_threaded_pearl_equals_plain_greedy(name, spec, timeline_ok):
    target = tiny("target")
    plain = build_engine(target, None, GenerationConfig(max_new_tokens=48)).run(PROMPT)
    draft, schedule = drafter(name, **spec)
    # The target drafting for itself waits for two drafts per forward, so that it has
    # drafts to accept whatever the thread timing (the other cases never wait).
    wait = 2 if name == "target" else 0
    run = run_threaded_pearl(target, draft, schedule, target.encode(PROMPT), 48, min_drafts=wait)
    assert run.token_ids == plain.token_ids, "threaded PEARL must reproduce plain greedy"
    assert run.kept <= run.drafted and run.forwards <= 48
    if name == "target":
        assert run.kept > 0, "a drafter that is the target has its tokens accepted"
    timeline_ok(_as_result(run))


def _as_result(run):
    from playground.simulate.timeline import SimResult

    drafter_end = max((s.end for s in run.timeline), default=0.0)
    return SimResult("pearl", len(run.token_ids), max(run.seconds, drafter_end), run.timeline)


def test_overlap_comparison_reports_every_configuration():
    from playground.simulate.overlap import compare_overlap

    spec = SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="greedy")
    rows, last = compare_overlap(tiny("target"), spec, [PROMPT], 16, load_model, repeats=1)
    names = [r.config for r in rows]
    assert names == [
        "plain/2 threads",
        "sd/2 threads",
        "plain/1 thread",
        "sd/1 thread",
        "pearl threads (1+1)",
    ]
    assert all(r.equal_to_plain and r.tokens_per_s > 0 for r in rows)
    assert len(last.token_ids) == 16


def test_waiting_for_drafts_keeps_the_output():
    target = tiny("target")
    plain = build_engine(target, None, GenerationConfig(max_new_tokens=40)).run(PROMPT)
    draft, schedule = drafter("model", drafter_model="tiny:drafter")
    run = run_threaded_pearl(target, draft, schedule, target.encode(PROMPT), 40, min_drafts=3)
    assert run.token_ids == plain.token_ids
    assert run.forwards < 40, "waiting for drafts verifies several tokens per forward"
