"""`python -m playground.simulate {parallel,threads}`: the parallel-scheme figures.

parallel: simulated tokens/s of plain, SD, PEARL and DSI with 1…N target servers, from a
  recorded trace (`--trace t.json`: its latencies and accept/reject sequence) or from
  latencies measured now on a target/drafter pair (`--target`, `--drafter-model`) with
  i.i.d. acceptance `--alpha`. Writes a markdown table and an HTML page (speedup curves,
  and Gantt charts of the first `--gantt-ms` of SD, PEARL and DSI).
threads: real two-thread PEARL against sequential SD with the same drafter
  (`overlap.compare_overlap`), and the Gantt chart of the measured threaded run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from playground.simulate.gantt import gantt_figure
from playground.simulate.replay import TraceWorkload, replay, workload_from_trace
from playground.simulate.timeline import SimResult
from playground.simulate.workload import IIDAcceptance

logger = logging.getLogger(__name__)


def parallel_results(workload: TraceWorkload, servers: int, alphas: list[float], lookahead: int):
    """{α: {scheme label: SimResult}}; the trace's own α replays its outcome sequence."""
    from playground.simulate.dsi import simulate_dsi
    from playground.simulate.pearl import simulate_pearl
    from playground.simulate.sd import simulate_plain, simulate_sd

    lat, tokens = workload.latencies, max(workload.tokens, 2000)
    out: dict[float, dict[str, SimResult]] = {}
    for alpha in alphas:
        if workload.outcomes and alpha == workload.alpha:
            runs = {"sd": replay(workload, "sd", lookahead=lookahead)}
            runs["pearl"] = replay(workload, "pearl")
            for n in range(1, servers + 1):
                runs[f"dsi/{n}"] = replay(workload, "dsi", servers=n, lookahead=lookahead)
        else:
            runs = {"sd": simulate_sd(lat, IIDAcceptance(alpha), tokens, lookahead, alpha)}
            runs["pearl"] = simulate_pearl(lat, IIDAcceptance(alpha), tokens, alpha=alpha)
            for n in range(1, servers + 1):
                runs[f"dsi/{n}"] = simulate_dsi(
                    lat, IIDAcceptance(alpha), tokens, lookahead, n, alpha=alpha
                )
        out[alpha] = {"plain": simulate_plain(lat, tokens), **runs}
    return out


def parallel_table(results: dict) -> str:
    lines = ["| α | scheme | tok/s | speedup | expected tok/s |", "|---|---|---|---|---|"]
    for alpha, runs in results.items():
        plain = runs["plain"].tokens_per_s
        for label, r in runs.items():
            expected = f"{r.expected_tokens_per_s:.2f}" if r.expected_tokens_per_s else "—"
            lines.append(
                f"| {alpha:.2f} | {label} | {r.tokens_per_s:.2f} | "
                f"{r.tokens_per_s / plain:.2f}x | {expected} |"
            )
    return "\n".join(lines) + "\n"


def parallel_html(results: dict, path: Path, gantt_ms: float, title: str) -> None:
    import plotly.graph_objects as go

    curves = go.Figure()
    for alpha, runs in results.items():
        plain = runs["plain"].tokens_per_s
        dsi = [k for k in runs if k.startswith("dsi/")]
        curves.add_trace(
            go.Scatter(
                x=[int(k.split("/")[1]) for k in dsi],
                y=[runs[k].tokens_per_s / plain for k in dsi],
                name=f"DSI, α={alpha:.2f}",
                mode="lines+markers",
            )
        )
        for label, dash in (("sd", "dot"), ("pearl", "dash")):
            curves.add_hline(
                y=runs[label].tokens_per_s / plain,
                line_dash=dash,
                annotation_text=f"{label.upper()}, α={alpha:.2f}",
            )
    curves.update_layout(
        title=title, xaxis_title="target servers", yaxis_title="speedup over plain", height=500
    )
    parts = [curves.to_html(include_plotlyjs="inline", full_html=False)]
    runs = next(iter(results.values()))
    dsi = [k for k in runs if k.startswith("dsi/")]
    for label in ("sd", "pearl", "dsi/4" if "dsi/4" in dsi else dsi[-1]):
        fig = gantt_figure(runs[label].timeline, until=gantt_ms / 1000, title=f"{label} timeline")
        parts.append(fig.to_html(include_plotlyjs=False, full_html=False))
    path.write_text("<html><body>" + "\n".join(parts) + "</body></html>")


def cmd_parallel(args: argparse.Namespace) -> int:
    if args.trace:
        workload = workload_from_trace(args.trace)
        source = f"trace {args.trace}"
    else:
        workload = measured_workload(args)
        source = f"measured {args.target} + {args.drafter_model}"
    alphas = [float(a) for a in args.alpha.split(",")] if args.alpha else [workload.alpha]
    lookahead = args.lookahead or workload.mean_draft_length
    results = parallel_results(workload, args.servers, alphas, lookahead)
    lat = workload.latencies
    title = (
        f"{source}: drafter {lat.draft * 1e3:.1f} ms/token, target forward(1) "
        f"{lat.forward(1) * 1e3:.1f} ms, forward({lookahead + 1}) "
        f"{lat.forward(lookahead + 1) * 1e3:.1f} ms, lookahead {lookahead}"
    )
    table = f"**{title}**\n\n" + parallel_table(results)
    sys.stdout.write(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parallel.md").write_text(table)
    parallel_html(results, out / "parallel.html", args.gantt_ms, title)
    return 0


def measured_workload(args: argparse.Namespace) -> TraceWorkload:
    import torch

    from playground.bench.prompts import load_prompts
    from playground.models import load_model
    from playground.simulate.measure import measured_latencies

    torch.set_num_threads(args.threads)
    target, drafter = load_model(args.target), load_model(args.drafter_model)
    prompt = load_prompts("quick")[0].prompt
    lat = measured_latencies(target, drafter, target.encode(prompt), drafter.encode(prompt))
    return TraceWorkload(lat, [], [], 0, None, 0.5)


def cmd_threads(args: argparse.Namespace) -> int:
    from playground.__main__ import parse_options
    from playground.bench.prompts import load_prompts
    from playground.config import SpecConfig
    from playground.models import load_model
    from playground.simulate.overlap import compare_overlap

    target = load_model(args.target)
    spec = SpecConfig(
        drafter=args.drafter,
        drafter_model=args.drafter_model,
        sampler=args.sampler,
        num_draft_tokens=args.num_draft_tokens,
        options=parse_options(args.option),
    )
    prompts = [p.prompt for p in load_prompts(args.prompts, args.per_category)]
    waits = tuple(int(w) for w in args.min_drafts.split(","))
    rows, last = compare_overlap(
        target, spec, prompts, args.max_new_tokens, load_model, args.repeats, min_drafts=waits
    )
    lines = ["| config | tok/s | τ | drafts kept | = plain greedy |", "|---|---|---|---|---|"]
    for r in rows:
        tau = f"{r.tau:.2f}" if r.tau else "—"
        kept = f"{r.kept:.2f}" if r.kept is not None else "—"
        lines.append(f"| {r.config} | {r.tokens_per_s:.2f} | {tau} | {kept} | {r.equal_to_plain} |")
    sys.stdout.write("\n".join(lines) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "threads.md").write_text("\n".join(lines) + "\n")
    fig = gantt_figure(last.timeline, title="threaded PEARL, measured (last prompt)")
    (out / "threads.html").write_text(fig.to_html(include_plotlyjs="inline"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.simulate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    par = sub.add_parser("parallel", help="simulated DSI / PEARL / SD speedups")
    par.add_argument("--trace", default=None, help="a speclab trace (JSON) to replay")
    par.add_argument("--target", default="bundled:gemma-3-270m")
    par.add_argument("--drafter-model", default="bundled:smollm2-135m-instruct")
    par.add_argument("--alpha", default=None, help="comma-separated i.i.d. acceptance rates")
    par.add_argument("--servers", type=int, default=8, help="DSI with 1 … this many servers")
    par.add_argument("--lookahead", type=int, default=None, help="SD/DSI draft length")
    par.add_argument("--threads", type=int, default=1, help="torch threads when measuring")
    par.add_argument("--gantt-ms", type=float, default=1500.0)
    par.add_argument("--out", default="simulate-out")
    thr = sub.add_parser("threads", help="real two-thread PEARL vs sequential SD")
    thr.add_argument("--target", default="tiny:target")
    thr.add_argument("--drafter", default="model")
    thr.add_argument("--drafter-model", default=None)
    thr.add_argument("--sampler", default="greedy")
    thr.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    thr.add_argument("--num-draft-tokens", type=int, default=4)
    thr.add_argument("--prompts", default="quick")
    thr.add_argument("--per-category", type=int, default=None)
    thr.add_argument("--max-new-tokens", type=int, default=32)
    thr.add_argument("--repeats", type=int, default=3)
    thr.add_argument("--min-drafts", default="0", help="comma-separated PEARL waits (0: never)")
    thr.add_argument("--out", default="simulate-out")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return cmd_parallel(args) if args.command == "parallel" else cmd_threads(args)


if __name__ == "__main__":
    sys.exit(main())
