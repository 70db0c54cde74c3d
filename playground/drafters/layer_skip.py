"""Self-speculative decoding: the target drafts for itself with some layers left out.

Draft & Verify (Zhang et al. 2023, arXiv 2309.08168) and SWIFT (Xia et al. 2024,
arXiv 2410.06916) skip interior layers; Kangaroo (Liu et al. 2024, arXiv 2404.18911)
exits early (here without its trained adapter). No training and no second model: the
drafter is the target run through `LayerSubset`, which shares every module, with its own
KV cache for the kept layers, synced to the committed text by `ModelDrafter`'s
common-prefix logic. Sampling and q_draft are `ModelDrafter`'s, so a lossless sampler
keeps the output exactly the target's (greedy: exactly plain greedy).

Options (`SpecConfig.options`):
- `layers`: an int k keeps the first k layers (early exit after k); a list such as
  "0-8+12" keeps exactly those ("," also separates items, except inside bench method
  strings, which are comma-separated themselves); "search" (the default) picks a set on
  the current text at the first round (`drafters.layer_search`, cost stated there).
- `search_window`, `search_rows`: the search's probe.

Registered three times over one class:
- `layer_skip`: the full LM head; any chain sampler (greedy, speculative, ...).
- `layer_skip_tree`: the same drafter growing a token tree by the `tree` option
  (`drafters.tree`); each level is one forward of the kept layers with tree attention
  (`LayerSubset.run(..., tree=...)`), verified by the tree samplers. With `keep_tokens` /
  `keep_fraction` its head is pruned as below; the tree samplers need no correction for
  that (the drafts come from q itself, or from deterministic top-k).
- `layer_skip_pruned`: the head cut to the `keep_tokens` / `keep_fraction` most frequent
  tokens, chosen as the `pruned` drafter chooses them (its only copied weights are those
  rows). Its distribution is zero outside the kept tokens, so it is verified like the
  pruned drafter's: `tli` (q' is its own distribution) or `rdk` / `rdk_linear` (a kernel
  moves mass back to pruned tokens).
"""

from __future__ import annotations

import logging

import torch

from playground.config import SEARCH_ROWS, SEARCH_WINDOW, read_option
from playground.drafters.base import DRAFTERS, DrafterContext
from playground.drafters.layer_search import Candidate, search_layers, widen
from playground.drafters.layer_subset import LayerSubset, format_layers, parse_layers
from playground.drafters.model import ModelDrafter
from playground.drafters.proposal import KERNEL, TOKEN, proposal_kind
from playground.drafters.tree import TREE_PAPERS, TreeDrafter, tree_drafter_over
from playground.drafters.tree_spec import parse_tree_spec
from playground.engine.logits import LogitsProcessor
from playground.engine.tree import Draft
from playground.models.handle import ModelHandle
from playground.schedules.base import Schedule

logger = logging.getLogger(__name__)

SEARCH = "search"


class LayerSkipDrafter(ModelDrafter):
    def __init__(
        self,
        target: ModelHandle,
        ctx: DrafterContext,
        keep_ids: torch.Tensor | None = None,
        kind: str | None = None,
    ):
        super().__init__(target, target, ctx)
        model = target.model
        self.model = model
        self.spec = ctx.spec
        choice = ctx.spec.options.get("layers", SEARCH)
        num_layers = len(model.get_decoder().layers)
        self.fixed = None if choice == SEARCH else parse_layers(choice, num_layers)
        self.keep_ids = keep_ids  # (keep,) target ids, or None for the full head
        self.kind = kind
        self.head_rows = None
        if keep_ids is not None:
            head = model.get_output_embeddings().weight.detach()
            self.head_rows = head[keep_ids.to(head.device)].clone()  # (keep, hidden): the copy
        self.candidates: list[Candidate] = []  # the last search's scores, best first
        self.subset: LayerSubset | None = None
        self._use(self.fixed)

    @property
    def layers(self) -> list[int] | None:
        return None if self.subset is None else self.subset.layers

    def _use(self, layers: list[int] | None) -> None:
        self.subset = None if layers is None else LayerSubset(self.model, layers, self.head_rows)
        self.cache = self.subset.new_cache() if self.subset else None
        self.cached_ids = []

    def start(self, prompt_ids: list[int]) -> None:
        self._use(self.fixed)  # a search runs again on each new text

    def search(self, context: list[int]) -> Candidate:
        """Run the layer search on `context` and switch to its best set."""
        options = self.spec.options
        self.candidates = search_layers(
            self.model,
            context,
            read_option(options, SEARCH_WINDOW),
            read_option(options, SEARCH_ROWS),
            self.spec.max_draft_tokens,
            LogitsProcessor(self.processor.config),
            self.keep_ids,
            self.head_rows,
        )
        best = self.candidates[0]
        logger.info("layer_skip keeps %s", format_layers(best.layers))
        self._use(best.layers)
        return best

    def _sync(self, context: list[int]) -> list[int]:
        if self.subset is None:
            self.search(context)  # the first round of a text picks the layers
        return super()._sync(context)

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        draft = super().propose(context, num_draft_tokens, schedule, rng)
        if self.kind is not None:
            draft.extra["proposal"] = self.kind
        return draft

    @torch.inference_mode()
    def _forward(self, ids: list[int]) -> torch.Tensor:
        """Feed ids after the cached ones; logits of the last position (target_vocab,)."""
        logits = self.subset.forward(ids, self.cache, len(self.cached_ids))  # (head rows,)
        self.cached_ids.extend(ids)
        return widen(logits[None], self.keep_ids, self.target_vocab)[0]

    @torch.inference_mode()
    def _tree_logits(self, ids: list[int], inputs: dict) -> torch.Tensor:
        """Tree nodes through the kept layers with the tree's masks and positions."""
        subset = self.subset
        hidden, _ = subset.run(subset.embed(ids), self.cache, len(self.cached_ids), tree=inputs)
        logits = subset.logits(hidden[0]).cpu()  # (rows, head rows)
        return widen(logits, self.keep_ids, self.target_vocab)  # (rows, target_vocab)


@DRAFTERS.register(
    "layer_skip",
    summary="the target drafts for itself with some layers skipped (early exit, skipped "
    "middle block, or a set searched on the current text)",
    paper="Zhang et al. 2023, Draft & Verify (arXiv 2309.08168); Xia et al. 2024, SWIFT "
    "(arXiv 2410.06916); Liu et al. 2024, Kangaroo (arXiv 2404.18911)",
)
def layer_skip_drafter(ctx: DrafterContext) -> LayerSkipDrafter:
    return LayerSkipDrafter(ctx.target, ctx)


@DRAFTERS.register(
    "layer_skip_tree",
    summary="layer_skip grows a token tree, one forward of the kept layers per level "
    "(option tree=static:3-2-1 | topk:K | dynamic:N | sample:… | gumbel_topk:… | beam:W | "
    "chains:K)",
    paper="Draft & Verify / SWIFT layer skipping, drafting the trees of " + TREE_PAPERS,
    tags=("tree",),
)
def layer_skip_tree_drafter(ctx: DrafterContext) -> TreeDrafter:
    from playground.config import KEEP_FRACTION, KEEP_TOKENS
    from playground.drafters.pruned import pruned_keep_ids

    options = ctx.spec.options
    parse_tree_spec(options)  # a bad spec fails before anything is built
    keep_ids = None
    if KEEP_TOKENS.name in options or KEEP_FRACTION.name in options:
        # A pruned head: drafts only among the kept tokens, its q zero elsewhere. The tree
        # samplers stay lossless (q is the distribution drafted from; the deterministic
        # rules need no q), so no tli / rdk correction is needed here.
        keep_ids = pruned_keep_ids(ctx.target, options)
    return tree_drafter_over(ctx, LayerSkipDrafter(ctx.target, ctx, keep_ids))


@DRAFTERS.register(
    "layer_skip_pruned",
    summary="layer_skip with the LM head cut to the most frequent tokens (for tli, rdk)",
    paper="Draft & Verify / SWIFT layer skipping; Timor et al. 2025 (arXiv 2506.03206), "
    "pruned heads",
    tags=("cross_vocab", "draft:token", "draft:kernel"),
)
def layer_skip_pruned_drafter(ctx: DrafterContext) -> LayerSkipDrafter:
    from playground.drafters.pruned import KernelProcessor, pruned_keep_ids
    from playground.samplers.rdk import make_kernel

    kind = proposal_kind(ctx.spec.sampler, "layer_skip_pruned", (TOKEN, KERNEL))
    target, options = ctx.target, ctx.spec.options
    keep_ids = pruned_keep_ids(target, options)
    drafter = LayerSkipDrafter(target, ctx, keep_ids, kind)
    if kind == KERNEL:
        kernel = make_kernel(ctx.spec.sampler, target, keep_ids, options)
        drafter.processor = KernelProcessor(drafter.processor, kernel)
    return drafter
