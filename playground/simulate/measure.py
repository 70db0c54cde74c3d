"""Measure the latencies a simulator needs on this machine: target forwards by size, drafter
tokens. Medians of a few repeats after a warm-up, each forward after a cached context."""

from __future__ import annotations

import statistics
import time

import torch

from playground.engine import cache as kv
from playground.engine.speed import install_fast_kernels
from playground.models.handle import ModelHandle
from playground.simulate.workload import Latencies


@torch.inference_mode()
def _prefilled(handle: ModelHandle, context: list[int]):
    cache = kv.new_cache()
    ids = torch.tensor([context], device=handle.device)
    handle.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return cache


@torch.inference_mode()
def _timed_forward(handle: ModelHandle, cache, ids: list[int], keep: int) -> float:
    prefix = kv.cache_length(cache)
    start = time.perf_counter()
    handle.model(
        input_ids=torch.tensor([ids], device=handle.device),
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=keep,
    )
    seconds = time.perf_counter() - start
    kv.truncate(cache, prefix)
    return seconds


def forward_times(
    handle: ModelHandle, context: list[int], sizes: range, repeats: int = 5, all_rows: bool = True
) -> list[float]:
    """Median seconds of a forward over n new tokens after `context`, for n in `sizes`.

    `all_rows` computes logits for every new token (a verification); otherwise only for
    the last one (a drafting step).
    """
    install_fast_kernels(handle.model)
    cache = _prefilled(handle, context)
    filler = context[-1]
    out = []
    for n in sizes:
        keep = 0 if all_rows else 1
        _timed_forward(handle, cache, [filler] * n, keep)  # warm-up
        times = [_timed_forward(handle, cache, [filler] * n, keep) for _ in range(repeats)]
        out.append(statistics.median(times))
    return out


def measured_latencies(
    target: ModelHandle,
    drafter: ModelHandle,
    target_context: list[int],
    drafter_context: list[int],
    max_tokens: int = 9,
    repeats: int = 5,
) -> Latencies:
    """Target verify curve for 1 … max_tokens tokens and the drafter's cost per token."""
    verify = forward_times(target, target_context, range(1, max_tokens + 1), repeats)
    (draft,) = forward_times(drafter, drafter_context, range(1, 2), 3 * repeats, all_rows=False)
    return Latencies(draft=draft, verify=tuple(verify))
