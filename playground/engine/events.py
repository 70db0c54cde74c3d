"""`Step` and `RunSummary`: the one record shared by UI, metrics, benchmark and traces.

The engine yields one `Step` per round (a target forward). Plain decoding yields Steps
with an empty draft, so every comparison is like for like. Both are plain dataclasses of
JSON-friendly values; `to_dict`/`from_dict` round-trip them through a trace file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class Step:
    index: int
    # The draft tree of this round (target vocabulary); empty for plain decoding.
    draft_tokens: list[int] = field(default_factory=list)
    draft_parents: list[int] = field(default_factory=list)
    draft_text: list[str] = field(default_factory=list)
    q_draft: list[float | None] = field(default_factory=list)  # q of each node's own token
    p_target: list[float | None] = field(default_factory=list)  # p of each node's token
    accept_probs: list[float | None] = field(default_factory=list)  # None: never reached
    accepted: list[int] = field(default_factory=list)  # node indices, root to leaf
    # Target tokens emitted this round: the accepted draft tokens, then `next_token`
    # (unless a stop condition cut the round short).
    emitted: list[int] = field(default_factory=list)
    emitted_text: list[str] = field(default_factory=list)
    next_kind: str = "plain"  # "plain" | "bonus" | "correction"
    draft_time: float = 0.0  # seconds
    verify_time: float = 0.0
    sample_time: float = 0.0
    cache_len: int = 0  # target tokens in the KV cache after the round
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_draft_tokens(self) -> int:
        return len(self.draft_tokens)

    @property
    def num_accepted(self) -> int:
        return len(self.accepted)

    @property
    def wall_time(self) -> float:
        return self.draft_time + self.verify_time + self.sample_time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunSummary:
    """Aggregates of one run. Metric definitions live in `playground.analysis.metrics`."""

    label: str
    prompt: str
    text: str
    token_ids: list[int]
    new_tokens: int
    steps: int
    tau: float  # mean emitted tokens per target forward, bonus included (plain = 1.00)
    acceptance_rate: float  # accepted draft tokens / drafted tokens (nan if none drafted)
    per_position_acceptance: list[float]  # P(position i accepted | drafted to i)
    wall_time: float  # seconds of the whole generation, prefill included
    prefill_time: float
    draft_time: float
    verify_time: float
    sample_time: float
    tokens_per_s: float
    speedup: float | None = None  # against the matching plain run, when one was measured
    analytic_bound: float | None = None
    stop_reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("acceptance_rate") is None:
            values["acceptance_rate"] = math.nan
        return cls(**values)


def write_trace(path: str | Path, steps: list[Step], summary: RunSummary | None) -> None:
    """A JSON trace: every Step of a run plus its summary; the UI can replay it."""
    data = {
        "format": "speclab-trace/1",
        "summary": summary.to_dict() if summary else None,
        "steps": [s.to_dict() for s in steps],
    }
    Path(path).write_text(json.dumps(data, indent=1))


def read_trace(path: str | Path) -> tuple[list[Step], RunSummary | None]:
    data = json.loads(Path(path).read_text())
    if data.get("format") != "speclab-trace/1":
        from playground.errors import ConfigError

        raise ConfigError(f"{path} is not a SpecLab trace (expected format speclab-trace/1)")
    summary = RunSummary.from_dict(data["summary"]) if data.get("summary") else None
    return [Step.from_dict(s) for s in data["steps"]], summary
