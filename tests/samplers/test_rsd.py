"""Recursive rejection sampling (RSD) preserves the target distribution.

χ² tests over 200k nodes at once: children drawn without replacement from q (Gumbel-top-k,
2-4 of them) must emit tokens that follow p. Negative controls must fail the same test:
children drawn with replacement (a repeat is then wrongly accepted, since q_i gives it no
mass), and deterministic top-k children verified with q as if sampled.
"""

from __future__ import annotations

import pytest
import torch

from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers.base import Distribution
from playground.samplers.rsd import RSDSampler, rsd_node
from playground.samplers.speculative import SpeculativeSampler


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("case", ["close", "far", "partial_wide", "peaked"])
def test_children_without_replacement_emit_p(case, m, node_law):
    q = node_law.PROPOSALS[case]
    m = min(m, int((q > 0).sum()))
    rng = torch.Generator().manual_seed(m)
    counts = node_law.counts(rsd_node, q, node_law.without_replacement(q, m, rng), rng)
    node_law.assert_follows_p(counts, f"{case}, {m} children")


def test_negative_control_children_with_replacement_fail(node_law):
    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["peaked"]
    counts = node_law.counts(rsd_node, q, node_law.iid(q, 3, rng), rng)
    node_law.assert_detected(counts, "the wrong proposal law must be detected")


def test_negative_control_top_k_children_with_q_fail(node_law):
    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["far"]
    tokens = q.topk(2).indices.expand(node_law.DRAWS, -1)  # deterministic, yet verified with q
    counts = node_law.counts(rsd_node, q, tokens, rng)
    node_law.assert_detected(counts, "the wrong proposal law must be detected")


def test_chain_reproduces_the_chain_sampler_seed_for_seed():
    g = torch.Generator().manual_seed(2)
    for trial in range(50):
        q_draft = torch.softmax(torch.randn(3, 6, generator=g), -1)  # (3, V)
        p = torch.softmax(torch.randn(4, 6, generator=g), -1)  # (4, V)
        draft = Draft.chain(torch.multinomial(q_draft, 1, generator=g)[:, 0], q_draft)
        rng_a, rng_b = (torch.Generator().manual_seed(trial) for _ in range(2))
        a = RSDSampler().verify(draft, Distribution.from_probs(p), rng_a)
        b = SpeculativeSampler().verify(draft, Distribution.from_probs(p), rng_b)
        assert (a.accepted, a.next_token, a.next_kind) == (b.accepted, b.next_token, b.next_kind)


def test_refuses_children_drawn_with_replacement():
    q = torch.full((2, 4), 0.25)
    draft = Draft(torch.tensor([1, 2]), torch.tensor([-1, -1]), q, children_drawn="iid")
    p = Distribution.from_probs(torch.full((3, 4), 0.25))
    with pytest.raises(IncompatibleError, match="specinfer or spectr"):
        RSDSampler().verify(draft, p, torch.Generator())
