"""The timeline as a Gantt chart: one row per device, bars coloured by what the work was."""

from __future__ import annotations

from playground.simulate.timeline import DRAFTER, KINDS, Segment, merged

COLOURS = {"draft": "#4c78a8", "verify": "#54a24b", "wasted": "#e45756"}


def gantt_figure(
    timeline: list[Segment],
    until: float | None = None,
    title: str = "",
    lanes: list[str] | None = None,
):
    """A plotly figure: horizontal bars (base = start, length = duration) per lane and kind.

    `until` keeps only work that starts before that time (long runs have thousands of
    segments); touching segments of one lane and kind are drawn as one bar. `lanes` are
    rows drawn even when idle (a DSI server the drafter never kept busy).
    """
    import plotly.graph_objects as go

    segments = [s for s in merged(timeline) if until is None or s.start < until]
    lanes = sorted(
        {s.lane for s in segments} | set(lanes or ()), key=lambda lane: (lane != DRAFTER, lane)
    )
    fig = go.Figure()
    idle = [lane for lane in lanes if lane not in {s.lane for s in segments}]
    if idle:  # an invisible point per idle lane keeps its row on the category axis
        fig.add_trace(
            go.Scatter(
                x=[0] * len(idle),
                y=idle,
                mode="markers",
                opacity=0,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    for kind in KINDS:
        mine = [s for s in segments if s.kind == kind]
        fig.add_trace(
            go.Bar(
                name=kind,
                orientation="h",
                y=[s.lane for s in mine],
                base=[s.start * 1000 for s in mine],
                x=[(s.end - s.start) * 1000 for s in mine],
                marker_color=COLOURS[kind],
                hovertemplate="%{y}: %{base:.1f}–%{customdata:.1f} ms<extra>" + kind + "</extra>",
                customdata=[s.end * 1000 for s in mine],
            )
        )
    fig.update_layout(
        title=title or "who does what when",
        barmode="overlay",
        xaxis_title="time (ms)",
        yaxis={"categoryorder": "array", "categoryarray": lanes[::-1]},
        height=160 + 40 * len(lanes),
        legend_orientation="h",
    )
    return fig
