"""Known good target/drafter pairs (assets/presets.json), and whether a spec loads offline."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from playground.errors import ConfigError, ModelLoadError
from playground.models import bundled, tiny
from playground.models.sources import classify

PRESETS_PATH = Path(__file__).resolve().parents[2] / "assets" / "presets.json"
GROUPS = ("offline", "fixture", "hub")


@dataclass(frozen=True)
class Preset:
    name: str
    group: str  # "offline" (bundled models), "fixture" (tiny test models) or "hub"
    target: str
    drafter: str
    shared_tokenizer: bool
    note: str  # one line shown next to the choice

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ConfigError(f"preset {self.name!r}: group must be one of {GROUPS}")


def load_presets(path: Path | None = None) -> list[Preset]:
    """Presets in file order; unknown or missing fields are a `ConfigError`."""
    path = path or PRESETS_PATH
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["presets"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read presets from {path}: {exc}") from exc
    names = {f.name for f in fields(Preset)}
    presets = []
    for entry in entries:
        if set(entry) != names:
            raise ConfigError(
                f"preset {entry.get('name', '?')!r} in {path}: fields must be exactly "
                f"{sorted(names)}, got {sorted(entry)}"
            )
        presets.append(Preset(**entry))
    return presets


def available_offline(spec: str) -> bool:
    """Whether `spec` can be loaded with no network at all."""
    try:
        kind, value = classify(spec)
    except ModelLoadError:
        return False
    if kind == "tiny":
        return value in tiny.TINY_MODELS
    if kind == "bundled":
        return value in bundled.BUNDLED and bundled.is_available_offline(value)
    if kind in ("gguf", "dir"):
        return True
    if kind == "hub":
        return isinstance(try_to_load_from_cache(value, "config.json"), str)
    return False
