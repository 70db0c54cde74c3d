"""Command line: python -m playground {models,generate,bench,vocab}.

Every flag's default and bounds come from playground/config.py. A SpecLabError ends the
command with one readable line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys

from playground import config as C
from playground.errors import ConfigError, SpecLabError


def add_generation_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by generate and bench; defaults are the knobs' defaults."""
    knobs = C.KNOBS
    parser.add_argument("--target", default=C.DEFAULT_TARGET, help="model spec of the target")
    parser.add_argument("--drafter", default=None, help="drafter name (none: plain decoding)")
    parser.add_argument("--drafter-model", default=None, help="model spec for model drafters")
    parser.add_argument("--sampler", default=C.SpecConfig.sampler, help="verification rule")
    parser.add_argument("--schedule", default=C.SpecConfig.schedule, help="draft-length schedule")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="drafter/sampler option, e.g. tree=static:3,2,1 (repeatable)",
    )
    for name in (
        "num_draft_tokens",
        "max_draft_tokens",
        "ngram_max",
        "ngram_min",
        "max_new_tokens",
        "temperature",
        "top_k",
        "top_p",
        "repetition_penalty",
        "seed",
    ):
        knob = knobs[name]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=int if knob.integer else float,
            default=knob.default,
            help=f"{knob.help} (default {knob.default})",
        )
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: best found)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 (default: per device)")
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow model code from the Hub (off unless given here)",
    )


def parse_options(items: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes KEY=VALUE, got {item!r}")
        options[key] = _number(value)
    return options


def _number(value: str) -> object:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def configs_from_args(args: argparse.Namespace) -> tuple[C.SpecConfig, C.GenerationConfig]:
    spec = C.SpecConfig(
        drafter=args.drafter,
        drafter_model=args.drafter_model,
        sampler=args.sampler,
        schedule=args.schedule,
        num_draft_tokens=args.num_draft_tokens,
        max_draft_tokens=args.max_draft_tokens,
        ngram_max=args.ngram_max,
        ngram_min=args.ngram_min,
        options=parse_options(args.option),
    )
    gen = C.GenerationConfig.from_knobs(args, stop_strings=tuple(args.stop))
    return spec, gen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="list presets and what works offline")
    models.add_argument(
        "--fetch",
        action="store_true",
        help="fetch, verify and dequantise the bundled offline models now",
    )

    gen = sub.add_parser("generate", help="decode one prompt, streaming tokens")
    add_generation_flags(gen)
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--compare", action="store_true", help="also run plain decoding")
    gen.add_argument("--trace", default=None, help="write every Step to this JSON file")

    vocab = sub.add_parser("vocab", help="vocabulary overlap of a target and a drafter")
    vocab.add_argument("--target", default=C.DEFAULT_TARGET)
    vocab.add_argument("--drafter", default=C.DEFAULT_DRAFTER_MODEL)
    vocab.add_argument("--text", default=None, help="sample text for probability-mass figures")

    bench = sub.add_parser("bench", help="benchmark against plain decoding and transformers")
    from playground.bench.cli import add_bench_flags

    add_bench_flags(bench)

    train = sub.add_parser("train-schedule", help="fit the DISCO schedule's classifier on traces")
    from playground.schedules.disco_train import add_train_schedule_flags

    add_train_schedule_flags(train)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        from playground import commands

        return getattr(commands, args.command.replace("-", "_"))(args)
    except SpecLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
