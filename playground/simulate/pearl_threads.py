"""PEARL for real on a two-core CPU: the drafter drafts in one thread, the target verifies in
another (Liu et al. 2024, arXiv 2408.11850; greedy decoding).

The drafter thread drafts greedily, token after token, ahead of the committed text and
never waits for verification (up to `max_ahead` tokens). By default the target thread
never waits for the drafter: each forward verifies whatever drafts exist when it starts
(none: a plain single-token step, PEARL's pre-verify; many: the drafter kept going during
the previous verification, PEARL's post-verify), so the draft length adapts to the two
speeds; `min_drafts` makes it wait for a few drafts first (fewer, larger forwards). The
target's last row also decides the drafter's next token if it already exists. A mismatch
drops the drafter's speculation; the drafter resyncs its cache to the committed text by
common prefix, as `ModelDrafter` always does.

Both threads run torch ops, which release the GIL; each thread sets its own intra-op
thread count (`torch.set_num_threads` sets the calling thread's OpenMP pool size), one
core each on a two-core machine. Output equals plain greedy decoding (up to the batched vs
single-token numerical noise of DESIGN.md), which the tests check on tiny models.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import torch

from playground.drafters.base import Drafter
from playground.engine import cache as kv
from playground.engine.speed import install_fast_kernels
from playground.models.handle import ModelHandle
from playground.schedules.base import Schedule
from playground.simulate.timeline import DRAFTER, Segment, target_lane

logger = logging.getLogger(__name__)
TARGET = target_lane(0)


@dataclass
class _Draft:
    token: int
    start: float
    end: float
    kept: bool = False  # committed as the drafter's token


@dataclass
class ThreadedRun:
    token_ids: list[int]
    seconds: float  # first forward to last commit (prefill excluded)
    forwards: int
    drafted: int  # drafter tokens produced (used or not)
    kept: int  # drafter tokens committed
    timeline: list[Segment] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return len(self.token_ids) / self.seconds if self.seconds > 0 else float("nan")


class _Shared:
    """What both threads see, guarded by one condition variable."""

    def __init__(self, prompt_ids: list[int]):
        self.cond = threading.Condition()
        self.committed = list(prompt_ids)
        self.path: list[_Draft] = []  # the drafter's tokens for positions len(committed) + i
        self.stop = False
        self.stalled = False  # the drafter has nothing to propose until the text moves on
        self.drafts: list[_Draft] = []  # every token the drafter produced, for the timeline

    def speculated(self) -> list[int]:
        """The committed text followed by the drafter's pending tokens (hold `cond`)."""
        return self.committed + [d.token for d in self.path]

    def commit(self, tokens: list[int]) -> None:
        """Append committed tokens; keep the drafter's path only while it agrees."""
        with self.cond:
            for token in tokens:
                self.committed.append(token)
                if self.path and self.path[0].token == token:
                    self.path.pop(0).kept = True
                else:
                    self.path.clear()
            self.cond.notify_all()


def _draft_loop(
    shared: _Shared, drafter: Drafter, schedule: Schedule, max_ahead: int, threads: int, t0: float
) -> None:
    torch.set_num_threads(threads)
    rng = torch.Generator().manual_seed(0)  # greedy drafting never draws; kept for the contract
    try:
        _drafting(shared, drafter, schedule, max_ahead, rng, t0)
    except Exception:  # the target goes on alone (plain decoding); say why
        logger.exception("the drafter thread failed; PEARL continues without drafts")


def _drafting(shared, drafter, schedule, max_ahead, rng, t0) -> None:
    while True:
        with shared.cond:
            while len(shared.path) >= max_ahead and not shared.stop:
                shared.cond.wait()
            if shared.stop:
                return
            context = shared.speculated()
        start = time.perf_counter() - t0
        draft = drafter.propose(context, 1, schedule, rng)
        if not draft.num_nodes:  # nothing to propose here: wait for the target to move on
            with shared.cond:
                shared.stalled = True
                shared.cond.notify_all()
                shared.cond.wait_for(lambda ctx=context: shared.stop or shared.speculated() != ctx)
                shared.stalled = False
            continue
        record = _Draft(int(draft.tokens[0]), start, time.perf_counter() - t0)
        with shared.cond:
            shared.drafts.append(record)
            if shared.speculated() == context:  # still current
                shared.path.append(record)
            shared.cond.notify_all()


@torch.inference_mode()
def _forward(model: torch.nn.Module, cache, ids: list[int], keep: int = 0) -> torch.Tensor:
    out = model(
        input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True, logits_to_keep=keep
    )
    return out.logits[0].argmax(dim=-1)  # (rows,)


def run_threaded_pearl(
    target: ModelHandle,
    drafter: Drafter,
    schedule: Schedule,
    prompt_ids: list[int],
    max_new_tokens: int,
    max_draft_tokens: int = 16,
    threads: tuple[int, int] = (1, 1),
    min_drafts: int = 0,
) -> ThreadedRun:
    """Greedy PEARL with the drafter in a second thread; `threads` = (target, drafter).

    `min_drafts` > 0 makes the target wait for that many drafts before a forward (fewer,
    larger verifications and more CPU for the drafter); 0 never waits.
    """
    model = target.model
    install_fast_kernels(model)
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads[0])
    cache = kv.new_cache()
    if len(prompt_ids) > 1:
        _forward(model, cache, prompt_ids[:-1], keep=1)
    drafter.start(prompt_ids)
    shared = _Shared(prompt_ids)
    t0 = time.perf_counter()
    worker = threading.Thread(
        target=_draft_loop,
        args=(shared, drafter, schedule, 2 * max_draft_tokens, threads[1], t0),
        daemon=True,
    )
    worker.start()
    timeline: list[Segment] = []
    generated, forwards = 0, 0
    try:
        while generated < max_new_tokens:
            with shared.cond:
                room = min(max_draft_tokens, max_new_tokens - generated - 1)
                want = min(min_drafts, room)
                shared.cond.wait_for(lambda want=want: len(shared.path) >= want or shared.stalled)
                drafts = [d.token for d in shared.path[:room]]
                pending = shared.committed[-1]
            start = time.perf_counter() - t0
            prefix_len = kv.cache_length(cache)
            best = _forward(model, cache, [pending] + drafts).tolist()  # (m + 1,)
            n = next((i for i, tok in enumerate(drafts) if tok != best[i]), len(drafts))
            kv.truncate(cache, prefix_len + 1 + n)
            new = drafts[:n] + [best[n]]
            shared.commit(new)
            timeline.append(Segment(TARGET, start, time.perf_counter() - t0, "verify"))
            generated += len(new)
            forwards += 1
    finally:
        with shared.cond:
            shared.stop = True
            shared.cond.notify_all()
        worker.join()
        torch.set_num_threads(saved_threads)
    seconds = timeline[-1].end if timeline else 0.0
    for d in shared.drafts:
        timeline.append(Segment(DRAFTER, d.start, d.end, "draft" if d.kept else "wasted"))
    ids = shared.committed[len(prompt_ids) :][:max_new_tokens]
    kept = sum(d.kept for d in shared.drafts)
    return ThreadedRun(ids, seconds, forwards, len(shared.drafts), kept, timeline)
