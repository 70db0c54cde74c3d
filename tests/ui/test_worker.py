"""The worker's model cache (LRU within a memory budget) and per-user run controls."""

from __future__ import annotations

import copy
import threading
import types

import pytest
import torch

from playground.worker import Cancelled, Gate, ModelCache, RunControl, model_bytes


def fake_handle(spec: str, megabytes: int):
    model = torch.nn.Linear(megabytes * 2**18, 1, bias=False)  # 4 bytes per weight
    return types.SimpleNamespace(spec=spec, model=model)


def counting_loader(sizes: dict[str, int], calls: list[str]):
    def load(spec, progress=None):
        calls.append(spec)
        return fake_handle(spec, sizes[spec])

    return load


def test_cached_models_are_not_reloaded():
    calls: list[str] = []
    cache = ModelCache(budget=100 * 2**20, loader=counting_loader({"a": 1}, calls))
    first = cache.get("a")
    assert cache.get(" a ") is first and calls == ["a"], "the same spec loads once"
    assert model_bytes(first) == 2**20


def test_least_recently_used_model_leaves_first_within_the_budget():
    calls: list[str] = []
    sizes = {"a": 4, "b": 4, "c": 4}
    cache = ModelCache(budget=9 * 2**20, loader=counting_loader(sizes, calls))
    cache.get("a")
    cache.get("b")
    cache.get("a")  # a is now the most recently used
    cache.get("c")
    assert cache.specs() == ["a", "c"], "b was the least recently used"
    cache.get("b", keep=("c",))
    assert set(cache.specs()) == {"b", "c"}, "a job's other model is kept"
    assert cache.used <= cache.budget


def test_a_model_larger_than_the_budget_still_loads():
    cache = ModelCache(budget=2**20, loader=counting_loader({"big": 8}, []))
    assert cache.get("big").spec == "big" and cache.specs() == ["big"]


def test_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPECLAB_MODEL_CACHE_GB", "0.5")
    assert ModelCache().budget == 2**29
    monkeypatch.setenv("SPECLAB_MODEL_CACHE_GB", "-1")
    with pytest.raises(ValueError, match="model_cache_gb"):
        ModelCache()


def test_each_session_gets_its_own_control():
    control = RunControl()
    control.pause()
    fresh = copy.deepcopy(control)  # what gr.State does for every new visitor
    assert fresh is not control and not fresh.paused


def test_gate_waits_while_paused_and_lets_single_rounds_through():
    control = RunControl()
    gate = control.begin(paused=True)
    passed = []

    def rounds():
        for _ in range(2):
            gate.wait_turn()
            passed.append(1)

    thread = threading.Thread(target=rounds)
    thread.start()
    thread.join(0.2)
    assert not passed, "paused: no round runs"
    control.step()
    thread.join(0.2)
    assert len(passed) == 1, "one step, one round"
    control.resume()
    thread.join(2)
    assert len(passed) == 2 and not thread.is_alive()


def test_a_new_run_stops_the_previous_one_and_stop_interrupts_the_delay():
    control = RunControl()
    old = control.begin(delay=5.0)
    new = control.begin()
    assert old.cancelled and not new.cancelled
    with pytest.raises(Cancelled):
        old.rest()
    gate = Gate(delay=5.0)
    threading.Timer(0.1, gate.cancel).start()
    with pytest.raises(Cancelled):
        gate.rest()


def test_a_run_paused_too_long_stops_and_frees_the_device(monkeypatch):
    monkeypatch.setattr(Gate, "pause_limit", 0.2)
    control = RunControl()
    gate = control.begin(paused=True)
    with pytest.raises(Cancelled, match="paused for more than"):
        gate.wait_turn()
    assert gate.cancelled
