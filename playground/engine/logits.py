"""Turn raw logits into the processed distributions samplers compare.

Order (as in transformers' generate): repetition penalty, temperature, top-k, top-p.
Temperature 0 means greedy: rows become one-hot at the argmax of the penalised logits.
The same processor serves the target and model drafters, so "lossless" always means
"follows the processed target distribution".
"""

from __future__ import annotations

import torch

from playground.config import GenerationConfig
from playground.engine.rowops import row_topk
from playground.samplers.base import Distribution


class LogitsProcessor:
    def __init__(self, config: GenerationConfig):
        self.config = config

    def __call__(self, logits: torch.Tensor, seen: torch.Tensor | None = None) -> Distribution:
        """logits: (rows, vocab) raw; seen: (rows, vocab) bool, the tokens each row has seen."""
        cfg = self.config
        logits = logits.float()
        if cfg.repetition_penalty != 1.0 and seen is not None:
            logits = apply_repetition_penalty(logits, seen, cfg.repetition_penalty)
        if cfg.greedy:
            return Distribution(logits=logits, greedy=True)
        logits = logits / cfg.temperature
        if cfg.top_k and cfg.top_k < logits.shape[-1]:
            kth = row_topk(logits, cfg.top_k)[0][:, -1:]  # (rows, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if cfg.top_p < 1.0:
            logits = apply_top_p(logits, cfg.top_p)
        return Distribution(logits=logits)

    @property
    def uses_history(self) -> bool:
        return self.config.repetition_penalty != 1.0


def apply_repetition_penalty(
    logits: torch.Tensor, seen: torch.Tensor, penalty: float
) -> torch.Tensor:
    """CTRL (Keskar et al. 2019): divide positive logits of seen tokens, multiply negative ones."""
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)  # (rows, vocab)
    return torch.where(seen, penalised, logits)


def apply_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches top_p (at least one)."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (rows, vocab)
    mass_before = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    mass_before = mass_before - sorted_logits.softmax(dim=-1)  # mass strictly above each token
    drop_sorted = mass_before >= top_p
    drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
