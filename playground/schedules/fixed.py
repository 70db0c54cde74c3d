"""Fixed draft length: every round drafts `num_draft_tokens` tokens."""

from playground.schedules.base import SCHEDULES, Schedule


@SCHEDULES.register(
    "fixed",
    summary="draft the same number of tokens every round",
    paper="Leviathan et al. 2023 (fixed γ)",
)
class FixedSchedule(Schedule):
    def num_draft_tokens(self) -> int:
        return self.spec.num_draft_tokens
