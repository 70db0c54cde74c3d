"""Greedy speculative output equals plain greedy output on the bundled Gemma 3 270M (fp32).

If ids ever differ, the message shows the target's top-2 logit gap at the first
difference, so a genuine near-tie (~1e-5: batched vs single-token forwards) can be told
from a bug.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.models import load_model

pytestmark = pytest.mark.slow

PROMPTS = [
    "The capital of France is",
    "Summarise the text.\nText: The river rose after three days of rain. The river flooded "
    "the lower town, and the lower town was evacuated. After the rain the river fell.\nSummary:",
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
]


@cache
def gemma():
    return load_model("bundled:gemma-3-270m", device="cpu", dtype="float32")


def first_difference(target, prompt: str, a: list[int], b: list[int]) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if n is None:
        return f"lengths differ: {len(a)} vs {len(b)}"
    ids = torch.tensor([target.encode(prompt) + a[:n]])
    with torch.inference_mode():
        logits = target.model(ids).logits[0, -1]
    gap = float(logits[a[n]] - logits[b[n]])
    return (
        f"first difference at token {n}: {a[n]} vs {b[n]}; logit({a[n]}) - logit({b[n]}) "
        f"= {gap:.2e} (a near-tie if |gap| < 1e-4)"
    )


@pytest.mark.parametrize(
    "prompt, new_tokens", [(PROMPTS[0], 640), (PROMPTS[1], 96), (PROMPTS[2], 96)]
)
def test_prompt_lookup_greedy_equals_plain_greedy(prompt, new_tokens):
    target = gemma()
    config = GenerationConfig(max_new_tokens=new_tokens, stop_at_eos=False)
    plain = build_engine(target, None, config).run(prompt)
    spec = SpecConfig(drafter="prompt_lookup", sampler="greedy")
    fast = build_engine(target, spec, config).run(prompt)
    assert plain.new_tokens == new_tokens
    assert fast.token_ids == plain.token_ids, first_difference(
        target, prompt, fast.token_ids, plain.token_ids
    )
    assert fast.steps < plain.steps, "prompt lookup should save target forwards here"


def test_generate_cli_prints_a_sensible_continuation(capsys):
    from playground.__main__ import main

    code = main(
        [
            "generate",
            "--target",
            "bundled:gemma-3-270m",
            "--prompt",
            "The capital of France is",
            "--max-new-tokens",
            "20",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "tok/s" in out
    assert "Paris" in out or "France" in out, out


@pytest.mark.parametrize("prompt", PROMPTS)
def test_fast_kernels_plain_greedy_equals_transformers_stock_greedy(prompt):
    """Our plain loop (threaded linears, bf16-screened head) against transformers'
    `generate` on its stock kernels: the same ids."""
    from playground.engine.speed import stock_kernels

    target = gemma()
    config = GenerationConfig(max_new_tokens=128, stop_at_eos=False)
    ours = build_engine(target, None, config)
    assert ours.screen_head, "greedy without penalties screens the head"
    ids = ours.run(prompt).token_ids
    prompt_ids = torch.tensor([target.encode(prompt)])
    with torch.inference_mode(), stock_kernels(target.model):
        out = target.model.generate(
            prompt_ids,
            attention_mask=torch.ones_like(prompt_ids),
            max_new_tokens=128,
            min_new_tokens=128,
            do_sample=False,
        )
    stock = out[0, prompt_ids.shape[1] :].tolist()
    assert ids == stock, first_difference(target, prompt, ids, stock)
