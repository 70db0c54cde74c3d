"""The page's components, laid out: controls on the left, views in tabs on the right.

Every slider's bounds and default come from `playground.config`; every choice list from
the registries and presets, so methods other engineers register appear with no change.
"""

from __future__ import annotations

import gradio as gr

from playground import config as C
from playground.bench.prompts import load_prompts
from playground.drafters import DRAFTERS
from playground.errors import SpecLabError
from playground.models import BUNDLED, TINY_MODELS, load_presets
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES
from playground.ui import parallel, tokens
from playground.ui.choices import entry_markdown
from playground.ui.inputs import NONE, RunInputs, SpecInputs

DEFAULTS = RunInputs()
EXAMPLE_PROMPTS = [
    "The little robot walked to the market every morning to buy",
    "def add(a, b):\n    return",
]


class Page:
    """Attribute bag of the page's components (set by `build_layout`)."""

    def run_inputs(self) -> list[gr.components.Component]:
        return [getattr(self, name) for name in RunInputs.names()]

    def spec_inputs_b(self) -> list[gr.components.Component]:
        return [getattr(self, f"{name}_b") for name in _spec_names()]

    def sim_inputs(self) -> list[gr.components.Component]:
        """The parallel-schemes controls, in `parallel.SimInputs` field order."""
        from dataclasses import fields

        return [getattr(self, f"sim_{f.name}") for f in fields(parallel.SimInputs)]


def _spec_names() -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(SpecInputs)]


def slider(knob: C.Knob, label: str | None = None, high: float | None = None, **kw) -> gr.Slider:
    step = 1 if knob.integer else 0.01
    low = knob.low + (step if not knob.low_inclusive else 0)
    kw.setdefault("elem_id", f"sl-{knob.name}")
    return gr.Slider(
        low,
        high if high is not None else knob.high,
        value=knob.default,
        step=step,
        label=label or knob.name,
        info=knob.help,
        **kw,
    )


def number(knob: C.Knob, label: str | None = None, **kw) -> gr.Number:
    kw.setdefault("elem_id", f"sl-{knob.name}")
    return gr.Number(
        value=knob.default,
        minimum=knob.low,
        maximum=knob.high,
        label=label or knob.name,
        info=knob.help,
        precision=0 if knob.integer else None,
        **kw,
    )


def model_choices() -> tuple[list[str], list[str]]:
    presets = load_presets()
    offline = [f"bundled:{n}" for n in BUNDLED] + [f"tiny:{n}" for n in TINY_MODELS]
    targets = list(dict.fromkeys([*offline, *(p.target for p in presets)]))
    drafters = list(dict.fromkeys([*offline, *(p.drafter for p in presets)]))
    return targets, drafters


def drafter_choices() -> list[tuple[str, str]]:
    return [("none (plain decoding)", NONE), *((n, n) for n in DRAFTERS.names())]


def options_markdown() -> str:
    """The drafter/sampler options config.py defines (other engineers add more)."""

    def values(k: C.Knob) -> str:
        choices = getattr(k, "choices", ())
        return " | ".join(choices) if choices else f"{k.low}–{k.high}"

    knobs = getattr(C, "OPTION_KNOBS", {}).values()
    rows = [f"- `{k.name}` ({values(k)}, default {k.default}): {k.help}" for k in knobs]
    return "\n".join(rows) or "No options are defined."


def spec_controls(
    page: Page, suffix: str, targets: list[str], drafters: list[str], columns: bool = False
) -> None:
    """Target, drafter, drafter model, sampler, schedule, draft length, options."""
    if columns:
        with gr.Row():
            with gr.Column():
                parts = _model_parts(suffix, targets, drafters)
            with gr.Column():
                parts |= _method_parts(suffix)
    else:
        parts = _model_parts(suffix, targets, drafters) | _method_parts(suffix)
    for name, component in parts.items():
        setattr(page, name + suffix, component)


def _model_parts(suffix: str, targets: list[str], drafters: list[str]) -> dict:
    d, b = DEFAULTS, " (B)" if suffix else ""
    return {
        "target": gr.Dropdown(
            targets,
            value=d.target,
            allow_custom_value=True,
            label=f"target model{b}",
            info="bundled:… and tiny:… run offline; or a Hub id, a model directory, a .gguf",
        ),
        "drafter": gr.Dropdown(drafter_choices(), value=d.drafter, label=f"drafter{b}"),
        "drafter_info": gr.Markdown(entry_markdown(DRAFTERS, d.drafter), elem_classes="sl-info"),
        "drafter_model": gr.Dropdown(
            drafters,
            value=d.drafter_model,
            allow_custom_value=True,
            label=f"drafter model (for model drafters){b}",
        ),
    }


def _method_parts(suffix: str) -> dict:
    d, b = DEFAULTS, " (B)" if suffix else ""
    return {
        "sampler": gr.Dropdown(SAMPLERS.names(), value=d.sampler, label=f"sampler{b}"),
        "sampler_info": gr.Markdown(entry_markdown(SAMPLERS, d.sampler), elem_classes="sl-info"),
        "schedule": gr.Dropdown(SCHEDULES.names(), value=d.schedule, label=f"schedule{b}"),
        "schedule_info": gr.Markdown(entry_markdown(SCHEDULES, d.schedule), elem_classes="sl-info"),
        "num_draft_tokens": slider(
            C.NUM_DRAFT_TOKENS, f"num_draft_tokens{b}", elem_id=f"sl-num_draft_tokens{suffix}"
        ),
        "options": gr.Textbox(
            label=f"drafter/sampler options{b}",
            placeholder="e.g. keep_fraction=0.25",
            info="key=value, comma separated",
            max_lines=3,
        ),
        "compat": gr.Markdown(elem_classes="sl-compat", elem_id=f"sl-compat{suffix}"),
    }


def build_layout() -> Page:
    page = Page()
    targets, drafters = model_choices()
    gr.Markdown(
        "# SpecLab · a speculative-decoding playground\nPick a target, a drafter and "
        "a sampler; watch every round draft, verify and accept.",
        elem_id="sl-title",
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320, elem_id="sl-controls"):
            page.preset = gr.Dropdown(
                [p.name for p in load_presets()],
                value=None,
                label="preset pair",
                info="fills target, drafter, model",
            )
            page.preset_note = gr.Markdown(elem_classes="sl-info")
            spec_controls(page, "", targets, drafters)
            with gr.Accordion("known options", open=False):
                gr.Markdown(options_markdown(), elem_classes="sl-info")
            with gr.Accordion("draft length and n-grams", open=False):
                page.max_draft_tokens = slider(C.MAX_DRAFT_TOKENS)
                page.ngram_min = slider(C.NGRAM_MIN)
                page.ngram_max = slider(C.NGRAM_MAX)
            with gr.Accordion("sampling", open=True):
                page.temperature = slider(C.TEMPERATURE)
                page.top_p = slider(C.TOP_P)
                page.top_k = number(C.TOP_K)
                page.repetition_penalty = slider(C.REPETITION_PENALTY)
                page.seed = number(C.SEED)
                page.max_new_tokens = slider(C.MAX_NEW_TOKENS)
        with gr.Column(scale=3, min_width=480, elem_id="sl-main"):
            page.prompt = gr.Textbox(EXAMPLE_PROMPTS[0], label="prompt", lines=3, max_lines=12)
            page.examples = gr.Examples(
                _examples(),
                inputs=[page.prompt],
                cache_examples=False,
                label="example prompts",
                examples_per_page=4,
            )
            with gr.Row():
                page.compare_plain = gr.Checkbox(
                    False,
                    label="compare with plain decoding",
                    info="also run the target alone → speedup",
                )
                page.teaching = gr.Checkbox(
                    False, label="teaching mode", info="start paused; step one round at a time"
                )
                page.step_delay = slider(C.STEP_DELAY, label="watch delay (s)")
            with gr.Row(elem_id="sl-buttons"):
                page.run = gr.Button("Run", variant="primary", elem_id="sl-run")
                page.stop = gr.Button("Stop", variant="stop", elem_id="sl-stop")
                page.pause = gr.Button("Pause", elem_id="sl-pause")
                page.next_round = gr.Button("Next round", elem_id="sl-next")
                page.resume = gr.Button("Resume", elem_id="sl-resume")
            page.status = gr.Markdown("Ready.", elem_id="sl-status")
            _view_tabs(page, targets, drafters)
    return page


def _view_tabs(page: Page, targets: list[str], drafters: list[str]) -> None:
    # "wrap": tabs that do not fit start a second row instead of hiding in a "More tabs" menu
    with gr.Tabs(overflow_behavior="wrap", elem_id="sl-tabs"):
        with gr.Tab("Tokens", id="tokens"):
            page.tokens = gr.HTML(tokens.legend(), elem_id="sl-tokens")
            page.metrics = gr.Markdown(elem_id="sl-metrics")
        with gr.Tab("Draft tree", id="tree"):
            page.round = gr.Slider(
                0,
                1,
                value=0,
                step=1,
                label="round",
                info="browse earlier rounds (follows the live round while running)",
                elem_id="sl-round",
            )
            page.tree = gr.Plot(elem_id="sl-tree", show_label=False)
            page.teach = gr.HTML(elem_id="sl-teach")
        with gr.Tab("Acceptance", id="acceptance"):
            page.acceptance = gr.Plot(show_label=False, elem_id="sl-acceptance")
            with gr.Row():
                page.histogram = gr.Plot(show_label=False)
                page.heatmap = gr.Plot(show_label=False)
        with gr.Tab("Speed", id="speed"):
            page.speed = gr.Plot(show_label=False, elem_id="sl-speed")
            page.split = gr.Plot(show_label=False)
            page.timeline = gr.Plot(show_label=False)
        with gr.Tab("Compare", id="compare"):
            gr.Markdown(
                "Configuration **A** is the one on the left; set **B** here. Same "
                "prompt, seed and sampling settings for both."
            )
            spec_controls(page, "_b", targets, drafters, columns=True)
            page.compare_run = gr.Button("Run comparison", variant="primary", elem_id="sl-compare")
            page.compare = gr.HTML(elem_id="sl-compare-tokens")
            page.compare_speed = gr.Plot(show_label=False)
        with gr.Tab("Vocabulary", id="vocab"):
            page.vocab_run = gr.Button("Compare the target's and drafter model's vocabularies")
            with gr.Row():
                page.venn = gr.Plot(show_label=False, elem_id="sl-venn")
                page.ranks = gr.Plot(show_label=False)
            page.vocab_details = gr.Markdown()
        with gr.Tab("Theory", id="theory"):
            with gr.Row():
                page.alpha = slider(C.THEORY_ALPHA, label="α (acceptance rate)")
                page.gamma = slider(
                    C.NUM_DRAFT_TOKENS, label="γ (draft length)", high=16, elem_id="sl-gamma"
                )
                page.cost = slider(C.THEORY_COST_RATIO, label="c (cost ratio)")
            page.use_measured = gr.Button("Use the last run's α, γ, c")
            with gr.Row():
                page.theory_curve = gr.Plot(show_label=False, elem_id="sl-theory")
                page.theory_contour = gr.Plot(show_label=False)
        with gr.Tab("Traces", id="traces"):
            gr.Markdown(
                "Download the last run as SpecLab traces (JSON, one file per run leg), "
                "or upload traces to replay every view without loading a model."
            )
            page.download = gr.Button("Prepare trace download", elem_id="sl-download")
            page.trace_files = gr.File(label="traces", file_count="multiple", interactive=False)
            page.upload = gr.File(
                label="replay traces",
                file_count="multiple",
                file_types=[".json"],
                elem_id="sl-upload",
            )
        with gr.Tab("Parallel schemes", id="parallel") as page.parallel_tab:
            _parallel_controls(page)


def _parallel_controls(page: Page) -> None:
    """SD, DSI or PEARL simulated on the drafter and target latencies set here."""
    d = parallel.SimInputs()
    with gr.Row():
        page.sim_scheme = gr.Radio(
            list(parallel.SCHEMES), value=d.scheme, label="scheme", elem_id="sl-sim-scheme"
        )
        page.sim_servers = slider(C.SIM_SERVERS, label="target servers (DSI)")
    with gr.Row():
        page.sim_draft_ms = number(C.SIM_DRAFT_MS, label="drafter latency (ms per token)")
        page.sim_target_ms = number(C.SIM_TARGET_MS, label="target latency (ms per forward)")
        page.sim_verify_growth = number(C.SIM_VERIFY_GROWTH, label="verify growth per token")
    with gr.Row():
        page.sim_alpha = slider(C.SIM_ALPHA, label="α (acceptance rate)")
        page.sim_lookahead = slider(
            C.NUM_DRAFT_TOKENS,
            label="lookahead γ (SD, DSI)",
            high=parallel.LOOKAHEAD_HIGH,
            elem_id="sl-sim-lookahead",
        )
    page.sim_note = gr.Markdown(
        parallel.simulation_defaults(None).note, elem_classes="sl-info", elem_id="sl-sim-note"
    )
    with gr.Row():
        page.sim_measured = gr.Button("Use the last run's timings")
        page.sim_run = gr.Button("Simulate", variant="primary", elem_id="sl-sim-run")
    page.sim_chart = gr.Plot(show_label=False, elem_id="sl-sim-chart")
    page.sim_numbers = gr.Markdown(elem_id="sl-sim-numbers")


def _examples() -> list[list[str]]:
    try:
        prompts = [p.prompt for p in load_prompts("quick")]
    except SpecLabError:  # the prompt set is optional for the page
        prompts = []
    return [[p] for p in [*EXAMPLE_PROMPTS, *prompts[:6]]]
