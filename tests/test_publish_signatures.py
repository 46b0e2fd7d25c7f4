"""Publishing skips rendering a feed whose inputs have not changed since the last publish."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds import publish
from feeds.config import parse_config
from feeds.model import Article
from feeds.publish import publish_all
from feeds.store import Store

T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)
CONFIG = """
output: {dir: out, base_url: "https://feeds.example.org/"}
store: {path: feeds.db}
sources:
  - {id: alpha, url: "https://alpha.example.org/feed.xml"}
  - {id: beta, url: "https://beta.example.org/feed.xml"}
topics:
  - {id: news, any: [news]}
"""


def article(key: str, title: str) -> Article:
    return Article(key=key, url=f"https://example.org/{key}", canonical_url=None, title=title,
                   text=title, published=T0)


def test_unchanged_feeds_are_not_rendered_again(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A second publish renders only the feeds whose entries changed, and rewrites only them."""
    config = parse_config(CONFIG, "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    rendered: list[str] = []
    original: Callable[..., bytes] = publish.RENDERERS["atom"]

    def counting(spec: Any, *args: Any) -> bytes:
        rendered.append(spec.path_for("atom"))
        return original(spec, *args)

    monkeypatch.setitem(publish.RENDERERS, "atom", counting)
    try:
        store.upsert("alpha", [article("a1", "alpha news one")], T0)
        store.upsert("beta", [article("b1", "beta news one")], T0)
        publish_all(config, store, T0)
        assert sorted(rendered) == ["sources/alpha.atom", "sources/beta.atom", "topics/news.atom"]
        rendered.clear()
        assert publish_all(config, store, T0) == []
        assert rendered == []
        store.upsert("alpha", [article("a2", "alpha news two")], T0)
        changed = publish_all(config, store, T0)
        assert sorted(rendered) == ["sources/alpha.atom", "topics/news.atom"]
        assert config.output_dir / "sources" / "alpha.atom" in changed
        rendered.clear()
        (config.output_dir / "sources" / "beta.atom").unlink()
        publish_all(config, store, T0)
        assert rendered == ["sources/beta.atom"]  # a deleted file is written again
    finally:
        store.close()


def test_unchanged_topic_feeds_cost_no_topic_work(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With no article and no setting changed, publishing opens no topic index; a new article,
    a rule change or a topic with max_age (its feed moves with the clock) computes again."""
    import feeds.topics

    config = parse_config(CONFIG, "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    opened: list[int] = []
    real_index = feeds.topics.Index

    def counting(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        return real_index(*args, **kwargs)

    monkeypatch.setattr(feeds.topics, "Index", counting)
    try:
        store.upsert("alpha", [article("a1", "alpha news one")], T0)
        publish_all(config, store, T0)
        first = (config.output_dir / "topics" / "news.atom").read_bytes()
        assert len(opened) == 1
        assert publish_all(config, store, T0) == []
        assert len(opened) == 1  # nothing changed: no index
        index_html = (config.output_dir / "index.html").read_bytes()
        assert b"news" in index_html
        store.upsert("beta", [article("b1", "beta news one")], T0)
        changed = publish_all(config, store, T0)
        assert len(opened) == 2
        assert config.output_dir / "topics" / "news.atom" in changed
        assert (config.output_dir / "topics" / "news.atom").read_bytes() != first
        renamed = parse_config(CONFIG.replace("any: [news]", "any: [one]"), "test.yaml",
                               tmp_path)
        publish_all(renamed, store, T0)
        assert len(opened) == 3  # a rule changed
        aged = parse_config(CONFIG.replace("any: [news]", "any: [news], max_age: 30d"),
                            "test.yaml", tmp_path)
        publish_all(aged, store, T0)
        publish_all(aged, store, T0)
        assert len(opened) == 5  # computed every time
    finally:
        store.close()
