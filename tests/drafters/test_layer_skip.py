"""layer_skip: the target drafting for itself through a subset of its layers.

Lossless at temperature 0 for every skip set (output = plain greedy), every token
accepted when no layer is skipped, no weight copied, and the search scores its family.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.layer_search import candidate_shapes, search_layers
from playground.drafters.layer_subset import LayerSubset, format_layers, parse_layers
from playground.engine.build import build_engine
from playground.engine.logits import LogitsProcessor
from playground.errors import IncompatibleError
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str = "target"):
    return load_model(f"tiny:{name}")


def run(target, spec, prompt=PROMPT, new_tokens=80, **gen):
    config = GenerationConfig(max_new_tokens=new_tokens, stop_at_eos=False, **gen)
    return build_engine(target, spec, config).run(prompt)


def first_difference(target, prompt: str, a: list[int], b: list[int]) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if n is None:
        return f"lengths differ: {len(a)} vs {len(b)}"
    with torch.inference_mode():
        logits = target.model(torch.tensor([target.encode(prompt) + a[:n]])).logits[0, -1]
    return (
        f"first difference at token {n}: {a[n]} vs {b[n]}; logit gap "
        f"{float(logits[a[n]] - logits[b[n]]):.2e} (a near-tie if below 1e-4)"
    )


def skip(layers, **options) -> SpecConfig:
    return SpecConfig(
        drafter="layer_skip",
        sampler="greedy",
        schedule="fixed",
        num_draft_tokens=4,
        options={"layers": layers, **options},
    )


@pytest.mark.parametrize("name", ["target", "drafter"])
def test_all_layers_reproduce_the_models_own_logits(name):
    """Gemma 3 (sliding + full layers, window 16, crossed here) and Llama."""
    handle = tiny(name)
    ids = handle.encode(PROMPT + " and the little robot walked to the market")
    n = len(handle.model.get_decoder().layers)
    with torch.inference_mode():
        reference = handle.model(torch.tensor([ids])).logits[0].float()  # (len, vocab)
        subset = LayerSubset(handle.model, list(range(n)))
        cache_ = subset.new_cache()
        rows = [subset.forward(ids[:8], cache_, 0)]
        rows += [subset.forward([t], cache_, 8 + i) for i, t in enumerate(ids[8:])]
    assert len(ids) > 16, "the text should cross the sliding window"
    error = (torch.stack(rows) - reference[7:]).abs().max()
    assert error < 1e-4, f"subset with every layer differs from the model by {error:.2e}"


def test_all_layers_kept_accepts_every_token():
    summary = run(tiny(), skip(4))
    assert summary.acceptance_rate == 1.0, "the full model drafting for itself must match itself"


@pytest.mark.parametrize("layers", [1, 2, 3, "0+3", "1-3", "0-1+3", "search"])
def test_greedy_output_equals_plain_greedy(layers):
    target = tiny()
    plain = run(target, None, new_tokens=120)
    fast = run(target, skip(layers), new_tokens=120)
    assert fast.token_ids == plain.token_ids, first_difference(
        target, PROMPT, fast.token_ids, plain.token_ids
    )


def test_sampling_runs_and_is_deterministic_per_seed():
    spec = SpecConfig(drafter="layer_skip", sampler="speculative", options={"layers": 2})
    a = run(tiny(), spec, temperature=1.0, seed=3)
    b = run(tiny(), spec, temperature=1.0, seed=3)
    assert a.token_ids == b.token_ids and a.new_tokens == 80


def test_no_weight_is_copied():
    target = tiny()
    engine = build_engine(target, skip("0+3"), GenerationConfig(max_new_tokens=4))
    drafter = engine.drafter
    assert drafter.subset.decoder is target.model.get_decoder()
    assert drafter.subset.head is target.model.get_output_embeddings()
    assert drafter.head_rows is None
    assert drafter.subset.layers == [0, 3]


def test_layer_zero_skipped_keeps_the_cache_length_right():
    engine = build_engine(tiny(), skip("1-3"), GenerationConfig(max_new_tokens=30))
    list(engine.stream(PROMPT))
    drafter = engine.drafter
    assert drafter.cache.get_seq_length() == len(drafter.cached_ids) > 0


@pytest.mark.parametrize("drafter", ["layer_skip", "target"])
def test_cache_sync_feeds_only_the_new_tokens(drafter):
    """Temperature 1 and a growing schedule (the slow bench settings): after the prompt,
    each round feeds at most the last draft token and the next token, then one per draft
    token; re-feeding the context would make every round cost a prefill."""
    spec = SpecConfig(
        drafter=drafter, sampler="speculative", schedule="heuristic", options={"layers": "0+3"}
    )
    config = GenerationConfig(max_new_tokens=60, stop_at_eos=False, temperature=1.0)
    engine = build_engine(tiny(), spec, config)
    fed: list[int] = []
    forward = engine.drafter._forward
    engine.drafter._forward = lambda ids: fed.append(len(ids)) or forward(ids)
    rounds = []
    for step in engine.stream(PROMPT):
        rounds.append((step.index, list(fed)))
        fed.clear()
    assert max(len(step_fed) for _, step_fed in rounds) > 4, "drafts should grow"
    for index, step_fed in rounds[1:]:
        assert not step_fed or (step_fed[0] <= 2 and set(step_fed[1:]) <= {1}), (
            f"round {index} fed {step_fed} ids to the drafter; its cache should hold the "
            "committed context"
        )
    assert engine.drafter.cache.get_seq_length() == len(engine.drafter.cached_ids)


def test_pruned_head_with_tli_and_rdk():
    target = tiny()
    plain = run(target, None)
    options = {"layers": 4, "keep_fraction": 0.5}
    tli = run(target, SpecConfig(drafter="layer_skip_pruned", sampler="tli", options=options))
    assert tli.token_ids == plain.token_ids
    assert 0 < tli.acceptance_rate < 1, "half the vocabulary is gone: some tokens cannot match"
    spec = SpecConfig(drafter="layer_skip_pruned", sampler="rdk", options=options)
    sampled = run(target, spec, temperature=1.0)
    assert sampled.new_tokens == 80
    engine = build_engine(target, spec, GenerationConfig(max_new_tokens=2))
    assert engine.drafter.head_rows.shape[0] == round(0.5 * target.vocab_size)


def test_parse_layers():
    assert parse_layers(3, 18) == [0, 1, 2]
    assert parse_layers(0, 18) == list(range(18)), "0 = every layer, as for `pruned`"
    assert parse_layers("0-2,5", 18) == [0, 1, 2, 5]
    assert parse_layers("0-2+5+17", 18) == [0, 1, 2, 5, 17]
    assert format_layers([0, 1, 2, 5, 17]) == "0-2+5+17"
    for bad in ("0-18", "a-b", -1, 19, ""):
        with pytest.raises(IncompatibleError):
            parse_layers(bad, 18)


def test_search_scores_every_candidate_of_its_family():
    target = tiny()
    processor = LogitsProcessor(GenerationConfig())
    found = search_layers(target.model, target.encode(PROMPT), 64, 8, 8, processor)
    assert len(found) == len(candidate_shapes(4))
    assert [c.speedup for c in found] == sorted((c.speedup for c in found), reverse=True)
    for candidate in found:
        assert 0.0 <= candidate.acceptance <= 1.0
        assert 0.0 <= candidate.cost <= 1.0 and 1 <= candidate.num_draft_tokens <= 8


# ---- the bundled Gemma 3 270M ------------------------------------------------------------

GEMMA_PROMPT = (
    "Summarise the text.\nText: The river rose after three days of rain. The river flooded "
    "the lower town, and the lower town was evacuated. After the rain the river fell.\nSummary:"
)


@cache
def gemma():
    return load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")


@pytest.mark.slow
def test_gemma_all_layers_kept_accepts_every_token():
    summary = run(gemma(), skip(18), GEMMA_PROMPT, new_tokens=32)
    assert summary.acceptance_rate == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("layers", [15, 12, 9, "0-8+15-17", "0-11+17", "search"])
def test_gemma_greedy_output_equals_plain_greedy(layers):
    target = gemma()
    plain = run(target, None, GEMMA_PROMPT, new_tokens=64)
    fast = run(target, skip(layers), GEMMA_PROMPT, new_tokens=64)
    assert fast.token_ids == plain.token_ids, first_difference(
        target, GEMMA_PROMPT, fast.token_ids, plain.token_ids
    )
