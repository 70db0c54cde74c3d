"""Fit DISCO's classifier on recorded traces: `python -m playground train-schedule`.

Examples come from every round of a trace whose drafter reported `TokenFeatures`
(`Step.extra["draft_features"]`, chains only): each draft token the verifier reached
(the accepted ones and the first rejected one) is an example, labelled accepted or not,
with `disco.FEATURES` as they were when it was drafted (recent acceptance is replayed
from the earlier rounds of the same trace, exactly as the schedule computes it). Tokens
after the first rejection were never judged and are left out.

Record traces with drafts longer than the schedule will use, so that late positions are
seen, e.g.:

    python -m playground generate --drafter layer_skip --option layers=12 \\
        --sampler greedy --schedule fixed --num-draft-tokens 8 --prompt "..." --trace a.json

The fit is full-batch L-BFGS on the logistic loss with a small L2 penalty; the report
gives training accuracy against always guessing the majority label.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from playground.engine.events import Step, read_trace
from playground.errors import ConfigError
from playground.schedules.disco import FEATURES, Classifier, RecentAcceptance, feature_row
from playground.schedules.features import TokenFeatures

logger = logging.getLogger(__name__)

L2 = 1e-3


@dataclass
class Dataset:
    x: torch.Tensor  # (n, features)
    y: torch.Tensor  # (n,) float, 1 = accepted

    def __len__(self) -> int:
        return self.y.numel()


def examples(steps: list[Step]) -> Dataset:
    """Labelled examples of one trace's rounds (see the module docstring)."""
    recent = RecentAcceptance()
    rows: list[list[float]] = []
    labels: list[float] = []
    for step in steps:
        if not step.draft_tokens:
            continue
        drafted = step.extra.get("draft_features")
        chain = step.draft_parents == list(range(-1, len(step.draft_tokens) - 1))
        if drafted and chain:
            reached = min(step.num_accepted + 1, len(drafted))
            for i in range(reached):
                rows.append(feature_row(TokenFeatures(*drafted[i]), i + 1, recent.value))
                labels.append(float(i < step.num_accepted))
        recent.update(step.num_draft_tokens, step.num_accepted)
    x = torch.tensor(rows, dtype=torch.float32).reshape(-1, len(FEATURES))  # (n, features)
    return Dataset(x, torch.tensor(labels, dtype=torch.float32))


def fit(data: Dataset, iterations: int = 200) -> Classifier:
    """Logistic regression by L-BFGS on standardised features."""
    if len(data) < 2 or data.y.min() == data.y.max():
        raise ConfigError(
            f"{len(data)} examples with a single label: record traces with longer drafts "
            "(e.g. --schedule fixed --num-draft-tokens 8) so both outcomes occur"
        )
    mean = data.x.mean(dim=0)  # (features,)
    std = data.x.std(dim=0).clamp_min(1e-6)
    x = (data.x - mean) / std  # (n, features)
    weight = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], max_iter=iterations, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = x @ weight + bias  # (n,)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, data.y)
        loss = loss + L2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    classifier = Classifier(weight.detach(), float(bias.detach()), mean, std, {})
    classifier.info = {
        "examples": len(data),
        "accuracy": accuracy(classifier, data),
        "accepted_share": float(data.y.mean()),
    }
    return classifier


def accuracy(classifier: Classifier, data: Dataset) -> float:
    predicted = classifier.probability(data.x) >= 0.5  # (n,)
    return float((predicted == data.y.bool()).float().mean())


def train_from_traces(paths: list[str]) -> Classifier:
    parts = [examples(read_trace(path)[0]) for path in paths]
    data = Dataset(torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]))
    classifier = fit(data)
    classifier.info["traces"] = [Path(p).name for p in paths]
    return classifier


def add_train_schedule_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--traces",
        nargs="+",
        required=True,
        help="trace files written by `generate --trace` (drafters with features)",
    )
    parser.add_argument("--out", required=True, help="where to write the classifier (.pt)")


def train_schedule_command(args: argparse.Namespace) -> int:
    classifier = train_from_traces(args.traces)
    classifier.save(args.out)
    info = classifier.info
    majority = max(info["accepted_share"], 1 - info["accepted_share"])
    print(
        f"DISCO classifier: {info['examples']} examples, training accuracy "
        f"{info['accuracy']:.3f} (majority label {majority:.3f}); weights "
        + ", ".join(
            f"{n} {w:+.2f}" for n, w in zip(FEATURES, classifier.weight.tolist(), strict=True)
        )
    )
    print(f"written: {args.out}")
    return 0
