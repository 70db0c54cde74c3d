"""Quality of a (lossy) run, measured against the target's own output.

Lossy samplers (typical, cascade, bild, lenient) trade fidelity for speed, so the
benchmark reports how far their text is from the target's:

- agreement with plain greedy decoding, token by token: `prefix` is the share of the
  greedy reference's positions before the first difference, `overall` the share of its
  positions holding the same token (positions past the shorter text count as different);
- the target's mean log-likelihood of the produced text: one target forward over prompt
  + output, raw logits at temperature 1, nats per output token (higher = the target
  finds the text likelier; greedy text is usually near the top);
- accuracy on prompts with a checkable `reference`: the reference string occurs in the
  output, case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from playground.models.handle import ModelHandle


@dataclass(frozen=True)
class Agreement:
    prefix: float  # positions before the first difference / reference length
    overall: float  # equal positions / reference length


@dataclass(frozen=True)
class Quality:
    agree_prefix: float | None
    agree_overall: float | None
    log_likelihood: float | None  # nats per output token under the target
    reference_hit: bool | None  # None: the prompt has no checkable reference


def greedy_agreement(ids: list[int], reference: list[int]) -> Agreement:
    """Token-level agreement of `ids` with the greedy `reference` (1.0 = identical)."""
    if not reference:
        return Agreement(1.0, 1.0)
    same = [i < len(ids) and ids[i] == token for i, token in enumerate(reference)]
    first_diff = same.index(False) if False in same else len(reference)
    return Agreement(first_diff / len(reference), sum(same) / len(reference))


@torch.inference_mode()
def mean_log_likelihood(target: ModelHandle, prompt_ids: list[int], output_ids: list[int]) -> float:
    """Mean log p_target(output token | everything before it), one forward, nats per token."""
    if not output_ids or not prompt_ids:
        return float("nan")
    ids = torch.tensor([prompt_ids + output_ids], device=target.device)  # (1, prompt + output)
    keep = len(output_ids) + 1
    logits = target.model(input_ids=ids, use_cache=False, logits_to_keep=keep).logits
    logp = torch.log_softmax(logits[0, :-1].float().cpu(), dim=-1)  # (output, vocab)
    chosen = logp[torch.arange(len(output_ids)), torch.tensor(output_ids)]  # (output,)
    return float(chosen.mean())


def reference_hit(text: str, reference: str | None) -> bool | None:
    """Whether the reference answer occurs in the text (case-insensitive); None without one."""
    if not reference:
        return None
    return reference.casefold() in text.casefold()


def score(
    target: ModelHandle,
    prompt_ids: list[int],
    ids: list[int],
    greedy_ids: list[int],
    reference: str | None,
) -> Quality:
    """Every quality measure of one output `ids` (target vocabulary) for one prompt."""
    agreement = greedy_agreement(ids, greedy_ids)
    return Quality(
        agree_prefix=agreement.prefix,
        agree_overall=agreement.overall,
        log_likelihood=mean_log_likelihood(target, prompt_ids, ids),
        reference_hit=reference_hit(target.decode(ids), reference),
    )
