"""The confidence schedule: stops after an unsure token, never drafts past its bound."""

from __future__ import annotations

from functools import cache

import pytest

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.errors import ConfigError
from playground.models import load_model
from playground.schedules import SCHEDULES
from playground.schedules.features import TokenFeatures, token_features

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny():
    return load_model("tiny:target")


def schedule(threshold: float, bound: int = 16):
    spec = SpecConfig(
        schedule="confidence",
        num_draft_tokens=1,
        max_draft_tokens=bound,
        options={"confidence_threshold": threshold},
    )
    return SCHEDULES.get("confidence").factory(spec)


def test_stops_below_the_threshold_using_the_drafters_own_probability():
    rule = schedule(0.5)
    assert rule.num_draft_tokens() == 16
    assert rule.keep_drafting(1, None, TokenFeatures(0.6, 0.6, 1.0))
    assert not rule.keep_drafting(1, None, TokenFeatures(0.4, 0.9, 1.0))
    assert not rule.keep_drafting(1, 0.3, None), "no features: q_draft of the token decides"
    assert rule.keep_drafting(1, None, None), "nothing to judge by: keep drafting"


def test_threshold_is_validated():
    with pytest.raises(ConfigError):
        schedule(1.5)


def test_token_features():
    import torch

    logits = torch.tensor([2.0, 0.0, float("-inf"), 0.0])
    f = token_features(logits, 1)
    probs = torch.softmax(logits, dim=-1)
    assert f.top_prob == pytest.approx(float(probs[0])) and f.token_prob == pytest.approx(
        float(probs[1])
    )
    assert f.entropy == pytest.approx(float(-(probs[probs > 0] * probs[probs > 0].log()).sum()))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 1.0])
def test_never_drafts_past_its_bound_and_stays_lossless(threshold):
    config = GenerationConfig(max_new_tokens=80, stop_at_eos=False)
    plain = build_engine(tiny(), None, config).run(PROMPT)
    spec = SpecConfig(
        drafter="layer_skip",
        sampler="greedy",
        schedule="confidence",
        num_draft_tokens=1,
        max_draft_tokens=5,
        options={"layers": 3, "confidence_threshold": threshold},
    )
    engine = build_engine(tiny(), spec, config)
    steps = list(engine.stream(PROMPT))
    sizes = [s.num_draft_tokens for s in steps if s.draft_tokens]
    assert max(sizes) <= 5
    if threshold == 0.0:
        assert max(sizes) == 5, "always confident: drafts reach the bound"
    if threshold == 1.0:
        assert max(sizes) == 1, "never confident: every draft stops after its first token"
    assert [t for s in steps for t in s.emitted] == plain.token_ids
