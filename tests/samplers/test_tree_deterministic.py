"""The deterministic-tree rule preserves the target distribution for any children.

χ² tests over 200k nodes at once: fixed top-k children (the case the rule is for), and
children picked at random with repeats (the rule never reads q, so how the children came
about must not matter). Negative control: the same top-k children verified with q as if
they had been sampled (SpecInfer's rule) must fail the same test.
"""

from __future__ import annotations

import pytest
import torch

from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.samplers.greedy import GreedySampler
from playground.samplers.specinfer import specinfer_node
from playground.samplers.tree_deterministic import TreeDeterministicSampler, deterministic_node

DRAWS = 200_000
P = torch.tensor([0.05, 0.30, 0.10, 0.35, 0.20, 0.0])
Q = torch.tensor([0.40, 0.05, 0.30, 0.05, 0.10, 0.10])  # the drafter's ranking


def emitted(decision, tokens: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    out = torch.empty(tokens.shape[0], dtype=torch.long)
    hit = decision.chosen >= 0
    out[hit] = tokens[hit, decision.chosen[hit]]
    out[~hit] = torch.multinomial(decision.residual[~hit], 1, generator=rng)[:, 0]
    return out


def run(rule, tokens: torch.Tensor, rng) -> torch.Tensor:
    batch, m = tokens.shape
    p_rows, q_rows = P.expand(batch, -1), Q.expand(batch, -1)
    decision = rule(p_rows, q_rows, tokens, torch.rand(batch, m, generator=rng))
    return torch.bincount(emitted(decision, tokens, rng), minlength=P.numel())


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_top_k_children_emit_p(m, chi2):
    rng = torch.Generator().manual_seed(m)
    tokens = Q.topk(m).indices.expand(DRAWS, -1)  # (DRAWS, m): the same children every time
    counts = run(deterministic_node, tokens, rng)
    assert chi2(counts, P) > 1e-3, f"top-{m}: {counts.tolist()} vs p={P.tolist()}"


def test_any_children_emit_p_repeats_included(chi2):
    rng = torch.Generator().manual_seed(9)
    tokens = torch.randint(0, P.numel(), (DRAWS, 4), generator=rng)  # repeats, p = 0 tokens
    assert chi2(run(deterministic_node, tokens, rng), P) > 1e-3


def test_negative_control_top_k_children_verified_as_sampled_fail(chi2):
    rng = torch.Generator().manual_seed(0)
    tokens = Q.topk(2).indices.expand(DRAWS, -1)
    assert chi2(run(specinfer_node, tokens, rng), P) < 1e-3, "q-based rules need sampled children"


def test_walks_a_tree_and_marks_never_reached_nodes():
    """Target one-hot at 2 then 4: child 1 (token 2) is accepted, then its child 3 (token 4)."""
    p = torch.zeros(5, 6)
    p[0, 2] = p[2, 4] = 1.0
    p[1, 0] = p[3, 0] = p[4, 0] = 1.0
    draft = Draft(torch.tensor([3, 2, 1, 4]), torch.tensor([-1, -1, 0, 1]))
    dist = Distribution.from_probs(p)
    verdict = TreeDeterministicSampler().verify(draft, dist, torch.Generator().manual_seed(0))
    assert verdict.accepted == [1, 3] and verdict.next_kind == "bonus" and verdict.next_token == 0
    assert verdict.accept_probs == [0.0, 1.0, None, 1.0]
    greedy = GreedySampler().verify(draft, dist, torch.Generator())
    assert (greedy.accepted, greedy.next_token) == (verdict.accepted, verdict.next_token)
