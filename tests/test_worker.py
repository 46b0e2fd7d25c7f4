"""Worker processes of a cycle: rendering there writes the same bytes as rendering here."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from atomcheck import assert_valid_atom
from conftest import LocalServer

import feeds.worker
from feeds import poll, topics
from feeds.config import parse_config
from feeds.model import Article
from feeds.publish import publish_all
from feeds.render import FeedSpec, render_atom
from feeds.sources.feed import FeedContext
from feeds.store import Store, Stored

T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)
BASE = "https://feeds.example.org/"
CONFIG = """
output: {dir: out, base_url: "https://feeds.example.org/", formats: [atom, rss, json]}
store: {path: feeds.db}
sources:
  - {id: alpha, url: "https://alpha.example.org/feed.xml"}
  - {id: beta, url: "https://beta.example.org/feed.xml", convert: s2t}
topics:
  - {id: qingdao, any: [青岛]}
"""


def article(n: int, title: str) -> Article:
    return Article(key=f"k{n}", url=f"https://example.org/{n}", canonical_url=None, title=title,
                   summary=f"摘要 {n}", content_html=f"<p>{title} <b>{n}</b></p>", text=title,
                   published=T0 - timedelta(minutes=n), first_seen=T0)


def filled_store(path: Path) -> Store:
    store = Store.open(path)
    store.upsert("alpha", [article(n, f"青岛新闻 {n}") for n in range(12)], T0)
    store.upsert("beta", [article(n, f"青岛 & Qingdao <{n}>") for n in range(100, 105)], T0)
    return store


def files(directory: Path) -> dict[str, bytes]:
    """The published files, but the signature record (it names the store it came from)."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != ".rendered.json"}


def test_publishing_through_worker_processes_writes_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """publish_all with a worker pool (rendering, and folding the topic index in batches)
    writes byte-identical feeds to publish_all without one."""
    monkeypatch.setattr(topics, "BATCH", 4)
    folded: list[int] = []
    real_fold = poll.ParsePool.fold

    def counting_fold(self: poll.ParsePool, rows: list[list[str]], wanted: list[bool]
                      ) -> list[str]:
        folded.append(len(rows))
        return real_fold(self, rows, wanted)

    monkeypatch.setattr(poll.ParsePool, "fold", counting_fold)
    outputs = {}
    for name, processes in (("here", 0), ("pool", 2)):
        directory = tmp_path / name
        directory.mkdir()
        config = parse_config(CONFIG, "test.yaml", directory)
        store = filled_store(directory / "feeds.db")
        pool = poll.ParsePool(processes) if processes else None
        try:
            changed = publish_all(config, store, T0, pool=pool)
            assert pool is None or len(pool._started) == 2  # the workers did the rendering
        finally:
            if pool is not None:
                pool.close()
            store.close()
        assert {p.name for p in changed} >= {"alpha.atom", "beta.rss", "qingdao.json"}
        outputs[name] = files(directory / "out")
    assert sum(folded) == 17  # every article folded by the workers, 4 at a time
    assert outputs["pool"] == outputs["here"]
    assert_valid_atom(outputs["pool"]["sources/beta.atom"])


def test_a_render_job_gives_the_bytes_of_render_atom(tmp_path: Path) -> None:
    """The worker renders the spec it is sent exactly as render_atom does in this process."""
    spec = FeedSpec("sources", "alpha", "Alpha",
                    [Stored("alpha", article(n, f"title {n}")) for n in range(3)])
    pool = poll.ParsePool(1)
    try:
        target = tmp_path / "sources" / "alpha.atom"
        assert pool.render("atom", spec, BASE, "Tester", T0, target) is True
        assert pool.render("atom", spec, BASE, "Tester", T0, target) is False  # unchanged
    finally:
        pool.close()
    assert target.read_bytes() == render_atom(spec, BASE, "Tester", T0)


def test_a_failed_job_returns_its_worker_to_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error in one job does not leave the other threads waiting forever."""
    pool = poll.ParsePool(1)
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>a</title><link>https://example.org/a</link></item></channel></rss>")
    context = FeedContext("s", "https://example.org/feed.rss", UTC)
    original = poll.ParserProcess.call
    failures = {"left": 1}

    def flaky(self: poll.ParserProcess, *message: object) -> object:
        if failures["left"]:
            failures["left"] -= 1
            raise ValueError("unexpected")
        return original(self, *message)

    monkeypatch.setattr(poll.ParserProcess, "call", flaky)
    results: list[object] = []

    def second() -> None:
        results.append(pool.parse(body, context, "application/rss+xml"))

    try:
        with pytest.raises(ValueError, match="unexpected"):
            pool.parse(body, context, "application/rss+xml")
        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the second job waited for a worker that never came back"
    finally:
        pool.close()
    assert [a.title for a in results[0].articles] == ["a"]  # type: ignore[attr-defined]


def test_a_worker_that_stops_answering_is_killed_and_the_job_done_here(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process that never answers (stopped) costs WORKER_TIMEOUT, not the cycle."""
    import os
    import signal

    monkeypatch.setattr(poll, "WORKER_TIMEOUT", 0.5)
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>a</title><link>https://example.org/a</link></item></channel></rss>")
    context = FeedContext("s", "https://example.org/feed.rss", UTC)
    pool = poll.ParsePool(1)
    try:
        pool.parse(body, context, "application/rss+xml")  # starts the worker
        (worker,) = pool._started
        os.kill(worker.process.pid, signal.SIGSTOP)
        parsed = pool.parse(body, context, "application/rss+xml")
        assert [a.title for a in parsed.articles] == ["a"]
        assert worker.process.wait(timeout=10) == -signal.SIGKILL
    finally:
        pool.close()


def rss(n: int) -> str:
    items = "".join(
        f"<item><title>青岛 story {n}.{i}</title><link>https://example.org/{n}/{i}</link>"
        f"<description>&lt;p&gt;Body {n}.{i} &lt;a href=\"/rel/{i}\"&gt;more&lt;/a&gt;&lt;/p&gt;"
        f"</description><pubDate>Thu, 05 Dec 2024 0{i}:{n:02d}:00 GMT</pubDate></item>"
        for i in range(3))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://example.org/{n}</link>{items}</channel></rss>")


def test_run_once_with_workers_writes_source_feeds_while_polling(
        tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_once with worker processes writes each source's feeds as soon as it is stored,
    and the output equals a cycle without workers; a second cycle rewrites nothing."""
    from feeds.config import load_config
    from feeds.publish import EarlyPublisher
    from feeds.scheduler import Service

    for n in range(6):
        http_server.add(f"/{n}.rss", rss(n), headers={"Content-Type": "application/rss+xml"})
    early: list[str] = []
    real = EarlyPublisher.source_stored

    def counting(self: EarlyPublisher, source: Any) -> None:
        early.append(source.id)
        real(self, source)

    monkeypatch.setattr(EarlyPublisher, "source_stored", counting)
    monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
    outputs = {}
    for name, processes in (("threads", 0), ("workers", 2)):
        monkeypatch.setattr(feeds.worker, "PARSE_PROCESSES", processes)
        directory = tmp_path / name
        directory.mkdir()
        lines = ["defaults: {allow_private: true, jitter: 0, per_host: 4, host_delay: 1ms}",
                 "output: {dir: out, base_url: 'https://feeds.example.org/'}",
                 "store: {path: feeds.db}", "topics: [{id: qingdao, any: [青岛]}]", "sources:"]
        lines += [f"  - {{id: s{n}, url: '{http_server.url(f'/{n}.rss')}'}}" for n in range(6)]
        path = directory / "feeds.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        service = Service(path, load_config(path), workers=2,
                          clock=lambda: T0 + timedelta(days=1))
        try:
            results, _ = service.run_once()
            assert all(r.new == 3 for r in results)
            first = files(directory / "out")
            _, changed = service.run_once()
            assert changed == []
        finally:
            service.close()
        assert files(directory / "out") == first
        outputs[name] = first
    assert sorted(early) == [f"s{n}" for n in range(6)]  # only the cycle with workers
    for output in outputs.values():
        del output["health.atom"]  # its <updated> is the store's creation time
    assert outputs["workers"] == outputs["threads"]
    assert_valid_atom(outputs["workers"]["sources/s3.atom"])


FIRST_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>青岛新闻网</title><link>https://qd.example.cn/</link><description>d</description>
{items}</channel></rss>"""
FIRST_ITEMS = [
    # Beijing-time dates, one repeated (a tie in sort_ts), one undated, one in UTC.
    ("a", "Tue, 03 Dec 2024 09:30:00 +0800", "青岛地铁 6 号线"),
    ("b", "Tue, 03 Dec 2024 09:30:00 +0800", "同一时刻的另一条"),
    ("c", None, "没有日期的消息"),
    ("d", "Mon, 02 Dec 2024 23:00:00 GMT", "<b>标记</b> & 符号"),
    ("a", "Wed, 04 Dec 2024 10:00:00 +0800", "重复的 guid 保留第一条"),
    ("e", "Sun, 01 Dec 2024 08:00:00 +0800", "最旧的一条"),
]


def first_feed_body() -> bytes:
    items = "".join(
        f"<item><title>{title.replace('&', '&amp;').replace('<', '&lt;')}</title>"
        f"<link>https://qd.example.cn/{guid}.html</link><guid>{guid}</guid>"
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + f"<dc:creator>记者 {guid}</dc:creator><category>本地</category>"
        f"<description>&lt;p&gt;{guid} 正文&lt;/p&gt;</description>"
        f"<enclosure url='https://qd.example.cn/{guid}.mp3' type='audio/mpeg' length='12'/>"
        "</item>"
        for guid, date, title in FIRST_ITEMS)
    return FIRST_FEED.format(items=items).encode("utf-8")


@pytest.mark.parametrize("limit", [50, 3])
def test_a_first_store_renders_from_memory_what_the_store_would_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """A source's first articles are rendered as parsed, without reading them back: the same
    bytes as rendering from the store (order, ties, undated entries, limit, first_seen)."""
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from feeds import rows, worker
    from feeds.publish import source_meta

    config = parse_config(CONFIG, "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    out = tmp_path / "out"
    now = datetime(2024, 12, 5, 8, 0, 0, 123456, tzinfo=UTC)
    files_ = tuple((fmt, str(out / "sources" / f"alpha.{fmt}")) for fmt in ("atom", "rss", "json"))
    request = worker.SourceRender("alpha", None, None, None, None, limit, files_, BASE,
                                  "Tester", T0)
    context = FeedContext("alpha", "https://qd.example.cn/rss.xml", ZoneInfo("Asia/Shanghai"))
    path = str(config.store_path)
    reads: list[str] = []
    real_latest = rows.latest_from_file
    monkeypatch.setattr(rows, "latest_from_file",
                        lambda *a: reads.append(a[1]) or real_latest(*a))
    try:
        done = worker.ingest(path, first_feed_body(), context, None, now, request)
        assert isinstance(done, worker.Ingested) and done.rendered is not None
        assert (done.new, done.updated, reads) == (6, 0, [])  # nothing read back
        assert worker.drain() == []  # the files are in place
        written = {fmt: Path(p).read_bytes() for fmt, p in files_}
        # The same feeds rendered from what the store holds:
        state = store.state("alpha")
        # (the title and link poll_source records from the feed)
        meta = source_meta(config.source("alpha"),
                           replace(state, title="青岛新闻网", link="https://qd.example.cn/"))
        assert done.rendered.meta == meta
        flags, count, newest = worker.render_source(
            path, "alpha", limit, meta, [(f, str(tmp_path / f"again.{f}")) for f, _ in files_],
            BASE, "Tester", T0)
        assert reads == ["alpha"] and worker.drain() == []
        for fmt, _ in files_:
            assert (tmp_path / f"again.{fmt}").read_bytes() == written[fmt], fmt
        assert flags == [True, True, True]
        assert (count, newest) == (done.rendered.count, done.rendered.newest)
        assert count == min(limit, 6)
        # A second store of the source reads back: older articles may belong in the feed.
        done = worker.ingest(path, first_feed_body().replace(b"c.html", b"c2.html"), context,
                             None, now, request)
        assert isinstance(done, worker.Ingested) and done.updated == 1
        assert reads == ["alpha", "alpha"]
    finally:
        store.close()



def test_prestarted_workers_are_the_ones_a_cycle_uses(tmp_path: Path) -> None:
    """Worker processes started with the program (a new store) serve the cycle's pool, which
    starts no others; they have imported the parsing code before the first job."""
    from feeds import worker

    worker.prestart(2)
    started = {p.pid for p in worker._prestarted}
    pool = poll.ParsePool(2)
    try:
        context = FeedContext("alpha", "https://qd.example.cn/rss.xml", UTC)
        parsed = pool.parse(first_feed_body(), context, None)
        assert len(parsed.articles) == 6
        assert {p.process.pid for p in pool._started} == started
        assert worker.take_prestarted() is None
    finally:
        pool.close()
    assert worker.pool_size(49) == 0 and worker.pool_size(50) == worker.PARSE_PROCESSES


def test_a_worker_dying_before_its_files_are_written_costs_a_render_not_a_feed(
        tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """If a worker process dies before it confirms its feed files are written, nothing it
    rendered early is trusted: publishing writes every source feed again, in threads, and
    the output is complete and valid."""
    from feeds.config import load_config
    from feeds.publish import EarlyPublisher
    from feeds.scheduler import Service

    for n in range(4):
        http_server.add(f"/{n}.rss", rss(n), headers={"Content-Type": "application/rss+xml"})
    monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
    monkeypatch.setattr(feeds.worker, "PARSE_PROCESSES", 2)
    real_call = poll.ParserProcess.call

    def dying(self: poll.ParserProcess, *message: object) -> object:
        if message[0] == "drain":
            self.process.kill()
            self.process.wait()
        return real_call(self, *message)

    monkeypatch.setattr(poll.ParserProcess, "call", dying)
    trusted: list[int] = []
    real_finish = EarlyPublisher.finish

    def finishing(self: EarlyPublisher) -> list[Path]:
        changed = real_finish(self)
        trusted.append(len(self.done))
        return changed

    monkeypatch.setattr(EarlyPublisher, "finish", finishing)
    lines = ["defaults: {allow_private: true, jitter: 0, per_host: 4, host_delay: 1ms}",
             "output: {dir: out, base_url: 'https://feeds.example.org/'}",
             "store: {path: feeds.db}", "sources:"]
    lines += [f"  - {{id: s{n}, url: '{http_server.url(f'/{n}.rss')}'}}" for n in range(4)]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    service = Service(path, load_config(path), workers=2, clock=lambda: T0 + timedelta(days=1))
    try:
        results, changed = service.run_once()
    finally:
        service.close()
    assert all(r.new == 3 for r in results)
    assert trusted == [0]  # every early feed forgotten
    for n in range(4):
        feed = tmp_path / "out" / "sources" / f"s{n}.atom"
        assert feed in changed
        assert_valid_atom(feed.read_bytes())
