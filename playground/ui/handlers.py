"""Handlers: plain typed functions behind every button, callable from tests without Gradio.

They raise `SpecLabError`s with readable messages; `playground.ui.wiring` turns those
into gr.Error. The run handler is a generator of `Update`s: the user's `RunRecord` and
the views drawn from it, throttled so a fast model does not flood the page (every step
still lands in the record). What the controls say before Run lives in `choices`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch

from playground import config as C
from playground.errors import ConfigError, IncompatibleError, SpecLabError
from playground.models import printable
from playground.ui import tokens
from playground.ui.inputs import RunInputs, SpecInputs
from playground.ui.record import LegRecord, RunRecord, finalize, leg_metrics, output_text
from playground.ui.record import read_traces as _read_traces
from playground.ui.record import write_traces as _write_traces
from playground.ui.teaching import TheoryFigures, theory_figures
from playground.ui.views import TheoryInputs, Views, measured_points, render
from playground.ui.vocab_view import OverlapView, overlap_data, overlap_view
from playground.worker import (
    Failed,
    Finished,
    Heartbeat,
    Job,
    LegDone,
    Loading,
    RunControl,
    StepDone,
    Worker,
)

Progress = Callable[[str, float | None], None]


class RunFailed(SpecLabError):
    """A run ended with an error that is not the user's input (out of memory, a bug)."""


def error_for(exc: BaseException) -> SpecLabError:
    if isinstance(exc, SpecLabError):
        return exc
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return RunFailed(
            "out of memory while running; lower max_new_tokens or the draft "
            "length, or choose smaller models (the model cache was emptied)"
        )
    return RunFailed(
        f"the run failed unexpectedly ({type(exc).__name__}: {exc}); "
        "the app is still running, try other settings"
    )


# ---- runs ---------------------------------------------------------------------------------


@dataclass
class Update:
    record: RunRecord
    views: Views
    loading: tuple[float | None, str] | None = None  # (fraction, stage) while loading


def new_record(job: Job, source: str) -> RunRecord:
    legs = [LegRecord(leg.label, leg.target, leg.spec.drafter is None) for leg in job.legs]
    return RunRecord(prompt=job.prompt, legs=legs, source=source, status="starting…")


def apply_event(record: RunRecord, event: object, control: RunControl | None = None) -> bool:
    """Update the record from a worker event; True when the page should change."""
    if isinstance(event, Loading):
        pct = "" if event.fraction is None else f" {event.fraction:.0%}"
        record.status = f"**Loading** `{event.model}`: {event.stage}{pct}"
    elif isinstance(event, StepDone):
        leg = record.legs[event.leg]
        leg.steps.append(event.step)
        leg.prefill_time = event.prefill_time
        record.status = f"**Running** {leg.label}: round {event.step.index}, {_count(leg)} tokens"
    elif isinstance(event, LegDone):
        record.legs[event.leg].summary = event.summary
    elif isinstance(event, Finished):
        record.finished = True
        finalize(record)
        record.status = (
            "**Stopped**; the partial result is kept"
            if event.cancelled
            else "**Done**: " + _done_line(record)
        )
    elif isinstance(event, Failed):
        record.finished = True
        finalize(record)
        record.status = f"**Failed**: {error_for(event.error)}"
    elif isinstance(event, Heartbeat):
        if control is None or not control.paused or not control.running:
            return False
        main = record.main
        where = f"after round {main.steps[-1].index}" if main and main.steps else "before round 0"
        status = f"**Paused** {where}: press *Next round* or *Resume*"
        changed, record.status = status != record.status, status
        return changed
    return True


def _count(leg: LegRecord) -> int:
    return sum(len(s.emitted) for s in leg.steps)


def _done_line(record: RunRecord) -> str:
    parts = []
    for leg in record.legs:
        m = leg_metrics(record, leg)
        speed = "" if m.speedup is None else f", {m.speedup:.2f}× vs plain"
        parts.append(
            f"{leg.label}: {m.new_tokens} tokens, τ {m.tau:.2f}, {m.tokens_per_s:.1f} tok/s{speed}"
        )
    return "; ".join(parts)


def run_stream(
    worker: Worker,
    inputs: RunInputs,
    control: RunControl | None = None,
    other: SpecInputs | None = None,
    theory: TheoryInputs | None = None,
    light_every: float = 0.15,
    heavy_every: float = 1.5,
) -> Iterator[Update]:
    """Validate, run through the worker, and yield page updates until the run ends.

    Raises ConfigError/IncompatibleError before anything loads, and the run's own error
    (after yielding the partial result) if it fails.
    """
    job = inputs.job(other)
    delay = inputs.delay()
    record = new_record(job, "compare" if other else "run")
    last_light = last_heavy = 0.0
    pending = False
    for event in worker.stream(job, control, paused=inputs.teaching, delay=delay):
        pending |= apply_event(record, event, control)
        now = time.monotonic()
        if isinstance(event, (Finished, Failed)):
            yield Update(record, render(record, None, True, theory or TheoryInputs()))
            if isinstance(event, Failed):
                raise error_for(event.error) from event.error
            return
        if isinstance(event, Loading):
            yield Update(record, render(record, None, False), (event.fraction, record.status))
            pending = False
        elif pending and (now - last_light >= light_every or isinstance(event, Heartbeat)):
            heavy = now - last_heavy >= heavy_every or isinstance(event, Heartbeat)
            yield Update(record, render(record, None, heavy))
            last_light, pending = now, False
            last_heavy = now if heavy else last_heavy


def generate(worker: Worker, inputs: RunInputs) -> dict:
    """The API's non-streaming run: text, coloured tokens and metrics as JSON."""
    job = inputs.job()
    record = new_record(job, "run")
    for event in worker.stream(job):
        apply_event(record, event)
        if isinstance(event, Failed):
            raise error_for(event.error) from event.error
    return api_result(record)


def api_result(record: RunRecord) -> dict:
    main = record.main
    metrics = [asdict(leg_metrics(record, leg)) for leg in record.legs]
    for m in metrics:
        for key, value in m.items():
            if isinstance(value, float) and math.isnan(value):
                m[key] = None
    return {
        "text": output_text(main) if main else "",
        "tokens": [
            # printable: partial UTF-8 bytes as "<0xNN>", so the JSON is valid UTF-8
            {"text": printable(text), "kind": kind, "round": s.index, "id": token}
            for s in (main.steps if main else [])
            for (kind, text, _), token in zip(tokens.token_spans(s), s.emitted, strict=True)
        ],
        "metrics": metrics,
        "status": record.status,
    }


def stop(control: RunControl | None) -> None:
    if control is not None:
        control.stop()


def after_stop(record: RunRecord | None) -> RunRecord:
    record = record or RunRecord()
    if record.legs and not record.finished:
        finalize(record)
        record.status = "**Stopped**; the partial result is kept"
    return record


# ---- traces, vocabulary, theory ------------------------------------------------------------


def download_traces(record: RunRecord | None) -> list[str]:
    return _write_traces(record or RunRecord())


def replay_traces(paths: list[str] | None) -> RunRecord:
    return _read_traces(list(paths or []))


def vocabulary(
    worker: Worker,
    target: str,
    drafter_model: str,
    sample_text: str = "",
    progress: Progress | None = None,
) -> OverlapView:
    target, drafter_model = (target or "").strip(), (drafter_model or "").strip()
    if not target or not drafter_model:
        raise ConfigError("choose a target and a drafter model to compare their vocabularies")
    t = worker.load(target, progress)
    d = worker.load(drafter_model, progress)
    return overlap_view(overlap_data(t, d, sample_text))


def theory(record: RunRecord | None, alpha: float, gamma: float, cost: float) -> TheoryFigures:
    alpha = C.THEORY_ALPHA.check(alpha)
    gamma = C.NUM_DRAFT_TOKENS.check(gamma)
    cost = C.THEORY_COST_RATIO.check(cost)
    record = record or RunRecord()
    points = measured_points([leg_metrics(record, leg) for leg in record.legs])
    return theory_figures(alpha, gamma, cost, points)


@dataclass
class Measured:
    theory: TheoryInputs
    note: str  # why a value is not the measured one ("" when all three are measured)


def measured_theory(record: RunRecord | None) -> Measured:
    """α, γ and c of the last run's main leg (c needs a plain run), for the theory sliders."""
    main = (record or RunRecord()).main
    if main is None or not any(s.draft_tokens for s in main.steps):
        raise IncompatibleError("run a speculative configuration first (plain runs draft nothing)")
    m = leg_metrics(record, main)
    cost = m.draft_cost if m.draft_cost is not None else C.THEORY_COST_RATIO.default
    gamma = max(C.NUM_DRAFT_TOKENS.low, min(C.NUM_DRAFT_TOKENS.high, round(m.mean_draft)))
    note = (
        ""
        if m.draft_cost is not None
        else (
            "c needs a plain-decoding reference: tick 'compare with plain decoding' and run again; "
            "c keeps its default"
        )
    )
    theory = TheoryInputs(m.acceptance, int(gamma), min(cost, C.THEORY_COST_RATIO.high))
    return Measured(theory, note)
