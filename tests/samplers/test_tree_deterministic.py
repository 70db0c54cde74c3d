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


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_top_k_children_emit_p(m, node_law):
    q = node_law.PROPOSALS["far"]  # the drafter's ranking
    rng = torch.Generator().manual_seed(m)
    tokens = q.topk(m).indices.expand(node_law.DRAWS, -1)  # (DRAWS, m): the same every time
    node_law.assert_follows_p(node_law.counts(deterministic_node, q, tokens, rng), f"top-{m}")


def test_any_children_emit_p_repeats_included(node_law):
    rng = torch.Generator().manual_seed(9)
    p = node_law.P
    tokens = torch.randint(0, p.numel(), (node_law.DRAWS, 4), generator=rng)  # repeats, p = 0
    counts = node_law.counts(deterministic_node, node_law.PROPOSALS["far"], tokens, rng)
    node_law.assert_follows_p(counts, "random children")


def test_negative_control_top_k_children_verified_as_sampled_fail(node_law):
    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["far"]
    tokens = q.topk(2).indices.expand(node_law.DRAWS, -1)
    counts = node_law.counts(specinfer_node, q, tokens, rng)
    node_law.assert_detected(counts, "q-based rules need sampled children")


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
