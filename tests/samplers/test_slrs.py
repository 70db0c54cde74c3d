"""SLRS: proposing the target token the drafter spelled, with its exact string law, is lossless.

Toy world: target tokens over "abc" whose strings are prefixes of one another ("a", "ab",
"abc"), a drafter with short tokens that spells them in several ways ("a"+"b" or "ab").
Both models condition on the last character, so the drafter's state after spelling a
target token x is `AFTER[x]` whatever path it took.
"""

from __future__ import annotations

import pytest
import torch

from playground.analysis.vocab import build_bridge
from playground.drafters.alignment import ByteCodec
from playground.drafters.cross_tokenizer import expand_trie
from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers import SAMPLERS
from playground.samplers.base import Distribution
from playground.samplers.slrs import SLRSSampler, StringTrie, proposal, walk
from playground.samplers.tli import restrict_to_intersection, verify_batch

TARGET = ["", "a", "b", "c", "ab", "ba", "abc", "ca", "bca"]
DRAFTER = ["", "a", "b", "c", "ab", "bc", "ca"]
CONTEXTS = {"": 0, "a": 1, "b": 2, "c": 3}
AFTER = torch.tensor([CONTEXTS[s[-1:]] for s in TARGET])  # (target_vocab,)
PIECES = [s.encode() for s in DRAFTER]
CODEC = ByteCodec([s.encode() for s in TARGET])
DRAWS = 200_000


def table(seed: int, width: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(len(CONTEXTS), width, generator=g)
    logits[:, 0] = float("-inf")
    return logits.softmax(dim=-1)  # (contexts, width)


P = table(21, len(TARGET), 1.5)
Q = table(22, len(DRAFTER), 1.0)


def toy_after(trie: StringTrie, nodes: list[int]) -> list[torch.Tensor]:
    """The toy drafter's distribution after each node's path: it sees the last character."""
    return [Q[CONTEXTS["".join(DRAFTER[d] for d in trie.path(n))[-1:]]] for n in nodes]


def tries(width: int, depth: int) -> list[StringTrie]:
    return [expand_trie(Q[c], toy_after, PIECES, CODEC, width, depth) for c in range(len(CONTEXTS))]


def proposer(width: int = 16, depth: int = 4, law=None):
    """Chains as the cross_tokenizer drafter makes them in SLRS mode (walk per position)."""
    per_context = tries(width, depth)
    law = law or (lambda trie: proposal(trie, len(TARGET))[0])
    q_rows = torch.stack([law(t) for t in per_context])  # (contexts, V)
    ids = [torch.tensor(t.target_ids) for t in per_context]

    def propose(contexts, k, rng):
        batch = contexts.numel()
        tokens = torch.full((batch, k), -1, dtype=torch.long)
        q = torch.zeros(batch, k, len(TARGET))
        alive, ctx = torch.ones(batch, dtype=torch.bool), contexts.clone()
        for i in range(k):
            start = ctx.clone()  # each chain's state at the start of position i
            for c in start[alive].unique().tolist():
                rows = (alive & (start == c)).nonzero()[:, 0]
                x = ids[c][walk(per_context[c], rng, len(rows))]  # (rows,)
                tokens[rows, i] = x
                q[rows, i] = q_rows[c]
                alive[rows[x < 0]] = False
                ctx[rows[x >= 0]] = AFTER[x[x >= 0]]
        return tokens, q

    return propose


def test_string_law_sums_tokenisations_and_stops():
    """Q(x) = Σ over paths spelling x of their probability times the stop probability."""
    trie = StringTrie.root()
    a = trie.add(0, 1, 0.5, target_id=1)  # "a"
    ab = trie.add(a, 2, 0.6, target_id=4)  # "a" + "b" = "ab"
    trie.add(0, 4, 0.3, target_id=4)  # "ab" in one drafter token (a leaf: stops surely)
    q, none = proposal(trie, len(TARGET))
    stop_root, stop_a = 1 - 0.8, 1 - 0.6
    assert q[1] * (1 - none) == pytest.approx(0.5 * stop_a)
    assert q[4] * (1 - none) == pytest.approx(0.5 * 0.6 + 0.3)
    assert none == pytest.approx(stop_root)
    stops = walk(trie, torch.Generator().manual_seed(0), 100_000)
    freq = torch.bincount(stops, minlength=trie.num_nodes).double() / 100_000
    assert torch.allclose(freq, trie.stop_probs(), atol=0.01), "the walk follows its law"
    assert trie.stop_probs()[ab] == pytest.approx(0.5 * 0.6)


def test_trie_stays_inside_the_target_trie():
    trie = tries(width=2, depth=3)[0]
    for node in range(1, trie.num_nodes):
        spelled = "".join(DRAFTER[d] for d in trie.path(node)).encode()
        assert CODEC.is_prefix(spelled), spelled
        assert len(trie.path(node)) <= 3
        assert len(trie.children[node]) <= 2


def test_depth_one_is_tli():
    """One drafter token per target token, every child kept: Q' is TLI's q'."""
    bridge = build_bridge(TARGET, DRAFTER)
    q_prime = restrict_to_intersection(Q, bridge.drafter_to_target, len(TARGET))
    for c, trie in enumerate(tries(width=len(DRAFTER), depth=1)):
        assert torch.allclose(proposal(trie, len(TARGET))[0], q_prime[c], atol=1e-6)


@pytest.mark.parametrize("width,depth", [(16, 4), (2, 2)], ids=["full", "budget"])
def test_slrs_emits_the_target_distribution(two_tokens, chi2, width, depth):
    first, second = two_tokens(proposer(width, depth), verify_batch, P, AFTER, DRAWS)
    counts = torch.zeros(len(TARGET), len(TARGET))
    counts.index_put_((first, second), torch.ones(DRAWS), accumulate=True)
    assert chi2(counts.sum(1), P[0]) > 1e-3, "first token does not follow p_target"
    joint = P[0][:, None] * P[AFTER]
    assert chi2(counts.flatten(), joint.flatten()) > 1e-3, "second token is off"


def test_acceptance_matches_closed_form():
    """Among drafted positions, P(accept) = Σ min(p, Q') within 1%."""
    rng = torch.Generator().manual_seed(7)
    tokens, q = proposer()(torch.zeros(DRAWS, dtype=torch.long), 1, rng)
    drafted = tokens[:, 0] >= 0
    x, q = tokens[drafted], q[drafted]
    p_rows = P[torch.stack([torch.zeros_like(x[:, 0]), AFTER[x[:, 0]]], 1)]
    rate = float((verify_batch(p_rows, q, x, rng).num_accepted >= 1).float().mean())
    closed = float(torch.minimum(P[0], q[0, 0]).sum())
    assert abs(rate - closed) < 0.01, (rate, closed)


def naive_string_law(trie: StringTrie) -> torch.Tensor:
    """Σ over paths spelling x of their probability, with no stop factor (overlapping events)."""
    probs, _ = trie.table
    reach = torch.zeros(trie.num_nodes, dtype=torch.float64)
    reach[0] = 1.0
    for node, kids in enumerate(trie.children):
        for col, child in enumerate(kids, start=1):
            reach[child] = reach[node] * probs[node, col]
    ids = torch.tensor(trie.target_ids)
    q = torch.zeros(len(TARGET), dtype=torch.float64).index_add_(0, ids[ids >= 0], reach[ids >= 0])
    return (q / q.sum()).float()


def test_string_probability_without_the_stop_factor_is_caught(two_tokens, chi2):
    """Negative control: verify against q_str (prefix strings overlap) instead of Q'."""
    walk_law = proposer()
    wrong_law = proposer(law=naive_string_law)

    def wrong(contexts, k, rng):
        tokens, _ = walk_law(contexts, k, rng)
        return tokens, wrong_law(contexts, k, torch.Generator())[1]

    first, _ = two_tokens(wrong, verify_batch, P, AFTER, DRAWS, k=1)
    assert chi2(torch.bincount(first, minlength=len(TARGET)).float(), P[0]) < 1e-3


def test_engine_verify_uses_the_tries():
    trie = tries(16, 4)[0]
    q_row = proposal(trie, len(TARGET))[0]
    x = int(q_row.argmax())
    p_rows = P[torch.tensor([0, int(AFTER[x])])]
    draft = Draft.chain(torch.tensor([x]), extra={"slrs_tries": [trie]})
    for seed in range(20):
        verdict = SLRSSampler().verify(
            draft, Distribution.from_probs(p_rows), torch.Generator().manual_seed(seed)
        )
        batch = verify_batch(
            p_rows[None],
            q_row[None, None],
            torch.tensor([[x]]),
            torch.Generator().manual_seed(seed),
        )
        assert (len(verdict.accepted), verdict.next_token) == (
            int(batch.num_accepted[0]),
            int(batch.next_token[0]),
        )
        assert verdict.detail["q_str"] == [pytest.approx(float(q_row[x]))]


def test_drafts_without_tries_are_refused():
    with pytest.raises(IncompatibleError, match="cross_tokenizer"):
        SLRSSampler().verify(
            Draft.chain(torch.tensor([1])), Distribution.from_probs(P[:2]), torch.Generator()
        )


def test_registered_lossless_with_trie_drafts():
    entry = SAMPLERS.get("slrs")
    assert entry.lossless and {"cross_vocab", "draft:trie"} <= entry.tags
