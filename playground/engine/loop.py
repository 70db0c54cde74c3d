"""The decode loop: draft → verify → accept → commit, one target forward per round.

`Engine.stream(prompt)` yields one `Step` per round; `Engine.run(prompt)` collects them
into a `RunSummary`. Plain autoregressive decoding is the same loop with no drafter, so
every comparison is like for like.

Cache convention: the target's KV cache holds every committed token except the last one,
the *pending* token. A round feeds `[pending] + draft` in one forward, so row 0 of the
logits is the distribution after the committed text and row i + 1 the one after draft
node i, exactly the rows `Sampler.verify` expects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.base import Drafter
from playground.engine import cache as kv
from playground.engine.events import RunSummary, Step
from playground.engine.logits import LogitsProcessor
from playground.engine.speed import greedy_screening, install_fast_kernels
from playground.engine.stops import StopChecker
from playground.engine.tree import Draft, tree_attention_inputs
from playground.errors import PromptError
from playground.models.handle import ModelHandle
from playground.samplers.base import Sampler
from playground.schedules.base import Schedule


class Engine:
    def __init__(
        self,
        target: ModelHandle,
        drafter: Drafter | None = None,
        sampler: Sampler | None = None,
        schedule: Schedule | None = None,
        config: GenerationConfig | None = None,
        spec: SpecConfig | None = None,
        label: str = "",
    ):
        if drafter is not None and (sampler is None or schedule is None):
            raise ValueError("a drafter needs a sampler and a schedule")
        self.target = target
        install_fast_kernels(target.model)
        self.drafter = drafter
        self.sampler = sampler
        self.schedule = schedule
        self.config = config or GenerationConfig()
        self.spec = spec or SpecConfig()
        self.processor = LogitsProcessor(self.config)
        # only the argmax matters: the LM head may screen in bf16 (exact argmax, speed.py)
        self.screen_head = self.config.greedy and not self.processor.uses_history
        self.label = label or ("plain" if drafter is None else describe(self.spec))
        self.prefill_time = 0.0

    # ---- the loop -------------------------------------------------------------------

    def stream(self, prompt: str | list[int]) -> Iterator[Step]:
        ids = self.encode_prompt(prompt)
        target, cfg = self.target, self.config
        strings = target.token_strings
        rng = torch.Generator().manual_seed(cfg.seed)
        stops = StopChecker(target, cfg)
        cache = kv.new_cache()
        seen = self._presence(ids)
        start = time.perf_counter()
        if len(ids) > 1:
            self._forward(ids[:-1], cache, Draft.empty(), prefill=True)
        self.prefill_time = time.perf_counter() - start
        context = list(ids)
        if self.drafter is not None:
            self.drafter.start(ids)
        for index in range(cfg.max_new_tokens):
            t0 = time.perf_counter()
            # 1) draft
            draft = self._draft(context, cfg.max_new_tokens - stops.num_generated, rng)
            t1 = time.perf_counter()
            # 2) verify: one target forward over [pending] + draft
            prefix_len = kv.cache_length(cache)
            logits = self._forward([context[-1]] + draft.tokens.tolist(), cache, draft)
            t2 = time.perf_counter()
            # 3) accept
            p_target = self.processor(logits, self._row_presence(seen, draft))
            if draft.num_nodes:
                verdict = self.sampler.verify(draft, p_target, rng)
                accepted, next_token = verdict.accepted, verdict.next_token
            else:
                verdict, accepted, next_token = None, [], p_target.sample(0, rng)
            if self.drafter is not None:
                self.drafter.observe(context, p_target, draft, verify_seconds=t2 - t1)
            # 4) commit
            emitted = draft.tokens[accepted].tolist() + [next_token]
            emitted, done = stops.take(emitted)
            kv.keep(cache, prefix_len, [prefix_len] + [prefix_len + 1 + i for i in accepted])
            context.extend(emitted)
            if seen is not None:
                seen[emitted] = True
            if self.drafter is not None:
                self.drafter.commit(context, len(accepted))
                if draft.num_nodes:
                    self.schedule.update(draft.max_depth, len(accepted))  # chains: num_nodes
            t3 = time.perf_counter()
            yield self._step(
                index, draft, p_target, verdict, emitted, strings, t0, t1, t2, t3, cache
            )
            if done or index + 1 >= cfg.max_new_tokens:
                self.stop_reason = stops.reason or "max_new_tokens"
                return

    def run(self, prompt: str | list[int]) -> RunSummary:
        from playground.analysis.metrics import summarize

        steps = list(self.stream(prompt))
        return summarize(self, prompt, steps)

    def describe_config(self) -> dict:
        from dataclasses import asdict

        return {"target": self.target.spec, **asdict(self.spec), **asdict(self.config)}

    # ---- pieces of a round -------------------------------------------------------------

    def encode_prompt(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, str):
            if not prompt.strip():
                raise PromptError("the prompt is empty; type some text to continue")
            ids = self.target.encode(prompt)
        else:
            ids = [int(i) for i in prompt]
        if not ids:
            raise PromptError("the prompt is empty; type some text to continue")
        limit = self.target.max_context
        if len(ids) + self.config.max_new_tokens > limit:
            raise PromptError(
                f"the prompt has {len(ids)} tokens; with max_new_tokens="
                f"{self.config.max_new_tokens} that exceeds {self.target.spec}'s context of "
                f"{limit} tokens: shorten the prompt or lower max_new_tokens"
            )
        return ids

    def _draft(self, context: list[int], remaining: int, rng: torch.Generator) -> Draft:
        if self.drafter is None or remaining <= 1:
            return Draft.empty()
        size = min(self.schedule.num_draft_tokens(), remaining - 1)
        with greedy_screening(self.target.model, self.screen_head):  # self-drafting heads
            return self.drafter.propose(context, size, self.schedule, rng)

    @torch.inference_mode()
    def _forward(self, ids: list[int], cache, draft: Draft, prefill: bool = False) -> torch.Tensor:
        """Target forward of `ids` after the cache; (rows, vocab) float logits on CPU."""
        target = self.target
        input_ids = torch.tensor([ids], device=target.device)
        kwargs = {}
        if draft.num_nodes and not draft.is_chain:
            kwargs = tree_attention_inputs(
                draft, kv.cache_length(cache), target.dtype, target.device, target.config
            )
        with greedy_screening(target.model, self.screen_head):
            out = target.model(
                input_ids=input_ids,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1 if prefill else 0,
                **kwargs,
            )
        return out.logits[0].float().cpu()  # (rows, vocab)

    def _presence(self, ids: list[int]) -> torch.Tensor | None:
        if not self.processor.uses_history:
            return None
        seen = torch.zeros(self.target.vocab_size, dtype=torch.bool)  # (vocab,)
        seen[ids] = True
        return seen

    def _row_presence(self, seen: torch.Tensor | None, draft: Draft) -> torch.Tensor | None:
        """Per verified row, the tokens its text contains: committed ones plus its path."""
        if seen is None:
            return None
        rows = seen.expand(draft.num_nodes + 1, -1).clone()  # (rows, vocab)
        if draft.num_nodes:
            node, ancestor = draft.ancestor_mask.nonzero(as_tuple=True)
            rows[node + 1, draft.tokens[ancestor]] = True
        return rows

    def _step(
        self, index, draft, p_target, verdict, emitted, strings, t0, t1, t2, t3, cache
    ) -> Step:
        tokens = draft.tokens.tolist()
        step = Step(index=index, emitted=emitted, emitted_text=[strings[t] for t in emitted])
        step.draft_time, step.verify_time, step.sample_time = t1 - t0, t2 - t1, t3 - t2
        step.cache_len = kv.cache_length(cache)
        if not tokens:
            return step
        rows = draft.parents + 1  # the p_target row each node was verified against
        nodes = torch.arange(len(tokens))
        step.draft_tokens, step.draft_parents = tokens, draft.parent_list
        step.draft_text = [strings[t] for t in tokens]
        step.p_target = p_target.prob_of(rows, draft.tokens).tolist()
        if draft.q_draft is not None:
            step.q_draft = draft.q_draft[nodes, draft.tokens].tolist()
        else:
            step.q_draft = [1.0] * len(tokens)
        step.accepted, step.accept_probs = verdict.accepted, verdict.accept_probs
        step.next_kind = verdict.next_kind
        step.extra = verdict.detail
        if "features" in draft.extra:  # the drafter's TokenFeatures per node, for DISCO
            step.extra = {**verdict.detail, "draft_features": draft.extra["features"]}
        return step


def describe(spec: SpecConfig) -> str:
    model = f"({spec.drafter_model})" if spec.drafter_model else ""
    return f"{spec.drafter}{model}/{spec.sampler}/{spec.schedule}"
