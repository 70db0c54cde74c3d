"""Normalised token strings: the text each token id stands for, whatever the tokenizer family.

The family is read from the tokenizer's decoder (or guessed from its pieces):

- SentencePiece (Gemma, Llama 2, Mistral): "▁" is a space; byte-fallback pieces "<0xNN>"
  are that byte.
- Byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen): every character maps back to one byte
  through the GPT-2 bytes-to-unicode table ("Ġ" space, "Ċ" newline, ...).
- WordPiece: a "##" continuation loses its prefix. Anything else: the piece as written.

Bytes become text by UTF-8 decoding with Python's "surrogateescape" handler, so a byte
that is not valid UTF-8 on its own (e.g. the first half of "é") becomes the lone
surrogate U+DC00+byte ("\\udcc3" for 0xC3). Real text never contains lone surrogates, two
tokenizers holding the same bytes agree, and `token_bytes` gives the bytes back.

Special and control tokens, ids without a token and ids past len(tokenizer) (padding
rows of the LM head) map to `NO_TEXT`, the empty string: they stand for no text, and
bridges between vocabularies must skip them.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

NO_TEXT = ""
SENTENCEPIECE, BYTE_LEVEL, WORDPIECE, PLAIN = "sentencepiece", "byte_level", "wordpiece", "plain"
_SPACE_MARK = "\u2581"  # "▁"
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 byte-level table: printable latin-1 bytes stand for themselves, the 68
    others (controls, space, 0x7F-0xA0, 0xAD) are shifted to U+0100 upward in byte order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in printable}
    shifted = (b for b in range(256) if b not in table)
    table.update({b: chr(0x100 + k) for k, b in enumerate(shifted)})
    return table


@lru_cache(maxsize=1)
def _byte_level_translation() -> dict[int, int]:
    """str.translate table from byte-level characters to the latin-1 character of the byte."""
    return {ord(char): byte for byte, char in bytes_to_unicode().items()}


def text_of_bytes(raw: bytes) -> str:
    """Bytes as text; bytes that are not valid UTF-8 become lone surrogates U+DC80-U+DCFF."""
    return raw.decode("utf-8", errors="surrogateescape")


def token_bytes(text: str) -> bytes:
    """The bytes a normalised token string stands for (inverse of `text_of_bytes`)."""
    return text.encode("utf-8", errors="surrogateescape")


def printable(text: str) -> str:
    """A display form: lone-surrogate bytes shown as "<0xNN>", no-text tokens as "∅"."""
    if text == NO_TEXT:
        return "\u2205"
    return "".join(f"<0x{ord(c) - 0xDC00:02X}>" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


def normalised_vocabulary(tokenizer: Any, vocab_size: int) -> list[str]:
    """Text of every id in range(vocab_size); `NO_TEXT` for special, missing and padding ids."""
    pieces = _pieces(tokenizer, vocab_size)
    family = tokenizer_family(tokenizer, pieces)
    convert = {SENTENCEPIECE: _sentencepiece, BYTE_LEVEL: _byte_level, WORDPIECE: _wordpiece}
    piece_text = convert.get(family, _plain)
    texts = [NO_TEXT if piece is None else piece_text(piece) for piece in pieces]
    added_text = _plain if family == BYTE_LEVEL else piece_text
    for token_id, (content, special) in _added_tokens(tokenizer).items():
        if token_id < vocab_size:
            texts[token_id] = NO_TEXT if special else added_text(content)
    for token_id in getattr(tokenizer, "all_special_ids", []):
        if 0 <= token_id < vocab_size:
            texts[token_id] = NO_TEXT
    return texts


def tokenizer_family(tokenizer: Any, pieces: list[str | None] | None = None) -> str:
    """SENTENCEPIECE, BYTE_LEVEL, WORDPIECE or PLAIN, from the decoder or else the pieces."""
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if decoder is not None:
        state = decoder.__getstate__()
        state = state.decode("utf-8") if isinstance(state, bytes) else str(state)
        if '"ByteLevel"' in state:
            return BYTE_LEVEL
        if '"Metaspace"' in state or _SPACE_MARK in state or '"ByteFallback"' in state:
            return SENTENCEPIECE
        if '"WordPiece"' in state:
            return WORDPIECE
        return PLAIN
    return _guess_family(pieces if pieces is not None else _pieces(tokenizer, len(tokenizer)))


def _guess_family(pieces: list[str | None]) -> str:
    """For tokenizers without a `tokenizers` backend: the most common word-start marker."""
    starts = [p[0] for p in pieces if p]
    counts = {SENTENCEPIECE: starts.count(_SPACE_MARK), BYTE_LEVEL: starts.count("\u0120")}
    family = max(counts, key=counts.__getitem__)
    return family if counts[family] > len(starts) // 20 else PLAIN


def _pieces(tokenizer: Any, vocab_size: int) -> list[str | None]:
    """The raw piece of each id below vocab_size (None where the tokenizer has none)."""
    known = min(vocab_size, len(tokenizer))
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        pieces = [backend.id_to_token(i) for i in range(known)]
    else:
        pieces = list(tokenizer.convert_ids_to_tokens(list(range(known))))
    return pieces + [None] * (vocab_size - known)


def _added_tokens(tokenizer: Any) -> dict[int, tuple[str, bool]]:
    """Added tokens as id -> (content, special)."""
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {int(i): (t.content, bool(getattr(t, "special", False))) for i, t in decoder.items()}


def _sentencepiece(piece: str) -> str:
    if len(piece) == 6 and (match := _BYTE_PIECE.fullmatch(piece)):
        return text_of_bytes(bytes([int(match.group(1), 16)]))
    return piece.replace(_SPACE_MARK, " ")


def _byte_level(piece: str) -> str:
    try:
        raw = piece.translate(_byte_level_translation()).encode("latin-1")
    except UnicodeEncodeError:
        logger.debug("byte-level piece %r has characters outside the byte table", piece)
        return piece
    return text_of_bytes(raw)


def _wordpiece(piece: str) -> str:
    return piece[2:] if piece.startswith("##") and len(piece) > 2 else piece


def _plain(piece: str) -> str:
    return piece
