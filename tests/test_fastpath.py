"""The lxml fast path gives the same articles as feedparser, or steps aside."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import DATA, shared_path

from feeds.sources import feed as feed_module
from feeds.sources.fastfeed import parse_plain_feed
from feeds.sources.feed import FeedContext

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
import feedgen_data

URL = "http://127.0.0.1:8080/feed.xml"


def both(body: bytes, content_type: str | None = None) -> tuple[object, object] | None:
    """(articles by the fast path, articles by feedparser), or None if the fast path declines."""
    context = FeedContext(source_id="s", url=URL, timezone=ZoneInfo("Asia/Shanghai"))
    fast = parse_plain_feed(body, URL, content_type)
    if fast is None:
        return None
    slow = feed_module._xml_feed(body, context, content_type)
    fast_feed = feed_module._finish(fast, context, body, None)
    slow_warning = "bozo" if slow.get("bozo") else None
    slow_feed = feed_module._finish(slow, context, body, slow_warning)
    assert slow_warning is None, "the fast path accepted a document feedparser found broken"
    assert (fast_feed.title, fast_feed.link, fast_feed.ttl_minutes) == (
        slow_feed.title, slow_feed.link, slow_feed.ttl_minutes)
    return fast_feed.articles, slow_feed.articles


def corpus_files() -> list[Path]:
    root = shared_path("corpora", "feedparser")
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_corpus_same_articles() -> None:
    """On every feedparser corpus file the fast path accepts, both paths give equal articles."""
    accepted = 0
    for path in corpus_files():
        result = both(path.read_bytes())
        if result is None:
            continue
        accepted += 1
        fast, slow = result
        assert fast == slow, path
    assert accepted > 0


@pytest.mark.parametrize("number", range(12))
def test_generated_feeds_same_articles(number: int) -> None:
    """The benchmark's RSS 2.0 and Atom feeds take the fast path and match feedparser."""
    body = feedgen_data.atom(number, 20) if number % 2 else feedgen_data.rss(number, 20)
    result = both(body, "application/xml; charset=utf-8")
    assert result is not None
    fast, slow = result
    assert fast == slow
    assert len(fast) == 20  # type: ignore[arg-type]


def test_fixtures_same_articles() -> None:
    """Every XML feed fixture in tests/data either takes feedparser's path or matches it."""
    files = [p for p in DATA.rglob("*") if p.is_file() and p.suffix in (".xml", ".rss", ".atom")]
    for path in files:
        result = both(path.read_bytes())
        if result is not None:
            fast, slow = result
            assert fast == slow, path


def test_declines_what_it_does_not_know() -> None:
    """Other encodings, DOCTYPEs, unknown elements and xhtml content go to feedparser."""
    rss = feedgen_data.rss(2, 2)
    assert parse_plain_feed(rss, URL, None) is not None
    assert parse_plain_feed(rss.replace(b"utf-8", b"gb2312", 1), URL, None) is None
    assert parse_plain_feed(rss, URL, "application/rss+xml; charset=gbk") is None
    assert parse_plain_feed(rss.replace(b"<item>", b"<item><source>x</source>", 1), URL,
                            None) is None
    assert parse_plain_feed(rss.replace(b"?>", b'?><!DOCTYPE rss [<!ENTITY a "b">]>', 1), URL,
                            None) is None
    atom = feedgen_data.atom(1, 2)
    assert parse_plain_feed(atom, URL, None) is not None
    assert parse_plain_feed(atom.replace(b'type="html"', b'type="xhtml"', 1), URL, None) is None
    assert parse_plain_feed(rss[:-40], URL, None) is None  # not well-formed


def test_dates_only_feedparser_reads() -> None:
    """A date our own reader gives up on falls back to feedparser's reading on both paths."""
    rss = re.sub(rb"<pubDate>[^<]*</pubDate>", b"<pubDate>01 May 2024</pubDate>",
                 feedgen_data.rss(2, 3), count=1)
    atom = re.sub(rb"<published>[^<]*</published>", b"<published>2024-05</published>",
                  feedgen_data.atom(1, 3), count=1)
    for body in (rss, atom):
        result = both(body)
        assert result is not None
        fast, slow = result
        assert fast == slow
        first = fast[0]  # type: ignore[index]
        assert first.published is not None and first.published.date().isoformat() == (
            "2024-05-01")


def test_declines_unknown_entry_elements() -> None:
    """An entry element the fast path does not read, even one named like an Atom element in
    another namespace, or an attribute on the entry, sends the feed to feedparser."""
    atom = feedgen_data.atom(1, 2)
    rss = feedgen_data.rss(2, 2)
    assert parse_plain_feed(atom, URL, None) is not None
    for body in (
        atom.replace(b"<entry>", b"<entry><rights>r</rights>", 1),
        atom.replace(b"<entry>", b'<entry><x:title xmlns:x="urn:x">t</x:title>', 1),
        atom.replace(b"<entry>",
                     b'<entry><summary xmlns="http://www.w3.org/2005/Atoz">s</summary>', 1),
        atom.replace(b"<entry>", b'<entry xml:lang="de">', 1),
        rss.replace(b"<item>", b"<item><comments>c</comments>", 1),
        rss.replace(b"<item>", b'<item about="x">', 1),
    ):
        assert parse_plain_feed(body, URL, None) is None, body[:300]
