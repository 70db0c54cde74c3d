"""What the lossy rules (cascade, bild) read besides the processed rows: confidences.

Deferral and fallback rules ask "how sure is each model?". At temperature > 0 the answer
is in the processed rows themselves. At temperature 0 those rows are one-hot and carry no
confidence, so the rules read temperature-1 distributions instead:

- the target: softmax of its (penalised) logits, `target_probs`;
- the drafter: its own report of its top probability (`Draft.extra["features"]`, written by
  model drafters from their raw logits, see `schedules.features`), `drafter_top_prob`;
  drafters that report nothing and draft deterministically count as sure (1.0).
"""

from __future__ import annotations

import torch

from playground.engine.tree import Draft
from playground.samplers.base import Distribution
from playground.schedules.features import NAMES

TOP_PROB = NAMES.index("top_prob")


def target_probs(p_target: Distribution) -> torch.Tensor:
    """(rows, vocab) the target's distribution with confidence kept (temperature 1 if greedy)."""
    if p_target.greedy and p_target.logits is not None:
        return torch.softmax(p_target.logits, dim=-1)  # (rows, vocab)
    return p_target.probs  # (rows, vocab)


def drafter_top_prob(draft: Draft) -> torch.Tensor:
    """(num_nodes,) the drafter's largest probability at each drafted position."""
    if draft.q_draft is not None:
        return draft.q_draft.max(dim=-1).values  # (num_nodes,)
    features = draft.extra.get("features")
    if features and len(features) == draft.num_nodes:
        return torch.tensor([f[TOP_PROB] for f in features], dtype=torch.float32)
    return torch.ones(draft.num_nodes)  # (num_nodes,)


def q_rows(draft: Draft, vocab_size: int) -> torch.Tensor:
    """(num_nodes, vocab) the distribution each node was drawn from; one-hot if deterministic."""
    if draft.q_draft is not None:
        return draft.q_draft
    one_hot = torch.zeros(draft.num_nodes, vocab_size)  # (num_nodes, vocab)
    return one_hot.scatter_(-1, draft.tokens[:, None], 1.0)
