"""RDK: drafting from q_RDK = Mᵀq' (mass moved to pruned tokens), checked with p/q_RDK, is lossless.

Toy world: a target vocabulary of 10 ids (id 0 stands for no text), a pruned drafter that
keeps ids 1-5, random target embeddings as the affinity prior. The target conditions on
the last token, so the context after token x is x (context 0 is the root).
"""

from __future__ import annotations

import pytest
import torch

from playground.config import SpecConfig
from playground.engine.build import check_compatible
from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers import SAMPLERS
from playground.samplers.base import Distribution, sample_from
from playground.samplers.rdk import AffinityKernel, ExactRDKSampler
from playground.samplers.rdk_linear import LinearAffinityKernel, LinearRDKSampler
from playground.samplers.tli import TLISampler, verify_batch

V = 10
KEEP = torch.tensor([1, 2, 3, 4, 5])
AFTER = torch.arange(V)
DRAWS = 200_000
g = torch.Generator().manual_seed(31)
EMBED = torch.randn(V, 4, generator=g)  # (V, hidden)
P_LOGITS = 1.5 * torch.randn(V, V, generator=g)
P_LOGITS[:, 0] = float("-inf")
P = P_LOGITS.softmax(-1)  # (contexts, V)
Q_LOGITS = torch.full((V, V), float("-inf"))
Q_LOGITS[:, KEEP] = torch.randn(V, len(KEEP), generator=g)
Q_PRIME = Q_LOGITS.softmax(-1)  # (contexts, V): the pruned drafter's q', zero off KEEP


def kernel(linear: bool, mix: float = 0.5, sharpness: float = 3.0, top: int = 5) -> AffinityKernel:
    receives = torch.ones(V, dtype=torch.bool)
    receives[0] = False  # no text
    receives[KEEP] = False
    kernel_type = LinearAffinityKernel if linear else AffinityKernel
    return kernel_type(
        embeddings=EMBED,
        inv_norms=1 / EMBED.norm(dim=-1),
        receives=receives,
        mix=mix,
        sharpness=sharpness,
        top=top,
    )


def dense_kernel_matrix(mix: float = 0.5, sharpness: float = 3.0) -> torch.Tensor:
    """Equation (1) written out: M (V, V), rows for kept ids, identity rows elsewhere."""
    unit = EMBED / EMBED.norm(dim=-1, keepdim=True)
    oov = [t for t in range(1, V) if t not in KEEP.tolist()]
    m = torch.eye(V)
    for k in KEEP.tolist():
        support = torch.tensor([k, *oov])  # the drafted token itself and the pruned ones
        s = torch.zeros(V)
        s[support] = (sharpness * unit[support] @ unit[k]).softmax(0)
        m[k] = (1 - mix) * torch.eye(V)[k] + mix * s
    return m


def propose_with(q_rows: torch.Tensor):
    def propose(contexts, k, rng):
        tokens, rows = [], []
        for _ in range(k):
            q = q_rows[contexts]  # (B, V)
            x = torch.multinomial(q, 1, generator=rng)[:, 0]
            tokens.append(x)
            rows.append(q)
            contexts = AFTER[x]
        return torch.stack(tokens, 1), torch.stack(rows, 1)

    return propose


VARIANTS = {"rdk": False, "rdk_linear": True}


def test_exact_kernel_is_m_transpose_q():
    q_rdk = kernel(linear=False).apply(Q_PRIME)  # (contexts, V)
    assert torch.allclose(q_rdk, Q_PRIME @ dense_kernel_matrix(), atol=1e-6)
    assert torch.allclose(q_rdk.sum(-1), torch.ones(V), atol=1e-6)
    assert bool((q_rdk[:, 6:].sum(-1) > 0.05).all()), "mass reaches the pruned tokens"


def test_linear_kernel_is_a_distribution_and_exact_for_one_hot():
    q_lin = kernel(linear=True).apply(Q_PRIME)
    assert bool((q_lin >= 0).all()) and torch.allclose(q_lin.sum(-1), torch.ones(V), atol=1e-6)
    one_hot = torch.zeros(3, V)
    one_hot[torch.arange(3), KEEP[:3]] = 1.0
    exact, linear = kernel(False).apply(one_hot), kernel(True).apply(one_hot)
    assert torch.allclose(exact, linear, atol=1e-6), "first order is exact at a point mass"


def test_identity_kernel_returns_q_prime_itself():
    for linear in (False, True):
        assert kernel(linear, mix=0.0).apply(Q_PRIME) is Q_PRIME


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rdk_emits_the_target_distribution(two_tokens, chi2, variant):
    q_rdk = kernel(VARIANTS[variant]).apply(Q_PRIME)
    first, second = two_tokens(propose_with(q_rdk), verify_batch, P, AFTER, DRAWS)
    counts = torch.zeros(V, V)
    counts.index_put_((first, second), torch.ones(DRAWS), accumulate=True)
    assert chi2(counts.sum(1), P[0]) > 1e-3, "first token does not follow p_target"
    assert chi2(counts.flatten(), (P[0][:, None] * P).flatten()) > 1e-3, "second token is off"
    assert int(counts[6:].sum()) > 0, "pruned tokens are drafted and emitted"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_acceptance_matches_closed_form(variant):
    q_rdk = kernel(VARIANTS[variant]).apply(Q_PRIME)[0]  # (V,)
    rng = torch.Generator().manual_seed(8)
    x = torch.multinomial(q_rdk, DRAWS, replacement=True, generator=rng)[:, None]
    p_rows = P[torch.stack([torch.zeros_like(x[:, 0]), x[:, 0]], 1)]
    rate = float(
        (verify_batch(p_rows, q_rdk.expand(DRAWS, 1, -1), x, rng).num_accepted >= 1).float().mean()
    )
    closed = float(torch.minimum(P[0], q_rdk).sum())
    assert abs(rate - closed) < 0.01, (rate, closed)
    tli = float(torch.minimum(P[0], Q_PRIME[0]).sum())
    assert closed > tli, "moving mass to pruned tokens the target likes raises acceptance here"


def test_verifying_against_q_prime_is_caught(two_tokens, chi2):
    """Negative control: draft from q_RDK but verify against q' (pruned tokens look q = 0)."""
    q_rdk = kernel(linear=False).apply(Q_PRIME)
    propose = propose_with(q_rdk)

    def wrong(contexts, k, rng):
        tokens, _ = propose(contexts, k, rng)
        ctx = torch.cat([contexts[:, None], tokens[:, :-1]], dim=1)
        return tokens, Q_PRIME[ctx]

    first, _ = two_tokens(wrong, verify_batch, P, AFTER, DRAWS)
    assert chi2(torch.bincount(first, minlength=V).float(), P[0]) < 1e-3


def test_identity_kernel_gives_tli_outputs_for_the_same_seed():
    identity = kernel(linear=False, mix=0.0)
    runs = []
    for sampler, q_rows in ((ExactRDKSampler(), identity.apply(Q_PRIME)), (TLISampler(), Q_PRIME)):
        rng, out = torch.Generator().manual_seed(9), []
        for _ in range(2000):
            x = sample_from(q_rows[0], rng)
            draft = Draft.chain(torch.tensor([x]), q_rows[0][None], extra={"proposal": "kernel"})
            verdict = sampler.verify(draft, Distribution.from_probs(P[torch.tensor([0, x])]), rng)
            out.append((x, tuple(verdict.accepted), verdict.next_token))
        runs.append(out)
    assert runs[0] == runs[1]


def test_drafts_not_drawn_through_the_kernel_are_refused():
    draft = Draft.chain(torch.tensor([1]), Q_PRIME[:1])
    with pytest.raises(IncompatibleError, match="pruned"):
        LinearRDKSampler().verify(draft, Distribution.from_probs(P[:2]), torch.Generator())


def test_rdk_needs_a_drafter_that_samples_through_its_kernel():
    for drafter in ("cross_tokenizer", "model", "prompt_lookup"):
        spec = SpecConfig(drafter=drafter, drafter_model="x", sampler="rdk")
        with pytest.raises(IncompatibleError, match="tli"):
            check_compatible(spec)
    check_compatible(SpecConfig(drafter="pruned", sampler="rdk_linear"))


def test_both_variants_registered_lossless_each_with_its_kernel():
    for name, linear in VARIANTS.items():
        entry = SAMPLERS.get(name)
        assert entry.lossless and {"cross_vocab", "draft:kernel"} <= entry.tags and entry.paper
        kernel_type = entry.factory.kernel_type
        assert issubclass(kernel_type, LinearAffinityKernel) == linear, (
            f"the drafter builds {kernel_type.__name__} for {name}"
        )
