"""Typical acceptance (Medusa; Cai et al. 2024, arXiv 2401.10774, §2.3.1): lossy.

Rule. A drafted token x at a position whose target distribution is p is accepted when

    p(x) > min(ε, δ · exp(-H(p))),      H(p) = -Σ_v p(v) log p(v)                      (1)

with ε = `typical_epsilon` (a hard floor) and δ = `typical_delta` (an entropy-scaled one:
a flat p lowers the bar, a peaked p raises it). The rule never looks at q_draft. Like
Medusa, a tree is walked for its longest accepted path (a chain is a tree); the next token
is then drawn from p_target after that path (Medusa draws it from the target as well).

What it follows. For one position with proposal q and τ = min(ε, δ·e^{-H(p)}):

    P(emit y) = q(y)·1[p(y) > τ] + (1 - Σ_x q(x)·1[p(x) > τ]) · p(y)                     (2)

a mixture of the drafter restricted to the target's "typical" set and the target. It is
p itself only when no drafted token can pass, so typical acceptance is not lossless at
any ε > 0 (or ε = 0, where (1) accepts every token the target supports and (2) becomes q
on the target's support).

Temperature 0. p_target rows are one-hot, H = 0 and (1) accepts exactly the argmax (or
nothing, when ε = δ = 1): the output is plain greedy decoding's, token for token.

Drafters of another vocabulary (`pruned`, `cross_tokenizer`) feed it like TLI: q is the
drafter's distribution restricted to the shared tokens (q'), over the target vocabulary.
"""

from __future__ import annotations

import torch

from playground.config import TYPICAL_DELTA, TYPICAL_EPSILON, SpecConfig, read_option
from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict


def typical_threshold(probs: torch.Tensor, epsilon: float, delta: float) -> torch.Tensor:
    """min(ε, δ·exp(-H(p))) per row of (rows, vocab) probabilities: (rows,)."""
    entropy = -torch.special.xlogy(probs, probs).sum(dim=-1)  # (rows,)
    return torch.clamp(delta * torch.exp(-entropy), max=epsilon)


def passing_nodes(draft: Draft, passes: list[bool]) -> list[bool]:
    """ok[i]: node i and every ancestor of it pass (1)."""
    ok = [False] * draft.num_nodes
    for i, parent in enumerate(draft.parent_list):
        ok[i] = passes[i] and (parent < 0 or ok[parent])
    return ok


def longest_path(draft: Draft, ok: list[bool]) -> list[int]:
    """Node indices of the deepest root path of ok nodes (the first found on ties)."""
    best, best_depth = -1, 0
    for i, depth in enumerate(draft.depth.tolist()):
        if ok[i] and depth > best_depth:
            best, best_depth = i, depth
    return draft.path(best) if best >= 0 else []


@SAMPLERS.register(
    "typical",
    summary="accept x while p(x) > min(ε, δ·exp(-H(p))) (Medusa typical acceptance); next "
    "token from p",
    paper="Cai et al. 2024, Medusa (arXiv 2401.10774), §2.3.1 typical acceptance",
    lossless=False,
    follows="per position, the drafted token x if p(x) > min(ε, δ·e^{-H(p)}), else a draw "
    "from p: q·1[p > τ] + (1 - Σ q·1[p > τ])·p; exactly greedy at temperature 0",
    tags=("trees", "cross_vocab", "draft:token"),
)
class TypicalSampler(Sampler):
    accepts_trees = True

    def __init__(self, spec: SpecConfig | None = None):
        options = spec.options if spec else {}
        self.epsilon = read_option(options, TYPICAL_EPSILON)
        self.delta = read_option(options, TYPICAL_DELTA)

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        rows = draft.parents + 1  # (num_nodes,) the p_target row each node is checked against
        probs = p_target.probs  # (num_nodes + 1, vocab)
        threshold = typical_threshold(probs, self.epsilon, self.delta)  # (num_nodes + 1,)
        p_tok = p_target.prob_of(rows, draft.tokens)  # (num_nodes,)
        passes = (p_tok > threshold[rows]).tolist()
        ok = passing_nodes(draft, passes)
        accepted = longest_path(draft, ok)
        last = accepted[-1] if accepted else -1
        # None where an ancestor already failed: the rule never reached the node.
        accept_probs: list[float | None] = [
            float(passes[i]) if parent < 0 or ok[parent] else None
            for i, parent in enumerate(draft.parent_list)
        ]
        has_children = bool(draft.children(last))
        next_token = p_target.sample(last + 1, rng)
        detail = {"thresholds": threshold.tolist()}
        kind = "correction" if has_children else "bonus"
        return Verdict(accepted, next_token, accept_probs, kind, detail)
