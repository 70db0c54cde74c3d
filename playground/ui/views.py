"""Everything the page shows, drawn from one `RunRecord`: `render(record, ...) -> Views`.

Light views (status, tokens, metrics, the selected round) are cheap and redrawn on every
update; heavy figures only when `heavy=True` (the streaming handler asks for them about
once a second and at the end), the theory figures only when `theory` is given too;
figures left None are not sent, and the page keeps what it shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go

from playground import config as C
from playground.engine.events import Step
from playground.ui import acceptance, figures, speed, teaching, tokens
from playground.ui.record import LegMetrics, RunRecord, leg_metrics

CONVENTIONS = (
    "τ = mean tokens per target forward, bonus included (plain decoding = 1.00) · "
    "acceptance = accepted draft tokens / drafted tokens · speedup = tokens/s ÷ tokens/s of "
    "plain decoding of the same target and prompt in the same process, after a short warm-up "
    "(tick *compare with plain decoding*) · bound = speedup of a zero-overhead engine with the "
    "measured α_i and costs."
)


@dataclass(frozen=True)
class TheoryInputs:
    alpha: float = C.THEORY_ALPHA.default
    gamma: int = C.NUM_DRAFT_TOKENS.default
    cost: float = C.THEORY_COST_RATIO.default


@dataclass
class Views:
    status: str
    tokens: str
    metrics: str
    round_max: int
    round_value: int
    tree: go.Figure | None
    teach: str
    compare: str
    acceptance: go.Figure | None = None
    histogram: go.Figure | None = None
    heatmap: go.Figure | None = None
    speed: go.Figure | None = None
    split: go.Figure | None = None
    timeline: go.Figure | None = None
    theory_curve: go.Figure | None = None
    theory_contour: go.Figure | None = None


def _fmt(value: float | None, pattern: str = "{:.2f}", missing: str = "–") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return pattern.format(value)


def _wrap(label: str) -> str:
    """Let long labels break after '/' and '·' inside a table header."""
    return label.replace("/", "/\u200b").replace(" · ", " ·\u200b ")


METRIC_ROWS = (
    ("new tokens", lambda m: str(m.new_tokens)),
    ("rounds (target forwards)", lambda m: str(m.rounds)),
    ("τ (tokens per round)", lambda m: _fmt(m.tau)),
    ("acceptance rate", lambda m: _fmt(m.acceptance, "{:.1%}")),
    ("draft tokens per round", lambda m: _fmt(m.mean_draft or None, "{:.1f}")),
    ("tokens/s", lambda m: _fmt(m.tokens_per_s, "{:.1f}")),
    ("speedup vs plain", lambda m: _fmt(m.speedup, "{:.2f}×")),
    ("analytic bound", lambda m: _fmt(m.bound, "{:.2f}×")),
    ("α_i by position", lambda m: " ".join(f"{a:.2f}" for a in m.per_position[:8]) or "–"),
)


def metrics_markdown(ms: list[LegMetrics]) -> str:
    """One column per run leg, one row per metric."""
    if not ms:
        return f"No run yet.\n\n<small>{CONVENTIONS}</small>"
    rows = [
        "| | " + " | ".join(_wrap(m.label) for m in ms) + " |",
        "|---|" + "---:|" * len(ms),
    ]
    rows += [f"| {name} | " + " | ".join(get(m) for m in ms) + " |" for name, get in METRIC_ROWS]
    return "\n".join([*rows, "", f"<small>{CONVENTIONS}</small>"])


def one_line(m: LegMetrics) -> str:
    parts = [
        f"{m.new_tokens} tokens",
        f"τ {_fmt(m.tau)}",
        f"{_fmt(m.tokens_per_s, '{:.1f}')} tok/s",
    ]
    if m.per_position:
        parts.insert(2, f"acceptance {_fmt(m.acceptance, '{:.0%}')}")
    if m.speedup is not None:
        parts.append(f"{m.speedup:.2f}× vs plain")
    return " · ".join(parts)


def measured_points(ms: list[LegMetrics]) -> list[teaching.MeasuredPoint]:
    return [
        teaching.MeasuredPoint(m.label, m.mean_draft, m.acceptance, m.speedup, m.draft_cost)
        for m in ms
        if m.speedup is not None and m.mean_draft and not math.isnan(m.acceptance)
    ]


def selected_step(record: RunRecord, round_index: float | None) -> Step | None:
    leg = record.main
    if leg is None or not leg.steps:
        return None
    if round_index is None:
        return leg.steps[-1]
    return leg.steps[max(0, min(int(round_index), len(leg.steps) - 1))]


def sampler_of(record: RunRecord) -> str:
    leg = record.main
    if leg is None or leg.summary is None:
        return ""
    return str(leg.summary.config.get("sampler") or "") if not leg.plain else ""


def render(
    record: RunRecord,
    round_index: float | None = None,
    heavy: bool = True,
    theory: TheoryInputs | None = None,
) -> Views:
    ms = [leg_metrics(record, leg) for leg in record.legs]
    main = record.main
    step = selected_step(record, round_index)
    count = len(main.steps) if main else 0
    views = Views(
        status=record.status,
        tokens=tokens.tokens_html(record),
        metrics=metrics_markdown(ms),
        round_max=max(count - 1, 0),
        round_value=0 if round_index is None else max(0, min(int(round_index), count - 1)),
        tree=figures.tree_figure(step) if heavy else None,
        teach=teaching.round_table(step, sampler_of(record)),
        compare=tokens.side_by_side_html(record, [one_line(m) for m in ms]),
    )
    if round_index is None:
        views.round_value = max(count - 1, 0)
    if heavy:
        spec_ms = [m for m, leg in zip(ms, record.legs, strict=True) if not leg.plain]
        views.acceptance = acceptance.acceptance_figure(spec_ms)
        views.histogram = acceptance.histogram_figure([(leg.label, leg) for leg in record.legs])
        views.heatmap = acceptance.heatmap_figure(main)
        views.speed = speed.speed_figure(record.legs, ms)
        views.split = speed.split_figure(ms)
        views.timeline = speed.timeline_figure(record.legs)
    if heavy and theory is not None:
        figs = teaching.theory_figures(
            theory.alpha, int(theory.gamma), theory.cost, measured_points(ms)
        )
        views.theory_curve, views.theory_contour = figs.curve, figs.contour
    return views
