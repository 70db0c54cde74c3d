"""KV-cache bookkeeping for target and drafters.

We use a `DynamicCache()` built without a model config: every layer, Gemma 3's
sliding-window layers included, keeps all positions, so a rejected draft can be rolled
back at any length (a config-built cache drops old sliding entries and cannot). Rolling
back never recomputes the accepted prefix: a chain is cropped, a tree keeps only the
accepted path's entries, moved down into contiguous slots in place (gpt-fast's "a
rollback is moving a pointer", plus a copy of the few kept entries).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache


def new_cache() -> DynamicCache:
    return DynamicCache()


def cache_length(cache: DynamicCache) -> int:
    return int(cache.get_seq_length())


def truncate(cache: DynamicCache, length: int) -> None:
    """Drop every entry at or after slot `length`."""
    extra = cache_length(cache) - length
    if extra > 0:
        cache.crop(-extra)


def keep(cache: DynamicCache, prefix_len: int, kept_slots: list[int]) -> None:
    """Keep slots [0, prefix_len) plus `kept_slots` (ascending, each >= prefix_len), packed.

    A contiguous run `prefix_len, prefix_len + 1, ...` is a plain crop; anything else
    moves the kept entries of every layer down into slots prefix_len, prefix_len + 1, ...
    in place (work ∝ len(kept_slots), not the cache length), then crops.
    """
    count = len(kept_slots)
    if kept_slots != list(range(prefix_len, prefix_len + count)):
        _move_down(cache, prefix_len, kept_slots)
    truncate(cache, prefix_len + count)


@torch.inference_mode()
def _move_down(cache: DynamicCache, prefix_len: int, kept_slots: list[int]) -> None:
    if any(b <= a for a, b in zip(kept_slots, kept_slots[1:], strict=False)) or (
        kept_slots and kept_slots[0] < prefix_len
    ):
        raise ValueError(f"kept slots must ascend from {prefix_len}, got {kept_slots}")
    index = torch.tensor(kept_slots, dtype=torch.long)
    dest = slice(prefix_len, prefix_len + len(kept_slots))
    for layer in cache.layers:
        if not getattr(layer, "is_initialized", True) or layer.keys is None:
            continue
        idx = index.to(layer.keys.device)
        layer.keys[..., dest, :] = layer.keys[..., idx, :]  # (batch, heads, kept, head_dim)
        layer.values[..., dest, :] = layer.values[..., idx, :]


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # invariant: a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo
