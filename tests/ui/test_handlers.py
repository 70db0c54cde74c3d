"""The app's handlers as plain functions on the tiny fixture models (no browser)."""

from __future__ import annotations

import threading
import time

import pytest

from playground.errors import ConfigError, IncompatibleError, ModelLoadError, PromptError
from playground.ui import choices, handlers
from playground.ui.inputs import SpecInputs, parse_options
from playground.ui.views import render
from playground.worker import RunControl


def run_all(worker, inputs, **kw):
    return list(handlers.run_stream(worker, inputs, RunControl(), **kw))


def test_a_run_streams_coloured_tokens_and_ends_with_every_view(worker, make_inputs):
    updates = run_all(worker, make_inputs(compare_plain=True))
    assert len(updates) >= 2, "a run yields while it streams and once at the end"
    final = updates[-1]
    record, views = final.record, final.views
    assert record.finished and record.status.startswith("**Done**")
    assert [leg.plain for leg in record.legs] == [False, True], "the plain leg comes last"
    assert "sl-accepted" in views.tokens or "sl-bonus" in views.tokens
    assert "sl-correction" in views.tokens, "a random tiny pair disagrees at least once"
    for name in (
        "acceptance",
        "histogram",
        "heatmap",
        "speed",
        "split",
        "timeline",
        "theory_curve",
        "theory_contour",
    ):
        assert getattr(views, name) is not None, f"the final update draws {name}"
    main = record.main
    assert main.summary is not None and main.summary.speedup is not None, (
        "with a plain leg the summary carries a measured speedup"
    )
    assert views.round_max == len(main.steps) - 1 == views.round_value


def test_every_step_reaches_the_record_even_when_yields_are_throttled(worker, make_inputs):
    updates = run_all(worker, make_inputs(max_new_tokens=30), light_every=10.0)
    record = updates[-1].record
    emitted = sum(len(s.emitted) for s in record.main.steps)
    assert emitted == record.main.summary.new_tokens, "no step is lost between yields"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"temperature": 99}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 2.5}, "whole number"),
        ({"seed": "seven"}, "seed"),
        ({"num_draft_tokens": 65}, "num_draft_tokens"),
        ({"step_delay": 5}, "step_delay"),
        ({"options": "no equals sign"}, "key=value"),
        ({"sampler": "nonsense"}, "unknown sampler"),
        ({"drafter_model": ""}, "needs a drafter model"),
    ],
)
def test_out_of_range_inputs_are_refused_before_anything_loads(
    worker, make_inputs, overrides, match
):
    with pytest.raises(ConfigError, match=match):
        next(handlers.run_stream(worker, make_inputs(**overrides)))


def test_empty_prompt_is_refused(worker, make_inputs):
    with pytest.raises(PromptError, match="empty"):
        next(handlers.run_stream(worker, make_inputs(prompt="   ")))


def test_prompt_beyond_the_context_is_a_readable_error(worker, make_inputs):
    with pytest.raises(PromptError, match="context"):
        list(handlers.run_stream(worker, make_inputs(max_new_tokens=8000)))


def test_unknown_model_is_a_readable_error(worker, make_inputs):
    with pytest.raises(ModelLoadError, match="no such file"):
        list(handlers.run_stream(worker, make_inputs(target="./no/such/model")))


def test_incompatible_parts_are_explained_before_run(worker, make_inputs):
    message = choices.check_config(
        worker.cache, "tiny:target", "pruned", "", "speculative", "heuristic"
    )
    assert message.startswith("⚠") and "use one of" in message
    message = choices.check_config(
        worker.cache, "tiny:target", "model", "tiny:drafter-char", "speculative", "heuristic"
    )
    assert "another tokenizer" in message, "the preset says this pair has two vocabularies"
    fits = choices.check_config(
        worker.cache, "tiny:target", "model", "tiny:drafter", "speculative", "heuristic"
    )
    assert fits.startswith("✓")
    with pytest.raises(IncompatibleError):
        next(handlers.run_stream(worker, make_inputs(drafter="pruned")))


def test_stop_ends_a_run_within_one_step_and_keeps_the_partial_result(worker, make_inputs):
    control = RunControl()
    stream = handlers.run_stream(
        worker, make_inputs(max_new_tokens=200, step_delay=0.05), control, light_every=0.0
    )
    seen = 0
    for update in stream:
        seen = len(update.record.main.steps)
        if seen >= 3:
            control.stop()
            break
    final = list(stream)[-1]
    steps = len(final.record.main.steps)
    assert seen <= steps <= seen + 1, f"stopped after {steps} rounds, {seen} seen at the stop"
    assert final.record.status.startswith("**Stopped**")
    assert final.record.main.summary.stop_reason == "stopped"


def test_closing_the_stream_releases_the_device(worker, make_inputs):
    stream = handlers.run_stream(
        worker, make_inputs(max_new_tokens=200, step_delay=0.05), RunControl(), light_every=0.0
    )
    next(u for u in stream if u.record.main and u.record.main.steps)
    stream.close()  # what Gradio does when the Stop button cancels the event
    started = time.monotonic()
    assert run_all(worker, make_inputs(max_new_tokens=4))[-1].record.finished
    assert time.monotonic() - started < 30


def test_teaching_mode_pauses_steps_one_round_and_resumes(worker, make_inputs):
    control = RunControl()
    stream = handlers.run_stream(worker, make_inputs(teaching=True, max_new_tokens=12), control)
    paused = next(u for u in stream if u.record.status.startswith("**Paused**"))
    assert "before round 0" in paused.record.status and not paused.record.legs[0].steps
    control.step()
    after = next(u for u in stream if u.record.status.startswith("**Paused**"))
    assert len(after.record.main.steps) == 1, "Next round lets exactly one round through"
    assert "<th>u</th>" in after.views.teach and "verdict" in after.views.teach
    control.resume()
    assert list(stream)[-1].record.finished


def test_round_table_shows_uniform_draws_and_the_residual(worker, make_inputs):
    record = run_all(worker, make_inputs(max_new_tokens=40))[-1].record
    step = next(s for s in record.main.steps if s.extra.get("residual_top"))
    table = render(record, step.index).teach
    assert "✗ rejected" in table and "Residual" in table
    assert f"{step.extra['uniforms'][0]:.3f}" in table


def test_compare_mode_runs_two_configurations_side_by_side(worker, make_inputs):
    other = SpecInputs(target="tiny:target", drafter="prompt_lookup", sampler="speculative")
    final = run_all(worker, make_inputs(max_new_tokens=16), other=other)[-1]
    labels = [leg.label for leg in final.record.legs]
    assert labels[0].startswith("A: model") and labels[1].startswith("B: prompt_lookup")
    assert all(label in final.views.compare for label in labels)
    assert len(final.views.speed.data) >= 2, "both legs on one speed chart"


def test_traces_download_and_replay_without_models(worker, make_inputs, tmp_path):
    record = run_all(worker, make_inputs(compare_plain=True))[-1].record
    paths = handlers.download_traces(record)
    assert len(paths) == 2
    replay = handlers.replay_traces(paths)
    assert replay.source == "trace" and [leg.plain for leg in replay.legs] == [False, True]
    assert render(replay).tokens == render(record).tokens
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable SpecLab trace"):
        handlers.replay_traces([str(bad)])
    with pytest.raises(ConfigError, match="run a generation first"):
        handlers.download_traces(None)


def test_api_generate_returns_text_tokens_and_metrics(worker, make_inputs):
    result = handlers.generate(worker, make_inputs(max_new_tokens=10))
    assert result["text"] and len(result["tokens"]) == 10
    assert {t["kind"] for t in result["tokens"]} <= {"accepted", "correction", "bonus", "plain"}
    assert result["metrics"][0]["tau"] >= 1.0


def test_vocabulary_overlap_of_a_cross_tokenizer_pair(worker):
    view = handlers.vocabulary(worker, "tiny:target", "tiny:drafter-char", "The little robot")
    circles = [s for s in view.venn.layout.shapes if s.type == "circle"]
    assert len(circles) == 2
    assert "shared" in view.details
    with pytest.raises(ConfigError):
        handlers.vocabulary(worker, "tiny:target", "")


def test_theory_view_and_measured_point(worker, make_inputs):
    figs = handlers.theory(None, 0.8, 4, 0.1)
    assert len(figs.curve.data) >= 4 and figs.contour.data[0].type == "contour"
    with pytest.raises(ConfigError, match="alpha"):
        handlers.theory(None, 1.5, 4, 0.1)
    with pytest.raises(IncompatibleError):
        handlers.measured_theory(None)
    record = run_all(worker, make_inputs(compare_plain=True))[-1].record
    measured = handlers.measured_theory(record)
    assert 0 <= measured.theory.alpha <= 1 and measured.theory.gamma >= 1
    assert measured.note == "", "with a plain leg, c is measured too"
    alone = run_all(worker, make_inputs())[-1].record
    assert "plain-decoding reference" in handlers.measured_theory(alone).note
    assert any(
        "measured" in (t.name or "") for t in handlers.theory(record, 0.8, 4, 0.1).curve.data
    )


def test_failures_inside_the_worker_become_readable_errors(make_inputs):
    from playground.worker import ModelCache, Worker

    def out_of_memory(spec, progress=None):
        raise MemoryError

    broken = Worker(ModelCache(loader=out_of_memory))
    with pytest.raises(handlers.RunFailed, match="out of memory"):
        list(handlers.run_stream(broken, make_inputs()))


def test_a_run_stopped_during_model_loading_ends_cleanly(make_inputs):
    from playground.worker import Finished, ModelCache, Worker

    loading = threading.Event()

    def slow_loader(spec, progress=None):
        for _ in range(200):
            loading.set()
            progress("dequantise", None)  # raises once the run is stopped
            time.sleep(0.01)
        raise AssertionError("the load should have been aborted")

    control = RunControl()
    worker = Worker(ModelCache(loader=slow_loader))
    job = make_inputs().job()
    events = worker.stream(job, control)
    for _event in events:
        if loading.is_set():
            control.stop()
            break
    last = list(events)[-1]
    assert isinstance(last, Finished) and last.cancelled


def test_options_parse_numbers_and_json():
    assert parse_options("keep_fraction=0.25, layers=6; tree=static") == {
        "keep_fraction": 0.25,
        "layers": 6,
        "tree": "static",
    }
    assert parse_options('{"a": 1}') == {"a": 1}
    assert parse_options("") == {}


def test_presets_fill_the_pair():
    choice = choices.choose_preset("Test fixture: tiny target + tiny drafter")
    assert (choice.target, choice.drafter, choice.drafter_model) == (
        "tiny:target",
        "model",
        "tiny:drafter",
    )
    with pytest.raises(ConfigError):
        choices.choose_preset("no such preset")
