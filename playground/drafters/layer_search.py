"""On-the-fly choice of the layers a self-speculative drafter keeps (`layers=search`).

A context-based search in the spirit of SWIFT (Xia et al. 2024, arXiv 2410.06916): skip
sets are scored on the text being generated, not on a training set, with the model's own
predictions as reference. Made cheap by a family whose members share most of their work:

Family: keep the first `a` layers and the last `b` (b = 0 is early exit after a layers,
as in Kangaroo, arXiv 2404.18911; b > 0 skips a middle block, the layers SWIFT and
Draft & Verify, arXiv 2309.08168, find most skippable), for a in {L/3, L/2, 2L/3, 5L/6}
and b in {0, 1, 3}: at most 12 candidates.

Probe, on the last `search_window` tokens of the context run from scratch (RoPE is
relative, so the shift of positions does not matter):
1. one forward of every layer over the window, keeping each layer's input h_a; the
   reference is the full model's prediction at the last `search_rows` positions;
2. per candidate: the last b layers on h_a (the first a are shared with the reference),
   then the final norm; its expected acceptance α̂ is the share of rows whose argmax
   matches (greedy) or the mean of Σ min(p, q) (sampling, eq. 3 of Leviathan et al.) —
   the per-token acceptance of that drafter on this text. At temperature 0 with the full
   head, candidates are first *screened*: argmax over the reference's top-64 tokens of
   each row only (a few hundred head rows instead of the vocabulary). A screen can only
   overrate a candidate whose own argmax lies outside that shortlist, so the leader is
   re-scored with the whole head until an exactly scored candidate leads;
3. costs: one 1-token step through every layer, timed per layer and for the head, gives
   each candidate's drafting cost c in target forwards; a step of 8 tokens gives the
   verify-cost curve v(n) (linear in n);
4. predicted speedup = max over γ ≤ max_draft_tokens of
   `analytic_speedup([α̂] * γ, c, v, γ)`; the best candidate wins.

Cost: one forward over the window, b/L of one per candidate, the head over
`search_rows` rows for the reference and each exactly scored candidate (usually one or
two; every candidate when sampling or with a pruned head, which is cheap), and two timed
steps: about 6-8 target decode steps on Gemma 3 270M with the defaults (64 tokens, 16
rows), paid once per run inside the first round's drafting time, so every reported
tokens/s includes it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from playground.analysis.metrics import analytic_speedup
from playground.drafters.layer_subset import LayerSubset, format_layers
from playground.engine.logits import LogitsProcessor
from playground.samplers.base import Distribution

logger = logging.getLogger(__name__)

EXIT_FRACTIONS = (1 / 3, 1 / 2, 2 / 3, 5 / 6)
TAIL_LAYERS = (0, 1, 3)
VERIFY_PROBE = 8  # tokens in the timed verify step
SHORTLIST = 64  # reference top tokens per row a screen compares candidates on


@dataclass
class Candidate:
    layers: list[int]
    acceptance: float  # α̂ on the probe rows
    cost: float  # drafting cost per token, in target forwards
    speedup: float  # predicted, at the best draft length
    num_draft_tokens: int  # that best length
    exact: bool = True  # False: α̂ from the shortlist screen only

    def describe(self) -> str:
        how = "" if self.exact else " (screened)"
        return (
            f"layers {format_layers(self.layers)}: acceptance {self.acceptance:.2f}{how}, "
            f"cost {self.cost:.2f}, predicted {self.speedup:.2f}x at "
            f"{self.num_draft_tokens} tokens"
        )


@dataclass
class Probe:
    """What every candidate shares: the window's layer inputs, the reference, the costs."""

    full: LayerSubset  # every layer, full head
    draft: LayerSubset  # every layer, the drafter's head (full or pruned)
    inputs: list[torch.Tensor]  # input of each layer over the window, then the output
    reference: Distribution  # (rows, vocab) the full model's predictions
    shortlist: torch.Tensor  # (m,) the reference's top tokens over all rows
    layer_times: list[float]  # seconds per layer in a 1-token step
    step_time: float  # seconds of that whole step
    head_saving: float  # seconds a pruned head saves per token
    verify: list[float]  # v[n]
    rows: int
    max_tokens: int
    processor: LogitsProcessor
    keep_ids: torch.Tensor | None


def candidate_shapes(num_layers: int) -> list[tuple[int, int]]:
    """(a, b) pairs: keep layers [0, a) and [L - b, L)."""
    exits = sorted({max(1, round(num_layers * f)) for f in EXIT_FRACTIONS})
    return [(a, b) for a in exits for b in TAIL_LAYERS if a + b < num_layers]


def best_length(alpha: float, cost: float, verify: list[float], max_tokens: int) -> tuple:
    """(predicted speedup, draft length) maximising `analytic_speedup` for γ in 1..max."""
    scores = [(analytic_speedup([alpha], cost, verify, g), g) for g in range(1, max_tokens + 1)]
    return max(scores)


@torch.inference_mode()
def search_layers(
    model,
    context: list[int],
    window: int,
    rows: int,
    max_tokens: int,
    processor: LogitsProcessor,
    keep_ids: torch.Tensor | None = None,
    head_rows: torch.Tensor | None = None,
) -> list[Candidate]:
    """Score every candidate on the current text, best first. With `keep_ids` and
    `head_rows` the candidates draft through that pruned head (logits -inf elsewhere)."""
    probe = _probe(model, context[-window:], rows, max_tokens, processor, keep_ids, head_rows)
    num_layers = probe.full.num_layers
    screen = probe.reference.greedy and head_rows is None
    finals: dict[tuple[int, ...], torch.Tensor] = {}
    found = []
    for a, b in candidate_shapes(num_layers):
        tail = list(range(num_layers - b, num_layers))
        hidden = probe.inputs[a]
        if b:
            hidden, _ = probe.full.run(hidden, probe.full.new_cache(), 0, layers=tail)
        layers = list(range(a)) + tail
        finals[tuple(layers)] = hidden[0, -probe.rows :]  # (rows, hidden)
        found.append(_score(probe, layers, finals[tuple(layers)], exact=not screen))
    found.sort(key=lambda c: -c.speedup)
    while not found[0].exact:  # screens can overrate; the winner is always checked
        found[0] = _score(probe, found[0].layers, finals[tuple(found[0].layers)], exact=True)
        found.sort(key=lambda c: -c.speedup)
    for candidate in found:
        logger.info("layer search: %s", candidate.describe())
    return found


def _probe(model, ids, rows, max_tokens, processor, keep_ids, head_rows) -> Probe:
    full = LayerSubset(model, list(range(len(model.get_decoder().layers))))
    draft = LayerSubset(model, full.layers, head_rows)
    rows = min(rows, len(ids))
    cache = full.new_cache()
    _, inputs = full.run(full.embed(ids), cache, 0, collect=True)  # num_layers + 1 states
    reference = processor(full.logits(inputs[-1][0, -rows:]).cpu())  # (rows, vocab)
    source = reference.logits if reference.logits is not None else reference.probs
    shortlist = source.topk(min(SHORTLIST, source.shape[-1]), dim=-1).indices.unique()  # (m,)
    layer_times, step_time = _time_step(full, cache, len(ids), ids[-1])
    return Probe(
        full=full, draft=draft, inputs=inputs, reference=reference, shortlist=shortlist,
        layer_times=layer_times, step_time=step_time,
        head_saving=_head_saving(full, draft, inputs[-1][0, -1:]),
        verify=_verify_curve(full, cache, len(ids), ids, step_time, max_tokens + 1),
        rows=rows, max_tokens=max_tokens, processor=processor, keep_ids=keep_ids,
    )  # fmt: skip


def _score(probe: Probe, layers: list[int], final: torch.Tensor, exact: bool) -> Candidate:
    """Candidate `layers` whose last hidden states over the probe rows are `final`."""
    reference = probe.reference
    if exact:
        logits = widen(probe.draft.logits(final).cpu(), probe.keep_ids, reference.vocab_size)
        acceptance = _acceptance(reference, probe.processor(logits))  # (rows, vocab) inside
    else:
        scores = probe.full.logits_over(final, probe.shortlist).cpu()  # (rows, m)
        picked = probe.shortlist[scores.argmax(dim=-1)]  # (rows,)
        acceptance = float((picked == reference.argmax).float().mean())
    skipped = sum(probe.layer_times) - sum(probe.layer_times[j] for j in layers)
    cost = max(probe.step_time - skipped - probe.head_saving, 0.0) / probe.step_time
    speedup, length = best_length(acceptance, cost, probe.verify, probe.max_tokens)
    return Candidate(layers, acceptance, cost, speedup, length, exact)


def widen(logits: torch.Tensor, keep_ids: torch.Tensor | None, vocab: int) -> torch.Tensor:
    """Pruned-head logits (rows, keep) in target-vocabulary space, -inf elsewhere."""
    if keep_ids is None:
        return logits
    out = torch.full((logits.shape[0], vocab), float("-inf"))  # (rows, vocab)
    out[:, keep_ids] = logits
    return out


def _head_saving(full: LayerSubset, draft: LayerSubset, hidden: torch.Tensor) -> float:
    """Seconds a pruned head saves per token over the full one (0 for the full head)."""
    if draft.head_rows is None:
        return 0.0
    times = []
    for subset in (full, draft):
        t = time.perf_counter()
        subset.logits(hidden)
        times.append(time.perf_counter() - t)
    return max(times[0] - times[1], 0.0)


def _acceptance(reference, q_draft) -> float:
    if reference.greedy:
        return float((reference.argmax == q_draft.argmax).float().mean())
    return float(torch.minimum(reference.probs, q_draft.probs).sum(dim=-1).mean())


def _time_step(full: LayerSubset, cache, start: int, token: int) -> tuple[list[float], float]:
    """One timed 1-token step through every layer: per-layer times and the whole step's."""
    clock: list[float] = []
    t0 = time.perf_counter()
    hidden, _ = full.run(full.embed([token]), cache, start, clock=clock)
    full.logits(hidden[0])
    total = time.perf_counter() - t0
    cache.crop(-1)
    return [b - a for a, b in zip(clock, clock[1:], strict=False)], total


def _verify_curve(full, cache, start, ids, step_time: float, size: int) -> list[float]:
    """v[n] for n = 0..size: time of an n-token target forward / a 1-token one, linear."""
    n = min(VERIFY_PROBE, len(ids))
    t = time.perf_counter()
    hidden, _ = full.run(full.embed(ids[-n:]), cache, start)
    full.logits(hidden[0])
    slope = max(0.0, (time.perf_counter() - t) / step_time - 1.0) / max(n - 1, 1)
    cache.crop(-n)
    return [1.0 + slope * max(k - 1, 0) for k in range(size + 1)]
