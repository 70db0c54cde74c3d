"""The `tree` option of tree drafters: which builder grows the tree, and how big.

Syntax `kind:args` (`SpecConfig.options["tree"]`, CLI `--option tree=static:3,2,1`);
numbers may be separated by "," or "-" (the app's `key=value, ...` box splits on commas,
so write `tree=static:3-2-1` there):

    kind             children                                          children_drawn
    static:3,2,2,1   branching per depth; the drafter's top-k          deterministic
    topk:K           K per node, `tree_depth` levels (K: tree_width)   deterministic
    dynamic:N        EAGLE-2: the N nodes of highest cumulative draft  deterministic
                     log-probability, `tree_width` expanded per level
                     (N: tree_budget)
    sample:3,2,1     static shape, drawn i.i.d. with replacement       iid
                     (SpecInfer)
    gumbel_topk:3,2  static shape, drawn without replacement           without_replacement
                     (Gumbel-top-k; RSD-C)
    beam:W           stochastic beam search, W beams, `tree_depth`     without_replacement
                     levels (RSD-S)
    chains:K         K independent sampled chains merged into a trie   iid
                     (SpecTr)

Every tree holds at most `tree_budget` nodes (static shapes are cut in level order, the
first-ranked parents keeping their children) and is at most as deep as the round's draft
length (from the schedule). The last column is `Draft.children_drawn`, which decides the
samplers that may verify the tree: deterministic → tree_deterministic (any temperature),
tree_greedy (temperature 0), and specinfer / rsd / spectr, which reduce to the
deterministic rule; iid → specinfer, spectr; without_replacement → rsd. At temperature 0
every sampled builder falls back to its deterministic twin (top-k children, a single
chain for `chains`), since a one-hot q has nothing else to offer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playground.config import DEFAULT_TREE, TREE_BUDGET, TREE_DEPTH, TREE_WIDTH, read_option
from playground.engine.tree import DETERMINISTIC, IID, WITHOUT_REPLACEMENT
from playground.errors import ConfigError

SHAPED = {"static": DETERMINISTIC, "sample": IID, "gumbel_topk": WITHOUT_REPLACEMENT}
SIZED = {
    "topk": DETERMINISTIC,
    "dynamic": DETERMINISTIC,
    "beam": WITHOUT_REPLACEMENT,
    "chains": IID,
}
KINDS = {**SHAPED, **SIZED}
SYNTAX = (
    "static:3,2,1 | topk:K | dynamic:N | sample:3,2,1 | gumbel_topk:3,2,1 | beam:W | chains:K "
    "(numbers separated by ',' or '-')"
)


@dataclass(frozen=True)
class TreeSpec:
    kind: str
    branching: tuple[int, ...]  # children per node at each depth (shaped kinds)
    width: int  # topk: K; beam: W; chains: K; dynamic: children per expanded node
    budget: int  # most nodes per round
    depth: int  # deepest level (before the round's draft length caps it)
    text: str  # as given, for labels

    @property
    def children_drawn(self) -> str:
        return KINDS[self.kind]


def parse_tree_spec(options: dict[str, Any]) -> TreeSpec:
    """The TreeSpec of `options` ("tree", "tree_budget", "tree_depth", "tree_width")."""
    text = options.get("tree", DEFAULT_TREE)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"tree must be text like {SYNTAX}; got {text!r}")
    kind, _, args = text.strip().partition(":")
    if kind not in KINDS:
        raise ConfigError(f"unknown tree kind {kind!r} in {text!r}; choose one of: {SYNTAX}")
    numbers = _numbers(text, args)
    budget = read_option(options, TREE_BUDGET)
    width = read_option(options, TREE_WIDTH)
    depth = read_option(options, TREE_DEPTH)
    if kind in SHAPED:
        branching = _branching(text, numbers)
        return TreeSpec(kind, branching, max(branching), budget, len(branching), text)
    if len(numbers) > 1:
        raise ConfigError(f"{kind} takes one number, got {text!r} ({SYNTAX})")
    if kind == "dynamic":
        budget = TREE_BUDGET.check(numbers[0]) if numbers else budget
    elif numbers:
        width = _checked_width(text, numbers[0])
    if kind == "chains" and width > budget:
        raise ConfigError(
            f"{text!r}: {width} chains need at least {width} nodes; raise tree_budget "
            f"(now {budget}) or draft fewer chains"
        )
    return TreeSpec(kind, (), width, budget, depth, text)


def _numbers(text: str, args: str) -> list[int]:
    parts = re.split(r"[,\-]", args.strip()) if args.strip() else []
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"tree {text!r}: expected whole numbers after ':' ({SYNTAX})") from None


def _branching(text: str, numbers: list[int]) -> tuple[int, ...]:
    if not numbers:
        raise ConfigError(f"tree {text!r} needs its branching per depth, e.g. static:3,2,1")
    if len(numbers) > TREE_DEPTH.high:
        raise ConfigError(
            f"tree {text!r} is {len(numbers)} levels deep; the deepest allowed is "
            f"{TREE_DEPTH.high:g} (tree_depth)"
        )
    for level, count in enumerate(numbers, start=1):
        if count < 1:
            raise ConfigError(
                f"tree {text!r}: branching must be at least 1 at every depth, got {count} at "
                f"depth {level} (drop the level to make the tree shallower)"
            )
        _checked_width(text, count)
    return tuple(numbers)


def _checked_width(text: str, count: int) -> int:
    if not TREE_WIDTH.low <= count <= TREE_WIDTH.high:
        raise ConfigError(
            f"tree {text!r}: {count} children per node is outside [{TREE_WIDTH.low:g}, "
            f"{TREE_WIDTH.high:g}] (tree_width bounds)"
        )
    return count


def check_fits_context(spec: TreeSpec, max_context: int, who: str) -> None:
    """ConfigError unless one forward over the root and the whole tree fits `who`'s context."""
    if spec.budget + 1 > max_context:
        raise ConfigError(
            f"tree_budget={spec.budget} does not fit {who}'s context of {max_context} tokens "
            f"(one forward holds the root and every node); lower tree_budget"
        )
