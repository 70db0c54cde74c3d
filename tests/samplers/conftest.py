"""A vectorised round runner for toy cross-vocabulary worlds (B independent generations).

A toy target is a table p(x | context) whose context is a small integer derived from the
last emitted token (`after[x]`); a proposal function drafts chains for a batch of
contexts. `first_two_tokens` runs whole rounds, as the engine does, until every
generation has emitted two tokens, and returns them: their joint law must be
p(a | root) · p(b | after[a]) for a lossless rule.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

# propose(contexts (B,), k, rng) -> tokens (B, k) with -1 after the draft's end, q (B, k, V)
Propose = Callable[[torch.Tensor, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
# verify(p_rows (B, k + 1, V), q (B, k, V), tokens (B, k), rng) -> BatchVerdict
Verify = Callable[..., object]


def one_round(propose, verify, p_table, after, contexts, k, rng):
    """Emitted tokens of one round for each context: (B, k + 1), -1 past the end."""
    tokens, q = propose(contexts, k, rng)
    lengths = (tokens >= 0).sum(dim=1)  # (B,)
    out = torch.full((contexts.numel(), k + 1), -1, dtype=torch.long)
    for length in lengths.unique().tolist():
        rows = (lengths == length).nonzero()[:, 0]
        ctx = contexts[rows]
        if length == 0:  # nothing drafted: the target samples the position itself
            out[rows, 0] = torch.multinomial(p_table[ctx], 1, generator=rng)[:, 0]
            continue
        toks = tokens[rows, :length]  # (b, L)
        path = torch.cat([ctx[:, None], after[toks]], dim=1)  # (b, L + 1) row contexts
        result = verify(p_table[path], q[rows, :length], toks, rng)
        n = result.num_accepted  # (b,)
        idx = torch.arange(length + 1)
        padded = torch.cat([toks, torch.zeros(len(rows), 1, dtype=torch.long)], dim=1)
        emitted = torch.where(idx < n[:, None], padded, -1)
        emitted = torch.where(idx == n[:, None], result.next_token[:, None], emitted)
        out[rows, : length + 1] = emitted
    return out


def first_two_tokens(propose, verify, p_table, after, draws, seed=0, k=2, root=0):
    """(first, second) emitted tokens of `draws` generations from context `root`."""
    rng = torch.Generator().manual_seed(seed)
    contexts = torch.full((draws,), root, dtype=torch.long)
    out = one_round(propose, verify, p_table, after, contexts, k, rng)
    first, second = out[:, 0], out[:, 1]
    missing = (second < 0).nonzero()[:, 0]
    more = one_round(propose, verify, p_table, after, after[first[missing]], k, rng)
    second[missing] = more[:, 0]
    return first, second


@pytest.fixture(scope="session")
def two_tokens():
    return first_two_tokens


@pytest.fixture(scope="session")
def round_of():
    return one_round
