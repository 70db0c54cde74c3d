"""The draft tree: what a drafter proposes and the target verifies in one forward pass.

A chain is the tree whose parents are [-1, 0, 1, ...]. Nodes are stored parents-first
(every parent index is smaller than its child's), so depth and paths fall out of one
pass. Tree attention inputs (the 4D mask, position ids) are built here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from playground.errors import ConfigError


@dataclass(eq=False)
class Draft:
    """A proposal.

    `tokens` are ids in the *target* vocabulary (what the target verifies); drafters with
    another vocabulary map their proposal before building the Draft and may keep their own
    ids in `drafter_tokens`. `q_draft[i]` is the distribution node i was drawn from,
    expressed over the target vocabulary (`None` for deterministic drafters: one-hot).
    `extra` holds whatever a particular sampler needs (e.g. drafter text for SLEM/SLRS).
    """

    tokens: torch.Tensor  # (num_nodes,) long, target vocabulary
    parents: torch.Tensor  # (num_nodes,) long, -1 for children of the root
    q_draft: torch.Tensor | None = None  # (num_nodes, vocab) float
    drafter_tokens: torch.Tensor | None = None  # (num_nodes,) long, drafter vocabulary
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.tokens.numel()
        if self.parents.numel() != n:
            raise ConfigError(f"draft has {n} tokens but {self.parents.numel()} parents")
        if n and bool((self.parents >= torch.arange(n)).any()):
            raise ConfigError("draft parents must come before their children")
        if self.q_draft is not None and self.q_draft.shape[0] != n:
            raise ConfigError(f"q_draft has {self.q_draft.shape[0]} rows for {n} draft tokens")

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

    def children(self, node: int) -> list[int]:
        """Children of `node` (-1 for the root), in draft order."""
        return [i for i, parent in enumerate(self.parent_list) if parent == node]

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
    draft: Draft, prefix_len: int, dtype: torch.dtype, device: torch.device, config: Any = None
) -> dict[str, Any]:
    """Inputs for one target forward over `[pending token] + draft` with a cached prefix.

    The pending token (the last committed token, not yet in the cache) is the tree's root:
    it sits at position `prefix_len`; node i sits at `prefix_len + depth[i]`. The additive
    float mask (0 = attend, dtype min = blocked) lets every node see the prefix, the root
    and its own ancestors. Models with sliding-window layers (Gemma 3) get one mask per
    layer type: there a node sees only prefix slots within the window of its position.
    """
    n = draft.num_nodes + 1
    depth = torch.cat([torch.zeros(1, dtype=torch.long), draft.depth])  # (n,)
    positions = prefix_len + depth  # (n,)
    tree_visible = torch.zeros(n, n, dtype=torch.bool)  # (n, n)
    tree_visible[:, 0] = True
    tree_visible[1:, 1:] = draft.ancestor_mask
    prefix_visible = torch.ones(n, prefix_len, dtype=torch.bool)  # (n, prefix)
    masks = {"full_attention": _additive(prefix_visible, tree_visible, dtype, device)}
    window = getattr(config, "sliding_window", None)
    layer_types = set(getattr(config, "layer_types", None) or [])
    if window and "sliding_attention" in layer_types:
        slots = torch.arange(prefix_len)  # (prefix,)
        in_window = positions[:, None] - slots[None, :] < window  # (n, prefix)
        masks["sliding_attention"] = _additive(in_window, tree_visible, dtype, device)
    mask = masks if len(layer_types) > 1 or "sliding_attention" in masks else masks["full_attention"]
    return {"attention_mask": mask, "position_ids": positions[None].to(device)}  # (1, n)


def _additive(
    prefix_visible: torch.Tensor, tree_visible: torch.Tensor, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    visible = torch.cat([prefix_visible, tree_visible], dim=1)  # (n, prefix + n)
    mask = torch.zeros(visible.shape, dtype=dtype).masked_fill_(~visible, torch.finfo(dtype).min)
    return mask[None, None].to(device)  # (1, 1, n, prefix + n)
