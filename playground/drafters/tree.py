"""Tree drafters: a model drafter grows a token tree, one forward per level.

`TreeDrafter` wraps any same-vocabulary `ModelDrafter` (its model, KV cache and logits
processor) and a builder chosen by `SpecConfig.options["tree"]` (syntax and the samplers
each builder pairs with: `drafters.tree_spec`; the builders: `drafters.tree_build`).

A round: sync the drafter's cache to the committed context by common prefix and feed the
rest (the last token's logits are the root's distribution); then each level feeds the
nodes it expands in one forward, with tree attention over the cached prefix, the root and
the nodes fed before (`engine.tree.tree_attention_inputs(..., cached_nodes=...)`);
finally the cache is cut back to the committed context, so nothing of the tree stays and
the next round's common-prefix sync works unchanged (the accepted path is re-fed then,
together with the next token).

Depth: at most the round's draft length (the schedule's `num_draft_tokens`, capped by the
tokens still to generate) and the spec's own depth; size: at most `tree_budget` nodes.

Registered as `tree` (a drafter model with the target's tokenizer, `drafter_model`) and
`target_tree` (the target drafts its own tree: every greedy path is accepted; a test of
the engine, as `target` is for chains).
"""

from __future__ import annotations

import torch

from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.drafters.model import ModelDrafter, model_drafter, target_drafter
from playground.drafters.tree_build import GrowingTree, build_tree
from playground.drafters.tree_spec import TreeSpec, check_fits_context, parse_tree_spec
from playground.engine import cache as kv
from playground.engine.tree import Draft, tree_attention_inputs
from playground.errors import IncompatibleError
from playground.samplers.base import Distribution
from playground.schedules.base import Schedule

TREE_PAPERS = (
    "SpecInfer (Miao et al. 2024, arXiv 2305.09781); EAGLE-2 (Li et al. 2024, arXiv "
    "2406.16858); RSD (Jeon et al. 2024, arXiv 2402.14160); SpecTr (Sun et al. 2023, arXiv "
    "2310.15141)"
)


class TreeDrafter(Drafter):
    def __init__(self, base: ModelDrafter, spec: TreeSpec):
        if base.vocabulary != "shared":
            raise IncompatibleError(
                f"tree drafters need a drafter with the target's vocabulary; "
                f"{type(base).__name__} drafts in another one"
            )
        self.base = base
        self.spec = spec

    def start(self, prompt_ids: list[int]) -> None:
        self.base.start(prompt_ids)

    def observe(
        self,
        context: list[int],
        p_target: Distribution,
        draft: Draft,
        verify_seconds: float | None = None,
    ) -> None:
        self.base.observe(context, p_target, draft, verify_seconds)

    def commit(self, context: list[int], num_accepted: int) -> None:
        self.base.commit(context, num_accepted)

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        base = self.base
        root_logits = base._forward(base._sync(context))  # (target_vocab,): cache = context
        expand = LevelExpander(base, prefix_len=len(context) - 1)
        try:
            root = base.processor(root_logits[None])
            draft = build_tree(self.spec, root, expand, num_draft_tokens, rng)
        finally:
            kv.truncate(base.cache, len(context))  # roll the tree back: the context stays
        draft.extra["tree"] = self.spec.text
        return draft


class LevelExpander:
    """`expand(tree, nodes)` for the builders: one tree-attention forward per call.

    The drafter's cache holds the context (the root is its last token) followed by the
    nodes fed by earlier calls, in feeding order; a call feeds `nodes`, whose parents must
    be the root or fed already, and returns the processed distribution after each.
    """

    def __init__(self, base: ModelDrafter, prefix_len: int):
        self.base = base
        self.prefix_len = prefix_len  # context length - 1: the root's position
        self.fed: list[int] = []  # growing-tree node indices, in cache order

    @torch.inference_mode()
    def __call__(self, tree: GrowingTree, nodes: list[int]) -> Distribution:
        handle = self.base.handle
        order = self.fed + nodes
        index = {node: i for i, node in enumerate(order)}
        index[-1] = -1
        sub = Draft(
            tokens=torch.tensor([tree.tokens[n] for n in order], dtype=torch.long),
            parents=torch.tensor([index[tree.parents[n]] for n in order], dtype=torch.long),
        )
        inputs = tree_attention_inputs(
            sub, self.prefix_len, handle.dtype, handle.device, handle.config, len(self.fed)
        )
        logits = self.base._tree_logits([tree.tokens[n] for n in nodes], inputs)  # (nodes, V)
        self.fed = order
        return self.base.processor(logits)


def tree_drafter_over(ctx: DrafterContext, base: ModelDrafter) -> TreeDrafter:
    """`base` (any same-vocabulary model drafter) growing trees by `options["tree"]`."""
    spec = parse_tree_spec(ctx.spec.options)
    check_fits_context(spec, ctx.target.max_context, ctx.target.spec)
    check_fits_context(spec, base.handle.max_context, base.handle.spec)
    return TreeDrafter(base, spec)


@DRAFTERS.register(
    "tree",
    summary="a same-tokenizer drafter model grows a token tree, one forward per level "
    "(option tree=static:3-2-1 | topk:K | dynamic:N | sample:… | gumbel_topk:… | beam:W | "
    "chains:K)",
    paper=TREE_PAPERS,
    tags=("tree", "model"),
)
def tree_drafter(ctx: DrafterContext) -> TreeDrafter:
    parse_tree_spec(ctx.spec.options)  # a bad spec fails before any model loads
    return tree_drafter_over(ctx, model_drafter(ctx))


@DRAFTERS.register(
    "target_tree",
    summary="the target grows a token tree for itself (a test of tree verification: every "
    "greedy path is accepted)",
    paper="sanity check; " + TREE_PAPERS,
    tags=("tree",),
)
def target_tree_drafter(ctx: DrafterContext) -> TreeDrafter:
    return tree_drafter_over(ctx, target_drafter(ctx))
