"""End to end: real HTTP server on loopback -> poll -> SQLite store -> Atom files on disk."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from atomcheck import assert_valid_atom
from conftest import LocalServer
from lxml import etree

from feeds.config import Config, load_config
from feeds.fetch import Fetcher
from feeds.poll import PollResult, run_cycle
from feeds.publish import entry_id, publish_all
from feeds.sources.feed import FeedContext, ParsedFeed
from feeds.store import Store

A = "{http://www.w3.org/2005/Atom}"
BASE = "http://localhost:8080/"
PROJECT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)
# A changed resource has a new Last-Modified (the server fixture's default would answer 304).
CHANGED = "Thu, 05 Dec 2024 11:00:00 GMT"


def rss(items: list[tuple[str, str, str]], enclosure: bool = True) -> str:
    """An RSS 2.0 document; items are (guid, title, description)."""
    parts = []
    for guid, title, description in items:
        n = int(guid[1:])  # the date and the enclosure belong to the item, not its position
        extra = ""
        if enclosure and n == 1:
            extra = ('<enclosure url="https://news.example.org/a.mp3" type="audio/mpeg" '
                     'length="4321"/>')
        parts.append(
            f"<item><title>{title}</title><link>https://news.example.org/{guid}</link>"
            f"<guid isPermaLink='false'>{guid}</guid>"
            f"<pubDate>Tue, 03 Dec 2024 1{n}:00:00 +0000</pubDate>"
            f"<description>{description}</description>{extra}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Local News</title><link>https://news.example.org/</link>"
        "<description>d</description>" + "".join(parts) + "</channel></rss>"
    )


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>青岛 Atom</title><id>tag:q.example,2024:f</id>
<updated>2024-12-05T08:00:00Z</updated><author><name>Q</name></author>
<entry><title>青島港口</title><id>tag:q.example,2024:1</id>
<link href="https://q.example.org/1"/><updated>2024-12-05T08:00:00+08:00</updated>
<content type="html">&lt;p onclick="x()"&gt;港口&lt;script&gt;bad()&lt;/script&gt;&lt;/p&gt;
</content></entry>
</feed>"""

ITEMS = [("n1", "Qingdao harbour opens", "&lt;p&gt;first&lt;/p&gt;"),
         ("n2", "Second story", "plain text"),
         ("n3", "Third story", "more")]


def write_config(tmp_path: Path, server: LocalServer, extra_sources: str = "") -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"""
defaults: {{timeout: 5s, allow_private: true}}
output: {{dir: out, base_url: "{BASE}", max_entries: 10}}
store: {{path: state/feeds.db}}
sources:
  - id: news
    url: {server.url("/news.rss")}
  - id: qingdao
    url: {server.url("/qingdao.atom")}
{extra_sources}
topics:
  - id: qingdao-topic
    any: [青岛, Qingdao]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def site(http_server: LocalServer) -> LocalServer:
    http_server.add("/news.rss", rss(ITEMS), headers={"Content-Type": "application/rss+xml"})
    http_server.add("/qingdao.atom", ATOM, headers={"Content-Type": "application/atom+xml"})
    return http_server


@pytest.fixture
def env(tmp_path: Path, site: LocalServer) -> Iterator[tuple[Config, Store, Fetcher]]:
    config = load_config(write_config(tmp_path, site, "  - id: down\n"
                                      f"    url: {site.url('/down.rss')}"))
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path, timeout=5)
    try:
        yield config, store, fetcher
    finally:
        fetcher.close()
        store.close()


def cycle(config: Config, store: Store, fetcher: Fetcher, now: datetime
          ) -> tuple[dict[str, PollResult], list[Path]]:
    results = run_cycle(config, store, fetcher, now, workers=3)
    changed = publish_all(config, store, now)
    return {r.source_id: r for r in results}, changed


def feed_files(changed: list[Path], out: Path) -> set[str]:
    """The Atom and OPML files among ``changed`` (other formats and index.html aside)."""
    return {str(p.relative_to(out)) for p in changed if p.suffix in (".atom", ".opml")}


def mtimes(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns
            for p in sorted(directory.rglob("*")) if p.is_file()}


def age(directory: Path) -> None:
    """Move every mtime a minute back, so a rewrite is visible whatever the clock resolution."""
    for path in directory.rglob("*"):
        if path.is_file():
            stamp = path.stat().st_mtime_ns - 60 * 10**9
            os.utime(path, ns=(stamp, stamp))


def entries(path: Path) -> list[etree._Element]:
    return etree.fromstring(path.read_bytes()).findall(f"{A}entry")


def article_rows(config: Config) -> int:
    with sqlite3.connect(config.store_path) as conn:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def test_second_run_is_conditional_and_writes_nothing(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """Run 1 stores and publishes; run 2 sends validators, gets 304, rewrites and adds nothing."""
    config, store, fetcher = env
    out = config.output_dir
    results, changed = cycle(config, store, fetcher, T0)
    assert (results["news"].status, results["news"].new) == ("ok", 3)
    assert (results["qingdao"].status, results["qingdao"].new) == ("ok", 1)
    assert results["down"].failed
    assert feed_files(changed, out) == {
        "sources/news.atom", "sources/qingdao.atom", "sources/down.atom",
        "topics/qingdao-topic.atom", "feeds.opml",
    }
    for path in out.rglob("*.atom"):
        assert_valid_atom(path.read_bytes(), self_url=BASE + str(path.relative_to(out)))
    assert len(entries(out / "sources/news.atom")) == 3
    rows = article_rows(config)
    age(out)
    before = mtimes(out)

    results, changed = cycle(config, store, fetcher, T0 + timedelta(hours=1))
    assert results["news"].status == "not modified"
    assert results["qingdao"].status == "not modified"
    second = site.requests_for("/news.rss")[-1]
    served = site.requests_for("/news.rss")[0]
    assert second.headers.get("If-None-Match", "").startswith('"')
    assert second.headers.get("If-Modified-Since") == "Mon, 07 Jun 2021 02:22:00 GMT"
    assert "If-None-Match" not in served.headers
    assert site.requests_for("/qingdao.atom")[-1].headers.get("If-None-Match")
    assert changed == []
    assert mtimes(out) == before
    assert article_rows(config) == rows


def test_unchanged_body_without_304_is_skipped(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """A server that ignores validators: the same body (same hash) changes nothing on disk."""
    config, store, fetcher = env
    site.routes["/news.rss"].conditional = False
    cycle(config, store, fetcher, T0)
    age(config.output_dir)
    before = mtimes(config.output_dir)
    results, changed = cycle(config, store, fetcher, T0 + timedelta(hours=1))
    assert site.routes["/news.rss"].conditional is False
    assert results["news"].status == "not modified"
    assert changed == []
    assert mtimes(config.output_dir) == before


def test_changed_feed_updates_without_duplicates(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """An edited item is updated in place (same id, same first_seen), a new one is added."""
    config, store, fetcher = env
    cycle(config, store, fetcher, T0)
    first_seen = {s.article.key: s.article.first_seen for s in store.latest("news", 10)}
    age(config.output_dir)
    before = mtimes(config.output_dir)
    edited = [("n0", "Brand new", "new"), ("n1", "Qingdao harbour opens (corrected)", "x"),
              *ITEMS[1:]]
    site.add("/news.rss", rss(edited), headers={"Content-Type": "application/rss+xml",
                                                "Last-Modified": CHANGED})
    later = T0 + timedelta(hours=3)
    results, changed = cycle(config, store, fetcher, later)
    news = results["news"]
    assert (news.status, news.new, news.updated, news.unchanged) == ("ok", 1, 1, 2)
    assert store.counts()["news"] == 4
    again = {s.article.key: s.article.first_seen for s in store.latest("news", 10)}
    assert {k: again[k] for k in first_seen} == first_seen
    assert again["n0"] == later
    path = config.output_dir / "sources/news.atom"
    ids = [e.findtext(f"{A}id") for e in entries(path)]
    assert len(ids) == len(set(ids)) == 4
    assert entry_id("news", "n1") in ids
    assert_valid_atom(path.read_bytes(), self_url=BASE + "sources/news.atom")
    written = feed_files(changed, config.output_dir)
    assert written == {"sources/news.atom", "topics/qingdao-topic.atom"}
    assert mtimes(config.output_dir)["sources/qingdao.atom"] == before["sources/qingdao.atom"]


def test_failed_source_keeps_last_good_entries(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """When a source starts failing, the cycle goes on and its feed keeps the last entries."""
    config, store, fetcher = env
    cycle(config, store, fetcher, T0)
    good = (config.output_dir / "sources/news.atom").read_bytes()
    site.add("/news.rss", "boom", status=500)
    site.add("/qingdao.atom", ATOM.replace("港口</", "港口新闻</"),
             headers={"Content-Type": "application/atom+xml", "Last-Modified": CHANGED})
    results, _ = cycle(config, store, fetcher, T0 + timedelta(hours=1))
    assert results["news"].status == "failed"
    assert "HTTP 500" in (results["news"].error or "")
    assert results["qingdao"].status == "ok"
    assert (config.output_dir / "sources/news.atom").read_bytes() == good
    state = store.state("news")
    assert state.failures == 1
    assert state.last_success == T0
    assert state.last_error and "HTTP 500" in state.last_error


def test_unsafe_content_never_reaches_the_feed(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """Script elements and event handlers in a polled feed are gone from what we publish."""
    config, store, fetcher = env
    cycle(config, store, fetcher, T0)
    data = (config.output_dir / "sources/qingdao.atom").read_bytes()
    assert b"script" not in data and b"onclick" not in data
    assert_valid_atom(data)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "PYTHONWARNINGS": "ignore"}
    env.pop("FEEDS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120,
    )


def test_cli_twice_against_local_server(tmp_path: Path, site: LocalServer) -> None:
    """`feeds run --once` in a subprocess: exit 0, then a second run rewrites no file."""
    config_path = write_config(tmp_path, site)
    first = run_cli("--config", str(config_path), "run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    out = tmp_path / "out"
    assert len(entries(out / "sources/news.atom")) == 3
    age(out)
    before = mtimes(out)
    second = run_cli("--config", str(config_path), "run", "--once", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "not modified" in second.stdout
    assert "0 output file(s) written" in second.stdout
    assert mtimes(out) == before
    assert site.requests_for("/news.rss")[-1].headers.get("If-None-Match")


def test_bundled_example_runs_and_validates(tmp_path: Path) -> None:
    """The bundled config/feeds.yaml, run on a copy: all feeds valid, broken-example failed."""
    shutil.copytree(PROJECT / "config", tmp_path / "config")
    config_path = tmp_path / "config" / "feeds.yaml"
    config = load_config(config_path)
    out, db = config.output_dir.resolve(), config.store_path.resolve()
    # The example writes beside its config dir; make sure that is inside tmp_path.
    assert out.is_relative_to(tmp_path) and db.is_relative_to(tmp_path)
    result = run_cli("--config", str(config_path), "run", "--once", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = next(x for x in result.stdout.splitlines() if "broken-example" in x)
    assert "failed" in line
    sources = {p.stem for p in (out / "sources").glob("*.atom")}
    assert sources == {s.id for s in config.sources if s.enabled}
    topics = {p.stem for p in (out / "topics").glob("*.atom")}
    assert topics == {t.id for t in config.topics}
    for path in out.rglob("*.atom"):
        assert_valid_atom(path.read_bytes(), self_url=config.output.base_url
                          + str(path.relative_to(out)))
    for source in ("python-insider", "planet-example", "qingdao-news"):
        assert entries(out / "sources" / f"{source}.atom"), source
    assert entries(out / "topics" / "qingdao.atom")
    assert (out / "feeds.opml").exists()

    status = run_cli("--config", str(config_path), "status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    broken = next(x for x in status.stdout.splitlines() if "broken-example" in x)
    assert "failing since" in broken and "not a feed" in broken

    age(out)
    before = mtimes(out)
    again = run_cli("--config", str(config_path), "run", "--once", cwd=tmp_path)
    assert again.returncode == 1
    assert mtimes(out) == before


def test_loopback_source_needs_allow_private(tmp_path: Path, site: LocalServer) -> None:
    """Without allow_private a loopback source is refused with a hint, and nothing is fetched."""
    path = write_config(tmp_path, site)
    path.write_text(path.read_text("utf-8").replace("allow_private: true", "allow_private: false"),
                    encoding="utf-8")
    config = load_config(path)
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path, timeout=5)
    try:
        results, _ = cycle(config, store, fetcher, T0)
    finally:
        fetcher.close()
        store.close()
    assert results["news"].status == "failed"
    assert "allow_private" in (results["news"].error or "")
    assert site.requests == []


def test_unexpected_crash_in_one_source_does_not_stop_the_cycle(
    env: tuple[Config, Store, Fetcher], site: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (not a SourceError) while parsing one source is recorded; the others go on."""
    config, store, fetcher = env
    import feeds.poll

    real = feeds.poll.parse_feed

    def crash_on_news(body: bytes, context: FeedContext, content_type: str | None = None
                      ) -> ParsedFeed:
        if context.source_id == "news":
            raise RuntimeError("bug in a parser")
        return real(body, context, content_type)

    monkeypatch.setattr(feeds.poll, "parse_feed", crash_on_news)
    results, _ = cycle(config, store, fetcher, T0)
    assert results["news"].status == "failed"
    assert "bug in a parser" in (results["news"].error or "")
    assert results["qingdao"].status == "ok"
    assert store.state("news").failures == 1
    assert entries(config.output_dir / "sources/qingdao.atom")
    assert_valid_atom((config.output_dir / "sources/news.atom").read_bytes())


def test_source_feed_takes_the_publishers_title_and_link(
    env: tuple[Config, Store, Fetcher], site: LocalServer
) -> None:
    """A source with no configured title is published under the feed's own title and site."""
    config, store, fetcher = env
    cycle(config, store, fetcher, T0)
    root = etree.fromstring((config.output_dir / "sources/news.atom").read_bytes())
    assert root.findtext(f"{A}title") == "Local News"
    alternates = [x.get("href") for x in root.findall(f"{A}link") if x.get("rel") == "alternate"]
    assert alternates == ["https://news.example.org/"]
    assert store.state("news").title == "Local News"
