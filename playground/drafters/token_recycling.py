"""Token Recycling (Luo et al. 2024, "Turning Trash into Treasure", arXiv 2408.08696).

Every verification computes the target's distribution at each draft node and throws
most of it away. Token Recycling keeps the top-k of each row in an adjacency table
M (vocab × k token ids): after every round, for each verified row, M[t] = the target's
top-k next tokens after token t, where t is the token that row was computed after (the
pending token for row 0, draft node i for row i + 1). Later rows overwrite earlier ones,
so M holds the most recent predictions. Drafting expands a tree from the last committed
token breadth-first along a template: a node of rank r under a node carrying token t
carries M[t][r]; nodes whose row is still empty are dropped with their subtrees. No
model runs, so a draft costs microseconds; the draft is deterministic (q_draft None)
and verified by tree samplers: `greedy` / `tree_greedy` at temperature 0 (the paper's
setting), `tree_deterministic` (or `specinfer`, whose one-hot case it is) when sampling.

Template: the paper uses one hand-made static tree. Here the tree of `num_draft_tokens`
nodes is the one with the highest expected number of accepted tokens under a rank prior,
Π over a node's path of P(the target's next token is rank r of M's row), with P
estimated from every verified row so far (Laplace-smoothed counts of the rank the
target's top token had in M before the update). The best tree for a budget is the top-N
nodes by that product (a child never scores above its parent), ordered breadth-first.

Memory: vocab × `recycle_top` int32 ids (Gemma 3, 262,144 × 8: 8 MiB). The table starts
empty and is kept across the runs of one drafter (the paper's hot start across queries).
Cost per round: one top-k over the verified rows (~2 ms for 9 rows of 262k on a CPU).
"""

from __future__ import annotations

import heapq

import torch

from playground.config import RECYCLE_TOP, read_option
from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.engine.rowops import row_topk
from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.schedules.base import Schedule

EMPTY = -1


class AdjacencyTable:
    """M[t] = the target's latest top-k next tokens after token t (EMPTY until seen)."""

    def __init__(self, vocab_size: int, top: int):
        self.top = top
        self.next = torch.full((vocab_size, top), EMPTY, dtype=torch.int32)  # (vocab, k)
        self.rank_counts = torch.zeros(top + 1, dtype=torch.long)  # last slot: not in the row

    @property
    def memory_bytes(self) -> int:
        return self.next.numel() * self.next.element_size()

    def update(self, previous: torch.Tensor, scores: torch.Tensor) -> None:
        """previous: (rows,) the token each row was computed after; scores: (rows, vocab)."""
        top = row_topk(scores, self.top)[1]  # (rows, k)
        known = self.next[previous]  # (rows, k)
        filled = known[:, 0] != EMPTY  # (rows,)
        hit = known[filled] == top[filled, :1].to(known.dtype)  # (filled, k)
        ranks = torch.where(hit.any(dim=-1), hit.int().argmax(dim=-1), self.top)  # (filled,)
        self.rank_counts += torch.bincount(ranks, minlength=self.top + 1)
        last = _last_occurrence(previous)  # (unique,) rows; a later row wins
        self.next[previous[last]] = top[last].to(self.next.dtype)

    def rank_prior(self) -> list[float]:
        """P(the target's next token is rank r of the row), Laplace-smoothed."""
        counts = self.rank_counts.double() + 1.0
        return (counts[: self.top] / counts.sum()).tolist()

    def expand(self, root: int, template: list[tuple[int, int]]) -> Draft:
        """The template filled from the table below token `root`; empty rows drop subtrees."""
        tokens: list[int] = []
        parents: list[int] = []
        placed: list[int] = []  # template node -> draft node, EMPTY when dropped
        for parent, rank in template:
            if parent >= 0 and placed[parent] == EMPTY:
                placed.append(EMPTY)
                continue
            after = root if parent < 0 else tokens[placed[parent]]
            token = int(self.next[after, rank])
            placed.append(EMPTY if token == EMPTY else len(tokens))
            if token != EMPTY:
                tokens.append(token)
                parents.append(-1 if parent < 0 else placed[parent])
        tokens_t = torch.tensor(tokens, dtype=torch.long)  # (num_nodes,)
        return Draft(tokens_t, torch.tensor(parents, dtype=torch.long))


def _last_occurrence(values: torch.Tensor) -> torch.Tensor:
    """Indices of the last occurrence of each distinct value."""
    _, inverse = values.unique(return_inverse=True)
    positions = torch.arange(values.numel())
    last = torch.full((int(inverse.max()) + 1,), -1, dtype=torch.long)
    return last.scatter_reduce_(0, inverse, positions, reduce="amax")


def tree_template(prior: list[float], budget: int) -> list[tuple[int, int]]:
    """The `budget` nodes (parent index, rank) with the highest path products, BFS order.

    Best-first enumeration: popping a node pushes its best child and its next-best
    sibling, so every node is pushed after its parent and at most 2 per pop.
    """
    order = sorted(range(len(prior)), key=lambda r: -prior[r])  # ranks, most likely first
    best = prior[order[0]]
    heap: list[tuple[float, tuple[int, ...]]] = [(-best, (0,))]  # (-score, path of order idx)
    chosen: list[tuple[int, float, tuple[int, ...]]] = []
    while heap and len(chosen) < budget:
        neg, path = heapq.heappop(heap)
        chosen.append((len(path), neg, path))
        heapq.heappush(heap, (neg * best, (*path, 0)))
        last = path[-1]
        if last + 1 < len(order):
            ratio = prior[order[last + 1]] / prior[order[last]]
            heapq.heappush(heap, (neg * ratio, (*path[:-1], last + 1)))
    chosen.sort()
    index = {path: i for i, (_, _, path) in enumerate(chosen)}
    return [(index.get(path[:-1], -1), order[path[-1]]) for _, _, path in chosen]


@DRAFTERS.register(
    "token_recycling",
    summary="a tree from a table of the target's latest top-k next tokens per token id",
    paper="Luo et al. 2024, Turning Trash into Treasure: Token Recycling (arXiv 2408.08696)",
    tags=("tree",),
)
class TokenRecyclingDrafter(Drafter):
    def __init__(self, ctx: DrafterContext):
        top = read_option(ctx.spec.options, RECYCLE_TOP)
        self.table = AdjacencyTable(ctx.target.vocab_size, top)

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        template = tree_template(self.table.rank_prior(), num_draft_tokens)
        return self.table.expand(context[-1], template)

    def observe(
        self,
        context: list[int],
        p_target: Distribution,
        draft: Draft,
        verify_seconds: float | None = None,
    ) -> None:
        previous = torch.cat([torch.tensor(context[-1:]), draft.tokens])  # (rows,)
        scores = p_target.logits if p_target.logits is not None else p_target.probs
        self.table.update(previous, scores)  # scores: (rows, vocab)
