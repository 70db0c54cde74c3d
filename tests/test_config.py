"""Knobs: defined once, validated on construction, unknown fields refused."""

import pytest

from playground.config import KNOBS, GenerationConfig, SpecConfig
from playground.errors import ConfigError


def test_defaults_come_from_the_knobs():
    gen, spec = GenerationConfig(), SpecConfig()
    for name, knob in KNOBS.items():
        owner = gen if hasattr(gen, name) else spec
        assert getattr(owner, name) == knob.default, name


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_every_knob_refuses_values_outside_its_bounds(name):
    knob = KNOBS[name]
    with pytest.raises(ConfigError, match=name):
        knob.check(knob.high + 1)
    with pytest.raises(ConfigError, match=name):
        knob.check("three")


def test_integer_knobs_refuse_fractions():
    with pytest.raises(ConfigError, match="whole number"):
        GenerationConfig(max_new_tokens=2.5)


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="max_draft_tokens"):
        SpecConfig(num_draft_tokens=10, max_draft_tokens=5)
    with pytest.raises(ConfigError, match="ngram_min"):
        SpecConfig(ngram_min=4, ngram_max=2)
    with pytest.raises(ConfigError, match="stop_strings"):
        GenerationConfig(stop_strings=("",))


def test_from_dict_names_the_unknown_field():
    with pytest.raises(ConfigError, match="temprature"):
        GenerationConfig.from_dict({"temprature": 1.0})
    assert GenerationConfig.from_dict({"temperature": 0.5}).temperature == 0.5
