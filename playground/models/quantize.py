"""Int8 drafter copies: cheaper drafts, and the output stays the target's.

A drafter only proposes; every lossless sampler verifies against the target's own
distribution, so a drafter may be approximate. `int8_drafter(handle)` returns a handle
to a private copy of the model whose decoder linear layers run PyTorch's dynamic int8
quantisation (weights int8 per output channel, activations quantised per call; CPU
fbgemm kernels). The LM head and embeddings stay as they are, since drafters read the
head's rows (pruning, vocabulary bridges). The shared model is never modified: the
benchmark hands that same model to transformers' assisted generation.

Measured on this CPU (SmolLM2-135M, one token after 120 cached): fp32 ≈ 57 ms (stock
kernels 83 ms), int8 ≈ 26 ms, under load; `python -m playground bench` with
`drafter_quant=int8` gives the end-to-end effect.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
import weakref

import torch

from playground.errors import IncompatibleError
from playground.models.handle import ModelHandle

_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def int8_drafter(handle: ModelHandle) -> ModelHandle:
    """A handle whose model is an int8 copy of `handle.model` (cached per model)."""
    if handle.device.type != "cpu":
        raise IncompatibleError(
            f"drafter_quant=int8 runs on CPU only; {handle.spec} is on {handle.device}: "
            "use drafter_quant=none"
        )
    model = handle.model
    quantised = _COPIES.get(model)
    if quantised is None:
        head = model.get_output_embeddings()
        names = {
            name
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's deprecation notice
            quantised = torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(model), names, dtype=torch.qint8
            )
        _COPIES[model] = quantised
    return dataclasses.replace(
        handle, model=quantised, source=f"{handle.source}, int8 copy", extra=dict(handle.extra)
    )
