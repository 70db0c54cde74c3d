"""The CLI on tiny models: streams, compares, traces; bad input is one line and exit 2."""

import json

from playground.__main__ import main


def test_generate_compare_and_trace(tmp_path, capsys):
    trace = tmp_path / "run.json"
    code = main(
        [
            "generate",
            "--target",
            "tiny:target",
            "--drafter",
            "prompt_lookup",
            "--sampler",
            "greedy",
            "--prompt",
            "the cat sat on the mat. the cat",
            "--max-new-tokens",
            "12",
            "--compare",
            "--trace",
            str(trace),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "[plain]" in out and "speedup" in out and "tau" in out
    assert len(json.loads(trace.read_text())["steps"]) >= 1


def test_bad_input_is_one_readable_line(capsys):
    code = main(["generate", "--target", "tiny:target", "--prompt", "hi", "--temperature", "-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: temperature")


def test_unknown_model_names_the_offline_ones(capsys):
    code = main(["generate", "--target", "/no/such/model", "--prompt", "hi"])
    err = capsys.readouterr().err
    assert code == 2 and "bundled:gemma-3-270m" in err


def test_models_lists_presets(capsys):
    assert main(["models"]) == 0
    assert "tiny" in capsys.readouterr().out


def test_vocab_reports_the_overlap(capsys):
    assert main(["vocab", "--target", "tiny:target", "--drafter", "tiny:drafter-char"]) == 0
    out = capsys.readouterr().out
    assert "shared" in out and "Jaccard" in out
