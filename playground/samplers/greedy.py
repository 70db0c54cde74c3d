"""Greedy verification: follow the draft while it agrees with the target's argmax.

Walks the tree from the root, at each level taking the child whose token equals the
target's argmax there; the first level with no such child emits the target's argmax
(a correction), and a fully matched path ends with the target's next argmax (a bonus).
The output is exactly plain greedy decoding's, for chains and trees alike.
"""

from __future__ import annotations

import torch

from playground.engine.tree import Draft
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict


@SAMPLERS.register(
    "greedy",
    summary="accept the longest draft path that matches the target's argmax",
    paper="Stern et al. 2018, Blockwise Parallel Decoding (greedy verification)",
    tags=("trees",),
)
class GreedySampler(Sampler):
    accepts_trees = True

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        best = p_target.argmax.tolist()  # row 0: root, row i + 1: after node i
        tokens = draft.tokens.tolist()
        accept_probs: list[float | None] = [None] * draft.num_nodes
        accepted: list[int] = []
        node = -1
        if draft.is_chain:
            for i, token in enumerate(tokens):
                hit = token == best[i]
                accept_probs[i] = 1.0 if hit else 0.0
                if not hit:
                    break
                accepted.append(i)
        else:
            while True:
                want = best[node + 1]
                match = None
                for child in draft.children(node):
                    hit = tokens[child] == want
                    accept_probs[child] = 1.0 if hit else 0.0
                    if hit:
                        match = child
                        break
                if match is None:
                    break
                accepted.append(match)
                node = match
        last = accepted[-1] if accepted else -1
        has_children = (
            bool(draft.children(last)) if not draft.is_chain else len(accepted) < len(tokens)
        )
        return Verdict(
            accepted=accepted,
            next_token=int(best[last + 1]),
            accept_probs=accept_probs,
            next_kind="correction" if has_children else "bonus",
        )
