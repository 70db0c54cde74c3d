"""Teaching views: one round's verification, token by token, and the speedup theory.

The round table shows, for every draft token, q_draft, p_target, their ratio, the
uniform draw u the sampler compared it with (Step.extra["uniforms"]) and the verdict;
after a rejection, the residual distribution's top tokens (Step.extra["residual_top"]).
The theory figures plot the expected speedup of a zero-overhead engine,
E[tokens per round](α, γ) / (γ·c + 1) (metrics.analytic_speedup with a flat verify cost).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import plotly.graph_objects as go

from playground.analysis.metrics import analytic_speedup
from playground.engine.events import Step
from playground.models.vocab import printable
from playground.ui.figures import LEG_COLORS, base_layout, is_chain

RULE = (
    "Speculative sampling accepts draft token x when u &lt; min(1, p_target(x) / q_draft(x)), "
    "u uniform in [0, 1); at the first rejection the target draws the next token from the "
    "residual norm(max(p_target − q_draft, 0)); when every token is accepted it draws a bonus "
    "token from p_target. Greedy decoding is the case p, q one-hot."
)
REFERENCE_ALPHAS = (0.6, 0.7, 0.9)
MAX_GAMMA = 16


def _fmt(values: list, i: int) -> str:
    return "–" if i >= len(values) or values[i] is None else f"{values[i]:.3f}"


def round_table(step: Step | None, sampler: str = "") -> str:
    if step is None:
        return '<div class="sl-empty">Run (or replay a trace) to inspect its rounds.</div>'
    kind = step.next_kind
    next_text = printable(step.emitted_text[-1]) if step.emitted_text else ""
    head = (
        f"<b>Round {step.index}</b>: drafted {step.num_draft_tokens}, accepted "
        f"{step.num_accepted}, then the target's <b>{html.escape(kind)}</b> token "
        f"<code>{html.escape(next_text)}</code>"
    )
    if not step.draft_tokens:
        return f'<div class="sl-teach">{head}. Plain decoding: nothing to verify.</div>'
    uniforms = step.extra.get("uniforms", []) if is_chain(step) else []
    rows = []
    for i, text in enumerate(step.draft_text):
        p = step.p_target[i] if i < len(step.p_target) else None
        q = step.q_draft[i] if i < len(step.q_draft) else None
        ratio = "–" if p is None or not q else f"{p / q:.3f}"
        reached = i < len(step.accept_probs) and step.accept_probs[i] is not None
        verdict = (
            "✓ accepted" if i in step.accepted else "✗ rejected" if reached else "· not reached"
        )
        css = "acc" if i in step.accepted else "rej" if reached else "nr"
        parent = step.draft_parents[i]
        rows.append(
            f'<tr class="sl-{css}"><td>{i}</td><td>{"root" if parent < 0 else parent}</td>'
            f"<td><code>{html.escape(printable(text))}</code></td><td>{_fmt(step.q_draft, i)}</td>"
            f"<td>{_fmt(step.p_target, i)}</td><td>{ratio}</td>"
            f"<td>{_fmt(step.accept_probs, i)}</td><td>{_fmt(uniforms, i)}</td>"
            f"<td>{verdict}</td></tr>"
        )
    table = (
        '<table class="sl-table"><tr><th>node</th><th>parent</th><th>draft token</th>'
        "<th>q_draft</th><th>p_target</th><th>p/q</th><th>accept prob</th><th>u</th>"
        f"<th>verdict</th></tr>{''.join(rows)}</table>"
    )
    which = f" (sampler {html.escape(sampler)})" if sampler else ""
    return (
        f'<div class="sl-teach"><p>{head}{which}.</p>{table}{_residual(step)}'
        f'<p class="sl-rule">{RULE}</p></div>'
    )


def _residual(step: Step) -> str:
    top = step.extra.get("residual_top") or []
    if step.next_kind != "correction" or not top:
        return ""
    texts = step.extra.get("residual_top_text") or [str(t) for t, _ in top]
    chosen = step.emitted[-1] if step.emitted else None
    items = "".join(
        f'<li class="{"sl-chosen" if int(t) == chosen else ""}"><code>'
        f"{html.escape(printable(text))}</code> {prob:.3f}"
        f'<span class="sl-bar" style="width:{max(2, int(prob * 160))}px"></span></li>'
        for (t, prob), text in zip(top, texts, strict=False)
    )
    return f"<p>Residual's top tokens (the drawn one highlighted):</p><ol>{items}</ol>"


# ---- theory -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredPoint:
    label: str
    gamma: float  # mean draft tokens per drafting round
    alpha: float  # measured acceptance rate
    speedup: float  # measured speedup against plain decoding
    cost: float | None  # measured c, when a plain run gave the forward time


@dataclass
class TheoryFigures:
    curve: go.Figure
    contour: go.Figure


def expected_speedup(alpha: float, gamma: int, cost: float) -> float:
    return analytic_speedup([alpha], cost, [1.0, 1.0], gamma)


def theory_figures(
    alpha: float, gamma: int, cost: float, measured: list[MeasuredPoint]
) -> TheoryFigures:
    return TheoryFigures(
        _curve(alpha, gamma, cost, measured), _contour(alpha, gamma, cost, measured)
    )


def _curve(alpha: float, gamma: int, cost: float, measured: list[MeasuredPoint]) -> go.Figure:
    gammas = list(range(1, max(MAX_GAMMA, gamma) + 1))
    fig = go.Figure()
    for a in (*REFERENCE_ALPHAS, alpha):
        mine = a == alpha
        ys = [expected_speedup(a, g, cost) for g in gammas]
        best = max(range(len(ys)), key=ys.__getitem__)
        fig.add_trace(
            go.Scatter(
                x=gammas,
                y=ys,
                mode="lines+markers",
                name=f"α={a:.2f}" + (" (chosen)" if mine else ""),
                line={"width": 3 if mine else 1, "color": "#111827" if mine else None},
                marker={"size": 5},
                opacity=1 if mine else 0.55,
            )
        )
        fig.add_annotation(
            x=gammas[best],
            y=ys[best],
            text=f"γ*={gammas[best]}",
            showarrow=True,
            arrowhead=2,
            ay=-22,
            font={"size": 10},
        )
    fig.add_trace(
        go.Scatter(
            x=[gamma],
            y=[expected_speedup(alpha, gamma, cost)],
            mode="markers",
            name=f"chosen γ={gamma}",
            marker={"size": 13, "symbol": "circle-open", "color": "#111827"},
        )
    )
    for k, m in enumerate(measured):
        fig.add_trace(
            go.Scatter(
                x=[m.gamma],
                y=[m.speedup],
                mode="markers",
                name=f"measured · {m.label}",
                marker={"size": 13, "symbol": "x", "color": LEG_COLORS[k % len(LEG_COLORS)]},
                hovertext=f"α={m.alpha:.2f}, γ={m.gamma:.1f}, speedup {m.speedup:.2f}×",
                hoverinfo="text",
            )
        )
    fig.add_hline(y=1, line_dash="dash", line_color="#dc2626", annotation_text="no speedup")
    fig.update_xaxes(title="draft length γ")
    fig.update_yaxes(title="speedup vs plain decoding", rangemode="tozero")
    return base_layout(fig, f"Expected speedup at c = {cost:.2f} (zero-overhead engine)", 460)


def _contour(alpha: float, gamma: int, cost: float, measured: list[MeasuredPoint]) -> go.Figure:
    alphas = [0.30 + 0.0175 * i for i in range(41)]
    costs = [0.0125 * i for i in range(41)]
    z = [[expected_speedup(a, gamma, c) for c in costs] for a in alphas]
    fig = go.Figure(
        go.Contour(
            x=costs,
            y=alphas,
            z=z,
            colorscale="Viridis",
            contours={"showlabels": True},
            colorbar={"title": {"text": "speedup"}},
            hovertemplate="c=%{x:.2f} α=%{y:.2f}: %{z:.2f}×<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[cost],
            y=[alpha],
            mode="markers",
            name="chosen",
            marker={"size": 12, "color": "white", "line": {"width": 2}},
        )
    )
    for m in measured:
        if m.cost is not None:
            fig.add_trace(
                go.Scatter(
                    x=[m.cost],
                    y=[m.alpha],
                    mode="markers",
                    name=f"measured · {m.label}",
                    marker={"size": 13, "symbol": "x", "color": "#dc2626"},
                )
            )
    fig.update_xaxes(title="cost ratio c = t_draft / t_target")
    fig.update_yaxes(title="acceptance rate α")
    return base_layout(fig, f"Expected speedup over α and c at γ = {gamma}", 380)
