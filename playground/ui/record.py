"""What one user's page holds: the legs of the last run (or of replayed traces).

A `RunRecord` lives in the user's gr.State. It is filled from worker events while a run
streams, or from trace files, and every view is drawn from it, so a replayed trace looks
exactly like a live run. `leg_metrics` computes the numbers the views show from Steps
alone (metric definitions: `playground.analysis.metrics`).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from playground.analysis import metrics
from playground.engine.events import RunSummary, Step, read_trace, write_trace
from playground.errors import ConfigError


@dataclass
class LegRecord:
    label: str
    target: str = ""
    plain: bool = False  # plain decoding (no drafter): the speed reference
    steps: list[Step] = field(default_factory=list)
    summary: RunSummary | None = None
    prefill_time: float = 0.0


@dataclass
class RunRecord:
    prompt: str = ""
    legs: list[LegRecord] = field(default_factory=list)
    source: str = "run"  # "run", "compare" or "trace"
    status: str = ""
    finished: bool = False

    @property
    def main(self) -> LegRecord | None:
        """The leg the single-run views show: the first speculative one, else the first."""
        return next(
            (leg for leg in self.legs if not leg.plain), self.legs[0] if self.legs else None
        )

    def plain_for(self, leg: LegRecord) -> LegRecord | None:
        """The plain-decoding leg of the same target, the reference for speedups."""
        return next(
            (o for o in self.legs if o.plain and o is not leg and o.target == leg.target), None
        )


@dataclass
class LegMetrics:
    label: str
    new_tokens: int
    rounds: int
    tau: float
    acceptance: float  # nan when nothing was drafted
    per_position: list[float]
    tokens_per_s: float
    prefill_time: float
    draft_time: float
    verify_time: float
    overhead_time: float  # accepting and committing (Step.sample_time)
    mean_draft: float  # draft tokens per drafting round
    speedup: float | None  # against the plain leg of the same target
    bound: float | None  # analytic bound from measured acceptance and costs
    draft_cost: float | None  # c: drafter time per draft token / one plain forward


def leg_metrics(record: RunRecord, leg: LegRecord) -> LegMetrics:
    steps = leg.steps
    new_tokens = sum(len(s.emitted) for s in steps)
    decode = sum(s.wall_time for s in steps)
    wall = decode + leg.prefill_time
    drafted = [s for s in steps if s.draft_tokens]
    num_drafted = sum(s.num_draft_tokens for s in drafted)
    tps = new_tokens / wall if wall > 0 else math.nan
    plain = record.plain_for(leg)
    speedup = bound = cost = None
    if plain is not None and plain.steps and not leg.plain:
        plain_wall = sum(s.wall_time for s in plain.steps) + plain.prefill_time
        plain_tps = sum(len(s.emitted) for s in plain.steps) / plain_wall if plain_wall else 0
        speedup = tps / plain_tps if plain_tps else None
        forward = metrics.plain_forward_time(plain.steps)
        bound = metrics.measured_bound(steps, forward)
        if forward and num_drafted:
            cost = sum(s.draft_time for s in drafted) / num_drafted / forward
    return LegMetrics(
        label=leg.label,
        new_tokens=new_tokens,
        rounds=len(steps),
        tau=metrics.tau(steps),
        acceptance=metrics.acceptance_rate(steps),
        per_position=metrics.per_position_acceptance(steps),
        tokens_per_s=tps,
        prefill_time=leg.prefill_time,
        draft_time=sum(s.draft_time for s in steps),
        verify_time=sum(s.verify_time for s in steps),
        overhead_time=sum(s.sample_time for s in steps),
        mean_draft=num_drafted / len(drafted) if drafted else 0.0,
        speedup=speedup,
        bound=bound,
        draft_cost=cost,
    )


def finalize(record: RunRecord) -> None:
    """Fill speedup and analytic bound into each leg's summary (for traces and the API)."""
    for leg in record.legs:
        if leg.summary is not None:
            m = leg_metrics(record, leg)
            leg.summary.speedup, leg.summary.analytic_bound = m.speedup, m.bound


def output_text(leg: LegRecord) -> str:
    """The generated text, from the summary when there is one, else from token strings."""
    if leg.summary is not None and leg.summary.text:
        return leg.summary.text
    from playground.models.vocab import token_bytes

    raw = b"".join(token_bytes(t) for s in leg.steps for t in s.emitted_text)
    return raw.decode("utf-8", errors="replace")


# ---- traces ------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "run"


def write_traces(record: RunRecord, directory: str | Path | None = None) -> list[str]:
    """One speclab-trace/1 JSON file per leg; returns their paths."""
    if not record.legs or not any(leg.steps for leg in record.legs):
        raise ConfigError("nothing to download yet: run a generation first")
    finalize(record)
    folder = Path(directory or tempfile.mkdtemp(prefix="speclab-trace-"))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = []
    for number, leg in enumerate(record.legs, 1):
        summary = leg.summary or _bare_summary(record, leg)
        path = folder / f"speclab-{stamp}-{number}-{_slug(leg.label)}.json"
        write_trace(path, leg.steps, summary)
        paths.append(str(path))
    return paths


def _bare_summary(record: RunRecord, leg: LegRecord) -> RunSummary:
    m = leg_metrics(record, leg)
    return RunSummary(
        label=leg.label,
        prompt=record.prompt,
        text=output_text(leg),
        token_ids=[t for s in leg.steps for t in s.emitted],
        new_tokens=m.new_tokens,
        steps=m.rounds,
        tau=m.tau,
        acceptance_rate=m.acceptance,
        per_position_acceptance=m.per_position,
        wall_time=m.prefill_time + sum(s.wall_time for s in leg.steps),
        prefill_time=m.prefill_time,
        draft_time=m.draft_time,
        verify_time=m.verify_time,
        sample_time=m.overhead_time,
        tokens_per_s=m.tokens_per_s,
        stop_reason="stopped",
        config={"target": leg.target, "drafter": None if leg.plain else "?"},
    )


def read_traces(paths: list[str | Path]) -> RunRecord:
    """A record replaying trace files (no model is loaded)."""
    if not paths:
        raise ConfigError("choose one or more SpecLab trace files (.json) to replay")
    record = RunRecord(source="trace", finished=True)
    for path in paths:
        try:
            steps, summary = read_trace(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ConfigError(f"{Path(path).name} is not a readable SpecLab trace: {exc}") from exc
        config = summary.config if summary else {}
        plain = config.get("drafter") is None if summary else not any(s.draft_tokens for s in steps)
        record.legs.append(
            LegRecord(
                label=summary.label if summary else Path(path).stem,
                target=str(config.get("target", "")),
                plain=plain,
                steps=steps,
                summary=summary,
                prefill_time=summary.prefill_time if summary else 0.0,
            )
        )
        record.prompt = record.prompt or (summary.prompt if summary else "")
    record.status = f"replaying {len(record.legs)} trace(s); no model loaded"
    return record
