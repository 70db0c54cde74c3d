"""KV-cache bookkeeping: crop, keep (gather an accepted tree path), common prefix.

The model tests check what the engine relies on after every tree round: once the
accepted path's entries are kept, the cache is indistinguishable from one built from
scratch over the kept text (the next forward's logits match, fp32), past the sliding
window (tiny:target: 16; Gemma 3 270M: 512).
"""

from __future__ import annotations

from functools import cache

import pytest
import torch
from transformers import DynamicCache

from playground.engine import cache as kv
from playground.engine.tree import Draft, tree_attention_inputs
from playground.models import load_model


def numbered_cache(length: int, layers: int = 2) -> DynamicCache:
    """A cache whose entry at slot s holds the value s in every layer."""
    cache = DynamicCache()
    for layer in range(layers):
        slots = torch.arange(float(length)).view(1, 1, length, 1)  # (batch, heads, slots, dim)
        cache.update(slots, slots + 1000, layer)
    return cache


def slots_of(cache: DynamicCache) -> list[list[int]]:
    return [layer.keys.flatten().int().tolist() for layer in cache.layers]


def test_keep_packs_the_kept_slots_after_the_prefix():
    cache = numbered_cache(12)
    kv.keep(cache, 5, [6, 8, 11])
    assert slots_of(cache) == [[0, 1, 2, 3, 4, 6, 8, 11]] * 2
    assert cache.layers[0].values.flatten().int().tolist()[-3:] == [1006, 1008, 1011]
    assert kv.cache_length(cache) == 8


def test_keep_contiguous_is_a_crop_and_empty_keeps_the_prefix():
    cache = numbered_cache(10)
    kv.keep(cache, 4, [4, 5])
    assert slots_of(cache)[0] == [0, 1, 2, 3, 4, 5]
    kv.keep(cache, 3, [])
    assert slots_of(cache)[0] == [0, 1, 2]


def test_keep_refuses_unordered_slots():
    with pytest.raises(ValueError, match="ascend"):
        kv.keep(numbered_cache(10), 4, [7, 6])
    with pytest.raises(ValueError, match="ascend"):
        kv.keep(numbered_cache(10), 4, [3, 6])


def test_truncate_and_common_prefix():
    cache = numbered_cache(10)
    kv.truncate(cache, 7)
    assert kv.cache_length(cache) == 7
    kv.truncate(cache, 9)
    assert kv.cache_length(cache) == 7, "truncating past the end changes nothing"
    assert kv.common_prefix([1, 2, 3, 4], [1, 2, 5]) == 2
    assert kv.common_prefix([1, 2], [1, 2, 3]) == 2
    assert kv.common_prefix([], [1]) == 0


@cache
def model(name: str):
    if name.startswith("bundled:"):
        return load_model(name, device="cpu", dtype="float32")
    return load_model(name)


@torch.inference_mode()
def next_logits_after_keeping(handle, prefix: list[int], draft: Draft, path: list[int], nxt):
    """Verify `draft` after `prefix` in one tree forward, keep `path`, then feed `nxt`."""
    cache = kv.new_cache()
    handle.model(input_ids=torch.tensor([prefix[:-1]]), past_key_values=cache, use_cache=True)
    start = kv.cache_length(cache)
    inputs = tree_attention_inputs(draft, start, handle.dtype, handle.device, handle.config)
    ids = torch.tensor([[prefix[-1], *draft.tokens.tolist()]])
    handle.model(input_ids=ids, past_key_values=cache, use_cache=True, **inputs)
    kv.keep(cache, start, [start] + [start + 1 + n for n in path])
    out = handle.model(input_ids=torch.tensor([nxt]), past_key_values=cache, use_cache=True)
    return out.logits[0].float()  # (len(nxt), vocab)


def check_keep_then_forward(handle, prefix_len: int, atol: float):
    g = torch.Generator().manual_seed(0)
    prefix = torch.randint(4, 600, (prefix_len,), generator=g).tolist()
    parents = [-1, -1, 0, 1, 0, 2, 4, 5]
    draft = Draft(torch.randint(4, 600, (8,), generator=g), torch.tensor(parents))
    nxt = [11, 12, 13]
    for leaf in (7, 3):  # 0 → 4 → 6 → 7 (not contiguous) and 1 → 3
        path = draft.path(leaf)
        got = next_logits_after_keeping(handle, prefix, draft, path, nxt)
        text = prefix + draft.tokens[path].tolist() + nxt
        with torch.inference_mode():
            scratch = handle.model(input_ids=torch.tensor([text])).logits[0, -len(nxt) :].float()
        gap = float((got - scratch).abs().max())
        assert gap < atol, f"after keeping path {path}: next forward differs by {gap:.2e}"


def test_kept_path_then_next_forward_equals_scratch_tiny():
    check_keep_then_forward(model("tiny:target"), 37, atol=1e-4)  # window 16


@pytest.mark.slow
def test_kept_path_then_next_forward_equals_scratch_gemma():
    check_keep_then_forward(model("bundled:gemma-3-270m"), 525, atol=2e-4)  # window 512
