"""The RDK scaling table runs and times real kernels (no timing is asserted)."""

import pytest

from playground.bench import rdk_scaling


@pytest.mark.parametrize("linear", [True, False])
def test_kernel_rows_stay_distributions(linear):
    kernel, q_prime = rdk_scaling.kernel_for(2048, keep=0.1, linear=linear, top=4)
    q_rdk = kernel.apply(q_prime)
    assert q_rdk.shape == (1, 2048)
    assert float(q_rdk.sum()) == pytest.approx(1.0, abs=1e-5)
    moved = q_rdk[0, kernel.receives].sum()
    assert float(moved) > 0, "some mass reaches pruned tokens"


def test_table_has_one_row_per_size(capsys):
    assert rdk_scaling.main(["--sizes", "1024,2048", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 1,024 |" in out and "| 2,048 |" in out
