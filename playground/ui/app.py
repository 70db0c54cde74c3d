"""A first page: pick target, drafter and sampler, run, watch tokens and metrics stream."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from playground import config as C
from playground.drafters import DRAFTERS
from playground.engine.build import build_engine
from playground.errors import SpecLabError
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES


def run_handler(target: str, drafter: str, drafter_model: str, sampler: str, prompt: str,
                max_new_tokens: float, temperature: float) -> Iterator[tuple[str, str]]:
    from playground.models import load_model

    try:
        spec = C.SpecConfig(drafter=None if drafter == "none" else drafter,
                            drafter_model=drafter_model or None, sampler=sampler)
        config = C.GenerationConfig(max_new_tokens=int(max_new_tokens), temperature=temperature)
        handle = load_model(target)
        engine = build_engine(handle, spec, config)
        ids: list[int] = []
        steps = 0
        for step in engine.stream(prompt):
            ids += step.emitted
            steps += 1
            yield handle.decode(ids), f"{len(ids)} tokens in {steps} target forwards"
    except SpecLabError as exc:
        raise gr.Error(str(exc)) from exc


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="SpecLab") as demo:
        gr.Markdown("# SpecLab: a speculative-decoding playground")
        with gr.Row():
            target = gr.Textbox(value=C.DEFAULT_TARGET, label="target")
            drafter = gr.Dropdown(["none", *DRAFTERS.names()], value="prompt_lookup",
                                  label="drafter")
            drafter_model = gr.Textbox(value="", label="drafter model (for model drafters)")
            sampler = gr.Dropdown(SAMPLERS.names(), value="greedy", label="sampler")
        gr.Markdown(f"schedules: {', '.join(SCHEDULES.names())}")
        prompt = gr.Textbox(value="The capital of France is", label="prompt", lines=3)
        with gr.Row():
            knob = C.MAX_NEW_TOKENS
            max_new = gr.Slider(knob.low, 512, value=knob.default, step=1, label=knob.name)
            knob = C.TEMPERATURE
            temperature = gr.Slider(knob.low, knob.high, value=knob.default, label=knob.name)
        run = gr.Button("Run", variant="primary")
        output = gr.Textbox(label="output", lines=8)
        stats = gr.Markdown()
        run.click(run_handler, [target, drafter, drafter_model, sampler, prompt, max_new,
                                temperature], [output, stats], concurrency_limit=1)
    return demo


def launch_kwargs() -> dict:
    return {}
