"""Typical acceptance: exact at temperature 0 (any ε, ε = 0 included); lossy above it.

Why ε = 0 cannot reproduce the exact samplers at temperature > 0: the threshold
min(ε, δ·e^{-H}) is then 0, so every drafted token the target supports is accepted and
the first token follows q on p's support, not p (`test_epsilon_zero_accepts_the_support`).
At temperature 0 the rows are one-hot and typical acceptance is greedy verification, so
there it reproduces greedy and speculative sampling token for token.
"""

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
from playground.samplers.greedy import GreedySampler
from playground.samplers.speculative import SpeculativeSampler
from playground.samplers.typical import TypicalSampler, typical_threshold

V = 6
PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def typical(epsilon: float, delta: float = 0.3) -> TypicalSampler:
    return TypicalSampler(SpecConfig(options={"typical_epsilon": epsilon, "typical_delta": delta}))


def test_threshold_is_min_of_floor_and_entropy_scaled_bar():
    uniform = torch.full((1, 4), 0.25)  # H = log 4
    peaked = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # H = 0
    assert math.isclose(float(typical_threshold(uniform, 0.9, 0.8)[0]), 0.8 / 4, rel_tol=1e-6)
    assert math.isclose(float(typical_threshold(peaked, 0.09, 0.3)[0]), 0.09, rel_tol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, 0.09, 1.0])
def test_temperature_zero_is_greedy_verification(epsilon):
    g = torch.Generator().manual_seed(0)
    for case in range(200):
        k = 1 + case % 5
        logits = 3 * torch.randn(k + 1, V, generator=g)  # (k + 1, V)
        best = logits.argmax(-1)
        tokens = torch.where(torch.rand(k, generator=g) < 0.7, best[:k], (best[:k] + 1) % V)
        p_target, draft = Distribution(logits=logits, greedy=True), Draft.chain(tokens)
        a = typical(epsilon).verify(draft, p_target, torch.Generator().manual_seed(case))
        b = GreedySampler().verify(draft, p_target, torch.Generator())
        c = SpeculativeSampler().verify(draft, p_target, torch.Generator().manual_seed(case))
        assert (
            (a.accepted, a.next_token) == (b.accepted, b.next_token) == (c.accepted, c.next_token)
        )


def test_epsilon_zero_reproduces_greedy_runs_on_tiny_models():
    config = GenerationConfig(max_new_tokens=40)
    plain = build_engine(tiny("target"), None, config).run(PROMPT)
    for sampler, options in (("speculative", {}), ("typical", {"typical_epsilon": 0.0})):
        spec = SpecConfig(
            drafter="model", drafter_model="tiny:drafter", sampler=sampler, options=options
        )
        run = build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)
        assert run.token_ids == plain.token_ids, f"{sampler} at temperature 0 must equal greedy"


def first_token_counts(sampler, p, q, draws, seed=0):
    rng = torch.Generator().manual_seed(seed)
    counts = torch.zeros(V)
    p_target = Distribution.from_probs(p)
    for x in torch.multinomial(q[0], draws, replacement=True, generator=rng).tolist():
        verdict = sampler.verify(Draft.chain(torch.tensor([x]), q), p_target, rng)
        counts[x if verdict.accepted else verdict.next_token] += 1
    return counts


def documented_law(p_row, q_row, threshold):
    """Equation (2): q on the typical set plus the rejected mass times p."""
    kept = q_row * (p_row > threshold)
    return kept + (1 - kept.sum()) * p_row


P = torch.tensor([[0.5, 0.25, 0.15, 0.07, 0.03, 0.0], [0.2] * 5 + [0.0]])  # (2, V)
Q = torch.tensor([[0.05, 0.1, 0.15, 0.2, 0.3, 0.2]])  # (1, V): token 5 has p = 0


def test_first_token_follows_equation_two(chi2):
    sampler = typical(0.09, 0.3)
    threshold = float(typical_threshold(P[:1], 0.09, 0.3)[0])
    counts = first_token_counts(sampler, P, Q, 30_000)
    law = documented_law(P[0], Q[0], threshold)
    assert chi2(counts, law) > 1e-3, "typical acceptance does not follow equation (2)"
    assert chi2(counts, P[0]) < 1e-6, "this toy should show the rule is lossy"


def test_epsilon_zero_accepts_the_support(chi2):
    counts = first_token_counts(typical(0.0), P, Q, 30_000)
    support_q = Q[0] * (P[0] > 0)
    law = support_q + (1 - support_q.sum()) * P[0]
    assert chi2(counts, law) > 1e-3, "ε = 0 must accept every token with p > 0"
    assert chi2(counts, P[0]) < 1e-6, "ε = 0 is not speculative sampling at temperature 1"


def test_trees_take_the_longest_passing_path():
    # root children: 0 (token 1), 1 (token 2); node 2 (token 3) under node 1.
    draft = Draft(tokens=torch.tensor([1, 2, 3]), parents=torch.tensor([-1, -1, 1]))
    p = torch.full((4, V), 0.01)
    p[0, 1], p[0, 2], p[2, 3] = 0.5, 0.4, 0.9  # rows: root, after node 0, node 1, node 2
    p = p / p.sum(-1, keepdim=True)
    verdict = typical(0.09).verify(draft, Distribution.from_probs(p), torch.Generator())
    assert verdict.accepted == [1, 2], "the deeper passing path wins over the likelier child"
    assert verdict.next_kind == "bonus"


@pytest.mark.parametrize(
    "options", [{"typical_epsilon": 1.5}, {"typical_delta": -0.1}, {"typical_epsilon": "high"}]
)
def test_nonsense_thresholds_are_rejected(options):
    with pytest.raises(ConfigError, match="typical_"):
        TypicalSampler(SpecConfig(options=options))
