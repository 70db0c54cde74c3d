"""Baselines run through transformers' own `generate`, in the same process as ours.

- `hf`: plain greedy/sampled generation.
- `hf_prompt_lookup`: `generate(prompt_lookup_num_tokens=…)`.
- `hf_assisted`: `generate(assistant_model=…)` with the draft length fixed on the
  assistant's generation_config (so it is honoured), and `tokenizer`/`assistant_tokenizer`
  when the vocabularies differ (universal assisted generation).
Every run generates exactly `max_new_tokens` tokens (min = max), like ours with EOS off.
They run transformers' stock kernels (`engine.speed.stock_kernels`), as a user gets them.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from playground.config import GenerationConfig
from playground.engine.speed import stock_kernels
from playground.models.handle import ModelHandle

HF_METHODS = ("hf", "hf_prompt_lookup", "hf_assisted")


@dataclass
class BaselineRun:
    token_ids: list[int]
    seconds: float


@torch.inference_mode()
def run_hf(
    method: str,
    target: ModelHandle,
    prompt: str,
    config: GenerationConfig,
    num_draft_tokens: int,
    assistant: ModelHandle | None = None,
) -> BaselineRun:
    ids = torch.tensor([target.encode(prompt)], device=target.device)
    kwargs: dict = {
        "max_new_tokens": config.max_new_tokens,
        "min_new_tokens": config.max_new_tokens,
        "do_sample": not config.greedy,
        "attention_mask": torch.ones_like(ids),
        "pad_token_id": target.tokenizer.pad_token_id or 0,
    }
    if not config.greedy:
        kwargs.update(
            temperature=config.temperature, top_k=config.top_k or None, top_p=config.top_p
        )
    if method == "hf_prompt_lookup":
        kwargs["prompt_lookup_num_tokens"] = num_draft_tokens
    elif method == "hf_assisted":
        if assistant is None:
            raise ValueError("hf_assisted needs an assistant model")
        generation = assistant.model.generation_config
        generation.num_assistant_tokens = num_draft_tokens
        generation.num_assistant_tokens_schedule = "constant"
        generation.assistant_confidence_threshold = 0.0
        kwargs["assistant_model"] = assistant.model
        if assistant.tokenizer.get_vocab() != target.tokenizer.get_vocab():
            kwargs.update(tokenizer=target.tokenizer, assistant_tokenizer=assistant.tokenizer)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(config.seed)
    with contextlib.ExitStack() as stack:
        stack.enter_context(stock_kernels(target.model))
        if assistant is not None:
            stack.enter_context(stock_kernels(assistant.model))
        start = time.perf_counter()
        out = target.model.generate(ids, **kwargs)
        seconds = time.perf_counter() - start
    torch.random.set_rng_state(generator_state)
    return BaselineRun(out[0, ids.shape[1] :].tolist(), seconds)
