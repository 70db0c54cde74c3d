"""What the controls say before Run: one line per registry entry, whether the chosen
parts fit (never loading a model), and what a preset pair fills in."""

from __future__ import annotations

from dataclasses import dataclass

from playground import config as C
from playground.drafters import DRAFTERS
from playground.errors import ConfigError, SpecLabError
from playground.models import available_offline, load_presets
from playground.registry import Registry
from playground.ui.inputs import NONE, SpecInputs
from playground.worker import ModelCache


def entry_markdown(registry: Registry, name: str | None) -> str:
    """One line about a registry entry: lossless/lossy badge, summary, paper."""
    if not name or name == NONE:
        return "**plain decoding**: the target alone, one token per forward (the reference)."
    try:
        e = registry.get(name)
    except SpecLabError as exc:
        return f"⚠ {exc}"
    badge = "✓ lossless" if e.lossless else f"⚠ lossy: follows {e.follows}"
    paper = f" · _{e.paper}_" if e.paper else ""
    return f"**{e.name}** · {badge} · {e.summary}{paper}"


def check_config(
    cache: ModelCache | None,
    target: str,
    drafter: str,
    drafter_model: str,
    sampler: str,
    schedule: str,
    num_draft_tokens: float = 4,
    options: str = "",
) -> str:
    """Whether the parts fit, explained before Run (never loads a model)."""
    inputs = SpecInputs(
        target, drafter, drafter_model, sampler, schedule, num_draft_tokens, options
    )
    try:
        target_spec = inputs.target_spec()
        spec = inputs.spec(max(C.MAX_DRAFT_TOKENS.default, C.MAX_DRAFT_TOKENS.low))
    except SpecLabError as exc:
        return f"⚠ {exc}"
    notes = []
    if spec.drafter_model:
        problem = _vocabulary_problem(cache, target_spec, spec.drafter_model, spec.drafter)
        if problem:
            return f"⚠ {problem}"
    for model in dict.fromkeys(filter(None, [target_spec, spec.drafter_model])):
        if not available_offline(model):
            notes.append(f"`{model}` is not available offline: loading it needs the Hub")
    head = "✓ these parts fit" if spec.drafter else "✓ plain decoding"
    return head + ("; " + "; ".join(notes) if notes else ".")


def _vocabulary_problem(
    cache: ModelCache | None, target: str, drafter_model: str, drafter: str
) -> str:
    if "cross_vocab" in DRAFTERS.get(drafter).tags:
        return ""
    shared = next(
        (
            p.shared_tokenizer
            for p in load_presets()
            if p.target == target and p.drafter == drafter_model
        ),
        None,
    )
    if shared is None and cache is not None:
        t, d = cache.peek(target), cache.peek(drafter_model)
        if t is not None and d is not None:
            shared = (
                t.tokenizer is d.tokenizer or t.tokenizer.get_vocab() == d.tokenizer.get_vocab()
            )
    if shared is False:
        fits = [e.name for e in DRAFTERS if "cross_vocab" in e.tags]
        return (
            f"`{drafter_model}` has another tokenizer than `{target}`; drafter "
            f"{drafter!r} needs a shared vocabulary. Use a cross-vocabulary drafter "
            f"({', '.join(fits) or 'none registered yet'}) or a drafter model with the "
            "target's tokenizer."
        )
    return ""


@dataclass
class PresetChoice:
    target: str
    drafter: str
    drafter_model: str
    note: str


def choose_preset(name: str) -> PresetChoice:
    preset = next((p for p in load_presets() if p.name == name), None)
    if preset is None:
        raise ConfigError(f"unknown preset {name!r}")
    cross = [e.name for e in DRAFTERS if "cross_vocab" in e.tags and "model" in e.tags]
    drafter = "model" if preset.shared_tokenizer or not cross else cross[0]
    offline = available_offline(preset.target) and available_offline(preset.drafter)
    note = f"{preset.note} ({'available offline' if offline else 'needs the Hub'})"
    return PresetChoice(preset.target, drafter, preset.drafter, note)
