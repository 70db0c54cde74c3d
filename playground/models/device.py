"""Device and dtype policy, chosen once: CUDA + bfloat16 when a GPU is present, else CPU + fp32.

Callers may override either half with a string ("cpu", "cuda", "cuda:1", "float32",
"bfloat16", ...) or a torch object; anything else is a `ConfigError` listing what works.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from playground.errors import ConfigError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
DEVICE_KINDS = ("cpu", "cuda")


@dataclass(frozen=True)
class Placement:
    """Where a model runs and in which floating-point type."""

    device: torch.device
    dtype: torch.dtype


@lru_cache(maxsize=1)
def default_placement() -> Placement:
    """CUDA + bfloat16 when available, else CPU + float32 (decided once per process)."""
    if torch.cuda.is_available():
        return Placement(torch.device("cuda"), torch.bfloat16)
    return Placement(torch.device("cpu"), torch.float32)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: `device` if given and usable, else the default."""
    if device is None:
        return default_placement().device
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        resolved = None
    if resolved is None or resolved.type not in DEVICE_KINDS:
        raise ConfigError(
            f"unknown device {device!r}; use one of: {', '.join(DEVICE_KINDS)} (or 'cuda:N')"
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available; use 'cpu'")
    return resolved


def resolve_dtype(
    dtype: str | torch.dtype | None = None, device: torch.device | None = None
) -> torch.dtype:
    """The dtype to use: `dtype` if given, else bfloat16 on CUDA and float32 elsewhere."""
    if dtype is None:
        device = device or default_placement().device
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in DTYPES:
        return DTYPES[dtype.lower().removeprefix("torch.")]
    raise ConfigError(f"unknown dtype {dtype!r}; use one of: {', '.join(DTYPES)}")


def resolve(
    device: str | torch.device | None = None, dtype: str | torch.dtype | None = None
) -> Placement:
    """The placement for one load: defaults, overridden by whichever half was given."""
    resolved = resolve_device(device)
    return Placement(resolved, resolve_dtype(dtype, resolved))
