"""`build_demo()`: the handlers (handlers.py) and layout (layout.py), wired together.

Per-user data (the run record, the pause/stop control) lives in gr.State; the one shared
object is the `Worker` with its model cache. Device work (runs, comparisons, vocabulary,
the API) shares one queue slot: `concurrency_limit=1, concurrency_id="device"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from playground import config as C
from playground.ui import handlers
from playground.ui.inputs import RunInputs, SpecInputs, spec_inputs
from playground.ui.layout import Page, build_layout
from playground.ui.record import RunRecord
from playground.ui.views import render
from playground.ui.wiring import (
    DEVICE,
    PROGRESS,
    QUIET,
    gpu,
    gradio_error,
    theory_inputs,
    view_outputs,
    view_updates,
    wire_controls,
    wire_parallel,
    wire_round,
    wire_theory,
    wire_traces,
    wire_vocabulary,
)
from playground.worker import RunControl, Worker

CSS_PATH = Path(__file__).resolve().parents[2] / "assets" / "ui.css"
NUM_SPEC_FIELDS = len(SpecInputs.__dataclass_fields__)


def launch_kwargs() -> dict[str, Any]:
    """theme, css and footer go to launch() in Gradio 6."""
    css = CSS_PATH.read_text(encoding="utf-8") if CSS_PATH.exists() else ""
    return {
        "theme": gr.themes.Soft(primary_hue="blue"),
        "css": css,
        "footer_links": ["api", "gradio", "settings"],
    }


def stream_views(worker: Worker, values: tuple, compare: bool, progress: gr.Progress) -> Iterator:
    """The run/compare event: values are the run inputs, [B's spec inputs], the control
    and the three theory sliders, in the order `build_demo` lists them."""
    n = len(RunInputs.names())
    inputs = RunInputs.from_values(values[:n])
    other = spec_inputs(values[n : n + NUM_SPEC_FIELDS]) if compare else None
    control, alpha, gamma, cost = values[-4:]
    try:
        theory = theory_inputs(alpha, gamma, cost)
        for update in handlers.run_stream(worker, inputs, control, other, theory):
            if update.loading is not None:
                progress(update.loading[0], desc=update.loading[1])
            yield view_updates(update.views, update.record)
    except Exception as exc:
        raise gradio_error(exc) from exc


def wire_runs(page: Page, worker: Worker, control: gr.State, record: gr.State) -> None:
    """Run, compare, stop, pause, next round, resume."""
    theory_in = [page.alpha, page.gamma, page.cost]
    outputs = view_outputs(page, record)
    shown = {"show_progress_on": [page.status, page.tokens]}

    def on_run(progress: gr.Progress = PROGRESS, *values: Any) -> Iterator:
        yield from stream_views(worker, values, False, progress)

    def on_compare(progress: gr.Progress = PROGRESS, *values: Any) -> Iterator:
        yield from stream_views(worker, values, True, progress)

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
        return view_updates(render(rec, None, True, theory_inputs(alpha, gamma, cost)), rec)

    # Stop signals this user's worker thread at once; `cancels` also drops a run still
    # waiting in the queue and closes the streaming generator (its finally stops the job).
    page.stop.click(handlers.stop, control, None, cancels=[run_ev, compare_ev], **QUIET).then(
        after_stop, [record, *theory_in], outputs, **QUIET
    )
    page.pause.click(lambda c: c.pause(), control, None, **QUIET)
    page.next_round.click(lambda c: c.step(), control, None, **QUIET)
    page.resume.click(lambda c: c.resume(), control, None, **QUIET)


def wire_api(worker: Worker) -> None:
    d = RunInputs()

    @gpu
    def generate(
        prompt: str,
        target: str = d.target,
        drafter: str = d.drafter,
        drafter_model: str = d.drafter_model,
        sampler: str = d.sampler,
        schedule: str = d.schedule,
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


def build_demo(worker: Worker | None = None) -> gr.Blocks:
    worker = worker or Worker()
    with gr.Blocks(title="SpecLab") as demo:
        page = build_layout()
        control = gr.State(RunControl())  # deep-copied per visitor: a fresh control each
        record = gr.State(None)  # the visitor's RunRecord
        wire_runs(page, worker, control, record)
        wire_round(page, record)
        wire_theory(page, record)
        wire_parallel(page, record)
        wire_traces(page, record, [page.alpha, page.gamma, page.cost])
        wire_vocabulary(page, worker)
        wire_controls(page, worker, demo)
        wire_api(worker)
    return demo
