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

DRAWS = 200_000
P = torch.tensor([0.05, 0.30, 0.10, 0.35, 0.20, 0.0])
CASES = {
    "close": torch.tensor([0.10, 0.25, 0.15, 0.30, 0.20, 0.0]),
    "far": torch.tensor([0.40, 0.05, 0.30, 0.05, 0.10, 0.10]),
    "peaked": torch.tensor([0.02, 0.90, 0.02, 0.02, 0.02, 0.02]),
    "partial": torch.tensor([0.0, 0.0, 0.5, 0.3, 0.2, 0.0]),
}


def emitted(decision, tokens: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    out = torch.empty(tokens.shape[0], dtype=torch.long)
    hit = decision.chosen >= 0
    out[hit] = tokens[hit, decision.chosen[hit]]
    out[~hit] = torch.multinomial(decision.residual[~hit], 1, generator=rng)[:, 0]
    return out


def run(q: torch.Tensor, tokens: torch.Tensor, rng) -> torch.Tensor:
    batch, m = tokens.shape
    p_rows, q_rows = P.expand(batch, -1), q.expand(batch, -1)
    decision = rsd_node(p_rows, q_rows, tokens, torch.rand(batch, m, generator=rng))
    return torch.bincount(emitted(decision, tokens, rng), minlength=P.numel())


def without_replacement(q: torch.Tensor, m: int, rng) -> torch.Tensor:
    """Gumbel-top-k: (DRAWS, m) sequential draws without replacement."""
    keys = q / torch.empty(DRAWS, q.numel()).exponential_(generator=rng)
    return keys.topk(m, dim=1).indices


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("case", sorted(CASES))
def test_children_without_replacement_emit_p(case, m, chi2):
    q = CASES[case]
    m = min(m, int((q > 0).sum()))
    rng = torch.Generator().manual_seed(m)
    counts = run(q, without_replacement(q, m, rng), rng)
    assert chi2(counts, P) > 1e-3, f"{case}, {m} children: {counts.tolist()} vs p={P.tolist()}"


def test_negative_control_children_with_replacement_fail(chi2):
    rng = torch.Generator().manual_seed(0)
    q = CASES["peaked"]
    tokens = torch.multinomial(q.expand(DRAWS, -1), 3, replacement=True, generator=rng)
    assert chi2(run(q, tokens, rng), P) < 1e-3, "the wrong proposal law must be detected"


def test_negative_control_top_k_children_with_q_fail(chi2):
    rng = torch.Generator().manual_seed(0)
    q = CASES["far"]
    tokens = q.topk(2).indices.expand(DRAWS, -1)  # deterministic, yet verified with q
    assert chi2(run(q, tokens, rng), P) < 1e-3, "the wrong proposal law must be detected"


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
