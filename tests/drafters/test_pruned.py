"""The pruned drafter: a sliced LM head over a shared (optionally shortened) body, lossless runs."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.pruned import calibration_keep_ids, keep_count, truncated_body
from playground.engine.build import build_engine, check_compatible
from playground.errors import ConfigError, IncompatibleError
from playground.models import load_model
from playground.models.tiny import CORPUS

PROMPT = "The little robot walked to the market every morning to buy"


@cache
def target():
    return load_model("tiny:target")


def engine(sampler: str, options: dict | None = None, **gen):
    spec = SpecConfig(drafter="pruned", sampler=sampler, schedule="fixed", options=options or {})
    config = GenerationConfig(**{"max_new_tokens": 40, **gen})
    return build_engine(target(), spec, config, load=load_model)


def test_keep_count_reads_tokens_or_fraction():
    assert keep_count({"keep_tokens": 100}, 640) == 100
    assert keep_count({"keep_fraction": 0.25}, 640) == 160
    assert keep_count({}, 640) == 80, "default keep_fraction 0.125"
    for bad in (
        {"keep_tokens": 10, "keep_fraction": 0.5},
        {"keep_fraction": 1.5},
        {"keep_tokens": 1000},
        {"keep_tokens": 2.5},
    ):
        with pytest.raises(ConfigError):
            keep_count(bad, 640)


def test_calibration_keeps_the_most_frequent_tokens_and_eos():
    handle = target()
    keep = calibration_keep_ids(handle, 64)
    assert keep.numel() == 64 and torch.equal(keep, keep.sort().values)
    assert set(handle.eos_token_ids) <= set(keep.tolist())
    ids = handle.encode(CORPUS)[1:]
    most = max(set(ids), key=ids.count)
    assert most in keep.tolist(), f"{handle.token_strings[most]!r} is the corpus' commonest token"
    assert calibration_keep_ids(handle, 64) is keep, "cached per (target, N, text)"
    other = calibration_keep_ids(handle, 64, "Numbers: 3, 14, 2024 and 1000.")
    assert not torch.equal(other, keep), "the calibration text decides"


def test_body_is_shared_not_copied():
    model = target().model
    body = truncated_body(model, 2)
    assert body is not model.model and body.config.num_hidden_layers == 2
    assert model.config.num_hidden_layers == 4, "the target's config is untouched"
    assert body.layers[0] is model.model.layers[0]
    assert body.embed_tokens.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert truncated_body(model, 0) is model.model
    with pytest.raises(ConfigError, match="decoder layers"):
        truncated_body(model, 9)


def test_full_head_and_body_reproduce_the_target():
    eng = engine("tli", {"keep_fraction": 1.0})
    drafter = eng.drafter
    assert drafter.head.shape == (target().vocab_size, target().model.config.hidden_size)
    ids = target().encode(PROMPT)
    drafter.start(ids)
    logits = drafter._forward(ids)
    with torch.inference_mode():
        full = target().model(torch.tensor([ids])).logits[0, -1]
    assert torch.allclose(logits, full, atol=1e-4)


def test_pruned_logits_are_minus_infinity_off_the_kept_set():
    drafter = engine("tli", {"keep_tokens": 50, "layers": 2}).drafter
    assert drafter.head.shape[0] == 50
    ids = target().encode(PROMPT)
    drafter.start(ids)
    logits = drafter._forward(ids)
    kept = torch.zeros(target().vocab_size, dtype=torch.bool)
    kept[drafter.keep_ids] = True
    assert torch.isfinite(logits[kept]).all() and torch.isinf(logits[~kept]).all()


@pytest.mark.parametrize("sampler", ["tli", "slem", "rdk", "rdk_linear"])
def test_greedy_output_equals_plain_greedy(sampler):
    plain = build_engine(target(), None, GenerationConfig(max_new_tokens=40)).run(PROMPT)
    fast = engine(sampler, {"keep_fraction": 0.5, "layers": 2}).run(PROMPT)
    assert fast.token_ids == plain.token_ids
    assert fast.steps < plain.steps, "the pruned target drafts well enough to save forwards"


def test_rdk_with_the_identity_kernel_is_tli_token_for_token():
    options = {"keep_fraction": 0.5, "rdk_mix": 0.0}
    rdk = engine("rdk", options, temperature=1.0, seed=11).run(PROMPT)
    tli = engine("tli", {"keep_fraction": 0.5}, temperature=1.0, seed=11).run(PROMPT)
    assert rdk.token_ids == tli.token_ids and rdk.acceptance_rate == tli.acceptance_rate


def test_rdk_drafts_tokens_the_head_cannot_emit():
    options = {"keep_tokens": 40, "rdk_mix": 0.9, "rdk_sharpness": 2.0}
    eng = engine("rdk_linear", options, temperature=1.0, seed=2)
    steps = list(eng.stream(PROMPT))
    drafted = {t for s in steps for t in s.draft_tokens}
    assert drafted - set(eng.drafter.keep_ids.tolist()), "out-of-vocabulary tokens get drafted"


def test_samplers_it_cannot_serve_are_refused():
    for sampler in ("slrs", "speculative", "greedy"):
        with pytest.raises(IncompatibleError, match="tli"):
            check_compatible(SpecConfig(drafter="pruned", sampler=sampler))
    with pytest.raises(ConfigError, match="rdk_mix"):
        engine("rdk", {"rdk_mix": 2.0})
