"""Which kind of draft a cross-vocabulary sampler needs, read from its registry tags.

A sampler that verifies drafts from another vocabulary carries one tag `draft:<kind>`:

- `draft:token` (tli): target tokens drawn from q' (the drafter's distribution on shared
  tokens), with `q_draft` = q' over the target vocabulary;
- `draft:text` (slem): the drafter's free-running text re-tokenised with the target
  tokenizer (deterministic tokens, `extra["drafter_text"]`);
- `draft:trie` (slrs): target tokens whose strings the drafter spelled, with the trie of
  drafter-token paths explored for each (`extra["slrs_tries"]`);
- `draft:kernel` (rdk, rdk_linear): target tokens drawn from the RDK kernel's q_RDK.

A cross-vocabulary drafter lists the kinds it can produce as the same tags, and reads
`SpecConfig.sampler`'s tags to pick one; `engine.build.check_compatible` refuses pairs
that do not fit before anything is loaded.
"""

from __future__ import annotations

from playground.errors import IncompatibleError

TOKEN, TEXT, TRIE, KERNEL = "token", "text", "trie", "kernel"
PREFIX = "draft:"


def draft_kinds(tags: frozenset[str]) -> set[str]:
    return {t[len(PREFIX) :] for t in tags if t.startswith(PREFIX)}


def proposal_kind(sampler: str, drafter: str, supported: tuple[str, ...]) -> str:
    """The draft kind sampler `sampler` needs, if drafter `drafter` can produce it."""
    from playground.samplers import SAMPLERS

    wanted = draft_kinds(SAMPLERS.get(sampler).tags)
    kinds = [k for k in supported if k in wanted]
    if not kinds:
        fits = [e.name for e in SAMPLERS if draft_kinds(e.tags) & set(supported)]
        raise IncompatibleError(
            f"drafter {drafter!r} cannot produce the drafts sampler {sampler!r} verifies; "
            f"use one of: {', '.join(fits)}"
        )
    return kinds[0]
