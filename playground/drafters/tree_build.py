"""Tree builders: grow a draft tree level by level from any source of draft distributions.

A builder sees the drafter through one function, `expand(tree, nodes)`, which returns the
drafter's processed distribution after each of `nodes` (a model drafter runs one
tree-attention forward for the whole list; tests use tables). Every level expands its
whole frontier in one call. What each builder does, and what the sampler may assume about
siblings (`Draft.children_drawn`), is listed in `drafters.tree_spec`. Scores are
cumulative draft log-probabilities log q(path) (at temperature 0: of the drafter's raw
softmax, which only ranks).

Randomness comes only from the generator passed in; at temperature 0 nothing is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from playground.drafters.tree_spec import TreeSpec
from playground.engine.tree import DETERMINISTIC, IID, WITHOUT_REPLACEMENT, Draft
from playground.samplers.base import Distribution, sample_from


@dataclass
class GrowingTree:
    """Nodes so far (parents first) and the drafter's distribution after expanded ones."""

    greedy: bool
    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # log q of the path to each node
    q_rows: list[torch.Tensor | None] = field(default_factory=list)  # what each was drawn from
    probs: dict[int, torch.Tensor] = field(default_factory=dict)  # node (-1: root) -> (vocab,)
    logp: dict[int, torch.Tensor] = field(default_factory=dict)  # node -> (vocab,) float64, ≤ 0

    @classmethod
    def start(cls, root: Distribution) -> GrowingTree:
        tree = cls(greedy=root.greedy)
        tree.store([-1], root)
        return tree

    def store(self, nodes: list[int], dist: Distribution) -> None:
        probs = dist.probs.float()  # (rows, vocab)
        source = torch.log_softmax(dist.logits, -1) if dist.logits is not None else probs.log()
        logp = source.double().clamp_max(0.0)  # (rows, vocab)
        for i, node in enumerate(nodes):
            self.probs[node], self.logp[node] = probs[i], logp[i]

    def add(self, parent: int, token: int, q_row: torch.Tensor | None) -> int:
        self.tokens.append(int(token))
        self.parents.append(parent)
        self.scores.append(self.score(parent) + float(self.logp[parent][token]))
        self.q_rows.append(q_row)
        return len(self.tokens) - 1

    def score(self, node: int) -> float:
        return 0.0 if node < 0 else self.scores[node]

    def child_with(self, parent: int, token: int) -> int:
        """The child of `parent` carrying `token`, -1 if there is none."""
        for i in range(len(self.tokens) - 1, parent, -1):
            if self.parents[i] == parent and self.tokens[i] == token:
                return i
        return -1

    def to_draft(
        self, drawn: str, keep: list[int] | None = None, draws: list[list[int]] | None = None
    ) -> Draft:
        keep = list(range(len(self.tokens))) if keep is None else sorted(keep)
        index = {node: i for i, node in enumerate(keep)}
        index[-1] = -1
        tokens = torch.tensor([self.tokens[n] for n in keep], dtype=torch.long)  # (nodes,)
        parents = torch.tensor([index[self.parents[n]] for n in keep], dtype=torch.long)
        rows = [self.q_rows[n] for n in keep]
        q_draft = torch.stack(rows) if rows and rows[0] is not None else None  # (nodes, vocab)
        if draws is not None:
            draws = [[index[c] for c in drawn_at] for drawn_at in draws]
        law = DETERMINISTIC if q_draft is None else drawn
        return Draft(tokens, parents, q_draft, draws=draws, children_drawn=law)


# expand(tree, nodes) -> the drafter's processed distribution after each node (rows: nodes)
Expand = Callable[[GrowingTree, list[int]], Distribution]


def build_tree(
    spec: TreeSpec, root: Distribution, expand: Expand, max_depth: int, rng: torch.Generator
) -> Draft:
    """The draft tree of `spec`, at most `max_depth` deep, from the root distribution."""
    tree = GrowingTree.start(root)
    depth = min(spec.depth, max_depth)
    if depth < 1:
        return Draft.empty()

    def grow(nodes: list[int]) -> None:
        nodes = [n for n in nodes if n not in tree.probs]
        if nodes:
            tree.store(nodes, expand(tree, nodes))

    kind = spec.kind
    if tree.greedy and kind in ("sample", "gumbel_topk"):
        kind = "static"
    if tree.greedy and kind == "chains":
        return shaped(tree, grow, (1,) * depth, spec.budget, top_children, rng)
    if kind in ("static", "sample", "gumbel_topk"):
        pick = {"static": top_children, "sample": iid_children, "gumbel_topk": gumbel_children}
        return shaped(tree, grow, spec.branching[:depth], spec.budget, pick[kind], rng)
    if kind == "topk":
        return shaped(tree, grow, (spec.width,) * depth, spec.budget, top_children, rng)
    if kind == "dynamic":
        return dynamic(tree, grow, spec.width, depth, spec.budget)
    if kind == "beam":
        return beam(tree, grow, spec.width, depth, spec.budget, rng)
    return chains(tree, grow, spec.width, min(depth, spec.budget // spec.width), rng)


# ---- static shapes: top-k, i.i.d. and Gumbel-top-k children --------------------------


def top_children(tree: GrowingTree, node: int, count: int, rng: torch.Generator) -> list[int]:
    logp = tree.logp[node]  # (vocab,)
    count = min(count, int(torch.isfinite(logp).sum()))
    return logp.topk(count).indices.tolist()


def iid_children(tree: GrowingTree, node: int, count: int, rng: torch.Generator) -> list[int]:
    return torch.multinomial(tree.probs[node], count, replacement=True, generator=rng).tolist()


def gumbel_children(tree: GrowingTree, node: int, count: int, rng: torch.Generator) -> list[int]:
    """Gumbel-top-k: `count` draws without replacement, in drawing order."""
    q = tree.probs[node]  # (vocab,)
    count = min(count, int((q > 0).sum()))
    keys = q / torch.empty_like(q).exponential_(generator=rng)  # argmax order of log q + Gumbel
    return keys.topk(count).indices.tolist()


PICK_DRAWN = {top_children: DETERMINISTIC, iid_children: IID, gumbel_children: WITHOUT_REPLACEMENT}


def shaped(tree, grow, branching, budget, pick, rng) -> Draft:
    """Level d gives each node (in order) up to branching[d] children until the budget ends."""
    level, left = [-1], budget
    for count in branching:
        parents = level[: -(-left // count)]  # only the nodes that will get children
        if not parents:
            break
        grow(parents)
        level = []
        for node in parents:
            if left <= 0:
                break
            q_row = None if pick is top_children else tree.probs[node]
            for token in pick(tree, node, min(count, left), rng):
                level.append(tree.add(node, token, q_row))
            left = budget - len(tree.tokens)
    return tree.to_draft(PICK_DRAWN[pick])


# ---- EAGLE-2 dynamic trees ------------------------------------------------------------


def dynamic(tree: GrowingTree, grow, width: int, depth: int, budget: int) -> Draft:
    """Expand the `width` best nodes of each level by `width` children, then keep the
    `budget` nodes with the highest cumulative log-probability (Li et al. 2024, EAGLE-2)."""
    frontier = [-1]
    for _ in range(depth):
        grow(frontier)
        fresh = [
            tree.add(node, token, None)
            for node in frontier
            for token in top_children(tree, node, width, None)
        ]
        frontier = sorted(fresh, key=lambda n: -tree.scores[n])[:width]
    ranked = sorted(range(len(tree.tokens)), key=lambda n: (-tree.scores[n], n))
    keep: set[int] = set()
    for node in ranked:  # a child never outscores its parent: this is the top `budget`
        if len(keep) < budget and (tree.parents[node] < 0 or tree.parents[node] in keep):
            keep.add(node)
    return tree.to_draft(DETERMINISTIC, sorted(keep))


# ---- stochastic beam search (RSD-S) -----------------------------------------------------


def beam(tree: GrowingTree, grow, width: int, depth: int, budget: int, rng) -> Draft:
    """Stochastic beam search (Kool et al. 2019): per level, the `width` children with the
    highest Gumbel-perturbed path log-probability, each conditioned so that the maximum over
    a node's children equals the node's own perturbed value. At temperature 0 the Gumbels
    are left out (plain beam search)."""
    perturbed, frontier, left = {-1: 0.0}, [-1], budget
    for _ in range(depth):
        if not frontier or left <= 0:
            break
        grow(frontier)
        candidates = []
        for node in frontier:
            candidates += _beam_candidates(tree, node, perturbed[node], width, rng)
        candidates.sort(key=lambda c: -c[0])  # within a node: its Gumbel-top-k order
        frontier = []
        for value, node, token in candidates[: min(width, left)]:
            child = tree.add(node, token, None if tree.greedy else tree.probs[node])
            perturbed[child] = value
            frontier.append(child)
        left -= len(frontier)
    return tree.to_draft(WITHOUT_REPLACEMENT)


def _beam_candidates(tree, node, parent_value, width, rng) -> list[tuple[float, int, int]]:
    phi = tree.score(node) + tree.logp[node]  # (vocab,) float64
    count = min(width, int(torch.isfinite(phi).sum()))
    if tree.greedy:
        values, ids = phi.topk(count)
        return list(zip(values.tolist(), [node] * count, ids.tolist(), strict=True))
    noise = torch.empty_like(phi).exponential_(generator=rng).log_()  # (vocab,): -Gumbel
    values, ids = (phi - noise).topk(count)  # (count,)
    conditioned = truncated_gumbel(parent_value, float(values[0]), values)
    return list(zip(conditioned.tolist(), [node] * count, ids.tolist(), strict=True))


def truncated_gumbel(target_max: float, current_max: float, values: torch.Tensor) -> torch.Tensor:
    """-log(exp(-T) - exp(-Z) + exp(-G)) computed stably (Kool et al. 2019, appendix B)."""
    v = target_max - values + _log1mexp(values - current_max)  # (count,)
    return target_max - v.clamp_min(0.0) - torch.log1p(torch.exp(-v.abs()))


def _log1mexp(a: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(a)) for a ≤ 0 (-inf at a = 0)."""
    a = a.clamp_max(0.0)
    return torch.where(a > -math.log(2), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


# ---- SpecTr: k independent chains ------------------------------------------------------


def chains(tree: GrowingTree, grow, k: int, depth: int, rng) -> Draft:
    """k chains sampled independently, merged into a trie; `draws` keeps each node's draws
    in chain order (K-SEQ needs the i.i.d. draws, repeats included, in a fixed order)."""
    current = [-1] * k
    draws: dict[int, list[int]] = {-1: []}
    for _ in range(depth):
        grow(list(dict.fromkeys(current)))
        for j, node in enumerate(current):
            token = sample_from(tree.probs[node], rng)
            child = tree.child_with(node, token)
            if child < 0:
                child = tree.add(node, token, tree.probs[node])
                draws[child] = []
            draws[node].append(child)
            current[j] = child
    order = [draws[n] for n in range(-1, len(tree.tokens))]
    return tree.to_draft(IID, draws=order)
