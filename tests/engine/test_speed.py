"""The CPU kernels in engine/speed.py change speed, never results (beyond fp32 rounding)."""

from __future__ import annotations

import pytest
import torch

from playground.config import GenerationConfig
from playground.engine import speed
from playground.engine.build import build_engine
from playground.models import load_model


def linear(out_features: int, in_features: int, bias: bool = False, seed: int = 0):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(in_features, out_features, bias=bias)
    return layer


class Head(torch.nn.Module):
    """The smallest model `greedy_screening` accepts: an output embedding."""

    def __init__(self, layer: torch.nn.Linear):
        super().__init__()
        self.lm_head = layer

    def get_output_embeddings(self):
        return self.lm_head


@pytest.mark.parametrize("rows", [1, 2, 5, 16])
@pytest.mark.parametrize("bias", [False, True])
def test_fast_linear_matches_stock_linear(rows, bias):
    layer = linear(300, 48, bias=bias)
    x = torch.randn(1, rows, 48)
    expected = torch.nn.functional.linear(x, layer.weight, layer.bias)
    speed.install_fast_kernels(layer)
    speed.install_fast_kernels(layer)  # idempotent
    got = layer(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_stock_kernels_restores_the_class_forward_for_the_block():
    model = Head(linear(10, 4))
    speed.install_fast_kernels(model)
    assert "forward" in vars(model.lm_head), "installed as an instance attribute"
    with speed.stock_kernels(model):
        assert "forward" not in vars(model.lm_head), "stock forward inside the block"
    assert "forward" in vars(model.lm_head), "fast forward back after the block"


def near_tie_head(vocab: int = 5000, hidden: int = 64, ties: int = 40, seed: int = 1):
    """A head and inputs where many logits sit within 3e-4 of one another: bf16 alone
    (relative error ~4e-3) cannot order them, so only the exact recomputation can."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(vocab, hidden, generator=g) * 0.3
    x = torch.randn(3, hidden, generator=g) * 20
    for row in range(3):
        best = (weight @ x[row]).max()
        for k in range(ties):
            token = (row * ties + k) * 7 + 11
            # move token's logit to best + tiny offset, along x (changes no other row much)
            offset = (k - ties / 2) * 3e-4
            delta = best + offset - weight[token] @ x[row]
            weight[token] += delta * x[row] / (x[row] @ x[row])
    layer = torch.nn.Linear(hidden, vocab, bias=False)
    layer.weight.data = weight
    return layer, x


def test_screened_head_keeps_the_fp32_argmax_through_near_ties():
    layer, x = near_tie_head()
    exact = torch.nn.functional.linear(x, layer.weight)  # (3, vocab)
    model = Head(layer)
    speed.install_fast_kernels(model)
    with torch.inference_mode(), speed.greedy_screening(model):
        screened = model.lm_head(x)
    assert torch.equal(screened.argmax(-1), exact.argmax(-1))
    winner = (torch.arange(3), exact.argmax(-1))
    # recomputed in fp32 (another summation order: equal to fp32 rounding, not bitwise)
    torch.testing.assert_close(screened[winner], exact[winner], rtol=2e-6, atol=0)
    # the test has teeth: plain bf16 gets these rows wrong
    bf16 = torch.nn.functional.linear(x.bfloat16(), layer.weight.bfloat16()).float()
    assert not torch.equal(bf16.argmax(-1), exact.argmax(-1)), "bf16 alone should fail here"


def test_screened_head_on_random_rows_matches_fp32_argmax_everywhere():
    layer = linear(20000, 96, seed=3)
    x = torch.randn(64, 96) * 30  # (rows, hidden)
    exact = torch.nn.functional.linear(x, layer.weight)
    model = Head(layer)
    speed.install_fast_kernels(model)
    with torch.inference_mode(), speed.greedy_screening(model):
        screened = model.lm_head(x)
    assert torch.equal(screened.argmax(-1), exact.argmax(-1))
    assert (screened - exact).abs().max() < 1.0, "approximate logits stay close"


def test_a_flat_row_falls_back_to_full_fp32(monkeypatch):
    monkeypatch.setattr(speed, "MAX_EXACT", 3)
    layer = linear(500, 16, seed=4)
    layer.weight.data[:] = layer.weight.data[0]  # every token has the same logit
    layer.weight.data[123, 0] += 1e-3  # one is barely ahead
    x = torch.ones(1, 16)
    model = Head(layer)
    speed.install_fast_kernels(model)
    with torch.inference_mode(), speed.greedy_screening(model):
        screened = model.lm_head(x)
    torch.testing.assert_close(screened, torch.nn.functional.linear(x, layer.weight))
    assert int(screened.argmax()) == 123


def test_screening_is_off_outside_the_block_and_for_biased_heads():
    layer = linear(300, 8, bias=True)
    model = Head(layer)
    speed.install_fast_kernels(model)
    with speed.greedy_screening(model):
        assert not getattr(layer, "_speclab_screen", False), "a bias is not screened"
    plain = Head(linear(300, 8))
    speed.install_fast_kernels(plain)
    with speed.greedy_screening(plain):
        assert plain.lm_head._speclab_screen
    assert not plain.lm_head._speclab_screen


def test_greedy_engine_output_is_the_same_with_and_without_screening():
    target = load_model("tiny:target")
    config = GenerationConfig(max_new_tokens=40, stop_at_eos=False)
    screened = build_engine(target, None, config)
    assert screened.screen_head
    unscreened = build_engine(target, None, config)
    unscreened.screen_head = False
    prompt = "abc abc abd"
    assert screened.run(prompt).token_ids == unscreened.run(prompt).token_ids
