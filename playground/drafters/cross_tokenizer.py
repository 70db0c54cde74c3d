"""Draft with a causal LM whose tokenizer differs from the target's (heterogeneous vocabularies).

Timor et al. 2025 (arXiv 2502.05202): the drafter writes in its own vocabulary and the
draft is handed to the target in target ids. What the draft looks like depends on the
sampler, read from the sampler's `draft:<kind>` tag (`drafters.proposal`):

- token (tli): each step samples from q' — the drafter's processed distribution restricted
  to tokens whose strings the target also holds, renormalised — and maps the token to its
  target id; `q_draft` is q' in target-vocabulary space. One drafter token per target token.
- text (slem): the drafter samples freely; its text is re-tokenised with the target
  tokenizer (`ByteCodec.encode`) until it yields num_draft_tokens + 1 target tokens, and
  the last one, possibly cut mid-token, is dropped (kept when the drafter ended its text).
  The text travels in `extra["drafter_text"]`; at most `text_steps_per_token` drafter
  tokens are spent per target token.
- trie (slrs): per target position the drafter expands a trie of its tokens whose
  concatenation stays a prefix of some target token (`slrs_width` children per node,
  `slrs_depth` levels, one tree-attention forward per level over that level's new nodes
  only, `drafters.tree.LevelExpander`), then walks it with the rng; the stop node's string
  is the draft token and the trie goes to the sampler (`extra["slrs_tries"]`), which
  computes the proposal law from it. The walked path's cache entries and distribution
  are kept from the trie's forwards, so the next position feeds only the path's tokens
  the trie did not expand (usually none).

Alignment across rounds (`drafters.alignment.TokenStream`): the drafter keeps its own ids
for the committed text; each round it keeps the drafted tokens the target confirmed and
re-encodes only the tail after the latest word start, then crops its KV cache to the
common prefix (`ModelDrafter._sync`), so the context is never re-encoded as a whole.

Registered as `cross_tokenizer` with tags cross_vocab, model and the draft kinds above.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import torch

from playground.analysis.vocab import vocab_bridge
from playground.config import SLRS_DEPTH, SLRS_WIDTH, TEXT_STEPS, read_option
from playground.drafters.alignment import ByteCodec, TokenStream, codec_for
from playground.drafters.base import DRAFTERS, DrafterContext
from playground.drafters.model import ModelDrafter
from playground.drafters.proposal import TEXT, TOKEN, TRIE, proposal_kind
from playground.drafters.tree import LevelExpander
from playground.engine import cache as kv
from playground.engine.tree import Draft
from playground.errors import ConfigError
from playground.models.handle import ModelHandle
from playground.models.vocab import printable, text_of_bytes
from playground.samplers.base import sample_from
from playground.samplers.slrs import StringTrie, walk
from playground.samplers.tli import restrict_to_intersection
from playground.schedules.base import Schedule

CANDIDATES_PER_CHILD = 64  # SLRS: drafter tokens scanned (by q) per child slot


class CrossTokenizerDrafter(ModelDrafter):
    vocabulary = "other"

    def __init__(self, drafter: ModelHandle, target: ModelHandle, ctx: DrafterContext, kind: str):
        super().__init__(drafter, target, ctx)
        # ModelDrafter pads or cuts logits to `target_vocab`: keep the drafter's own width.
        self.target_vocab = drafter.vocab_size
        self.target_size = target.vocab_size
        self.kind = kind
        self.bridge = vocab_bridge(target, drafter)
        self.drafter_codec, self.target_codec = codec_for(drafter), codec_for(target)
        self.stream = TokenStream(self.drafter_codec, self.target_codec)
        self.drafter_eos = drafter.eos_token_ids
        options = ctx.spec.options
        self.width = read_option(options, SLRS_WIDTH)
        self.depth = read_option(options, SLRS_DEPTH)
        self.steps_per_token = read_option(options, TEXT_STEPS)

    def start(self, prompt_ids: list[int]) -> None:
        super().start(prompt_ids)
        self.stream.start()

    def propose(
        self, context: list[int], num_draft_tokens: int, schedule: Schedule, rng: torch.Generator
    ) -> Draft:
        ids = self.stream.sync(context)
        if ids is None:
            return Draft.empty()
        logits = self._forward(self._sync(ids))  # (drafter_vocab,)
        rule = {TOKEN: self._tokens, TEXT: self._text, TRIE: self._trie}[self.kind]
        draft, drafted = rule(logits, num_draft_tokens, schedule, rng)
        self.stream.drafted = drafted
        draft.extra["proposal"] = self.kind
        draft.extra["drafter_text"] = printable(text_of_bytes(self.drafter_codec.join(drafted)))
        return draft

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return self.processor(logits[None]).probs[0]  # (drafter_vocab,)

    # ---- token: TLI -------------------------------------------------------------------

    def _tokens(self, logits, num_draft_tokens, schedule, rng) -> tuple[Draft, list[int]]:
        d2t, t2d = self.bridge.drafter_to_target, self.bridge.target_to_drafter
        shared = self.bridge.drafter_shared  # (drafter_vocab,)
        drafted, rows = [], []
        for position in range(1, num_draft_tokens + 1):
            q_token = None
            if self.processor.config.greedy:
                masked = logits.masked_fill(~shared, float("-inf"))  # (drafter_vocab,)
                if not bool(torch.isfinite(masked).any()):
                    break
                token = int(masked.argmax())
            else:
                q_prime = restrict_to_intersection(self._probs(logits)[None], d2t, self.target_size)
                if float(q_prime.sum()) <= 0:
                    break
                token = int(t2d[sample_from(q_prime[0], rng)])
                rows.append(q_prime[0])  # (target_vocab,)
                q_token = float(q_prime[0, d2t[token]])
            drafted.append(token)
            if position == num_draft_tokens or not schedule.keep_drafting(position, q_token):
                break
            logits = self._forward([token])
        q_draft = torch.stack(rows) if rows else None  # (num_nodes, target_vocab)
        tokens = d2t[torch.tensor(drafted, dtype=torch.long)]  # (num_nodes,)
        draft = Draft.chain(tokens, q_draft, drafter_tokens=torch.tensor(drafted, dtype=torch.long))
        return draft, drafted

    # ---- text: SLEM -------------------------------------------------------------------

    def _text(self, logits, num_draft_tokens, schedule, rng) -> tuple[Draft, list[int]]:
        drafted: list[int] = []
        text, targets, ended = b"", [], False
        for _ in range(num_draft_tokens * self.steps_per_token):
            token = self.processor(logits[None]).sample(0, rng)
            piece = self.drafter_codec.token_bytes[token]
            if token in self.drafter_eos or not piece:
                ended = True
                break
            drafted.append(token)
            text += piece
            targets = self.target_codec.encode(text) or []
            if len(targets) > num_draft_tokens:
                break
            logits = self._forward([token])
        keep = len(targets) if ended else len(targets) - 1
        tokens = torch.tensor(targets[: max(0, min(keep, num_draft_tokens))], dtype=torch.long)
        return Draft.chain(tokens), drafted

    # ---- trie: SLRS -------------------------------------------------------------------

    def _trie(self, logits, num_draft_tokens, schedule, rng) -> tuple[Draft, list[int]]:
        drafted, tokens, tries = [], [], []
        q_root = self._probs(logits)  # (drafter_vocab,)
        try:
            for position in range(1, num_draft_tokens + 1):
                trie, fed, rows = self._expand(q_root)
                node = int(walk(trie, rng)[0])
                if trie.target_ids[node] < 0:
                    break
                path = trie.path(node)
                tokens.append(trie.target_ids[node])
                tries.append(trie)
                drafted += path
                if position == num_draft_tokens or not schedule.keep_drafting(position, None):
                    break
                q_root = self._advance(trie, node, fed, rows)
        finally:
            kv.truncate(self.cache, len(self.cached_ids))  # drop the last trie's levels
        draft = Draft.chain(torch.tensor(tokens, dtype=torch.long))
        draft.extra["slrs_tries"] = tries
        return draft, drafted

    def _expand(self, q_root: torch.Tensor) -> tuple[StringTrie, list[int], dict]:
        """The position's trie; its expanded nodes stay in the cache after `cached_ids`
        (`fed`, in slot order) with their distributions (`rows`), for `_advance`."""
        expander = LevelExpander(self, prefix_len=len(self.cached_ids) - 1)
        rows: dict[int, torch.Tensor] = {}

        def probs_after(trie: StringTrie, nodes: list[int]) -> list[torch.Tensor]:
            # one tree forward over the new level only; earlier levels are in the cache
            view = SimpleNamespace(
                tokens=trie.drafter_tokens, parents=[p if p > 0 else -1 for p in trie.parents]
            )
            probs = list(expander(view, nodes).probs)  # per node: (drafter_vocab,)
            rows.update(zip(nodes, probs, strict=True))
            return probs

        trie = expand_trie(
            q_root,
            probs_after,
            self.drafter_codec.token_bytes,
            self.target_codec,
            self.width,
            self.depth,
        )
        return trie, expander.fed, rows

    def _advance(self, trie: StringTrie, node: int, fed: list[int], rows: dict) -> torch.Tensor:
        """Move the drafter past `node`'s path: keep the path's entries the trie's tree
        forwards left in the cache, feed only the rest; the distribution after the path."""
        slots = {n: i for i, n in enumerate(fed)}
        nodes = _ancestors(trie, node)[::-1]  # root's child first
        kept = 0
        while kept < len(nodes) and nodes[kept] in slots:
            kept += 1
        base = len(self.cached_ids)
        kv.keep(self.cache, base, [base + slots[n] for n in nodes[:kept]])
        self.cached_ids.extend(trie.drafter_tokens[n] for n in nodes[:kept])
        rest = [trie.drafter_tokens[n] for n in nodes[kept:]]
        return self._probs(self._forward(rest)) if rest else rows[node]


def expand_trie(
    q_root: torch.Tensor,
    probs_after: Callable[[StringTrie, list[int]], list[torch.Tensor]],
    drafter_pieces: list[bytes],
    target: ByteCodec,
    width: int,
    depth: int,
) -> StringTrie:
    """The trie of drafter-token paths that stay inside the target trie, level by level.

    Each node gets up to `width` children: the drafter's most likely tokens (q > 0) whose
    bytes extend the node's string to a prefix of some target token. Of each level's new
    nodes, the `width` most likely that a longer target token still extends are expanded:
    `probs_after(trie, nodes)` gives the drafter's distribution after each of them (one
    tree forward for a model). Levels stop at `depth` drafter tokens.
    """
    trie = StringTrie.root()
    spelled, reach, rows = [b""], [1.0], {0: q_root}
    frontier = [0]
    for level in range(1, depth + 1):
        fresh = []
        for node in frontier:
            for token, q in trie_children(rows[node], spelled[node], drafter_pieces, target, width):
                piece = spelled[node] + drafter_pieces[token]
                fresh.append(trie.add(node, token, q, target.whole_id(piece)))
                spelled.append(piece)
                reach.append(reach[node] * q)
        growing = [n for n in fresh if target.extends(spelled[n])]
        if level == depth or not growing:
            break
        frontier = sorted(growing, key=lambda n: -reach[n])[:width]
        rows.update(zip(frontier, probs_after(trie, frontier), strict=True))
    return trie


def trie_children(
    q: torch.Tensor, spelled: bytes, drafter_pieces: list[bytes], target: ByteCodec, width: int
) -> list[tuple[int, float]]:
    """Up to `width` drafter tokens, most likely first, that keep `spelled` in the trie."""
    values, ids = q.topk(min(q.numel(), CANDIDATES_PER_CHILD * width))
    out = []
    for value, token in zip(values.tolist(), ids.tolist(), strict=True):
        if value <= 0 or len(out) == width:
            break
        piece = drafter_pieces[token]
        if piece and target.is_prefix(spelled + piece):
            out.append((token, value))
    return out


def _ancestors(trie: StringTrie, node: int) -> list[int]:
    out = []
    while node > 0:
        out.append(node)
        node = trie.parents[node]
    return out


@DRAFTERS.register(
    "cross_tokenizer",
    summary="a causal LM with another tokenizer drafts; its tokens or text are bridged to the "
    "target's vocabulary (for tli, slem, slrs)",
    paper="Timor et al. 2025, arXiv 2502.05202 (ICML 2025)",
    tags=("cross_vocab", "model", "draft:token", "draft:text", "draft:trie"),
)
def cross_tokenizer_drafter(ctx: DrafterContext) -> CrossTokenizerDrafter:
    if not ctx.spec.drafter_model:
        raise ConfigError(
            "the 'cross_tokenizer' drafter needs drafter_model (e.g. bundled:smollm2-135m-instruct)"
        )
    kind = proposal_kind(ctx.spec.sampler, "cross_tokenizer", (TOKEN, TEXT, TRIE))
    handle = ctx.load(ctx.spec.drafter_model)
    return CrossTokenizerDrafter(handle, ctx.target, ctx, kind)
