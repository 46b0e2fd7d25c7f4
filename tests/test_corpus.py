"""feedparser's 2,107 test feeds through the project's feed source and Atom writer.

Ingestion must survive real-world and hostile feeds: no unhandled exception, no hang, bad
documents reported as ParseError, and the 745 ``wellformed/sanitize`` cases leave no script in
any article field nor in the Atom we publish from them.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import shared_path

from feeds.errors import ParseError
from feeds.model import Article
from feeds.publish import FeedSpec, render_atom
from feeds.sources.feed import FeedContext, ParsedFeed, parse_feed
from feeds.store import Stored

PER_FILE_SECONDS = 5.0
FIRST_SEEN = datetime(2024, 1, 1, tzinfo=UTC)
SCRIPT = re.compile(r"<\s*script", re.IGNORECASE)
SCRIPT_URL = re.compile(r"(?:java|vb)script\s*:", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def corpus() -> Path:
    return shared_path("corpora", "feedparser")


def parse_file(path: Path) -> ParsedFeed:
    context = FeedContext("corpus", "http://example.com/feeds/" + path.name, ZoneInfo("UTC"))
    return parse_feed(path.read_bytes(), context)


def hostile(value: str | None) -> str | None:
    """The first script-like pattern in ``value``, or None."""
    if not value:
        return None
    for pattern in (SCRIPT, SCRIPT_URL, EVENT_HANDLER):
        match = pattern.search(value)
        if match:
            return match.group(0)
    return None


def article_strings(article: Article) -> list[tuple[str, str | None]]:
    fields: list[tuple[str, str | None]] = [
        (name, getattr(article, name))
        for name in ("title", "summary", "content_html", "text", "url", "canonical_url", "key")
    ]
    fields += [("image", i.url) for i in article.images]
    fields += [("enclosure", e.url) for e in article.enclosures]
    for person in (*article.authors, *article.contributors):
        fields += [("person.name", person.name), ("person.uri", person.uri)]
    fields += [("category", c) for c in article.categories]
    return fields


def test_whole_corpus_parses_or_is_reported() -> None:
    """Every corpus file parses or raises ParseError, each in under five seconds."""
    files = sorted(p for p in corpus().rglob("*") if p.is_file())
    assert len(files) == 2107
    parsed = reported = 0
    slowest = (0.0, "")
    started = time.monotonic()
    for path in files:
        began = time.monotonic()
        try:
            parse_file(path)
            parsed += 1
        except ParseError as e:
            assert e.source_id == "corpus" and e.message
            reported += 1
        elapsed = time.monotonic() - began
        assert elapsed < PER_FILE_SECONDS, f"{path} took {elapsed:.1f}s"
        slowest = max(slowest, (elapsed, path.name))
    print(f"\ncorpus: {len(files)} files, {parsed} parsed, {reported} ParseError, "
          f"{time.monotonic() - started:.1f}s (slowest {slowest[1]}: {slowest[0]:.2f}s)")
    assert parsed + reported == len(files)
    # Almost all of the corpus is readable; a collapse here means parsing broke, not the feeds.
    assert parsed > 2000


def test_json_feed_in_corpus() -> None:
    """The corpus's JSON Feed gives its two items, and its script does not survive."""
    feed = parse_file(corpus() / "json" / "example.json")
    assert feed.title == "My Example Feed"
    assert [a.url for a in feed.articles] == [
        "https://example.org/second-item", "https://example.org/initial-post"
    ]
    assert all(hostile(a.content_html) is None for a in feed.articles)


def test_sanitize_cases_leave_no_script() -> None:
    """No sanitize case leaves a script, a script URL or an event handler in any article
    field, in the feed title, or in the Atom published from the articles."""
    files = sorted((corpus() / "wellformed" / "sanitize").glob("*.xml"))
    assert len(files) == 745
    problems: list[str] = []
    articles = 0
    for path in files:
        try:
            feed = parse_file(path)
        except ParseError:
            continue
        if hostile(feed.title):
            problems.append(f"{path.name}: feed title: {hostile(feed.title)}")
        stored = []
        for article in feed.articles:
            articles += 1
            for name, value in article_strings(article):
                found = hostile(value)
                if found:
                    problems.append(f"{path.name}: {name}: {found}")
            stored.append(Stored("corpus", replace(article, first_seen=FIRST_SEEN)))
        spec = FeedSpec("sources", "corpus", feed.title or "corpus", stored)
        atom = render_atom(spec, "https://feeds.example.org/", "feeds", FIRST_SEEN).decode()
        # Content is escaped HTML inside the XML: a reader sees it unescaped once.
        for layer, text in (("atom", atom), ("atom html", html.unescape(atom))):
            found = hostile(text)
            if found:
                problems.append(f"{path.name}: {layer}: {found}")
    print(f"\nsanitize: {len(files)} cases, {articles} articles checked")
    assert articles > 150
    assert problems == []


@pytest.mark.parametrize(
    "name",
    ["entry_content_script.xml", "item_description_script.xml", "entry_title_script.xml",
     "entry_summary_script_cdata.xml", "item_body_script.xml"],
)
def test_script_cases_keep_their_safe_text(name: str) -> None:
    """Removing the script keeps the text around it (nothing is dropped wholesale)."""
    feed = parse_file(corpus() / "wellformed" / "sanitize" / name)
    [article] = feed.articles
    assert "safe" in (article.title + (article.text or ""))
