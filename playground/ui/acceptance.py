"""Plotly figures of acceptance: per-position acceptance, accepted draft tokens per
round, and the round × draft-position heatmap."""

from __future__ import annotations

import plotly.graph_objects as go

from playground.engine.events import Step
from playground.ui.figures import COLORS, LEG_COLORS, base_layout, empty
from playground.ui.record import LegMetrics, LegRecord

HEATMAP_ROUNDS = 80


def acceptance_figure(legs: list[LegMetrics]) -> go.Figure:
    title = "Per-position acceptance"
    legs = [m for m in legs if m.per_position]
    if not legs:
        return empty(title, "no draft tokens yet (plain decoding drafts nothing)")
    fig = go.Figure()
    for k, m in enumerate(legs):
        color = LEG_COLORS[k % len(LEG_COLORS)]
        positions = list(range(1, len(m.per_position) + 1))
        survive, cumulative = 1.0, []
        for alpha in m.per_position:
            survive *= alpha
            cumulative.append(survive)
        fig.add_trace(
            go.Bar(
                x=positions,
                y=m.per_position,
                name=f"α_i · {m.label}",
                marker_color=color,
                opacity=0.75,
                text=[f"{a:.2f}" for a in m.per_position],
                textposition="outside",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=positions,
                y=cumulative,
                mode="lines+markers",
                name=f"P(position i accepted) · {m.label}",
                line={"color": color, "dash": "dot"},
            )
        )
    fig.update_xaxes(title="draft position i", dtick=1)
    fig.update_yaxes(title="rate", range=[0, 1.15])
    return base_layout(fig, title, barmode="group")


def histogram_figure(legs: list[tuple[str, LegRecord]]) -> go.Figure:
    title = "Draft tokens accepted per round"
    legs = [(label, leg) for label, leg in legs if any(s.draft_tokens for s in leg.steps)]
    if not legs:
        return empty(title, "no draft tokens yet")
    fig = go.Figure()
    for k, (label, leg) in enumerate(legs):
        counts = [s.num_accepted for s in leg.steps if s.draft_tokens]
        top = max(counts)
        share = [counts.count(c) / len(counts) for c in range(top + 1)]
        color = LEG_COLORS[k % len(LEG_COLORS)]
        fig.add_trace(
            go.Bar(x=list(range(top + 1)), y=share, name=label, marker_color=color, opacity=0.75)
        )
        mean = sum(counts) / len(counts)
        fig.add_vline(
            x=mean,
            line_dash="dash",
            line_color=color,
            annotation_text=f"mean {mean:.2f}",
            annotation_position="top",
        )
    fig.update_xaxes(title="draft tokens accepted in the round", dtick=1)
    fig.update_yaxes(title="share of rounds")
    return base_layout(fig, title, barmode="group")


def _row(step: Step) -> list[float | None]:
    depths: list[int] = []
    for parent in step.draft_parents:
        depths.append(1 if parent < 0 else depths[parent] + 1)
    width = max(depths)
    row: list[float | None] = []
    for d in range(1, width + 1):
        if d <= step.num_accepted:
            row.append(1.0)
        elif d == step.num_accepted + 1 and step.next_kind == "correction":
            row.append(0.0)
        else:
            row.append(0.5)
    return row


def heatmap_figure(leg: LegRecord | None) -> go.Figure:
    title = f"Rounds × draft position (last {HEATMAP_ROUNDS} rounds)"
    steps = [s for s in (leg.steps if leg else []) if s.draft_tokens][-HEATMAP_ROUNDS:]
    if not steps:
        return empty(title, "no draft tokens yet")
    rows = [_row(s) for s in steps]
    width = max(len(r) for r in rows)
    z = [r + [None] * (width - len(r)) for r in rows]
    scale = [
        [0, COLORS["rejected"]],
        [0.33, COLORS["rejected"]],
        [0.34, COLORS["unreached"]],
        [0.66, COLORS["unreached"]],
        [0.67, COLORS["accepted"]],
        [1, COLORS["accepted"]],
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(1, width + 1)),
            y=[s.index for s in steps],
            zmin=0,
            zmax=1,
            colorscale=scale,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="round %{y} · position %{x}<extra></extra>",
        )
    )
    fig.update_xaxes(
        title="draft position (green accepted, red rejected, grey not reached)", dtick=1
    )
    fig.update_yaxes(title="round", autorange="reversed")
    height = max(260, min(600, 60 + 8 * len(steps)))
    return base_layout(fig, title, height)
