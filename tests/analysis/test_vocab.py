"""Vocabulary bridge and overlap report: maps both ways, cached per pair, JSON-friendly data."""

from __future__ import annotations

import json

import pytest
import torch

from playground.analysis.vocab import (
    build_bridge,
    overlap_report,
    representatives,
    target_frequency,
    vocab_bridge,
    vocab_command,
)
from playground.models import load_model
from playground.models.tiny import CORPUS


@pytest.fixture(scope="module")
def target():
    return load_model("tiny:target")


@pytest.fixture(scope="module")
def char_drafter():
    return load_model("tiny:drafter-char")


def test_bridge_maps_shared_strings_both_ways():
    target = ["", "a", "b", "ab", "abc", ""]
    drafter = ["", "b", "a", "c", "ab", "a"]  # "a" twice: the highest id (5) represents it
    bridge = build_bridge(target, drafter)
    assert bridge.drafter_to_target.tolist() == [-1, 2, -1, -1, 3, 1]
    assert bridge.target_to_drafter.tolist() == [-1, 5, 1, 4, -1, -1]
    assert bridge.num_shared == 3, "a, b, ab; the empty (special) strings never match"
    shared = bridge.drafter_shared.nonzero()[:, 0]
    assert torch.equal(bridge.target_to_drafter[bridge.drafter_to_target[shared]], shared)


def test_representative_is_the_highest_id():
    assert representatives(["", "x", "y", "x"]) == {"x": 3, "y": 2}


def test_bridge_is_built_once_per_pair(target, char_drafter):
    first = vocab_bridge(target, char_drafter)
    assert vocab_bridge(target, char_drafter) is first
    assert first.drafter_to_target.shape == (char_drafter.vocab_size,)
    assert first.target_to_drafter.shape == (target.vocab_size,)


def test_overlap_report_is_consistent_and_json_friendly(target, char_drafter):
    report = overlap_report(target, char_drafter, CORPUS)
    assert 0 < report.shared <= min(report.target_size, report.drafter_size)
    union = report.target_size + report.drafter_size - report.shared
    assert report.jaccard == pytest.approx(report.shared / union)
    assert 0 < report.mass_covered < 1, "single characters are shared, words are not"
    assert sum(row["target"] for row in report.by_length) == report.target_size
    assert sum(row["shared"] for row in report.by_length) == report.shared
    assert sum(row["tokens"] for row in report.by_rank) == report.target_size
    assert sum(row["shared"] for row in report.by_rank) == report.shared
    assert report.by_rank[0]["ranks"] == "1-10"
    assert sum(row["frequency_share"] for row in report.by_rank) == pytest.approx(1.0)
    assert report.shared == report.drafter_size and report.drafter_only == [], (
        "every character (and byte) of the char vocabulary is a byte-level BPE token too"
    )
    assert all(len(s) > 1 for s in report.target_only[:5]), "frequent target-only tokens are words"
    json.dumps(report.to_dict())


def test_frequency_ranks_follow_the_sample_not_the_ids(target, char_drafter):
    """Rank 1-10 holds the ten highest-scoring tokens of the sample, not ids 4-13."""
    bridge = vocab_bridge(target, char_drafter)
    score, _, _ = target_frequency(target, bridge, CORPUS)
    text_ids = torch.tensor(sorted(representatives(target.token_strings).values()))
    total = score[text_ids].sum()
    top = score[text_ids].topk(10).values.sum() / total
    report = overlap_report(target, char_drafter, CORPUS)
    assert report.by_rank[0]["frequency_share"] == pytest.approx(float(top))
    assert float(top) > 3 * float(score[text_ids[:10]].sum() / total)


def test_same_vocabulary_covers_everything(target):
    drafter = load_model("tiny:drafter")
    report = overlap_report(target, drafter, CORPUS)
    assert report.jaccard == 1.0 and report.target_only == [] and report.drafter_only == []
    assert report.mass_covered == pytest.approx(1.0, abs=0.02), "only special ids stay out"


def test_without_sample_text_there_is_no_mass(target, char_drafter):
    report = overlap_report(target, char_drafter)
    assert report.mass_covered is None and report.sample_tokens == 0
    assert report.by_length


def test_vocab_command_renders_plain_text():
    text = vocab_command("tiny:target", "tiny:drafter-char", "The robot buys bread.")
    assert "Jaccard" in text and "by token length" in text and "target only" in text
