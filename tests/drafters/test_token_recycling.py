"""Token recycling: the adjacency table, the tree template, lossless greedy output, and the
engine's `Drafter.observe` hook that feeds the table."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.base import Drafter
from playground.drafters.token_recycling import EMPTY, AdjacencyTable, tree_template
from playground.engine.build import build_engine
from playground.engine.loop import Engine
from playground.engine.tree import Draft
from playground.models import load_model
from playground.samplers.base import Distribution
from playground.samplers.greedy import GreedySampler
from playground.schedules.fixed import FixedSchedule

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny():
    return load_model("tiny:target")


def logits_row(order: list[int], vocab: int = 6) -> torch.Tensor:
    """A row whose tokens rank in `order` (first = most likely)."""
    row = torch.full((vocab,), -10.0)
    for rank, token in enumerate(order):
        row[token] = 5.0 - rank
    return row


def test_table_update_on_hand_made_logits():
    table = AdjacencyTable(vocab_size=6, top=2)
    assert table.memory_bytes == 6 * 2 * 4, "vocab × k int32 ids"
    assert (table.next == EMPTY).all()
    # Round 1: pending token 0, one draft node (token 3): rows after 0 and after 3.
    table.update(torch.tensor([0, 3]), torch.stack([logits_row([3, 1]), logits_row([5, 2])]))
    assert table.next[0].tolist() == [3, 1] and table.next[3].tolist() == [5, 2]
    assert table.rank_counts.tolist() == [0, 0, 0], "rows were empty: nothing to score yet"
    # Round 2: after 0 the target now prefers 1 (rank 1 of the old row); after 3, 4 (absent).
    table.update(torch.tensor([0, 3]), torch.stack([logits_row([1, 3]), logits_row([4, 5])]))
    assert table.next[0].tolist() == [1, 3] and table.next[3].tolist() == [4, 5]
    assert table.rank_counts.tolist() == [0, 1, 1], "one hit at rank 1, one miss"
    # The same token twice in one round: the later row wins.
    table.update(torch.tensor([2, 2]), torch.stack([logits_row([0, 1]), logits_row([5, 4])]))
    assert table.next[2].tolist() == [5, 4]


def test_tree_template_is_the_best_tree_for_the_budget_in_bfs_order():
    template = tree_template([0.6, 0.3, 0.05], 4)
    depth = []
    for parent, _ in template:
        assert parent < len(depth), "parents come before their children"
        depth.append(1 if parent < 0 else depth[parent] + 1)
    assert depth == sorted(depth), "breadth-first"
    # Path products: (0) .6, (0,0) .36, (1) .3, (0,0,0) .216; then (0,1) = (1,0) = .18.
    assert template == [(-1, 0), (-1, 1), (0, 0), (2, 0)]
    assert tree_template([0.1, 0.6, 0.3], 2) == [(-1, 1), (0, 1)], "rank 1 is the likeliest"
    assert len(tree_template([0.5, 0.2, 0.1], 40)) == 40


def test_expansion_follows_the_table_and_drops_empty_rows():
    table = AdjacencyTable(vocab_size=6, top=2)
    table.next[0] = torch.tensor([3, 1], dtype=torch.int32)
    table.next[3] = torch.tensor([5, 2], dtype=torch.int32)  # row of 1 stays empty
    draft = table.expand(0, [(-1, 0), (-1, 1), (0, 0), (1, 0), (0, 1)])
    assert draft.tokens.tolist() == [3, 1, 5, 2]
    assert draft.parent_list == [-1, -1, 0, 0]
    assert table.expand(4, [(-1, 0)]).num_nodes == 0, "an unseen root drafts nothing"


@pytest.mark.parametrize("budget", [1, 4, 16])
def test_greedy_output_equals_plain_greedy(budget):
    target = tiny()
    config = GenerationConfig(max_new_tokens=150, stop_at_eos=False)
    plain = build_engine(target, None, config).run(PROMPT)
    spec = SpecConfig(
        drafter="token_recycling", sampler="greedy", schedule="fixed", num_draft_tokens=budget
    )
    fast = build_engine(target, spec, config).run(PROMPT)
    assert fast.token_ids == plain.token_ids
    assert fast.acceptance_rate > 0, "a filled table should get some tokens accepted"


class Spy(Drafter):
    """Drafts a fixed 2-node tree and records what the engine shows it."""

    def __init__(self):
        self.seen: list[tuple[int, int, list[int]]] = []
        self.verify_seconds: list[float | None] = []

    def propose(self, context, num_draft_tokens, schedule, rng):
        return Draft(torch.tensor([5, 6]), torch.tensor([-1, -1]))

    def observe(self, context, p_target: Distribution, draft: Draft, verify_seconds=None):
        self.seen.append((context[-1], p_target.num_rows, draft.tokens.tolist()))
        self.verify_seconds.append(verify_seconds)


def test_the_loop_shows_drafters_every_verified_row_before_commit():
    spy = Spy()
    engine = Engine(
        tiny(),
        spy,
        GreedySampler(),
        FixedSchedule(SpecConfig()),
        GenerationConfig(max_new_tokens=5, stop_at_eos=False),
    )
    steps = list(engine.stream(PROMPT))
    assert len(spy.seen) == len(steps), "once per round, plain rounds included"
    pending = tiny().encode(PROMPT)[-1]
    for (last, rows, tokens), step in zip(spy.seen, steps, strict=True):
        assert last == pending, "context still ends in the round's pending token"
        assert tokens == step.draft_tokens
        assert rows == len(tokens) + 1, "row 0 after the pending token, then one per node"
        pending = step.emitted[-1]
    assert spy.verify_seconds == [s.verify_time for s in steps], "the round's verify time"
