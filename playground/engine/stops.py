"""When to stop: the token budget, end-of-sequence tokens and stop strings.

A round may emit several tokens at once; `take` cuts them at the first stop condition.
EOS is kept in the output ids (as transformers does) and hidden from decoded text. A stop
string ends generation at the token that completes it; that token is kept.
"""

from __future__ import annotations

from playground.config import GenerationConfig
from playground.models.handle import ModelHandle


class StopChecker:
    def __init__(self, target: ModelHandle, config: GenerationConfig):
        self.target = target
        self.config = config
        self.eos = target.eos_token_ids if config.stop_at_eos else frozenset()
        self.generated: list[int] = []
        self.reason = ""

    @property
    def num_generated(self) -> int:
        return len(self.generated)

    def take(self, tokens: list[int]) -> tuple[list[int], bool]:
        """The prefix of `tokens` to emit, and whether generation is over."""
        budget = self.config.max_new_tokens - len(self.generated)
        kept: list[int] = []
        for token in tokens[:budget]:
            kept.append(token)
            if token in self.eos:
                self.reason = "eos"
                break
            if self.config.stop_strings and self._stop_string_completed(kept):
                self.reason = "stop_string"
                break
        self.generated.extend(kept)
        if not self.reason and len(self.generated) >= self.config.max_new_tokens:
            self.reason = "max_new_tokens"
        return kept, bool(self.reason)

    def _stop_string_completed(self, kept: list[int]) -> bool:
        text = self.target.decode(self.generated + kept)
        # The stop string must end inside the newest token: look only at the tail.
        tail = max(len(s) for s in self.config.stop_strings) + 64
        return any(s in text[-tail:] for s in self.config.stop_strings)
