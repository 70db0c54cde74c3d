"""`python -m playground bench`: flags, and the run that writes the reports.

`--quick` is the documented short run (≤ 10 minutes here): the bundled Gemma 3 270M,
greedy, 64 new tokens, the 8-prompt quick set, plain vs our prompt lookup and `auto` vs
transformers' generate (plain and prompt lookup).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomllib

from playground import config as C
from playground.bench.sweep import expand_sweep

QUICK_METHODS = [
    "hf",
    "hf_prompt_lookup:10",
    "drafter=prompt_lookup,sampler=greedy,schedule=heuristic,label=prompt_lookup",
    "drafter=auto,sampler=greedy,label=auto",
]


def add_bench_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the short documented run")
    parser.add_argument("--target", default=C.DEFAULT_TARGET)
    parser.add_argument("--prompts", default="quick", help="prompt set name or .jsonl path")
    parser.add_argument("--per-category", type=int, default=None)
    parser.add_argument(
        "--method",
        action="append",
        default=[],
        help="plain | hf | hf_prompt_lookup[:k] | hf_assisted:MODEL[:k] | "
        "key=value,... of SpecConfig (repeatable)",
    )
    parser.add_argument("--config", default=None, help="TOML file with [[method]] tables")
    parser.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=v1,v2,...",
        help="repeat every key=value method once per value of KEY (a SpecConfig field or "
        "option knob), for speed-quality curves (repeatable: a grid)",
    )
    knob = C.MAX_NEW_TOKENS
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=C.TEMPERATURE.default)
    parser.add_argument("--seed", type=int, default=C.SEED.default)
    parser.add_argument("--repeats", type=int, default=1, help="runs per prompt; median kept")
    parser.add_argument("--out", default="bench-out", help="directory for md/csv/html")
    parser.add_argument("--name", default=None, help="report name (default: quick or custom)")
    parser.add_argument("--readme", action="store_true", help="put the table in README.md")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    del knob


def methods_from_args(args: argparse.Namespace) -> list[str]:
    methods = list(args.method)
    if args.config:
        data = tomllib.loads(Path(args.config).read_text())
        for table in data.get("method", []):
            methods.append(",".join(f"{k}={v}" for k, v in table.items()))
    if args.quick and not methods:
        methods = QUICK_METHODS
    for sweep in getattr(args, "sweep", []):
        methods = expand_sweep(methods, sweep)
    return methods


def run_bench(args: argparse.Namespace) -> int:
    from playground.bench.prompts import load_prompts
    from playground.bench.report import aggregate, markdown, update_readme, write_csv, write_html
    from playground.bench.runner import Method, Runner, parse_method
    from playground.models import load_model

    methods = [Method("plain")] + [parse_method(m) for m in methods_from_args(args)]
    config = C.GenerationConfig(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed
    )
    prompts = load_prompts(args.prompts, args.per_category)
    target = load_model(args.target, device=args.device, dtype=args.dtype)
    cache: dict = {}

    def load(spec: str):
        if spec not in cache:
            cache[spec] = load_model(spec, device=target.device, dtype=target.dtype)
        return cache[spec]

    rows = Runner(target, config, load, args.repeats).run(methods, prompts)
    name = args.name or ("quick" if args.quick else "custom")
    command = "python -m playground bench " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else [])
    title = (
        f"{name}: {args.target}, {len(prompts)} prompts, {args.max_new_tokens} new tokens, "
        f"temperature {args.temperature}"
    )
    aggs = aggregate(rows)
    table = markdown(aggs, title, command.strip())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(table)
    write_csv(rows, out / f"{name}.csv")
    write_html(rows, aggs, out / f"{name}.html", title)
    if args.readme:
        update_readme(Path(__file__).resolve().parents[2] / "README.md", name, table)
    print(table)
    print(f"reports: {out}/{name}.md, .csv, .html")
    return 0
