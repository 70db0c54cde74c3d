"""Distributed speculative inference (DSI; Timor et al. 2024, arXiv 2405.14105), simulated.

DSI overlaps drafting and verification with speculation parallelism: the drafter never
waits for the target, and every `lookahead` drafted tokens are verified by one of N target
servers while the drafter keeps going. A verification that rejects a token commits the
target's token there and preempts everything speculated after it (drafts and running
forwards: the "wasted" lane time); the drafter restarts from the committed text.

The orchestration simulated here, with γ = `lookahead`:

- chunk tasks: once drafts d_s … d_{s+γ-1} exist, a free chunk server runs one forward
  over [d_{s-1}, d_s … d_{s+γ-1}] (γ + 1 tokens). Its rows decide d_s … d_{s+γ-1} and, with
  its last row, d_{s+γ} (if the drafter has produced it by then; otherwise that row is the
  target's own token, a bonus, and the drafter restarts after it). The next chunk starts
  at s + γ + 1.
- the non-SI thread (N ≥ 2): server 1 always runs a single-token forward on the committed
  text, deciding the next position by itself (accepting the drafter's token there, or
  replacing it). It guarantees at least one token per single-token forward, so DSI is
  never slower than plain decoding; the other N - 1 servers run chunks. When chunks commit
  past it, it is preempted and restarts at the new end of the committed text.
- N = 1 has no server to spare for the non-SI thread: DSI is then pipelined SI (chunks
  only), which is never slower than SD (it only adds overlap) but can be slower than plain
  decoding with a slow or poor drafter, as the paper notes for SI.

Outcomes are drawn when a position is first decided (one per drafted token, in position
order), so i.i.d. acceptance means the same thing here as in `sd.simulate_sd`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from playground.simulate.timeline import DRAFTER, Segment, SimResult, target_lane
from playground.simulate.workload import IIDAcceptance, Latencies

Acceptance = Callable[[], bool]


@dataclass
class _Task:
    server: int
    first: int  # first position the forward decides
    drafts: int  # input drafts m: it decides positions first … first + m
    start: float
    end: float


class _DSI:
    def __init__(self, lat: Latencies, accept: Acceptance, lookahead: int, servers: int):
        self.lat, self.accept, self.gamma, self.servers = lat, accept, lookahead, servers
        self.timeline: list[Segment] = []
        if lat.prefill:
            self.timeline.append(Segment(target_lane(0), 0.0, lat.prefill, "verify"))
        self.t = lat.prefill
        self.committed = 0  # positions [0, committed) are final
        self.forwards = 0
        self.epoch = -1
        self.tasks: list[_Task | None] = [None] * servers
        self.chunk_servers = list(range(1, servers)) if servers > 1 else [0]
        self.max_ahead = (servers + 1) * (lookahead + 1)
        self.num_tokens = math.inf  # set by `run`
        self._restart()

    # ---- epochs: the drafter's current speculation ------------------------------------

    def _restart(self) -> None:
        """Throw away every speculation past `committed` and draft again from there."""
        if self.epoch >= 0:
            self._close_epoch()
        for task in filter(None, self.tasks):
            self._end_task(task, "wasted")
        self.epoch += 1
        self.drafted = self.next_chunk = self.committed  # drafts cover [committed, drafted)
        self.segments: dict[int, tuple[float, float]] = {}
        self.outcome: dict[int, bool] = {}
        self.kept: set[int] = set()  # positions committed as the drafter's token
        self.draft_start: float | None = self.t
        self._dispatch()

    def _close_epoch(self) -> None:
        for position, (start, end) in self.segments.items():
            kind = "draft" if position in self.kept else "wasted"
            self.timeline.append(Segment(DRAFTER, start, end, kind))
        if self.draft_start is not None and self.t > self.draft_start:
            self.timeline.append(Segment(DRAFTER, self.draft_start, self.t, "wasted"))

    # ---- events ------------------------------------------------------------------------

    def run(self, num_tokens: int) -> None:
        self.num_tokens = num_tokens
        while self.committed < num_tokens:
            draft_done = math.inf if self.draft_start is None else self.draft_start + self.lat.draft
            task = min(filter(None, self.tasks), key=lambda x: x.end, default=None)
            if task is None or draft_done <= task.end:
                self.t = draft_done
                self._on_drafted()
            else:
                self.t = task.end
                self._on_task_done(task)
        self._close_epoch()

    def _on_drafted(self) -> None:
        self.segments[self.drafted] = (self.draft_start, self.t)
        self.drafted += 1
        self.draft_start = self.t if self.drafted - self.committed < self.max_ahead else None
        self._dispatch()

    def _on_task_done(self, task: _Task) -> None:
        last = task.first + task.drafts
        if last < self.committed:  # the non-SI thread already decided all of it
            self._end_task(task, "wasted")
            self._dispatch()
            return
        self._end_task(task, "verify")
        self.forwards += 1
        epoch = self.epoch
        for position in range(max(task.first, self.committed), last + 1):
            if not self._decide(position) or self.committed >= self.num_tokens:
                break
        if epoch == self.epoch:
            self._preempt_stale_non_si()
            self._dispatch()

    def _decide(self, position: int) -> bool:
        """Decide `position` (== committed) now; False when that restarted the speculation."""
        self.committed += 1
        if position < self.drafted:
            if position not in self.outcome:
                self.outcome[position] = self.accept()
            if self.outcome[position]:
                self.kept.add(position)
                if self.draft_start is None:  # the drafter was waiting for room ahead
                    self.draft_start = self.t
                return True
        self._restart()  # rejected, or not drafted yet: the target's own token is committed
        return False

    # ---- servers -----------------------------------------------------------------------

    def _start(self, server: int, first: int, drafts: int) -> None:
        end = self.t + self.lat.forward(drafts + 1)
        self.tasks[server] = _Task(server, first, drafts, self.t, end)

    def _end_task(self, task: _Task, kind: str) -> None:
        end = min(task.end, self.t)
        self.timeline.append(Segment(target_lane(task.server), task.start, end, kind))
        self.tasks[task.server] = None

    def _preempt_stale_non_si(self) -> None:
        task = self.tasks[0] if self.servers > 1 else None
        if task is not None and task.first < self.committed:
            self._end_task(task, "wasted")

    def _dispatch(self) -> None:
        if self.committed >= self.num_tokens:
            return
        if self.servers > 1 and self.tasks[0] is None:
            self._start(0, self.committed, 0)  # the non-SI thread
        for server in self.chunk_servers:
            ready = self.drafted >= self.next_chunk + self.gamma
            if self.tasks[server] is None and ready:
                self._start(server, self.next_chunk, self.gamma)
                self.next_chunk += self.gamma + 1


def simulate_dsi(
    lat: Latencies,
    accept: Acceptance,
    num_tokens: int,
    lookahead: int,
    servers: int,
    alpha: float | None = None,
) -> SimResult:
    """DSI with `servers` target servers until `num_tokens` are committed; with `alpha`, the
    expected rate comes from a long i.i.d. run (prefill excluded)."""
    if lookahead < 1 or servers < 1:
        raise ValueError("DSI needs lookahead ≥ 1 and at least one target server")
    sim = _DSI(lat, accept, lookahead, servers)
    sim.run(num_tokens)
    expected = None
    if alpha is not None:
        expected = expected_dsi_rate(lat, alpha, lookahead, servers)
    return SimResult("dsi", sim.committed, sim.t, sim.timeline, sim.forwards, expected)


def expected_dsi_rate(
    lat: Latencies, alpha: float, lookahead: int, servers: int, tokens: int = 20_000
) -> float:
    steady = Latencies(lat.draft, lat.verify, lat.overhead)  # no prefill
    sim = _DSI(steady, IIDAcceptance(alpha, seed=1), lookahead, servers)
    sim.run(tokens)
    return sim.committed / sim.t
