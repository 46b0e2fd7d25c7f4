"""The article model: its content hash."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from feeds.model import Article, Enclosure, Image, Person, compute_content_hash

FULL = Article(
    key="k", url="https://example.org/a", canonical_url="https://example.org/a",
    title="青島 news", summary="s", content_html="<p>x</p>", text="x",
    published=datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=8))),
    updated=datetime(2024, 5, 2, tzinfo=UTC), first_seen=datetime(2024, 5, 3, tzinfo=UTC),
    authors=(Person("A", "a@example.org", "https://example.org/a"),),
    contributors=(Person("郭碧娟"),), source_name="新华社", categories=("local", "world"),
    language="zh-CN", images=(Image("https://example.org/i.jpg", "caption"),),
    enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 12),), fingerprint="f",
)
DERIVED = {"first_seen", "content_hash", "fingerprint"}


def rehash(article: Article, **changes: Any) -> str:
    return compute_content_hash(replace(article, content_hash="", **changes))


def variants(value: Any) -> list[Any]:
    """Other values of the kind ``value`` has: None and "" apart, each nested field changed."""
    if value is None:
        return ["", "x"]
    if isinstance(value, str):
        return [None, "", value + "x", value[:-1]]
    if isinstance(value, datetime):
        return [None, value + timedelta(seconds=1), value.astimezone(timezone(timedelta(hours=3)))]
    if isinstance(value, tuple):
        out: list[Any] = [(), value + value[:1], value[1:] + value[:1]]
        if value and isinstance(value[0], str):
            out.append((value[0] + "x", *value[1:]))
        elif value:
            item = value[0]
            for f in fields(item):
                out += [(replace(item, **{f.name: v}), *value[1:])
                        for v in variants(getattr(item, f.name))]
        return out
    if isinstance(value, int):
        return [None, value + 1]
    raise AssertionError(value)


def test_every_field_change_changes_the_hash() -> None:
    """Changing any field the reader sees (also inside authors, images, enclosures) changes it."""
    for article in (FULL, Article(key="b", url=None, canonical_url=None, title="t")):
        base = compute_content_hash(article)
        checked = 0
        for f in fields(Article):
            if f.name in DERIVED:
                continue
            current = getattr(article, f.name)
            if current is None and f.name in ("published", "updated"):
                others = [datetime(2024, 5, 1, tzinfo=UTC)]
            else:
                others = variants(current)
            for value in others:
                if value != current:
                    assert rehash(article, **{f.name: value}) != base, (f.name, value)
                    checked += 1
        assert checked > 20


def test_equal_articles_hash_equal() -> None:
    """Equal content gives the same hash; derived fields (first_seen, fingerprint) do not count."""
    copy = Article(**{f.name: getattr(FULL, f.name) for f in fields(Article)
                      if f.name != "content_hash"})
    assert copy.content_hash == FULL.content_hash
    assert rehash(FULL, first_seen=None, fingerprint=None) == FULL.content_hash
    assert len(FULL.content_hash) == 32
    # Pinned: another definition would report every stored article as changed once.
    assert FULL.content_hash == "84b266e232dcccd3f7147178175bc1c2"
    assert Article(key="b", url=None, canonical_url=None,
                   title="t").content_hash == "6056fdfdeb5adb1ae7c42015e5efaacb"


def test_field_boundaries_cannot_be_imitated() -> None:
    """Text moved from one field to the next, or a count-like string, gives another hash."""
    assert rehash(FULL, title="ab", summary="c") != rehash(FULL, title="a", summary="bc")
    assert rehash(FULL, title="N", summary=None) != rehash(FULL, title=None or "", summary="N")
    assert rehash(FULL, categories=("a;b",)) != rehash(FULL, categories=("a", "b"))
    assert rehash(FULL, text="\ud800 lone surrogate") != FULL.content_hash
