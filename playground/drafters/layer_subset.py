"""Run a causal LM with a subset of its decoder layers, sharing every module.

Self-speculative drafters (`layer_skip`) run the target itself with some layers left
out: early exit after k layers, or interior layers skipped. `LayerSubset` runs the
decoder layers in a loop of its own with the model's own embedding, rotary embeddings,
final norm and LM head, so no weight is copied (except, optionally, the kept rows of a
pruned head). It builds the masks itself: an additive float mask per layer type,
causal, and windowed for sliding-window layers (query position - key position <
window, as transformers defines it).

Its KV cache (`SubsetCache`) is a config-less `DynamicCache`, so every layer keeps all
positions and can be rolled back at any length; skipped layers stay uninitialised.
A `DynamicCache` reports its length from layer 0, which a skip set may leave out, so
`SubsetCache` reports the length of its first kept layer instead and `engine.cache`'s
crop and length helpers work on it unchanged.

Supports decoder-only models whose base model has `embed_tokens`, `layers`, `norm` and
`rotary_emb` (Llama, Qwen2, Mistral, Gemma 3 and most current causal LMs), on eager or
sdpa attention (flash attention takes no additive masks).
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import torch
from transformers import DynamicCache

from playground.errors import IncompatibleError


class SubsetCache(DynamicCache):
    """A rollback-friendly cache whose length is read from its first kept layer."""

    def __init__(self, first_layer: int):
        super().__init__()
        self.first_layer = first_layer

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return super().get_seq_length(self.first_layer)


def parse_layers(text: Any, num_layers: int) -> list[int]:
    """Kept layers from an int k (the first k: early exit; 0 = all, as the `layers` knob
    reads for the pruned drafter) or a list like "0-8,12".

    Items are separated by "," or "+" (use "+" inside bench method strings, which are
    themselves comma-separated); "a-b" is inclusive.
    """
    if isinstance(text, bool):
        raise IncompatibleError(f"layers must be a number or a list like 0-8+12, got {text!r}")
    if isinstance(text, int):
        text = text or num_layers
        if not 1 <= text <= num_layers:
            raise IncompatibleError(f"layers={text}: the model has {num_layers} decoder layers")
        return list(range(text))
    kept: set[int] = set()
    for item in str(text).replace("+", ",").split(","):
        first, dash, last = item.strip().partition("-")
        try:
            lo, hi = int(first), int(last if dash else first)
        except ValueError:
            raise IncompatibleError(
                f"layers={text!r}: expected layer indices like 0-8+12 (or 0-8,12)"
            ) from None
        kept.update(range(lo, hi + 1))
    if not kept or min(kept) < 0 or max(kept) >= num_layers:
        raise IncompatibleError(
            f"layers={text!r}: indices must lie in 0..{num_layers - 1} (the model's layers)"
        )
    return sorted(kept)


def format_layers(layers: list[int]) -> str:
    """The inverse of `parse_layers` for lists: [0, 1, 2, 5] -> "0-2+5"."""
    runs: list[list[int]] = []
    for i in layers:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return "+".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs)


class LayerSubset:
    """The target with only `layers` of its decoder layers (indices in model order)."""

    def __init__(self, model: Any, layers: list[int], head_rows: torch.Tensor | None = None):
        decoder = model.get_decoder()
        for name in ("embed_tokens", "layers", "norm", "rotary_emb"):
            if not hasattr(decoder, name):
                raise IncompatibleError(
                    f"{type(model).__name__} has no decoder.{name}: layer skipping supports "
                    "Llama-style decoders (Llama, Qwen2, Mistral, Gemma 3 ...)"
                )
        config = model.config
        self.decoder = decoder
        self.num_layers = len(decoder.layers)
        self.layers = sorted(layers)
        self.layer_types = list(
            getattr(config, "layer_types", None) or ["full_attention"] * self.num_layers
        )
        self.window = getattr(config, "sliding_window", None)
        self.head = model.get_output_embeddings()
        self.head_rows = head_rows  # (keep, hidden) or None: the full head
        self.softcap = getattr(config, "final_logit_softcapping", None)
        params = inspect.signature(decoder.rotary_emb.forward).parameters
        self.rotary_by_type = "layer_type" in params

    def new_cache(self) -> SubsetCache:
        return SubsetCache(self.layers[0])

    def embed(self, ids: list[int]) -> torch.Tensor:
        device = self.decoder.embed_tokens.weight.device
        return self.decoder.embed_tokens(torch.tensor([ids], device=device))  # (1, n, hidden)

    def run(
        self,
        hidden: torch.Tensor,
        cache: DynamicCache,
        start: int,
        layers: list[int] | None = None,
        collect: bool = False,
        clock: list[float] | None = None,
        tree: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run `layers` (default: the kept ones) on hidden (1, n, hidden) at positions
        start.. after `start` cached slots; the output, and with `collect` the input of
        every layer run plus the output (before the final norm). A `clock` list gets
        `time.perf_counter()` appended before the first layer and after each one.

        `tree`: the inputs `engine.tree.tree_attention_inputs` builds (an additive mask,
        or one per layer type, and `position_ids`), used instead of the causal ones when
        the rows are tree nodes."""
        n = hidden.shape[1]
        if tree is None:
            positions = torch.arange(start, start + n, device=hidden.device)[None]  # (1, n)
            masks = self._masks(start, n, hidden.dtype, hidden.device)
        else:
            positions = tree["position_ids"]  # (1, n)
            mask = tree["attention_mask"]
            masks = mask if isinstance(mask, dict) else dict.fromkeys(set(self.layer_types), mask)
        rotary = self._rotary(hidden, positions)
        seen: list[torch.Tensor] = []
        if clock is not None:
            clock.append(time.perf_counter())
        for index in self.layers if layers is None else layers:
            if collect:
                seen.append(hidden)
            kind = self.layer_types[index]
            out = self.decoder.layers[index](
                hidden,
                attention_mask=masks[kind],
                position_embeddings=rotary[kind],
                position_ids=positions,
                past_key_values=cache,
            )
            hidden = out[0] if isinstance(out, tuple) else out  # (1, n, hidden)
            if clock is not None:
                clock.append(time.perf_counter())
        if collect:
            seen.append(hidden)
        return hidden, seen

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm and head of hidden (rows, hidden): float logits (rows, head rows)."""
        normed = self.decoder.norm(hidden)
        if self.head_rows is None:
            return self._cap(self.head(normed[None])[0].float())  # (rows, vocab)
        return self._cap((normed @ self.head_rows.T).float())  # (rows, keep)

    def logits_over(self, hidden: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits of the full head's rows `ids` (m,) only: float (rows, m)."""
        rows = self.head.weight[ids.to(self.head.weight.device)]  # (m, hidden)
        return self._cap((self.decoder.norm(hidden) @ rows.T).float())

    def _cap(self, out: torch.Tensor) -> torch.Tensor:
        if self.softcap:
            out = torch.tanh(out / self.softcap) * self.softcap
        return out

    def forward(self, ids: list[int], cache: DynamicCache, start: int) -> torch.Tensor:
        """Feed ids after `start` cached tokens; logits of the last position (head rows,)."""
        hidden, _ = self.run(self.embed(ids), cache, start)
        return self.logits(hidden[0, -1:])[0].cpu()  # (head rows,)

    def _masks(self, start: int, n: int, dtype: torch.dtype, device: torch.device) -> dict:
        query = torch.arange(start, start + n)[:, None]  # (n, 1)
        key = torch.arange(start + n)[None]  # (1, start + n)
        visible = {"full_attention": key <= query}  # (n, start + n)
        if self.window:
            visible["sliding_attention"] = (key <= query) & (query - key < self.window)
        low = torch.finfo(dtype).min
        return {
            kind: torch.zeros(v.shape, dtype=dtype).masked_fill_(~v, low)[None, None].to(device)
            for kind, v in visible.items()
        }  # each (1, 1, n, start + n)

    def _rotary(self, hidden: torch.Tensor, positions: torch.Tensor) -> dict:
        rotary = self.decoder.rotary_emb
        kinds = set(self.layer_types)
        if self.rotary_by_type:
            return {kind: rotary(hidden, positions, kind) for kind in kinds}
        shared = rotary(hidden, positions)
        return dict.fromkeys(kinds, shared)
