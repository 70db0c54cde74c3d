"""Fixtures for the app's tests: one worker (model cache) shared by the session, and the
inputs of a run on the tiny fixture pair."""

from __future__ import annotations

import pytest

from playground.ui.inputs import RunInputs
from playground.worker import ModelCache, Worker


@pytest.fixture(scope="session")
def worker() -> Worker:
    return Worker(ModelCache(budget=2 * 2**30))


def tiny_inputs(**overrides) -> RunInputs:
    values = dict(
        target="tiny:target",
        drafter="model",
        drafter_model="tiny:drafter",
        sampler="speculative",
        temperature=1.0,
        max_new_tokens=24,
        seed=3,
        prompt="The little robot walked to the market",
    )
    values.update(overrides)
    return RunInputs(**values)


@pytest.fixture
def inputs() -> RunInputs:
    return tiny_inputs()


@pytest.fixture
def make_inputs():
    """`make_inputs(**overrides)`: tiny-pair RunInputs with some fields changed."""
    return tiny_inputs
