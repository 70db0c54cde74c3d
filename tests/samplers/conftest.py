"""Shared harnesses of the sampler tests.

`node_law`: the χ² harness of the batched tree node rules (`tree_walk.NodeRule`). One
target row p, 200k independent nodes at once; each node emits its accepted child, else a
draw from the rule's residual, and the emitted tokens must follow p (p-value above 1e-3),
while a negative control (the wrong children or the wrong rule) must fail the same test.

`two_tokens`, `round_of`: a vectorised round runner for toy cross-vocabulary worlds (B
independent generations). A toy target is a table p(x | context) whose context is a
small integer derived from the last emitted token (`after[x]`); a proposal function
drafts chains for a batch of contexts. `first_two_tokens` runs whole rounds, as the
engine does, until every generation has emitted two tokens, and returns them: their
joint law must be p(a | root) · p(b | after[a]) for a lossless rule.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from playground.samplers.tree_walk import NodeDecision, NodeRule

# ---- node_law: χ² tests of batched tree node rules ------------------------------------------


class NodeLaw:
    """Draw `DRAWS` nodes with target row `P` through a node rule and test what they emit."""

    DRAWS = 200_000
    ALPHA = 1e-3  # p-values above it pass, below it count as a detected bias
    P = torch.tensor([0.05, 0.30, 0.10, 0.35, 0.20, 0.0])
    PROPOSALS = {  # the drafter's q at the node
        "close": torch.tensor([0.10, 0.25, 0.15, 0.30, 0.20, 0.0]),
        "far": torch.tensor([0.40, 0.05, 0.30, 0.05, 0.10, 0.10]),
        "peaked": torch.tensor([0.02, 0.90, 0.02, 0.02, 0.02, 0.02]),  # repeats are the rule
        "partial": torch.tensor([0.0, 0.0, 0.5, 0.5, 0.0, 0.0]),  # q misses most of p
        "partial_wide": torch.tensor([0.0, 0.0, 0.5, 0.3, 0.2, 0.0]),  # room for 3 distinct
    }

    def __init__(self, chi2: Callable[[torch.Tensor, torch.Tensor], float]):
        self._chi2 = chi2

    def counts(self, rule: NodeRule, q: torch.Tensor, tokens: torch.Tensor, rng) -> torch.Tensor:
        """(V,) emitted-token counts of `rule` at one node per row of `tokens` (B, m)."""
        batch, m = tokens.shape
        p_rows, q_rows = self.P.expand(batch, -1), q.expand(batch, -1)  # (B, V)
        decision = rule(p_rows, q_rows, tokens, torch.rand(batch, m, generator=rng))
        return torch.bincount(emitted(decision, tokens, rng), minlength=self.P.numel())

    def iid(self, q: torch.Tensor, m: int, rng: torch.Generator) -> torch.Tensor:
        """(DRAWS, m) children drawn independently from q, with replacement."""
        return torch.multinomial(q.expand(self.DRAWS, -1), m, replacement=True, generator=rng)

    def without_replacement(self, q: torch.Tensor, m: int, rng) -> torch.Tensor:
        """(DRAWS, m) children drawn one after another without replacement (Gumbel-top-k)."""
        keys = q / torch.empty(self.DRAWS, q.numel()).exponential_(generator=rng)
        return keys.topk(m, dim=1).indices

    def assert_follows_p(self, counts: torch.Tensor, what: str) -> None:
        pvalue = self._chi2(counts, self.P)
        assert pvalue > self.ALPHA, f"{what}: {counts.tolist()} vs p={self.P.tolist()}"

    def assert_detected(self, counts: torch.Tensor, why: str) -> None:
        """A negative control: the emitted tokens must fail the same test."""
        assert self._chi2(counts, self.P) < self.ALPHA, why


def emitted(decision: NodeDecision, tokens: torch.Tensor, rng) -> torch.Tensor:
    """(B,) the token each node emits: its accepted child, else a draw from the residual."""
    out = torch.empty(tokens.shape[0], dtype=torch.long)
    hit = decision.chosen >= 0
    out[hit] = tokens[hit, decision.chosen[hit]]
    out[~hit] = torch.multinomial(decision.residual[~hit], 1, generator=rng)[:, 0]
    return out


@pytest.fixture(scope="session")
def node_law(chi2) -> NodeLaw:
    return NodeLaw(chi2)


# ---- two_tokens, round_of: toy cross-vocabulary rounds -------------------------------------

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
