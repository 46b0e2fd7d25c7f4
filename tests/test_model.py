"""The article model: its content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone

from feeds.model import Article, Enclosure, Image, Person, compute_content_hash


def reference_hash(article: Article) -> str:
    """The content hash as first defined, with dataclasses.asdict (stored hashes use it)."""
    data = asdict(article)
    for derived in ("first_seen", "content_hash", "fingerprint"):
        data.pop(derived)
    for name in ("published", "updated"):
        data[name] = data[name].isoformat() if data[name] else None
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def test_content_hash_matches_the_stored_definition() -> None:
    """The fast content hash equals the asdict-based one, so stored articles stay unchanged."""
    full = Article(
        key="k", url="https://example.org/a", canonical_url="https://example.org/a",
        title="青島 news", summary="s", content_html="<p>x</p>", text="x",
        published=datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        updated=datetime(2024, 5, 2, tzinfo=UTC), first_seen=datetime(2024, 5, 3, tzinfo=UTC),
        authors=(Person("A", "a@example.org", "https://example.org/a"),),
        contributors=(Person("郭碧娟"),), source_name="新华社", categories=("local", "world"),
        language="zh-CN", images=(Image("https://example.org/i.jpg", "caption"),),
        enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 12),), fingerprint="f",
    )
    bare = Article(key="b", url=None, canonical_url=None, title="t")
    for article in (full, bare, replace(full, title="other")):
        assert compute_content_hash(article) == reference_hash(article)
    assert compute_content_hash(full) != compute_content_hash(replace(full, title="other"))
