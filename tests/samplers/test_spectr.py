"""SpecTr's k-sequential selection (K-SEQ) preserves the target distribution.

χ² tests over 200k nodes at once: k i.i.d. draws from q (k = 1-4, repeats frequent when q
is peaked) must emit tokens that follow p, with ρ chosen as SpecTr's ρ*. Negative
control: the same draws with ρ = 1 (each draw accepted with min(1, p/q) as if it were
alone) must fail. Also: ρ is feasible, k = 1 is Leviathan et al.'s rule, and ρ* accepts
at least as often as the always-valid ρ = k.
"""

from __future__ import annotations

import pytest
import torch

from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.samplers.spectr import SpecTrSampler, kseq_node, kseq_rho, kseq_select
from playground.samplers.speculative import SpeculativeSampler


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("case", ["close", "far", "partial", "peaked"])
def test_k_iid_draws_emit_p(case, k, node_law):
    q = node_law.PROPOSALS[case]
    rng = torch.Generator().manual_seed(k)
    counts = node_law.counts(kseq_node, q, node_law.iid(q, k, rng), rng)
    node_law.assert_follows_p(counts, f"{case}, k={k}")


def test_negative_control_rho_one_fails(node_law):
    def rho_one(p, q, tokens, uniforms):
        return kseq_select(p, q, tokens, uniforms, torch.ones(tokens.shape[0]))

    rng = torch.Generator().manual_seed(0)
    q = node_law.PROPOSALS["close"]
    counts = node_law.counts(rho_one, q, node_law.iid(q, 3, rng), rng)
    node_law.assert_detected(counts, "ρ = 1 over-accepts with k > 1: the bias must be detected")


@pytest.mark.parametrize("case", ["close", "far", "partial", "peaked"])
def test_rho_is_feasible_and_beats_rho_k(case, node_law):
    p, q = node_law.P[None], node_law.PROPOSALS[case][None]  # (1, V)
    for k in (1, 2, 3, 4, 8):
        rho = kseq_rho(p, q, k)
        beta = torch.minimum(q, p / rho[:, None]).sum()
        assert 1 <= float(rho) <= k
        assert float(rho * beta) >= float(1 - (1 - beta) ** k) - 1e-6, "ρ ≥ c(ρ): p_res ≥ 0"
        beta_k = torch.minimum(q, p / k).sum()
        assert 1 - (1 - beta) ** k >= 1 - (1 - beta_k) ** k - 1e-6
    assert float(kseq_rho(p, q, 1)) == 1.0


def test_one_chain_reproduces_the_chain_sampler_seed_for_seed():
    g = torch.Generator().manual_seed(3)
    for trial in range(50):
        q_draft = torch.softmax(torch.randn(3, 6, generator=g), -1)  # (3, V)
        p = torch.softmax(torch.randn(4, 6, generator=g), -1)  # (4, V)
        draft = Draft.chain(torch.multinomial(q_draft, 1, generator=g)[:, 0], q_draft)
        rng_a, rng_b = (torch.Generator().manual_seed(trial) for _ in range(2))
        a = SpecTrSampler().verify(draft, Distribution.from_probs(p), rng_a)
        b = SpeculativeSampler().verify(draft, Distribution.from_probs(p), rng_b)
        assert (a.accepted, a.next_token, a.next_kind) == (b.accepted, b.next_token, b.next_kind)


def test_merged_chains_use_every_draw():
    """Three chains: two drew token 1 first (merged into node 0), one drew token 2 (node 1).
    The target wants token 1 then token 3: node 0's chains drew 3 and 0 below it."""
    q = torch.full((4, 4), 0.25)
    tokens, parents = torch.tensor([1, 2, 3, 0]), torch.tensor([-1, -1, 0, 0])
    draws = [[0, 1, 0], [2, 3], [], [], []]
    draft = Draft(tokens, parents, q, draws=draws, children_drawn="iid")
    p = torch.zeros(5, 4)
    p[0, 1] = p[1, 3] = p[2, 0] = p[3, 0] = p[4, 0] = 1.0
    verdict = SpecTrSampler().verify(draft, Distribution.from_probs(p), torch.Generator())
    assert verdict.accepted[0] == 0, "token 1 (two draws) is accepted with certainty"
    assert verdict.accepted == [0, 2] and verdict.next_kind == "bonus"
