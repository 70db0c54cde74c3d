"""KV-cache bookkeeping for target and drafters.

We use a `DynamicCache()` built without a model config: every layer, Gemma 3's
sliding-window layers included, keeps all positions, so a rejected draft can be rolled
back at any length (a config-built cache drops old sliding entries and cannot). Rolling
back never recomputes the accepted prefix: a chain is cropped, a tree keeps only the
accepted path's entries, moved to contiguous slots.
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
    gathers the kept entries of every layer into place.
    """
    if kept_slots == list(range(prefix_len, prefix_len + len(kept_slots))):
        truncate(cache, prefix_len + len(kept_slots))
        return
    index = torch.tensor(kept_slots, dtype=torch.long)
    for layer in cache.layers:
        if not getattr(layer, "is_initialized", True) or layer.keys is None:
            continue
        idx = index.to(layer.keys.device)
        layer.keys = torch.cat([layer.keys[..., :prefix_len, :], layer.keys[..., idx, :]], dim=-2)
        layer.values = torch.cat(
            [layer.values[..., :prefix_len, :], layer.values[..., idx, :]], dim=-2
        )


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
