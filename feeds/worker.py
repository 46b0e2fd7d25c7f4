"""A worker process of a cycle (:class:`feeds.poll.ParsePool`): while the cycle polls, it
parses a feed body, stores its articles (and their folded text for the topic index) in the
SQLite file and writes the source's feeds, in one job (:func:`ingest`); while it publishes,
it renders feeds and does the topic work (match pass, sketches, dedup).

Parsing and rendering are pure CPU work under the GIL, so threads cannot spread them over
cores. This process imports only what its jobs need (lxml, nh3, feedgen, sqlite3, the
model): no config, no SQLAlchemy, no HTTP client. Feed files are fsynced and renamed on a
thread of their own; :func:`drain` waits for them.

Each message is an 8-byte big-endian length and a pickle: a job name and its arguments
(``parse``, ``ingest``, ``render``, ``render_source``, ``drain``, ``fold``, and the topic jobs
``scan``, ``dedup``, ``sketch``; see :data:`JOBS`). Out: the job's result, a ParseFailure for
a feed that is not one, or ``("crash", traceback)``.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feeds.model import Article, Stored
    from feeds.render import BackgroundWriter, FeedSpec
    from feeds.sources.feed import FeedContext, ParsedFeed, ParseFailure


def render_file(fmt: str, spec: FeedSpec, base_url: str, author: str, empty_updated: datetime,
                path: str) -> bool:
    """Render ``spec`` as ``fmt`` and write it to ``path`` atomically; True if it changed.

    The file is in place once :func:`drain` returns (in the process that rendered it).
    """
    from feeds.render import RENDERERS

    data = RENDERERS[fmt](spec, base_url, author, empty_updated)
    return _writer().write(Path(path), data)


_background: BackgroundWriter | None = None


def _writer() -> BackgroundWriter:
    global _background
    if _background is None:
        from feeds.render import BackgroundWriter

        _background = BackgroundWriter()
    return _background


def drain() -> list[str]:
    """Wait until every feed file this process wrote is in place; the errors, as text."""
    return _background.drain() if _background is not None else []


@dataclass(frozen=True)
class SourceRender:
    """How to write a source's feeds where its articles are stored (:func:`ingest`): the
    source's settings that name its feed, and the output's."""

    ident: str
    title: str | None  # configured; else the publisher's, as polled
    page: str | None
    language: str | None
    conversion: str | None
    limit: int
    files: tuple[tuple[str, str], ...]  # (format, path)
    base_url: str
    author: str
    empty_updated: datetime


@dataclass(frozen=True)
class Rendered:
    """The feeds :func:`ingest` wrote: from ``meta`` at store ``revision``; per file whether
    it changed; the entry count and newest date (FeedSummary)."""

    meta: FeedSpec
    revision: int
    changed: tuple[bool, ...]
    count: int
    newest: datetime | None


@dataclass(frozen=True)
class Ingested:
    """What :func:`ingest` did: the feed as parsed, without its articles, how many of them
    were new, changed and unchanged, and the feeds written when asked to."""

    feed: ParsedFeed
    new: int
    updated: int
    unchanged: int
    rendered: Rendered | None = None


def ingest(path: str, body: bytes, context: FeedContext, content_type: str | None,
           now: datetime, render: SourceRender | None = None) -> Ingested | ParseFailure:
    """Parse a feed body and store its articles (with their folded text, when
    ``context.fold`` asks for it) in the SQLite store at ``path``, in one transaction;
    with ``render``, then write the source's feeds if something was new or changed.

    The articles never travel back to the cycle's process, which then saves the source's
    polling state: after the articles, so the validators never claim what is not stored.
    """
    from dataclasses import replace

    from feeds.rows import ARTICLE_SQL, upsert_rows, writing
    from feeds.sources.feed import ParseFailure, parse_feed_outcome

    parsed = parse_feed_outcome(body, context, content_type)
    if isinstance(parsed, ParseFailure):
        return parsed
    folded = parsed.folded_by_key()
    source_id = context.source_id
    with writing(path) as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM articles WHERE source_id = ?)", (source_id,))
        first = not cur.fetchone()[0]
        new, updated, unchanged = upsert_rows(
            cur, ARTICLE_SQL, "?", source_id, parsed.articles, now, folded,
            context.fold.seq if context.fold is not None else 0, first=first)
        if render is not None and (new or updated):
            cur.execute("SELECT title, link FROM sources WHERE id = ?", (source_id,))
            known = cur.fetchone() or (None, None)
            cur.execute(ARTICLE_SQL["revision"], (source_id,))
            revision = int(cur.fetchone()[0])
    done = Ingested(replace(parsed, articles=(), folded=None), new, updated, unchanged)
    if render is None or not (new or updated):
        return done
    from feeds.render import source_feed

    # The title and link the cycle records for the source: what the feed says, else what
    # it said before (feeds.poll.poll_source); publish_all then finds the same signatures.
    meta = source_feed(render.ident, render.title, parsed.title or known[0],
                       parsed.site_link or known[1],
                       render.page, render.language, render.conversion)
    entries = None
    if first:
        # The source's first articles: the feed is these, as the store now holds them
        # (Store.latest's order), without reading them back.
        entries = first_entries(source_id, parsed.articles, now, render.limit)
    changed, count, newest = render_source(path, source_id, render.limit, meta,
                                           list(render.files), render.base_url, render.author,
                                           render.empty_updated, entries)
    return replace(done, rendered=Rendered(meta, revision, tuple(changed), count, newest))


def first_entries(source_id: str, articles: Sequence[Article], now: datetime, limit: int
                  ) -> list[Stored]:
    """:func:`feeds.rows.latest_from_file` right after ``articles`` were stored as the first
    of their source: newest first by sort_ts (published, else first seen), the earlier in
    the document first among equals (rows.upsert_rows stores them last first; the store
    orders equals by id, later first); first seen ``now``. tests/test_worker.py holds the
    two equal."""
    from dataclasses import replace

    from feeds.model import Stored

    unique: dict[str, Article] = {}
    for article in articles:
        unique.setdefault(article.key, article)  # as rows.upsert_rows stores them
    now_ts = now.timestamp()
    order = sorted(enumerate(unique.values()), reverse=True, key=lambda pair: (
        pair[1].published.timestamp() if pair[1].published else now_ts, -pair[0]))
    return [Stored(source_id, replace(article, first_seen=now))
            for _, article in order[:limit]]


def render_source(path: str, source_id: str, limit: int, meta: FeedSpec,
                  files: list[tuple[str, str]], base_url: str, author: str,
                  empty_updated: datetime, entries: Sequence[Stored] | None = None
                  ) -> tuple[list[bool], int, datetime | None]:
    """Read a source's newest ``limit`` articles from the SQLite file at ``path`` (unless
    ``entries`` are those) and write its feed in each (format, file) of ``files``; per file
    whether it changed, then the entry count and newest date (FeedSummary) of the feed."""
    from dataclasses import replace

    from feeds.render import newest
    from feeds.rows import latest_from_file

    if entries is None:
        entries = latest_from_file(path, source_id, limit)
    spec = replace(meta, entries=entries)
    changed = [render_file(fmt, spec, base_url, author, empty_updated, target)
               for fmt, target in files]
    return changed, len(spec.entries), newest(spec.entries)


# Every job a worker process runs, by name: the module and function it calls. Modules load on
# a job's first use, so a worker that only parses never imports the topic or rendering code.
JOBS: dict[str, tuple[str, str]] = {
    "parse": ("feeds.sources.feed", "parse_feed_outcome"),
    "ingest": ("feeds.worker", "ingest"),
    "render": ("feeds.worker", "render_file"),
    "render_source": ("feeds.worker", "render_source"),
    "drain": ("feeds.worker", "drain"),
    "fold": ("feeds.folding", "fold_rows"),
    "scan": ("feeds.folding", "scan_range"),
    "dedup": ("feeds.folding", "dedup_feeds"),
    "sketch": ("feeds.folding", "sketch_range"),
}


def run_job(kind: str, args: Sequence[Any]) -> Any:
    """Job ``kind`` of :data:`JOBS` with ``args``, in this process (a worker, or the parent
    when it has none)."""
    if kind not in JOBS:
        raise ValueError(f"unknown job {kind!r}")
    module, name = JOBS[kind]
    return getattr(importlib.import_module(module), name)(*args)


def command(preload: bool = False) -> list[str]:
    """The command line of a worker process; ``preload`` imports what parsing, storing and
    rendering need before the first job instead of with it."""
    return [sys.executable, "-c", f"from feeds.worker import serve; serve(preload={preload})"]


def environment() -> dict[str, str]:
    """A worker's environment: the poller's import path, so that a checkout run without
    installing works too."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


# A cycle with at least PARSE_POOL_MIN_SOURCES sources has PARSE_PROCESSES worker processes
# (feeds.poll.cycle_pool); $FEEDS_PARSE_PROCESSES overrides (0: parse in the poll threads,
# with the least memory).
PARSE_PROCESSES = int(os.environ.get("FEEDS_PARSE_PROCESSES", "") or min(2, os.cpu_count() or 1))
PARSE_POOL_MIN_SOURCES = 50


def pool_size(sources: int) -> int:
    """How many worker processes a cycle over ``sources`` sources has (0: none)."""
    return PARSE_PROCESSES if PARSE_PROCESSES > 0 and sources >= PARSE_POOL_MIN_SOURCES else 0


# Worker processes started with the program, before the cycle that will use them exists.
_prestarted: list[subprocess.Popen[bytes]] = []


def prestart(count: int) -> None:
    """Start ``count`` worker processes now, importing what they need while this process
    imports the rest of the program; the cycle's pool takes them (:func:`take_prestarted`).

    For a cycle that will parse every source (a new store): their imports, about a third of a
    second, then overlap this process's instead of delaying the first parse.
    """
    for _ in range(count):
        _prestarted.append(subprocess.Popen(command(preload=True), stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, env=environment()))


def take_prestarted() -> subprocess.Popen[bytes] | None:
    """A worker process :func:`prestart` started, if one is left."""
    return _prestarted.pop() if _prestarted else None


def serve(preload: bool = False) -> None:
    """Answer jobs from stdin on stdout until the cycle closes the pipe."""
    # Ctrl-C is the poller's to handle; this process ends when the poller closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if preload:
        for module in ("feeds.rows", "feeds.sources.feed", "feeds.render"):
            importlib.import_module(module)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(8)
        if len(header) < 8:
            drain()  # the poller closed the pipe: the cycle is over, once the files are
            return
        message = pickle.loads(stdin.read(struct.unpack(">Q", header)[0]))
        try:
            outcome = run_job(message[0], message[1:])
        except Exception:
            outcome = ("crash", traceback.format_exc())
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(struct.pack(">Q", len(data)) + data)
        stdout.flush()
