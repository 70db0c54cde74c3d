"""Plotly figures of rounds and acceptance: the draft tree, per-position acceptance,
accepted-per-round histogram and the round × position heatmap."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from playground.engine.events import Step
from playground.models.vocab import printable
from playground.ui.record import LegMetrics, LegRecord

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
HEATMAP_ROUNDS = 80


def base_layout(fig: go.Figure, title: str, height: int = 330, **kw) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}},
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 60, "b": 45},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
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


# ---- acceptance ---------------------------------------------------------------------------


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


def is_chain(step: Step) -> bool:
    """Whether the round drafted a chain (the uniform draws then line up with the nodes)."""
    return step.draft_parents == list(range(-1, len(step.draft_parents) - 1))


def finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
