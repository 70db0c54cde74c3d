"""Int8 drafter copies: private, cached, close to the original, and lossless in use."""

import torch

from playground.config import GenerationConfig, SpecConfig
from playground.engine.build import build_engine
from playground.models import load_model
from playground.models.quantize import int8_drafter


def test_int8_copy_leaves_the_shared_model_alone():
    handle = load_model("tiny:drafter")
    copy = int8_drafter(handle)
    assert copy.model is not handle.model
    assert int8_drafter(handle).model is copy.model, "one copy per model"
    linears = [m for m in handle.model.modules() if type(m) is torch.nn.Linear]
    assert linears, "the original keeps its fp32 linear layers"
    assert copy.model.get_output_embeddings().weight.dtype == torch.float32, "head untouched"
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    with torch.inference_mode():
        a = handle.model(ids).logits.softmax(-1)
        b = copy.model(ids).logits.softmax(-1)
    assert (a - b).abs().max() < 0.05, "int8 drafts stay close to the fp32 drafter"


def test_int8_drafter_keeps_greedy_output_exact():
    target = load_model("tiny:target")
    config = GenerationConfig(max_new_tokens=24, stop_at_eos=False)
    plain = build_engine(target, None, config).run("abc abd abc")
    spec = SpecConfig(
        drafter="model",
        drafter_model="tiny:drafter",
        sampler="speculative",
        options={"drafter_quant": "int8"},
    )
    engine = build_engine(target, spec, config)
    assert "int8" in engine.drafter.handle.source
    assert engine.run("abc abd abc").token_ids == plain.token_ids
