"""Redistributing Drafter Kernels (RDK): draft target tokens a pruned drafter cannot emit.

Timor et al. 2025, "Out-of-Vocabulary Sampling Boosts Speculative Decoding" (arXiv
2506.03206): RDK with the exact kernel (its first-order, linear-time approximation is
`rdk_linear.py`).

Setting. The drafter's vocabulary K is a subset of the target's T (a pruned LM head, the
`pruned` drafter) and the drafter can read every target token (shared embeddings). TLI
restricts the drafter's q to K (q', zero elsewhere), so tokens in T \\ K are never drafted
and acceptance is capped by p_target(K).

Rule. A row-stochastic kernel M (rows: K, columns: T) moves mass along a token-affinity
prior; the drafter samples its token from

    q_RDK = Mᵀ q',   M(k, ·) = (1 - λ)·δ_k + λ·S(k, ·),
    S(k, t) = exp(β·cos(e_k, e_t)) / Σ_{t' ∈ {k} ∪ O} exp(β·cos(e_k, e_t'))  for t ∈ {k} ∪ O    (1)

with e the target's input embeddings, O = T \\ K the pruned tokens that stand for text,
λ = `rdk_mix`, β = `rdk_sharpness`. The drafted token itself is in the softmax with
cos = 1, so with a large β a row keeps its mass unless some pruned token is a near
duplicate of k (" cat" / "cat" / " Cat"): the kernel adapts per token instead of taxing
every draft by λ. Measured on Gemma 3 270M (closed form (2), mean over the positions of
a short text, the model's own head pruned): 1,024 kept tokens, TLI 0.814 and this kernel at
β = 40 0.814 (λ = 0.25 or 1); 4,096 kept, TLI 0.948 but a softmax over O alone (no
self term) at λ = 0.25, β = 20 only 0.802. Target-embedding cosine is a weak prior there.
The target verifies with standard speculative sampling against q_RDK
(`tli.verify_batch`); the drafter feeds the sampled token, in or out of K, to its own
body.

Why lossless. q_RDK is a distribution over T (M is row-stochastic, q' sums to 1) and the
drafted token is drawn from it, so the rejection identity gives P(emit y) = p(y) for any
M. The kernel changes acceptance only. M = I (λ = 0) gives q_RDK = q': exactly TLI, and
this module then returns q' itself, so outputs match TLI's token for token with one seed.
(β → ∞ tends to M = I as well.)

Expected acceptance. α = Σ_{t ∈ T} min(p_target(t), q_RDK(t)).                          (2)

Variants (one sampler file each; the drafter builds the kernel its sampler names in
`kernel_type`):

- `rdk` (this file): equation (1) exactly for the `rdk_top` most likely drafter tokens
  (the rest of q' keeps M = I, so M stays row-stochastic). Cost per drafted token:
  top · |T| · hidden, i.e. O(N²) when every drafter token carries mass.
- `rdk_linear` (`rdk_linear.py`): the first-order approximation of (1), O(N); this file
  holds what both share (the kernel's data and helpers, `make_kernel`, verification).

Greedy drafting proposes argmax q_RDK (deterministic: q_draft is None); verification is
then greedy, so the output is plain greedy decoding's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from playground.config import RDK_MIX, RDK_SHARPNESS, RDK_TOP, read_option
from playground.engine.tree import Draft
from playground.errors import IncompatibleError
from playground.models.handle import ModelHandle
from playground.models.vocab import NO_TEXT
from playground.samplers.base import SAMPLERS, Distribution, Sampler, Verdict
from playground.samplers.tli import verify_chain


@dataclass(eq=False)
class AffinityKernel:
    """Equation (1) applied to rows of q' over the target vocabulary (exact on the top
    `top` drafter tokens); `rdk_linear.LinearAffinityKernel` replaces the row rule."""

    embeddings: torch.Tensor  # (target_vocab, hidden), shared with the model, never copied
    inv_norms: torch.Tensor  # (target_vocab,) 1 / |e_t|
    receives: torch.Tensor  # (target_vocab,) bool: O, the pruned tokens with text
    mix: float  # λ
    sharpness: float  # β
    top: int

    def apply(self, q_prime: torch.Tensor) -> torch.Tensor:
        """q_RDK for each row of q_prime (B, target_vocab); q_prime itself when M = I."""
        if self.mix == 0.0 or not bool(self.receives.any()):
            return q_prime
        return torch.stack([self.row(row) for row in q_prime])  # (B, target_vocab)

    def row(self, q: torch.Tensor) -> torch.Tensor:
        """Equation (1): Mᵀq' for one row (vocab,), the top `top` drafter tokens moved."""
        m = min(self.top, int((q > 0).sum()))
        if m == 0:
            return q
        weights, ids = q.topk(m)  # (m,)
        allowed = self.receives[:, None].repeat(1, m)  # (vocab, m): O, plus k_j in column j
        allowed[ids, torch.arange(m)] = True
        kernel = self.affinity(self.unit(ids).T, allowed).softmax(dim=0)  # (vocab, m)
        moved = self.mix * weights  # (m,)
        out = q.clone()
        out[ids] -= moved
        return (out + kernel @ moved).clamp_min(0.0)  # (vocab,)

    def affinity(self, directions: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """β·cos(direction, e_t) where `allowed`, for each column direction (hidden, m)."""
        e = self.embeddings
        scores = (e @ directions.to(e.device, e.dtype)).float().cpu()  # (vocab, m)
        scores = scores * self.inv_norms[:, None] * self.sharpness
        return scores.masked_fill(~allowed, float("-inf"))

    def unit(self, ids: torch.Tensor) -> torch.Tensor:
        """ê_k for the target ids `ids` (m,): (m, hidden)."""
        rows = self.embeddings[ids.to(self.embeddings.device)].float().cpu()  # (m, hidden)
        return rows * self.inv_norms[ids][:, None]


def make_kernel(
    sampler: str, target: ModelHandle, keep_ids: torch.Tensor, options: dict[str, Any]
) -> AffinityKernel:
    """The kernel RDK sampler `sampler` verifies against, for a drafter holding target ids
    `keep_ids`."""
    kernel_type = getattr(SAMPLERS.get(sampler).factory, "kernel_type", None)
    if kernel_type is None:
        raise IncompatibleError(f"{sampler} drafts without a kernel; use rdk or rdk_linear")
    vocab = target.vocab_size
    embeddings = target.model.get_input_embeddings().weight.detach()[:vocab]  # (vocab, hidden)
    with torch.inference_mode():
        norms = embeddings.float().norm(dim=-1).cpu()  # (vocab,)
    receives = torch.tensor([s != NO_TEXT for s in target.token_strings])  # (vocab,)
    receives[keep_ids] = False
    return kernel_type(
        embeddings=embeddings,
        inv_norms=1.0 / norms.clamp_min(1e-6),
        receives=receives,
        mix=read_option(options, RDK_MIX),
        sharpness=read_option(options, RDK_SHARPNESS),
        top=read_option(options, RDK_TOP),
    )


class RDKSampler(Sampler):
    """Standard p/q verification against the q_RDK the drafter sampled from."""

    kernel_type: ClassVar[type[AffinityKernel]]  # the kernel the drafter must build

    def verify(self, draft: Draft, p_target: Distribution, rng: torch.Generator) -> Verdict:
        self.check_draft(draft)
        if draft.extra.get("proposal") != "kernel":
            raise IncompatibleError(
                "rdk verifies drafts sampled through its kernel; use the pruned drafter with "
                "it (other drafters: tli or slem)"
            )
        return verify_chain(draft, p_target, rng, draft.q_draft)


@SAMPLERS.register(
    "rdk",
    summary="a pruned drafter's mass is redistributed to out-of-vocabulary tokens by embedding "
    "affinity, then verified with p/q (exact kernel on the top drafter tokens)",
    paper="Timor et al. 2025, arXiv 2506.03206: Redistributing Drafter Kernels",
    tags=("cross_vocab", "draft:kernel"),
)
class ExactRDKSampler(RDKSampler):
    kernel_type = AffinityKernel
