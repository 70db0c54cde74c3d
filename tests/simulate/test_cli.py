"""`python -m playground.simulate parallel` on a recorded tiny-model trace."""

from __future__ import annotations

from playground.simulate.__main__ import main


def test_parallel_figures_from_a_trace(tmp_path, record_tiny_trace):
    record_tiny_trace(tmp_path / "t.json", sampler="speculative", schedule="fixed")
    code = main(
        [
            "parallel",
            "--trace",
            str(tmp_path / "t.json"),
            "--servers",
            "3",
            "--alpha",
            "0.5,0.9",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    table = (tmp_path / "parallel.md").read_text()
    for label in ("| plain |", "| sd |", "| pearl |", "| dsi/1 |", "| dsi/3 |"):
        assert label in table
    html = (tmp_path / "parallel.html").read_text()
    assert "3 timeline" in html and "target servers" in html  # JSON escapes the slash
