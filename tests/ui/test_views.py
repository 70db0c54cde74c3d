"""Views drawn from records: token colours, the draft tree, registries listed as they are."""

from __future__ import annotations

import gradio as gr

from playground.engine.events import Step
from playground.samplers import SAMPLERS
from playground.ui.figures import tree_figure
from playground.ui.record import LegRecord, RunRecord
from playground.ui.tokens import tokens_html
from playground.ui.views import render


def rejected_round() -> Step:
    return Step(
        index=0,
        draft_tokens=[5, 6, 7],
        draft_parents=[-1, 0, 1],
        draft_text=["a", "b", "c"],
        q_draft=[0.9, 0.8, 0.7],
        p_target=[0.9, 0.1, 0.5],
        accept_probs=[1.0, 0.125, None],
        accepted=[0],
        emitted=[5, 9],
        emitted_text=["a", "<z>"],
        next_kind="correction",
        extra={"uniforms": [0.3, 0.5], "residual_top": [[9, 0.6], [4, 0.2]]},
    )


def test_tokens_are_coloured_by_kind_with_a_hover():
    record = RunRecord(prompt="say", legs=[LegRecord("m", steps=[rejected_round()])])
    html = tokens_html(record)
    assert 'class="sl-tok sl-accepted" title="round 0 · draft position 1' in html
    assert "sl-correction" in html and "&lt;z&gt;" in html, "token text is escaped"
    assert "replaces draft &#x27;b&#x27;" in html


def test_tree_colours_accepted_rejected_and_unreached_nodes():
    fig = tree_figure(rejected_round())
    by_name = {t.name: t for t in fig.data if t.name}
    assert list(by_name["accepted"].text) == ["a"]
    assert list(by_name["rejected"].text) == ["b"]
    assert list(by_name["unreached"].text) == ["c"]
    assert list(by_name["correction"].text) == ["<z>"]


def test_round_browsing_clamps_to_existing_rounds():
    steps = [rejected_round(), rejected_round()]
    steps[1].index = 1
    record = RunRecord(legs=[LegRecord("m", steps=steps)])
    assert render(record, 7, heavy=False).round_value == 1
    assert render(record, None, heavy=False).round_value == 1
    assert render(RunRecord(), None).status == ""


def test_a_newly_registered_sampler_is_listed_with_no_ui_change():
    from playground.ui import build_demo

    SAMPLERS.register(
        "ui_test_rule",
        summary="a rule registered by a test",
        lossless=False,
        follows="nothing in particular",
    )(object)
    try:
        demo = build_demo()
        choices = [
            c.choices
            for c in demo.blocks.values()
            if isinstance(c, gr.Dropdown) and c.label == "sampler"
        ]
        assert choices and all(("ui_test_rule", "ui_test_rule") in c for c in choices)
    finally:
        del SAMPLERS._entries["ui_test_rule"]
