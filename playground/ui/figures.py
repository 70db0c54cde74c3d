"""Plotly basics shared by every view (look, empty figure) and the draft tree of a round."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from playground.engine.events import Step
from playground.models.vocab import printable

COLORS = {
    "accepted": "#16a34a",
    "rejected": "#dc2626",
    "unreached": "#d1d5db",
    "correction": "#f59e0b",
    "bonus": "#2563eb",
    "plain": "#6b7280",
    "root": "#4b5563",
}
LEG_COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#6b7280"]


GRID = {
    "gridcolor": "#e5e7eb",
    "zerolinecolor": "#d1d5db",
    "linecolor": "#d1d5db",
    "automargin": True,
}
FONT = {"color": "#1f2937", "family": "Inter, Helvetica, Arial, sans-serif", "size": 12}


def base_layout(fig: go.Figure, title: str, height: int = 330, **kw) -> go.Figure:
    """Shared look: template "none" and a few colours (Plotly's named templates cost ~15 ms
    per figure, which slows a streaming run: they share the GIL with the engine).

    With a legend, the title becomes the legend's heading above the plot, so title, legend
    rows and plot never overlap (the legend pushes the top margin as it grows).
    """
    legend = (
        kw.pop("showlegend", True)
        and sum(1 for t in fig.data if t.name and t.showlegend is not False) >= 2
    )
    heading = {"text": f"<b>{title}</b>", "side": "top", "font": {"size": 14}}
    fig.update_layout(
        xaxis=GRID,
        yaxis=GRID,
        title=None if legend else {"text": f"<b>{title}</b>", "x": 0.01, "font": {"size": 14}},
        template="none",
        paper_bgcolor="white",
        plot_bgcolor="white",
        font=FONT,
        height=height,
        margin={"l": 55, "r": 20, "t": 10 if legend else 45, "b": 45},
        showlegend=legend,
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "title": heading},
        **kw,
    )
    return fig


def empty(title: str, message: str, height: int = 330) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 13, "color": "#6b7280"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, title, height)


# ---- the draft tree of one round ----------------------------------------------------------


def _node_state(step: Step, node: int) -> str:
    if node in step.accepted:
        return "accepted"
    reached = node < len(step.accept_probs) and step.accept_probs[node] is not None
    return "rejected" if reached else "unreached"


def _layout_tree(children: dict[int, list[int]]) -> dict[int, float]:
    """y of every node: leaves one apart in depth-first order, parents centred on children."""
    y: dict[int, float] = {}
    counter = [0]

    def place(node: int) -> float:
        kids = children.get(node, [])
        if not kids:
            y[node] = counter[0]
            counter[0] += 1
        else:
            y[node] = sum(place(k) for k in kids) / len(kids)
        return y[node]

    place(-1)
    return y


def tree_figure(step: Step | None, title: str = "Draft tree") -> go.Figure:
    if step is None:
        return empty(title, "no round yet")
    parents = list(step.draft_parents)
    n = len(parents)
    next_node = n  # the correction / bonus token, drawn as an extra child
    anchor = step.accepted[-1] if step.accepted else -1
    children: dict[int, list[int]] = {}
    for node, parent in enumerate([*parents, anchor]):
        children.setdefault(parent, []).append(node)
    y = _layout_tree(children)
    depth = {-1: 0}
    for node, parent in enumerate([*parents, anchor]):
        depth[node] = depth[parent] + 1
    fig = go.Figure()
    edge_x, edge_y = [], []
    for node, parent in enumerate([*parents, anchor]):
        edge_x += [depth[parent], depth[node], None]
        edge_y += [y[parent], y[node], None]
    fig.add_trace(
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines",
            hoverinfo="skip",
            line={"color": "#9ca3af", "width": 1.5},
            showlegend=False,
        )
    )
    groups: dict[str, list[int]] = {}
    for node in range(n):
        groups.setdefault(_node_state(step, node), []).append(node)
    uniforms = step.extra.get("uniforms", [])
    for state, nodes in groups.items():
        fig.add_trace(
            go.Scatter(
                x=[depth[i] for i in nodes],
                y=[y[i] for i in nodes],
                mode="markers+text",
                name=state,
                marker={"size": 18, "color": COLORS[state], "line": {"width": 1}},
                text=[printable(step.draft_text[i]) for i in nodes],
                textposition="top center",
                hovertext=[_node_hover(step, i, uniforms) for i in nodes],
                hoverinfo="text",
            )
        )
    kind = step.next_kind if step.next_kind in COLORS else "plain"
    next_text = printable(step.emitted_text[-1]) if step.emitted_text else ""
    fig.add_trace(
        go.Scatter(
            x=[depth[next_node]],
            y=[y[next_node]],
            mode="markers+text",
            name=kind,
            marker={"size": 18, "color": COLORS[kind], "symbol": "diamond", "line": {"width": 1}},
            text=[next_text],
            textposition="bottom center",
            hoverinfo="text",
            hovertext=[f"{kind} token {next_text!r} (drawn by the target)"],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0],
            y=[y[-1]],
            mode="markers+text",
            name="context",
            marker={"size": 16, "color": COLORS["root"]},
            text=["⟨ctx⟩"],
            textposition="top center",
            hoverinfo="skip",
        )
    )
    fig.update_xaxes(title="depth (draft position)", dtick=1, zeroline=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, f"{title} · round {step.index}", 360)


def _node_hover(step: Step, node: int, uniforms: list[float]) -> str:
    def num(values: list, i: int) -> str:
        return "–" if i >= len(values) or values[i] is None else f"{values[i]:.3f}"

    u = num(uniforms, node) if is_chain(step) else "–"
    return (
        f"{printable(step.draft_text[node])!r} (node {node})<br>q_draft {num(step.q_draft, node)}"
        f" · p_target {num(step.p_target, node)}<br>accept prob {num(step.accept_probs, node)}"
        f" · u {u}"
    )


def is_chain(step: Step) -> bool:
    """Whether the round drafted a chain (the uniform draws then line up with the nodes)."""
    return step.draft_parents == list(range(-1, len(step.draft_parents) - 1))


def finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
