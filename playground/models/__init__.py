"""Where weights come from: `load_model(spec)` returns a `ModelHandle`.

Importing this package loads no model and downloads nothing.
"""

from playground.models.bundled import BUNDLED, cache_root, ensure_all, ensure_bundled
from playground.models.device import Placement, default_placement, resolve
from playground.models.handle import ModelHandle
from playground.models.presets import Preset, available_offline, load_presets
from playground.models.sources import classify, load_model
from playground.models.tiny import TINY_MODELS
from playground.models.vocab import NO_TEXT, normalised_vocabulary, printable, token_bytes

__all__ = [
    "BUNDLED",
    "NO_TEXT",
    "TINY_MODELS",
    "ModelHandle",
    "Placement",
    "Preset",
    "available_offline",
    "cache_root",
    "classify",
    "default_placement",
    "ensure_all",
    "ensure_bundled",
    "load_model",
    "load_presets",
    "normalised_vocabulary",
    "printable",
    "resolve",
    "token_bytes",
]
