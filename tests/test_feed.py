"""Feed parsing: sample feeds in tests/data/feeds beside their expected articles.

Each ``<name>.<ext>`` has a ``<name>.expected.json``: the feed's title and, in order, the
fields of every article that matter (absent fields are not compared). Every sample is parsed
from bytes and also served over a real local HTTP server, plain and gzipped, through
:class:`feeds.fetch.Fetcher`, the way reader's tests run theirs.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import DATA, LocalServer, running_server

from feeds.errors import ParseError
from feeds.fetch import Fetcher
from feeds.model import Article
from feeds.sources.feed import FeedContext, ParsedFeed, parse_feed

FEEDS = DATA / "feeds"
SAMPLES = sorted(p for p in FEEDS.iterdir() if not p.name.endswith(".expected.json"))
CONTENT_TYPES = {
    ".xml": "application/rss+xml",
    ".rdf": "application/rdf+xml",
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
}
TEXT_FIELDS = ("title", "summary", "content_html", "text", "url", "canonical_url")


@pytest.fixture(scope="module")
def feed_server() -> Iterator[LocalServer]:
    """The conftest server, shared by this module's tests."""
    with running_server() as server:
        yield server


def expected_of(sample: Path) -> dict[str, Any]:
    path = sample.with_name(sample.name.rsplit(".", 1)[0] + ".expected.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def context_for(url: str, expected: dict[str, Any]) -> FeedContext:
    return FeedContext("sample", url, ZoneInfo(expected.get("timezone", "Asia/Shanghai")))


def check(parsed: ParsedFeed, expected: dict[str, Any]) -> None:
    for name, value in expected["feed"].items():
        assert getattr(parsed, name) == value, name
    assert len(parsed.articles) == len(expected["articles"])
    for index, (article, wanted) in enumerate(zip(parsed.articles, expected["articles"],
                                                   strict=True)):
        check_article(article, wanted, f"articles[{index}]")


def check_article(article: Article, wanted: dict[str, Any], where: str) -> None:
    for name, value in wanted.items():
        if name in ("contains", "absent"):
            continue
        if name in ("published", "updated"):
            actual: Any = getattr(article, name)
            assert actual is None or actual.tzinfo is not None, f"{where}.{name} is naive"
            actual = actual.isoformat() if actual else None
        elif name in ("authors", "contributors"):
            actual = [p.name for p in getattr(article, name)]
        elif name == "author_uris":
            actual = [p.uri for p in article.authors]
        elif name == "categories":
            actual = list(article.categories)
        elif name == "enclosures":
            actual = [{"url": e.url, "type": e.type, "length": e.length}
                      for e in article.enclosures]
        elif name == "images":
            actual = [i.url for i in article.images]
        else:
            actual = getattr(article, name)
        assert actual == value, f"{where}.{name}"
    for field, snippets in wanted.get("contains", {}).items():
        for snippet in snippets:
            assert snippet in (getattr(article, field) or ""), f"{where}.{field} lacks {snippet!r}"
    every_field = "\n".join(getattr(article, f) or "" for f in TEXT_FIELDS).lower()
    for snippet in wanted.get("absent", []):
        assert snippet.lower() not in every_field, f"{where} still holds {snippet!r}"


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_from_bytes(sample: Path) -> None:
    """Each sample feed parses into exactly its expected articles."""
    expected = expected_of(sample)
    context = context_for("https://feeds.test/feeds/" + sample.name, expected)
    check(parse_feed(sample.read_bytes(), context), expected)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_over_http(feed_server: LocalServer, sample: Path, gzipped: bool) -> None:
    """Served over HTTP (and gzipped), fetched and parsed, each sample gives the same articles."""
    expected = expected_of(sample)
    body = sample.read_bytes()
    headers = {"Content-Type": CONTENT_TYPES[sample.suffix]}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    path = f"/{'gzip' if gzipped else 'plain'}/{sample.name}"
    url = feed_server.add(path, body, headers=headers)
    fetcher = Fetcher()
    try:
        response = fetcher.get(url, source_id="sample")
    finally:
        fetcher.close()
    assert response.body == sample.read_bytes()
    parsed = parse_feed(response.body, context_for(response.url, expected), response.content_type)
    check(parsed, expected)
    [request] = feed_server.requests_for(path)
    assert "gzip" in request.headers.get("Accept-Encoding", "")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "application/rss+xml; charset=gb2312",
        "application/rss+xml; charset=GBK",
        "text/xml; charset=ISO-8859-1",  # a server default that contradicts the document
        "text/xml; charset=utf-8",
    ],
)
def test_gbk_feed_whatever_the_server_says(http_server: LocalServer, content_type: str) -> None:
    """A GBK feed declared gb2312 keeps 镕 and 堃 whichever charset the HTTP header names."""
    sample = FEEDS / "gbk-declared-gb2312.xml"
    url = http_server.add("/gbk.xml", sample.read_bytes(), headers={"Content-Type": content_type})
    fetcher = Fetcher()
    try:
        response = fetcher.get(url, source_id="gbk")
    finally:
        fetcher.close()
    parsed = parse_feed(response.body, context_for(url, {}), response.content_type)
    assert parsed.articles[0].title == "朱镕基题词的青岛纪念馆开放"
    assert parsed.articles[0].authors[0].name == "王堃"


def test_local_file_through_fetcher(tmp_path: Path) -> None:
    """A feed read from a local path parses like one served over HTTP (no link is file://)."""
    sample = FEEDS / "rss20-podcast.xml"
    (tmp_path / sample.name).write_bytes(sample.read_bytes())
    fetcher = Fetcher(base_dir=tmp_path)
    response = fetcher.get(sample.name, source_id="local")
    parsed = parse_feed(response.body, context_for(response.url, {}), response.content_type)
    check(parsed, expected_of(sample))
    assert all("file:" not in (a.content_html or "") for a in parsed.articles)


def test_keys_are_stable_across_polls() -> None:
    """Parsing the same bytes twice gives the same keys and content hashes."""
    for sample in SAMPLES:
        context = context_for("https://feeds.test/feeds/" + sample.name, {})
        first = parse_feed(sample.read_bytes(), context)
        second = parse_feed(sample.read_bytes(), context)
        assert [(a.key, a.content_hash) for a in first.articles] == [
            (a.key, a.content_hash) for a in second.articles
        ]


def test_slashed_and_cst_dates_are_beijing_time() -> None:
    """``2021/06/07 10:22`` and ``... CST`` in a Chinese feed are Beijing time, not UTC/Chicago."""
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>http://x.cn/a</link><pubDate>2021/06/07 10:22:00</pubDate></item>
      <item><title>b</title><link>http://x.cn/b</link>
        <pubDate>Mon, 07 Jun 2021 10:22:00 CST</pubDate></item>
      <item><title>c</title><link>http://x.cn/c</link><pubDate>2021/13/07 10:22</pubDate></item>
    </channel></rss>"""
    parsed = parse_feed(body, context_for("http://x.cn/rss.xml", {}))
    published = [a.published.isoformat() if a.published else None for a in parsed.articles]
    assert published == ["2021-06-07T10:22:00+08:00", "2021-06-07T10:22:00+08:00", None]
    chicago = FeedContext("us", "http://x.com/rss", ZoneInfo("America/Chicago"))
    # In Chicago, CST is the zone's own winter abbreviation: written in June it still means -6.
    assert parse_feed(body, chicago).articles[1].published.isoformat() == (  # type: ignore[union-attr]
        "2021-06-07T10:22:00-06:00"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body><p>Hello</p></body></html>", "use 'page:' instead of 'url:'"),
        (b"", "not a feed"),
        (b"just some text", "not a feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "bad JSON"),
        (b'{"title": "no version"}', "JSON without a jsonfeed.org version"),
        (b"[" * 100_000, "not a feed"),
    ],
)
def test_not_a_feed_is_a_parse_error(body: bytes, message: str) -> None:
    """Something that is no feed raises ParseError naming the source and a likely fix."""
    with pytest.raises(ParseError) as info:
        parse_feed(body, FeedContext("broken", "https://x.org/feed", ZoneInfo("UTC")))
    assert info.value.source_id == "broken"
    assert info.value.url == "https://x.org/feed"
    assert message in info.value.message


def test_json_feed_with_wrong_types_does_not_crash() -> None:
    """A JSON Feed whose fields have the wrong types yields what it can, never a TypeError."""
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1",
        "title": 5,
        "items": [
            "not an item",
            {"id": None, "url": 7, "title": ["x"], "tags": "t", "authors": "me",
             "attachments": [None, {"url": None}], "content_html": {"a": 1}},
            {"id": 3.0, "url": "https://x.org/3", "title": "ok", "author": {"name": "Ann"}},
        ],
    }).encode()
    parsed = parse_feed(body, FeedContext("j", "https://x.org/feed.json", ZoneInfo("UTC")))
    assert [a.title for a in parsed.articles] == ["ok"]
    assert parsed.articles[0].authors[0].name == "Ann"
