"""The page's inputs as dataclasses, validated on the server.

Sliders bound what a browser sends, but the API accepts anything, so every value goes
through the same `Knob.check` / `GenerationConfig` / `SpecConfig` validation as the CLI;
a bad value is a `ConfigError` whose message names the knob and its range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from playground import config as C
from playground.drafters import DRAFTERS
from playground.engine.build import check_compatible
from playground.errors import ConfigError, PromptError
from playground.worker import Job, Leg

NONE = "none"  # the drafter choice for plain decoding


def parse_options(text: str | None) -> dict[str, Any]:
    """ "key=value" pairs separated by commas, semicolons or new lines (numbers parsed);
    a JSON object works too."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"options: invalid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise ConfigError("options: JSON must be an object of key: value")
        return value
    options: dict[str, Any] = {}
    for item in text.replace(";", "\n").replace(",", "\n").splitlines():
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"options take key=value, got {item.strip()!r}")
        options[key.strip()] = _number(value.strip())
    return options


def _number(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {value!r}")
    return value.strip()


@dataclass
class SpecInputs:
    """What one configuration of the method is: the first seven controls of a run."""

    target: str = C.DEFAULT_TARGET
    drafter: str = C.DEFAULT_DRAFTER
    drafter_model: str = C.DEFAULT_DRAFTER_MODEL
    sampler: str = C.DEFAULT_SAMPLER
    schedule: str = C.SpecConfig.schedule
    num_draft_tokens: float = C.NUM_DRAFT_TOKENS.default
    options: str = ""

    def spec(
        self,
        max_draft_tokens: float = C.MAX_DRAFT_TOKENS.default,
        ngram_min: float = C.NGRAM_MIN.default,
        ngram_max: float = C.NGRAM_MAX.default,
    ) -> C.SpecConfig:
        drafter = _text("drafter", self.drafter) or NONE
        if drafter == NONE:
            return C.SpecConfig(drafter=None)
        entry = DRAFTERS.get(drafter)
        model = _text("drafter model", self.drafter_model) if "model" in entry.tags else ""
        if "model" in entry.tags and not model:
            raise ConfigError(f"drafter {drafter!r} needs a drafter model; choose or type one")
        spec = C.SpecConfig(
            drafter=drafter,
            drafter_model=model or None,
            sampler=_text("sampler", self.sampler),
            schedule=_text("schedule", self.schedule),
            num_draft_tokens=self.num_draft_tokens,
            max_draft_tokens=max(max_draft_tokens, self.num_draft_tokens)
            if isinstance(self.num_draft_tokens, (int, float))
            else max_draft_tokens,
            ngram_min=ngram_min,
            ngram_max=ngram_max,
            options=parse_options(self.options),
        )
        check_compatible(spec)
        return spec

    def target_spec(self) -> str:
        target = _text("target", self.target)
        if not target:
            raise ConfigError("choose a target model (a preset, tiny:target, a Hub id or a path)")
        return target


@dataclass
class RunInputs(SpecInputs):
    max_draft_tokens: float = C.MAX_DRAFT_TOKENS.default
    ngram_min: float = C.NGRAM_MIN.default
    ngram_max: float = C.NGRAM_MAX.default
    temperature: float = C.TEMPERATURE.default
    top_p: float = C.TOP_P.default
    top_k: float = C.TOP_K.default
    repetition_penalty: float = C.REPETITION_PENALTY.default
    seed: float = C.SEED.default
    max_new_tokens: float = C.MAX_NEW_TOKENS.default
    prompt: str = ""
    compare_plain: bool = False
    teaching: bool = False
    step_delay: float = C.STEP_DELAY.default

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_values(cls, values: tuple | list) -> RunInputs:
        return cls(**dict(zip(cls.names(), values, strict=True)))

    def generation(self) -> C.GenerationConfig:
        return C.GenerationConfig.from_knobs(self)

    def my_spec(self) -> C.SpecConfig:
        return self.spec(self.max_draft_tokens, self.ngram_min, self.ngram_max)

    def checked_prompt(self) -> str:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise PromptError("the prompt is empty; type some text (or pick an example)")
        return self.prompt

    def delay(self) -> float:
        return C.STEP_DELAY.check(self.step_delay)

    def job(self, other: SpecInputs | None = None) -> Job:
        """The run's legs: this configuration, `other` (compare mode), then plain decoding."""
        prompt, config = self.checked_prompt(), self.generation()
        target = self.target_spec()
        legs = [
            Leg(
                _label(self.my_spec(), target, "A" if other else ""), target, self.my_spec(), config
            )
        ]
        if other is not None:
            other_target = other.target_spec()
            other_spec = other.spec(self.max_draft_tokens, self.ngram_min, self.ngram_max)
            legs.append(
                Leg(_label(other_spec, other_target, "B"), other_target, other_spec, config)
            )
        if self.compare_plain:
            for target_spec in dict.fromkeys(leg.target for leg in legs):
                if any(leg.target == target_spec and leg.spec.drafter is None for leg in legs):
                    continue
                legs.append(Leg(f"plain · {target_spec}", target_spec, C.SpecConfig(), config))
        return Job(prompt, tuple(legs), warm_up=len(legs) > 1)


def _label(spec: C.SpecConfig, target: str, prefix: str) -> str:
    from playground.engine.loop import describe

    what = "plain" if spec.drafter is None else describe(spec)
    return f"{prefix + ': ' if prefix else ''}{what} · {target}"


def spec_inputs(values: tuple | list) -> SpecInputs:
    """Configuration B of compare mode, from the compare tab's controls in field order."""
    names = [f.name for f in fields(SpecInputs)]
    return SpecInputs(**dict(zip(names, values, strict=True)))
