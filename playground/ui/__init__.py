"""The Gradio playground: `build_demo()` returns the Blocks app, `launch_kwargs()` the
theme, css and footer that Gradio 6 takes at launch."""

from playground.ui.app import build_demo, launch_kwargs

__all__ = ["build_demo", "launch_kwargs"]
