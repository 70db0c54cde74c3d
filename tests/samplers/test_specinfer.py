"""SpecInfer's multi-step speculative sampling preserves the target distribution.

χ² tests over 200k nodes at once (the node rule is batched): children drawn i.i.d. with
replacement from q (2-4 of them, repeats frequent when q is peaked) must emit tokens
that follow p. Negative controls, the same test with the wrong children, must fail:
children drawn without replacement, and deterministic top-k children verified with q as
if they had been sampled.
"""

from __future__ import annotations

import pytest
import torch

from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.samplers.specinfer import SpecInferSampler, specinfer_node
from playground.samplers.speculative import SpeculativeSampler


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("case", ["close", "far", "partial", "peaked"])
def test_iid_children_emit_p(case, m, node_law):
    q = node_law.PROPOSALS[case]
    rng = torch.Generator().manual_seed(m)
    counts = node_law.counts(specinfer_node, q, node_law.iid(q, m, rng), rng)
    node_law.assert_follows_p(counts, f"{case}, {m} children")


def test_negative_control_children_without_replacement_fail(node_law):
    """MSS assumes later siblings follow q; Gumbel-top-k siblings do not."""
    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["peaked"]
    counts = node_law.counts(specinfer_node, q, node_law.without_replacement(q, 3, rng), rng)
    node_law.assert_detected(counts, "the wrong proposal law must be detected")


def test_negative_control_top_k_children_with_q_fail(node_law):
    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["far"]
    tokens = q.topk(2).indices.expand(node_law.DRAWS, -1)  # deterministic, yet verified with q
    counts = node_law.counts(specinfer_node, q, tokens, rng)
    node_law.assert_detected(counts, "the wrong proposal law must be detected")


def test_chain_reproduces_the_chain_sampler_seed_for_seed():
    g = torch.Generator().manual_seed(1)
    for trial in range(50):
        q_draft = torch.softmax(torch.randn(3, 6, generator=g), -1)  # (3, V)
        p = torch.softmax(torch.randn(4, 6, generator=g), -1)  # (4, V)
        draft = Draft.chain(torch.multinomial(q_draft, 1, generator=g)[:, 0], q_draft)
        a = SpecInferSampler().verify(draft, Distribution.from_probs(p), _rng(trial))
        b = SpeculativeSampler().verify(draft, Distribution.from_probs(p), _rng(trial))
        assert (a.accepted, a.next_token, a.next_kind) == (b.accepted, b.next_token, b.next_kind)
        assert a.accept_probs == pytest.approx(b.accept_probs, nan_ok=True)


def test_accept_probs_mark_reached_nodes_only():
    """root: children 0 (token 1), 1 (token 1, a repeat), 2 (token 3); node 0 has child 3."""
    q = torch.tensor([0.0, 0.5, 0.0, 0.5])
    p = torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.25] * 4, [0.25] * 4, [0.25] * 4, [0.25] * 4])
    draft = Draft(
        torch.tensor([1, 1, 3, 0]),
        torch.tensor([-1, -1, -1, 0]),
        q.expand(4, -1),
        children_drawn="iid",
    )
    verdict = SpecInferSampler().verify(draft, Distribution.from_probs(p), _rng(0))
    assert verdict.accepted == [] and verdict.next_token == 2 and verdict.next_kind == "correction"
    assert verdict.accept_probs == [0.0, 0.0, 0.0, None], "every root child tried, node 3 never"


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
