"""auto: lossless, within its bound, and its choices follow what it measured.

Choices are tested on injected measurements (never on wall-clock times)."""

from __future__ import annotations

from functools import cache

import pytest

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.auto import MODEL_PROBE, PLAIN, auto_sources
from playground.drafters.auto_stats import PRIOR_JUMP, PRIOR_SLOPE, ArmStats, VerifyCurve
from playground.drafters.base import DrafterContext
from playground.drafters.lookup_tree import best_prefix
from playground.engine.build import build_engine
from playground.errors import ConfigError
from playground.models import load_model

PROMPT = "the cat sat on the mat. the cat sat on the mat. the dog"


@cache
def tiny():
    return load_model("tiny:target")


def engine(max_new_tokens=100, **spec):
    spec = SpecConfig(drafter="auto", **{"sampler": "greedy", **spec})
    return build_engine(
        tiny(), spec, GenerationConfig(max_new_tokens=max_new_tokens, stop_at_eos=False)
    )


def test_greedy_output_equals_plain_greedy():
    plain = build_engine(tiny(), None, GenerationConfig(max_new_tokens=150, stop_at_eos=False)).run(
        PROMPT
    )
    assert engine(150).run(PROMPT).token_ids == plain.token_ids


def test_never_drafts_past_its_bound():
    steps = list(engine(120, num_draft_tokens=3, max_draft_tokens=3).stream(PROMPT))
    assert max(s.num_draft_tokens for s in steps) <= 3
    assert any(s.num_draft_tokens for s in steps), "calibration drafts with every source"


def test_chain_samplers_leave_token_recycling_out():
    ctx = DrafterContext(
        tiny(), SpecConfig(drafter="auto", sampler="speculative"), GenerationConfig(), None
    )
    assert auto_sources(ctx) == ["prompt_lookup", "layer_skip"]
    ctx.spec = SpecConfig(drafter="auto", options={"auto_drafters": "nonsense"})
    with pytest.raises(ConfigError):
        auto_sources(ctx)


def started(**options):
    """An auto drafter after a run's start, calibration skipped, unit time 1 s."""
    drafter = engine(100, options={"auto_reprobe": 0, **options}).drafter
    drafter.start(tiny().encode(PROMPT))
    drafter.plan = []
    drafter.verify.plain = [1.0]
    return drafter


def measured(drafter, name: str, alpha: float, cost: float, rounds: int = 50) -> None:
    """Inject `rounds` chain rounds of 8 drafted tokens at acceptance `alpha`, `cost` s/token."""
    stats = drafter.arms[name].stats
    for i in range(rounds):
        accepted = 0
        while accepted < 8 and (i * 7 + accepted * 3) % 100 < alpha * 100:
            accepted += 1
        stats.record(8, 8, accepted, 8 * cost)


def test_falls_back_to_plain_when_nothing_beats_it():
    drafter = started(auto_drafters="prompt_lookup+layer_skip")
    measured(drafter, "prompt_lookup", alpha=0.0, cost=0.0)
    measured(drafter, "layer_skip", alpha=0.5, cost=0.9)
    assert drafter._next(tiny().encode(PROMPT), 100) == (PLAIN, 0)


def test_picks_the_source_and_length_with_the_best_prediction():
    drafter = started(auto_drafters="prompt_lookup+layer_skip")
    measured(drafter, "prompt_lookup", alpha=0.9, cost=0.0)
    measured(drafter, "layer_skip", alpha=0.5, cost=0.5)
    name, size = drafter._next(tiny().encode(PROMPT), 100)
    assert name == "prompt_lookup" and size > 4, "free, accurate drafts: draft long"
    assert drafter._next(tiny().encode(PROMPT), 4) == ("prompt_lookup", 3), "3 tokens left to draft"


def test_reprobes_another_cheap_source_every_few_rounds():
    drafter = started(auto_drafters="prompt_lookup+token_recycling", auto_reprobe=4)
    measured(drafter, "prompt_lookup", alpha=0.9, cost=0.0)
    drafter.arms["token_recycling"].stats.record(4, 4, 0, 0.0)
    chosen = []
    for _ in range(8):
        chosen.append(drafter._next(tiny().encode(PROMPT), 100)[0])
        drafter.rounds += 1
    assert chosen.count("token_recycling") == 2 and chosen[0] == "token_recycling"
    assert chosen.count("prompt_lookup") == 6


def test_the_layer_search_runs_only_when_it_is_a_small_share_of_the_work_left():
    drafter = started(auto_drafters="prompt_lookup+layer_skip")
    assert not drafter._search_pays(remaining=64, cap=16), "8 forwards of 64: too dear"
    assert drafter._search_pays(remaining=300, cap=16), "8 of 300 forwards: under 5%"
    measured(drafter, "prompt_lookup", alpha=0.9, cost=0.0)
    assert drafter.predict("prompt_lookup", 16)[0] > 2
    assert not drafter._search_pays(remaining=300, cap=16), "a fast source leaves less time"


def test_a_source_that_sits_out_is_never_chosen_in_that_run():
    drafter = started(auto_drafters="prompt_lookup+layer_skip", auto_reprobe=2)
    drafter.plan = [("layer_skip", 16)]
    measured(drafter, "prompt_lookup", alpha=0.0, cost=0.0)
    for _ in range(6):
        assert drafter._next(tiny().encode(PROMPT), 64)[0] != "layer_skip"
        drafter.rounds += 1
    assert drafter.drafters["layer_skip"].subset is None, "no search on a 64-token run"


def test_verify_curve_starts_from_the_prior_and_follows_measurements():
    curve = VerifyCurve()
    assert curve.curve(8)[8] == pytest.approx(1 + PRIOR_JUMP + 7 * PRIOR_SLOPE)
    curve.record(1, 0.1)
    for _ in range(60):
        for n in (5, 9, 17):  # measured: a step of 0.3 to any draft, then 0.1 per token
            curve.record(n, 0.1 * (1 + 0.3 + 0.1 * (n - 1)))
    jump, slope = curve.line()
    assert jump == pytest.approx(0.3, abs=0.03) and slope == pytest.approx(0.1, abs=0.01)
    assert curve.curve(4)[:3] == pytest.approx([1.0, 1.0, 1.0 + jump + slope])


def test_chain_statistics_count_positions_reached():
    stats = ArmStats()
    stats.record(4, 4, 2, 0.4)  # positions 1, 2 accepted, 3 rejected, 4 never reached
    stats.record(4, 0, 0, 0.0)  # nothing to draft: a plain round, not a rejection
    assert stats.reached == [1, 1, 1] and stats.accepted == [1, 1, 0]
    assert stats.misses == 1 and stats.rounds == 2 and stats.miss_rate == 0.5
    assert stats.cost(unit=1.0) == pytest.approx(0.1)


def test_misses_cost_a_plain_round_so_they_never_make_a_source_worse_than_plain():
    curve = VerifyCurve()
    curve.record(1, 1.0)
    stats = ArmStats()
    for _ in range(10):
        stats.record(4, 4, 4, 0.0)  # free drafts, all accepted
    hit_only = stats.predict(4, 1.0, curve)
    for _ in range(90):
        stats.record(4, 0, 0, 0.0)
    mixed = stats.predict(4, 1.0, curve)
    assert 1.0 < mixed < hit_only


def test_a_source_that_is_always_rejected_is_dropped_after_calibration():
    """auto_drafters=random: drafts are (almost) never accepted, so after its probe round
    auto decodes plainly, drafting again only in the periodic re-probes."""
    plain = build_engine(tiny(), None, GenerationConfig(max_new_tokens=120, stop_at_eos=False))
    auto = engine(120, options={"auto_drafters": "random", "auto_reprobe": 16})
    steps = list(auto.stream(PROMPT))
    assert [t for s in steps for t in s.emitted] == plain.run(PROMPT).token_ids
    drafting = [s.index for s in steps if s.num_draft_tokens]
    assert drafting[0] == 1, "calibration after one plain round"
    assert steps[1].num_draft_tokens == MODEL_PROBE, "a model source probes one short round"
    later = drafting[1:]
    assert len(later) <= len(steps) // 16 + 1, f"only re-probes draft later, got {later}"


def test_the_lookup_tree_is_asked_for_its_largest_budget_and_cuts_what_does_not_pay():
    """lookup_tree sizes itself: auto asks for 16 nodes, as deep as the bound, and passes
    its verify curve; dear verification leaves only the likeliest nodes, or none."""
    drafter = engine(100, max_draft_tokens=8, options={"auto_drafters": "lookup_tree"}).drafter
    ids = tiny().encode(PROMPT * 3)  # repetitive: prompt lookup finds long continuations
    drafter.start(ids)
    assert drafter.plan == [(PLAIN, 0)] + [("lookup_tree", 8)] * drafter.probe_rounds
    drafter.plan = [("lookup_tree", 8)]
    cheap = drafter.propose(ids, 8, drafter.keep, None)
    assert 0 < cheap.num_nodes <= 8 and cheap.max_depth <= 8
    drafter.verify.plain = [1.0]
    drafter.verify.samples = [(n, 1.0 + 0.5 * (n - 1)) for n in (2, 5, 9) for _ in range(64)]
    drafter.plan = [("lookup_tree", 8)]
    dear = drafter.propose(ids, 8, drafter.keep, None)
    assert dear.num_nodes < cheap.num_nodes, "half a forward per extra row: draft less"


def test_best_prefix_keeps_the_nodes_that_raise_tokens_per_verify_time():
    flat = [1.0 + 0.1 * (n - 1) for n in range(8)]  # v[n], n = 0..7
    assert best_prefix([0.9, 0.8, 0.5, 0.05, 0.01], flat) == 3
    assert best_prefix([0.05, 0.01], flat) == 0, "nothing beats a plain round"
    steep = [1.0, 1.0] + [2.0 + n for n in range(6)]
    assert best_prefix([0.9, 0.8, 0.7], steep) == 0


def test_tree_samplers_get_the_lookup_tree_by_default():
    ctx = DrafterContext(
        tiny(), SpecConfig(drafter="auto", sampler="tree_greedy"), GenerationConfig(), None
    )
    assert auto_sources(ctx) == ["lookup_tree", "prompt_lookup", "layer_skip"]
