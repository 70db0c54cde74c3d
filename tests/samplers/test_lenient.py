"""Lenient sampling: λ = 1 is speculative sampling draw for draw; λ > 1 follows its law (3)."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.tree import Draft
from playground.errors import ConfigError
from playground.models import load_model
from playground.samplers.base import Distribution
from playground.samplers.lenient import LenientSampler, emitted_law
from playground.samplers.speculative import SpeculativeSampler

V = 6
PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def lenient(value: float) -> LenientSampler:
    return LenientSampler(SpecConfig(options={"lenience": value}))


def random_case(g: torch.Generator, k: int, one_hot_q: bool):
    p = torch.softmax(2 * torch.randn(k + 1, V, generator=g), dim=-1)  # (k + 1, V)
    q = torch.softmax(2 * torch.randn(k, V, generator=g), dim=-1)  # (k, V)
    tokens = torch.multinomial(q, 1, generator=g)[:, 0]  # (k,)
    return Distribution.from_probs(p), Draft.chain(tokens, None if one_hot_q else q)


@pytest.mark.parametrize("one_hot_q", [False, True], ids=["sampled", "deterministic"])
def test_lenience_one_is_speculative_sampling_draw_for_draw(one_hot_q):
    g = torch.Generator().manual_seed(0)
    for case in range(300):
        p_target, draft = random_case(g, k=1 + case % 5, one_hot_q=one_hot_q)
        a = lenient(1.0).verify(draft, p_target, torch.Generator().manual_seed(case))
        b = SpeculativeSampler().verify(draft, p_target, torch.Generator().manual_seed(case))
        assert (a.accepted, a.next_token, a.next_kind) == (b.accepted, b.next_token, b.next_kind)
        assert a.accept_probs == b.accept_probs, f"case {case}: acceptance differs at λ = 1"


def test_lenience_one_reproduces_speculative_runs_on_tiny_models():
    config = GenerationConfig(max_new_tokens=40, temperature=1.0, seed=7)
    runs = {}
    for sampler, options in (("speculative", {}), ("lenient", {"lenience": 1.0})):
        spec = SpecConfig(
            drafter="model",
            drafter_model="tiny:drafter",
            sampler=sampler,
            schedule="fixed",
            options=options,
        )
        runs[sampler] = build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)
    assert runs["lenient"].token_ids == runs["speculative"].token_ids, (
        "lenient with λ = 1 must reproduce speculative sampling's run for the same seed"
    )


def test_greedy_decoding_is_unchanged_by_lenience():
    config = GenerationConfig(max_new_tokens=40)
    plain = build_engine(tiny("target"), None, config).run(PROMPT)
    spec = SpecConfig(
        drafter="model", drafter_model="tiny:drafter", sampler="lenient", options={"lenience": 50.0}
    )
    run = build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)
    assert run.token_ids == plain.token_ids, "one-hot p: (1) accepts exactly the argmax"


def test_first_token_follows_the_documented_law(chi2):
    """λ = 3: the first emitted token follows (3), which is measurably not p."""
    g = torch.Generator().manual_seed(3)
    p = torch.softmax(1.5 * torch.randn(2, V, generator=g), dim=-1)  # (2, V)
    q = torch.softmax(1.5 * torch.randn(1, V, generator=g), dim=-1)  # (1, V)
    sampler, rng = lenient(3.0), torch.Generator().manual_seed(0)
    counts = torch.zeros(V)
    draws = torch.multinomial(q[0], 30_000, replacement=True, generator=rng)
    for x in draws.tolist():
        verdict = sampler.verify(Draft.chain(torch.tensor([x]), q), Distribution.from_probs(p), rng)
        counts[x if verdict.accepted else verdict.next_token] += 1
    law = emitted_law(p[0], q[0], 3.0)
    assert torch.isclose(law.sum(), torch.tensor(1.0))
    assert chi2(counts, law) > 1e-3, "lenient output does not follow equation (3)"
    assert chi2(counts, p[0]) < 1e-6, "λ = 3 should be visibly lossy on this toy"
    assert 0.5 * (law - p[0]).abs().sum() <= 0.5 * (q[0] - p[0]).abs().sum() + 1e-6


@pytest.mark.parametrize("value", [0.5, float("nan"), "big", -1])
def test_nonsense_lenience_is_rejected(value):
    with pytest.raises(ConfigError, match="lenience"):
        lenient(value)
