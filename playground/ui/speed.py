"""Plotly figures of speed: tokens/s over time, where the time went, and a round timeline.

Times are the engine's own measurements (Step draft/verify/sample times plus prefill),
so the app's watching delay and the browser never enter them.
"""

from __future__ import annotations

import plotly.graph_objects as go

from playground.ui.figures import LEG_COLORS, base_layout, empty, finite
from playground.ui.record import LegMetrics, LegRecord

ROLLING_ROUNDS = 8
TIMELINE_ROUNDS = 16
PHASES = (("draft", "#facc15"), ("verify", "#2563eb"), ("accept + commit", "#f87171"))


def speed_figure(legs: list[LegRecord], metrics: list[LegMetrics]) -> go.Figure:
    title = "Tokens/s over time"
    if not any(leg.steps for leg in legs):
        return empty(title, "no tokens yet")
    fig = go.Figure()
    for k, (leg, m) in enumerate(zip(legs, metrics, strict=True)):
        if not leg.steps:
            continue
        color = LEG_COLORS[k % len(LEG_COLORS)]
        times, tokens = [leg.prefill_time], [0]
        for s in leg.steps:
            times.append(times[-1] + s.wall_time)
            tokens.append(tokens[-1] + len(s.emitted))
        rolling = []
        for i in range(1, len(times)):
            j = max(0, i - ROLLING_ROUNDS)
            span = times[i] - times[j]
            rolling.append((tokens[i] - tokens[j]) / span if span > 0 else None)
        fig.add_trace(
            go.Scatter(
                x=times[1:],
                y=rolling,
                mode="lines",
                name=leg.label,
                line={"color": color, "width": 2},
                hovertemplate="%{x:.2f} s · %{y:.1f} tok/s<extra></extra>",
            )
        )
        if finite(m.tokens_per_s):
            fig.add_trace(
                go.Scatter(
                    x=[0, times[-1]],
                    y=[m.tokens_per_s] * 2,
                    mode="lines",
                    showlegend=False,
                    line={"color": color, "dash": "dash", "width": 1},
                    hoverinfo="skip",
                )
            )
    faster = [m for m in metrics if m.speedup is not None]
    if len(faster) == 1:
        title += f" · speedup vs plain {faster[0].speedup:.2f}×"
    elif faster:  # compare mode: legs are labelled "A: …", "B: …"
        title += " · speedup vs plain " + ", ".join(
            f"{m.label.split(':')[0]} {m.speedup:.2f}×" for m in faster
        )
    fig.update_xaxes(title="engine time (s), prefill included", rangemode="tozero")
    fig.update_yaxes(
        title=f"tokens/s (last {ROLLING_ROUNDS} rounds; dashed: run)", rangemode="tozero"
    )
    return base_layout(fig, title)


def split_figure(metrics: list[LegMetrics]) -> go.Figure:
    title = "Where the time went"
    metrics = [m for m in metrics if m.rounds]
    if not metrics:
        return empty(title, "no rounds yet", 220)
    fig = go.Figure()
    parts = (
        ("prefill", "#9ca3af", "prefill_time"),
        ("draft", PHASES[0][1], "draft_time"),
        ("verify", PHASES[1][1], "verify_time"),
        ("accept + commit", PHASES[2][1], "overhead_time"),
    )
    for name, color, attr in parts:
        values = [getattr(m, attr) for m in metrics]
        totals = [m.prefill_time + m.draft_time + m.verify_time + m.overhead_time for m in metrics]
        fig.add_trace(
            go.Bar(
                y=[m.label for m in metrics],
                x=values,
                name=name,
                orientation="h",
                marker_color=color,
                text=[
                    f"{v / t:.0%}" if t and v / t > 0.06 else ""
                    for v, t in zip(values, totals, strict=True)
                ],
                textposition="inside",
                hovertemplate="%{x:.3f} s<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title="seconds")
    return base_layout(fig, title, 120 + 45 * len(metrics), barmode="stack")


def timeline_figure(legs: list[LegRecord]) -> go.Figure:
    """Gantt of the first rounds of each leg after prefill: horizontal bars with base=."""
    title = f"Timeline of the first {TIMELINE_ROUNDS} rounds (after prefill)"
    legs = [leg for leg in legs if leg.steps]
    if not legs:
        return empty(title, "no rounds yet", 220)
    fig = go.Figure()
    for name, color in PHASES:
        ys, xs, bases, texts = [], [], [], []
        for leg in legs:
            start = 0.0
            for s in leg.steps[:TIMELINE_ROUNDS]:
                spans = {
                    "draft": s.draft_time,
                    "verify": s.verify_time,
                    "accept + commit": s.sample_time,
                }
                offset = {
                    "draft": 0.0,
                    "verify": s.draft_time,
                    "accept + commit": s.draft_time + s.verify_time,
                }[name]
                ys.append(leg.label)
                bases.append((start + offset) * 1000)
                xs.append(spans[name] * 1000)
                texts.append(
                    f"round {s.index}: {name} {spans[name] * 1000:.1f} ms, "
                    f"{len(s.emitted)} token(s)"
                )
                start += s.wall_time
        fig.add_trace(
            go.Bar(
                y=ys,
                x=xs,
                base=bases,
                orientation="h",
                name=name,
                marker={"color": color, "line": {"width": 0.5, "color": "#111"}},
                hovertext=texts,
                hoverinfo="text",
            )
        )
    fig.update_xaxes(title="wall-clock (ms)")
    return base_layout(fig, title, 140 + 45 * len(legs), barmode="overlay")
