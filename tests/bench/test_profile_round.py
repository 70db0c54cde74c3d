"""The round profiler runs on both kernel sets and reports the engine's phase split."""

import pytest

from playground.bench import profile_round


@pytest.mark.parametrize("stock", [False, True])
def test_profile_prints_phases_and_operators(stock, capsys):
    argv = ["--target", "tiny:target", "--rounds", "2", "--rows", "3"]
    assert profile_round.main(argv + (["--stock"] if stock else [])) == 0
    out = capsys.readouterr().out
    assert "| verify (target forward) |" in out
    assert ("stock transformers kernels" in out) == stock
    assert "aten::" in out, "the operator table is printed"
