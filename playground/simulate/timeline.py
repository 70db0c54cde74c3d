"""What every simulator returns: tokens, time, and a timeline of who did what when.

A timeline is a list of `Segment(lane, start, end, kind)`: `lane` names a device
("drafter", "target 1", ...), times are seconds from the start of generation, and `kind`
is "draft" (drafter work whose tokens were committed), "verify" (a target forward whose
result was used) or "wasted" (drafts thrown away, forwards preempted or made moot).
`gantt.gantt_figure` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

KINDS = ("draft", "verify", "wasted")
DRAFTER = "drafter"


def target_lane(index: int) -> str:
    """Lane name of target server `index` (0-based): "target 1", "target 2", ..."""
    return f"target {index + 1}"


class Segment(NamedTuple):
    lane: str
    start: float  # seconds
    end: float
    kind: str  # one of KINDS


@dataclass
class SimResult:
    scheme: str  # "plain" | "sd" | "dsi" | "pearl"
    tokens: int  # tokens committed
    seconds: float  # time of the last commit (prefill included when the workload has one)
    timeline: list[Segment] = field(default_factory=list)
    forwards: int = 0  # target forwards that ran to completion
    # Steady-state tokens/s the scheme's model predicts (closed form for plain and SD, a long
    # i.i.d. simulation for DSI and PEARL); None when not computed.
    expected_tokens_per_s: float | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")

    def busy(self, kind: str) -> float:
        """Seconds of `kind` summed over every lane."""
        return sum(s.end - s.start for s in self.timeline if s.kind == kind)


def merged(timeline: list[Segment]) -> list[Segment]:
    """Touching segments of one lane and kind joined (fewer bars to draw)."""
    out: list[Segment] = []
    last: dict[str, int] = {}
    for seg in sorted(timeline, key=lambda s: (s.lane, s.start)):
        i = last.get(seg.lane)
        if i is not None and out[i].kind == seg.kind and seg.start - out[i].end <= 1e-12:
            out[i] = out[i]._replace(end=max(out[i].end, seg.end))
            continue
        last[seg.lane] = len(out)
        out.append(seg)
    return out
