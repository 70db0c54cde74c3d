"""`auto`: measure what pays on this machine and this text, then draft that (or nothing).

A drafter, not a schedule, because it chooses *which* proposal source runs (the lookup
tree, prompt lookup, layer skipping at the depth `layer_search` finds best) as well
as how much it drafts, and because only a drafter sees both its own drafting time
(inside `propose`) and the verify time (the engine hands it to `observe`). It picks
its own length, so the configured schedule is not consulted; its bound is
`max_draft_tokens`.

1. Calibrate, on the first rounds of a run: one plain round (the cost unit, one target
   forward; drafts that find nothing add more), then `auto_probe_rounds` rounds each of
   the lookup tree at budget 16 (it cuts its tree to the nodes that pay under the
   measured verify curve, `lookup_tree.best_prefix`, so it needs no other budget), prompt
   lookup at the bound (token recycling, if asked for: budgets 4 and 8), one round of
   4 tokens of each model source (`random`; `layer_skip` after its layer search, whose
   predicted acceptance and cost become its prior, if the search runs at all). The
   search (about search_window / 16 + search_rows / 8 + 2 target forwards) runs only
   when that is at most `SEARCH_SHARE` of the decode time left, judged from the best
   source measured so far: on Gemma 3 270M with the defaults, from about 160 tokens left.
2. Choose the (source, size) with the highest predicted speedup
   (`auto_stats.ArmStats.predict`: `analytic_speedup` from measured per-position
   acceptance, drafting cost per token and the verify-cost curve; rounds where a source
   had nothing to draft count as plain rounds); plain decoding (draft length 0) when
   nothing is predicted above 1.
3. Re-probe: every `auto_reprobe` rounds one other cheap source (or an expensive one
   predicted within 10% of the best) drafts one round, so a text that turns repetitive
   (or stops being so) moves the choice. Predictions use the last 16 rounds per source.

The tree sources (`lookup_tree`, and `token_recycling` when asked for in `auto_drafters`)
join only when the sampler verifies trees; their size is a node budget, their depth the
bound. Their recycling tables learn from every round whichever source drafted. The UI
default is `SpecConfig(drafter="auto", sampler="specinfer")` (`config.DEFAULT_SAMPLER`):
SpecInfer verifies the layer-skip chains (with q_draft) and the deterministic chains and
trees of the other sources (one-hot q), and is greedy verification at temperature 0,
as `sampler="greedy"` is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from playground.config import (
    AUTO_PROBE_ROUNDS,
    AUTO_REPROBE,
    SEARCH_ROWS,
    SEARCH_WINDOW,
    read_option,
)
from playground.drafters.auto_stats import ArmStats, VerifyCurve
from playground.drafters.base import DRAFTERS, Drafter, DrafterContext
from playground.engine.tree import Draft
from playground.errors import ConfigError
from playground.samplers.base import SAMPLERS, Distribution
from playground.schedules.base import Schedule

logger = logging.getLogger(__name__)

PLAIN = "plain"
SOURCES = ("lookup_tree", "prompt_lookup", "layer_skip")  # the default arms
# also accepted in `auto_drafters`: token recycling alone (lookup_tree's trees include its
# branches), and the worst case, whose drafts are always rejected, to measure what
# calibration and re-probing cost when nothing pays
EXTRA_SOURCES = ("token_recycling", "random")
TREE_SOURCES = ("lookup_tree", "token_recycling")  # their size is a node budget
TREE_BUDGETS = (4, 8, 16)
# Sources that cut their own tree to what pays under auto's verify curve: always asked for
# the largest budget (`lookup_tree.best_prefix`).
SELF_SIZING = ("lookup_tree",)
# Sources that run a model: one probe round of `MODEL_PROBE` tokens, since a long probe of
# a source that turns out useless costs several target forwards.
MODEL_SOURCES = ("layer_skip", "random")
MODEL_PROBE = 4
SWITCH_MARGIN = 1.05
SEARCH_SHARE = 0.05  # most of the remaining decode time the layer search may take
CHEAP = 0.1  # drafting cost per token (in target forwards) below which re-probing is free


class _Unbounded(Schedule):
    """Sub-drafters draft exactly what auto asks for."""

    def num_draft_tokens(self) -> int:
        return 0


@dataclass
class Arm:
    name: str
    drafter: Drafter | None
    stats: ArmStats


class AutoDrafter(Drafter):
    def __init__(self, ctx: DrafterContext, sources: list[str]):
        self.ctx = ctx
        self.bound = ctx.spec.max_draft_tokens
        self.probe_rounds = read_option(ctx.spec.options, AUTO_PROBE_ROUNDS)
        self.reprobe = read_option(ctx.spec.options, AUTO_REPROBE)
        self.sources = sources
        self.verify = VerifyCurve()  # a property of the machine: kept across runs
        # Sub-drafters live as long as auto does (token recycling's table is kept across
        # runs, as in the paper); what was measured on one text is reset for the next.
        self.drafters = {name: DRAFTERS.get(name).factory(ctx) for name in sources}
        self.keep = _Unbounded(ctx.spec)
        self.choice: tuple[str, int] = (PLAIN, 0)

    def start(self, prompt_ids: list[int]) -> None:
        self.arms = {PLAIN: Arm(PLAIN, None, ArmStats())}
        for name, drafter in self.drafters.items():
            drafter.start(prompt_ids)
            self.arms[name] = Arm(name, drafter, ArmStats(tree=name in TREE_SOURCES))
        self.prompt_len = len(prompt_ids)
        self.plan = self._calibration_plan()
        self.rounds = 0
        self.choice = (PLAIN, 0)

    def _calibration_plan(self) -> list[tuple[str, int]]:
        plan = [(PLAIN, 0)]  # the cost unit; drafts that find nothing add plain rounds too
        for name in self.sources:
            if name in MODEL_SOURCES:
                plan.append((name, min(MODEL_PROBE, self.bound)))
                continue
            plan += [(name, s) for s in self._sizes(name)[:2] for _ in range(self.probe_rounds)]
        return plan

    def _sizes(self, name: str, cap: int | None = None) -> list[int]:
        """The sizes source `name` is probed at: the bound for chains, node budgets for
        trees (only the largest for the self-sizing ones)."""
        cap = self.bound if cap is None else cap
        if name not in TREE_SOURCES:
            return [cap]
        budgets = [b for b in TREE_BUDGETS if b <= cap] or [cap]
        return budgets[-1:] if name in SELF_SIZING else budgets

    # ---- the round -------------------------------------------------------------------

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        remaining = self.ctx.config.max_new_tokens - (len(context) - self.prompt_len)
        name, size = self._next(context, remaining)
        self.current = (name, size)
        t0 = time.perf_counter()
        draft = Draft.empty()
        drafter = self.arms[name].drafter
        if size > 0 and name in SELF_SIZING:  # size is its budget; as deep as allowed
            depth = min(self.bound, remaining - 1)
            draft = drafter.draft(context, depth, size, verify=self.verify.curve(size))
        elif size > 0:
            draft = drafter.propose(context, size, self.keep, rng)
        self.draft_seconds = time.perf_counter() - t0
        return draft

    def observe(
        self,
        context: list[int],
        p_target: Distribution,
        draft: Draft,
        verify_seconds: float | None = None,
    ) -> None:
        if verify_seconds is not None:
            self.verify.record(draft.num_nodes + 1, verify_seconds)
        self.drafted = draft.num_nodes
        for arm in self.arms.values():
            if arm.drafter is not None:
                arm.drafter.observe(context, p_target, draft)

    def commit(self, context: list[int], num_accepted: int) -> None:
        name, size = self.current
        if size > 0:
            self.arms[name].stats.record(size, self.drafted, num_accepted, self.draft_seconds)
        for arm in self.arms.values():
            if arm.drafter is not None:
                arm.drafter.commit(context, num_accepted)
        self.rounds += 1

    # ---- choosing --------------------------------------------------------------------

    def _next(self, context: list[int], remaining: int) -> tuple[str, int]:
        cap = min(self.bound, remaining - 1)
        if cap <= 0:
            return PLAIN, 0
        while self.plan:
            name, size = self.plan.pop(0)
            if name == "layer_skip" and self._sits_out(context, remaining, cap):
                self.plan = [p for p in self.plan if p[0] != name]
                del self.arms[name]  # for this run; the next one may search again
                continue
            return name, min(size, cap)
        best = self._best(cap)
        if best != self.choice:
            logger.info("auto: %s with %d tokens (round %d)", *best, self.rounds)
            self.choice = best
        if self.reprobe and self.rounds % self.reprobe == 0:
            return self._probe_other(cap)
        return best

    def _sits_out(self, context: list[int], remaining: int, cap: int) -> bool:
        """Whether layer skipping skips this run: the search would not pay, or found no set
        predicted to beat plain decoding. A fixed `layers` option is simply calibrated."""
        arm = self.arms["layer_skip"]
        if arm.stats.prior is not None or arm.drafter.fixed is not None:
            return False
        return not self._search_pays(remaining, cap) or not self._search(context, cap)

    def _search_pays(self, remaining: int, cap: int) -> bool:
        """Whether the layer search would cost at most `SEARCH_SHARE` of the decode time
        left, estimated from the best source measured so far (search cost in target
        forwards ≈ search_window / 16 + search_rows / 8 + 2, see `layer_search`)."""
        options = self.ctx.spec.options
        cost = read_option(options, SEARCH_WINDOW) / 16 + read_option(options, SEARCH_ROWS) / 8 + 2
        best = max(self.predict(name, cap)[0] for name in self.arms if name != "layer_skip")
        pays = cost <= SEARCH_SHARE * remaining / best
        if not pays:
            logger.info(
                "auto: no layer search (%d tokens left, best so far %.2fx)", remaining, best
            )
        return pays

    def _search(self, context: list[int], cap: int) -> bool:
        """Run the layer search, make its best candidate the source's prior; whether that
        candidate is predicted to beat plain decoding (if not, it never drafts)."""
        arm = self.arms["layer_skip"]
        best = arm.drafter.search(context)
        arm.stats.prior = (best.acceptance, 8.0)
        arm.stats.prior_cost = best.cost
        return self.predict("layer_skip", cap)[0] >= 1.0

    def predict(self, name: str, cap: int) -> tuple[float, int]:
        """(predicted speedup, size) of source `name` at its best size up to `cap`."""
        if name == PLAIN:
            return 1.0, 0
        stats, unit = self.arms[name].stats, self.verify.unit
        scored = [(stats.predict(s, unit, self.verify), s) for s in stats.sizes(cap)]
        return max(scored, default=(0.0, 0))

    def _best(self, cap: int) -> tuple[str, int]:
        """The best (source, size); the current source keeps its place unless beaten by
        `SWITCH_MARGIN`, so near-equal estimates do not flip the choice every round."""
        scored = {name: self.predict(name, cap) for name in self.arms}
        name = max(scored, key=lambda n: scored[n])
        current = self.choice[0]
        if scored[name][0] < SWITCH_MARGIN * scored[current][0]:
            name = current
        speedup, size = scored[name]
        return (name, size) if speedup > 1.0 and size > 0 else (PLAIN, 0)

    def _probe_other(self, cap: int) -> tuple[str, int]:
        best_speedup = self.predict(self.choice[0], cap)[0]
        names = [n for n in self.arms if n not in (PLAIN, self.choice[0])]
        for offset in range(len(names)):
            name = names[(self.rounds // self.reprobe + offset) % len(names)]
            stats = self.arms[name].stats
            speedup, size = self.predict(name, cap)
            cheap = stats.cost(self.verify.unit) < CHEAP
            if size and (cheap or speedup >= 0.9 * best_speedup):
                if stats.tree:
                    budgets = self._sizes(name, cap)
                    size = budgets[(self.rounds // self.reprobe) % len(budgets)]
                return name, size
        return self.choice


def auto_sources(ctx: DrafterContext) -> list[str]:
    """Sources from the option `auto_drafters` ("prompt_lookup+layer_skip+..."), checked."""
    text = str(ctx.spec.options.get("auto_drafters", "+".join(SOURCES)))
    names = [n for n in text.replace(",", "+").split("+") if n]
    known = SOURCES + EXTRA_SOURCES
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ConfigError(
            f"auto_drafters: unknown {', '.join(unknown)}; choose from " + ", ".join(known)
        )
    if "trees" not in SAMPLERS.get(ctx.spec.sampler).tags:
        names = [n for n in names if n not in TREE_SOURCES]  # their drafts are trees
    return names


@DRAFTERS.register(
    "auto",
    summary="measures the lookup tree, prompt lookup and layer skipping on this text and "
    "machine, then drafts with the fastest (or not at all)",
    paper="SpecLab; speedup model of Leviathan et al. 2023 (arXiv 2211.17192), §3.4",
)
def auto_drafter(ctx: DrafterContext) -> AutoDrafter:
    return AutoDrafter(ctx, auto_sources(ctx))
