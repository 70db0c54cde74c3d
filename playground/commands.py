"""The CLI's commands, one function each; `__main__` parses flags and calls them."""

from __future__ import annotations

import argparse
import sys

from playground.engine.build import build_engine
from playground.engine.events import RunSummary, write_trace


def models(args: argparse.Namespace) -> int:
    from playground.models import available_offline, ensure_all, load_presets

    if args.fetch:
        from playground.models import load_model

        for name, path in ensure_all().items():
            handle = load_model(f"bundled:{name}")  # dequantises once, then cached
            print(f"bundled:{name}: {path} ({handle.source})")
            del handle
    print(f"{'preset':32} {'offline':8} {'target':34} drafter")
    for preset in load_presets():
        offline = available_offline(preset.target) and available_offline(preset.drafter)
        print(
            f"{preset.name:32} {'yes' if offline else 'no':8} {preset.target:34} {preset.drafter}"
        )
        print(f"{'':32} {'':8} {preset.note}")
    return 0


def generate(args: argparse.Namespace) -> int:
    from playground.__main__ import configs_from_args
    from playground.models import load_model

    spec, gen = configs_from_args(args)
    target = load_model(
        args.target, device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code
    )
    engine = build_engine(target, spec, gen)
    if args.compare:
        _warm_up(target, engine, args.prompt)
    steps = []
    ids: list[int] = []
    shown = ""
    for step in engine.stream(args.prompt):
        steps.append(step)
        ids += step.emitted
        text = target.decode(ids)
        sys.stdout.write(text[len(shown) :] if text.startswith(shown) else "\n" + text)
        sys.stdout.flush()
        shown = text
    print()
    from playground.analysis.metrics import summarize

    summary = summarize(engine, args.prompt, steps)
    if args.compare:
        plain = build_engine(target, None, gen).run(args.prompt)
        summary.speedup = summary.tokens_per_s / plain.tokens_per_s
        _print_summary(plain)
    _print_summary(summary)
    if args.trace:
        write_trace(args.trace, steps, summary)
        print(f"trace: {args.trace}")
    return 0


def _warm_up(target, engine, prompt: str) -> None:
    """One short run of each so kernels and caches are warm before timing."""
    from dataclasses import replace

    short = replace(engine.config, max_new_tokens=min(8, engine.config.max_new_tokens))
    build_engine(target, None, short).run(prompt)
    build_engine(target, engine.spec, short).run(prompt)


def _print_summary(s: RunSummary) -> None:
    alphas = " ".join(f"{a:.2f}" for a in s.per_position_acceptance[:8])
    line = (
        f"[{s.label}] {s.new_tokens} tokens in {s.wall_time:.2f} s = {s.tokens_per_s:.2f} tok/s; "
        f"tau {s.tau:.2f}; acceptance {s.acceptance_rate:.2f}; per position [{alphas}]; "
        f"draft {s.draft_time:.2f} s, verify {s.verify_time:.2f} s, other {s.sample_time:.2f} s"
    )
    if s.speedup is not None:
        line += f"; speedup {s.speedup:.2f}x vs plain"
    print(line)


def vocab(args: argparse.Namespace) -> int:
    from playground.analysis.vocab import vocab_command

    print(vocab_command(args.target, args.drafter, args.text))
    return 0


def bench(args: argparse.Namespace) -> int:
    from playground.bench.cli import run_bench

    return run_bench(args)


def train_schedule(args: argparse.Namespace) -> int:
    from playground.schedules.disco_train import train_schedule_command

    return train_schedule_command(args)
