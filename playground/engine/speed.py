"""CPU kernels for the target's linear layers: same numbers up to float rounding, faster.

Measured on this machine (2 cores, AVX-512 without bf16 instructions, torch 2.13):

- `F.linear` with one input row runs a single-threaded GEMV: Gemma 3 270M's 262k-row LM
  head takes 43 ms for one row with 1 or 2 threads, and a body forward 29 ms. Computing
  the product as `W @ xᵀ` (the long dimension first) with two rows (the one real row,
  duplicated) runs a threaded GEMM: 16 ms for the head, 19 ms for the body.
- With 2–16 rows (a verification forward) `W @ xᵀ` is also faster than `F.linear`:
  the body costs 26/28/41/49 ms for 2/4/8/16 rows instead of 43/44/46/56 ms.

`install_fast_kernels(model)` routes every `nn.Linear` of a CPU model through that
product; `stock_kernels(model)` undoes it for a block (transformers' own `generate`
baselines run stock).

**Greedy head screening** (`screened_head`): at temperature 0 only the argmax of each
row matters. A bf16 copy of the head costs 11–16 ms for 1–16 rows (fp32: 16–67 ms); its
error is bounded per row, so every token whose bf16 logit could still be the best is
recomputed exactly in fp32 and no other token can be the argmax. With ℓ = W h (fp32) and
a the bf16 product (bf16-rounded output), ℓ_v ∈ [L(a_v), U(a_v)] where

    U(a) = a + σ + 2⁻⁸|a|,  L(a) = a − σ − 2⁻⁸|a|,  σ = R‖h‖ + S‖h − bf16(h)‖ + 2γS‖h‖,

R = max_v ‖W_v − bf16(W_v)‖, S = max_v ‖W_v‖, γ = d·2⁻²⁴ (fp32 accumulation over d
terms) and 2⁻⁸ covering the output's bf16 rounding. Token v is recomputed when
U(a_v) ≥ L(max a). The fp32 argmax v* is recomputed (U(a_v*) ≥ ℓ_v* ≥ ℓ_u ≥ L(a_u) for
u = argmax a), and a token that is not has a_v ≤ U(a_v) < L(max a) ≤ ℓ_u ≤ ℓ_v*: its
approximate logit stays below v*'s exact one. So the returned logits (exact where
recomputed, approximate elsewhere) have the fp32 argmax (ties within fp32 rounding aside,
as between any two GEMM kernels). Used only for greedy rows without history-dependent
processing.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from playground.engine.rowops import at_least

MAX_EXACT = 4096  # recomputed tokens per row beyond which a row is computed fully in fp32


def _fast_linear_forward(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return F.linear(x, self.weight, self.bias)
    if getattr(self, "_speclab_screen", False):
        return screened_head(self, x)
    rows = x.reshape(-1, x.shape[-1])  # (tokens, in)
    count = rows.shape[0]
    if count == 1:
        rows = torch.cat([rows, rows])  # a 2-column GEMM is threaded; a GEMV is not
    out = (self.weight @ rows.T).T[:count]  # (tokens, out)
    if self.bias is not None:
        out = out + self.bias
    return out.reshape(*x.shape[:-1], out.shape[-1])


def install_fast_kernels(model: torch.nn.Module) -> None:
    """Route every `nn.Linear` of `model` through `_fast_linear_forward` (idempotent)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and not getattr(module, "_speclab_fast", False):
            module.forward = types.MethodType(_fast_linear_forward, module)
            module._speclab_fast = True


@contextlib.contextmanager
def stock_kernels(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, `model`'s linear layers run transformers' own forward."""
    patched = [m for m in model.modules() if getattr(m, "_speclab_fast", False)]
    for module in patched:
        del module.forward
    try:
        yield
    finally:
        for module in patched:
            module.forward = types.MethodType(_fast_linear_forward, module)


@contextlib.contextmanager
def greedy_screening(model: torch.nn.Module, enabled: bool = True) -> Iterator[None]:
    """Within the block, the LM head returns screened logits (exact argmax; see module doc)."""
    head = model.get_output_embeddings()
    usable = (
        enabled
        and isinstance(head, torch.nn.Linear)
        and head.bias is None
        and getattr(head, "_speclab_fast", False)
        and head.weight.device.type == "cpu"
    )
    if not usable:
        yield
        return
    head._speclab_screen = True
    try:
        yield
    finally:
        head._speclab_screen = False


@dataclass
class _Screen:
    weight_ptr: int
    weight_bf16: torch.Tensor  # (vocab, hidden)
    row_error: float  # R = max_v ‖W_v − bf16(W_v)‖
    row_norm: float  # S = max_v ‖W_v‖
    gamma: float  # hidden · 2⁻²⁴


def _screen(head: torch.nn.Linear) -> _Screen:
    weight = head.weight
    state = getattr(head, "_speclab_screen_state", None)
    if state is None or state.weight_ptr != weight.data_ptr():
        with torch.no_grad():
            low = weight.to(torch.bfloat16)
            error = (weight - low.float()).norm(dim=-1).max().item()
            norm = torch.maximum(weight.norm(dim=-1), low.float().norm(dim=-1)).max().item()
        state = _Screen(weight.data_ptr(), low, error, norm, weight.shape[1] * 2.0**-24)
        head._speclab_screen_state = state
    return state


def screened_head(head: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """Logits whose per-row argmax is the fp32 argmax of `head(x)`, at bf16 cost."""
    state = _screen(head)
    rows = x.reshape(-1, x.shape[-1])  # (n, hidden)
    low = rows.to(torch.bfloat16)
    approx = F.linear(low, state.weight_bf16)  # (n, vocab) bf16
    h_norm = rows.norm(dim=-1)  # (n,)
    rounding = (rows - low.float()).norm(dim=-1)  # (n,)
    spread = (
        state.row_error * h_norm
        + state.row_norm * rounding
        + 2 * state.gamma * state.row_norm * h_norm
    )  # (n,) bound on |exact - approx| before the output's bf16 rounding
    logits = approx.float()  # (n, vocab), exact copies of the bf16 values
    top = logits.amax(dim=-1)  # (n,)
    threshold = _lowest_candidate(_lower(top, spread), spread)  # (n,)
    threshold = (threshold - threshold.abs() * 2.0**-7).to(torch.bfloat16)  # rounds down
    row_idx, token_idx = at_least(logits, threshold.float())  # (k,) each
    crowded = torch.bincount(row_idx, minlength=rows.shape[0]) > MAX_EXACT  # (n,)
    if crowded.any():  # a flat row: compute it fully in fp32 instead
        for r in crowded.nonzero().flatten().tolist():
            logits[r] = head.weight @ rows[r]
        keep = ~crowded[row_idx]
        row_idx, token_idx = row_idx[keep], token_idx[keep]
    exact = (head.weight[token_idx] * rows[row_idx]).sum(dim=-1)  # (k,)
    logits[row_idx, token_idx] = exact
    return logits.reshape(*x.shape[:-1], logits.shape[-1])


_OUT = 2.0**-8  # bf16 output rounding, relative (2⁻⁹ of the exact value, with margin)


def _lower(a: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """L(a): the least exact logit consistent with approximate logit a."""
    return a - spread - _OUT * a.abs()


def _lowest_candidate(level: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """The least a with U(a) = a + spread + 2⁻⁸|a| ≥ level (U is increasing)."""
    above = (level - spread) / (1 + _OUT)  # solution when it is ≥ 0
    below = (level - spread) / (1 - _OUT)  # solution when it is < 0
    return torch.where(level >= spread, above, below)
