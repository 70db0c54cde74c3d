"""The decode loop on tiny models: lossless, deterministic, and strict about its input."""

from __future__ import annotations

import math
from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.errors import ConfigError, IncompatibleError, PromptError
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def loader(spec: str):
    return load_model(spec)


def run(spec: SpecConfig | None, **gen):
    config = GenerationConfig(**{"max_new_tokens": 40, **gen})
    return build_engine(tiny("target"), spec, config, load=loader).run(PROMPT)


def first_difference(a: list[int], b: list[int]) -> str:
    """Where two id lists part, with the target's top-2 logit gap there (near-tie or bug?)."""
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if n is None:
        return f"lengths differ: {len(a)} vs {len(b)}"
    target = tiny("target")
    ids = torch.tensor([target.encode(PROMPT) + a[:n]])
    with torch.inference_mode():
        logits = target.model(ids).logits[0, -1]
    top = logits.topk(2).values
    return (
        f"first difference at {n}: {a[n]} vs {b[n]}; top-2 logit gap {float(top[0] - top[1]):.2e}"
    )


GREEDY_CONFIGS = [
    SpecConfig(drafter="prompt_lookup", sampler="greedy"),
    SpecConfig(drafter="prompt_lookup", sampler="speculative", schedule="fixed"),
    SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="speculative"),
    SpecConfig(
        drafter="model",
        drafter_model="tiny:drafter",
        sampler="greedy",
        schedule="fixed",
        num_draft_tokens=6,
    ),
    SpecConfig(drafter="target", sampler="greedy"),
    SpecConfig(drafter="random", sampler="speculative"),
]


@pytest.mark.parametrize("spec", GREEDY_CONFIGS, ids=lambda s: f"{s.drafter}-{s.sampler}")
def test_greedy_output_equals_plain_greedy(spec):
    plain = run(None, max_new_tokens=120)
    spec_run = run(spec, max_new_tokens=120)
    assert spec_run.token_ids == plain.token_ids, first_difference(
        spec_run.token_ids, plain.token_ids
    )


def test_past_the_sliding_window_equality_holds():
    """tiny:target has a 16-token window: 200 tokens cross it many times with rollbacks."""
    spec = SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="greedy")
    plain, spec_run = run(None, max_new_tokens=200), run(spec, max_new_tokens=200)
    assert spec_run.steps < plain.steps, "the drafter should have saved some target forwards"
    assert spec_run.token_ids == plain.token_ids, first_difference(
        spec_run.token_ids, plain.token_ids
    )


def test_target_drafting_for_itself_is_always_accepted():
    greedy = run(SpecConfig(drafter="target", sampler="greedy", schedule="fixed"))
    assert greedy.acceptance_rate == 1.0
    sampled = run(
        SpecConfig(drafter="target", sampler="speculative", schedule="fixed"), temperature=1.0
    )
    assert sampled.acceptance_rate > 0.99, "p_target == q_draft up to rounding: accept all"


def test_random_drafter_is_rejected_but_harmless():
    result = run(SpecConfig(drafter="random", sampler="speculative"))
    assert result.acceptance_rate < 0.2
    assert result.token_ids == run(None).token_ids


def test_same_seed_same_output_and_other_seed_differs():
    spec = SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="speculative")
    a = run(spec, temperature=1.0, seed=1)
    b = run(spec, temperature=1.0, seed=1)
    c = run(spec, temperature=1.0, seed=2)
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids


def test_sampling_controls_are_applied():
    spec = SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="speculative")
    top1 = run(spec, temperature=1.0, top_k=1)
    assert top1.token_ids == run(None).token_ids, "top_k=1 is greedy whatever the temperature"
    nucleus = run(spec, temperature=1.0, top_p=1e-6)
    assert nucleus.token_ids == run(None).token_ids, "a tiny top_p keeps only the argmax"
    penalised = run(None, repetition_penalty=3.0, max_new_tokens=60)
    spec_penalised = run(spec, repetition_penalty=3.0, max_new_tokens=60)
    assert penalised.token_ids != run(None, max_new_tokens=60).token_ids
    assert spec_penalised.token_ids == penalised.token_ids, "the penalty sees draft prefixes too"


def test_eos_stops_generation():
    target = tiny("target")
    plain = run(None)
    eos = plain.token_ids[5]
    target.__dict__["eos_token_ids"] = frozenset({eos})
    try:
        for spec in (None, SpecConfig(drafter="target", sampler="greedy")):
            result = run(spec)
            assert result.token_ids == plain.token_ids[: plain.token_ids.index(eos) + 1]
            assert result.stop_reason == "eos"
    finally:
        del target.__dict__["eos_token_ids"]


def test_stop_string_ends_at_the_token_completing_it():
    plain = run(None)
    target = tiny("target")
    words = plain.text.split()
    stop = words[len(words) // 2]
    result = run(SpecConfig(drafter="target", sampler="greedy"), stop_strings=(stop,))
    assert stop in result.text and result.stop_reason == "stop_string"
    assert stop not in target.decode(result.token_ids[:-1])
    assert result.token_ids == plain.token_ids[: len(result.token_ids)]


def test_one_new_token_and_a_one_token_prompt():
    spec = SpecConfig(drafter="prompt_lookup", sampler="greedy")
    assert run(spec, max_new_tokens=1).new_tokens == 1
    target = tiny("target")
    bos = target.encode(PROMPT)[:1]
    config = GenerationConfig(max_new_tokens=10)
    engines = [build_engine(target, s, config, load=loader) for s in (None, spec)]
    plain, spec_run = (e.run(bos) for e in engines)
    assert plain.new_tokens == 10 and spec_run.token_ids == plain.token_ids


def test_summary_metrics_are_consistent():
    result = run(SpecConfig(drafter="model", drafter_model="tiny:drafter", sampler="greedy"))
    assert result.tau == pytest.approx(result.new_tokens / result.steps)
    assert 0 <= result.acceptance_rate <= 1
    assert result.tokens_per_s > 0 and result.wall_time > 0
    plain = run(None)
    assert plain.tau == 1.0 and math.isnan(plain.acceptance_rate)


@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "NaN"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
    ],
)
def test_bad_generation_knobs_are_refused(knobs, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**knobs)


@pytest.mark.parametrize("value", [0, 1000])
def test_bad_draft_lengths_are_refused(value):
    with pytest.raises(ConfigError, match="num_draft_tokens"):
        SpecConfig(drafter="prompt_lookup", num_draft_tokens=value)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ConfigError, match="speculative"):
        run(SpecConfig(drafter="prompt_lookup", sampler="nope"))
    with pytest.raises(ConfigError, match="prompt_lookup"):
        run(SpecConfig(drafter="nope"))
    with pytest.raises(ConfigError, match="unknown SpecConfig field"):
        SpecConfig.from_dict({"drafter": "model", "temperature": 1})


def test_empty_and_too_long_prompts_are_refused():
    engine = build_engine(tiny("target"), None, GenerationConfig(max_new_tokens=8))
    with pytest.raises(PromptError, match="empty"):
        engine.run("   ")
    with pytest.raises(PromptError, match="context"):
        engine.run("the cat " * 2000)


def test_a_drafter_with_another_tokenizer_names_the_samplers_that_work():
    spec = SpecConfig(drafter="model", drafter_model="tiny:drafter-char", sampler="speculative")
    with pytest.raises(IncompatibleError, match="tli, slem, slrs"):
        run(spec)
