"""Gradio glue shared by the page's events: errors, output lists, and the small views
(controls, round browser, theory, parallel schemes, traces, vocabulary) wired to their
handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import astuple
from typing import Any

import gradio as gr

from playground import config as C
from playground.drafters import DRAFTERS
from playground.errors import SpecLabError
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES
from playground.ui import choices, handlers, parallel
from playground.ui.figures import tree_figure
from playground.ui.layout import Page
from playground.ui.record import RunRecord
from playground.ui.teaching import round_table
from playground.ui.views import TheoryInputs, Views, render, sampler_of, selected_step
from playground.worker import Worker

logger = logging.getLogger(__name__)
DEVICE = {"concurrency_limit": 1, "concurrency_id": "device"}  # one device job at a time
QUIET = {"queue": False, "api_visibility": "undocumented"}
PROGRESS = gr.Progress()  # Gradio swaps this default for a tracker bound to each call
SPEC_PARTS = (
    "target",
    "drafter",
    "drafter_model",
    "sampler",
    "schedule",
    "num_draft_tokens",
    "options",
)

try:  # on Hugging Face ZeroGPU Spaces, device work must run inside spaces.GPU
    import spaces

    gpu: Callable = spaces.GPU
except ImportError:

    def gpu(fn: Callable) -> Callable:
        return fn


def gradio_error(exc: BaseException) -> gr.Error:
    """A readable gr.Error; unexpected exceptions are logged and still explained."""
    if isinstance(exc, SpecLabError):
        return gr.Error(str(exc), title=type(exc).__name__.replace("Error", " error").strip())
    logger.exception("unexpected error in a handler")
    return gr.Error(f"unexpected {type(exc).__name__}: {exc}. The app keeps running.")


def guarded(fn: Callable) -> Callable:
    """`fn` with every exception turned into a gradio_error."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise gradio_error(exc) from exc

    return call


def theory_inputs(alpha: float, gamma: float, cost: float) -> TheoryInputs:
    return TheoryInputs(
        C.THEORY_ALPHA.check(alpha),
        C.NUM_DRAFT_TOKENS.check(gamma),
        C.THEORY_COST_RATIO.check(cost),
    )


def _fig(value: Any) -> Any:
    return gr.skip() if value is None else value


def view_outputs(page: Page, record: gr.State) -> list[Any]:
    return [
        page.status,
        page.tokens,
        page.metrics,
        page.round,
        page.tree,
        page.teach,
        page.compare,
        page.acceptance,
        page.histogram,
        page.heatmap,
        page.speed,
        page.compare_speed,
        page.split,
        page.timeline,
        page.theory_curve,
        page.theory_contour,
        record,
    ]


def view_updates(views: Views, record: RunRecord) -> list[Any]:
    """In the order of `view_outputs`; figures left None are not sent."""
    v = views
    return [
        v.status,
        v.tokens,
        v.metrics,
        gr.update(maximum=max(v.round_max, 1), value=v.round_value),
        _fig(v.tree),
        v.teach,
        v.compare,
        _fig(v.acceptance),
        _fig(v.histogram),
        _fig(v.heatmap),
        _fig(v.speed),
        _fig(v.speed),
        _fig(v.split),
        _fig(v.timeline),
        _fig(v.theory_curve),
        _fig(v.theory_contour),
        record,
    ]


def wire_controls(page: Page, worker: Worker, demo: gr.Blocks) -> None:
    """Descriptions, compatibility messages and presets, updated as the user chooses."""
    for suffix in ("", "_b"):
        for name, registry in (
            ("drafter", DRAFTERS),
            ("sampler", SAMPLERS),
            ("schedule", SCHEDULES),
        ):
            getattr(page, name + suffix).change(
                lambda v, r=registry: choices.entry_markdown(r, v),
                getattr(page, name + suffix),
                getattr(page, f"{name}_info{suffix}"),
                **QUIET,
            )
        parts = [getattr(page, n + suffix) for n in SPEC_PARTS]

        def compat(*values: Any) -> str:
            return choices.check_config(worker.cache, *values)

        for part in parts:
            part.change(compat, parts, getattr(page, "compat" + suffix), **QUIET)
        demo.load(compat, parts, getattr(page, "compat" + suffix), **QUIET)

    def preset(name: str | None) -> list[Any]:
        if not name:
            return [gr.skip()] * 4
        choice = choices.choose_preset(name)
        return [choice.target, choice.drafter, choice.drafter_model, choice.note]

    page.preset.change(
        guarded(preset),
        page.preset,
        [page.target, page.drafter, page.drafter_model, page.preset_note],
        **QUIET,
    )


def wire_round(page: Page, record: gr.State) -> None:
    def on_round(rec: RunRecord | None, index: float) -> list:
        rec = rec or RunRecord()
        step = selected_step(rec, index)
        return [tree_figure(step), round_table(step, sampler_of(rec))]

    # input: the user's drags and typing only (the live run moves the slider too)
    page.round.input(
        on_round, [record, page.round], [page.tree, page.teach], trigger_mode="always_last", **QUIET
    )


def wire_theory(page: Page, record: gr.State) -> None:
    def on_theory(rec: RunRecord | None, alpha: float, gamma: float, cost: float) -> list:
        figs = handlers.theory(rec, alpha, gamma, cost)
        return [figs.curve, figs.contour]

    def on_measured(rec: RunRecord | None) -> list:
        measured = handlers.measured_theory(rec)
        if measured.note:
            gr.Warning(measured.note)
        t = measured.theory
        return [t.alpha, t.gamma, t.cost]

    ins = [record, page.alpha, page.gamma, page.cost]
    figures = [page.theory_curve, page.theory_contour]
    for slider in (page.alpha, page.gamma, page.cost):
        slider.release(guarded(on_theory), ins, figures, **QUIET)
    # queued (not QUIET): gr.Warning toasts only reach the page from queued events
    page.use_measured.click(
        guarded(on_measured),
        record,
        [page.alpha, page.gamma, page.cost],
        api_visibility="undocumented",
    ).then(guarded(on_theory), ins, figures, **QUIET)


def wire_parallel(page: Page, record: gr.State) -> None:
    """The parallel-schemes view: opening it fills the controls from a run finished since
    the last fill (never overwriting edits otherwise) and draws the simulation."""
    filled = gr.State(None)  # run_key of the run whose numbers last filled the controls
    sim_in = page.sim_inputs()

    def on_measured(rec: RunRecord | None, *values: Any) -> list:
        defaults = parallel.simulation_defaults(rec, parallel.SimInputs(*values))
        return [*astuple(defaults.inputs), defaults.note, parallel.run_key(rec)]

    def on_open(rec: RunRecord | None, key: str | None, *values: Any) -> list:
        if parallel.run_key(rec) in (None, key):
            return [gr.skip()] * (len(sim_in) + 2)
        return on_measured(rec, *values)

    def on_simulate(*values: Any) -> list:
        view = parallel.simulate_scheme(parallel.SimInputs(*values))
        return [view.figure, view.summary]

    filling = [*sim_in, page.sim_note, filled]
    shown = [page.sim_chart, page.sim_numbers]
    page.parallel_tab.select(guarded(on_open), [record, filled, *sim_in], filling, **QUIET).then(
        guarded(on_simulate), sim_in, shown, **QUIET
    )
    page.sim_measured.click(guarded(on_measured), [record, *sim_in], filling, **QUIET).then(
        guarded(on_simulate), sim_in, shown, **QUIET
    )
    # queued (not QUIET), so a bad input's gr.Error reaches the page as a toast
    page.sim_run.click(guarded(on_simulate), sim_in, shown, api_visibility="undocumented")


def wire_traces(page: Page, record: gr.State, theory_in: list) -> None:
    def on_upload(files: list[str] | None, alpha: float, gamma: float, cost: float) -> list:
        rec = handlers.replay_traces(files)
        return view_updates(render(rec, None, True, theory_inputs(alpha, gamma, cost)), rec)

    page.download.click(
        guarded(handlers.download_traces), record, page.trace_files, api_visibility="undocumented"
    )
    page.upload.upload(
        guarded(on_upload),
        [page.upload, *theory_in],
        view_outputs(page, record),
        api_visibility="undocumented",
    )


def wire_vocabulary(page: Page, worker: Worker) -> None:
    @gpu
    def on_vocab(
        target: str, drafter_model: str, prompt: str, progress: gr.Progress = PROGRESS
    ) -> list:
        def report(stage: str, fraction: float | None) -> None:
            progress(fraction, desc=f"loading: {stage}")

        try:
            view = handlers.vocabulary(worker, target, drafter_model, prompt, report)
        except Exception as exc:
            raise gradio_error(exc) from exc
        return [view.venn, view.ranks, view.details]

    page.vocab_run.click(
        on_vocab,
        [page.target, page.drafter_model, page.prompt],
        [page.venn, page.ranks, page.vocab_details],
        api_name="vocabulary",
        **DEVICE,
    )
