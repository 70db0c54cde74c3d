"""TLI: drafting from q' (shared tokens, renormalised) and verifying with p/q' is lossless.

Toy world: target and drafter vocabularies over the alphabet "abc" that overlap but
differ; both models condition on the last character of the text only, so the target's
context after token x is `AFTER[x]`.
"""

from __future__ import annotations

import pytest
import torch

from playground.analysis.vocab import build_bridge
from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers import SAMPLERS
from playground.samplers.base import Distribution
from playground.samplers.greedy import GreedySampler
from playground.samplers.tli import TLISampler, restrict_to_intersection, verify_batch

TARGET = ["", "a", "b", "c", "ab", "ba", "abc", "ca", "bb"]
DRAFTER = ["", "a", "b", "c", "ab", "bc", "cab", "d"]
CONTEXTS = {"": 0, "a": 1, "b": 2, "c": 3}
AFTER = torch.tensor([CONTEXTS[s[-1:]] for s in TARGET])  # (target_vocab,)
DRAWS = 200_000


def table(seed: int, width: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(len(CONTEXTS), width, generator=g)
    logits[:, 0] = float("-inf")  # id 0 stands for no text: never drawn
    return logits.softmax(dim=-1)  # (contexts, width)


P = table(1, len(TARGET), 1.5)
Q = table(2, len(DRAFTER), 1.0)
BRIDGE = build_bridge(TARGET, DRAFTER)
Q_PRIME = restrict_to_intersection(Q, BRIDGE.drafter_to_target, len(TARGET))  # (contexts, V)


def propose_from(q_rows: torch.Tensor):
    """Chains drawn from q_rows[context], as the cross_tokenizer drafter does in TLI mode."""

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


def expected_joint() -> torch.Tensor:
    return P[0][:, None] * P[AFTER]  # (V, V): p(a) p(b | a)


def test_restriction_is_q_on_shared_tokens_renormalised():
    shared_targets = BRIDGE.drafter_to_target[BRIDGE.drafter_shared]
    assert sorted(TARGET[i] for i in shared_targets) == ["a", "ab", "b", "c"]
    assert torch.allclose(Q_PRIME.sum(-1), torch.ones(len(CONTEXTS)))
    outside = torch.ones(len(TARGET), dtype=torch.bool)
    outside[shared_targets] = False
    assert Q_PRIME[:, outside].abs().max() == 0, "no mass outside the intersection"
    ratio = Q_PRIME[:, shared_targets] / Q[:, BRIDGE.drafter_shared]
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio)), "proportional to q on I"


def test_tli_emits_the_target_distribution(two_tokens, chi2):
    first, second = two_tokens(propose_from(Q_PRIME), verify_batch, P, AFTER, DRAWS)
    counts = torch.zeros(len(TARGET), len(TARGET))
    counts.index_put_((first, second), torch.ones(DRAWS), accumulate=True)
    assert chi2(counts.sum(1), P[0]) > 1e-3, "first token does not follow p_target"
    assert chi2(counts.flatten(), expected_joint().flatten()) > 1e-3, "second token is off"


def test_acceptance_matches_closed_form():
    """P(accept the first draft token) = Σ min(p, q') within 1% (200k draws: ~9 s.e.)."""
    rng = torch.Generator().manual_seed(3)
    x = torch.multinomial(Q_PRIME[0], DRAWS, replacement=True, generator=rng)[:, None]
    p_rows = P[torch.stack([torch.zeros_like(x[:, 0]), AFTER[x[:, 0]]], 1)]  # (B, 2, V)
    result = verify_batch(p_rows, Q_PRIME[0].expand(DRAWS, 1, -1), x, rng)
    rate = float((result.num_accepted >= 1).float().mean())
    closed = float(torch.minimum(P[0], Q_PRIME[0]).sum())
    assert abs(rate - closed) < 0.01, (rate, closed)


def test_forgetting_to_renormalise_is_caught(two_tokens, chi2):
    """Negative control: sample from q' but verify against q·1[I] (not renormalised)."""
    unnormalised = restrict_to_intersection(Q, BRIDGE.drafter_to_target, len(TARGET))
    unnormalised = unnormalised * Q[:, BRIDGE.drafter_shared].sum(-1, keepdim=True)
    propose = propose_from(Q_PRIME)

    def wrong(contexts, k, rng):
        tokens, _ = propose(contexts, k, rng)
        ctx = torch.cat([contexts[:, None], AFTER[tokens[:, :-1]]], dim=1)  # (B, k)
        return tokens, unnormalised[ctx]

    first, _ = two_tokens(wrong, verify_batch, P, AFTER, DRAWS)
    counts = torch.bincount(first, minlength=len(TARGET)).float()
    assert chi2(counts, P[0]) < 1e-3


def test_engine_verify_is_the_batched_rule():
    """TLISampler.verify (B = 1) draws exactly what verify_batch draws with the same seed."""
    sampler = TLISampler()
    for seed in range(50):
        tokens, q = propose_from(Q_PRIME)(torch.zeros(1, dtype=torch.long), 3, torch.Generator())
        path = torch.cat([torch.zeros(1, dtype=torch.long), AFTER[tokens[0]]])
        batch = verify_batch(P[path][None], q, tokens, torch.Generator().manual_seed(seed))
        draft = Draft.chain(tokens[0], q[0])
        verdict = sampler.verify(
            draft, Distribution.from_probs(P[path]), torch.Generator().manual_seed(seed)
        )
        assert len(verdict.accepted) == int(batch.num_accepted[0])
        assert verdict.next_token == int(batch.next_token[0])


def test_greedy_reduces_to_greedy_verification():
    rng = torch.Generator().manual_seed(4)
    for _ in range(200):
        tokens, q = propose_from(Q_PRIME)(torch.zeros(1, dtype=torch.long), 3, rng)
        path = torch.cat([torch.zeros(1, dtype=torch.long), AFTER[tokens[0]]])
        greedy = Distribution(logits=P[path].log(), greedy=True)
        draft = Draft.chain(tokens[0], q[0])
        tli = TLISampler().verify(draft, greedy, rng)
        plain = GreedySampler().verify(draft, greedy, rng)
        assert (tli.accepted, tli.next_token) == (plain.accepted, plain.next_token)


def test_registered_lossless_with_cross_vocab_tags():
    entry = SAMPLERS.get("tli")
    assert entry.lossless and {"cross_vocab", "draft:token"} <= entry.tags and entry.paper


def test_q_draft_in_the_drafter_vocabulary_is_refused():
    draft = Draft.chain(torch.tensor([1]), torch.full((1, len(DRAFTER)), 1 / len(DRAFTER)))
    with pytest.raises(IncompatibleError, match="target vocabulary"):
        TLISampler().verify(draft, Distribution.from_probs(P[:2]), torch.Generator())
