"""The heuristic schedule of transformers' assisted generation, bounded.

Start at `num_draft_tokens`; after a round where every draft token was accepted draft
two more next time, otherwise one fewer, always within [1, max_draft_tokens].
"""

from playground.config import SpecConfig
from playground.schedules.base import SCHEDULES, Schedule


@SCHEDULES.register(
    "heuristic",
    summary="+2 after a fully accepted draft, -1 otherwise, within [1, max_draft_tokens]",
    paper="transformers assisted generation (Joao Gante, 2023), 'heuristic' schedule",
)
class HeuristicSchedule(Schedule):
    def __init__(self, spec: SpecConfig):
        super().__init__(spec)
        self.length = spec.num_draft_tokens

    def num_draft_tokens(self) -> int:
        return self.length

    def update(self, num_drafted: int, num_accepted: int) -> None:
        if num_accepted == num_drafted:
            self.length = min(self.length + 2, self.spec.max_draft_tokens)
        else:
            self.length = max(self.length - 1, 1)
