"""The generated text as coloured tokens: accepted draft / correction / bonus / plain.

Each token is a <span> with a class per kind and a `title` (browser tooltip) naming its
round, p_target, q_draft and acceptance probability.
"""

from __future__ import annotations

import html

from playground.engine.events import Step
from playground.models.vocab import printable
from playground.ui.record import LegRecord, RunRecord

KINDS = {
    "accepted": "accepted draft token",
    "correction": "correction (drawn by the target after a rejection)",
    "bonus": "bonus (drawn by the target after a fully accepted draft)",
    "plain": "plain decoding (no draft)",
}
MAX_TOKENS_SHOWN = 4000


def legend() -> str:
    items = "".join(
        f'<span class="sl-tok sl-{kind}">{html.escape(text)}</span>' for kind, text in KINDS.items()
    )
    return f'<div class="sl-legend">{items}</div>'


def token_spans(step: Step) -> list[tuple[str, str, str]]:
    """(kind, text, tooltip) for every token a round emitted."""
    out = []
    for i, (token, text) in enumerate(zip(step.emitted, step.emitted_text, strict=False)):
        if i < step.num_accepted:
            node = step.accepted[i]
            kind = "accepted"
            tip = (
                f"round {step.index} · draft position {i + 1} · token {token}\n"
                f"p_target {_num(step.p_target, node)} · q_draft {_num(step.q_draft, node)}"
                f" · accept prob {_num(step.accept_probs, node)}"
            )
        else:
            kind = step.next_kind if step.next_kind in KINDS else "plain"
            tip = f"round {step.index} · token {token} · {KINDS[kind]}"
            if kind == "correction" and step.num_draft_tokens:
                rejected = _first_rejected(step)
                if rejected is not None:
                    tip += (
                        f"\nreplaces draft {printable(step.draft_text[rejected])!r}: "
                        f"p_target {_num(step.p_target, rejected)}, "
                        f"q_draft {_num(step.q_draft, rejected)}, "
                        f"accept prob {_num(step.accept_probs, rejected)}"
                    )
        out.append((kind, text, tip))
    return out


def _first_rejected(step: Step) -> int | None:
    for node, prob in enumerate(step.accept_probs):
        if prob is not None and node not in step.accepted:
            return node
    return None


def _num(values: list, index: int) -> str:
    if index >= len(values) or values[index] is None:
        return "–"
    return f"{values[index]:.3f}"


def _span(kind: str, text: str, tip: str) -> str:
    shown = printable(text).replace("\n", "↵")
    body = html.escape(shown) if shown.strip() else html.escape(shown).replace(" ", "&nbsp;")
    brk = "<br>" if "\n" in text else ""
    return f'<span class="sl-tok sl-{kind}" title="{html.escape(tip)}">{body}</span>{brk}'


def leg_html(prompt: str, leg: LegRecord | None, show_prompt: bool = True) -> str:
    if leg is None:
        return '<div class="sl-tokens sl-empty">Press Run to generate.</div>'
    spans = [_span(*t) for s in leg.steps for t in token_spans(s)]
    if len(spans) > MAX_TOKENS_SHOWN:
        spans = ['<span class="sl-more">…</span>', *spans[-MAX_TOKENS_SHOWN:]]
    head = ""
    if show_prompt and prompt:
        head = f'<span class="sl-prompt">{html.escape(prompt)}</span>'
    return f'<div class="sl-tokens">{head}{"".join(spans)}</div>'


def tokens_html(record: RunRecord) -> str:
    return legend() + leg_html(record.prompt, record.main)


def side_by_side_html(record: RunRecord, summaries: list[str]) -> str:
    """One column per leg (compare mode); `summaries` is a one-line metric text per leg."""
    if not record.legs:
        return '<div class="sl-empty">Run a comparison to see the legs side by side.</div>'
    cols = "".join(
        f'<div class="sl-col"><div class="sl-col-head">{html.escape(leg.label)}</div>'
        f'<div class="sl-col-sub">{html.escape(line)}</div>'
        f"{leg_html('', leg, show_prompt=False)}</div>"
        for leg, line in zip(record.legs, summaries, strict=True)
    )
    return legend() + f'<div class="sl-cols">{cols}</div>'
