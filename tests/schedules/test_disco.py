"""DISCO: examples from traces, a classifier that learns what the data allows, a schedule
that stays within its bound, and the shipped weights."""

from __future__ import annotations

import argparse
from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.events import Step, write_trace
from playground.errors import ConfigError
from playground.models import load_model
from playground.schedules.disco import Classifier, DiscoSchedule
from playground.schedules.disco_train import (
    accuracy,
    add_train_schedule_flags,
    examples,
    train_schedule_command,
)

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"
SHARPNESS = 8.0  # true P(accept) = σ(8 (token_prob - 0.5)): a logistic model can fit it


def synthetic_steps(rounds: int, seed: int, draft_len: int = 6) -> tuple[list[Step], list[float]]:
    """Chains whose tokens are accepted with a known probability; also that probability
    for every token the verifier reached (the examples DISCO learns from)."""
    rng = torch.Generator().manual_seed(seed)
    steps, truth = [], []
    for index in range(rounds):
        token_prob = torch.rand(draft_len, generator=rng)  # (k,)
        top_prob = torch.maximum(token_prob, torch.rand(draft_len, generator=rng))
        entropy = torch.rand(draft_len, generator=rng) * 3
        p_accept = torch.sigmoid(SHARPNESS * (token_prob - 0.5))
        accepted = 0
        while accepted < draft_len:
            truth.append(float(p_accept[accepted]))
            if float(torch.rand(1, generator=rng)) >= p_accept[accepted]:
                break
            accepted += 1
        features = torch.stack([token_prob, top_prob, entropy], dim=1).tolist()  # (k, 3)
        steps.append(
            Step(
                index=index,
                draft_tokens=list(range(draft_len)),
                draft_parents=list(range(-1, draft_len - 1)),
                accepted=list(range(accepted)),
                extra={"draft_features": features},
            )
        )
    return steps, truth


def train(tmp_path, steps: list[Step]) -> Classifier:
    write_trace(tmp_path / "trace.json", steps, None)
    parser = argparse.ArgumentParser()
    add_train_schedule_flags(parser)
    out = tmp_path / "disco.pt"
    args = parser.parse_args(["--traces", str(tmp_path / "trace.json"), "--out", str(out)])
    assert train_schedule_command(args) == 0
    return Classifier.load(out)


def test_examples_are_the_reached_tokens_with_replayed_recent_acceptance():
    features = [[0.9, 0.9, 0.1], [0.8, 0.8, 0.2], [0.2, 0.5, 1.0], [0.1, 0.4, 2.0]]
    step = Step(
        index=0,
        draft_tokens=[1, 2, 3, 4],
        draft_parents=[-1, 0, 1, 2],
        accepted=[0, 1],
        extra={"draft_features": features},
    )
    data = examples([step, step])
    assert data.y.tolist() == [1, 1, 0] * 2, "accepted, accepted, first rejection; no more"
    assert data.x[:3, 3].tolist() == [1, 2, 3], "positions count from 1"
    assert data.x[:3, 4].tolist() == [0.5] * 3, "no history yet: 0.5"
    assert data.x[3:, 4].tolist() == [0.5] * 3, "after one round: 2 accepted / 4 drafted"
    assert data.x[0, :3].tolist() == pytest.approx(features[0])


def test_classifier_reaches_the_accuracy_the_data_allows(tmp_path):
    classifier = train(tmp_path, synthetic_steps(600, seed=1)[0])
    test_steps, truth = synthetic_steps(600, seed=2)
    data = examples(test_steps)
    bayes = sum(max(p, 1 - p) for p in truth) / len(truth)  # the best any rule can do
    majority = max(float(data.y.mean()), 1 - float(data.y.mean()))
    got = accuracy(classifier, data)
    assert got >= bayes - 0.03, f"accuracy {got:.3f}, Bayes-optimal {bayes:.3f}"
    assert got > majority + 0.05, "the features carry signal; use it"
    assert classifier.weight[0] > 0, "more drafter confidence means more acceptance"


def test_training_refuses_traces_without_both_outcomes(tmp_path):
    step = Step(
        index=0,
        draft_tokens=[1],
        draft_parents=[-1],
        accepted=[0],
        extra={"draft_features": [[0.9, 0.9, 0.1]]},
    )
    with pytest.raises(ConfigError):
        train(tmp_path, [step] * 5)


def test_missing_weights_say_how_to_train(tmp_path):
    with pytest.raises(ConfigError, match="train-schedule"):
        Classifier.load(tmp_path / "none.pt")


@cache
def tiny():
    return load_model("tiny:target")


@pytest.mark.parametrize("threshold", [0.0, 1.0])
def test_never_drafts_past_its_bound_and_stays_lossless(tmp_path, threshold):
    train(tmp_path, synthetic_steps(100, seed=3)[0])
    config = GenerationConfig(max_new_tokens=60, stop_at_eos=False)
    plain = build_engine(tiny(), None, config).run(PROMPT)
    spec = SpecConfig(
        drafter="layer_skip",
        sampler="greedy",
        schedule="disco",
        num_draft_tokens=1,
        max_draft_tokens=4,
        options={
            "layers": 3,
            "disco_threshold": threshold,
            "disco_weights": str(tmp_path / "disco.pt"),
        },
    )
    steps = list(build_engine(tiny(), spec, config).stream(PROMPT))
    sizes = [s.num_draft_tokens for s in steps if s.draft_tokens]
    assert max(sizes) == (4 if threshold == 0.0 else 1)
    assert [t for s in steps for t in s.emitted] == plain.token_ids


def test_shipped_weights_load_and_prefer_confident_tokens():
    schedule = DiscoSchedule(SpecConfig(schedule="disco"))
    info = schedule.classifier.info
    assert info["examples"] > 100 and "traces" in info
    x = torch.tensor([[0.95, 0.95, 0.2, 1.0, 0.5], [0.05, 0.3, 5.0, 1.0, 0.5]])
    sure, unsure = schedule.classifier.probability(x).tolist()
    assert sure > unsure


def test_model_drafters_write_their_token_features_into_each_step():
    spec = SpecConfig(
        drafter="layer_skip",
        sampler="greedy",
        schedule="fixed",
        num_draft_tokens=3,
        options={"layers": 2},
    )
    steps = list(build_engine(tiny(), spec, GenerationConfig(max_new_tokens=20)).stream(PROMPT))
    drafted = [s for s in steps if s.draft_tokens]
    assert drafted
    for step in drafted:
        features = step.extra["draft_features"]
        assert len(features) == step.num_draft_tokens and len(features[0]) == 3
        assert all(0 < f[0] <= f[1] <= 1 for f in features), "greedy: token = top token"
    assert len(examples(steps)) > 0
