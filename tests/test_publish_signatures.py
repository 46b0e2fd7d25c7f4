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
