"""Traces round-trip every Step and the summary."""

import pytest

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.events import read_trace, write_trace
from playground.errors import ConfigError
from playground.models import load_model


def test_trace_round_trip(tmp_path):
    target = load_model("tiny:target")
    engine = build_engine(
        target,
        SpecConfig(drafter="prompt_lookup", sampler="speculative"),
        GenerationConfig(max_new_tokens=20, temperature=1.0, seed=3),
    )
    steps = list(engine.stream("the cat sat on the mat. the cat sat on the"))
    from playground.analysis.metrics import summarize

    summary = summarize(engine, "prompt", steps)
    write_trace(tmp_path / "t.json", steps, summary)
    again, summary2 = read_trace(tmp_path / "t.json")
    assert [s.to_dict() for s in again] == [s.to_dict() for s in steps]
    assert summary2.token_ids == summary.token_ids and summary2.tau == summary.tau


def test_a_file_that_is_not_a_trace_is_refused(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not a SpecLab trace"):
        read_trace(tmp_path / "x.json")
