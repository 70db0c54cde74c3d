"""Build an Engine from names: the registries turn a SpecConfig into parts.

Checks that the parts fit before anything runs: a tree drafter needs a sampler that
verifies trees, a drafter with another vocabulary needs a sampler that handles it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from playground.config import DRAFTER_QUANT, GenerationConfig, SpecConfig, read_option
from playground.drafters import DRAFTERS, DrafterContext
from playground.engine.loop import Engine
from playground.engine.speed import install_fast_kernels
from playground.errors import IncompatibleError
from playground.models.handle import ModelHandle
from playground.models.quantize import int8_drafter
from playground.samplers import SAMPLERS
from playground.schedules import SCHEDULES


def check_compatible(spec: SpecConfig) -> None:
    """Raise IncompatibleError, naming what would work, if the parts cannot fit."""
    if spec.drafter is None:
        return
    drafter = DRAFTERS.get(spec.drafter)
    sampler = SAMPLERS.get(spec.sampler)
    SCHEDULES.get(spec.schedule)
    for tag, what in (("tree", "trees"), ("cross_vocab", "cross_vocab")):
        if tag in drafter.tags and what not in sampler.tags:
            fits = [e.name for e in SAMPLERS if what in e.tags]
            kind = "token trees" if tag == "tree" else "another vocabulary"
            raise IncompatibleError(
                f"drafter {drafter.name!r} proposes {kind}, which sampler {sampler.name!r} "
                f"cannot verify; use one of: {', '.join(fits) or 'none registered yet'}"
            )
    _check_draft_kind(drafter, sampler)


def _check_draft_kind(drafter, sampler) -> None:
    """A sampler tagged `draft:<kind>` needs a drafter that produces that kind of draft.

    Cross-vocabulary drafters list the kinds they produce as `draft:` tags; any other
    drafter proposes target tokens with their q_draft, which serves `draft:token` and
    `draft:text` (see `playground.drafters.proposal`).
    """
    cross = "cross_vocab" in drafter.tags
    produces = {t for t in drafter.tags if t.startswith("draft:")}
    if not cross:
        produces |= {"draft:token", "draft:text"}
    needs = {t for t in sampler.tags if t.startswith("draft:")}
    if needs - produces:
        fits = [
            e.name
            for e in SAMPLERS
            if ("cross_vocab" in e.tags or not cross)
            and {t for t in e.tags if t.startswith("draft:")} <= produces
        ]
        raise IncompatibleError(
            f"sampler {sampler.name!r} needs {', '.join(sorted(needs))} drafts, which drafter "
            f"{drafter.name!r} does not produce; use one of: {', '.join(fits) or 'none'}"
        )


def make_sampler(spec: SpecConfig):
    """The sampler `spec` names; factories that take an argument get `spec` (for options)."""
    factory = SAMPLERS.get(spec.sampler).factory
    takes_spec = bool(inspect.signature(factory).parameters)
    return factory(spec) if takes_spec else factory()


def _fast(load: Callable[[str], ModelHandle], spec: SpecConfig) -> Callable[[str], ModelHandle]:
    """`load`, with drafter models on the engine's CPU kernels (`engine.speed`), or int8
    copies of them when the option `drafter_quant` says so (`models.quantize`)."""
    quant = read_option(spec.options, DRAFTER_QUANT)

    def load_fast(name: str) -> ModelHandle:
        handle = load(name)
        install_fast_kernels(handle.model)
        return int8_drafter(handle) if quant == "int8" else handle

    return load_fast


def build_engine(
    target: ModelHandle,
    spec: SpecConfig | None = None,
    config: GenerationConfig | None = None,
    load: Callable[[str], ModelHandle] | None = None,
    label: str = "",
) -> Engine:
    spec = spec or SpecConfig()
    config = config or GenerationConfig()
    if spec.drafter is None:
        return Engine(target, config=config, spec=spec, label=label)
    check_compatible(spec)
    if load is None:

        def load(name: str) -> ModelHandle:
            from playground.models import load_model

            return load_model(name, device=target.device, dtype=target.dtype)

    ctx = DrafterContext(target=target, spec=spec, config=config, load=_fast(load, spec))
    drafter = DRAFTERS.get(spec.drafter).factory(ctx)
    sampler = make_sampler(spec)
    schedule = SCHEDULES.get(spec.schedule).factory(spec)
    return Engine(target, drafter, sampler, schedule, config, spec, label)
