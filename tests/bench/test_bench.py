"""The benchmark on tiny models: rows for every method, equality checked, reports written."""

from pathlib import Path

import pytest

from playground.__main__ import main
from playground.bench.runner import parse_method
from playground.errors import ConfigError


def test_parse_method():
    assert parse_method("plain").spec is None
    hf = parse_method("hf_assisted:tiny:drafter:3")
    assert (hf.hf, hf.assistant, hf.num_draft_tokens) == ("hf_assisted", "tiny:drafter", 3)
    m = parse_method("drafter=prompt_lookup,sampler=greedy,num_draft_tokens=6,label=pl")
    assert m.label == "pl" and m.spec.num_draft_tokens == 6
    with pytest.raises(ConfigError):
        parse_method("drafter")
    with pytest.raises(ConfigError, match="unknown SpecConfig field"):
        parse_method("drafter=prompt_lookup,colour=red")


def test_bench_runs_all_baselines_on_tiny_models(tmp_path, capsys):
    code = main(
        [
            "bench",
            "--target",
            "tiny:target",
            "--max-new-tokens",
            "8",
            "--out",
            str(tmp_path),
            "--name",
            "t",
            "--per-category",
            "1",
            "--method",
            "hf",
            "--method",
            "hf_prompt_lookup:4",
            "--method",
            "hf_assisted:tiny:drafter:3",
            "--method",
            "drafter=model,drafter_model=tiny:drafter,sampler=greedy,label=m",
        ]
    )
    assert code == 0
    table = Path(tmp_path / "t.md").read_text()
    for label in ("plain", "hf_prompt_lookup:4", "hf_assisted:tiny:drafter:3", "| m |"):
        assert label in table
    assert "8/8" in table, "greedy outputs must equal plain greedy on every prompt"
    assert (tmp_path / "t.csv").exists() and (tmp_path / "t.html").exists()


def test_aggregate_bound_weights_prompts_like_the_aggregate_speedup():
    from playground.bench.report import Row, aggregate

    rows = [
        Row("plain", "a", "c", 10, 1.0, 10.0, 1.0),
        Row("plain", "b", "c", 10, 3.0, 10 / 3, 1.0),
        Row("spec", "a", "c", 10, 0.5, 20.0, 2.0, bound=4.0),
        Row("spec", "b", "c", 10, 1.5, 20 / 3, 2.0, bound=2.0),
    ]
    spec = aggregate(rows)[1]
    # zero-overhead times 1/4 + 3/2 against plain's 4 s
    assert spec.bound == pytest.approx(4 / (0.25 + 1.5))
    assert spec.speedup == pytest.approx(2.0)


def test_text_options_reach_spec_options():
    method = parse_method("drafter=auto,sampler=greedy,auto_drafters=random,label=a")
    assert method.spec.options == {"auto_drafters": "random"}
