"""The target's verification cost as a function of tree size, on three kernel sets.

    python -m playground.bench.verify_cost [--sizes 0,1,3,7,15,31] [--context 200]

Times one target forward over `[pending] + tree` (a tree of n nodes: 1 + n rows, tree
attention from `engine.tree`) after a `--context`-token cache, median of `--repeats`,
with: transformers' stock kernels (fp32 head), SpecLab's kernels with the fp32 head
(sampling), and SpecLab's kernels with the bf16-screened head (greedy). Prints a
markdown table in ms and in units of one plain step (n = 0) on the same kernels — the
verify-cost curve that sets how many nodes a round can afford.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from playground.config import DEFAULT_TARGET
from playground.engine import cache as kv
from playground.engine.speed import greedy_screening, install_fast_kernels, stock_kernels
from playground.engine.tree import Draft, tree_attention_inputs
from playground.models import load_model

KERNELS = ("stock", "fast fp32", "fast screened")


def binary_tree(nodes: int) -> Draft:
    """A tree of `nodes` nodes, two children per node in level order (a chain if 1)."""
    parents = [(i - 1) // 2 for i in range(nodes)]
    return Draft(
        tokens=torch.arange(100, 100 + nodes), parents=torch.tensor(parents, dtype=torch.long)
    )


@torch.inference_mode()
def forward_ms(handle, context: int, nodes: int, repeats: int) -> float:
    model = handle.model
    cache = kv.new_cache()
    model(input_ids=torch.arange(200, 200 + context)[None], past_key_values=cache, use_cache=True)
    draft = binary_tree(nodes) if nodes else Draft.empty()
    ids = torch.tensor([[7] + draft.tokens.tolist()])
    kwargs = {}
    if nodes and not draft.is_chain:
        kwargs = tree_attention_inputs(draft, context, handle.dtype, handle.device, handle.config)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        model(input_ids=ids, past_key_values=cache, use_cache=True, **kwargs)
        times.append(time.perf_counter() - start)
        kv.truncate(cache, context)
    return 1000 * sorted(times[1:])[repeats // 2]


def measure(handle, sizes: list[int], context: int, repeats: int) -> dict[str, list[float]]:
    install_fast_kernels(handle.model)
    out = {}
    for kernels in KERNELS:
        if kernels == "stock":
            block = stock_kernels(handle.model)
        elif kernels == "fast screened":
            block = greedy_screening(handle.model)
        else:
            block = contextlib.nullcontext()
        with block:
            out[kernels] = [forward_ms(handle, context, n, repeats) for n in sizes]
    return out


def table(sizes: list[int], times: dict[str, list[float]]) -> str:
    head = "| tree nodes | rows | " + " | ".join(f"{k} ms (× plain)" for k in KERNELS) + " |"
    lines = [head, "|---|---|" + "---|" * len(KERNELS)]
    for i, n in enumerate(sizes):
        cells = [f"{times[k][i]:.1f} ({times[k][i] / times[k][0]:.2f})" for k in KERNELS]
        lines.append(f"| {n} | {n + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.bench.verify_cost")
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--sizes", default="0,1,3,7,15,31")
    parser.add_argument("--context", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes[0] != 0:
        sizes = [0, *sizes]
    handle = load_model(args.target)
    times = measure(handle, sizes, args.context, args.repeats)
    print(f"{args.target}, context {args.context}, {torch.get_num_threads()} threads\n")
    print(table(sizes, times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
