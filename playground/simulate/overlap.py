"""Does real overlap win here? Threaded PEARL against sequential SD with the same drafter.

Per prompt, after a warm-up, each configuration runs `repeats` times (median kept), greedy,
same prompt, same process:

- plain/N threads: our engine, no drafter, with all cores and with one;
- sd/N threads: our engine, the same drafter and sampler, fixed draft length, with N
  intra-op threads (all cores, and one core: what each PEARL thread gets);
- pearl threads: `pearl_threads.run_threaded_pearl`, target and drafter one core each
  (the target never waiting for drafts, or waiting for `min_drafts` of them).

Timings exclude the prefill everywhere (the threaded run starts its clock after it).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters import DRAFTERS, DrafterContext
from playground.engine.build import build_engine
from playground.models.handle import ModelHandle
from playground.schedules import SCHEDULES
from playground.simulate.pearl_threads import ThreadedRun, run_threaded_pearl

logger = logging.getLogger(__name__)


@dataclass
class OverlapRow:
    config: str
    tokens_per_s: float  # median over repeats, summed over prompts (tokens / seconds)
    tau: float | None  # tokens per target forward
    kept: float | None  # drafter tokens committed / drafter tokens produced
    equal_to_plain: bool


def _engine_rate(target, spec, config, load, prompt) -> tuple[float, float, list[int]]:
    engine = build_engine(target, spec, config, load=load)
    steps = list(engine.stream(prompt))
    seconds = sum(s.wall_time for s in steps)
    ids = [t for s in steps for t in s.emitted]
    return seconds, len(ids) / len(steps), ids


def compare_overlap(
    target: ModelHandle,
    spec: SpecConfig,
    prompts: list[str],
    max_new_tokens: int,
    load: Callable[[str], ModelHandle],
    repeats: int = 3,
    cores: int = 2,
    min_drafts: tuple[int, ...] = (0,),
) -> tuple[list[OverlapRow], ThreadedRun]:
    """Rows for plain, sequential SD (cores and 1 thread) and threaded PEARL (one row per
    `min_drafts` setting, see `run_threaded_pearl`); the last threaded run."""
    config = GenerationConfig(max_new_tokens=max_new_tokens, stop_at_eos=False)
    sd_spec = replace(spec, schedule="fixed")  # any lossless sampler is greedy here
    plans = [(f"plain/{cores} threads", None, cores), (f"sd/{cores} threads", sd_spec, cores)]
    if cores > 1:
        plans += [("plain/1 thread", None, 1), ("sd/1 thread", sd_spec, 1)]
    totals = {name: [0.0, 0, 0.0] for name, _, _ in plans}  # seconds, tokens, τ sum
    plain_ids: dict[str, list[int]] = {}
    equal = {name: True for name, _, _ in plans}
    saved = torch.get_num_threads()
    try:
        for prompt in prompts:
            for name, plan_spec, threads in plans:
                torch.set_num_threads(threads)
                _engine_rate(target, plan_spec, config, load, prompt)  # warm-up
                runs = [
                    _engine_rate(target, plan_spec, config, load, prompt) for _ in range(repeats)
                ]
                seconds = statistics.median(r[0] for r in runs)
                ids = runs[0][2]
                plain_ids.setdefault(prompt, ids)
                equal[name] &= ids == plain_ids[prompt]
                totals[name][0] += seconds
                totals[name][1] += len(ids)
                totals[name][2] += runs[0][1] / len(prompts)
        pearl = [
            _pearl_totals(target, spec, config, load, prompts, repeats, plain_ids, wait)
            for wait in min_drafts
        ]
    finally:
        torch.set_num_threads(saved)
    rows = [
        OverlapRow(name, tokens / seconds, tau, None, equal[name])
        for name, (seconds, tokens, tau) in totals.items()
    ]
    return rows + [row for row, _ in pearl], pearl[-1][1]


def _pearl_totals(target, spec, config, load, prompts, repeats, plain_ids, min_drafts):
    ctx = DrafterContext(target, spec, config, load)
    seconds = tokens = kept = drafted = forwards = 0
    equal, last = True, None
    for prompt in prompts:
        ids = target.encode(prompt)
        runs = []
        for _ in range(repeats + 1):  # the first is a warm-up
            drafter = DRAFTERS.get(spec.drafter).factory(ctx)
            schedule = SCHEDULES.get("fixed").factory(spec)
            runs.append(
                run_threaded_pearl(
                    target, drafter, schedule, ids, config.max_new_tokens, min_drafts=min_drafts
                )
            )
        runs = runs[1:]
        last = runs[0]
        seconds += statistics.median(r.seconds for r in runs)
        tokens += len(last.token_ids)
        kept, drafted = kept + last.kept, drafted + last.drafted
        forwards += last.forwards
        equal &= last.token_ids == plain_ids[prompt]
    label = "pearl threads (1+1)" + (f", wait for {min_drafts}" if min_drafts else "")
    row = OverlapRow(label, tokens / seconds, tokens / forwards, kept / max(drafted, 1), equal)
    return row, last
