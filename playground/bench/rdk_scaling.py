"""Time per drafted token of the RDK kernels against the vocabulary size N.

`python -m playground.bench.rdk_scaling [--sizes 16384,65536,262144] [--keep 0.1]`
builds `AffinityKernel`s over random embeddings (hidden 640, like Gemma 3 270M) for each
N, keeps a `keep` share of the tokens as the drafter's vocabulary, and times `apply` on
one row of q' (a softmax over the kept tokens, so every kept token carries mass: the
exact kernel's worst case is bounded by `rdk_top`). Prints a markdown table: the exact
kernel costs top·N·hidden per row, the linear one N·hidden (one product per vocabulary
row), so both grow linearly in N at a fixed `rdk_top`; the exact one 'top' times faster.
"""

from __future__ import annotations

import argparse
import time

import torch

from playground.config import RDK_MIX, RDK_SHARPNESS, RDK_TOP
from playground.samplers.rdk import AffinityKernel
from playground.samplers.rdk_linear import LinearAffinityKernel

HIDDEN = 640


def kernel_for(size: int, keep: float, linear: bool, top: int, seed: int = 0):
    """A kernel over `size` random tokens and one q' row over its kept share."""
    g = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(size, HIDDEN, generator=g)  # (N, hidden)
    kept = torch.randperm(size, generator=g)[: max(1, int(size * keep))]
    receives = torch.ones(size, dtype=torch.bool)
    receives[kept] = False
    kernel_type = LinearAffinityKernel if linear else AffinityKernel
    kernel = kernel_type(
        embeddings=embeddings,
        inv_norms=1.0 / embeddings.norm(dim=-1),
        receives=receives,
        mix=RDK_MIX.default,
        sharpness=RDK_SHARPNESS.default,
        top=top,
    )
    q_prime = torch.zeros(1, size)  # (1, N)
    q_prime[0, kept] = torch.randn(len(kept), generator=g).softmax(dim=0)
    return kernel, q_prime


def time_per_row(kernel: AffinityKernel, q_prime: torch.Tensor, repeats: int) -> float:
    kernel.apply(q_prime)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel.apply(q_prime)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def table(sizes: list[int], keep: float, top: int, repeats: int) -> str:
    lines = [
        f"| vocabulary N | kept tokens | rdk_linear ms/token | rdk (top {top}) ms/token |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        cells = []
        for linear in (True, False):
            kernel, q_prime = kernel_for(size, keep, linear, top)
            cells.append(f"{1000 * time_per_row(kernel, q_prime, repeats):.2f}")
        lines.append(f"| {size:,} | {int(size * keep):,} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.bench.rdk_scaling")
    parser.add_argument("--sizes", default="16384,32768,65536,131072,262144")
    parser.add_argument("--keep", type=float, default=0.1)
    parser.add_argument("--top", type=int, default=RDK_TOP.default)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    result = table(sizes, args.keep, args.top, args.repeats)
    print(f"torch threads: {torch.get_num_threads()}\n\n{result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
