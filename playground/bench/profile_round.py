"""Profile decode rounds with torch.profiler, on our kernels or transformers' stock ones.

    python -m playground.bench.profile_round [--drafter prompt_lookup] [--stock] [--rounds 8]

Runs one prompt to warm up, then profiles `--rounds` rounds of the next run and prints
where the time went: the draft / verify / accept split from the engine's own `Step`
timings, and the torch operators by self CPU time. `--stock` runs the same rounds with
transformers' own linear layers and an fp32 LM head (`engine.speed.stock_kernels`, no
greedy screening): the "before" of the speed work.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics

import torch
from torch.profiler import ProfilerActivity, profile

from playground.config import DEFAULT_TARGET, GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.speed import stock_kernels
from playground.models import load_model

PROMPT = (
    "Summarise the report below in two sentences.\n\nReport: The city council met on "
    "Tuesday to discuss the new bus network. The new bus network adds four routes that "
    "connect the northern suburbs to the central station. The council said the new bus "
    "network will start in March.\n\nSummary:"
)


def profile_rounds(args: argparse.Namespace) -> str:
    target = load_model(args.target)
    spec = SpecConfig(drafter=args.drafter, sampler=args.sampler) if args.drafter else None
    config = GenerationConfig(
        max_new_tokens=args.rounds * 32, temperature=args.temperature, stop_at_eos=False
    )
    engine = build_engine(target, spec, config)
    stock = stock_kernels(target.model) if args.stock else contextlib.nullcontext()
    with stock:
        if args.stock:
            engine.screen_head = False
        engine.run(PROMPT)  # warm-up
        stream = engine.stream(PROMPT)
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
            steps = [next(stream) for _ in range(args.rounds)]
        stream.close()
    emitted = sum(len(s.emitted) for s in steps)
    lines = [
        f"{args.rounds} rounds of {engine.label} on {args.target}, "
        f"{'stock transformers kernels' if args.stock else 'SpecLab kernels'}, "
        f"{torch.get_num_threads()} threads: {emitted} tokens",
        "",
        "| phase | median ms per round |",
        "|---|---|",
        f"| draft | {_ms(s.draft_time for s in steps)} |",
        f"| verify (target forward) | {_ms(s.verify_time for s in steps)} |",
        f"| accept + commit | {_ms(s.sample_time for s in steps)} |",
        "",
        prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows),
    ]
    return "\n".join(lines)


def _ms(values) -> str:
    return f"{1000 * statistics.median(values):.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.bench.profile_round")
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--drafter", default="prompt_lookup", help="'' for plain decoding")
    parser.add_argument("--sampler", default="greedy")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--rows", type=int, default=12, help="operators listed")
    parser.add_argument("--stock", action="store_true", help="transformers' stock kernels")
    print(profile_rounds(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
