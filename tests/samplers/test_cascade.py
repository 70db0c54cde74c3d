"""Speculative cascades emit their documented mixture π = (1 - r)·q + r·p (χ², 200k draws).

Toy world: tokens 0..V-1, both models condition on the last token only (row V is the
root). The tables are built so that each rule defers in some contexts and not in others.
"""

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
from playground.samplers.cascade import (
    CascadeSampler,
    deferral,
    mixture,
    total_variation,
    verify_batch,
)

V = 5
DRAWS = 200_000
AFTER = torch.arange(V)  # the context after token x is x
ALPHA = 0.1
PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


def table(seed: int, scales: list[float]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(V + 1, V, generator=g) * torch.tensor(scales)[:, None]
    return logits.softmax(dim=-1)  # (V + 1, V): row c is the distribution after c, row V root


P = table(1, [3.0, 0.5, 2.0, 4.0, 0.3, 2.5])
Q = table(2, [0.5, 3.0, 2.5, 0.2, 3.5, 1.0])


def pi_table(rule: str) -> torch.Tensor:
    tv = total_variation(P, Q)
    r = deferral(rule, ALPHA, Q.max(-1).values, P.max(-1).values, tv)  # (V + 1,)
    return mixture(P, Q, r)  # (V + 1, V)


def propose(contexts, k, rng):
    tokens, rows = [], []
    for _ in range(k):
        q = Q[contexts]  # (B, V)
        x = torch.multinomial(q, 1, generator=rng)[:, 0]
        tokens.append(x)
        rows.append(q)
        contexts = AFTER[x]
    return torch.stack(tokens, 1), torch.stack(rows, 1)


def verify_with(rule: str):
    def verify(p_rows, q_rows, tokens, rng):
        return verify_batch(p_rows, q_rows, tokens, rng, rule=rule, alpha=ALPHA)

    return verify


@pytest.mark.parametrize("rule", ["chow", "diff", "opt"])
def test_rules_defer_somewhere_but_not_everywhere(rule):
    r = deferral(rule, ALPHA, Q.max(-1).values, P.max(-1).values, total_variation(P, Q))
    assert 0 < int(r.sum()) < V + 1, f"{rule}: the toy must exercise both branches, r = {r}"


@pytest.mark.parametrize("rule", ["chow", "diff", "opt"])
def test_cascade_emits_its_mixture(rule, two_tokens, chi2):
    """k = 2: both first tokens come from drafted positions, so their law is π(a)·π(b | a)."""
    pi = pi_table(rule)
    first, second = two_tokens(propose, verify_with(rule), P, AFTER, DRAWS, k=2, root=V)
    counts = torch.zeros(V, V)
    counts.index_put_((first, second), torch.ones(DRAWS), accumulate=True)
    joint = pi[V][:, None] * pi[:V]  # (V, V)
    assert chi2(counts.sum(1), pi[V]) > 1e-3, f"{rule}: first token does not follow π"
    assert chi2(counts.flatten(), joint.flatten()) > 1e-3, f"{rule}: second token is off"
    assert chi2(counts.sum(1), P[V]) < 1e-6 or torch.allclose(pi[V], P[V]), "not p itself"


def test_bonus_position_follows_the_target(round_of, chi2):
    """k = 1 from the root: a fully accepted chain's bonus token is drawn from p."""
    rng = torch.Generator().manual_seed(1)
    contexts = torch.full((DRAWS,), V, dtype=torch.long)
    out = round_of(propose, verify_with("opt"), P, AFTER, contexts, 1, rng)
    bonus = out[:, 1] >= 0  # rounds that accepted the drafted token
    counts = torch.zeros(V, V)
    counts.index_put_((out[bonus, 0], out[bonus, 1]), torch.ones(int(bonus.sum())), accumulate=True)
    for a in range(V):
        if counts[a].sum() > 1000:
            assert chi2(counts[a], P[a]) > 1e-3, f"bonus after {a} does not follow p"


def test_sampler_matches_the_batch_rule_draw_for_draw():
    g = torch.Generator().manual_seed(0)
    sampler = CascadeSampler(SpecConfig(options={"cascade_rule": "diff", "cascade_alpha": ALPHA}))
    for case in range(200):
        k = 1 + case % 4
        p = torch.softmax(2 * torch.randn(k + 1, V, generator=g), dim=-1)
        q = torch.softmax(2 * torch.randn(k, V, generator=g), dim=-1)
        tokens = torch.multinomial(q, 1, generator=g)[:, 0]
        a = sampler.verify(
            Draft.chain(tokens, q), Distribution.from_probs(p), torch.Generator().manual_seed(case)
        )
        b = verify_batch(
            p[None],
            q[None],
            tokens[None],
            torch.Generator().manual_seed(case),
            rule="diff",
            alpha=ALPHA,
        )
        assert len(a.accepted) == int(b.num_accepted[0]) and a.next_token == int(b.next_token[0])


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def run_cascade(**options):
    spec = SpecConfig(
        drafter="model", drafter_model="tiny:drafter", sampler="cascade", options=options
    )
    config = GenerationConfig(max_new_tokens=40)
    return build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)


def test_greedy_extremes_on_tiny_models():
    """α = 0 with chow defers wherever the drafter is unsure (always, for a softmax drafter):
    plain greedy. α = 1 with chow never defers: every drafted token is accepted."""
    plain = build_engine(tiny("target"), None, GenerationConfig(max_new_tokens=40)).run(PROMPT)
    assert run_cascade(cascade_rule="chow", cascade_alpha=0.0).token_ids == plain.token_ids
    assert run_cascade(cascade_rule="chow", cascade_alpha=1.0).acceptance_rate == 1.0


@pytest.mark.parametrize(
    "options", [{"cascade_rule": "best"}, {"cascade_alpha": 2.0}, {"cascade_rule": 1}]
)
def test_nonsense_options_are_rejected(options):
    with pytest.raises(ConfigError, match="cascade_"):
        run_cascade(**options)
