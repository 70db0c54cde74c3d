"""Prompt sets for the benchmark: JSONL files under assets/prompts/, written for SpecLab.

Each line: {"id", "category", "prompt"} and optionally "reference" (a checkable answer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playground.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "assets" / "prompts"


@dataclass(frozen=True)
class Prompt:
    id: str
    category: str
    prompt: str
    reference: str | None = None


def load_prompts(name: str, per_category: int | None = None) -> list[Prompt]:
    """A prompt set by name (assets/prompts/NAME.jsonl) or path; optionally the first
    `per_category` prompts of each category."""
    path = Path(name)
    if not path.exists():
        path = PROMPTS_DIR / f"{name}.jsonl"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.jsonl")))
        raise ConfigError(f"no prompt set {name!r}; known sets: {known}, or give a .jsonl path")
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt = Prompt(**row)
        except (json.JSONDecodeError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: not a prompt record ({exc})") from exc
        seen[prompt.category] = seen.get(prompt.category, 0) + 1
        if per_category is None or seen[prompt.category] <= per_category:
            prompts.append(prompt)
    return prompts
