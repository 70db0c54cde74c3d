"""The draft tree: what a drafter proposes and the target verifies in one forward pass.

A chain is the tree whose parents are [-1, 0, 1, ...]. Nodes are stored parents-first
(every parent index is smaller than its child's), so depth and paths fall out of one
pass. Tree attention inputs (the 4D mask, position ids) are built here too, for the
target's verification forward and for drafters that grow a tree level by level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from playground.errors import ConfigError

IID = "iid"
WITHOUT_REPLACEMENT = "without_replacement"
DETERMINISTIC = "deterministic"


@dataclass(eq=False)
class Draft:
    """A proposal.

    `tokens` are ids in the *target* vocabulary (what the target verifies); drafters with
    another vocabulary map their proposal before building the Draft and may keep their own
    ids in `drafter_tokens`. `q_draft[i]` is the distribution node i was drawn from,
    expressed over the target vocabulary (`None` for deterministic drafters: one-hot).
    `draws[v + 1]` lists, in drawing order, the child drawn by each draw made at node v
    (-1: the root), repeats included, for drafters whose draws share nodes (SpecTr's
    chains merged into a trie); `None` means each child was drawn once, in draft order.
    `children_drawn` says how siblings were drawn, which decides the tree samplers that
    may verify them: IID (independently from q_draft, with replacement), WITHOUT_REPLACEMENT
    (one after another from q_draft with earlier siblings removed, in draw order) or
    DETERMINISTIC (a function of the context; q_draft None); None for chains, where every
    node has one child and the three coincide.
    `extra` holds whatever a particular sampler needs (e.g. drafter text for SLEM/SLRS).
    """

    tokens: torch.Tensor  # (num_nodes,) long, target vocabulary
    parents: torch.Tensor  # (num_nodes,) long, -1 for children of the root
    q_draft: torch.Tensor | None = None  # (num_nodes, vocab) float
    drafter_tokens: torch.Tensor | None = None  # (num_nodes,) long, drafter vocabulary
    extra: dict[str, Any] = field(default_factory=dict)
    draws: list[list[int]] | None = None  # (num_nodes + 1) lists of child node indices
    children_drawn: str | None = None  # IID | WITHOUT_REPLACEMENT | DETERMINISTIC

    def __post_init__(self) -> None:
        n = self.tokens.numel()
        if self.parents.numel() != n:
            raise ConfigError(f"draft has {n} tokens but {self.parents.numel()} parents")
        if n and bool((self.parents >= torch.arange(n)).any()):
            raise ConfigError("draft parents must come before their children")
        if self.q_draft is not None and self.q_draft.shape[0] != n:
            raise ConfigError(f"q_draft has {self.q_draft.shape[0]} rows for {n} draft tokens")
        if self.draws is not None:
            self._check_draws()
        if self.children_drawn not in (None, IID, WITHOUT_REPLACEMENT, DETERMINISTIC):
            raise ConfigError(f"unknown children_drawn {self.children_drawn!r}")

    def _check_draws(self) -> None:
        if len(self.draws) != self.num_nodes + 1:
            raise ConfigError(f"draws needs {self.num_nodes + 1} lists, got {len(self.draws)}")
        for node, drawn in enumerate(self.draws, start=-1):
            if set(drawn) != set(self.children(node)):
                raise ConfigError(f"draws at node {node} must list exactly its children")

    @classmethod
    def chain(cls, tokens: torch.Tensor, q_draft: torch.Tensor | None = None, **kw: Any) -> Draft:
        parents = torch.arange(tokens.numel()) - 1  # (num_nodes,)
        return cls(tokens=tokens, parents=parents, q_draft=q_draft, **kw)

    @classmethod
    def empty(cls) -> Draft:
        return cls.chain(torch.zeros(0, dtype=torch.long))

    @property
    def num_nodes(self) -> int:
        return self.tokens.numel()

    @cached_property
    def parent_list(self) -> list[int]:
        return self.parents.tolist()

    @cached_property
    def is_chain(self) -> bool:
        return self.parent_list == list(range(-1, self.num_nodes - 1))

    @cached_property
    def depth(self) -> torch.Tensor:
        """Depth of each node; children of the root have depth 1."""
        depth = [0] * self.num_nodes
        for i, parent in enumerate(self.parent_list):
            depth[i] = 1 if parent < 0 else depth[parent] + 1
        return torch.tensor(depth, dtype=torch.long)  # (num_nodes,)

    @property
    def max_depth(self) -> int:
        """Most tokens one round can accept: the depth of the deepest node (0 if empty)."""
        return int(self.depth.max()) if self.num_nodes else 0

    @cached_property
    def _children(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(self.num_nodes + 1)]
        for i, parent in enumerate(self.parent_list):
            out[parent + 1].append(i)
        return out

    def children(self, node: int) -> list[int]:
        """Children of `node` (-1 for the root), in draft order."""
        return self._children[node + 1]

    def draws_at(self, node: int) -> list[int]:
        """The children drawn at `node` in drawing order (repeats when draws share a node)."""
        return self.draws[node + 1] if self.draws is not None else self._children[node + 1]

    def path(self, node: int) -> list[int]:
        """Node indices from the root's child down to `node`."""
        out = []
        while node >= 0:
            out.append(node)
            node = self.parent_list[node]
        return out[::-1]

    @cached_property
    def ancestor_mask(self) -> torch.Tensor:
        """mask[i, j] is True when node j is node i or one of its ancestors."""
        n = self.num_nodes
        mask = torch.eye(n, dtype=torch.bool)  # (num_nodes, num_nodes)
        for i, parent in enumerate(self.parent_list):
            if parent >= 0:
                mask[i] |= mask[parent]
        return mask


def tree_attention_inputs(
    draft: Draft,
    prefix_len: int,
    dtype: torch.dtype,
    device: torch.device,
    config: Any = None,
    cached_nodes: int | None = None,
) -> dict[str, Any]:
    """Attention mask and position ids for a forward over (part of) `[root] + draft`.

    The root is the last committed token; it sits at position `prefix_len` and node i at
    `prefix_len + depth[i]`. A node sees the prefix, the root and its own ancestors; the
    additive float mask has 0 where it attends and the dtype's min where it must not.

    - `cached_nodes=None` (the target's verification): the cache holds `prefix_len` slots
      and the input is the root followed by every node; rows = num_nodes + 1.
    - `cached_nodes=c` (a drafter growing its tree level by level): the cache holds the
      prefix, the root and nodes[:c] in that order; the input is nodes[c:].

    Models with sliding-window layers (Gemma 3) get one mask per layer type: there a row
    sees only the slots whose position is within the window of its own position, prefix
    and tree alike (transformers' rule: query position - key position < window).
    """
    n = draft.num_nodes + 1
    depth = torch.cat([torch.zeros(1, dtype=torch.long), draft.depth])  # (n,)
    positions = prefix_len + depth  # (n,)
    tree_visible = torch.zeros(n, n, dtype=torch.bool)  # (n, n)
    tree_visible[:, 0] = True
    tree_visible[1:, 1:] = draft.ancestor_mask
    first = 0 if cached_nodes is None else cached_nodes + 1
    rows = positions[first:]  # (rows,)
    prefix_visible = torch.ones(n - first, prefix_len, dtype=torch.bool)  # (rows, prefix)
    visible = torch.cat([prefix_visible, tree_visible[first:]], dim=1)  # (rows, prefix + n)
    masks = {"full_attention": _additive(visible, dtype, device)}
    window = getattr(config, "sliding_window", None)
    layer_types = set(getattr(config, "layer_types", None) or [])
    if window and "sliding_attention" in layer_types:
        slots = torch.cat([torch.arange(prefix_len), positions])  # (prefix + n,) key positions
        in_window = rows[:, None] - slots[None, :] < window  # (rows, prefix + n)
        masks["sliding_attention"] = _additive(visible & in_window, dtype, device)
    per_type = len(layer_types) > 1 or "sliding_attention" in masks
    mask = masks if per_type else masks["full_attention"]
    return {"attention_mask": mask, "position_ids": rows[None].to(device)}  # (1, rows)


def _additive(visible: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """visible: (rows, prefix + n) bool -> additive float mask."""
    mask = torch.zeros(visible.shape, dtype=dtype).masked_fill_(~visible, torch.finfo(dtype).min)
    return mask[None, None].to(device)  # (1, 1, rows, prefix + n)
