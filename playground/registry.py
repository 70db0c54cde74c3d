"""Registries: drafters, samplers and schedules are chosen by name.

Each entry carries a one-line summary, the paper it follows and whether it is lossless,
so the UI, the CLI and the benchmark list exactly what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from playground.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    summary: str
    paper: str = ""
    lossless: bool = True
    # Capabilities that decide which partners fit (checked by `engine.build`):
    # samplers: "trees" (verifies token trees), "cross_vocab" (drafters with another
    # vocabulary); drafters: "tree" (proposes trees), "cross_vocab" (drafts in another
    # vocabulary), "model" (needs a drafter model).
    tags: frozenset[str] = field(default_factory=frozenset)
    # For lossy entries: the distribution the output follows instead of the target's.
    follows: str = ""


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        *,
        summary: str,
        paper: str = "",
        lossless: bool = True,
        tags: tuple[str, ...] = (),
        follows: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if not lossless and not follows:
                raise ValueError(f"lossy {self.kind} {name!r} must say what it follows")
            self._entries[name] = Entry(
                name, factory, summary, paper, lossless, frozenset(tags), follows
            )
            return factory

        return decorate

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __contains__(self, name: object) -> bool:
        return name in self._entries
