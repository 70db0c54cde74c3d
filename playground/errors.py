"""Specific exceptions, each with a message that says what to do next.

The UI turns any `SpecLabError` into a `gr.Error`; the CLI prints its message on one line
and exits non-zero. Anything else escaping the engine is a bug.
"""


class SpecLabError(Exception):
    """Base class of every error SpecLab raises on purpose."""


class ConfigError(SpecLabError, ValueError):
    """A knob is out of range, unknown, or inconsistent with another knob."""


class PromptError(ConfigError):
    """The prompt is empty or does not fit the model's context."""


class ModelLoadError(SpecLabError):
    """A model spec could not be resolved or loaded."""


class IncompatibleError(SpecLabError):
    """The chosen drafter, sampler and target cannot work together."""
