"""The cross_tokenizer drafter: exact byte alignment, cheap re-encoding, lossless engine runs.

Tiny pair: target `tiny:target` (byte-level BPE) and drafter `tiny:drafter-char`
(SentencePiece-style characters with byte fallback): the same text, other vocabularies.
The slow test runs the bundled real pair (Gemma 3 270M target, SmolLM2-135M drafter).
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.drafters.alignment import ByteCodec, TokenStream
from playground.engine.build import build_engine, check_compatible
from playground.errors import ConfigError, IncompatibleError
from playground.models import load_model

PROMPT = "The little robot walked to the market every morning to buy"
TEXTS = ["The robot buys bread.", " naïve café — 日本語 🤖\n\ttabs", "  two  spaces ", "caf\xc3"]


@cache
def tiny(name: str):
    return load_model(f"tiny:{name}")


def run(sampler: str, drafter_model: str = "tiny:drafter-char", **gen):
    """A run with the cross_tokenizer drafter; a fresh drafter handle per spec."""
    spec = SpecConfig(
        drafter="cross_tokenizer", drafter_model=drafter_model, sampler=sampler, schedule="fixed"
    )
    config = GenerationConfig(**{"max_new_tokens": 40, **gen})
    return build_engine(tiny("target"), spec, config, load=load_model).run(PROMPT)


@pytest.mark.parametrize("name", ["target", "drafter-char"])
def test_codec_spells_any_bytes_back_exactly(name):
    codec = ByteCodec.of(tiny(name))
    for text in TEXTS:
        data = text.encode("utf-8", "surrogateescape") if "\xc3" not in text else b"caf\xc3"
        ids = codec.encode(data)
        assert ids is not None and codec.join(ids) == data, (name, text)


def test_codec_prefix_queries():
    codec = ByteCodec([b"", b"a", b"ab", b"abc", b"b"])
    assert codec.is_prefix(b"ab") and codec.extends(b"ab") and not codec.extends(b"abc")
    assert codec.whole_id(b"ab") == 2 and codec.whole_id(b"ba") == -1
    assert not codec.is_prefix(b"ac")


def test_stream_stays_aligned_and_re_encodes_only_a_tail():
    target, drafter = tiny("target"), tiny("drafter-char")
    stream = TokenStream(ByteCodec.of(drafter), ByteCodec.of(target))
    text = "The robot counted the coins twice, because the baker liked exact change."
    ids = target.encode(text)
    stream.start()
    previous: list[int] = []
    for end in range(3, len(ids) + 1, 3):
        current = list(stream.sync(ids[:end]))
        committed = "".join(target.token_strings[i] for i in ids[:end]).encode()
        assert stream.drafter.join(current) == committed, "the drafter's ids spell the text"
        frozen = max(0, len(previous) - stream.back_off)
        assert current[:frozen] == previous[:frozen], "tokens before the tail never change"
        previous = current


def test_drafted_tokens_confirmed_by_the_target_are_kept():
    target, drafter = tiny("target"), tiny("drafter-char")
    codec = ByteCodec.of(drafter)
    stream = TokenStream(codec, ByteCodec.of(target))
    stream.start()
    stream.sync(target.encode("The robot"))
    drafted = codec.greedy(b"s walk")  # the drafter's own (non-canonical) choice
    stream.drafted = list(drafted)
    ids = stream.sync(target.encode("The robots walked"))
    assert codec.join(ids) == b"The robots walked"


@pytest.mark.parametrize("sampler", ["slem", "tli", "slrs"])
def test_greedy_output_equals_plain_greedy(sampler):
    plain = build_engine(tiny("target"), None, GenerationConfig(max_new_tokens=40)).run(PROMPT)
    fast = run(sampler)
    assert fast.token_ids == plain.token_ids
    assert fast.steps <= plain.steps


@pytest.mark.parametrize("sampler", ["slem", "tli", "slrs"])
def test_sampling_runs_draft_in_target_ids(sampler):
    spec = SpecConfig(
        drafter="cross_tokenizer",
        drafter_model="tiny:drafter-char",
        sampler=sampler,
        schedule="fixed",
    )
    engine = build_engine(
        tiny("target"),
        spec,
        GenerationConfig(max_new_tokens=30, temperature=1.0, seed=5),
        load=load_model,
    )
    steps = list(engine.stream(PROMPT))
    drafted = [s for s in steps if s.num_draft_tokens]
    assert drafted, "the drafter proposes something"
    vocab = tiny("target").vocab_size
    assert all(0 <= t < vocab for s in steps for t in s.draft_tokens + s.emitted)
    assert sum(len(s.emitted) for s in steps) == 30


def test_self_drafting_through_the_string_bridge_is_mostly_accepted():
    """The target as its own 'other-vocabulary' drafter, at temperature 1: TLI proposes
    from q' = p wherever the drafter's context equals the target's, so most draft tokens
    are accepted (a random other-vocabulary drafter gets almost none). Not all: the random
    target emits non-canonical splits ('i' + 'ck') that the stream re-encodes as its
    tokenizer would ('ick'), and from there the two contexts differ."""
    aligned = run("tli", drafter_model="tiny:target", temperature=1.0, seed=3)
    unrelated = run("tli", temperature=1.0, seed=3)
    assert aligned.acceptance_rate > 0.5 > unrelated.acceptance_rate + 0.3


def test_samplers_that_cannot_verify_another_vocabulary_are_refused():
    for sampler in ("speculative", "greedy", "rdk", "rdk_linear"):
        spec = SpecConfig(drafter="cross_tokenizer", drafter_model="x", sampler=sampler)
        with pytest.raises(IncompatibleError, match="slem"):
            check_compatible(spec)


def test_a_drafter_model_is_required():
    spec = SpecConfig(drafter="cross_tokenizer", sampler="slem")
    with pytest.raises(ConfigError, match="drafter_model"):
        build_engine(tiny("target"), spec, GenerationConfig(max_new_tokens=4))


def test_drafts_carry_what_their_sampler_needs():
    for sampler, key in (("slem", "drafter_text"), ("slrs", "slrs_tries")):
        spec = SpecConfig(
            drafter="cross_tokenizer", drafter_model="tiny:drafter-char", sampler=sampler
        )
        engine = build_engine(
            tiny("target"), spec, GenerationConfig(max_new_tokens=8), load=load_model
        )
        draft = engine.drafter.propose(
            tiny("target").encode(PROMPT), 4, engine.schedule, torch.Generator()
        )
        assert key in draft.extra and draft.extra["proposal"] in {"text", "trie"}
    assert len(draft.extra["slrs_tries"]) == draft.num_nodes


# ---- the real pair ---------------------------------------------------------------------

REAL_PROMPTS = [
    "The capital of France is",
    "Write a short story about a robot who learns to paint.\n",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
]


@pytest.mark.slow
@pytest.mark.parametrize("prompt", REAL_PROMPTS)
def test_slem_greedy_on_the_real_pair_equals_plain_greedy(prompt):
    target = load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")
    config = GenerationConfig(max_new_tokens=40, stop_at_eos=False)
    plain = build_engine(target, None, config).run(prompt)
    spec = SpecConfig(
        drafter="cross_tokenizer",
        drafter_model="bundled:smollm2-135m-instruct",
        sampler="slem",
    )
    fast = build_engine(target, spec, config).run(prompt)
    n = next(
        (
            i
            for i, (a, b) in enumerate(zip(fast.token_ids, plain.token_ids, strict=False))
            if a != b
        ),
        None,
    )
    gap = None
    if n is not None:
        with torch.inference_mode():
            ids = torch.tensor([target.encode(prompt) + plain.token_ids[:n]])
            logits = target.model(ids).logits[0, -1]
        gap = float(logits[plain.token_ids[n]] - logits[fast.token_ids[n]])
    assert fast.token_ids == plain.token_ids, f"first difference at {n}, logit gap {gap}"


def trie_drafter():
    spec = SpecConfig(
        drafter="cross_tokenizer",
        drafter_model="tiny:drafter-char",
        sampler="slrs",
        options={"slrs_width": 3, "slrs_depth": 3},
    )
    config = GenerationConfig(max_new_tokens=8, temperature=1.0)
    drafter = build_engine(tiny("target"), spec, config, load=load_model).drafter
    context = tiny("target").encode(PROMPT)
    drafter.start(context)
    ids = list(drafter.stream.sync(context))
    q_root = drafter._probs(drafter._forward(drafter._sync(ids)))
    return drafter, ids, q_root


def plain_probs(drafter, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        logits = drafter.handle.model(torch.tensor([ids])).logits[0, -1].float()
    return drafter._probs(logits)  # (drafter_vocab,)


def test_trie_forward_matches_plain_forwards_along_each_path():
    """SLRS expands its trie with one tree-attention forward per level, over that level's
    new nodes only; each node's distribution must be the drafter's after that node's
    path, fed plainly, and the cache holds the context then the expanded nodes."""
    drafter, ids, q_root = trie_drafter()
    trie, fed, rows = drafter._expand(q_root)
    nodes = [n for n in range(1, trie.num_nodes) if trie.children[n]]
    assert nodes, "the trie has expanded levels"
    for node in nodes:
        expected = plain_probs(drafter, ids + trie.path(node))
        child = trie.children[node][0]
        assert float(expected[trie.drafter_tokens[child]]) == pytest.approx(
            trie.edge_q[child], rel=1e-3, abs=1e-6
        )
        assert torch.allclose(rows[node], expected, rtol=1e-3, atol=1e-6)
    assert sorted(fed) == sorted(rows) and set(nodes) <= set(fed)
    assert drafter.cache.get_seq_length() == len(drafter.cached_ids) + len(fed)


@pytest.mark.parametrize("deepest", [True, False])
def test_advancing_along_a_walked_path_reuses_the_trie_forwards(deepest):
    """After the walk the drafter keeps the path's cache entries from the trie's forwards
    and feeds only what the trie did not expand: its cache and next distribution must be
    those of a plain forward along the path."""
    drafter, ids, q_root = trie_drafter()
    trie, fed, rows = drafter._expand(q_root)
    leaves = [n for n in range(1, trie.num_nodes) if not trie.children[n]]
    node = max(leaves, key=lambda n: len(trie.path(n))) if deepest else fed[0]
    assert (node in fed) is not deepest, "one case feeds a rest, the other reuses all"
    q_next = drafter._advance(trie, node, fed, rows)
    path = ids + trie.path(node)
    assert drafter.cached_ids == path
    assert drafter.cache.get_seq_length() == len(path), "only the path stays in the cache"
    assert torch.allclose(q_next, plain_probs(drafter, path), rtol=1e-3, atol=1e-6)
    after = drafter._probs(drafter._forward([ids[-1]]))  # one more token through the cache
    assert torch.allclose(after, plain_probs(drafter, path + [ids[-1]]), rtol=1e-3, atol=1e-6)
