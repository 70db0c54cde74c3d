"""Shared test helpers: a χ² goodness-of-fit p-value, and cached tiny models."""

from __future__ import annotations

import pytest
import torch


def chi2_pvalue(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """P-value of Pearson's χ² test that `counts` were drawn from `probs`.

    Cells with zero expected probability must have zero counts (else p = 0); they do not
    count towards the degrees of freedom.
    """
    counts = counts.double()
    probs = probs.double() / probs.sum()
    support = probs > 0
    if counts[~support].sum() > 0:
        return 0.0
    expected = counts.sum() * probs[support]
    stat = ((counts[support] - expected) ** 2 / expected).sum()
    dof = int(support.sum()) - 1
    if dof <= 0:
        return 1.0
    return float(torch.special.gammaincc(torch.tensor(dof / 2.0), stat / 2.0))


@pytest.fixture(scope="session")
def chi2():
    return chi2_pvalue
