"""Tiny test models: deterministic, peaked, correlated, and with round-tripping tokenizers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import DynamicCache

from playground.errors import ModelLoadError
from playground.models import load_model, tiny


@pytest.fixture(scope="module")
def target():
    return load_model("tiny:target")


@pytest.fixture(scope="module")
def drafter():
    return load_model("tiny:drafter")


def corpus_logits(handle, limit: int = 400) -> torch.Tensor:
    ids = torch.tensor([handle.encode(tiny.CORPUS)[:limit]])  # (1, seq)
    with torch.no_grad():
        return handle.model(ids).logits[0]  # (seq, vocab)


def test_target_is_a_hybrid_sliding_window_gemma(target):
    config = target.config
    assert type(target.model).__name__ == "Gemma3ForCausalLM"
    assert config.sliding_window == 16 and config.num_hidden_layers == 4
    assert {"sliding_attention", "full_attention"} == set(config.layer_types), (
        "the target mixes sliding and full attention so rollback past the window is testable"
    )
    assert target.vocab_size == len(target.tokenizer) == tiny.BPE_VOCAB_SIZE
    assert not target.model.training and not any(p.requires_grad for p in target.model.parameters())


def test_drafters_share_or_differ_in_vocabulary(target, drafter):
    char = load_model("tiny:drafter-char")
    assert type(drafter.model).__name__ == type(char.model).__name__ == "LlamaForCausalLM"
    assert drafter.config.num_hidden_layers == 2
    assert drafter.token_strings == target.token_strings, "tiny:drafter shares the tokenizer"
    assert char.vocab_size != target.vocab_size, "tiny:drafter-char has its own vocabulary"
    assert char.encode(tiny.CORPUS) != target.encode(tiny.CORPUS)


@pytest.mark.parametrize("name", sorted(tiny.TINY_MODELS))
def test_builds_are_deterministic_and_leave_the_global_rng_alone(name):
    rng_before = torch.get_rng_state()
    first, second = load_model(f"tiny:{name}"), load_model(f"tiny:{name}")
    assert torch.equal(rng_before, torch.get_rng_state()), "building must not consume global RNG"
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), f"{key} differs between builds"
    assert first.tokenizer.get_vocab() == second.tokenizer.get_vocab()


def fingerprint() -> str:
    """A hash of every tiny tokenizer and weight."""
    digest = hashlib.sha256()
    for name in sorted(tiny.TINY_MODELS):
        model, tokenizer = tiny.build_tiny(name)
        digest.update(tokenizer.backend_tokenizer.to_str().encode())
        for key, value in model.state_dict().items():
            digest.update(key.encode() + value.numpy().tobytes())
    return digest.hexdigest()


def test_builds_are_identical_across_processes():
    repo = Path(tiny.__file__).resolve().parents[2]
    code = "from tests.models.test_tiny import fingerprint; print(fingerprint())"
    other = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(repo)},
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == fingerprint(), (
        "tokenizer training and weight init must not depend on the process (hash seeds, RNG)"
    )


@pytest.mark.parametrize("name", sorted(tiny.TINY_MODELS))
def test_tokenizers_round_trip_with_bos_and_eos(name):
    handle = load_model(f"tiny:{name}")
    tokenizer = handle.tokenizer
    assert tokenizer.bos_token == tiny.BOS and tokenizer.eos_token == tiny.EOS
    assert handle.eos_token_ids == {tokenizer.eos_token_id}
    for text in (tiny.CORPUS, "Unseen wörds: 日本 🤖 {x}\n", ""):
        ids = handle.encode(text)
        assert ids[0] == tokenizer.bos_token_id, "encode prepends BOS"
        assert handle.decode(ids) == text, "decode(encode(s)) must give s back"


@pytest.mark.parametrize("name", sorted(tiny.TINY_MODELS))
def test_next_token_distributions_are_peaked_but_not_one_hot(name):
    logits = corpus_logits(load_model(f"tiny:{name}"))
    top2 = logits.topk(2, dim=-1).values  # (seq, 2)
    margins = top2[:, 0] - top2[:, 1]
    assert (margins > 1e-2).float().mean() > 0.95, "greedy argmax must not sit on near-ties"
    probs = logits.softmax(-1)  # (seq, vocab)
    plausible = (probs > 0.02).sum(-1).float().mean()
    assert plausible >= 3, f"sampling at T=1 should have several candidates, got {plausible:.1f}"


def test_drafter_agrees_with_target_often_but_not_always(target, drafter):
    agreement = (corpus_logits(target).argmax(-1) == corpus_logits(drafter).argmax(-1)).float()
    assert 0.3 <= agreement.mean() <= 0.8, f"greedy agreement {agreement.mean():.2f}"


def test_target_sees_context_beyond_its_sliding_window(target):
    ids = torch.tensor([target.encode(tiny.CORPUS)[:60]])  # (1, 60)
    with torch.no_grad():
        full = target.model(ids).logits[0, -1]  # (vocab,)
        recent = target.model(ids[:, -20:]).logits[0, -1]
    assert (full - recent).abs().max() > 0.1, "the full-attention layer must see far context"


def test_cached_decoding_past_the_window_matches_full_forward(target):
    ids = torch.tensor([target.encode("The robot")])  # (1, prompt)
    cache = DynamicCache()
    with torch.no_grad():
        logits = target.model(ids, past_key_values=cache).logits[:, -1]  # (1, vocab)
        for _ in range(30):
            ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
            logits = target.model(ids[:, -1:], past_key_values=cache).logits[:, -1]
        full = target.model(ids).logits[:, -1]  # (1, vocab)
    assert ids.shape[1] > 2 * target.config.sliding_window
    assert torch.allclose(logits, full, atol=1e-4), (
        f"incremental and full logits differ by {(logits - full).abs().max():.2e}"
    )


def test_unknown_tiny_name_lists_the_choices():
    with pytest.raises(ModelLoadError, match="tiny:target"):
        load_model("tiny:giant")
