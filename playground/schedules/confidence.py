"""Stop drafting once the drafter is unsure of its own token.

The fallback policy of Big Little Decoder (Kim et al. 2023, arXiv 2302.07863) and the
confidence-based draft exiting of Draft & Verify (Zhang et al. 2023, arXiv 2309.08168):
draft up to `max_draft_tokens`, and end the draft after a token whose drafter
probability is below `confidence_threshold`. That token is still verified; drafting
more after an unsure token rarely pays, since every later token needs it accepted.

The probability is the drafter's own at temperature 1 (`TokenFeatures.token_prob`), so
the rule means the same at temperature 0, where the processed distribution is one-hot;
drafters that report no features fall back to q_draft of the token, and deterministic
drafters (prompt lookup, token recycling) are never asked.
"""

from __future__ import annotations

from playground.config import CONFIDENCE_THRESHOLD, SpecConfig, read_option
from playground.schedules.base import SCHEDULES, Schedule
from playground.schedules.features import TokenFeatures


@SCHEDULES.register(
    "confidence",
    summary="draft up to max_draft_tokens; stop after a token the drafter gives probability "
    "< confidence_threshold",
    paper="Kim et al. 2023, BiLD (arXiv 2302.07863); Zhang et al. 2023, Draft & Verify "
    "(arXiv 2309.08168)",
)
class ConfidenceSchedule(Schedule):
    def __init__(self, spec: SpecConfig):
        super().__init__(spec)
        self.threshold = read_option(spec.options, CONFIDENCE_THRESHOLD)

    def num_draft_tokens(self) -> int:
        return self.spec.max_draft_tokens

    def keep_drafting(
        self, position: int, q_token: float | None, features: TokenFeatures | None = None
    ) -> bool:
        confidence = features.token_prob if features is not None else q_token
        return confidence is None or confidence >= self.threshold
