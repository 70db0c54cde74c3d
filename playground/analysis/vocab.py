"""Vocabulary bridge and overlap analysis between a target and a drafter.

Both sides are compared by normalised token strings (`ModelHandle.token_strings`, the
bytes each id stands for). The *intersection* is the set of strings both vocabularies
hold; ids that stand for no text (special, control, padding: `NO_TEXT`) never take part.
When one vocabulary holds a string under several ids (SentencePiece byte-fallback
pieces "<0x41>" next to "A"), the highest id represents it: byte-fallback and other
reserved pieces come first in such vocabularies, the merged piece the tokenizer emits
comes later. The bridge is therefore a bijection between the two representative sets.

`vocab_bridge(target, drafter)` builds the maps once per pair of specs and caches them.
`overlap_report` measures the overlap (sizes, Jaccard, target probability mass covered,
by token length, by frequency rank) and returns JSON-friendly data for the UI;
`vocab_command` renders it as plain text for the CLI.

Frequency rule (for rank buckets and examples): a token's frequency is its count in the
target's encoding of the sample text plus the target's expected count there (the sum of
its predicted probability over every position of that text, one teacher-forced forward).
Ranks sort by that score, ties by id; token ids themselves say nothing about frequency.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from threading import Lock
from typing import Any

import torch

from playground.models.handle import ModelHandle
from playground.models.vocab import NO_TEXT, printable

logger = logging.getLogger(__name__)

LENGTH_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 6), (7, 9), (10, 10**9))  # characters
RANK_BUCKETS = (10, 100, 1_000, 10_000, 100_000, 10**9)  # upper bounds (exclusive) of ranks
MAX_SAMPLE_TOKENS = 1024
NUM_EXAMPLES = 20


@dataclass(eq=False)
class VocabBridge:
    """Id maps between two vocabularies through their shared strings."""

    drafter_to_target: torch.Tensor  # (drafter_vocab,) long, -1 where no shared string
    target_to_drafter: torch.Tensor  # (target_vocab,) long, -1 where no shared string

    @property
    def num_shared(self) -> int:
        return int((self.drafter_to_target >= 0).sum())

    @property
    def drafter_shared(self) -> torch.Tensor:
        return self.drafter_to_target >= 0  # (drafter_vocab,) bool

    @property
    def target_shared(self) -> torch.Tensor:
        return self.target_to_drafter >= 0  # (target_vocab,) bool


def representatives(strings: list[str]) -> dict[str, int]:
    """String -> the id that represents it (the highest id holding it); NO_TEXT skipped."""
    return {s: i for i, s in enumerate(strings) if s != NO_TEXT}


def build_bridge(target_strings: list[str], drafter_strings: list[str]) -> VocabBridge:
    target_ids, drafter_ids = representatives(target_strings), representatives(drafter_strings)
    shared = [s for s in drafter_ids if s in target_ids]
    d_ids = torch.tensor([drafter_ids[s] for s in shared], dtype=torch.long)  # (shared,)
    t_ids = torch.tensor([target_ids[s] for s in shared], dtype=torch.long)  # (shared,)
    drafter_to_target = torch.full((len(drafter_strings),), -1, dtype=torch.long)
    target_to_drafter = torch.full((len(target_strings),), -1, dtype=torch.long)
    drafter_to_target[d_ids] = t_ids
    target_to_drafter[t_ids] = d_ids
    return VocabBridge(drafter_to_target, target_to_drafter)


class BridgeCache:
    """Bridges by (target spec, width, drafter spec, width): each pair is built once."""

    def __init__(self) -> None:
        self._bridges: dict[tuple[str, int, str, int], VocabBridge] = {}
        self._lock = Lock()

    def get(self, target: ModelHandle, drafter: ModelHandle) -> VocabBridge:
        key = (target.spec, target.vocab_size, drafter.spec, drafter.vocab_size)
        with self._lock:
            if key not in self._bridges:
                self._bridges[key] = build_bridge(target.token_strings, drafter.token_strings)
            return self._bridges[key]


BRIDGES = BridgeCache()


def vocab_bridge(target: ModelHandle, drafter: ModelHandle) -> VocabBridge:
    return BRIDGES.get(target, drafter)


# ---- overlap report ----------------------------------------------------------------------


@dataclass
class OverlapReport:
    """Overlap of two vocabularies; every field is JSON-friendly (numbers, strings, lists)."""

    target: str
    drafter: str
    target_size: int  # distinct strings with text
    drafter_size: int
    shared: int
    jaccard: float  # shared / (target_size + drafter_size - shared)
    target_share: float  # shared / target_size
    drafter_share: float  # shared / drafter_size
    # Mean over the sample text's positions of the target's probability on shared tokens
    # (temperature 1, no truncation); None without sample text.
    mass_covered: float | None
    sample_tokens: int
    by_length: list[dict[str, Any]] = field(default_factory=list)
    by_rank: list[dict[str, Any]] = field(default_factory=list)
    target_only: list[str] = field(default_factory=list)  # most frequent first
    drafter_only: list[str] = field(default_factory=list)  # most frequent first
    frequency_rule: str = (
        "frequency = count in the target's encoding of the sample text + the target's "
        "expected count (sum of predicted probabilities over its positions); ties by id"
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overlap_report(
    target: ModelHandle, drafter: ModelHandle, sample_text: str | None = None
) -> OverlapReport:
    """How much of the target's vocabulary (and probability mass) a drafter shares."""
    bridge = vocab_bridge(target, drafter)
    t_strings, d_strings = target.token_strings, drafter.token_strings
    t_reps, d_reps = representatives(t_strings), representatives(d_strings)
    shared = bridge.num_shared
    union = len(t_reps) + len(d_reps) - shared
    score, mass, n_tokens = target_frequency(target, bridge, sample_text)
    shared_t = bridge.target_shared
    report = OverlapReport(
        target=target.spec,
        drafter=drafter.spec,
        target_size=len(t_reps),
        drafter_size=len(d_reps),
        shared=shared,
        jaccard=shared / union if union else 0.0,
        target_share=shared / len(t_reps) if t_reps else 0.0,
        drafter_share=shared / len(d_reps) if d_reps else 0.0,
        mass_covered=mass,
        sample_tokens=n_tokens,
        by_length=by_length(t_reps, d_reps),
        by_rank=by_rank(score, shared_t, list(t_reps.values())),
    )
    report.target_only = _examples(t_strings, list(t_reps.values()), ~shared_t, score)
    d_score = _drafter_counts(drafter, sample_text)
    d_only = ~bridge.drafter_shared
    report.drafter_only = _examples(d_strings, list(d_reps.values()), d_only, d_score)
    return report


def target_frequency(
    target: ModelHandle, bridge: VocabBridge, sample_text: str | None
) -> tuple[torch.Tensor, float | None, int]:
    """Frequency score of every target id, covered mass, and the sample's token count."""
    score = torch.zeros(target.vocab_size, dtype=torch.float64)  # (target_vocab,)
    if not sample_text:
        return score, None, 0
    ids = target.encode(sample_text)[:MAX_SAMPLE_TOKENS]
    counts = Counter(ids[1:]) if len(ids) > 1 else Counter(ids)
    for token, n in counts.items():
        score[token] += n
    expected = expected_counts(target, ids)  # (target_vocab,)
    score += expected
    positions = max(len(ids), 1)
    mass = float(expected[bridge.target_shared].sum()) / positions
    return score, mass, len(ids)


@torch.no_grad()
def expected_counts(handle: ModelHandle, ids: list[int], chunk: int = 64) -> torch.Tensor:
    """Σ over positions of the model's next-token distribution (temperature 1)."""
    model = handle.model
    input_ids = torch.tensor([ids], device=handle.device)
    hidden = model.base_model(input_ids=input_ids).last_hidden_state[0]  # (len, hidden)
    head = model.get_output_embeddings()
    cap = getattr(model.config, "final_logit_softcapping", None)
    total = torch.zeros(handle.vocab_size, dtype=torch.float64)
    for start in range(0, hidden.shape[0], chunk):
        logits = head(hidden[start : start + chunk]).float()  # (chunk, vocab)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        total += logits.softmax(dim=-1).sum(dim=0).double().cpu()
    return total  # (vocab,)


def by_length(t_reps: dict[str, int], d_reps: dict[str, int]) -> list[dict[str, Any]]:
    """Per length bucket (characters): target tokens, drafter tokens, shared, shares."""
    rows = []
    for low, high in LENGTH_BUCKETS:
        t = {s for s in t_reps if low <= len(s) <= high}
        d = {s for s in d_reps if low <= len(s) <= high}
        both = len(t & d)
        label = f"{low}" if low == high else (f"{low}+" if high > 100 else f"{low}-{high}")
        rows.append(
            {
                "length": label,
                "target": len(t),
                "drafter": len(d),
                "shared": both,
                "target_share": both / len(t) if t else 0.0,
            }
        )
    return rows


def by_rank(score: torch.Tensor, shared: torch.Tensor, ids: list[int]) -> list[dict[str, Any]]:
    """Per frequency-rank bucket of target tokens: how many are shared, and their mass."""
    ids_t = torch.tensor(sorted(ids), dtype=torch.long)  # (n,) ascending: ties break by id
    order = ids_t[torch.argsort(score[ids_t], descending=True, stable=True)]  # (n,)
    rows, start = [], 0
    total = float(score[ids_t].sum()) or 1.0
    for bound in RANK_BUCKETS:
        chunk = order[start:bound]
        if chunk.numel() == 0:
            break
        hit = shared[chunk]
        rows.append(
            {
                "ranks": f"{start + 1}-{min(bound, order.numel())}",
                "tokens": int(chunk.numel()),
                "shared": int(hit.sum()),
                "shared_share": float(hit.float().mean()),
                "frequency_share": float(score[chunk].sum()) / total,
                "shared_frequency_share": float(score[chunk[hit]].sum()) / total,
            }
        )
        start = bound
    return rows


def _drafter_counts(drafter: ModelHandle, sample_text: str | None) -> torch.Tensor:
    score = torch.zeros(drafter.vocab_size, dtype=torch.float64)  # (drafter_vocab,)
    for token, n in Counter(drafter.encode(sample_text) if sample_text else []).items():
        score[token] += n
    return score


def _examples(
    strings: list[str], ids: list[int], only: torch.Tensor, score: torch.Tensor
) -> list[str]:
    ids_t = torch.tensor(sorted(ids), dtype=torch.long)  # (n,)
    ids_t = ids_t[only[ids_t]]
    order = ids_t[torch.argsort(score[ids_t], descending=True, stable=True)]
    return [printable(strings[i]) for i in order[:NUM_EXAMPLES].tolist()]


# ---- CLI -----------------------------------------------------------------------------------


def vocab_command(target_spec: str, drafter_spec: str, sample_text: str | None) -> str:
    """Load both models and render their overlap report as plain text."""
    from playground.models import load_model

    target = load_model(target_spec)
    drafter = load_model(drafter_spec)
    return render(overlap_report(target, drafter, sample_text))


def render(report: OverlapReport) -> str:
    mass = "n/a (no sample text)" if report.mass_covered is None else f"{report.mass_covered:.1%}"
    lines = [
        f"target  {report.target}: {report.target_size:,} token strings",
        f"drafter {report.drafter}: {report.drafter_size:,} token strings",
        f"shared  {report.shared:,}  (Jaccard {report.jaccard:.3f}; "
        f"{report.target_share:.1%} of target, {report.drafter_share:.1%} of drafter)",
        f"target probability mass on shared tokens ({report.sample_tokens} sample tokens): {mass}",
        "",
        "by token length (characters):",
        f"  {'length':>7} {'target':>9} {'drafter':>9} {'shared':>9} {'of target':>10}",
    ]
    for row in report.by_length:
        lines.append(
            f"  {row['length']:>7} {row['target']:>9,} {row['drafter']:>9,} {row['shared']:>9,} "
            f"{row['target_share']:>10.1%}"
        )
    if report.by_rank:
        lines += ["", f"by target frequency rank ({report.frequency_rule}):"]
        lines.append(f"  {'ranks':>15} {'tokens':>8} {'shared':>8} {'share':>7} {'freq. mass':>11}")
        for row in report.by_rank:
            mass_row = _share(row["shared_frequency_share"], row["frequency_share"])
            lines.append(
                f"  {row['ranks']:>15} {row['tokens']:>8,} {row['shared']:>8,} "
                f"{row['shared_share']:>7.1%} {mass_row:>11}"
            )
    lines += ["", "target only: " + _quoted(report.target_only)]
    lines += ["drafter only: " + _quoted(report.drafter_only)]
    return "\n".join(lines)


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole > 0 and not math.isnan(whole) else "-"


def _quoted(strings: list[str]) -> str:
    return ", ".join(repr(s) for s in strings) or "(none)"
