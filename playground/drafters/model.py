"""Draft with a causal LM that shares the target's tokenizer (Leviathan et al. 2023).

The drafter keeps its own KV cache and the ids it holds; each round it crops the cache
to the longest common prefix with the committed context and feeds only the rest, so the
accepted prefix is never recomputed, and a fully accepted draft is completed by feeding
its last token next round. It samples with the same temperature / top-k / top-p as the
target and records the distribution each token was drawn from (q_draft).

Registered as `model` (a separate model), `target` (the target drafting for itself,
every token should be accepted; for tests) and `random` (a tiny randomly initialised
model over the target's vocabulary: almost nothing accepted, output unchanged).
"""

from __future__ import annotations

import torch

from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.engine import cache as kv
from playground.engine.logits import LogitsProcessor
from playground.engine.tree import Draft
from playground.errors import ConfigError, IncompatibleError
from playground.models.handle import ModelHandle
from playground.schedules.base import Schedule
from playground.schedules.features import token_features


class ModelDrafter(Drafter):
    def __init__(self, drafter: ModelHandle, target: ModelHandle, ctx: DrafterContext):
        self.handle = drafter
        self.target_vocab = target.vocab_size
        self.processor = LogitsProcessor(ctx.config)
        self.cache = kv.new_cache()
        self.cached_ids: list[int] = []

    def start(self, prompt_ids: list[int]) -> None:
        self.cache = kv.new_cache()
        self.cached_ids = []

    @torch.inference_mode()
    def _forward(self, ids: list[int]) -> torch.Tensor:
        """Feed ids after the cached ones; logits of the last position, target width."""
        model = self.handle.model
        input_ids = torch.tensor([ids], device=self.handle.device)
        out = model(
            input_ids=input_ids, past_key_values=self.cache, use_cache=True, logits_to_keep=1
        )
        self.cached_ids.extend(ids)
        logits = out.logits[0, -1].float()  # (drafter_vocab,)
        width = self.target_vocab
        if logits.shape[0] >= width:
            return logits[:width].cpu()
        pad = torch.full((width - logits.shape[0],), float("-inf"))
        return torch.cat([logits.cpu(), pad])  # (target_vocab,)

    @torch.inference_mode()
    def _tree_logits(self, ids: list[int], inputs: dict) -> torch.Tensor:
        """Feed tree nodes `ids` after the cached slots with the tree-attention `inputs` of
        `engine.tree.tree_attention_inputs`; float logits (rows, target_vocab). The cache
        keeps the nodes (the caller rolls the tree back)."""
        input_ids = torch.tensor([ids], device=self.handle.device)
        out = self.handle.model(
            input_ids=input_ids, past_key_values=self.cache, use_cache=True, **inputs
        )
        return to_width(out.logits[0].float().cpu(), self.target_vocab)  # (rows, vocab)

    def _sync(self, context: list[int]) -> list[int]:
        """Crop the cache to what it shares with `context`; return the ids still to feed."""
        keep = min(kv.common_prefix(self.cached_ids, context), len(context) - 1)
        kv.truncate(self.cache, keep)
        del self.cached_ids[keep:]
        return context[keep:]

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        logits = self._forward(self._sync(context))
        tokens: list[int] = []
        rows: list[torch.Tensor] = []
        features = []
        for position in range(1, num_draft_tokens + 1):
            dist = self.processor(logits[None])
            token = dist.sample(0, rng)
            tokens.append(token)
            features.append(token_features(logits, token))
            q_token = None
            if not dist.greedy:
                rows.append(dist.probs[0])
                q_token = float(rows[-1][token])
            if position == num_draft_tokens or not schedule.keep_drafting(
                position, q_token, features[-1]
            ):
                break
            logits = self._forward([token])
        q_draft = torch.stack(rows) if rows else None  # (num_nodes, target_vocab)
        extra = {"features": [f.as_list() for f in features]}
        return Draft.chain(torch.tensor(tokens, dtype=torch.long), q_draft, extra=extra)


def to_width(logits: torch.Tensor, width: int) -> torch.Tensor:
    """(rows, drafter_vocab) logits cut or padded with -inf to the target's vocabulary."""
    if logits.shape[-1] >= width:
        return logits[:, :width]
    pad = torch.full((logits.shape[0], width - logits.shape[-1]), float("-inf"))
    return torch.cat([logits, pad], dim=-1)  # (rows, width)


def check_shared_vocabulary(drafter: ModelHandle, target: ModelHandle) -> None:
    """Raise IncompatibleError unless both tokenizers map the same strings to the same ids."""
    if drafter.tokenizer is target.tokenizer:
        return
    if drafter.tokenizer.get_vocab() != target.tokenizer.get_vocab():
        raise IncompatibleError(
            f"drafter {drafter.spec} uses another tokenizer than target {target.spec}; "
            "the 'model' drafter needs a shared vocabulary. For different vocabularies use "
            "the 'cross_tokenizer' drafter with a sampler that handles them (tli, slem, slrs)"
        )


@DRAFTERS.register(
    "model",
    summary="a smaller causal LM with the target's tokenizer drafts a chain",
    paper="Leviathan et al. 2023 (arXiv 2211.17192); Chen et al. 2023 (arXiv 2302.01318)",
    tags=("model",),
)
def model_drafter(ctx: DrafterContext) -> ModelDrafter:
    if not ctx.spec.drafter_model:
        raise ConfigError("the 'model' drafter needs drafter_model (e.g. a Hub id or bundled:...)")
    handle = ctx.load(ctx.spec.drafter_model)
    check_shared_vocabulary(handle, ctx.target)
    return ModelDrafter(handle, ctx.target, ctx)


@DRAFTERS.register(
    "target",
    summary="the target drafts for itself (a test of the engine: everything is accepted)",
    paper="sanity check; acceptance must be 1.0 at temperature 0",
)
def target_drafter(ctx: DrafterContext) -> ModelDrafter:
    return ModelDrafter(ctx.target, ctx.target, ctx)


@DRAFTERS.register(
    "random",
    summary="a tiny randomly initialised model over the target's vocabulary (worst case)",
    paper="sanity check; output must equal plain decoding's",
)
def random_drafter(ctx: DrafterContext) -> ModelDrafter:
    from transformers import LlamaConfig, LlamaForCausalLM

    target = ctx.target
    config = LlamaConfig(
        vocab_size=target.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=max(target.max_context, 2048),
    )
    with torch.random.fork_rng():
        torch.manual_seed(ctx.spec.options.get("random_seed", 1234))
        model = LlamaForCausalLM(config).eval().requires_grad_(False).to(target.device)
    handle = ModelHandle(
        spec="random",
        model=model,
        tokenizer=target.tokenizer,
        device=target.device,
        dtype=torch.float32,
        source="random init",
    )
    return ModelDrafter(handle, target, ctx)
