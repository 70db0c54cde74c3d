"""A pruned-vocabulary drafter: a same-tokenizer model whose LM head keeps only N tokens.

The drafter is the target itself, or `SpecConfig.drafter_model` when it shares the
target's tokenizer, optionally cut to its first `layers` decoder layers. Nothing is
copied but the kept rows of the LM head (N × hidden): the body is a shallow copy of the
model's decoder whose config says `num_hidden_layers = layers`, so it runs the first
layers of the *same* modules, embeddings and final norm included.

Which tokens the head keeps (`keep_tokens`, else `keep_fraction` of the target
vocabulary): the N with the highest calibration frequency, where frequency = count in the
target's encoding of the calibration text + the target's expected count there (the sum
of its predicted probabilities over every position, one teacher-forced forward), ties by
id, plus the end-of-sequence ids. The calibration text is `options["calibration_text"]`,
by default the English corpus the project ships for its tiny models
(`playground.models.tiny.CORPUS`); the expected counts rank the many tokens the short
text never spells. Selections are cached per (target, N, text).

Its vocabulary is a subset of the target's and it reads every target token, so it
serves (tags `draft:<kind>`, see `drafters.proposal`): tli (q' = its own distribution,
zero outside the kept set), slem (its tokens verified by exact match) and rdk /
rdk_linear (the kernel moves mass to pruned tokens; the drafter feeds whatever token was
drawn to its body, which embeds the full vocabulary).
"""

from __future__ import annotations

import copy
import hashlib
import logging
from typing import Any

import torch

from playground.analysis.vocab import expected_counts
from playground.config import KEEP_FRACTION, KEEP_TOKENS, PRUNED_LAYERS, read_option
from playground.drafters.base import DRAFTERS, DrafterContext
from playground.drafters.model import ModelDrafter, check_shared_vocabulary
from playground.drafters.proposal import KERNEL, TEXT, TOKEN, proposal_kind
from playground.engine.logits import LogitsProcessor
from playground.engine.tree import Draft
from playground.errors import ConfigError
from playground.models.handle import ModelHandle
from playground.samplers.base import Distribution
from playground.samplers.rdk import AffinityKernel, make_kernel
from playground.schedules.base import Schedule

logger = logging.getLogger(__name__)

_SELECTIONS: dict[tuple[str, int, int, str], torch.Tensor] = {}


def keep_count(options: dict[str, Any], vocab_size: int) -> int:
    """N from `keep_tokens` or `keep_fraction` (validated; not both)."""
    if KEEP_TOKENS.name in options and KEEP_FRACTION.name in options:
        raise ConfigError("give keep_tokens or keep_fraction for the pruned drafter, not both")
    count = read_option(options, KEEP_TOKENS)
    if count == 0:
        count = round(read_option(options, KEEP_FRACTION) * vocab_size)
    if count > vocab_size:
        raise ConfigError(f"keep_tokens ({count}) exceeds the target vocabulary ({vocab_size})")
    return max(count, 1)


def pruned_keep_ids(handle: ModelHandle, options: dict[str, Any]) -> torch.Tensor:
    """The ids a pruned head keeps, as the options say (`keep_tokens` / `keep_fraction`,
    optional `calibration_text`): shared by every drafter with a pruned head."""
    text = options.get("calibration_text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ConfigError("calibration_text must be non-empty text")
    count = keep_count(options, handle.vocab_size)
    logger.info("pruned head keeps %d of %d tokens", count, handle.vocab_size)
    return calibration_keep_ids(handle, count, text)


def calibration_keep_ids(handle: ModelHandle, count: int, text: str | None = None) -> torch.Tensor:
    """The `count` target ids with the highest calibration frequency (sorted ascending)."""
    if text is None:
        from playground.models.tiny import CORPUS

        text = CORPUS
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
    key = (handle.spec, handle.vocab_size, count, digest)
    if key not in _SELECTIONS:
        ids = handle.encode(text)[:1024]
        score = expected_counts(handle, ids)  # (vocab,)
        score.index_add_(0, torch.tensor(ids[1:]), torch.ones(len(ids) - 1, dtype=score.dtype))
        eos = torch.tensor(sorted(handle.eos_token_ids), dtype=torch.long)
        eos = eos[eos < handle.vocab_size]
        score[eos] = float("inf")
        order = torch.argsort(score, descending=True, stable=True)  # ties: lower id first
        _SELECTIONS[key] = order[:count].sort().values
    return _SELECTIONS[key]


def truncated_body(model: Any, layers: int) -> Any:
    """The model's decoder running only its first `layers` layers, sharing every module."""
    decoder = model.base_model
    total = int(decoder.config.num_hidden_layers)
    if layers == 0 or layers == total:
        return decoder
    if layers > total:
        raise ConfigError(f"layers={layers} but the drafter model has {total} decoder layers")
    body = copy.copy(decoder)  # new attribute dict, same submodules and parameters
    body.config = copy.copy(decoder.config)
    body.config.num_hidden_layers = layers
    return body


class KernelProcessor:
    """LogitsProcessor whose distributions go through the RDK kernel (q' -> q_RDK)."""

    def __init__(self, base: LogitsProcessor, kernel: AffinityKernel):
        self.base, self.kernel = base, kernel
        self.config = base.config

    def __call__(self, logits: torch.Tensor, seen: torch.Tensor | None = None) -> Distribution:
        dist = self.base(logits, seen)
        q_rdk = self.kernel.apply(dist.probs)  # (rows, target_vocab)
        if dist.greedy:
            return Distribution(logits=q_rdk.log(), greedy=True)
        return Distribution(probs=q_rdk)


class PrunedDrafter(ModelDrafter):
    vocabulary = "other"

    def __init__(
        self,
        source: ModelHandle,
        target: ModelHandle,
        ctx: DrafterContext,
        keep_ids: torch.Tensor,
        kind: str,
    ):
        super().__init__(source, target, ctx)
        model = source.model
        self.kind = kind
        self.keep_ids = keep_ids  # (keep,) target ids
        self.body = truncated_body(model, read_option(ctx.spec.options, PRUNED_LAYERS))
        head = model.get_output_embeddings().weight.detach()
        self.head = head[keep_ids.to(head.device)].clone()  # (keep, hidden): the only copy
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        if kind == KERNEL:
            kernel = make_kernel(ctx.spec.sampler, target, keep_ids, ctx.spec.options)
            self.processor = KernelProcessor(self.processor, kernel)

    @torch.inference_mode()
    def _forward(self, ids: list[int]) -> torch.Tensor:
        """Feed ids after the cached ones; logits of the kept tokens, -inf elsewhere."""
        input_ids = torch.tensor([ids], device=self.handle.device)
        out = self.body(input_ids=input_ids, past_key_values=self.cache, use_cache=True)
        self.cached_ids.extend(ids)
        hidden = out.last_hidden_state[0, -1]  # (hidden,)
        kept = (self.head @ hidden).float().cpu()  # (keep,)
        if self.softcap:
            kept = torch.tanh(kept / self.softcap) * self.softcap
        logits = torch.full((self.target_vocab,), float("-inf"))  # (target_vocab,)
        logits[self.keep_ids] = kept
        return logits

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        draft = super().propose(context, num_draft_tokens, schedule, rng)
        draft.extra["proposal"] = self.kind
        if self.kind == TEXT:
            draft.q_draft = None  # verified by exact match: the tokens are what matters
        return draft


@DRAFTERS.register(
    "pruned",
    summary="the target (or a same-tokenizer model), optionally fewer layers, with an LM head "
    "cut to the N most frequent tokens (for tli, slem, rdk)",
    paper="Timor et al. 2025, arXiv 2506.03206 (pruned drafters); Goel et al. 2025, VocabTrim",
    tags=("cross_vocab", "draft:token", "draft:text", "draft:kernel"),
)
def pruned_drafter(ctx: DrafterContext) -> PrunedDrafter:
    kind = proposal_kind(ctx.spec.sampler, "pruned", (TOKEN, TEXT, KERNEL))
    source = ctx.target
    if ctx.spec.drafter_model:
        source = ctx.load(ctx.spec.drafter_model)
        check_shared_vocabulary(source, ctx.target)
    keep_ids = pruned_keep_ids(ctx.target, ctx.spec.options)
    return PrunedDrafter(source, ctx.target, ctx, keep_ids, kind)
