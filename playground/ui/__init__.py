"""The Gradio playground: `build_demo()` returns the Blocks app."""

from playground.ui.app import build_demo, launch_kwargs

__all__ = ["build_demo", "launch_kwargs"]
