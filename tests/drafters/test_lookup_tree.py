"""lookup_tree: prompt-lookup branches plus recycling children, within the node budget, and
greedy output equal to plain greedy (tiny model always, Gemma 3 270M when slow)."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.base import DrafterContext
from playground.drafters.lookup_tree import LookupTreeDrafter, lookup_children
from playground.engine.build import build_engine
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny():
    return load_model("tiny:target")


def drafter(budget: int, **options) -> LookupTreeDrafter:
    spec = SpecConfig(drafter="lookup_tree", options={"tree_budget": budget, **options})
    ctx = DrafterContext(target=tiny(), spec=spec, config=GenerationConfig(), load=None)
    out = LookupTreeDrafter(ctx)
    out.start([])
    return out


def fill(d: LookupTreeDrafter, after: int, tokens: list[int]) -> None:
    d.table.next[after, : len(tokens)] = torch.tensor(tokens, dtype=torch.int32)


def paths(draft) -> set[tuple[int, ...]]:
    tokens = draft.tokens.tolist()
    return {tuple(tokens[i] for i in draft.path(n)) for n in range(draft.num_nodes)}


def test_each_earlier_match_becomes_a_branch():
    # "7 8" occurred twice before, followed by 1 2 and by 3 4: two branches below the root.
    context = [7, 8, 1, 2, 9, 7, 8, 3, 4, 9, 7, 8]
    draft = drafter(16).draft(context, depth=2, budget=16)
    assert draft.children(-1) and {draft.tokens[c].item() for c in draft.children(-1)} >= {1, 3}
    assert {(1, 2), (3, 4)} <= paths(draft), "both continuations, each as its own branch"
    only_latest = drafter(16, lookup_matches=1).draft(context, depth=2, budget=16)
    assert (3, 4) in paths(only_latest) and (1, 2) not in paths(only_latest)


def test_shares_split_between_disagreeing_matches():
    children = lookup_children({2: [[3, 4], [1, 2], [3, 5]]}, ())
    assert children[3] == [((2, 1), 2 / 3)] and children[1] == [((2, 1), 1 / 3)]
    assert lookup_children({2: [[3, 4], [1, 2], [3, 5]]}, (3,)) == {
        4: [((2, 2), 0.5)],
        5: [((2, 2), 0.5)],
    }


@pytest.mark.parametrize("budget", [1, 3, 8])
def test_tree_respects_the_budget_and_the_draft_length(budget):
    d = drafter(budget)
    d.table.rank_counts[0] = 10_000  # the table's first choice is (almost) always right
    for token in range(20):
        fill(d, token, [(token + 1) % 20, (token + 2) % 20, (token + 3) % 20])
    context = [5, 6, 7, 8, 5, 6, 7, 9, 5, 6]
    for depth in (1, 2, 16):
        draft = d.propose(context, depth, None, torch.Generator())
        assert draft.num_nodes <= budget and draft.max_depth <= depth, "budget and draft length"
        if depth == 16:
            assert draft.num_nodes == budget, "a full table fills the budget"
        siblings = [draft.tokens[draft.children(n)].tolist() for n in range(-1, draft.num_nodes)]
        assert all(len(s) == len(set(s)) for s in siblings), "siblings are distinct tokens"


def test_recycling_fills_in_below_the_lookup_branch():
    d = drafter(4)
    fill(d, 6, [7, 8])  # after 6 the target last preferred 7, then 8
    context = [5, 6, 9, 1, 5, 6]  # the lookup continuation of "5 6" is 9 1
    draft = d.draft(context, depth=2, budget=4)
    roots = {draft.tokens[c].item() for c in draft.children(-1)}
    assert 9 in roots and 7 in roots, "lookup and recycling children side by side"
    assert (9, 1) in paths(draft)
    assert d.draft([4], depth=4, budget=4).num_nodes == 0, "no match, empty table: no draft"


def test_trimming_drafts_only_what_pays_under_the_measured_verify_cost():
    context = [5, 6, 7, 8, 5, 6, 7, 9, 5, 6]
    sizes = {}
    for trim, slope in ((0, 0.5), (1, 0.0), (1, 0.5), (1, 5.0)):
        d = drafter(8, tree_trim=trim)
        d.table.rank_counts[0] = 3  # the table's first choice is right about half the time
        for token in range(20):
            fill(d, token, [(token + 1) % 20, (token + 2) % 20, (token + 3) % 20])
        d.verify.plain = [1.0]
        d.verify.samples = [(n, 1.0 + slope * (n - 1)) for n in (2, 5, 9) for _ in range(64)]
        sizes[trim, slope] = d.propose(context, 8, None, torch.Generator()).num_nodes
    assert sizes[0, 0.5] == 8, "tree_trim=0: the whole budget whatever verification costs"
    assert sizes[1, 0.0] == 8 > sizes[1, 0.5] > sizes[1, 5.0] == 0, f"node counts: {sizes}"


def test_the_drafter_times_its_own_rounds():
    config = GenerationConfig(max_new_tokens=40, stop_at_eos=False)
    spec = SpecConfig(drafter="lookup_tree", sampler="greedy", options={"tree_budget": 8})
    engine = build_engine(tiny(), spec, config)
    steps = list(engine.stream(PROMPT))
    curve = engine.drafter.verify
    # every round but the last, which has a single token left and drafts nothing
    assert len(curve.plain) + len(curve.samples) == len(steps) - 1, "a verify time per round"


@pytest.mark.parametrize("budget", [1, 4, 16])
def test_greedy_output_equals_plain_greedy(budget):
    target = tiny()
    config = GenerationConfig(max_new_tokens=150, stop_at_eos=False)
    plain = build_engine(target, None, config).run(PROMPT)
    spec = SpecConfig(
        drafter="lookup_tree",
        sampler="greedy",
        schedule="fixed",
        num_draft_tokens=8,
        options={"tree_budget": budget},
    )
    fast = build_engine(target, spec, config).run(PROMPT)
    assert fast.token_ids == plain.token_ids, "greedy tree verification must equal plain greedy"
    assert fast.acceptance_rate > 0, "a repetitive prompt should get some drafts accepted"


def test_sampling_with_the_deterministic_tree_sampler_runs():
    config = GenerationConfig(max_new_tokens=40, temperature=0.8, stop_at_eos=False)
    spec = SpecConfig(
        drafter="lookup_tree", sampler="tree_deterministic", options={"tree_budget": 6}
    )
    result = build_engine(tiny(), spec, config).run(PROMPT)
    assert result.new_tokens == 40


@pytest.mark.slow
def test_gemma_greedy_equals_plain_greedy_for_256_tokens():
    target = load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")
    config = GenerationConfig(max_new_tokens=256, stop_at_eos=False)
    prompt = (
        "Summarise the text.\nText: The river rose after three days of rain. The river "
        "flooded the lower town, and the lower town was evacuated. After the rain the river "
        "fell.\nSummary:"
    )
    plain = build_engine(target, None, config).run(prompt)
    spec = SpecConfig(
        drafter="lookup_tree", sampler="greedy", schedule="fixed", num_draft_tokens=16,
        options={"tree_budget": 8},
    )  # fmt: skip
    fast = build_engine(target, spec, config).run(prompt)
    assert plain.new_tokens == 256
    assert fast.token_ids == plain.token_ids, "greedy tree decoding must equal plain greedy"
    assert fast.steps < plain.steps, "the tree should save target forwards"
