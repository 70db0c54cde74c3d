"""The app through its HTTP API (gradio_client), launched in-process on a free port."""

from __future__ import annotations

import socket

import pytest
from gradio_client import Client

from playground.ui import build_demo, launch_kwargs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(worker):
    demo = build_demo(worker)
    port = free_port()
    demo.queue(max_size=8).launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_kwargs(),
    )
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


TINY = {
    "target": "tiny:target",
    "drafter": "model",
    "drafter_model": "tiny:drafter",
    "sampler": "speculative",
}


def test_generate_through_the_api_returns_tokens_and_metrics(client):
    result = client.predict(
        prompt="The little robot",
        max_new_tokens=12,
        temperature=1.0,
        compare_plain=True,
        api_name="/generate",
        **TINY,
    )
    assert len(result["tokens"]) == 12 and result["text"]
    assert {t["kind"] for t in result["tokens"]} <= {"accepted", "correction", "bonus", "plain"}
    main, plain = result["metrics"]
    assert main["tau"] >= 1.0 and plain["tau"] == 1.0
    assert main["speedup"] is not None


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"temperature": 50.0}, "temperature"),
        ({"max_new_tokens": 100000}, "max_new_tokens"),
        ({"top_p": 0.0}, "top_p"),
        ({"prompt": ""}, "prompt is empty"),
        ({"target": "./no/such/model"}, "no such file"),
        ({"sampler": "slrs"}, "slrs"),
    ],
)
def test_bad_inputs_through_the_api_are_refused_with_a_message(client, bad, match):
    args = {"prompt": "The little robot", "max_new_tokens": 8, **TINY, **bad}
    with pytest.raises(Exception, match=match):
        client.predict(api_name="/generate", **args)


def test_the_app_keeps_serving_after_errors(client):
    with pytest.raises(Exception, match="temperature"):
        client.predict(prompt="x", temperature=-1.0, api_name="/generate", **TINY)
    result = client.predict(
        prompt="The little robot", max_new_tokens=4, api_name="/generate", **TINY
    )
    assert len(result["tokens"]) == 4


def run_args(**overrides) -> list:
    from playground.ui.inputs import RunInputs

    values = RunInputs(**{**TINY, "prompt": "The little robot", "max_new_tokens": 8, **overrides})
    return [getattr(values, name) for name in RunInputs.names()] + [0.8, 4, 0.1]


def test_the_page_run_endpoint_returns_the_views(client):
    status, tokens_html, metrics, *_ = client.predict(*run_args(), api_name="/run")
    assert status.startswith("**Done**") and "sl-tok" in tokens_html and "τ" in metrics


def test_the_page_run_endpoint_refuses_out_of_range_values(client):
    with pytest.raises(Exception, match="temperature|maximum"):
        client.predict(*run_args(temperature=50.0), api_name="/run")
    with pytest.raises(Exception, match="step_delay|maximum"):
        client.predict(*run_args(step_delay=9.0), api_name="/run")
