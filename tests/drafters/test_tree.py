"""The tree drafter on tiny models, through the engine.

Its per-level tree forwards give the same distributions as plain forwards, its cache
holds only the committed text after proposing, greedy tree decoding equals plain greedy
decoding, and a chain-shaped tree reproduces the chain engine seed for seed. The `tree`
option's syntax and the builders are tested in test_tree_build.py.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine import cache as kv
from playground.engine.build import build_engine
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def engine(spec: SpecConfig | None, **gen):
    config = GenerationConfig(**{"max_new_tokens": 40, **gen})
    return build_engine(tiny("target"), spec, config, load=lambda s: load_model(s))


def tree_spec(tree: str, sampler: str, drafter: str = "tree", **kw) -> SpecConfig:
    return SpecConfig(
        drafter=drafter,
        drafter_model="tiny:drafter",
        sampler=sampler,
        schedule="fixed",
        num_draft_tokens=kw.pop("num_draft_tokens", 4),
        options={"tree": tree, **kw},
    )


@pytest.mark.parametrize("tree", ["static:3,2,1", "sample:2,2,1", "beam:3", "chains:2"])
def test_drafter_levels_match_plain_forwards_and_roll_back(tree):
    eng = engine(tree_spec(tree, "tree_deterministic"), temperature=1.0)
    drafter = eng.drafter
    context = tiny("target").encode(PROMPT) * 2  # 40+ tokens: past the target's window
    drafter.start(context)
    draft = drafter.propose(context, 3, eng.schedule, torch.Generator().manual_seed(0))
    assert drafter.base.cached_ids == context and kv.cache_length(drafter.base.cache) == len(
        context
    ), "after proposing, the drafter's cache holds the committed text only"
    if draft.q_draft is None:
        return
    model = tiny("drafter").model
    for node in range(draft.num_nodes):
        parent_path = draft.path(node)[:-1]
        ids = torch.tensor([context + draft.tokens[parent_path].tolist()])
        with torch.inference_mode():
            plain = torch.softmax(model(input_ids=ids).logits[0, -1].float(), -1)
        gap = float((draft.q_draft[node] - plain).abs().max())
        assert gap < 1e-5, f"{tree}: node {node}'s q differs from a plain forward by {gap:.1e}"


@pytest.mark.parametrize(
    "tree", ["static:3,2,2,1", "topk:2", "dynamic:12", "beam:3", "chains:3", "sample:2,2"]
)
def test_tree_greedy_equals_plain_greedy_past_the_window(tree):
    plain = engine(None, max_new_tokens=150).run(PROMPT)
    spec = tree_spec(tree, "tree_greedy", num_draft_tokens=5)
    result = engine(spec, max_new_tokens=150).run(PROMPT)
    assert result.steps < plain.steps, "the tree should save target forwards"
    assert result.token_ids == plain.token_ids, f"{tree}: greedy tree output differs"


@pytest.mark.parametrize(
    "tree, sampler, chain_sampler",
    [("sample:1,1,1,1", "specinfer", "speculative"), ("chains:1", "spectr", "speculative")],
)
def test_a_chain_shaped_tree_reproduces_the_chain_engine(tree, sampler, chain_sampler):
    chain = SpecConfig(
        drafter="model", drafter_model="tiny:drafter", sampler=chain_sampler, schedule="fixed"
    )
    for seed in (1, 2):
        expected = engine(chain, temperature=1.0, seed=seed).run(PROMPT)
        got = engine(tree_spec(tree, sampler), temperature=1.0, seed=seed).run(PROMPT)
        assert got.token_ids == expected.token_ids, f"{tree} + {sampler}, seed {seed}"


def test_tree_drafts_fill_the_step_record():
    steps = list(
        engine(tree_spec("static:3,2", "tree_deterministic"), temperature=1.0).stream(PROMPT)
    )
    step = next(s for s in steps if s.num_draft_tokens > 2)
    assert step.draft_parents[:3] == [-1, -1, -1]
    reached = [i for i, a in enumerate(step.accept_probs) if a is not None]
    assert reached, "visited nodes carry their acceptance probability"
    assert set(step.accepted) <= set(reached)
    assert any(a is None for a in step.accept_probs), "some nodes are never reached"


def test_heuristic_schedule_deepens_trees_whose_paths_are_accepted():
    spec = SpecConfig(drafter="target_tree", sampler="tree_greedy", options={"tree": "beam:2"})
    steps = list(engine(spec).stream(PROMPT))
    depths = [_depth(s.draft_parents) for s in steps if s.draft_parents]
    assert max(depths) > spec.num_draft_tokens, "the schedule counts depth, not nodes"


def _depth(parents: list[int]) -> int:
    depth: list[int] = []
    for parent in parents:
        depth.append(1 if parent < 0 else depth[parent] + 1)
    return max(depth)


@pytest.mark.slow
def test_gemma_tree_greedy_equals_plain_greedy_for_600_tokens():
    target = load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")
    config = GenerationConfig(max_new_tokens=600, stop_at_eos=False)
    prompt = "The history of the printing press"
    plain = build_engine(target, None, config).run(prompt)
    spec = SpecConfig(
        drafter="target_tree",
        sampler="tree_greedy",
        schedule="fixed",
        num_draft_tokens=3,
        options={"tree": "static:2,2,1"},
    )
    result = build_engine(target, spec, config).run(prompt)
    assert plain.new_tokens == 600
    assert result.token_ids == plain.token_ids, "greedy tree decoding must equal plain greedy"
