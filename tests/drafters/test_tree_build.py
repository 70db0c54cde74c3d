"""Tree drafts without a model: the `tree` option's syntax, and the builders on toy tables.

Builders are checked on toy Markov tables (the drafter's and the target's next-token law
depend on the last token only), including end-to-end χ² tests: whole rounds of
build → verify, the way the engine runs them, must emit two tokens with joint law
p(a) · p(b | a) for every builder paired with its sampler. The model drafter is in
test_tree.py.
"""

from __future__ import annotations

import pytest
import torch

from playground.drafters.tree_build import build_tree
from playground.drafters.tree_spec import check_fits_context, parse_tree_spec
from playground.engine.tree import DETERMINISTIC, IID, WITHOUT_REPLACEMENT
from playground.errors import ConfigError
from playground.samplers import SAMPLERS
from playground.samplers.base import Distribution

# ---- the `tree` option ---------------------------------------------------------------------


def test_spec_syntax():
    spec = parse_tree_spec({"tree": "static:3,2,2,1"})
    assert (spec.kind, spec.branching, spec.depth, spec.budget) == ("static", (3, 2, 2, 1), 4, 16)
    assert parse_tree_spec({"tree": "sample:3-2"}).branching == (3, 2), "'-' separates too"
    assert parse_tree_spec({"tree": "dynamic:24"}).budget == 24
    assert parse_tree_spec({"tree": "beam", "tree_width": 3, "tree_depth": 5}).width == 3
    assert parse_tree_spec({"tree": "chains:4"}).children_drawn == IID
    assert parse_tree_spec({}).kind == "dynamic"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tree": "static:3,0,1"}, "at least 1 at every depth, got 0 at depth 2"),
        ({"tree": "dynamic:0"}, r"tree_budget must be in \[1, 256\], got 0"),
        ({"tree": "static:2", "tree_budget": 0}, "tree_budget must be in"),
        ({"tree": "static:" + ",".join(["1"] * 40)}, "40 levels deep; the deepest allowed is 32"),
        ({"tree": "topk:2", "tree_depth": 99}, "tree_depth must be in"),
        ({"tree": "static:3,200"}, "200 children per node"),
        ({"tree": "wide:3"}, "unknown tree kind 'wide'"),
        ({"tree": "static:3,x"}, "expected whole numbers"),
        ({"tree": "static"}, "needs its branching per depth"),
        ({"tree": "beam:2,2"}, "beam takes one number"),
        ({"tree": "chains:8", "tree_budget": 4}, "8 chains need at least 8 nodes"),
        ({"tree": 3}, "tree must be text"),
    ],
)
def test_bad_specs_say_what_is_wrong(options, message):
    with pytest.raises(ConfigError, match=message):
        parse_tree_spec(options)


def test_a_budget_must_fit_the_context():
    spec = parse_tree_spec({"tree": "dynamic:64"})
    check_fits_context(spec, 65, "tiny")
    with pytest.raises(ConfigError, match="does not fit tiny's context of 64 tokens"):
        check_fits_context(spec, 64, "tiny")


# ---- builders on toy tables -----------------------------------------------------------------

V = 4
ROOT = V  # the table row for "after the committed text"


def table(seed: int, sharp: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(sharp * torch.randn(V + 1, V, generator=g), dim=-1)  # (V + 1, V)


Q_TABLE, P_TABLE = table(1, 1.5), table(2, 1.0)


def toy_expand(q_table: torch.Tensor, greedy: bool = False):
    def expand(tree, nodes):
        rows = q_table[torch.tensor([tree.tokens[n] for n in nodes])]  # (nodes, V)
        return toy_dist(rows, greedy)

    return expand


def toy_dist(rows: torch.Tensor, greedy: bool) -> Distribution:
    return Distribution(logits=rows.log(), greedy=True) if greedy else Distribution(probs=rows)


def toy_build(text: str, depth: int = 3, greedy: bool = False, seed: int = 0, **options):
    spec = parse_tree_spec({"tree": text, **options})
    root = toy_dist(Q_TABLE[ROOT][None], greedy)
    rng = torch.Generator().manual_seed(seed)
    return build_tree(spec, root, toy_expand(Q_TABLE, greedy), depth, rng)


def test_static_shape_is_cut_by_the_budget_in_level_order():
    draft = toy_build("static:3,2,2", tree_budget=12)
    assert draft.children_drawn == DETERMINISTIC and draft.q_draft is None
    assert [len(draft.children(n)) for n in (-1, 0, 1, 2)] == [3, 2, 2, 2]
    assert (draft.depth == 3).sum() == 3, "12 nodes: 3 + 6, then 3 of the 12 third-level slots"
    top3 = Q_TABLE[ROOT].topk(3).indices.tolist()
    assert draft.tokens[draft.children(-1)].tolist() == top3, "top-3, best first"


def test_the_round_length_caps_the_depth():
    assert toy_build("topk:2", depth=2).max_depth == 2
    assert toy_build("static:1,1,1,1", depth=3).max_depth == 3


def test_dynamic_keeps_the_budget_best_paths():
    """EAGLE-2 by hand: expand the `width` best of each level, keep the `budget` best."""

    def score(path: tuple[int, ...]) -> float:
        rows = [ROOT, *path[:-1]]
        return float(Q_TABLE[rows, list(path)].log().sum())

    frontier, candidates = [()], []
    for _ in range(4):
        fresh = [
            (*path, token)
            for path in frontier
            for token in Q_TABLE[path[-1] if path else ROOT].topk(2).indices.tolist()
        ]
        candidates += fresh
        frontier = sorted(fresh, key=score, reverse=True)[:2]
    expected = set(sorted(candidates, key=score, reverse=True)[:7])
    draft = toy_build("dynamic:7", depth=4, tree_width=2)
    got = {tuple(draft.tokens[draft.path(n)].tolist()) for n in range(draft.num_nodes)}
    assert got == expected and draft.children_drawn == DETERMINISTIC


def test_sampled_builders_record_how_children_were_drawn():
    sample = toy_build("sample:3,2", seed=1)
    gumbel = toy_build("gumbel_topk:3,2")
    beam = toy_build("beam:2")
    chains = toy_build("chains:3")
    assert sample.children_drawn == chains.children_drawn == IID
    assert gumbel.children_drawn == beam.children_drawn == WITHOUT_REPLACEMENT
    assert len(set(gumbel.tokens[gumbel.children(-1)].tolist())) == 3, "no repeats"
    assert [int((beam.depth == d).sum()) for d in (1, 2, 3)] == [2, 2, 2]
    for draft in (sample, gumbel, beam, chains):
        for node in range(draft.num_nodes):
            parent = draft.parent_list[node]
            row = ROOT if parent < 0 else int(draft.tokens[parent])
            assert torch.equal(draft.q_draft[node], Q_TABLE[row]), "q = the parent's law"
    assert len(chains.draws_at(-1)) == 3, "three chains: three draws at the root"
    assert all(len(chains.draws_at(n)) > 0 for n in range(chains.num_nodes) if chains.depth[n] < 3)


def test_temperature_zero_falls_back_to_deterministic_trees():
    for text in ("sample:2,2", "gumbel_topk:2,2", "beam:2", "chains:3"):
        draft = toy_build(text, greedy=True)
        assert draft.q_draft is None and draft.children_drawn == DETERMINISTIC, text
    assert toy_build("chains:3", greedy=True).is_chain


PAIRS = [
    ("static:2,2", "tree_deterministic"),
    ("dynamic:5", "tree_deterministic"),
    ("sample:2,2", "specinfer"),
    ("gumbel_topk:3,2", "rsd"),
    ("beam:3", "rsd"),
    ("chains:3", "spectr"),
    ("chains:3", "specinfer"),
]
TRIALS = 4000


def first_two_tokens(text: str, sampler_name: str, trials: int, seed: int = 0) -> torch.Tensor:
    """Counts (V, V) of the first two tokens over whole build → verify rounds."""
    spec = parse_tree_spec({"tree": text, "tree_width": 2})
    sampler = SAMPLERS.get(sampler_name).factory()
    expand = toy_expand(Q_TABLE)
    rng = torch.Generator().manual_seed(seed)
    counts = torch.zeros(V, V)
    for _ in range(trials):
        out, context = [], ROOT
        while len(out) < 2:
            draft = build_tree(spec, Distribution(probs=Q_TABLE[context][None]), expand, 2, rng)
            rows = torch.tensor([context, *draft.tokens.tolist()])
            verdict = sampler.verify(draft, Distribution(probs=P_TABLE[rows]), rng)
            out += draft.tokens[verdict.accepted].tolist() + [verdict.next_token]
            context = out[-1]
        counts[out[0], out[1]] += 1
    return counts


@pytest.mark.parametrize("text, sampler", PAIRS, ids=[f"{t}+{s}" for t, s in PAIRS])
def test_builder_and_sampler_emit_the_target_law(text, sampler, chi2):
    counts = first_two_tokens(text, sampler, TRIALS)
    joint = P_TABLE[ROOT][:, None] * P_TABLE[:V]  # (V, V): p(a) p(b | a)
    assert chi2(counts.flatten(), joint.flatten()) > 1e-3, f"{text} + {sampler}: {counts}"


def test_negative_control_beam_verified_as_iid_fails(chi2):
    """Beam siblings are drawn without replacement: SpecInfer's rule must show the bias."""
    sampler = SAMPLERS.get("specinfer").factory()
    spec = parse_tree_spec({"tree": "beam:3"})
    rng = torch.Generator().manual_seed(0)
    counts = torch.zeros(V)
    for _ in range(TRIALS):
        root = Distribution(probs=Q_TABLE[ROOT][None])
        draft = build_tree(spec, root, toy_expand(Q_TABLE), 1, rng)
        draft.children_drawn = IID  # lie about how the children were drawn
        rows = torch.tensor([ROOT, *draft.tokens.tolist()])
        verdict = sampler.verify(draft, Distribution(probs=P_TABLE[rows]), rng)
        counts[(draft.tokens[verdict.accepted].tolist() + [verdict.next_token])[0]] += 1
    assert chi2(counts, P_TABLE[ROOT]) < 1e-3
