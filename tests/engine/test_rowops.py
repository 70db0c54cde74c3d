"""Blocked row reductions return exactly what torch's own ops return."""

import pytest
import torch

from playground.engine.rowops import BLOCK, MIN_WIDTH, at_least, row_argmax, row_topk

WIDE = 64 * BLOCK  # blocked path


def rows(width: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, width, generator=g).to(dtype).float()  # bf16 values: many ties


@pytest.mark.parametrize("width", [WIDE, MIN_WIDTH, 1000, WIDE + 3])
def test_argmax_matches_torch_including_first_of_ties(width):
    x = rows(width, dtype=torch.bfloat16)
    x[0, :] = 0.0
    x[1, [7, width - 1]] = 100.0  # a tie across blocks: the first occurrence wins
    x[2, :] = float("-inf")
    x[2, width // 2] = -5.0
    assert row_argmax(x).tolist() == x.argmax(dim=-1).tolist()


def test_argmax_with_nan_agrees_with_torch():
    x = rows(WIDE)
    x[3, 1234] = float("nan")
    assert row_argmax(x).tolist() == x.argmax(dim=-1).tolist()


@pytest.mark.parametrize("k", [1, 4, 8, 64])
def test_topk_matches_torch(k):
    x = rows(WIDE, seed=k)
    x[1, 100:110] = 50.0 + torch.arange(10.0)  # the top entries all in one block
    values, indices = row_topk(x, k)
    expected = x.topk(k, dim=-1)
    assert torch.equal(values, expected.values)
    assert torch.equal(indices, expected.indices)


def test_topk_falls_back_when_k_exceeds_the_blocks():
    x = rows(MIN_WIDTH)
    k = MIN_WIDTH // BLOCK + 1
    values, _ = row_topk(x, k)
    assert torch.equal(values, x.topk(k, dim=-1).values)


@pytest.mark.parametrize("width", [WIDE, 1000])
def test_at_least_lists_every_entry_in_row_major_order(width):
    x = rows(width, dtype=torch.bfloat16)
    threshold = torch.tensor([2.0, 3.0, float("inf"), -float("inf"), 0.5, 2.5])
    got = at_least(x, threshold)
    expected = (x >= threshold[:, None]).nonzero(as_tuple=True)
    assert [t.tolist() for t in got] == [t.tolist() for t in expected]
