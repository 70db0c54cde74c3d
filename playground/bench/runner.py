"""Run methods over a prompt set in one process, against plain decoding of the same target.

Per prompt, plain decoding (our engine, no drafter) runs first and is the reference for
speedup and greedy equality; every method runs `repeats` times and the median time is
kept. A short warm-up of each method comes before anything is timed.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from playground.analysis.metrics import (
    end_to_end_bound,
    measured_bound,
    plain_forward_time,
    summarize,
)
from playground.analysis.quality import score
from playground.bench.baselines import HF_METHODS, run_hf
from playground.bench.prompts import Prompt
from playground.config import OPTION_KNOBS, TEXT_OPTIONS, GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.errors import ConfigError
from playground.models.handle import ModelHandle
from playground.samplers import SAMPLERS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Method:
    label: str
    spec: SpecConfig | None = None  # None with hf None: plain decoding in our engine
    hf: str | None = None  # one of HF_METHODS
    num_draft_tokens: int = 4
    assistant: str | None = None  # drafter model for hf_assisted


def parse_method(text: str) -> Method:
    """`plain`, `hf`, `hf_prompt_lookup[:k]`, `hf_assisted:MODEL[:k]`, or SpecConfig fields
    as `key=value,...` (an optional `label=...` names the row; option knobs such as
    `lenience=2` go to `SpecConfig.options`)."""
    text = text.strip()
    if text == "plain":
        return Method("plain")
    head, _, rest = text.partition(":")
    if head in HF_METHODS:
        parts = rest.split(":") if rest else []
        k = (
            int(parts.pop())
            if parts and parts[-1].isdigit()
            else 10
            if head != "hf_assisted"
            else 4
        )
        assistant = ":".join(parts) or None
        if head == "hf_assisted" and not assistant:
            raise ConfigError("hf_assisted needs a model: hf_assisted:MODEL[:num_draft_tokens]")
        return Method(text, hf=head, num_draft_tokens=k, assistant=assistant)
    fields: dict[str, object] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"method {text!r}: expected key=value pairs, got {item!r}")
        fields[key.strip()] = _value(value.strip())
    label = str(fields.pop("label", text))
    known = OPTION_KNOBS.keys() | TEXT_OPTIONS.keys()
    options = {key: fields.pop(key) for key in list(fields) if key in known}
    if options:  # drafter/sampler knobs and text options go to SpecConfig.options
        fields["options"] = options
    return Method(label, spec=SpecConfig.from_dict(fields))


def _value(value: str) -> object:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return None if value == "none" else value


@dataclass
class Row:
    method: str
    prompt_id: str
    category: str
    new_tokens: int
    seconds: float
    tokens_per_s: float
    speedup: float
    tau: float | None = None
    acceptance: float | None = None
    per_position: list[float] = field(default_factory=list)
    draft_time: float | None = None
    verify_time: float | None = None
    other_time: float | None = None
    greedy_equal: bool | None = None
    bound: float | None = None
    # Quality against the target's own output (filled when any method is lossy;
    # definitions in playground.analysis.quality).
    lossy: bool = False
    agree_prefix: float | None = None
    agree_overall: float | None = None
    log_likelihood: float | None = None
    reference_hit: bool | None = None


class Runner:
    def __init__(self, target: ModelHandle, config: GenerationConfig, load: Callable, repeats: int):
        self.target = target
        self.config = replace(config, stop_at_eos=False)
        self.load = load
        self.repeats = repeats

    def run(self, methods: list[Method], prompts: list[Prompt]) -> list[Row]:
        self._warm_up(methods, prompts[0])
        rows: list[Row] = []
        started = time.perf_counter()
        quality = any(is_lossy(m) for m in methods)
        for number, prompt in enumerate(prompts, 1):
            plain = self._engine_runs(Method("plain"), prompt)
            greedy_ids = self._greedy_ids(prompt, plain) if quality else None
            for method in methods:
                rows.append(self._row(method, prompt, plain, greedy_ids))
            _progress(number, len(prompts), prompt.id, started)
        return rows

    def _warm_up(self, methods: list[Method], prompt: Prompt) -> None:
        short = replace(self.config, max_new_tokens=min(8, self.config.max_new_tokens))
        saved, self.config = self.config, short
        try:
            for method in [Method("plain"), *methods]:
                self._once(method, prompt)
        finally:
            self.config = saved

    def _once(self, method: Method, prompt: Prompt):
        if method.hf:
            assistant = self.load(method.assistant) if method.assistant else None
            return run_hf(
                method.hf,
                self.target,
                prompt.prompt,
                self.config,
                method.num_draft_tokens,
                assistant,
            )
        engine = build_engine(
            self.target, method.spec, self.config, load=self.load, label=method.label
        )
        steps = list(engine.stream(prompt.prompt))
        return steps, summarize(engine, prompt.prompt, steps)

    def _engine_runs(self, method: Method, prompt: Prompt):
        runs = [self._once(method, prompt) for _ in range(self.repeats)]
        steps, summary = runs[0]
        summary.wall_time = statistics.median(s.wall_time for _, s in runs)
        return steps, summary

    def _greedy_ids(self, prompt: Prompt, plain) -> list[int]:
        """Plain greedy output for this prompt: the plain run's, or one more run if sampled."""
        if self.config.greedy:
            return plain[1].token_ids
        greedy = replace(self.config, temperature=0.0)
        engine = build_engine(self.target, None, greedy, load=self.load)
        return [t for step in engine.stream(prompt.prompt) for t in step.emitted]

    def _row(self, method: Method, prompt: Prompt, plain, greedy_ids=None) -> Row:
        plain_steps, plain_summary = plain
        plain_tps = plain_summary.new_tokens / plain_summary.wall_time
        if method.hf:
            runs = [self._once(method, prompt) for _ in range(self.repeats)]
            seconds = statistics.median(r.seconds for r in runs)
            ids = runs[0].token_ids
            row = Row(
                method.label,
                prompt.id,
                prompt.category,
                len(ids),
                seconds,
                len(ids) / seconds,
                len(ids) / seconds / plain_tps,
            )
        else:
            steps, s = plain if method.spec is None else self._engine_runs(method, prompt)
            ids = s.token_ids
            row = Row(
                method.label,
                prompt.id,
                prompt.category,
                s.new_tokens,
                s.wall_time,
                s.new_tokens / s.wall_time,
                s.new_tokens / s.wall_time / plain_tps,
                tau=s.tau,
                acceptance=_finite(s.acceptance_rate),
                per_position=s.per_position_acceptance,
                draft_time=s.draft_time,
                verify_time=s.verify_time,
                other_time=s.sample_time,
                bound=end_to_end_bound(
                    measured_bound(steps, plain_forward_time(plain_steps)), plain_summary, s
                ),
            )
        if self.config.greedy:
            row.greedy_equal = ids == plain_summary.token_ids
        if greedy_ids is not None:
            row.lossy = is_lossy(method)
            quality = score(
                self.target, self.target.encode(prompt.prompt), ids, greedy_ids, prompt.reference
            )
            row.__dict__.update(asdict(quality))
        return row


def is_lossy(method: Method) -> bool:
    """Whether the method's sampler is registered lossy (and a drafter makes it verify)."""
    spec = method.spec
    return bool(spec and spec.drafter and not SAMPLERS.get(spec.sampler).lossless)


def _finite(value: float) -> float | None:
    return None if value != value else value


def _progress(done: int, total: int, prompt_id: str, started: float) -> None:
    elapsed = time.perf_counter() - started
    left = elapsed / done * (total - done)
    bar = "#" * (20 * done // total)
    sys.stderr.write(
        f"\r[{bar:20}] {done}/{total} prompts ({prompt_id}); "
        f"{elapsed:.0f} s elapsed, ~{left:.0f} s left "
    )
    sys.stderr.flush()
    if done == total:
        sys.stderr.write("\n")
