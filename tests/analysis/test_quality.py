"""Quality measures, and the benchmark reporting them next to speed for lossy samplers."""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

import pytest
import torch

from playground.__main__ import main
from playground.analysis.quality import (
    greedy_agreement,
    mean_log_likelihood,
    reference_hit,
    score,
)
from playground.bench.runner import is_lossy, parse_method
from playground.bench.sweep import expand_sweep
from playground.errors import ConfigError
from playground.models import load_model


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def test_agreement_counts_prefix_and_overall_positions():
    reference = [1, 2, 3, 4, 5]
    assert greedy_agreement(reference, reference) == greedy_agreement([], [])
    a = greedy_agreement([1, 2, 9, 4, 5], reference)
    assert (a.prefix, a.overall) == (0.4, 0.8)
    short = greedy_agreement([1, 2], reference)
    assert (short.prefix, short.overall) == (0.4, 0.4), "missing positions count as different"


def test_reference_hit_is_case_insensitive_substring():
    assert reference_hit("La gare? Où est LA GARE", "la gare") is True
    assert reference_hit("nothing here", "estación") is False
    assert reference_hit("anything", None) is None


def test_log_likelihood_is_one_forward_of_per_token_log_probs():
    target = tiny("target")
    prompt, output = target.encode("the cat sat on"), target.encode(" the mat.")
    got = mean_log_likelihood(target, prompt, output)
    total = 0.0
    with torch.inference_mode():
        for i, token in enumerate(output):
            ids = torch.tensor([prompt + output[:i]])
            logp = torch.log_softmax(target.model(ids).logits[0, -1].float(), dim=-1)
            total += float(logp[token])
    assert math.isclose(got, total / len(output), rel_tol=1e-4, abs_tol=1e-4)


def test_greedy_text_scores_perfect_agreement():
    target = tiny("target")
    ids = target.encode(" the mat.")
    quality = score(target, target.encode("the cat sat on"), ids, ids, "MAT")
    assert (quality.agree_prefix, quality.agree_overall, quality.reference_hit) == (1, 1, True)


def test_option_knobs_in_method_strings_go_to_options():
    method = parse_method("drafter=model,drafter_model=tiny:drafter,sampler=lenient,lenience=4")
    assert method.spec.options == {"lenience": 4} and is_lossy(method)
    assert not is_lossy(parse_method("drafter=prompt_lookup,sampler=greedy"))
    assert not is_lossy(parse_method("plain"))


def test_sweep_repeats_spec_methods_once_per_value():
    methods = ["hf", "drafter=model,sampler=typical,label=t"]
    swept = expand_sweep(methods, "typical_epsilon=0.05,0.3")
    assert swept[0] == "hf" and len(swept) == 3, "baselines run once, spec methods per value"
    assert [parse_method(m).spec.options for m in swept[1:]] == [
        {"typical_epsilon": 0.05},
        {"typical_epsilon": 0.3},
    ]
    labels = [parse_method(m).label for m in swept[1:]]
    assert labels == ["t[typical_epsilon=0.05]", "t[typical_epsilon=0.3]"]
    with pytest.raises(ConfigError, match="--sweep"):
        expand_sweep(methods, "typical_epsilon")


def test_bench_reports_quality_when_a_method_is_lossy(tmp_path):
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
            "q",
            "--prompts",
            "speclab",
            "--per-category",
            "1",
            "--method",
            "drafter=model,drafter_model=tiny:drafter,sampler=bild,label=bild",
            "--method",
            "drafter=model,drafter_model=tiny:drafter,sampler=greedy,label=exact",
            "--sweep",
            "bild_rollback=1,20",
        ]
    )
    assert code == 0
    table = Path(tmp_path / "q.md").read_text()
    assert "agree overall" in table and "bild[bild_rollback=20]" in table
    rows = list(csv.DictReader((tmp_path / "q.csv").open()))
    exact = [r for r in rows if r["method"] == "exact[bild_rollback=1]"]
    assert exact and all(r["agree_overall"] == "1.0" for r in exact), "greedy agrees with itself"
    assert any(r["reference_hit"] in ("True", "False") for r in rows), "speclab has references"
    assert "speed vs agreement" in (tmp_path / "q.html").read_text()
