"""Parser processes, batched state saves and store revisions give what serial polls give."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LocalServer

import feeds.worker
from feeds import poll
from feeds.config import parse_config
from feeds.fetch import Fetcher
from feeds.poll import run_cycle
from feeds.sources.feed import FeedContext, parse_feed
from feeds.store import Store

NOW = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)


def rss(n: int) -> str:
    items = "".join(
        f"<item><title>Story {n}.{i}</title><link>https://example.org/{n}/{i}</link>"
        f"<guid>https://example.org/{n}/{i}</guid><description>&lt;p&gt;Body {i} "
        f'&lt;a href="/rel/{i}"&gt;more&lt;/a&gt;&lt;/p&gt;</description>'
        f"<pubDate>Thu, 05 Dec 2024 0{i}:00:00 GMT</pubDate></item>"
        for i in range(3)
    )
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://example.org/</link>{items}</channel></rss>")


def make(tmp_path: Path, server: LocalServer, count: int) -> tuple[object, Store]:
    for n in range(count):
        server.add(f"/{n}.rss", rss(n), headers={"Content-Type": "application/rss+xml"})
    server.add("/broken.rss", "<html><body>not a feed</body></html>")
    lines = ["defaults: {allow_private: true, jitter: 0}",
             "output: {dir: out, base_url: 'https://feeds.example.org/'}",
             "store: {path: feeds.db}", "sources:"]
    lines += [f"  - {{id: s{n}, url: '{server.url(f'/{n}.rss')}'}}" for n in range(count)]
    lines.append(f"  - {{id: broken, url: '{server.url('/broken.rss')}'}}")
    config = parse_config("\n".join(lines) + "\n", "test.yaml", tmp_path)
    return config, Store.open(config.store_path)


def articles(store: Store, source_id: str) -> list[tuple[str, str | None, str | None]]:
    return [(s.article.key, s.article.content_html, s.article.content_hash)
            for s in store.latest(source_id, 50)]


@pytest.mark.parametrize("processes", [0, 2])
def test_parser_processes_store_what_threads_store(tmp_path: Path, http_server: LocalServer,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   processes: int) -> None:
    """Parsing in worker processes stores the same articles and reports a bad feed the same."""
    monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
    monkeypatch.setattr(feeds.worker, "PARSE_PROCESSES", processes)
    calls: list[str] = []
    original = poll.ParserProcess.call

    def counting(self: poll.ParserProcess, *message: object) -> object:
        if message[0] in ("parse", "ingest"):  # ingest: parsed and stored by the worker
            context = message[2 if message[0] == "parse" else 3]
            assert isinstance(context, FeedContext)
            calls.append(context.source_id)
        return original(self, *message)

    monkeypatch.setattr(poll.ParserProcess, "call", counting)
    config, store = make(tmp_path / str(processes), http_server, 3)
    try:
        results = {r.source_id: r for r in run_cycle(config, store, Fetcher(), NOW)}  # type: ignore[arg-type]
        assert sorted(calls) == (["broken", "s0", "s1", "s2"] if processes else [])
        assert results["broken"].error_kind == "ParseError"
        assert "not a feed" in (results["broken"].error or "")
        assert [results[f"s{n}"].new for n in range(3)] == [3, 3, 3]
        stored = articles(store, "s1")
        assert stored[0][1] == ('<p>Body 2 <a href="https://example.org/rel/2" '
                                'rel="noopener noreferrer">more</a></p>')
        assert poll._parse_pool is None  # the cycle's pool is closed with the cycle
    finally:
        store.close()


def test_unchanged_polls_save_states_and_keep_revisions(tmp_path: Path,
                                                        http_server: LocalServer) -> None:
    """A cycle of 304s saves every source's success time; revisions move only on new articles."""
    config, store = make(tmp_path, http_server, 2)
    try:
        run_cycle(config, store, Fetcher(), NOW)  # type: ignore[arg-type]
        revisions = store.revisions()
        assert revisions == {"s0": 1, "s1": 1}
        later = datetime(2024, 12, 5, 9, 0, tzinfo=UTC)
        results = run_cycle(config, store, Fetcher(), later)  # type: ignore[arg-type]
        assert {r.status for r in results if r.source_id != "broken"} == {"not modified"}
        states = store.states()
        assert states["s0"].last_success == later and states["s1"].last_success == later
        assert store.revisions() == revisions
        http_server.add("/0.rss", rss(0).replace("Story 0.1", "Story 0.1, corrected"),
                        headers={"Content-Type": "application/rss+xml",
                                 "Last-Modified": "Thu, 05 Dec 2024 08:30:00 GMT"})
        run_cycle(config, store, Fetcher(), later)  # type: ignore[arg-type]
        assert store.revisions() == {"s0": 2, "s1": 1}
    finally:
        store.close()


def test_a_dead_parser_process_falls_back_to_threads(tmp_path: Path) -> None:
    """When its parser process has died, the pool parses in the calling thread instead."""
    context = FeedContext("s", "https://example.org/feed.rss", UTC)
    body = rss(1).encode()
    pool = poll.ParsePool(1)
    try:
        first = pool.parse(body, context, "application/rss+xml")
        for worker in pool._started:
            worker.process.kill()
            worker.process.wait()
        again = pool.parse(body, context, "application/rss+xml")
    finally:
        pool.close()
    assert first == again == parse_feed(body, context, "application/rss+xml")


def test_a_cycle_keeps_at_most_workers_requests_in_flight(tmp_path: Path,
                                                          http_server: LocalServer) -> None:
    """With worker processes the cycle runs more threads, but never more than ``workers``
    requests at once (this Fetcher has no per-host limiter to hide it)."""
    pool = poll.ParsePool(2)
    config, store = make(tmp_path, http_server, 12)
    for n in range(12):
        http_server.add(f"/{n}.rss", rss(n), headers={"Content-Type": "application/rss+xml"},
                        delay=0.05)
    try:
        results = run_cycle(config, store, Fetcher(), NOW, workers=2, pool=pool)  # type: ignore[arg-type]
        assert sum(r.new for r in results) == 36
        assert http_server.max_active == 2
    finally:
        pool.close()
        store.close()


def test_states_lost_after_a_worker_stored_the_articles_cost_only_a_poll(
        tmp_path: Path, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process stores the articles before this process saves the validators (in a
    batch): a cycle that dies in between loses nothing, and the next one stores nothing twice."""
    monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
    monkeypatch.setattr(feeds.worker, "PARSE_PROCESSES", 2)
    config, store = make(tmp_path, http_server, 3)
    try:
        def crash(states: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(store, "save_states", crash)
        with pytest.raises(OSError):
            run_cycle(config, store, Fetcher(), NOW)  # type: ignore[arg-type]
        monkeypatch.undo()
        monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
        assert store.states().get("s1") is None or store.state("s1").etag is None
        assert len(articles(store, "s1")) == 3  # stored by the worker all the same
        results = {r.source_id: r for r in run_cycle(config, store, Fetcher(), NOW)}  # type: ignore[arg-type]
        assert [(results[f"s{n}"].status, results[f"s{n}"].new) for n in range(3)] == [
            ("ok", 0)] * 3
        assert len(articles(store, "s1")) == 3
        assert all(len(http_server.requests_for(f"/{n}.rss")) == 2 for n in range(3))
    finally:
        store.close()
