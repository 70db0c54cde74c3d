"""layer_skip_tree: the target's kept layers grow a token tree, one forward per level.

Each node's q equals a plain forward of the same kept layers over context + path (the
tree masks and positions are right, sliding window included), the drafter's cache holds
only the committed text afterwards, and greedy tree decoding equals plain greedy decoding.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.layer_subset import LayerSubset
from playground.engine import cache as kv
from playground.engine.build import build_engine
from playground.errors import ConfigError
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"
LAYERS = "0+2-3"  # skips an interior layer of the 4-layer tiny target


@cache
def tiny():
    return load_model("tiny:target")


def engine(spec: SpecConfig | None, **gen):
    config = GenerationConfig(**{"max_new_tokens": 40, "stop_at_eos": False, **gen})
    return build_engine(tiny(), spec, config)


def tree_spec(tree: str, sampler: str, layers=LAYERS, **kw) -> SpecConfig:
    return SpecConfig(
        drafter="layer_skip_tree",
        sampler=sampler,
        schedule="fixed",
        num_draft_tokens=kw.pop("num_draft_tokens", 4),
        options={"tree": tree, "layers": layers, **kw},
    )


def subset_probs(layers: list[int], ids: list[int]) -> torch.Tensor:
    """Softmax of the kept layers' last-position logits over ids, from scratch."""
    subset = LayerSubset(tiny().model, layers)
    with torch.inference_mode():
        return torch.softmax(subset.forward(ids, subset.new_cache(), 0).float(), -1)


@pytest.mark.parametrize("tree", ["static:3,2,1", "sample:2,2,1", "beam:3", "dynamic:8"])
def test_levels_match_plain_forwards_of_the_kept_layers(tree):
    eng = engine(tree_spec(tree, "tree_deterministic"), temperature=1.0)
    drafter = eng.drafter
    context = tiny().encode(PROMPT) * 2  # 40+ tokens: past the tiny target's window of 16
    drafter.start(context)
    draft = drafter.propose(context, 3, eng.schedule, torch.Generator().manual_seed(0))
    assert draft.num_nodes > 3 and not draft.is_chain, f"{tree}: expected a branching tree"
    base = drafter.base
    assert base.cached_ids == context and kv.cache_length(base.cache) == len(context), (
        "after proposing, the drafter's cache holds the committed text only"
    )
    if draft.q_draft is None:
        return
    for node in range(draft.num_nodes):
        path = draft.tokens[draft.path(node)[:-1]].tolist()
        plain = subset_probs(base.layers, context + path)
        gap = float((draft.q_draft[node] - plain).abs().max())
        assert gap < 1e-5, f"{tree}: node {node}'s q differs from a plain forward by {gap:.1e}"


@pytest.mark.parametrize("tree", ["static:3,2,2,1", "topk:2", "dynamic:12"])
@pytest.mark.parametrize("layers", [LAYERS, 2, "search"])
def test_greedy_tree_output_equals_plain_greedy(tree, layers):
    plain = engine(None, max_new_tokens=120).run(PROMPT)
    spec = tree_spec(tree, "tree_greedy", layers=layers, num_draft_tokens=5)
    result = engine(spec, max_new_tokens=120).run(PROMPT)
    assert result.token_ids == plain.token_ids, f"{tree}, layers={layers}: output differs"


def test_all_layers_kept_accept_the_whole_greedy_path():
    spec = tree_spec("static:2,2,1", "tree_greedy", layers=4, num_draft_tokens=3)
    result = engine(spec, max_new_tokens=60).run(PROMPT)
    assert result.per_position_acceptance and all(
        a == 1.0 for a in result.per_position_acceptance
    ), "the full model drafting its own tree must have its greedy path accepted every round"


def test_a_bad_tree_spec_fails_before_anything_runs():
    with pytest.raises(ConfigError, match="tree"):
        engine(tree_spec("static:0,2", "tree_greedy"))


@pytest.mark.parametrize("sampler, temperature", [("tree_greedy", 0.0), ("specinfer", 1.0)])
def test_a_pruned_head_drafts_only_kept_tokens_and_stays_lossless(sampler, temperature):
    spec = tree_spec("sample:2,2,1" if temperature else "dynamic:8", sampler, keep_fraction=0.3)
    eng = engine(spec, max_new_tokens=80, temperature=temperature, seed=7)
    kept = set(eng.drafter.base.keep_ids.tolist())
    steps = list(eng.stream(PROMPT))
    drafted = {t for s in steps for t in s.draft_tokens}
    assert drafted and drafted <= kept, "a pruned head drafts only the kept tokens"
    if temperature == 0.0:
        plain = engine(None, max_new_tokens=80).run(PROMPT)
        assert [t for s in steps for t in s.emitted] == plain.token_ids


@pytest.mark.slow
@pytest.mark.parametrize(
    "tree, options", [("dynamic:8", {}), ("static:2-2-1-1", {"keep_fraction": 0.1})]
)
def test_gemma_greedy_tree_output_equals_plain_greedy(tree, options):
    """Gemma 3 270M, a prompt longer than its 512-token sliding window."""
    target = load_model("bundled:gemma-3-270m")
    prompt = " ".join(f"Item {i}: the {i % 7}th colour is blue." for i in range(70))
    assert len(target.encode(prompt)) > 512
    config = GenerationConfig(max_new_tokens=64, stop_at_eos=False)
    plain = build_engine(target, None, config).run(prompt)
    spec = tree_spec(tree, "tree_greedy", layers="0-11+15-17", num_draft_tokens=4, **options)
    result = build_engine(target, spec, config).run(prompt)
    assert result.token_ids == plain.token_ids, f"{tree} {options}: greedy output differs"
    assert result.tau > 1.5, "skipping 3 of 18 layers should have most drafts accepted"
