"""The page in a real browser: run, watch, stop, queue, teach, compare, replay.

Screenshots land in assets/screenshots/ (look at them after a change to the layout).
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def test_a_run_shows_coloured_tokens_a_tree_and_a_speedup(open_app):
    app = open_app()
    app.shot("start.png", whole_page=True)
    app.tiny_pair()
    app.page.get_by_label("compare with plain decoding").check()
    app.set_number("sl-temperature", 1.0)
    app.page.locator("#sl-run").click()
    app.wait_status("Done")
    tokens = app.page.locator("#sl-tokens .sl-tokens .sl-tok")
    assert app.page.locator("#sl-tokens .sl-tokens .sl-accepted").count() > 0
    assert app.page.locator("#sl-tokens .sl-tokens .sl-correction").count() > 0
    assert "round" in (tokens.nth(5).get_attribute("title") or ""), "tokens carry a hover"
    app.shot("run-tokens.png")
    app.tab("Draft tree")
    assert app.page.locator("#sl-tree .js-plotly-plot").count() == 1
    assert "verdict" in app.page.locator("#sl-teach").inner_text()
    app.shot("run-tree.png")
    app.set_number("sl-round", 0)  # browse back to the first round
    app.page.wait_for_function(
        "document.querySelector('#sl-teach').innerText.includes('Round 0:')", timeout=15_000
    )
    app.tab("Speed")
    speed = app.page.locator("#sl-speed")
    assert "speedup vs plain" in speed.inner_text()
    app.shot("run-speed.png")
    app.tab("Acceptance")
    assert app.page.locator("#sl-acceptance .js-plotly-plot").count() == 1
    app.shot("run-acceptance.png")


def test_stop_mid_run_keeps_the_partial_result_and_a_new_run_works(open_app):
    app = open_app()
    app.tiny_pair()
    app.set_number("sl-step_delay", 0.3)
    app.set_number("sl-max_new_tokens", 300)
    app.page.locator("#sl-run").click()
    app.wait_status("Running")
    app.page.wait_for_function(
        "document.querySelectorAll('#sl-tokens .sl-tokens .sl-tok').length > 8", timeout=30_000
    )
    app.page.locator("#sl-stop").click()
    app.wait_status("Stopped", timeout=15)
    kept = app.page.locator("#sl-tokens .sl-tokens .sl-tok").count()
    time.sleep(1.0)
    assert app.page.locator("#sl-tokens .sl-tokens .sl-tok").count() == kept, (
        "nothing runs after Stop"
    )
    assert kept > 8, "the partial result stays on the page"
    app.shot("stopped.png")
    app.set_number("sl-step_delay", 0)
    app.set_number("sl-max_new_tokens", 20)
    app.page.locator("#sl-run").click()
    app.wait_status("Done")


def test_two_visitors_are_both_served_one_after_the_other(open_app):
    first, second = open_app(), open_app()
    for app in (first, second):
        app.tiny_pair()
        app.set_number("sl-step_delay", 0.1)
        app.set_number("sl-max_new_tokens", 40)
    first.page.locator("#sl-run").click()
    first.wait_status("Running")
    second.page.locator("#sl-run").click()
    second.page.wait_for_function(
        "document.body.innerText.toLowerCase().includes('queue')", timeout=15_000
    )
    second.shot("queued.png")
    first.wait_status("Done")
    second.wait_status("Done")


def test_teaching_mode_steps_one_round_at_a_time(open_app):
    app = open_app()
    app.tiny_pair()
    app.set_number("sl-temperature", 1.0)
    app.page.get_by_label("teaching mode").check()
    app.page.locator("#sl-run").click()
    app.wait_status("Paused")
    app.tab("Draft tree")
    for _ in range(3):
        app.page.locator("#sl-next").click()
        time.sleep(0.8)
    app.wait_status("Paused after round 2")
    table = app.page.locator("#sl-teach").inner_text()
    assert "Round 2" in table and "q_draft" in table and "u" in table
    app.shot("teaching.png")
    app.page.locator("#sl-resume").click()
    app.wait_status("Done")


def test_compare_vocabulary_theory_and_trace_replay(open_app, tmp_path):
    app = open_app()
    app.tiny_pair()
    app.tab("Compare")
    app.choose("target model (B)", "tiny:target")
    app.choose("drafter (B)", "prompt_lookup")
    app.page.locator("#sl-compare").click()
    app.wait_status("Done")
    compare = app.page.locator("#sl-compare-tokens").inner_text()
    assert "A: model" in compare and "B: prompt_lookup" in compare
    app.shot("compare.png")
    app.tab("Vocabulary")
    app.choose("drafter model (for model drafters)", "tiny:drafter-char")
    app.page.get_by_role("button", name="Compare the target").click()
    app.page.wait_for_function(
        "document.querySelector('#sl-venn')?.innerText.includes('shared')", timeout=60_000
    )
    app.shot("vocabulary.png")
    app.tab("Theory")
    assert app.page.locator("#sl-theory .js-plotly-plot").count() == 1
    app.page.get_by_role("button", name="Use the last run").click()
    app.page.get_by_text("plain-decoding reference").first.wait_for(timeout=15_000)
    app.shot("theory.png")
    app.tab("Traces")
    app.page.locator("#sl-download").click()
    link = app.page.locator("a[download]").first
    link.wait_for(timeout=30_000)
    with app.page.expect_download() as download:
        link.click()
    trace = tmp_path / "trace.json"
    download.value.save_as(trace)
    fresh = open_app()
    fresh.tab("Traces")
    fresh.page.locator("#sl-upload input[type=file]").set_input_files(str(trace))
    fresh.wait_status("replaying")
    assert fresh.page.locator("#sl-tokens .sl-tokens .sl-tok").count() > 0
    fresh.shot("replay.png")


VIEW_TABS = {  # every view tab, and a component only that tab shows
    "Tokens": "#sl-tokens",
    "Draft tree": "#sl-round",
    "Acceptance": "#sl-acceptance",
    "Speed": "#sl-speed",
    "Compare": "#sl-compare",
    "Vocabulary": "#sl-venn",
    "Theory": "#sl-theory",
    "Traces": "#sl-download",
    "Parallel schemes": "#sl-sim-run",
}


def test_every_tab_is_in_the_tab_bar_at_1400_px(open_app):
    app = open_app()  # a 1400 px wide window
    assert app.page.viewport_size["width"] == 1400
    names = app.page.get_by_role("tab").all_inner_texts()
    assert names == list(VIEW_TABS), "VIEW_TABS lists the page's tabs in order"
    assert not app.page.get_by_role("button", name="More tabs").is_visible(), (
        "no tab hides in an overflow menu: the bar wraps instead"
    )
    for name, content in reversed(VIEW_TABS.items()):  # from the last tab back to Tokens
        tab = app.page.get_by_role("tab", name=name, exact=True)
        assert tab.is_visible(), f"the {name} tab is in the tab bar"
        app.tab(name)
        app.page.locator(content).first.wait_for(state="visible", timeout=10_000)
        for other, elsewhere in VIEW_TABS.items():
            if other != name:
                assert not app.page.locator(elsewhere).first.is_visible(), (
                    f"{other}'s {elsewhere} shows while {name} is selected"
                )


def test_an_incompatible_choice_is_explained_before_run(open_app):
    app = open_app()
    app.choose("drafter", "pruned")
    app.page.wait_for_function(
        "document.querySelector('#sl-compat')?.innerText.includes('use one of')", timeout=30_000
    )


@pytest.mark.slow
def test_the_bundled_offline_pair(open_app):
    app = open_app()
    app.page.get_by_label("compare with plain decoding").check()
    app.set_number("sl-max_new_tokens", 24)
    app.page.locator("#sl-run").click()
    stage = app.wait_status("Loading", "Running", "Done", timeout=600)
    if stage.startswith("Loading"):  # the first load in this process: the stage is named
        assert "bundled:gemma-3-270m" in stage
        app.shot("loading.png")
    app.wait_status("Done", timeout=600)
    assert app.page.locator("#sl-tokens .sl-tokens .sl-tok").count() >= 24
    app.tab("Speed")
    app.shot("bundled-speed.png")
    app.tab("Vocabulary")
    app.page.get_by_role("button", name="Compare the target").click()
    app.page.wait_for_function(
        "document.querySelector('#sl-venn')?.innerText.includes('shared')", timeout=600_000
    )
    app.shot("bundled-vocabulary.png")


def test_parallel_schemes_simulate_the_last_runs_devices(open_app):
    app = open_app()
    app.tiny_pair()
    app.page.get_by_label("compare with plain decoding").check()
    app.set_number("sl-max_new_tokens", 16)
    app.page.locator("#sl-run").click()
    app.wait_status("Done")
    app.tab("Parallel schemes")
    app.page.wait_for_function(
        "document.querySelector('#sl-sim-note')?.innerText.includes('From the last run')",
        timeout=15_000,
    )
    app.page.locator("#sl-sim-scheme").get_by_text("DSI", exact=True).click()
    app.set_number("sl-servers", 3)
    app.page.locator("#sl-sim-run").click()
    app.page.wait_for_function(
        "document.querySelector('#sl-sim-numbers')?.innerText.includes('DSI, 3 target servers')",
        timeout=15_000,
    )
    rows_js = "[...document.querySelectorAll('#sl-sim-chart .ytick')].map(t => t.textContent)"
    app.page.wait_for_function(f"{rows_js}.length === 4", timeout=15_000)
    rows = app.page.evaluate(rows_js)
    assert sorted(rows) == ["drafter", "target 1", "target 2", "target 3"], rows
    assert "simulated speedup" in app.page.locator("#sl-sim-numbers").inner_text()
    app.shot("parallel.png")
    app.set_number("sl-draft_ms", 0)
    app.page.locator("#sl-sim-run").click()
    app.page.get_by_text("draft_ms must be in").first.wait_for(timeout=15_000)
    app.set_number("sl-draft_ms", 2)  # the view keeps serving after the error
    app.set_number("sl-servers", 2)
    app.page.locator("#sl-sim-run").click()
    app.page.wait_for_function(
        "document.querySelector('#sl-sim-numbers')?.innerText.includes('DSI, 2 target servers')",
        timeout=15_000,
    )
