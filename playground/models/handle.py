"""`ModelHandle`: what every part of SpecLab gets from `load_model`.

A handle bundles the model, its tokenizer, where it runs, and a normalised view of its
vocabulary (every token id mapped to the text it stands for), so the engine never needs
to know where the weights came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch


@dataclass(eq=False)
class ModelHandle:
    spec: str  # what the user asked for, e.g. "bundled:gemma-3-270m"
    model: Any  # a transformers causal LM in eval mode
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    # How the weights were obtained ("bundled gguf (cached)", "hub", "local dir", ...).
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def vocab_size(self) -> int:
        """Width of the model's output distribution (may exceed len(tokenizer))."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def max_context(self) -> int:
        return int(getattr(self.config, "max_position_embeddings", 0) or 2048)

    @cached_property
    def eos_token_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.config, self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            if value is None:
                continue
            ids.update(value if isinstance(value, (list, tuple, set)) else [value])
        return frozenset(int(i) for i in ids)

    @cached_property
    def token_strings(self) -> list[str]:
        """Text of every token id, normalised across tokenizer families."""
        from playground.models.vocab import normalised_vocabulary

        return normalised_vocabulary(self.tokenizer, self.vocab_size)

    def encode(self, text: str) -> list[int]:
        """Token ids for `text`, with the special tokens (e.g. BOS) the model expects."""
        return list(self.tokenizer(text)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    @property
    def name(self) -> str:
        return self.spec
