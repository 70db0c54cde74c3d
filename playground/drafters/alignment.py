"""Keeping a drafter with another tokenizer aligned with the target's text, in bytes.

`ByteCodec` turns bytes into one vocabulary's ids exactly: the model's tokenizer when its
output spells the bytes back (checked), else a greedy longest match over the vocabulary's
byte strings (SentencePiece dummy prefixes, bytes that are not valid UTF-8 on their own).
For the target it also answers the SLRS trie questions: is this byte string the start of
some target token, of a longer one, or a whole one (a sorted list and bisection, no trie
in memory).

`TokenStream` holds the drafter's own ids for the committed text and updates them once per
round without re-encoding the context:

1. the committed text grows by the bytes of the new target tokens;
2. the tokens the drafter drafted last round are kept while their bytes match the new
   committed bytes (they are already in the drafter's KV cache);
3. the rest, the *tail*, is re-encoded from a stable boundary: the start of the latest
   token that begins a word (its first byte is whitespace) among the last `back_off`
   tokens, else the end of the kept tokens. Tokenizers split before a space-led word
   (byte-level BPE pre-tokenizers) or, for SentencePiece-style vocabularies, rarely
   merge across one, so tokens before that boundary are final and are never re-encoded.

Each round therefore encodes about one word plus the round's new text; the drafter's
cache is then cropped to its common prefix with the stream (`ModelDrafter._sync`). The
drafter's tokenisation need not be canonical for the output to stay lossless (the
target verifies in its own ids); alignment only decides how good the drafts are.
"""

from __future__ import annotations

import bisect
import weakref
from typing import Any

from playground.models.handle import ModelHandle
from playground.models.vocab import NO_TEXT, token_bytes

WORD_START = frozenset(b" \t\n\r")
MAX_TOKEN_BYTES = 128  # longest piece the greedy fallback tries


class ByteCodec:
    """Exact bytes -> ids for one model's vocabulary, plus prefix queries."""

    def __init__(
        self, pieces: list[bytes], tokenizer: Any = None, special_prefix: tuple[int, ...] = ()
    ):
        self.tokenizer = tokenizer  # None: greedy longest match only
        self.token_bytes = pieces
        # The highest id holding a byte string represents it (as in analysis.vocab).
        self.ids = {b: i for i, b in enumerate(pieces) if b}
        self.max_len = min(max((len(b) for b in self.ids), default=1), MAX_TOKEN_BYTES)
        self.sorted = sorted(self.ids)
        self.special_prefix = list(special_prefix)

    @classmethod
    def of(cls, handle: ModelHandle) -> ByteCodec:
        pieces = [token_bytes(s) for s in handle.token_strings]
        specials = [i for i in handle.encode("") if handle.token_strings[i] == NO_TEXT]
        return cls(pieces, handle.tokenizer, tuple(specials))

    def join(self, ids: list[int]) -> bytes:
        return b"".join(self.token_bytes[i] for i in ids)

    def encode(self, data: bytes) -> list[int] | None:
        """Ids whose bytes are exactly `data` (no special tokens); None if impossible."""
        if not data:
            return []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return self.greedy(data)
        if self.tokenizer is None:
            return self.greedy(data)
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return ids if self.join(ids) == data else self.greedy(data)

    def greedy(self, data: bytes) -> list[int] | None:
        out, pos = [], 0
        while pos < len(data):
            for size in range(min(self.max_len, len(data) - pos), 0, -1):
                token = self.ids.get(data[pos : pos + size])
                if token is not None:
                    break
            else:
                return None
            out.append(token)
            pos += size
        return out

    def whole_id(self, data: bytes) -> int:
        """The id whose bytes are `data`, -1 if none."""
        return self.ids.get(data, -1)

    def is_prefix(self, data: bytes) -> bool:
        """Some token's bytes start with `data` (or equal it)."""
        i = bisect.bisect_left(self.sorted, data)
        return i < len(self.sorted) and self.sorted[i].startswith(data)

    def extends(self, data: bytes) -> bool:
        """Some token's bytes start with `data` and are longer."""
        i = bisect.bisect_right(self.sorted, data)
        return i < len(self.sorted) and self.sorted[i].startswith(data)


_CODECS: weakref.WeakKeyDictionary[ModelHandle, ByteCodec] = weakref.WeakKeyDictionary()


def codec_for(handle: ModelHandle) -> ByteCodec:
    """One codec per loaded model (building it reads the whole vocabulary once)."""
    if handle not in _CODECS:
        _CODECS[handle] = ByteCodec.of(handle)
    return _CODECS[handle]


class TokenStream:
    """The drafter's ids for the committed text; `ends[i]` is token i's end offset in bytes."""

    def __init__(self, drafter: ByteCodec, target: ByteCodec, back_off: int = 8):
        self.drafter, self.target, self.back_off = drafter, target, back_off
        self.start()

    def start(self) -> None:
        self.text = bytearray()  # the committed text
        self.num_target = 0  # committed target tokens already in `text`
        self.ids = list(self.drafter.special_prefix)
        self.ends = [0] * len(self.ids)
        self.drafted: list[int] = []  # drafter ids fed after `ids` while drafting

    @property
    def covered(self) -> int:
        return self.ends[-1] if self.ends else 0

    def sync(self, context: list[int]) -> list[int] | None:
        """Bring the stream up to the committed target ids; None if the text cannot be
        spelled in the drafter's vocabulary (then the drafter skips the round)."""
        for token in context[self.num_target :]:
            self.text += self.target.token_bytes[token]
        self.num_target = len(context)
        self._absorb()
        if self.covered < len(self.text) and not self._encode_tail():
            return None
        return self.ids

    def _absorb(self) -> None:
        pos = self.covered
        for token in self.drafted:
            piece = self.drafter.token_bytes[token]
            if not piece or self.text[pos : pos + len(piece)] != piece:
                break
            pos += len(piece)
            self.ids.append(token)
            self.ends.append(pos)
        self.drafted = []

    def _encode_tail(self) -> bool:
        cut = self._stable_boundary()
        start = self.ends[cut - 1] if cut else 0
        new = self.drafter.encode(bytes(self.text[start:]))
        if new is None:
            return False
        del self.ids[cut:], self.ends[cut:]
        for token in new:
            start += len(self.drafter.token_bytes[token])
            self.ids.append(token)
            self.ends.append(start)
        return True

    def _stable_boundary(self) -> int:
        """Index of the first token to re-encode with the tail (see the module docstring)."""
        n = len(self.ids)
        for j in range(n - 1, max(n - self.back_off, 0) - 1, -1):
            start = self.ends[j - 1] if j else 0
            if self.ends[j] == start:  # a special token: never re-encode across it
                break
            if self.text[start] in WORD_START:
                return j
        return n
