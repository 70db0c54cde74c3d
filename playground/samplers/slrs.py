"""String-Level Rejection Sampling (SLRS): rejection sampling on the strings of target tokens.

Timor et al. 2025, "Accelerating LLM Inference with Lossless Speculative Decoding
Algorithms for Heterogeneous Vocabularies" (arXiv 2502.05202, ICML 2025), SLRS: accept a
target token x with min(1, p_target(x) / q_str(x)), q_str(x) being the drafter's
probability of producing the *string* of x, summed over the drafter's tokenisations of it.

Proposal (one target position). From its state at the position's start the drafter
samples tokens d_1, d_2, … while the string so far stays a prefix of some target token;
it stops at the first token that would leave the target trie (that token is discarded:
the next position samples afresh from the stop state). If the string at the stop is the
string s_x of a target token x, x is proposed; otherwise nothing is (the draft ends).
Summed over drafter paths π (token sequences) that spell s_x:

    q_str(x) = Σ_{π spells s_x} Π_j q(d_j | π_<j)                                      (1)
    Q(x)     = Σ_{π spells s_x} Π_j q(d_j | π_<j) · stop(π),
    stop(π)  = 1 - Σ_{d : s_x + s_d is a target-trie prefix} q(d | π)                     (2)

The stop factor is what makes the events {propose x} disjoint: without it, "the drafter
spells 'a'" and "the drafter spells 'ab'" overlap, q_str sums to more than 1 over the
vocabulary and the rejection identity below fails (tests/samplers/test_slrs.py shows the
χ² test catching exactly that). Conditioned on a proposal at all, the law is
Q'(x) = Q(x) / Σ_y Q(y); when nothing is proposed the target samples the position itself.

Verification: standard speculative sampling with proposal Q' (accept with min(1, p/Q'),
residual norm(max(p - Q', 0)), bonus after a full chain) — `tli.verify_batch`.

Why lossless. Given the position's start state, x is drawn from exactly Q' (its
probability is computed over the same trie the drafter walked), so P(emit y) =
min(p, Q')(y) + (1 - Σ min(p, Q'))·residual(y) = p(y). The event "nothing proposed" does
not depend on the target, and then the target samples p directly. Later positions are
conditioned on the drafter path actually taken, which the target never sees.

Expected acceptance per proposed position: α = Σ_x min(p_target(x), Q'(x)).             (3)

Memoised walk and cost. The drafter hands over, per position, the trie of drafter-token
paths it explored (`StringTrie`): each node's probability is its parent's times one
edge (memoised, parents first), so Q over every candidate costs O(nodes) and the
summation over tokenisations is free (several nodes spell the same x). The trie is
bounded by the options `slrs_width` (children per node, highest q first) and
`slrs_depth` (drafter tokens per target token): nodes ≤ width + (depth - 1)·width², one
tree-attention drafter forward per level. Unexplored continuations count as stops, so Q
is always the exact law of what was sampled (lossless at any budget); it equals the
unbounded string-level proposal (every tokenisation of every target token) only when the
trie holds every drafter path with positive probability — e.g. greedy drafting, or
top-k ≤ width with depth ≥ the longest target token in drafter tokens. Beyond that bound
the exponential number of tokenisations (up to 2^(L-1) for a string of L characters) is
cut, which lowers acceptance, never correctness. With `slrs_depth` 1 and unbounded width
the walk stops after one drafter token and Q' is TLI's q' (equation (1) of `tli`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tli import verify_chain


@dataclass(eq=False)
class StringTrie:
    """Drafter-token paths explored from one position's start state; node 0 is the root.

    Nodes are stored parents first. `edge_q[n]` is the drafter's probability of node n's
    token in its parent's state; `target_ids[n]` the target token whose string the path
    spells (-1 if none).
    """

    parents: list[int]
    edge_q: list[float]
    target_ids: list[int]
    drafter_tokens: list[int]

    @classmethod
    def root(cls) -> StringTrie:
        return cls(parents=[-1], edge_q=[1.0], target_ids=[-1], drafter_tokens=[-1])

    def add(self, parent: int, drafter_token: int, q: float, target_id: int) -> int:
        self.parents.append(parent)
        self.edge_q.append(q)
        self.target_ids.append(target_id)
        self.drafter_tokens.append(drafter_token)
        return len(self.parents) - 1

    @property
    def num_nodes(self) -> int:
        return len(self.parents)

    @cached_property
    def children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.parents]
        for node, parent in enumerate(self.parents[1:], start=1):
            out[parent].append(node)
        return out

    @cached_property
    def table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per node, the walk's choices [stop, child 1, …] with their probabilities.

        Returns probs (nodes, 1 + max children) normalised per row and the node each
        choice leads to (the node itself for "stop", -1 for padding).
        """
        width = 1 + max(len(c) for c in self.children)
        probs = torch.zeros(self.num_nodes, width, dtype=torch.float64)  # (nodes, width)
        nxt = torch.full((self.num_nodes, width), -1, dtype=torch.long)  # (nodes, width)
        for node, kids in enumerate(self.children):
            edges = [self.edge_q[c] for c in kids]
            row = [max(0.0, 1.0 - sum(edges)), *edges]
            total = sum(row)
            probs[node, : len(row)] = torch.tensor(row, dtype=torch.float64) / total
            nxt[node, : len(row)] = torch.tensor([node, *kids])
        return probs, nxt

    def stop_probs(self) -> torch.Tensor:
        """P(the walk stops at node n): the memoised path probability times stop(n)."""
        probs, nxt = self.table
        reach = torch.zeros(self.num_nodes, dtype=torch.float64)  # (nodes,)
        reach[0] = 1.0
        for node, kids in enumerate(self.children):
            for col, child in enumerate(kids, start=1):
                reach[child] = reach[node] * probs[node, col]
        return reach * probs[:, 0]  # (nodes,)

    def path(self, node: int) -> list[int]:
        """Drafter tokens from the root to `node`."""
        out = []
        while node > 0:
            out.append(self.drafter_tokens[node])
            node = self.parents[node]
        return out[::-1]


def proposal(trie: StringTrie, vocab_size: int) -> tuple[torch.Tensor, float]:
    """Q' over the target vocabulary (zeros if nothing can be proposed) and P(no proposal)."""
    stop = trie.stop_probs()  # (nodes,)
    ids = torch.tensor(trie.target_ids)  # (nodes,)
    whole = ids >= 0
    q = torch.zeros(vocab_size, dtype=torch.float64).index_add_(0, ids[whole], stop[whole])
    total = float(q.sum())
    q = q / total if total > 0 else q
    return q.float(), 1.0 - total  # (vocab,)


def walk(trie: StringTrie, rng: torch.Generator, batch: int = 1) -> torch.Tensor:
    """Sample where the drafter's walk stops, for `batch` independent walks: (batch,) nodes."""
    probs, nxt = trie.table
    node = torch.zeros(batch, dtype=torch.long)  # (batch,)
    done = torch.zeros(batch, dtype=torch.bool)
    while not bool(done.all()):
        choice = torch.multinomial(probs[node], 1, generator=rng)[:, 0]  # (batch,)
        step = nxt[node, choice]  # (batch,)
        done |= choice == 0
        node = torch.where(done, node, step)
    return node


@SAMPLERS.register(
    "slrs",
    summary="accept target token x with min(1, p/q_str): q_str sums the drafter's tokenisations",
    paper="Timor et al. 2025, arXiv 2502.05202 (ICML 2025): String-Level Rejection Sampling",
    tags=("cross_vocab", "draft:trie"),
)
class SLRSSampler(Sampler):
    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        tries = draft.extra.get("slrs_tries")
        if tries is None or len(tries) != draft.num_nodes:
            raise IncompatibleError(
                "slrs verifies drafts that carry the drafter's token tries "
                "(Draft.extra['slrs_tries']); use the cross_tokenizer drafter with it, or "
                "tli / slem with other drafters"
            )
        rows = [proposal(trie, p_target.vocab_size)[0] for trie in tries]
        q_draft = torch.stack(rows)  # (k, vocab)
        q_str = q_draft[torch.arange(draft.num_nodes), draft.tokens].tolist()
        return verify_chain(draft, p_target, rng, q_draft, {"q_str": q_str})
