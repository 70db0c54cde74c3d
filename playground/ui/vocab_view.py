"""The vocabulary-overlap view: a Venn diagram, rank buckets and a details table.

Data comes from `playground.analysis.vocab.overlap_report` (read as a plain dict, so
fields it adds later do not break the view); `basic_overlap` is the fallback when that
module is unavailable: sizes and intersection of the normalised token strings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import plotly.graph_objects as go

from playground.models.handle import ModelHandle
from playground.models.vocab import NO_TEXT
from playground.ui.figures import base_layout, empty


@dataclass
class OverlapView:
    venn: go.Figure
    ranks: go.Figure
    details: str  # markdown


def basic_overlap(target: ModelHandle, drafter: ModelHandle) -> dict[str, Any]:
    t = {s for s in target.token_strings if s != NO_TEXT}
    d = {s for s in drafter.token_strings if s != NO_TEXT}
    shared = len(t & d)
    union = len(t) + len(d) - shared
    return {
        "target": target.spec,
        "drafter": drafter.spec,
        "target_size": len(t),
        "drafter_size": len(d),
        "shared": shared,
        "jaccard": shared / union if union else 0.0,
    }


def overlap_data(target: ModelHandle, drafter: ModelHandle, sample_text: str | None) -> dict:
    try:
        from playground.analysis.vocab import overlap_report
    except ImportError:
        return basic_overlap(target, drafter)
    report = overlap_report(target, drafter, sample_text or None)
    if hasattr(report, "to_dict"):
        return report.to_dict()
    return asdict(report) if is_dataclass(report) else dict(report)


def overlap_view(data: dict[str, Any]) -> OverlapView:
    return OverlapView(venn_figure(data), rank_figure(data), details_markdown(data))


def _lens_area(r1: float, r2: float, d: float) -> float:
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a = r1**2 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    b = r2**2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    c = 0.5 * math.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return a + b - c


def _distance(r1: float, r2: float, area: float) -> float:
    """Centre distance whose lens has `area` (bisection; the lens shrinks as d grows)."""
    low, high = abs(r1 - r2), r1 + r2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _lens_area(r1, r2, mid) > area else (low, mid)
    return (low + high) / 2


def venn_figure(data: dict[str, Any]) -> go.Figure:
    """Two circles with areas proportional to the vocabularies (plotly has no Venn trace)."""
    title = "Vocabulary overlap (distinct token strings)"
    nt, nd, ns = data.get("target_size", 0), data.get("drafter_size", 0), data.get("shared", 0)
    if not nt or not nd:
        return empty(title, "no vocabulary data")
    r1, r2 = math.sqrt(nt / math.pi), math.sqrt(nd / math.pi)
    scale = 1 / max(r1, r2)
    r1, r2 = r1 * scale, r2 * scale
    d = _distance(r1, r2, ns * scale * scale)
    x1, x2 = 0.0, d
    fig = go.Figure()
    for (x, r), color in (((x1, r1), "#2563eb"), ((x2, r2), "#16a34a")):
        fig.add_shape(
            type="circle",
            x0=x - r,
            x1=x + r,
            y0=-r,
            y1=r,
            line={"color": color, "width": 2},
            fillcolor=color,
            opacity=0.25,
        )
    inner_left, inner_right = max(x1 - r1, x2 - r2), min(x1 + r1, x2 + r2)
    left = (x1 - r1 + inner_left) / 2 if inner_left > x1 - r1 else x1 - 0.6 * r1
    right = (x2 + r2 + inner_right) / 2 if x2 + r2 > inner_right else x2 + r2 + 0.2
    middle = (inner_left + inner_right) / 2
    labels = (
        (left, f"target only<br>{nt - ns:,}"),
        (middle, f"shared<br>{ns:,}"),
        (right, f"drafter only<br>{nd - ns:,}"),
    )
    for x, text in labels:
        fig.add_annotation(x=x, y=0, text=text, showarrow=False, font={"size": 12})
    fig.add_annotation(
        x=x1,
        y=r1 + 0.08,
        text=str(data.get("target", "target")),
        showarrow=False,
        font={"color": "#2563eb"},
    )
    fig.add_annotation(
        x=x2,
        y=-r2 - 0.08,
        text=str(data.get("drafter", "drafter")),
        showarrow=False,
        font={"color": "#16a34a"},
    )
    span = [min(x1 - r1, x2 - r2) - 0.1, max(x1 + r1, x2 + r2) + 0.1]
    fig.update_xaxes(visible=False, range=span)
    fig.update_yaxes(visible=False, range=[-1.2, 1.2], scaleanchor="x")
    return base_layout(fig, title, 380, showlegend=False)


def rank_figure(data: dict[str, Any]) -> go.Figure:
    title = "Shared share by target frequency rank"
    rows = data.get("by_rank") or []
    if not rows:
        return empty(title, "rank buckets need analysis.vocab's overlap report")
    labels = [r["ranks"] for r in rows]
    shared = [r.get("shared_share", 0.0) for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=shared, name="shared (exact string)", marker_color="#16a34a"))
    fig.add_trace(
        go.Bar(x=labels, y=[1 - s for s in shared], name="target only", marker_color="#d1d5db")
    )
    mass = [r.get("frequency_share", 0.0) for r in rows]
    if sum(mass) > 0:
        covered, total, line = 0.0, 0.0, []
        for r in rows:
            covered += r.get("shared_frequency_share", 0.0)
            total += r.get("frequency_share", 0.0)
            line.append(covered / total if total else None)
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=line,
                name="frequency mass covered (cumulative)",
                mode="lines+markers",
                line={"color": "#2563eb"},
            )
        )
    fig.update_xaxes(title="target-token frequency rank bucket")
    fig.update_yaxes(title="share", range=[0, 1.05])
    return base_layout(fig, title, 380, barmode="stack")


def details_markdown(data: dict[str, Any]) -> str:
    lines = [
        f"**target** `{data.get('target')}`: {data.get('target_size', 0):,} token strings · "
        f"**drafter** `{data.get('drafter')}`: {data.get('drafter_size', 0):,} · "
        f"**shared** {data.get('shared', 0):,} (Jaccard {data.get('jaccard', 0.0):.3f})",
    ]
    if data.get("mass_covered") is not None:
        lines.append(
            f"Target probability mass on shared tokens over the "
            f"{data.get('sample_tokens', 0)} prompt tokens: {data['mass_covered']:.1%}"
        )
    if data.get("by_length"):
        lines += ["", "| length | target | drafter | shared | of target |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['length']} | {r['target']:,} | {r['drafter']:,} | {r['shared']:,} | "
            f"{r['target_share']:.1%} |"
            for r in data["by_length"]
        ]
    for key in ("target_only", "drafter_only"):
        if data.get(key):
            shown = ", ".join(f"`{s}`" for s in data[key][:12] if s.strip("`"))
            lines += ["", f"**{key.replace('_', ' ')}** (most frequent first): {shown}"]
    if data.get("frequency_rule"):
        lines += ["", f"_{data['frequency_rule']}_"]
    return "\n".join(lines)
