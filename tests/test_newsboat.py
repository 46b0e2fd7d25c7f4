"""A real feed reader: newsboat subscribes to every feed `feeds serve` offers.

newsboat exits 0 even when a feed fails, so the test reads what it stored (its SQLite cache)
and its log. Each feed gets its own cache: newsboat keeps one row per guid, and a topic feed
shares its entries' ids with the source feeds they come from (as Atom wants).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from feedsite import example_config, feeds_serve, publish_example
from lxml import etree

from feeds.config import Config

A = "{http://www.w3.org/2005/Atom}"
pytestmark = pytest.mark.skipif(shutil.which("newsboat") is None,
                                reason="newsboat is not installed (.ci/run installs it)")


def newsboat_fetch(url: str, workdir: Path) -> tuple[dict[str, str], list[dict[str, object]],
                                                    list[str]]:
    """Run `newsboat -x reload` on one URL; return its feed row, item rows and log errors."""
    workdir.mkdir(parents=True)
    (workdir / "urls").write_text(url + "\n", encoding="utf-8")
    (workdir / "config").write_text("", encoding="utf-8")
    env = {**os.environ, "HOME": str(workdir), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    subprocess.run(
        ["newsboat", "-x", "reload", "-u", str(workdir / "urls"), "-c", str(workdir / "cache.db"),
         "-C", str(workdir / "config"), "-l", "4", "-d", str(workdir / "log")],
        env=env, check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True,
    )
    log = (workdir / "log").read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in log if "ERROR" in line]
    with sqlite3.connect(workdir / "cache.db") as db:
        db.row_factory = sqlite3.Row
        feeds = [dict(row) for row in db.execute("SELECT rssurl, title FROM rss_feed")]
        items = [dict(row) for row in db.execute(
            "SELECT guid, title, url, pubDate, author, enclosure_url FROM rss_item "
            "WHERE feedurl = ? ORDER BY pubDate DESC, id", (url,))]
    db.close()
    feed = feeds[0] if feeds else {}
    return feed, items, errors


def expected_entries(data: bytes) -> tuple[str, set[tuple[str, str, str, int]]]:
    """The feed title and (id, title, link, published epoch) of each entry, read from the XML
    itself (feedparser would rewrite file:/// links)."""
    root = etree.fromstring(data)
    if root.tag == A + "feed":
        entries = {
            (e.findtext(A + "id"), e.findtext(A + "title"),
             e.find(A + "link[@rel='alternate']").get("href"),
             int(datetime.fromisoformat(e.findtext(A + "published")).timestamp()))
            for e in root.findall(A + "entry")
        }
        return root.findtext(A + "title"), entries
    channel = root.find("channel")
    entries = {
        (i.findtext("guid"), i.findtext("title"), i.findtext("link"),
         int(parsedate_to_datetime(i.findtext("pubDate")).timestamp()))
        for i in channel.findall("item")
    }
    return channel.findtext("title"), entries


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, str, Path]]:
    """The bundled example in Atom and RSS, published and served by `feeds serve`."""
    tmp = tmp_path_factory.mktemp("newsboat")
    config_path = example_config(tmp, formats=("atom", "rss"))
    config = publish_example(config_path)
    with feeds_serve(config_path) as base:
        yield config, base, tmp


def test_newsboat_stores_every_feed(served: tuple[Config, str, Path]) -> None:
    """For every Atom and RSS feed, newsboat's cache holds the feed's title and every entry
    with its title, link and date, and its log holds no error."""
    config, base, tmp = served
    files = sorted(p for p in config.output_dir.glob("*/*") if p.suffix in (".atom", ".rss"))
    assert len(files) == 2 * (len([s for s in config.sources if s.enabled]) + len(config.topics))
    rels = [p.relative_to(config.output_dir).as_posix() for p in files]
    with ThreadPoolExecutor(4) as pool:  # each run mostly waits; four at once keep it quick
        fetched = list(pool.map(
            lambda rel: newsboat_fetch(base + rel, tmp / "nb" / rel.replace("/", "_")), rels))
    total = 0
    for path, rel, (feed, items, errors) in zip(files, rels, fetched, strict=True):
        title, want = expected_entries(path.read_bytes())
        assert errors == [], rel
        assert feed.get("title") == title, rel
        got = {(i["guid"], i["title"], i["url"], i["pubDate"]) for i in items}
        assert got == want, (rel, sorted(got - want), sorted(want - got))
        total += len(items)
    assert total > 20


def test_newsboat_reads_chinese_titles_links_and_dates(served: tuple[Config, str, Path]) -> None:
    """The GB2312-declared Chinese source reaches newsboat intact, in both formats."""
    _, base, tmp = served
    for fmt in ("atom", "rss"):
        feed, items, errors = newsboat_fetch(f"{base}sources/qingdao-news.{fmt}",
                                             tmp / "zh" / fmt)
        assert errors == []
        assert feed["title"] == "青岛新闻"
        by_title = {i["title"]: i for i in items}
        assert set(by_title) == {"青岛港上半年集装箱吞吐量创新高", "济南发布夏季旅游线路"}
        item = by_title["青岛港上半年集装箱吞吐量创新高"]
        assert item["url"] == "http://news.example.cn/2021/0607/1001.html"
        assert item["pubDate"] == 1623032520  # 2021-06-07 10:22 Beijing time
        assert "王晓" in str(item["author"])


def test_newsboat_gets_the_podcast_enclosure(served: tuple[Config, str, Path]) -> None:
    """An enclosure in the source arrives as newsboat's enclosure, from Atom and from RSS."""
    _, base, tmp = served
    for fmt in ("atom", "rss"):
        _, items, _ = newsboat_fetch(f"{base}sources/python-insider.{fmt}", tmp / "enc" / fmt)
        enclosures = {i["enclosure_url"] for i in items if i["enclosure_url"]}
        assert enclosures == {"https://blog.python.org/media/podcast-1.mp3"}, fmt
