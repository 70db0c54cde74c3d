"""Token trees: the Draft contract, tree attention masks, and one-forward tree verification.

The model tests check the invariant the whole tree engine rests on: the logits a tree
forward gives each node equal those of a plain causal forward over prefix + that node's
path (fp32, allclose), with a prefix longer than the sliding window (tiny:target: 16;
Gemma 3 270M: 512), also when the tree is deeper than the window, and when a drafter
feeds the tree in several parts (`cached_nodes`).
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.engine import cache as kv
from playground.engine.tree import IID, Draft, tree_attention_inputs
from playground.errors import ConfigError
from playground.models import load_model

# A tree with branching at the root and below, leaves at several depths:
#   root ─ 0 ─ 2 ─ 5 ─ 8 ─ 10
#        │   └ 3
#        ├ 1 ─ 4 ─ 7
#        └ 9 ─ 11 (parents-first but not level order)
PARENTS = [-1, -1, 0, 0, 1, 2, 2, 4, 5, -1, 8, 9]


@cache
def model(name: str):
    return load_model(name)


def random_tree(parents: list[int], vocab: int, seed: int) -> Draft:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, vocab, (len(parents),), generator=g)
    return Draft(tokens=tokens, parents=torch.tensor(parents))


# ---- the Draft contract --------------------------------------------------------------------


def test_draft_structure():
    draft = random_tree(PARENTS, 100, 0)
    assert draft.children(-1) == [0, 1, 9] and draft.children(2) == [5, 6] == draft.draws_at(2)
    assert draft.path(10) == [0, 2, 5, 8, 10]
    assert draft.depth.tolist() == [1, 1, 2, 2, 2, 3, 3, 3, 4, 1, 5, 2]
    assert draft.max_depth == 5 and Draft.empty().max_depth == 0
    assert not draft.is_chain and Draft.chain(torch.tensor([5, 6, 7])).is_chain
    ancestors = draft.ancestor_mask[10].nonzero()[:, 0].tolist()
    assert ancestors == [0, 2, 5, 8, 10], "a node sees itself and its ancestors only"


def test_draft_rejects_bad_trees():
    with pytest.raises(ConfigError, match="parents must come before"):
        Draft(tokens=torch.tensor([1, 2]), parents=torch.tensor([1, -1]))
    with pytest.raises(ConfigError, match="draws at node -1"):
        Draft(torch.tensor([1, 2]), torch.tensor([-1, -1]), draws=[[0], [], []])
    with pytest.raises(ConfigError, match="children_drawn"):
        Draft(torch.tensor([1]), torch.tensor([-1]), children_drawn="somehow")
    repeated = Draft(torch.tensor([1, 2]), torch.tensor([-1, -1]), draws=[[0, 1, 0], [], []])
    assert repeated.draws_at(-1) == [0, 1, 0] and repeated.children(-1) == [0, 1]
    assert Draft(torch.tensor([1]), torch.tensor([-1]), children_drawn=IID).children_drawn == IID


# ---- masks (pure tensors) ------------------------------------------------------------------


class SlidingConfig:
    sliding_window = 4
    layer_types = ["sliding_attention", "full_attention"]


def visible(mask: torch.Tensor) -> torch.Tensor:
    return mask[0, 0] == 0  # (rows, cols) bool


def test_mask_and_positions_of_the_verification_forward():
    draft = random_tree(PARENTS, 100, 0)
    inputs = tree_attention_inputs(draft, 3, torch.float32, torch.device("cpu"))
    mask = visible(inputs["attention_mask"])  # (13, 3 + 13)
    assert mask.shape == (13, 16)
    assert inputs["position_ids"].tolist() == [[3, 4, 4, 5, 5, 5, 6, 6, 6, 7, 4, 8, 5]]
    assert mask[:, :4].all(), "every row sees the prefix and the root"
    assert mask[1 + 10, 3:].nonzero()[:, 0].tolist() == [0, 1, 3, 6, 9, 11]
    assert not mask[0, 4:].any(), "the root sees no node"


def test_sliding_mask_windows_prefix_and_tree():
    draft = Draft.chain(torch.arange(6))  # positions prefix_len + 0 … + 6
    inputs = tree_attention_inputs(draft, 5, torch.float32, torch.device("cpu"), SlidingConfig())
    full = visible(inputs["attention_mask"]["full_attention"])
    sliding = visible(inputs["attention_mask"]["sliding_attention"])
    assert full[6].sum() == 5 + 7, "full attention: the whole prefix, the root, six nodes"
    assert sliding[6].nonzero()[:, 0].tolist() == [5 + 3, 5 + 4, 5 + 5, 5 + 6], (
        "node 5 sits at position 11 and sees only positions 8..11 through a window of 4, "
        "inside the tree too"
    )
    assert sliding[0].nonzero()[:, 0].tolist() == [2, 3, 4, 5]


def test_cached_nodes_give_the_bottom_rows():
    draft = random_tree(PARENTS, 100, 0)
    cpu = torch.device("cpu")
    whole = tree_attention_inputs(draft, 7, torch.float32, cpu, SlidingConfig())
    part = tree_attention_inputs(draft, 7, torch.float32, cpu, SlidingConfig(), cached_nodes=4)
    for kind, mask in part["attention_mask"].items():
        assert torch.equal(mask, whole["attention_mask"][kind][:, :, 5:]), kind
    assert torch.equal(part["position_ids"], whole["position_ids"][:, 5:])


# ---- model forwards --------------------------------------------------------------------------


@torch.inference_mode()
def tree_logits(handle, prefix: list[int], draft: Draft) -> torch.Tensor:
    """Logits of [root] + draft after a cached prefix (prefix[-1] is the root)."""
    cache = kv.new_cache()
    handle.model(input_ids=torch.tensor([prefix[:-1]]), past_key_values=cache, use_cache=True)
    root = len(prefix) - 1
    inputs = tree_attention_inputs(draft, root, handle.dtype, handle.device, handle.config)
    ids = torch.tensor([[prefix[-1], *draft.tokens.tolist()]])
    out = handle.model(input_ids=ids, past_key_values=cache, use_cache=True, **inputs)
    return out.logits[0].float()  # (1 + nodes, vocab)


@torch.inference_mode()
def assert_nodes_match_plain_forwards(handle, prefix: list[int], draft: Draft, logits, atol):
    """One plain forward per leaf covers every node on its path (and the root)."""
    leaves = [n for n in range(draft.num_nodes) if not draft.children(n)]
    for leaf in leaves:
        path = draft.path(leaf)
        ids = torch.tensor([prefix + draft.tokens[path].tolist()])
        plain = handle.model(input_ids=ids).logits[0, len(prefix) - 1 :].float()  # (1 + depth, V)
        rows = [0] + [n + 1 for n in path]
        gap = float((logits[rows] - plain).abs().max())
        assert gap < atol, f"path to node {leaf}: tree logits differ from plain by {gap:.2e}"


def prompt_ids(handle, length: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, min(handle.vocab_size, 600), (length,), generator=g).tolist()


@pytest.mark.parametrize("name", ["tiny:target", "tiny:drafter"])
def test_tree_forward_matches_plain_forwards_past_the_window(name):
    handle = model(name)
    prefix = prompt_ids(handle, 40, 1)  # > 16, the tiny target's sliding window
    draft = random_tree(PARENTS, 600, 2)
    logits = tree_logits(handle, prefix, draft)
    assert_nodes_match_plain_forwards(handle, prefix, draft, logits, atol=1e-4)


def test_tree_deeper_than_the_window():
    handle = model("tiny:target")
    parents = [-1, *range(19), 3, 20, 21]  # a 20-deep chain and a branch off node 3
    prefix = prompt_ids(handle, 30, 3)
    draft = random_tree(parents, 600, 4)
    logits = tree_logits(handle, prefix, draft)
    assert_nodes_match_plain_forwards(handle, prefix, draft, logits, atol=1e-4)


@pytest.mark.parametrize("name", ["tiny:target", "tiny:drafter"])
@torch.inference_mode()
def test_feeding_a_tree_level_by_level_matches_one_forward(name):
    """What a tree drafter does: the root is cached, then each part sees the parts before."""
    handle = model(name)
    prefix = prompt_ids(handle, 25, 5)
    parents = [-1, -1, 0, 0, 1, 2, 2, 4]  # level order
    draft = random_tree(parents, 600, 6)
    whole = tree_logits(handle, prefix, draft)[1:]  # (nodes, vocab)
    cache = kv.new_cache()
    handle.model(input_ids=torch.tensor([prefix]), past_key_values=cache, use_cache=True)
    parts = []
    for start, stop in ((0, 2), (2, 5), (5, 8)):
        fed = Draft(tokens=draft.tokens[:stop], parents=draft.parents[:stop])
        inputs = tree_attention_inputs(
            fed, len(prefix) - 1, handle.dtype, handle.device, handle.config, start
        )
        ids = draft.tokens[start:stop][None]
        out = handle.model(input_ids=ids, past_key_values=cache, use_cache=True, **inputs)
        parts.append(out.logits[0].float())
    gap = float((torch.cat(parts) - whole).abs().max())
    assert gap < 1e-4, f"level-by-level logits differ from the one-forward tree by {gap:.2e}"


@pytest.mark.slow
def test_gemma_tree_forward_matches_plain_forwards_past_512():
    handle = load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")
    prefix = prompt_ids(handle, 530, 7)  # > 512, Gemma 3's sliding window
    draft = random_tree([-1, -1, 0, 0, 1, 2, 5], 600, 8)
    logits = tree_logits(handle, prefix, draft)
    assert_nodes_match_plain_forwards(handle, prefix, draft, logits, atol=2e-4)
