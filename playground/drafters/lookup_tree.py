"""`lookup_tree`: one token tree from prompt lookup and token recycling, no model run.

Two train-free sources propose children for a node whose path from the root is P:

- Prompt lookup (Saxena 2023, Prompt Lookup Decoding): for each n-gram size n from
  `ngram_max` down to `ngram_min`, the continuations of the `lookup_matches` latest
  earlier occurrences of the context's last n tokens. Where P is a prefix of some of
  them, the tokens that follow P become children; when the occurrences disagree, each
  continuation is its own branch, with share = (continuations through P + x) /
  (continuations through P).
- Token recycling (Luo et al. 2024, arXiv 2408.08696): the adjacency table M of the
  target's latest top-k next tokens after each token id (`token_recycling.AdjacencyTable`,
  filled from every verified row); the children of a node carrying token t are M[t].

Each child x gets an estimate p(x) of the probability that the target's argmax after
P is x (when sampling: that the target's draw is x): for lookup, α(n, depth) · share,
with α calibrated online as hits / Σ share over every verified node of that cell (a hit
counts 1 when the target's argmax is the node, or p(node) when sampling), from a rough
prior, `ALPHA_PRIOR`, worth `PRIOR_WEIGHT` nodes; for recycling, the table's rank prior
P(rank r); where both propose x, 1 - (1 - p_lookup)(1 - p_recycle). A node's score is
the product of p along its path, the probability that greedy verification accepts it
(siblings are exclusive, so the expected tokens per round is 1 + Σ scores). The tree is
the `tree_budget` nodes of highest score, grown best-first (a child never outscores its
parent, so the chosen nodes form a tree), at most the round's draft length deep, and none
scoring below `MIN_SCORE` (a node that unlikely costs more verify time than it returns). In
effect the lookup continuation is the main branch while it is trusted, and recycling
children fill in at the shallow nodes where it is most likely to fail; with no match the
tree is token recycling's, with an empty table prompt lookup's branches.

Trimming (`tree_trim`, on by default): the drafter records the verify time of its own
rounds (the target's forward, which the engine passes to `observe`) into a verify-cost
curve (`auto_stats.VerifyCurve`) and drafts only the best-first prefix with the most
expected tokens per unit of verify time (`best_prefix`): a long confident continuation
is drafted whole, a guess that does not pay its extra rows is not drafted at all (a
plain round). `tree_trim=0` always drafts `tree_budget` nodes (comparisons at equal
target cost).

Deterministic (q_draft None): verified by `greedy` / `tree_greedy` at temperature 0 and
`tree_deterministic` (or `specinfer`) when sampling. The table and the α statistics are
kept across runs of one drafter; the n-gram index is per run.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

import torch

from playground.config import LOOKUP_MATCHES, RECYCLE_TOP, TREE_BUDGET, TREE_TRIM, read_option
from playground.drafters.auto_stats import VerifyCurve
from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.drafters.prompt_lookup import NgramIndex
from playground.drafters.token_recycling import EMPTY, AdjacencyTable
from playground.engine.tree import DETERMINISTIC, Draft
from playground.samplers.base import Distribution
from playground.schedules.base import Schedule

# α(n, depth): P(target argmax = the lookup token | the path so far is right, share 1),
# by n-gram size (capped at 3) and depth along the continuation (capped at 3).
ALPHA_PRIOR = {
    (1, 1): 0.25, (1, 2): 0.45, (1, 3): 0.6,
    (2, 1): 0.4, (2, 2): 0.55, (2, 3): 0.7,
    (3, 1): 0.55, (3, 2): 0.7, (3, 3): 0.8,
}  # fmt: skip
PRIOR_WEIGHT = 4.0
# Nodes less likely than this to be accepted are not drafted, even under the budget.
MIN_SCORE = 0.05

Cell = tuple[int, int]  # (n, depth bucket)


def cell_of(n: int, depth: int) -> Cell:
    return min(n, 3), min(depth, 3)


class LookupAlpha:
    """α per cell: (hits + prior · w) / (Σ share + w) over verified lookup nodes."""

    def __init__(self) -> None:
        self.hits: Counter[Cell] = Counter()
        self.mass: Counter[Cell] = Counter()

    def __call__(self, cell: Cell) -> float:
        prior = ALPHA_PRIOR[cell]
        alpha = (self.hits[cell] + prior * PRIOR_WEIGHT) / (self.mass[cell] + PRIOR_WEIGHT)
        return min(alpha, 1.0)

    def record(self, cell: Cell, share: float, hit: bool) -> None:
        self.hits[cell] += hit
        self.mass[cell] += share


@dataclass
class Node:
    token: int
    parent: int  # draft index, -1 for the root's children
    path: tuple[int, ...]  # draft tokens from the root's child down to this node
    score: float
    lookup: list[tuple[Cell, float]] = field(default_factory=list)  # (cell, share) per n


def lookup_children(
    continuations: dict[int, list[list[int]]], path: tuple[int, ...]
) -> dict[int, list[tuple[Cell, float]]]:
    """token -> [(cell, share)]: what the continuations of each n-gram size put after `path`."""
    out: dict[int, list[tuple[Cell, float]]] = {}
    depth = len(path)
    for n, conts in continuations.items():
        through = [c for c in conts if len(c) > depth and tuple(c[:depth]) == path]
        for token, count in Counter(c[depth] for c in through).items():
            out.setdefault(token, []).append((cell_of(n, depth + 1), count / len(through)))
    return out


class LookupTree:
    """Best-first growth of the highest-scoring `budget` nodes (see the module docstring)."""

    def __init__(self, table: AdjacencyTable, alpha: LookupAlpha):
        self.table = table
        self.alpha = alpha

    def grow(
        self, root: int, continuations: dict[int, list[list[int]]], depth: int, budget: int
    ) -> list[Node]:
        prior = self.table.rank_prior()
        nodes: list[Node] = []
        heap: list[tuple[float, int, Node]] = []
        pushed = 0
        for child in self._children(root, -1, (), 1.0, continuations, prior):
            heapq.heappush(heap, (-child.score, pushed, child))
            pushed += 1
        while heap and len(nodes) < budget:
            _, _, node = heapq.heappop(heap)
            if node.score < MIN_SCORE:
                break  # best-first: every node left scores lower
            nodes.append(node)
            if len(node.path) >= depth:
                continue
            index = len(nodes) - 1
            for child in self._children(
                node.token, index, node.path, node.score, continuations, prior
            ):
                heapq.heappush(heap, (-child.score, pushed, child))
                pushed += 1
        return nodes

    def _children(self, token, index, path, score, continuations, prior) -> list[Node]:
        lookup = lookup_children(continuations, path)
        p: dict[int, float] = {
            x: max(self.alpha(cell) * share for cell, share in cells) for x, cells in lookup.items()
        }
        for rank, x in enumerate(self.table.next[token].tolist()):
            if x != EMPTY:
                p[x] = 1.0 - (1.0 - p.get(x, 0.0)) * (1.0 - prior[rank])
        return [Node(x, index, (*path, x), score * q, lookup.get(x, [])) for x, q in p.items()]


def best_prefix(scores: list[float], verify: list[float]) -> int:
    """How many best-first nodes to draft: the b maximising (1 + Σ_{i<b} scores[i]) /
    v[b + 1], the expected tokens of a round per its verify time (b = 0: a plain round,
    rate 1). Scores are acceptance probabilities in best-first order (non-increasing, each
    node after its parent), so every prefix is a tree."""
    best_rate, keep, tokens = 1.0 / verify[1], 0, 1.0
    for b, score in enumerate(scores, 1):
        tokens += score
        if tokens / verify[b + 1] > best_rate:
            best_rate, keep = tokens / verify[b + 1], b
    return keep


@DRAFTERS.register(
    "lookup_tree",
    summary="a tree of prompt-lookup continuations (one branch per earlier match) and token "
    "recycling children, the tree_budget nodes most likely to be accepted",
    paper="Saxena 2023, Prompt Lookup Decoding; Luo et al. 2024, Token Recycling "
    "(arXiv 2408.08696)",
    tags=("tree",),
)
class LookupTreeDrafter(Drafter):
    def __init__(self, ctx: DrafterContext):
        self.spec = ctx.spec
        self.budget = read_option(ctx.spec.options, TREE_BUDGET)
        self.trim = bool(read_option(ctx.spec.options, TREE_TRIM))
        self.verify = VerifyCurve()  # its own verify times: a property of the machine
        self.proposed = False  # this round's draft came from `propose` (not from `auto`)
        self.matches = read_option(ctx.spec.options, LOOKUP_MATCHES)
        top = read_option(ctx.spec.options, RECYCLE_TOP)
        self.table = AdjacencyTable(ctx.target.vocab_size, top)
        self.alpha = LookupAlpha()
        self.tree = LookupTree(self.table, self.alpha)
        self.index = NgramIndex(ctx.spec.ngram_min, ctx.spec.ngram_max)
        self.nodes: list[Node] = []
        self.last: Draft | None = None

    def start(self, prompt_ids: list[int]) -> None:
        self.index = NgramIndex(self.spec.ngram_min, self.spec.ngram_max)

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        verify = self.verify.curve(self.budget) if self.trim else None
        draft = self.draft(context, depth=num_draft_tokens, budget=self.budget, verify=verify)
        self.proposed = True
        return draft

    def draft(
        self, context: list[int], depth: int, budget: int, verify: list[float] | None = None
    ) -> Draft:
        """The tree of at most `budget` nodes and `depth` levels below the last token.

        With `verify` (v[n]: a target forward over n rows, in plain forwards, n up to
        budget + 1; `auto` passes its measured curve) the tree is cut to the best-first
        prefix with the highest expected tokens per unit of verify time
        (`best_prefix`), which is no tree at all when none beats plain decoding."""
        self.index.extend(context)
        continuations = {
            n: found
            for n in self.index.sizes
            if (found := self.index.matches(context, n, depth, self.matches))
        }
        self.nodes = self.tree.grow(context[-1], continuations, depth, budget)
        if verify is not None:
            del self.nodes[best_prefix([n.score for n in self.nodes], verify) :]
        tokens = torch.tensor([n.token for n in self.nodes], dtype=torch.long)  # (num_nodes,)
        parents = torch.tensor([n.parent for n in self.nodes], dtype=torch.long)  # (num_nodes,)
        self.last = Draft(tokens, parents, children_drawn=DETERMINISTIC if self.nodes else None)
        return self.last

    def observe(
        self,
        context: list[int],
        p_target: Distribution,
        draft: Draft,
        verify_seconds: float | None = None,
    ) -> None:
        if self.proposed and verify_seconds is not None:  # its own round (not under `auto`)
            self.verify.record(draft.num_nodes + 1, verify_seconds)
        self.proposed = False
        scores = p_target.logits if p_target.logits is not None else p_target.probs
        previous = torch.cat([torch.tensor(context[-1:]), draft.tokens])  # (rows,)
        self.table.update(previous, scores)  # scores: (rows, vocab)
        if draft is not self.last or not draft.num_nodes:
            return  # nothing drafted, or another source's draft (under `auto`)
        best = p_target.argmax.tolist()  # (rows,) the target's choice after each row
        for node in self.nodes:
            # greedy: whether the target's argmax is the node; sampling: the probability
            # that the target's draw is (what the deterministic-tree rule accepts it with)
            row = node.parent + 1
            hit = (
                float(best[row] == node.token)
                if p_target.greedy
                else float(p_target.probs[row, node.token])
            )
            for cell, share in node.lookup:
                self.alpha.record(cell, share, hit)
