"""SpecLab: a speculative-decoding playground.

Public API::

    from playground import load_model, build_engine, GenerationConfig, SpecConfig
    target = load_model("bundled:gemma-3-270m")
    engine = build_engine(target, SpecConfig(drafter="prompt_lookup", sampler="greedy"))
    for step in engine.stream("The capital of France is"):
        ...
    summary = engine.run("The capital of France is")

Registries (`DRAFTERS`, `SAMPLERS`, `SCHEDULES`) list every method by name.
"""

from playground.config import GenerationConfig, SpecConfig
from playground.drafters import DRAFTERS
from playground.engine.build import build_engine
from playground.engine.events import RunSummary, Step
from playground.engine.loop import Engine
from playground.engine.tree import Draft
from playground.errors import (
    ConfigError,
    IncompatibleError,
    ModelLoadError,
    PromptError,
    SpecLabError,
)
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES


def load_model(spec: str, **kwargs):  # noqa: ANN201  (re-exported lazily)
    """Load a target or drafter: `bundled:...`, `tiny:...`, a Hub id, a directory or a .gguf."""
    from playground.models import load_model as _load

    return _load(spec, **kwargs)


__all__ = [
    "DRAFTERS", "SAMPLERS", "SCHEDULES", "ConfigError", "Draft", "Engine", "GenerationConfig",
    "IncompatibleError", "ModelLoadError", "PromptError", "RunSummary", "SpecConfig",
    "SpecLabError", "Step", "build_engine", "load_model",
]
