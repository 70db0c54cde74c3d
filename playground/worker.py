"""Background job runner for the app: model cache, one device job at a time, stop/pause.

The UI never loads or runs a model on its own thread. `Worker.stream(job)` starts a
thread that loads the models a job needs (through the shared `ModelCache`), runs each of
its legs through `Engine.stream`, and reports `Loading`, `StepDone`, `LegDone` and finally
`Finished` or `Failed` events; the caller iterates them as they arrive. Closing the
iterator stops the thread within one round (or at the next loading stage).

`ModelCache` (playground/worker_cache.py) is the one object shared by every visitor, on
purpose: loaded models are kept (least recently used first out, within a memory budget),
so switching sampler or seed does not reload. Everything per user (`RunControl`, the run
record) lives in that user's session.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.engine.events import RunSummary, Step
from playground.errors import SpecLabError
from playground.models.handle import ModelHandle
from playground.worker_cache import ModelCache, model_bytes  # noqa: F401  (model_bytes re-exported)

logger = logging.getLogger(__name__)


class Cancelled(SpecLabError):
    """The run was stopped by its user."""


# ---- per-user controls ---------------------------------------------------------------------


class Gate:
    """Where a job's thread waits between rounds: stop, pause, single steps, a delay.

    A run paused for `pause_limit` seconds stops, so one idle visitor cannot hold the
    device (and everyone queued behind it) forever.
    """

    pause_limit = 600.0

    def __init__(self, control: RunControl | None = None, delay: float = 0.0):
        self._control = control
        self._cond = control._cond if control else threading.Condition()
        self.delay = delay
        self.cancelled = False

    def cancel(self) -> None:
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled("stopped")

    def wait_turn(self) -> None:
        """Before a round: wait while paused (a single step lets one round through)."""
        control = self._control
        deadline = time.monotonic() + self.pause_limit
        with self._cond:
            while control and control.paused and not control.credits and not self.cancelled:
                if time.monotonic() > deadline:
                    self.cancelled = True
                    raise Cancelled(f"paused for more than {self.pause_limit:.0f} s; stopped")
                self._cond.wait(0.5)
            if control and control.paused and control.credits:
                control.credits -= 1
        self.check()

    def rest(self) -> None:
        """After a round: the watching delay, cut short by a stop."""
        deadline = time.monotonic() + self.delay
        with self._cond:
            while not self.cancelled and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
        self.check()


class RunControl:
    """One user's pause / next round / resume / stop buttons; kept in that user's gr.State."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.paused = False
        self.credits = 0  # rounds allowed through while paused
        self._gate: Gate | None = None

    def __deepcopy__(self, memo: dict) -> RunControl:
        return RunControl()  # every session gets its own, never a copy of the locks

    def begin(self, paused: bool = False, delay: float = 0.0) -> Gate:
        """A new run: stops the previous one of this user, if any."""
        self.stop()
        with self._cond:
            self.paused, self.credits = paused, 0
            self._gate = Gate(self, delay)
            return self._gate

    def stop(self) -> None:
        if self._gate is not None:
            self._gate.cancel()

    def pause(self) -> None:
        self._set(paused=True)

    def resume(self) -> None:
        self._set(paused=False)

    def step(self) -> None:
        """Let one more round through, pausing first if the run was going."""
        with self._cond:
            self.paused = True
            self.credits += 1
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        return self._gate is not None and not self._gate.cancelled

    def _set(self, paused: bool) -> None:
        with self._cond:
            self.paused, self.credits = paused, 0
            self._cond.notify_all()


# ---- jobs and their events -----------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One engine run of a job: a target, a SpecConfig (drafter None = plain decoding)."""

    label: str
    target: str
    spec: SpecConfig
    config: GenerationConfig


@dataclass(frozen=True)
class Job:
    prompt: str
    legs: tuple[Leg, ...]
    warm_up: bool = False  # a few untimed tokens of every leg first (for fair speedups)


@dataclass
class Loading:
    leg: int
    model: str
    stage: str
    fraction: float | None


@dataclass
class StepDone:
    leg: int
    step: Step
    prefill_time: float


@dataclass
class LegDone:
    leg: int
    summary: RunSummary


@dataclass
class Heartbeat:
    """Nothing happened for a while (paused, or a slow load); lets the caller yield."""


@dataclass
class Finished:
    cancelled: bool


@dataclass
class Failed:
    error: BaseException


Event = Loading | StepDone | LegDone | Heartbeat | Finished | Failed


class Worker:
    """Runs jobs on a background thread, one device job at a time."""

    def __init__(self, cache: ModelCache | None = None):
        self.cache = cache or ModelCache()
        self._device = threading.Lock()

    def stream(
        self,
        job: Job,
        control: RunControl | None = None,
        paused: bool = False,
        delay: float = 0.0,
        heartbeat: float = 0.5,
    ) -> Iterator[Event]:
        gate = control.begin(paused, delay) if control else Gate(delay=delay)
        events: queue.Queue[Event] = queue.Queue()
        thread = threading.Thread(
            target=self._run, args=(job, gate, events.put), name="speclab-job", daemon=True
        )
        thread.start()
        try:
            while True:
                try:
                    event = events.get(timeout=heartbeat)
                except queue.Empty:
                    yield Heartbeat()
                    continue
                yield event
                if isinstance(event, (Finished, Failed)):
                    return
        finally:
            gate.cancel()

    def load(self, spec: str, progress: Callable[[str, float | None], None] | None = None):
        """A model from the cache, loading it under the device lock if needed."""
        with self._device:
            return self.cache.get(spec, progress)

    def _run(self, job: Job, gate: Gate, emit: Callable[[Event], None]) -> None:
        try:
            with self._device:
                if job.warm_up:
                    self._warm_up(job, gate, emit)
                for index, leg in enumerate(job.legs):
                    self._run_leg(job.prompt, index, leg, gate, emit)
        except Exception as exc:  # the thread must always report how it ended
            if gate.cancelled or isinstance(exc, Cancelled):
                emit(Finished(cancelled=True))
            else:
                if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
                    self.cache.clear()
                logger.debug("job failed", exc_info=True)
                emit(Failed(exc))
        else:
            emit(Finished(cancelled=gate.cancelled))

    def _engine(self, index: int, leg: Leg, gate: Gate, emit: Callable[[Event], None]):
        def progress_for(spec: str) -> Callable[[str, float | None], None]:
            def progress(stage: str, fraction: float | None) -> None:
                gate.check()  # raising here aborts the load
                emit(Loading(index, spec, stage, fraction))

            return progress

        def load(spec: str) -> ModelHandle:
            return self.cache.get(spec, progress_for(spec), keep=(leg.target,))

        target = self.cache.get(leg.target, progress_for(leg.target))
        return build_engine(target, leg.spec, leg.config, load=load, label=leg.label)

    def _run_leg(self, prompt: str, index: int, leg: Leg, gate: Gate, emit) -> None:
        from playground.analysis.metrics import summarize

        engine = self._engine(index, leg, gate, emit)
        steps: list[Step] = []
        stream = engine.stream(prompt)
        try:
            while True:
                gate.wait_turn()
                step = next(stream, None)
                if step is None:
                    break
                annotate(step, engine.target)
                steps.append(step)
                emit(StepDone(index, step, engine.prefill_time))
                gate.rest()
        finally:
            stream.close()
            if steps:
                summary = summarize(engine, prompt, steps)
                summary.stop_reason = summary.stop_reason or "stopped"
                emit(LegDone(index, summary))

    def _warm_up(self, job: Job, gate: Gate, emit) -> None:
        for index, leg in enumerate(job.legs):
            short = replace(leg.config, max_new_tokens=min(4, leg.config.max_new_tokens))
            engine = self._engine(index, replace(leg, config=short), gate, emit)
            for _ in engine.stream(job.prompt):
                gate.check()


def annotate(step: Step, target: ModelHandle) -> None:
    """Add the text of the residual's top tokens, so teaching views and traces need no model."""
    top = step.extra.get("residual_top")
    if top and "residual_top_text" not in step.extra:
        strings = target.token_strings
        step.extra["residual_top_text"] = [
            strings[int(t)] if 0 <= int(t) < len(strings) else "" for t, _ in top
        ]
