"""Tiny randomly initialised causal LMs for tests, with tokenizers built offline.

- `tiny:target`: Gemma 3 text architecture, 4 layers (3 sliding with window 16, 1 full),
  byte-level BPE tokenizer trained in-process on `CORPUS`.
- `tiny:drafter`: Llama, 2 layers, the same tokenizer; it shares the target's embedding
  table and LM head, so its greedy choices agree with the target's often but not always.
- `tiny:drafter-char`: Llama with a SentencePiece-style character tokenizer (byte
  fallback): a different vocabulary over the same text, for cross-tokenizer tests.

Everything is seeded through explicit generators, so each build gives identical weights.
Weights are scaled so next-token distributions are peaked (no argmax near-ties) while
sampling at temperature 1 still has several plausible tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer
from transformers import (
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from playground.errors import ModelLoadError

CORPUS = """\
The little robot walked to the market every morning to buy bread, milk and apples.
It counted the coins twice, because the baker liked exact change and a polite smile.
On rainy days the robot carried a green umbrella and hummed a song about the sea.
A speculative decoder guesses several tokens ahead, and the target model checks them.
When the guess is right, many tokens are accepted at once; when it is wrong, one is fixed.
The river ran past the old mill, where children threw sticks and watched them float away.
In the kitchen, the soup needed more salt, two carrots, an onion and a bay leaf.
Numbers like 3, 14, 2024 and 1000 appear in recipes, in dates and in train timetables.
She wrote: "Meet me at the station at half past nine, and bring the map, please."
def add(a, b):
    return a + b

The quick brown fox jumps over the lazy dog; the dog does not seem to mind at all.
Clouds gathered over the hills in the evening, and the wind turned cold and sharp.
Every good story has a beginning, a middle and an end, though not always in that order.
Teachers ask questions, students answer them, and sometimes the answers ask new questions.
The library opens at eight o'clock and closes at six, except on Sundays and holidays.
Small models draft quickly; large models verify carefully; together they write faster.
If the cache holds the past keys and values, the next step only computes the new token.
Gardeners plant seeds in spring, water them in summer and gather the harvest in autumn.
The train was late again, so the passengers read newspapers and drank hot tea.
"""

BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
SPECIALS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3 in both tokenizers
BPE_VOCAB_SIZE = 640
SEED = 20250101
# Init scales, set by measurement on CORPUS: logit std ~4.8, top-1 margin median ~1
# (99% above 1e-2), perplexity at temperature 1 ~7, teacher-forced greedy agreement of
# drafter and target ~46%. POST_NORM_GAIN shrinks Gemma's post-sublayer norms so the
# embedding shared with the drafter dominates the target's residual stream.
EMBED_STD = 1.0
HEAD_STD = 0.6
LAYER_STD = 0.05
POST_NORM_GAIN = 0.15


@dataclass(frozen=True)
class TinySpec:
    name: str
    summary: str


TINY_MODELS = {
    s.name: s
    for s in (
        TinySpec("target", "Gemma 3 text, 4 layers, sliding window 16, BPE vocabulary"),
        TinySpec("drafter", "Llama, 2 layers, same BPE vocabulary, shares the target's head"),
        TinySpec("drafter-char", "Llama, 2 layers, character vocabulary (cross-tokenizer)"),
    )
}


def build_tiny(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Model (fp32, CPU, eval) and tokenizer of `tiny:<name>`."""
    if name not in TINY_MODELS:
        raise ModelLoadError(
            f"unknown tiny model {name!r}; choose one of: "
            + ", ".join(f"tiny:{n}" for n in TINY_MODELS)
        )
    if name == "drafter-char":
        tokenizer = char_tokenizer()
        model = _llama(len(tokenizer), SEED + 2, share_target_tables=False)
    else:
        tokenizer = bpe_tokenizer()
        vocab_size = len(tokenizer)
        model = _gemma(vocab_size) if name == "target" else _llama(vocab_size, SEED + 1, True)
    return model.eval().requires_grad_(False), tokenizer


def bpe_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 style) trained on CORPUS; round-trips any text."""
    return _wrap(_bpe_backend().to_str())


def char_tokenizer() -> PreTrainedTokenizerFast:
    """SentencePiece-style characters: "▁" for space, "<0xNN>" for characters not in CORPUS."""
    return _wrap(_char_backend().to_str())


def _wrap(serialised: str) -> PreTrainedTokenizerFast:
    # A fresh object per call: callers may mutate their tokenizer.
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(serialised),
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
    )


@lru_cache(maxsize=1)
def _bpe_backend() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS.splitlines(keepends=True), trainer=trainer)
    return _with_bos(tokenizer)


@lru_cache(maxsize=1)
def _char_backend() -> Tokenizer:
    chars = sorted(set(CORPUS.replace(" ", "\u2581")))
    byte_pieces = [f"<0x{b:02X}>" for b in range(256)]
    vocab = {piece: i for i, piece in enumerate([*SPECIALS, *byte_pieces, *chars])}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "\u2581")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    tokenizer.add_special_tokens(SPECIALS)
    return _with_bos(tokenizer)


def _with_bos(tokenizer: Tokenizer) -> Tokenizer:
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, bos_id)]
    )
    return tokenizer


def _ids(**kwargs: int) -> dict[str, int]:
    return {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, **kwargs}


def _gemma(vocab_size: int) -> Gemma3ForCausalLM:
    config = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        query_pre_attn_scalar=32,
        sliding_window=16,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        layer_types=[
            "sliding_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention",
        ],
        **_ids(),
    )
    model = _construct(Gemma3ForCausalLM, config, SEED)
    for layer in model.model.layers:
        # Gemma's norms scale by (1 + weight).
        layer.post_attention_layernorm.weight.data.fill_(POST_NORM_GAIN - 1)
        layer.post_feedforward_layernorm.weight.data.fill_(POST_NORM_GAIN - 1)
    embed, head = _shared_tables(vocab_size, config.hidden_size)
    _set(model.model.embed_tokens.weight, embed)
    _set(model.lm_head.weight, head)
    return model


def _llama(vocab_size: int, seed: int, share_target_tables: bool) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        **_ids(),
    )
    model = _construct(LlamaForCausalLM, config, seed)
    if share_target_tables:
        embed, head = _shared_tables(vocab_size, config.hidden_size)
        # Gemma multiplies its embeddings by sqrt(hidden); match the target's residual stream.
        _set(model.model.embed_tokens.weight, embed * config.hidden_size**0.5)
        _set(model.lm_head.weight, head)
    return model


def _construct(cls: type[PreTrainedModel], config: object, seed: int) -> PreTrainedModel:
    """Build `cls(config)` without touching the global RNG, then draw every matrix from a
    generator seeded with `seed` (norm weights keep their deterministic defaults)."""
    with torch.random.fork_rng(devices=[]):
        model = cls(config)
    generator = torch.Generator().manual_seed(seed)
    hidden = config.hidden_size
    for name, param in model.named_parameters():
        if param.ndim < 2:
            continue
        if "embed_tokens" in name:
            std = EMBED_STD / hidden**0.5
        elif "lm_head" in name:
            std = HEAD_STD
        else:
            std = LAYER_STD
        _set(param, torch.randn(param.shape, generator=generator) * std)  # (out, in)
    return model


@lru_cache(maxsize=2)
def _shared_tables(vocab_size: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The embedding table (as Gemma stores it) and LM head shared by target and drafter."""
    generator = torch.Generator().manual_seed(SEED - 1)
    embed = torch.randn(vocab_size, hidden, generator=generator) * EMBED_STD / hidden**0.5
    head = torch.randn(vocab_size, hidden, generator=generator) * HEAD_STD  # (vocab, hidden)
    return embed, head


def _set(param: torch.Tensor, value: torch.Tensor) -> None:
    with torch.no_grad():
        param.copy_(value)
