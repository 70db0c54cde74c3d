"""Normalised token strings: every id maps to the text it stands for, across families."""

from __future__ import annotations

import time

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from playground.models import tiny
from playground.models.vocab import (
    BYTE_LEVEL,
    NO_TEXT,
    PLAIN,
    SENTENCEPIECE,
    WORDPIECE,
    bytes_to_unicode,
    normalised_vocabulary,
    printable,
    token_bytes,
    tokenizer_family,
)

TEXTS = [
    tiny.CORPUS,
    "Hello  wörld, naïve café — 日本語 🤖\n\ttabs and\r\nnewlines",
    " leading space and trailing ",
]


def joined_text(strings: list[str], ids: list[int]) -> str:
    """The text a sequence of ids stands for, from normalised strings alone."""
    return token_bytes("".join(strings[i] for i in ids)).decode("utf-8")


def test_byte_table_is_the_gpt2_bijection():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256)), "every byte has a character"
    assert len(set(table.values())) == 256, "no two bytes share a character"
    assert table[ord(" ")] == "\u0120" and table[ord("\n")] == "\u010a", "Ġ is space, Ċ newline"
    assert all(table[b] == chr(b) for b in range(ord("!"), ord("~") + 1)), "ASCII stands for itself"


@pytest.mark.parametrize("build", [tiny.bpe_tokenizer, tiny.char_tokenizer])
def test_strings_of_encoded_text_spell_the_text(build):
    tokenizer = build()
    strings = normalised_vocabulary(tokenizer, len(tokenizer))
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert joined_text(strings, ids) == text, (
            "concatenating the normalised strings of a tokenisation must give back the text"
        )


def test_families_are_detected():
    assert tokenizer_family(tiny.bpe_tokenizer()) == BYTE_LEVEL
    assert tokenizer_family(tiny.char_tokenizer()) == SENTENCEPIECE
    assert tokenizer_family(_wordpiece_tokenizer()) == WORDPIECE
    assert tokenizer_family(_slow_stub(["\u2581the", "\u2581a", "b"] * 10)) == SENTENCEPIECE
    assert tokenizer_family(_slow_stub(["\u0120the", "\u0120a", "b"] * 10)) == BYTE_LEVEL
    assert tokenizer_family(_slow_stub(["the", "a", "b"] * 10)) == PLAIN


def test_sentencepiece_marks_and_byte_fallback():
    tokenizer = tiny.char_tokenizer()
    strings = normalised_vocabulary(tokenizer, len(tokenizer))
    assert strings[tokenizer.convert_tokens_to_ids("\u2581")] == " ", "▁ is a space"
    assert strings[tokenizer.convert_tokens_to_ids("<0x41>")] == "A", "ASCII byte is its char"
    assert strings[tokenizer.convert_tokens_to_ids("<0x0A>")] == "\n"
    lead = strings[tokenizer.convert_tokens_to_ids("<0xC3>")]
    assert lead == "\udcc3", "a byte that is not UTF-8 alone is the lone surrogate U+DC00+byte"
    assert token_bytes(lead) == b"\xc3" and printable(lead) == "<0xC3>"


def test_byte_level_partial_characters_match_sentencepiece_bytes():
    bpe = normalised_vocabulary(tiny.bpe_tokenizer(), 640)
    char_tokenizer = tiny.char_tokenizer()
    chars = normalised_vocabulary(char_tokenizer, len(char_tokenizer))
    byte_c3 = chars[char_tokenizer.convert_tokens_to_ids("<0xC3>")]
    assert byte_c3 in bpe, "the same lone byte gets the same string in both families"


def test_specials_missing_ids_and_head_padding_have_no_text():
    tokenizer = tiny.bpe_tokenizer()
    strings = normalised_vocabulary(tokenizer, len(tokenizer) + 7)
    assert len(strings) == len(tokenizer) + 7, "one string per row of the LM head"
    for token_id in tokenizer.all_special_ids:
        assert strings[token_id] == NO_TEXT, f"special id {token_id} must not look like text"
    assert strings[-7:] == [NO_TEXT] * 7, "padding rows past len(tokenizer) have no text"
    assert NO_TEXT not in strings[4 : len(tokenizer)], "real tokens always stand for some text"
    assert printable(NO_TEXT) == "\u2205"


def test_wordpiece_continuations_lose_their_prefix():
    tokenizer = _wordpiece_tokenizer()
    strings = normalised_vocabulary(tokenizer, len(tokenizer))
    assert strings[tokenizer.convert_tokens_to_ids("##ing")] == "ing"
    assert strings[tokenizer.convert_tokens_to_ids("walk")] == "walk"


def test_tokenizer_without_backend_is_handled():
    stub = _slow_stub(["<s>", "\u2581the", "<0x0A>", "cat"])
    assert normalised_vocabulary(stub, 5) == [NO_TEXT, " the", "\n", "cat", NO_TEXT]


@pytest.mark.slow
def test_bundled_vocabularies_and_their_overlap():
    from playground.models import load_model

    gemma = load_model("bundled:gemma-3-270m")
    smol = load_model("bundled:smollm2-135m-instruct")
    started = time.perf_counter()
    gemma_strings = gemma.token_strings
    seconds = time.perf_counter() - started
    smol_strings = smol.token_strings
    print(f"normalised {len(gemma_strings)} Gemma tokens in {seconds:.2f} s")
    assert len(gemma_strings) == 262_144 and len(smol_strings) == 49_152
    for handle in (gemma, smol):
        for text in TEXTS:
            ids = handle.tokenizer(text, add_special_tokens=False)["input_ids"]
            assert joined_text(handle.token_strings, ids) == text, (
                f"{handle.spec}: normalised strings of a tokenisation must spell the text"
            )
        assert all(handle.token_strings[i] == NO_TEXT for i in handle.tokenizer.all_special_ids)
    in_gemma = set(gemma_strings) - {NO_TEXT}
    shared = sum(1 for s in smol_strings if s != NO_TEXT and s in in_gemma)
    print(f"{shared} of SmolLM2's {len(smol_strings)} tokens exist as strings in Gemma")
    assert shared >= 40_000, (
        f"SmolLM2 and Gemma share most token strings (measured 46,145), got {shared}"
    )


def _wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, "walk": 1, "##ing": 2, "##ed": 3, "the": 4}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


class _slow_stub:
    """A tokenizer with no `tokenizers` backend (like a pure-Python SentencePiece one)."""

    def __init__(self, pieces: list[str]):
        self.pieces = pieces
        self.all_special_ids = [0] if pieces[0] == "<s>" else []
        self.added_tokens_decoder = {}

    def __len__(self) -> int:
        return len(self.pieces)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self.pieces[i] for i in ids]
