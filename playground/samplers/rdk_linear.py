"""RDK with the first-order (linear-time) kernel: one softmax around the drafter's mean.

Timor et al. 2025, "Out-of-Vocabulary Sampling Boosts Speculative Decoding" (arXiv
2506.03206): the first-order approximation of RDK's kernel, equation (1) of `rdk.py`
(setting, notation and verification are there; this file only replaces the row rule).

The exact kernel costs top · |T| · hidden per drafted token, O(N²) when every drafter
token carries mass. Write ê = e/|e|, let A = O ∪ supp(q') be one common support for all
rows, and expand each row's exponential around the q'-mean direction μ = Σ_k q'(k) ê_k,
with δ_k = ê_k - μ:

    exp(β ê_k·ê_t) = exp(β μ·ê_t) · (1 + β δ_k·ê_t + O(β²|δ_k|²)),
    Z_k = Σ_{t ∈ A} exp(β ê_k·ê_t) ≈ Z_μ (1 + β δ_k·m),  m = Σ_{t ∈ A} g(t) ê_t,

so S(k, t) ≈ g(t)(1 + β δ_k·(ê_t - m)) with g = softmax_{t ∈ A}(β μ·ê_t), and

    Σ_k q'(k) S(k, t) ≈ g(t)(1 + β (Σ_k q'(k) δ_k)·(ê_t - m)) = g(t)

because Σ_k q'(k) δ_k = 0 by the choice of μ. Hence

    q_lin = (1 - λ) q' + λ · softmax_{t ∈ A}(β μ·ê_t)                                    (3)

one matrix-vector product over the vocabulary, O(N). The error is second order in the
spread of the drafter's embeddings under q' (times β²); for a one-hot q' (greedy
drafting), A = {k} ∪ O and (3) equals (1) exactly. When q' spreads over unrelated tokens,
μ lies between them and (3) smears mass (the Gemma 3 270M measurement in `rdk.py`:
0.785 at λ = 0.25, 0.51 at λ = 1).

Why lossless. q_lin is itself a distribution over T and the drafted token is drawn from
it; the target verifies against q_lin with standard speculative sampling, so the output
follows p_target exactly, as for `rdk`.
"""

from __future__ import annotations

import torch

from playground.samplers.base import SAMPLERS
from playground.samplers.rdk import AffinityKernel, RDKSampler


class LinearAffinityKernel(AffinityKernel):
    """Equation (3) applied to rows of q' over the target vocabulary."""

    def row(self, q: torch.Tensor) -> torch.Tensor:
        support = (q > 0).nonzero()[:, 0]  # (s,)
        mean = q[support] @ self.unit(support)  # (hidden,): μ
        allowed = (self.receives | (q > 0))[:, None]  # (vocab, 1): A = O ∪ supp(q')
        spread = self.affinity(mean[:, None], allowed)[:, 0].softmax(dim=0)  # (vocab,)
        return (1.0 - self.mix) * q + self.mix * spread  # (vocab,)


@SAMPLERS.register(
    "rdk_linear",
    summary="RDK with the first-order O(N) kernel: one softmax around the drafter's mean embedding",
    paper="Timor et al. 2025, arXiv 2506.03206: RDK, first-order approximation",
    tags=("cross_vocab", "draft:kernel"),
)
class LinearRDKSampler(RDKSampler):
    kernel_type = LinearAffinityKernel
