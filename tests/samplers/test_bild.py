"""BiLD: fallback at low drafter confidence, rollback at high target cross-entropy."""

from __future__ import annotations

import math
from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.tree import Draft
from playground.errors import ConfigError
from playground.models import load_model
from playground.samplers.base import Distribution
from playground.samplers.bild import BiLDSampler

V = 4
PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


def bild(fallback: float, rollback: float) -> BiLDSampler:
    return BiLDSampler(SpecConfig(options={"bild_fallback": fallback, "bild_rollback": rollback}))


def case(top_probs: list[float], p_of_token: list[float]):
    """A chain of token 0s with the given drafter top probabilities and target p(token)."""
    k = len(top_probs)
    p = torch.full((k + 1, V), 0.0)
    p[:k, 0] = torch.tensor(p_of_token)
    p[:k, 1:] = ((1 - p[:k, 0]) / (V - 1))[:, None]
    p[k] = torch.tensor([0.1, 0.7, 0.1, 0.1])
    features = [[t, t, 0.0] for t in top_probs]  # token_prob, top_prob, entropy
    draft = Draft.chain(torch.zeros(k, dtype=torch.long), extra={"features": features})
    return draft, Distribution(logits=p.log(), greedy=True)


def test_fallback_stops_at_the_first_unsure_position():
    draft, p_target = case([0.9, 0.8, 0.3, 0.9], [0.6, 0.6, 0.6, 0.6])
    verdict = bild(0.5, 3.0).verify(draft, p_target, torch.Generator())
    assert verdict.accepted == [0, 1] and verdict.detail["policy"] == "fallback"
    assert verdict.next_token == int(p_target.argmax[2]), "the target takes position 2"
    assert verdict.accept_probs == [1.0, 1.0, 0.0, None]


def test_rollback_rejects_the_first_token_the_target_finds_unlikely():
    draft, p_target = case([0.9, 0.9, 0.9], [0.6, 0.01, 0.6])  # -log 0.01 = 4.6 > 3
    verdict = bild(0.5, 3.0).verify(draft, p_target, torch.Generator())
    assert verdict.accepted == [0] and verdict.detail["policy"] == "rollback"
    assert verdict.next_token == int(p_target.argmax[1]), "the target's own token replaces it"
    assert math.isclose(verdict.detail["distance"][1], -math.log(0.01), rel_tol=1e-4)


def test_disagreeing_but_close_tokens_are_kept_at_temperature_zero():
    """Lossy: token 0 is not the target's argmax at position 0, yet -log 0.3 < 3 keeps it."""
    draft, _ = case([0.9], [0.3])
    p = torch.tensor([[0.3, 0.5, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1]])
    p_target = Distribution(logits=p.log(), greedy=True)
    assert int(p_target.argmax[0]) != 0
    verdict = bild(0.5, 3.0).verify(draft, p_target, torch.Generator())
    assert verdict.accepted == [0] and verdict.next_kind == "bonus"
    assert verdict.next_token == 1, "the bonus comes from the target's row after the chain"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def run_bild(**options):
    spec = SpecConfig(
        drafter="model", drafter_model="tiny:drafter", sampler="bild", options=options
    )
    config = GenerationConfig(max_new_tokens=40)
    return build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)


def test_extremes_on_tiny_models():
    """α_FB = 1 hands every position to the target (plain greedy); α_FB = 0 with a huge α_RB
    keeps every drafted token."""
    plain = build_engine(tiny("target"), None, GenerationConfig(max_new_tokens=40)).run(PROMPT)
    assert run_bild(bild_fallback=1.0).token_ids == plain.token_ids
    assert run_bild(bild_fallback=0.0, bild_rollback=100.0).acceptance_rate == 1.0


@pytest.mark.parametrize(
    "options", [{"bild_fallback": 1.5}, {"bild_rollback": -1.0}, {"bild_rollback": "far"}]
)
def test_nonsense_thresholds_are_rejected(options):
    with pytest.raises(ConfigError, match="bild_"):
        run_bild(**options)
