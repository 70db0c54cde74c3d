"""SLEM: the drafter's text, re-tokenised for the target and verified by exact match, is lossless.

Toy world: the drafter writes with its own tokens over the alphabet "abc"; its text is
re-tokenised with the target's vocabulary (greedy longest match, `ByteCodec`), and the
last target token, possibly cut, is dropped. Both models condition on the last character.
"""

from __future__ import annotations

import itertools

import torch

from playground.drafters.alignment import ByteCodec
from playground.engine.tree import Draft
from playground.samplers import SAMPLERS
from playground.samplers.base import Distribution
from playground.samplers.greedy import GreedySampler
from playground.samplers.slem import SLEMSampler, exact_match_batch
from playground.samplers.tli import BatchVerdict, first_false

TARGET = ["", "a", "b", "c", "ab", "ba", "abc", "ca", "bb"]
DRAFTER = ["", "a", "b", "c", "ab", "bc", "cab", "aa"]
CONTEXTS = {"": 0, "a": 1, "b": 2, "c": 3}
AFTER = torch.tensor([CONTEXTS[s[-1:]] for s in TARGET])  # (target_vocab,)
D_AFTER = torch.tensor([CONTEXTS[s[-1:]] for s in DRAFTER])  # (drafter_vocab,)
CODEC = ByteCodec([s.encode() for s in TARGET])
TEXT_TOKENS = 4  # drafter tokens written per round
DRAWS = 200_000


def table(seed: int, width: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(len(CONTEXTS), width, generator=g)
    logits[:, 0] = float("-inf")
    return logits.softmax(dim=-1)  # (contexts, width)


P = table(11, len(TARGET), 1.5)
Q = table(12, len(DRAFTER), 1.5)


def retokenise(drafted: tuple[int, ...], k: int) -> list[int]:
    """The drafter's text in target tokens, last (possibly cut) token dropped, at most k."""
    text = "".join(DRAFTER[d] for d in drafted).encode()
    return (CODEC.encode(text) or [])[:-1][:k]


def propose(contexts, k, rng):
    drafted = []
    ctx = contexts
    for _ in range(TEXT_TOKENS):
        d = torch.multinomial(Q[ctx], 1, generator=rng)[:, 0]
        drafted.append(d)
        ctx = D_AFTER[d]
    rows, inverse = torch.unique(torch.stack(drafted, 1), dim=0, return_inverse=True)
    table_ = torch.full((len(rows), k), -1, dtype=torch.long)
    for i, row in enumerate(rows.tolist()):
        ids = retokenise(tuple(row), k)
        table_[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    tokens = table_[inverse]  # (B, k)
    return tokens, torch.zeros(len(contexts), k, len(TARGET))  # q unused by exact match


def exact_match(p_rows, q, tokens, rng):
    return exact_match_batch(p_rows, tokens, rng)


def first_token_law() -> torch.Tensor:
    """Exact law r of the first draft token from the root (index V: nothing drafted)."""
    law = torch.zeros(len(TARGET) + 1, dtype=torch.float64)
    for seq in itertools.product(range(len(DRAFTER)), repeat=TEXT_TOKENS):
        prob, ctx = 1.0, 0
        for d in seq:
            prob *= float(Q[ctx, d])
            ctx = int(D_AFTER[d])
        if prob:
            ids = retokenise(seq, 1)
            law[ids[0] if ids else len(TARGET)] += prob
    return law


def test_slem_emits_the_target_distribution(two_tokens, chi2):
    first, second = two_tokens(propose, exact_match, P, AFTER, DRAWS, k=3)
    counts = torch.zeros(len(TARGET), len(TARGET))
    counts.index_put_((first, second), torch.ones(DRAWS), accumulate=True)
    assert chi2(counts.sum(1), P[0]) > 1e-3, "first token does not follow p_target"
    joint = P[0][:, None] * P[AFTER]
    assert chi2(counts.flatten(), joint.flatten()) > 1e-3, "second token is off"


def test_acceptance_matches_closed_form(round_of):
    """Among drafted rounds, P(accept the first token) = Σ_x r(x) p(x) / Σ_x r(x), within 1%."""
    rng = torch.Generator().manual_seed(5)
    contexts = torch.zeros(DRAWS, dtype=torch.long)
    tokens, _ = propose(contexts, 1, rng)
    drafted = tokens[:, 0] >= 0
    x = tokens[drafted]  # (b, 1)
    p_rows = P[torch.stack([torch.zeros_like(x[:, 0]), AFTER[x[:, 0]]], 1)]
    rate = float((exact_match_batch(p_rows, x, rng).num_accepted >= 1).float().mean())
    law = first_token_law()[:-1]
    closed = float((law * P[0].double()).sum() / law.sum())
    assert abs(rate - closed) < 0.01, (rate, closed)


def test_resampling_from_p_after_a_rejection_is_caught(two_tokens, chi2):
    """Negative control: accept with p(x), but on rejection draw from p without removing x."""

    def wrong(p_rows, q, tokens, rng):
        batch, k = tokens.shape
        p_tok = p_rows[:, :k].gather(-1, tokens[..., None])[..., 0]  # (B, k)
        n = first_false(torch.rand(batch, k, generator=rng) < p_tok)
        row = p_rows[torch.arange(batch), n]  # (B, V)
        return BatchVerdict(n, torch.multinomial(row, 1, generator=rng)[:, 0], p_tok, None)

    first, _ = two_tokens(propose, wrong, P, AFTER, DRAWS, k=3)
    assert chi2(torch.bincount(first, minlength=len(TARGET)).float(), P[0]) < 1e-3


def test_engine_verify_is_the_batched_rule():
    sampler = SLEMSampler()
    for seed in range(50):
        tokens, _ = propose(
            torch.zeros(1, dtype=torch.long), 3, torch.Generator().manual_seed(seed)
        )
        k = int((tokens[0] >= 0).sum())
        if k == 0:
            continue
        toks = tokens[0, :k]
        path = torch.cat([torch.zeros(1, dtype=torch.long), AFTER[toks]])
        batch = exact_match_batch(P[path][None], toks[None], torch.Generator().manual_seed(seed))
        draft = Draft.chain(toks, extra={"drafter_text": "abc"})
        verdict = sampler.verify(
            draft, Distribution.from_probs(P[path]), torch.Generator().manual_seed(seed)
        )
        assert (len(verdict.accepted), verdict.next_token) == (
            int(batch.num_accepted[0]),
            int(batch.next_token[0]),
        )
        assert verdict.detail["drafter_text"] == "abc"


def test_greedy_is_plain_greedy_verification():
    rng = torch.Generator().manual_seed(6)
    for _ in range(200):
        tokens = torch.randint(1, len(TARGET), (3,), generator=rng)
        path = torch.cat([torch.zeros(1, dtype=torch.long), AFTER[tokens]])
        greedy = Distribution(logits=P[path].log(), greedy=True)
        slem = SLEMSampler().verify(Draft.chain(tokens), greedy, rng)
        plain = GreedySampler().verify(Draft.chain(tokens), greedy, rng)
        assert (slem.accepted, slem.next_token) == (plain.accepted, plain.next_token)


def test_registered_lossless_with_text_drafts():
    entry = SAMPLERS.get("slem")
    assert entry.lossless and {"cross_vocab", "draft:text"} <= entry.tags
