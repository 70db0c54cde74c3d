"""DISCO: a classifier decides, token by token, whether to keep drafting.

Mamou et al. 2024, "Dynamic Speculation Lookahead Accelerates Speculative Decoding of
Large Language Models" (arXiv 2405.04304). After each drafted token a small classifier
predicts the probability that the target accepts it; below a threshold the draft ends
(that token is still verified). Here the classifier is a logistic regression over
features known at drafting time (`FEATURES`): the drafter's probability of its token and
of its top token, its entropy (`TokenFeatures`), the position in the draft, and the
acceptance rate of the last rounds. It is trained on traces (`disco_train`,
`python -m playground train-schedule`); fitted weights for Gemma 3 270M ship in
`assets/` (`DEFAULT_WEIGHTS`), another file is chosen with the option `disco_weights`.

Bounds: never more than `max_draft_tokens` per round. Drafters that report no
`TokenFeatures` (deterministic ones, and any that do not pass them) draft up to the bound.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch

from playground.config import DISCO_THRESHOLD, SpecConfig, read_option
from playground.errors import ConfigError
from playground.schedules.base import SCHEDULES, Schedule
from playground.schedules.features import TokenFeatures

logger = logging.getLogger(__name__)

FEATURES = ("token_prob", "top_prob", "entropy", "position", "recent_acceptance")
FORMAT = "speclab-disco/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "disco-gemma-3-270m.pt"
RECENT_ROUNDS = 8


class RecentAcceptance:
    """Acceptance rate (accepted / drafted) over the last `RECENT_ROUNDS` rounds."""

    def __init__(self) -> None:
        self.rounds: deque[tuple[int, int]] = deque(maxlen=RECENT_ROUNDS)

    def update(self, num_drafted: int, num_accepted: int) -> None:
        self.rounds.append((num_drafted, num_accepted))

    @property
    def value(self) -> float:
        drafted = sum(d for d, _ in self.rounds)
        return sum(a for _, a in self.rounds) / drafted if drafted else 0.5


def feature_row(features: TokenFeatures, position: int, recent: float) -> list[float]:
    """One example in `FEATURES` order."""
    return [features.token_prob, features.top_prob, features.entropy, float(position), recent]


@dataclass
class Classifier:
    """Logistic regression on standardised features: P(accepted) = σ(w·(x - μ)/σ + b)."""

    weight: torch.Tensor  # (features,)
    bias: float
    mean: torch.Tensor  # (features,)
    std: torch.Tensor  # (features,)
    info: dict

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """x: (n, features) -> (n,) predicted acceptance."""
        z = ((x - self.mean) / self.std) @ self.weight + self.bias  # (n,)
        return torch.sigmoid(z)

    def save(self, path: str | Path) -> None:
        state = {
            "format": FORMAT,
            "features": list(FEATURES),
            "weight": self.weight,
            "bias": self.bias,
            "mean": self.mean,
            "std": self.std,
            "info": self.info,
        }
        torch.save(state, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> Classifier:
        path = Path(path)
        if not path.exists():
            raise ConfigError(
                f"no DISCO weights at {path}; train some with `python -m playground "
                "train-schedule --traces TRACE.json ... --out FILE.pt` and pass "
                "disco_weights=FILE.pt"
            )
        state = torch.load(path, weights_only=True)
        if state.get("format") != FORMAT or tuple(state.get("features", ())) != FEATURES:
            raise ConfigError(f"{path} is not a {FORMAT} classifier over {', '.join(FEATURES)}")
        return cls(
            state["weight"],
            float(state["bias"]),
            state["mean"],
            state["std"],
            state.get("info", {}),
        )


@SCHEDULES.register(
    "disco",
    summary="a trained classifier predicts whether each drafted token will be accepted; "
    "drafting stops below disco_threshold",
    paper="Mamou et al. 2024, DISCO: Dynamic Speculation Lookahead (arXiv 2405.04304)",
)
class DiscoSchedule(Schedule):
    def __init__(self, spec: SpecConfig, classifier: Classifier | None = None):
        super().__init__(spec)
        self.threshold = read_option(spec.options, DISCO_THRESHOLD)
        path = spec.options.get("disco_weights", DEFAULT_WEIGHTS)
        self.classifier = classifier or Classifier.load(path)
        self.recent = RecentAcceptance()

    def num_draft_tokens(self) -> int:
        return self.spec.max_draft_tokens

    def keep_drafting(
        self, position: int, q_token: float | None, features: TokenFeatures | None = None
    ) -> bool:
        if features is None:
            return True
        x = torch.tensor([feature_row(features, position, self.recent.value)])  # (1, features)
        return float(self.classifier.probability(x)[0]) >= self.threshold

    def update(self, num_drafted: int, num_accepted: int) -> None:
        self.recent.update(num_drafted, num_accepted)
