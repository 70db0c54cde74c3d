"""Speculative sampling preserves the target distribution exactly (χ² over 200k draws).

Each trial runs whole rounds the way the engine does: draft a chain from q_draft, verify
against p_target, continue from the emitted text until two tokens are out. The joint law
of the first two emitted tokens must be p_target(a) · p_target(b | a).
"""

from __future__ import annotations

import pytest
import torch

from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.samplers.greedy import GreedySampler
from playground.samplers.speculative import SpeculativeSampler

V = 5
DRAWS = 200_000


def table(seed: int, peaked: float) -> torch.Tensor:
    """A conditional distribution table: row c is the distribution after token c (+ root)."""
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(peaked * torch.randn(V + 1, V, generator=g), dim=-1)  # (V + 1, V)


SHAPES = {
    "close": (table(1, 1.0), lambda p: 0.8 * p + 0.2 / V),
    "far": (table(2, 2.0), lambda p: table(3, 2.0)),
    "disjoint": (
        torch.nn.functional.normalize(table(4, 1.0) * torch.tensor([1.0, 1, 0, 0, 0]), p=1, dim=-1),
        lambda p: torch.tensor([0.0, 0, 1, 1, 1]).expand(V + 1, V) / 3,
    ),
    "one_hot_draft": (table(5, 1.0), None),
}


def draw_chain(q: torch.Tensor | None, p: torch.Tensor, context: int, k: int, rng):
    """Draft k tokens after `context` (a token id, or V for the root)."""
    tokens, rows = [], []
    for _ in range(k):
        if q is None:  # deterministic drafter: argmax of a fixed ordering
            token = (context + 1) % V
        else:
            row = q[context]
            token = int(torch.multinomial(row, 1, generator=rng))
            rows.append(row)
        tokens.append(token)
        context = token
    q_draft = torch.stack(rows) if rows else None
    return Draft.chain(torch.tensor(tokens), q_draft)


def run_trials(p: torch.Tensor, q: torch.Tensor | None, sampler, k=2, draws=DRAWS) -> torch.Tensor:
    """Counts of the first two emitted tokens (V x V) over `draws` trials."""
    rng = torch.Generator().manual_seed(0)
    counts = torch.zeros(V, V)
    for _ in range(draws):
        out: list[int] = []
        context = V  # the root row of the tables
        while len(out) < 2:
            draft = draw_chain(q, p, context, k, rng)
            path = [context] + draft.tokens.tolist()
            p_target = Distribution.from_probs(p[torch.tensor(path)])  # (k + 1, V)
            verdict = sampler.verify(draft, p_target, rng)
            out += draft.tokens[verdict.accepted].tolist() + [verdict.next_token]
            context = out[-1]
        counts[out[0], out[1]] += 1
    return counts


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_first_two_tokens_follow_p_target(shape, chi2):
    p, make_q = SHAPES[shape]
    q = None if make_q is None else make_q(p)
    counts = run_trials(p, q, SpeculativeSampler())
    first = p[V]  # (V,)
    joint = first[:, None] * p[:V]  # (V, V): p(a) p(b | a)
    assert chi2(counts.sum(1), first) > 1e-3, f"first token does not follow p_target ({shape})"
    assert chi2(counts.flatten(), joint.flatten()) > 1e-3, f"second token is off ({shape})"


def test_wrong_rule_is_caught(chi2):
    """Negative control: accepting every draft token must fail the same test."""

    class AcceptAll(SpeculativeSampler):
        def verify(self, draft, p_target, rng):
            verdict = super().verify(draft, p_target, rng)
            k = draft.num_nodes
            verdict.accepted, verdict.next_token = list(range(k)), p_target.sample(k, rng)
            return verdict

    p, make_q = SHAPES["far"]
    counts = run_trials(p, make_q(p), AcceptAll(), draws=20_000)
    assert chi2(counts.sum(1), p[V]) < 1e-3


def test_acceptance_matches_closed_form():
    """P(accept first token) = Σ min(p, q), within 1% (50k draws: 1% is 5 standard errors)."""
    p, make_q = SHAPES["far"]
    q = make_q(p)
    rng = torch.Generator().manual_seed(1)
    sampler = SpeculativeSampler()
    accepted, draws = 0, 50_000
    for _ in range(draws):
        draft = draw_chain(q, p, V, 1, rng)
        rows = p[torch.tensor([V, int(draft.tokens[0])])]
        accepted += len(sampler.verify(draft, Distribution.from_probs(rows), rng).accepted)
    expected = float(torch.minimum(p[V], q[V]).sum())
    assert abs(accepted / draws - expected) < 0.01, (accepted / draws, expected)


def test_greedy_distribution_reduces_to_greedy_verification():
    p = table(7, 3.0)
    q = table(8, 3.0)
    rng = torch.Generator().manual_seed(2)
    for _ in range(200):
        draft = draw_chain(q, p, V, 3, rng)
        path = [V] + draft.tokens.tolist()
        logits = p[torch.tensor(path)].log()
        greedy = Distribution(logits=logits, greedy=True)
        spec = SpeculativeSampler().verify(draft, greedy, rng)
        plain = GreedySampler().verify(draft, greedy, rng)
        assert (spec.accepted, spec.next_token) == (plain.accepted, plain.next_token)


def test_bonus_token_when_all_accepted():
    p = torch.full((3, V), 1.0 / V)
    draft = Draft.chain(torch.tensor([1, 2]), p[:2].clone())
    verdict = SpeculativeSampler().verify(draft, Distribution.from_probs(p), torch.Generator())
    assert verdict.accepted == [0, 1] and verdict.next_kind == "bonus"
    assert verdict.accept_probs == [1.0, 1.0]
