"""`build_demo()`: the handlers (handlers.py) and layout (layout.py), wired together.

Per-user data (the run record, the pause/stop control) lives in gr.State; the one shared
object is the `Worker` with its model cache. Device work (runs, comparisons, vocabulary,
the API) shares one queue slot: `concurrency_limit=1, concurrency_id="device"`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from playground import config as C
from playground.drafters import DRAFTERS
from playground.errors import SpecLabError
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES
from playground.ui import handlers
from playground.ui.figures import tree_figure
from playground.ui.inputs import RunInputs, spec_inputs
from playground.ui.layout import Page, build_layout
from playground.ui.record import RunRecord
from playground.ui.teaching import round_table
from playground.ui.views import TheoryInputs, Views, render, sampler_of, selected_step
from playground.worker import RunControl, Worker

logger = logging.getLogger(__name__)
CSS_PATH = Path(__file__).resolve().parents[2] / "assets" / "ui.css"
DEVICE = {"concurrency_limit": 1, "concurrency_id": "device"}
QUIET = {"queue": False, "api_visibility": "undocumented"}
# Gradio swaps this default for a tracker bound to each call.
PROGRESS = gr.Progress()

try:  # on Hugging Face ZeroGPU Spaces, device work must run inside spaces.GPU
    import spaces

    gpu: Callable = spaces.GPU
except ImportError:

    def gpu(fn: Callable) -> Callable:
        return fn


def launch_kwargs() -> dict[str, Any]:
    """theme/css/footer go to launch() in Gradio 6."""
    css = CSS_PATH.read_text(encoding="utf-8") if CSS_PATH.exists() else ""
    return {
        "theme": gr.themes.Soft(primary_hue="blue"),
        "css": css,
        "footer_links": ["api", "gradio", "settings"],
    }


def gradio_error(exc: BaseException) -> gr.Error:
    if isinstance(exc, SpecLabError):
        return gr.Error(str(exc), title=type(exc).__name__.replace("Error", " error").strip())
    logger.exception("unexpected error in a handler")
    return gr.Error(f"unexpected {type(exc).__name__}: {exc}. The app keeps running.")


def _fig(value: Any) -> Any:
    return gr.skip() if value is None else value


def view_updates(views: Views, record: RunRecord) -> list[Any]:
    """In the order of `view_outputs`."""
    return [
        views.status,
        views.tokens,
        views.metrics,
        gr.update(maximum=max(views.round_max, 1), value=views.round_value),
        views.tree,
        views.teach,
        views.compare,
        _fig(views.acceptance),
        _fig(views.histogram),
        _fig(views.heatmap),
        _fig(views.speed),
        _fig(views.speed),
        _fig(views.split),
        _fig(views.timeline),
        _fig(views.theory_curve),
        _fig(views.theory_contour),
        record,
    ]


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


def _theory(alpha: float, gamma: float, cost: float) -> TheoryInputs:
    return TheoryInputs(
        C.THEORY_ALPHA.check(alpha),
        C.NUM_DRAFT_TOKENS.check(gamma),
        C.THEORY_COST_RATIO.check(cost),
    )


def _stream(worker: Worker, values: tuple, compare: bool, progress: gr.Progress) -> Iterator:
    n = len(RunInputs.names())
    inputs = RunInputs.from_values(values[:n])
    other = spec_inputs(values[n : n + 7]) if compare else None
    control, alpha, gamma, cost = values[-4:]
    try:
        theory = _theory(alpha, gamma, cost)
        for update in handlers.run_stream(worker, inputs, control, other, theory):
            if update.loading is not None:
                progress(update.loading[0], desc=update.loading[1])
            yield view_updates(update.views, update.record)
    except Exception as exc:
        raise gradio_error(exc) from exc


def wire_controls(page: Page, worker: Worker, demo: gr.Blocks) -> None:
    """Descriptions, compatibility messages and presets, updated as the user chooses."""
    for suffix in ("", "_b"):

        def get(name: str, s: str = suffix) -> Any:
            return getattr(page, name + s)

        for name, registry in (
            ("drafter", DRAFTERS),
            ("sampler", SAMPLERS),
            ("schedule", SCHEDULES),
        ):
            get(name).change(
                lambda v, r=registry: handlers.entry_markdown(r, v),
                get(name),
                get(f"{name}_info"),
                **QUIET,
            )
        parts = [
            get(n)
            for n in (
                "target",
                "drafter",
                "drafter_model",
                "sampler",
                "schedule",
                "num_draft_tokens",
                "options",
            )
        ]

        def compat(*values: Any) -> str:
            return handlers.check_config(worker.cache, *values)

        for part in parts:
            part.change(compat, parts, get("compat"), **QUIET)
        demo.load(compat, parts, get("compat"), **QUIET)

    def preset(name: str | None) -> list[Any]:
        if not name:
            return [gr.skip()] * 4
        try:
            choice = handlers.choose_preset(name)
        except SpecLabError as exc:
            raise gradio_error(exc) from exc
        return [choice.target, choice.drafter, choice.drafter_model, choice.note]

    page.preset.change(
        preset,
        page.preset,
        [page.target, page.drafter, page.drafter_model, page.preset_note],
        **QUIET,
    )


def build_demo(worker: Worker | None = None) -> gr.Blocks:
    worker = worker or Worker()
    with gr.Blocks(title="SpecLab") as demo:
        page = build_layout()
        control = gr.State(RunControl())
        record = gr.State(None)
        theory_in = [page.alpha, page.gamma, page.cost]
        outputs = view_outputs(page, record)
        shown = {"show_progress_on": [page.status, page.tokens]}

        def on_run(progress: gr.Progress = PROGRESS, *values: Any) -> Iterator:
            yield from _stream(worker, values, False, progress)

        def on_compare(progress: gr.Progress = PROGRESS, *values: Any) -> Iterator:
            yield from _stream(worker, values, True, progress)

        run_ev = page.run.click(
            gpu(on_run),
            [*page.run_inputs(), control, *theory_in],
            outputs,
            api_name="run",
            **DEVICE,
            **shown,
        )
        compare_ev = page.compare_run.click(
            gpu(on_compare),
            [*page.run_inputs(), *page.spec_inputs_b(), control, *theory_in],
            outputs,
            api_name="compare",
            **DEVICE,
            **shown,
        )

        def after_stop(rec: RunRecord | None, alpha: float, gamma: float, cost: float) -> list:
            rec = handlers.after_stop(rec)
            return view_updates(render(rec, None, True, _theory(alpha, gamma, cost)), rec)

        page.stop.click(handlers.stop, control, None, cancels=[run_ev, compare_ev], **QUIET).then(
            after_stop, [record, *theory_in], outputs, **QUIET
        )
        page.pause.click(lambda c: c.pause(), control, None, **QUIET)
        page.next_round.click(lambda c: c.step(), control, None, **QUIET)
        page.resume.click(lambda c: c.resume(), control, None, **QUIET)

        def on_round(rec: RunRecord | None, index: float) -> list:
            step = selected_step(rec or RunRecord(), index)
            return [tree_figure(step), round_table(step, sampler_of(rec or RunRecord()))]

        page.round.release(on_round, [record, page.round], [page.tree, page.teach], **QUIET)
        wire_theory(page, record)
        wire_traces(page, record, outputs, theory_in)
        wire_vocabulary(page, worker)
        wire_controls(page, worker, demo)

        @gpu
        def generate(
            prompt: str,
            target: str = RunInputs.target,
            drafter: str = RunInputs.drafter,
            drafter_model: str = RunInputs.drafter_model,
            sampler: str = RunInputs.sampler,
            schedule: str = RunInputs.schedule,
            num_draft_tokens: int = C.NUM_DRAFT_TOKENS.default,
            max_new_tokens: int = C.MAX_NEW_TOKENS.default,
            temperature: float = C.TEMPERATURE.default,
            top_p: float = C.TOP_P.default,
            top_k: int = C.TOP_K.default,
            seed: int = C.SEED.default,
            options: str = "",
            compare_plain: bool = False,
        ) -> dict:
            """Run one generation; returns the text, each token's kind and the metrics."""
            inputs = RunInputs(
                target,
                drafter,
                drafter_model,
                sampler,
                schedule,
                num_draft_tokens,
                options,
                temperature=temperature,
                top_p=top_p,
                top_k=top_k,
                seed=seed,
                max_new_tokens=max_new_tokens,
                prompt=prompt,
                compare_plain=compare_plain,
            )
            try:
                return handlers.generate(worker, inputs)
            except Exception as exc:
                raise gradio_error(exc) from exc

        gr.api(generate, api_name="generate", **DEVICE)
    return demo


def wire_theory(page: Page, record: gr.State) -> None:
    def on_theory(rec: RunRecord | None, alpha: float, gamma: float, cost: float) -> list:
        try:
            figs = handlers.theory(rec, alpha, gamma, cost)
        except SpecLabError as exc:
            raise gradio_error(exc) from exc
        return [figs.curve, figs.contour]

    ins = [record, page.alpha, page.gamma, page.cost]
    for s in (page.alpha, page.gamma, page.cost):
        s.release(on_theory, ins, [page.theory_curve, page.theory_contour], **QUIET)

    def on_measured(rec: RunRecord | None) -> list:
        try:
            t = handlers.measured_theory(rec)
        except SpecLabError as exc:
            raise gradio_error(exc) from exc
        return [t.alpha, t.gamma, t.cost]

    page.use_measured.click(on_measured, record, [page.alpha, page.gamma, page.cost], **QUIET).then(
        on_theory, ins, [page.theory_curve, page.theory_contour], **QUIET
    )


def wire_traces(page: Page, record: gr.State, outputs: list, theory_in: list) -> None:
    def on_download(rec: RunRecord | None) -> list[str]:
        try:
            return handlers.download_traces(rec)
        except SpecLabError as exc:
            raise gradio_error(exc) from exc

    page.download.click(on_download, record, page.trace_files, api_visibility="undocumented")

    def on_upload(files: list[str] | None, alpha: float, gamma: float, cost: float) -> list:
        try:
            rec = handlers.replay_traces(files)
            return view_updates(render(rec, None, True, _theory(alpha, gamma, cost)), rec)
        except SpecLabError as exc:
            raise gradio_error(exc) from exc

    page.upload.upload(on_upload, [page.upload, *theory_in], outputs, api_visibility="undocumented")


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
