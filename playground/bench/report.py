"""Benchmark reports: the markdown table the README shows, a CSV, and an HTML page.

Aggregate tokens/s is total new tokens / total seconds over the prompt set; speedup is
that over plain decoding's; "min" is the lowest per-prompt speedup.
"""

from __future__ import annotations

import csv
import platform
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from playground.bench.runner import Row


@dataclass
class Aggregate:
    method: str
    prompts: int
    tokens: int
    seconds: float
    tokens_per_s: float
    speedup: float
    min_speedup: float
    tau: float | None
    acceptance: float | None
    greedy_equal: str
    bound: float | None
    # Quality against the target's own output (rows carry it when any method is lossy).
    lossy: bool = False
    agree_prefix: float | None = None
    agree_overall: float | None = None
    log_likelihood: float | None = None
    accuracy: str = "—"


def aggregate(rows: list[Row], plain_label: str = "plain") -> list[Aggregate]:
    methods = list(dict.fromkeys(r.method for r in rows))
    plain_rows = [r for r in rows if r.method == plain_label]
    plain_tps = sum(r.new_tokens for r in plain_rows) / sum(r.seconds for r in plain_rows)
    plain_seconds = {r.prompt_id: r.seconds for r in plain_rows}
    out = []
    for method in methods:
        mine = [r for r in rows if r.method == method]
        tokens, seconds = sum(r.new_tokens for r in mine), sum(r.seconds for r in mine)
        equal = [r.greedy_equal for r in mine if r.greedy_equal is not None]
        out.append(
            Aggregate(
                method=method,
                prompts=len(mine),
                tokens=tokens,
                seconds=seconds,
                tokens_per_s=tokens / seconds,
                speedup=tokens / seconds / plain_tps,
                min_speedup=min(r.speedup for r in mine),
                tau=_mean([r.tau for r in mine]),
                acceptance=_mean([r.acceptance for r in mine]),
                greedy_equal=f"{sum(equal)}/{len(equal)}" if equal else "—",
                bound=_aggregate_bound(mine, plain_seconds),
                **_quality(mine),
            )
        )
    return out


def _aggregate_bound(rows: list[Row], plain_seconds: dict[str, float]) -> float | None:
    """Plain time / zero-overhead time over the prompts, like the aggregate speedup."""
    bounded = [r for r in rows if r.bound and r.prompt_id in plain_seconds]
    if not bounded:
        return None
    plain = sum(plain_seconds[r.prompt_id] for r in bounded)
    return plain / sum(plain_seconds[r.prompt_id] / r.bound for r in bounded)


def _quality(rows: list[Row]) -> dict:
    hits = [r.reference_hit for r in rows if r.reference_hit is not None]
    return {
        "lossy": any(r.lossy for r in rows),
        "agree_prefix": _mean([r.agree_prefix for r in rows]),
        "agree_overall": _mean([r.agree_overall for r in rows]),
        "log_likelihood": _mean([r.log_likelihood for r in rows]),
        "accuracy": f"{sum(hits)}/{len(hits)}" if hits else "—",
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def markdown(aggs: list[Aggregate], title: str, command: str) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"**{title}** — {when}; {machine()}",
        f"`{command}`",
        "",
        "| method | prompts | tok/s | speedup | min | τ | accept | greedy = plain | bound "
        "| of bound |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in aggs:
        lines.append(
            f"| {a.method} | {a.prompts} | {a.tokens_per_s:.2f} | {a.speedup:.2f}x | "
            f"{a.min_speedup:.2f}x | {_fmt(a.tau)} | {_fmt(a.acceptance)} | {a.greedy_equal} | "
            f"{_fmt(a.bound, suffix='x')} | {_share(a.speedup, a.bound)} |"
        )
    if any(a.lossy for a in aggs):
        lines += ["", *quality_table(aggs)]
    return "\n".join(lines) + "\n"


def _share(speedup: float, bound: float | None) -> str:
    return f"{100 * speedup / bound:.0f}%" if bound else "—"


def quality_table(aggs: list[Aggregate]) -> list[str]:
    """Markdown lines: each method's quality against the target's own output."""
    lines = [
        "Quality against the target (`playground.analysis.quality`): agreement with plain "
        "greedy up to the first difference and overall, the target's mean log-likelihood of "
        "the output (nats/token), reference answers found.",
        "",
        "| method | lossless | speedup | agree ≤ 1st diff | agree overall | log-lik | accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in aggs:
        lines.append(
            f"| {a.method} | {'no' if a.lossy else 'yes'} | {a.speedup:.2f}x | "
            f"{_fmt(a.agree_prefix)} | {_fmt(a.agree_overall)} | "
            f"{_fmt(a.log_likelihood, 3)} | {a.accuracy} |"
        )
    return lines


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


def write_html(rows: list[Row], aggs: list[Aggregate], path: Path, title: str) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("speedup by category", "τ vs tokens/s"))
    categories = list(dict.fromkeys(r.category for r in rows))
    for agg in aggs:
        mine = [r for r in rows if r.method == agg.method]
        by_cat = [_mean([r.speedup for r in mine if r.category == c]) for c in categories]
        fig.add_trace(go.Bar(name=agg.method, x=categories, y=by_cat), row=1, col=1)
        fig.add_trace(
            go.Scatter(
                name=agg.method,
                x=[r.tau for r in mine],
                y=[r.tokens_per_s for r in mine],
                mode="markers",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.update_layout(title=title, barmode="group", height=500)
    html = fig.to_html(include_plotlyjs="inline", full_html=True)
    if any(a.lossy for a in aggs):
        curve = quality_figure(aggs).to_html(include_plotlyjs=False, full_html=False)
        html = html.replace("</body>", curve + "</body>")
    path.write_text(html)


def quality_figure(aggs: list[Aggregate]):
    """Speed against quality, one point per method (a `--sweep` gives a curve)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for lossy in (False, True):
        mine = [a for a in aggs if a.lossy == lossy and a.agree_overall is not None]
        fig.add_trace(
            go.Scatter(
                x=[a.speedup for a in mine],
                y=[a.agree_overall for a in mine],
                text=[a.method for a in mine],
                mode="markers+text",
                textposition="top center",
                name="lossy" if lossy else "lossless",
            )
        )
    fig.update_layout(
        title="speed vs agreement with plain greedy",
        height=500,
        xaxis_title="speedup over plain",
        yaxis_title="agreement with greedy (overall)",
    )
    return fig


def update_readme(readme: Path, key: str, table: str) -> None:
    """Replace the block between `<!-- bench:KEY -->` and `<!-- /bench:KEY -->`."""
    text = readme.read_text()
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start}\n{table}{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    )
    readme.write_text(text)
