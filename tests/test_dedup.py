"""Cross-source dedup: precision and recall on a labeled set of Chinese news pairs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from feeds.model import Article
from feeds.store import Stored
from feeds.topics import (
    Candidate,
    Sketch,
    dedup,
    dedup_text,
    field_texts,
    same_story,
    url_key,
)

DATA = Path(__file__).resolve().parent / "data" / "dedup" / "pairs.yaml"
NOW = datetime(2024, 6, 7, tzinfo=UTC)


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return data


def article(story: dict[str, Any]) -> Article:
    return Article(key=story["id"], url=story["url"], canonical_url=None, title=story["title"],
                   text=story["text"], published=NOW, first_seen=NOW)


def sketch(story: dict[str, Any]) -> Sketch:
    return Sketch.of(dedup_text(field_texts(article(story))))


def test_labeled_pairs_precision_and_recall(capsys: pytest.CaptureFixture[str]) -> None:
    """Copies (mirrors in the other script, syndicated, abridged and edited copies) merge and
    different stories (template reports of two cities, follow-ups) don't: precision and recall
    of at least 0.95 on the labeled set."""
    data = load()
    stories = {s["id"]: s for s in data["stories"]}
    sketches = {k: sketch(s) for k, s in stories.items()}
    pairs = data["pairs"]
    assert len(pairs) >= 40
    tp = fp = fn = 0
    wrong = []
    for pair in pairs:
        predicted = same_story(sketches[pair["a"]], sketches[pair["b"]])
        tp += predicted and pair["same"]
        fp += predicted and not pair["same"]
        fn += not predicted and pair["same"]
        if predicted != pair["same"]:
            wrong.append(f"{pair['a']} ~ {pair['b']}: {pair['why']}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    with capsys.disabled():
        print(f"\ndedup on {len(pairs)} labeled pairs ({sum(p['same'] for p in pairs)} same): "
              f"precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95, wrong
    assert recall >= 0.95, wrong


def test_threshold_has_a_margin() -> None:
    """No labeled pair lies within 0.05 of the threshold, so estimator noise can't flip it."""
    from feeds.topics import DUPLICATE_CONTAINMENT

    data = load()
    stories = {s["id"]: s for s in data["stories"]}
    for pair in data["pairs"]:
        c = sketch(stories[pair["a"]]).containment(sketch(stories[pair["b"]]))
        assert abs(c - DUPLICATE_CONTAINMENT) >= 0.05, (pair, c)


def test_dedup_groups_a_stream_into_stories() -> None:
    """dedup() groups every copy of a story into one, whatever the order they arrive in."""
    data = load()
    stories = data["stories"]
    cands = [
        Candidate(Stored(s["id"], article(s)), n, 1e9 - n, url_key(s["url"]), sketch(s))
        for n, s in enumerate(stories)
    ]
    groups = dedup(cands, limit=1000)
    base = {s["id"].split("-")[0] if "_meeting" not in s["id"] and "weather" not in s["id"]
            else s["id"].removesuffix("-mirror") for s in stories}
    # follow-ups are stories of their own
    base |= {s["id"] for s in stories if s["id"].endswith("-followup")}
    assert len(groups) == len(base)
    for group in groups:
        keys = {c.stored.article.key for c in group.members}
        roots = {k.removesuffix("-mirror") if ("_meeting" in k or "weather" in k)
                 else (k if k.endswith("-followup") else k.split("-")[0]) for k in keys}
        assert len(roots) == 1, keys


def test_same_url_merges_without_text() -> None:
    """Two entries whose canonical URLs agree are one story even with no text to compare."""
    a = Candidate(Stored("a", Article(key="1", url="https://www.x.cn/a.html", canonical_url=None,
                                      title="甲")), 1, 2.0, url_key("https://www.x.cn/a.html"),
                  Sketch(frozenset(), 0))
    b = Candidate(Stored("b", Article(key="2", url="http://m.x.cn/a.html?utm_source=r",
                                      canonical_url=None, title="乙")), 2, 1.0,
                  url_key("http://m.x.cn/a.html?utm_source=r"), Sketch(frozenset(), 0))
    assert len(dedup([a, b], limit=10)) == 1


def test_short_texts_are_not_merged_by_text() -> None:
    """Titles alone (under MIN_DEDUP_CHARS) never merge two stories by their text."""
    assert Sketch.of("市政府召开常务会议").hashes == frozenset()
