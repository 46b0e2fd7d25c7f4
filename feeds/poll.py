"""One poll of one source, and one cycle over all of them.

The flow of a poll, as a pipeline::

    store.state | fetch (conditional GET) | skip if 304 or same body hash | parse | store.upsert

Expected per-source errors (SourceError) are recorded in the store and the cycle moves on;
an unexpected exception in one source is logged with its traceback and recorded too, so one
broken source never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import random
import select
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from feeds import worker as worker_module
from feeds.config import Config, Source
from feeds.errors import FeedsError, GoneError, ParseError, SourceError
from feeds.fetch import FetchCancelled, Fetcher, Response
from feeds.model import Article
from feeds.rows import Folding
from feeds.store import SourceState, Store, UpsertCounts

if TYPE_CHECKING:
    from feeds.folding import DedupRow
    from feeds.publish import EarlyPublisher
    from feeds.render import FeedSpec
    from feeds.sources.feed import FeedContext, ParsedFeed
    from feeds.worker import Ingested, SourceRender

log = logging.getLogger(__name__)

# The one source of randomness in scheduling (jitter); tests replace it.
draw_jitter: Callable[[], float] = random.random
# Unchanged sources whose states run_cycle saves in one transaction.
STATE_BATCH = 250


# Parsing is pure CPU work under the GIL, so threads cannot spread it over cores. A cycle over
# enough sources has worker processes (feeds.worker.pool_size) for its CPU work, while
# fetching stays in threads. The pool starts on the first body that needs parsing: a cycle of
# 304s starts none.
# The longest one job (parsing a feed, rendering one, a topic batch) may take in a worker.
WORKER_TIMEOUT = 300.0


class ParserProcess:
    """One :mod:`feeds.worker` child, spoken to over its stdin and stdout.

    A plain child with two pipes rather than multiprocessing: no resource tracker process,
    no queue threads, and a child that imports only what its jobs need.
    """

    def __init__(self) -> None:
        self.process = worker_module.take_prestarted() or subprocess.Popen(
            worker_module.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=worker_module.environment())

    def call(self, *message: object) -> object:
        """Send one job (see :mod:`feeds.worker`) and wait for its outcome."""
        assert self.process.stdin is not None and self.process.stdout is not None
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(struct.pack(">Q", len(data)) + data)
        self.process.stdin.flush()
        # A worker that stops answering must not hang the cycle: it is killed, and the pool
        # works in threads from then on.
        ready, _, _ = select.select([self.process.stdout], [], [], WORKER_TIMEOUT)
        if not ready:
            self.process.kill()
            raise OSError(f"no answer from the worker process in {WORKER_TIMEOUT:g}s")
        header = self.process.stdout.read(8)
        if len(header) < 8:
            raise EOFError("the worker process exited")
        return pickle.loads(self.process.stdout.read(struct.unpack(">Q", header)[0]))

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class ParsePool:
    """Worker processes (:mod:`feeds.worker`) for a cycle's CPU work, started on first use::

        pool = ParsePool(2)
        parsed = pool.parse(body, context, content_type)   # from any thread, while polling
        changed = pool.render("atom", spec, base_url, author, empty_updated, path)  # publishing
        pool.close()

    If a worker process dies, the work goes on in the calling threads.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._idle: queue.Queue[ParserProcess] = queue.Queue()
        self._started: list[ParserProcess] = []
        self._broken = False
        # A worker process died since the last drain(): files it had left to write may be
        # missing.
        self._lost = False
        self._lock = threading.Lock()

    def _run(self, message: tuple[object, ...], local: Callable[[], object]) -> object:
        """The outcome of ``message`` in a worker process, or of ``local()`` without one."""
        with self._lock:
            if not self._started and not self._broken:
                try:
                    self._started = [ParserProcess() for _ in range(self.processes)]
                except OSError as e:
                    log.warning("cannot start a worker process (%s); working in threads", e)
                    self._broken = True
                for worker in self._started:
                    self._idle.put(worker)
            broken = self._broken
        if broken:
            return local()
        worker = self._idle.get()
        try:
            outcome = worker.call(*message)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            log.warning("a worker process failed (%s); working in threads from now on", e)
            with self._lock:
                self._broken = self._lost = True
            return local()
        finally:
            self._idle.put(worker)  # whatever happened, or the other threads wait forever
        if isinstance(outcome, tuple) and outcome and outcome[0] == "crash":
            raise RuntimeError(f"worker process crashed: {outcome[1]}")
        return outcome

    def call(self, kind: str, *args: object) -> Any:
        """Job ``kind`` of :data:`feeds.worker.JOBS` in a worker process (here without one).
        A feed that is not one (a ParseFailure from the worker) raises ParseError here."""
        outcome = self._run((kind, *args), lambda: worker_module.run_job(kind, args))
        if kind in ("parse", "ingest"):
            from feeds.sources.feed import ParseFailure

            if isinstance(outcome, ParseFailure):
                raise ParseError(outcome.source_id, outcome.url, outcome.message)
        return outcome

    def parse(self, body: bytes, context: FeedContext, content_type: str | None) -> ParsedFeed:
        return cast("ParsedFeed", self.call("parse", body, context, content_type))

    def ingest(self, path: str, body: bytes, context: FeedContext, content_type: str | None,
               now: datetime, render: SourceRender | None = None) -> Ingested:
        """:func:`feeds.worker.ingest`: parse a feed and store its articles in ``path``
        (and write its feeds, with ``render``)."""
        return cast("Ingested", self.call("ingest", path, body, context, content_type, now,
                                          render))

    # Typed names of the other jobs, for their callers (and tests that count them).

    def fold(self, rows: Sequence[Sequence[str | None]], wanted: Sequence[bool]) -> list[str]:
        """:func:`feeds.folding.fold_rows`."""
        return cast(list[str], self.call("fold", rows, wanted))

    def scan(self, path: str, words: Sequence[str],
             regexes: Sequence[tuple[str, tuple[int, ...], int | None, int]], ids: bytes,
             positions: bytes, size: int
             ) -> tuple[dict[tuple[int, int], bytearray], list[bytearray]]:
        """:func:`feeds.folding.scan_range`: a topic match pass over some articles, read from
        the store file."""
        return cast(tuple[dict[tuple[int, int], bytearray], list[bytearray]],
                    self.call("scan", path, words, regexes, ids, positions, size))

    def dedup(self, candidates: Mapping[int, DedupRow],
              feeds: Sequence[tuple[int, Sequence[int]]]
              ) -> list[tuple[list[list[int]], list[int], bool, int]]:
        """:func:`feeds.folding.dedup_feeds`: topic feeds' dedup."""
        return cast(list[tuple[list[list[int]], list[int], bool, int]],
                    self.call("dedup", candidates, feeds))

    def sketch(self, path: str, ids: bytes) -> list[tuple[int, str, str | None, bytes, int]]:
        """:func:`feeds.folding.sketch_range`: near-duplicate sketches."""
        return cast(list[tuple[int, str, str | None, bytes, int]],
                    self.call("sketch", path, ids))

    def render_source(self, path: str, source_id: str, limit: int, meta: FeedSpec,
                      files: list[tuple[str, str]], base_url: str, author: str,
                      empty_updated: datetime) -> tuple[list[bool], int, datetime | None]:
        """:func:`feeds.worker.render_source`: a source's feeds from the store file."""
        return cast(tuple[list[bool], int, datetime | None],
                    self.call("render_source", path, source_id, limit, meta, files, base_url,
                              author, empty_updated))

    def render(self, fmt: str, spec: FeedSpec, base_url: str, author: str,
               empty_updated: datetime, path: Path) -> bool:
        """:func:`feeds.worker.render_file`: ``spec`` rendered and written to ``path``."""
        return cast(bool, self.call("render", fmt, spec, base_url, author, empty_updated,
                                    str(path)))

    def drain(self) -> bool:
        """Wait until the feed files every worker process (and this process, when it works
        in threads) wrote are in place (:func:`feeds.worker.drain`); raise OSError naming
        the ones that could not be written. False if a worker process died since the last
        drain: what it had left to write may be missing. Call it with no job in flight."""
        errors = list(worker_module.drain())
        with self._lock:
            started, broken = list(self._started), self._broken
        if started and not broken:
            taken = [self._idle.get() for _ in started]  # every worker, each idle
            try:
                for process in taken:
                    outcome = process.call("drain")
                    if not isinstance(outcome, list):
                        raise OSError(f"drain answered {outcome!r}")
                    errors += outcome
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                log.warning("a worker process failed while writing feed files (%s)", e)
                with self._lock:
                    self._broken = self._lost = True  # as in _run: on in threads
            finally:
                for process in taken:
                    self._idle.put(process)
        with self._lock:
            lost, self._lost = self._lost, False
        if errors:
            raise OSError(f"cannot write {len(errors)} feed file(s): " + "; ".join(errors[:3]))
        return not lost

    def close(self) -> None:
        with self._lock:
            started, self._started = self._started, []
        for worker in started:
            worker.close()


def cycle_pool(sources: int) -> ParsePool | None:
    """Worker processes for a cycle over ``sources`` sources, if it is worth them."""
    processes = worker_module.pool_size(sources)
    return ParsePool(processes) if processes else None


# The pool of the cycle that run_cycle is running, if any (collect_feed uses it).
_parse_pool: ParsePool | None = None
# What writes source feeds while the running cycle polls (feeds.publish.EarlyPublisher).
_early_publisher: EarlyPublisher | None = None
# The fields the topic index holds, when the running cycle folds articles as it parses them
# (asked for when the first feed is parsed: a cycle of 304s never opens the index).
_fold_fields: Callable[[], Folding | None] | None = None


def _once(make: Callable[[], Folding | None]) -> Callable[[], Folding | None]:
    """``make()``, called once by the first thread that asks. If it fails, nothing is folded
    while polling (the topic index folds the articles later, and reports its own errors)."""
    lock = threading.Lock()
    made: list[Folding | None] = []

    def get() -> Folding | None:
        with lock:
            if not made:
                try:
                    made.append(make())
                except Exception:
                    log.warning("cannot prepare the topic index; articles are folded when "
                                "it is updated", exc_info=True)
                    made.append(None)
            return made[0]

    return get


@dataclass(frozen=True)
class PollResult:
    """What one poll did, for the summary table, the log and the scheduler."""

    source_id: str
    status: str  # "ok", "not modified", "failed", "gone"; "waiting": not polled (Retry-After)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    duration: float = 0.0
    next_due: datetime | None = None
    moved_to: str | None = None
    error_kind: str | None = None  # the error's class name: FetchError, ParseError, ...

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "gone")


@dataclass(frozen=True)
class Collected:
    """A collector's articles with the publisher's hint on how often to poll (RSS ``<ttl>``)."""

    articles: Sequence[Article]
    ttl: timedelta | None = None
    # The publisher's own name and home page, for the feed we write when the config has none.
    title: str | None = None
    link: str | None = None
    # False when some items were left for later (a dead article link, the per-poll fetch
    # cap): the validators are then not kept, so the next poll reads the listing again
    # even if it has not changed.
    complete: bool = True
    # Each article's folded text for the topic index by its key, when folded, and the index
    # sequence number its rows get (Folding.seq).
    folded: Mapping[str, str] | None = None
    fold_seq: int = 0
    # Set when the articles are stored already (a worker process parsed and stored them):
    # what the upsert counted. ``articles`` is then empty.
    stored: UpsertCounts | None = None


Collector = Callable[
    [Source, Config, Response, Fetcher, Store, datetime], Sequence[Article] | Collected
]


def parse_feed(body: bytes, context: FeedContext, content_type: str | None = None
               ) -> ParsedFeed:
    """:func:`feeds.sources.feed.parse_feed`, imported when a cycle first parses in this
    process: a cycle of 304s, or one whose worker processes parse, never loads the parsers."""
    from feeds.sources.feed import parse_feed as parse

    return parse(body, context, content_type)


def collect_feed(
    source: Source, config: Config, response: Response, fetcher: Fetcher, store: Store,
    now: datetime,
) -> Sequence[Article] | Collected:
    from feeds.sources.feed import FeedContext

    context = FeedContext(
        source_id=source.id,
        url=response.url,
        timezone=config.timezone(source),
        language=source.language,
        convert=source.convert,
        # Full text replaces what the feed gave: those articles are folded when indexed.
        fold=_fold_fields() if _fold_fields is not None and not source.full_text else None,
    )
    pool, path = _parse_pool, store.sqlite_file
    stored = None
    if pool is not None and path is not None and not source.full_text:
        # Parsed and stored in one job of a worker process (the articles never come here),
        # which also writes the source's feeds when the cycle publishes early.
        early = _early_publisher
        render = early.request(source) if early is not None else None
        done = pool.ingest(path, response.body, context, response.content_type, now, render)
        parsed, stored = done.feed, UpsertCounts(done.new, done.updated, done.unchanged)
        if early is not None and render is not None and done.rendered is not None:
            early.rendered(render, done.rendered)
    else:
        parsed = (pool.parse if pool is not None else parse_feed)(
            response.body, context, response.content_type)
    if parsed.warning:
        log.debug("%s: feed has errors but was read: %s", source.id, parsed.warning)
    ttl = timedelta(minutes=parsed.ttl_minutes) if parsed.ttl_minutes else None
    articles: Sequence[Article] = parsed.articles
    if source.full_text:
        from feeds.fetch import is_local
        from feeds.sources.page import fill_full_text

        articles = fill_full_text(source, config, articles, fetcher, store, now,
                                  allow_file=is_local(response.url))
    return Collected(articles, ttl, parsed.title, parsed.site_link,
                     folded=parsed.folded_by_key(),
                     fold_seq=context.fold.seq if context.fold is not None else 0,
                     stored=stored)


def collector_for(source: Source) -> Collector:
    if source.kind == "feed":
        return collect_feed
    from feeds.sources.page import collect_page

    return collect_page


def effective_interval(interval: timedelta, hint_seconds: float | None, cap: timedelta
                       ) -> timedelta:
    """Cache-Control max-age and RSS ``<ttl>`` may lengthen the interval, never shorten it.

    The hint is bounded by the backoff cap so that a huge max-age cannot silence a source.
    """
    if not hint_seconds:
        return interval
    return max(interval, min(timedelta(seconds=hint_seconds), max(cap, interval)))


def next_due_after(now: datetime, interval: timedelta, failures: int, cap: timedelta,
                   retry_after: datetime | None = None, jitter: float = 0.0) -> datetime:
    """When to poll next: the interval, doubled per consecutive failure up to ``cap``.

    The backoff never drops below the interval (a cap shorter than the interval does not
    make a failing source polled more often), a Retry-After time is always honoured, and
    ``jitter`` (a fraction drawn by the caller, 0..1) spreads sources that share an interval.
    """
    backoff = max(interval, min(interval * (2 ** min(failures, 30)), cap))
    wait = interval if failures == 0 else backoff
    due = now + max(wait, timedelta(0)) * (1.0 + max(jitter, 0.0))
    return max(due, retry_after) if retry_after else due


def cron_due_after(expression: str, timezone: tzinfo, after: datetime) -> datetime:
    """The first time at or after ``after`` that a crontab ``expression`` names."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone=timezone)
    due: datetime | None = trigger.get_next_fire_time(None, after)
    if due is None:  # an expression that never fires again: fall back to the default interval
        return after + timedelta(days=1)
    return due


def source_due_after(
    now: datetime, source: Source, config: Config, *, failures: int = 0,
    retry_after: datetime | None = None, hint_seconds: float | None = None, jitter: float = 0.0,
) -> datetime:
    """When ``source`` is due again after a poll at ``now``: interval or cron, backoff, hints.

    A cron source runs at its cron times; after failures, at the first cron time after the
    backoff (counted from the default interval).
    """
    cap = config.defaults.max_backoff
    interval = effective_interval(config.interval(source), hint_seconds, cap)
    if source.cron:
        if failures == 0 and retry_after is None:
            return cron_due_after(source.cron, config.timezone(source), now)
        earliest = next_due_after(now, interval, failures, cap, retry_after)
        return cron_due_after(source.cron, config.timezone(source), earliest)
    return next_due_after(now, interval, failures, cap, retry_after, jitter)


def poll_source(
    source: Source, config: Config, fetcher: Fetcher, store: Store, now: datetime,
    *, state: SourceState | None = None,
    save_unchanged: Callable[[SourceState], None] | None = None,
) -> PollResult:
    """Fetch, parse and store one source; record success or failure in the store.

    ``state`` is the source's stored state when the caller has read it already (a cycle
    reads every state at once); ``save_unchanged`` saves the state of a poll that found
    nothing new (a cycle batches these into one transaction), by default at once.

    FetchCancelled (the service is stopping) propagates and leaves the state untouched, so
    the source stays due and is polled first after a restart.
    """
    started = time.monotonic()
    if state is None:
        state = store.state(source.id)
    save = save_unchanged or store.save_state
    if source.kind == "page" and source.robots:
        fetcher = fetcher.obeying_robots()
    jitter = config.defaults.jitter * draw_jitter()
    try:
        response = fetcher.get(
            source.location,
            source_id=source.id,
            etag=state.etag,
            last_modified=state.last_modified,
            headers=source.headers,
            proxy=source.proxy,
            # The configured guard; Fetcher.get alone would allow loopback and private hosts.
            allow_private=config.allow_private(source),
            timeout=config.defaults.timeout.total_seconds(),
            max_bytes=config.defaults.max_bytes,
        )
        success = replace(
            state,
            last_attempt=now,
            last_success=now,
            last_error=None,
            failing_since=None,
            failures=0,
            retry_after=None,
            moved_to=response.moved_to,
            gone=False,
        )
        body_hash = "" if response.not_modified else response.body_hash
        if response.not_modified or body_hash == state.body_hash:
            # Same document: its <ttl> still stands unless the server sent a new max-age.
            hint = response.max_age if response.max_age is not None else state.interval_hint
            success = replace(success, interval_hint=hint, next_due=source_due_after(
                now, source, config, hint_seconds=hint, jitter=jitter))
        if response.not_modified:
            save(success)
            return PollResult(source.id, "not modified", duration=time.monotonic() - started,
                              next_due=success.next_due, moved_to=response.moved_to)
        success = replace(
            success,
            etag=response.etag,
            last_modified=response.last_modified,
            body_hash=body_hash,
        )
        if body_hash == state.body_hash:
            save(success)
            return PollResult(source.id, "not modified", duration=time.monotonic() - started,
                              next_due=success.next_due, moved_to=response.moved_to)
        collected = collector_for(source)(source, config, response, fetcher, store, now)
        articles, ttl = (
            (collected.articles, collected.ttl) if isinstance(collected, Collected)
            else (collected, None)
        )
        folded, fold_seq = None, 0
        if isinstance(collected, Collected):
            folded, fold_seq = collected.folded, collected.fold_seq
        if isinstance(collected, Collected):
            success = replace(success, title=collected.title or success.title,
                              link=collected.link or success.link)
            if not collected.complete:
                success = replace(success, etag=None, last_modified=None, body_hash=None)
        hints = [h for h in (response.max_age, ttl.total_seconds() if ttl else None) if h]
        hint = max(hints) if hints else None
        success = replace(success, interval_hint=hint, next_due=source_due_after(
            now, source, config, hint_seconds=hint, jitter=jitter))
        if isinstance(collected, Collected) and collected.stored is not None:
            # Stored already (collect_feed): the validators follow the articles, batched
            # with the cycle's other states (a crash before then only means a poll again).
            save(success)
            counts = collected.stored
        else:
            counts = store.upsert(source.id, articles, now, success, folded=folded,
                                  seq=fold_seq)
        return PollResult(
            source.id, "ok", counts.new, counts.updated, counts.unchanged,
            duration=time.monotonic() - started, next_due=success.next_due,
            moved_to=response.moved_to,
        )
    except FetchCancelled:
        raise
    except FeedsError as e:  # expected: recorded, shown in status, the cycle moves on
        return _record_failure(source, config, store, state, now, e, started)
    except Exception as e:
        log.exception("%s: unexpected error while polling %s", source.id, source.location)
        return _record_failure(source, config, store, state, now, e, started)


def _record_failure(
    source: Source, config: Config, store: Store, state: SourceState, now: datetime,
    error: Exception, started: float,
) -> PollResult:
    message = str(error) if isinstance(error, FeedsError) else f"internal error: {error!r}"
    if isinstance(error, SourceError):
        message = error.message
    gone = isinstance(error, GoneError)
    failures = state.failures + 1
    retry_after = None
    seconds = getattr(error, "retry_after", None)
    if seconds:
        retry_after = now + timedelta(seconds=seconds)
    next_due = None if gone else source_due_after(
        now, source, config, failures=failures, retry_after=retry_after,
        hint_seconds=state.interval_hint, jitter=config.defaults.jitter * draw_jitter(),
    )
    failed = replace(
        state,
        last_attempt=now,
        last_error=message,
        last_error_at=now,
        failing_since=state.failing_since or now,
        failures=failures,
        next_due=next_due,
        retry_after=retry_after,
        gone=gone,
    )
    store.save_state(failed)
    # The service logs every poll's outcome and `run --once` lists it: one line, not two.
    log.debug("%s: %s", source.id, message)
    return PollResult(
        source.id, "gone" if gone else "failed", error=message,
        duration=time.monotonic() - started, next_due=next_due, error_kind=type(error).__name__,
    )


def run_cycle(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    now: datetime,
    *,
    sources: Sequence[Source] | None = None,
    workers: int = 4,
    on_result: Callable[[PollResult], None] | None = None,
    pool: ParsePool | None = None,
    fold: Callable[[], Folding | None] | None = None,
    early: EarlyPublisher | None = None,
) -> list[PollResult]:
    """Poll every enabled source once (in parallel threads) and return the results in order.

    The states are read once, and the states of polls that found nothing new (mostly 304s)
    are saved in batches: a warm cycle over 1,000 sources is then a few transactions, not
    1,000. A crash loses at most one batch of "last success" times, which only makes those
    sources due again. Feed bodies are parsed in ``pool``, or in a pool of the cycle's own
    when there are enough sources (:func:`cycle_pool`). With ``fold`` (giving the fields
    the topic index holds, :meth:`feeds.topics.Index.prepare`; called once, when the first
    feed is parsed), each feed's articles are folded where they are parsed and stored with
    their folded text, so that the topic index need not read them back. With ``early``,
    the worker process that stores a feed's articles writes the source's feeds too.
    """
    todo = [s for s in (sources if sources is not None else config.sources) if s.enabled]
    states = store.states()
    pending: list[SourceState] = []
    lock = threading.Lock()

    def flush() -> None:
        with lock:
            batch = pending[:]
            pending.clear()
        if batch:
            store.save_states(batch)

    def save_unchanged(state: SourceState) -> None:
        with lock:
            pending.append(state)
            full = len(pending) >= STATE_BATCH
        if full:
            flush()

    def one(source: Source) -> PollResult:
        result = poll_source(source, config, limited, store, now,
                             state=states.get(source.id) or SourceState(source.id),
                             save_unchanged=save_unchanged)
        if on_result:
            on_result(result)
        return result

    global _parse_pool, _fold_fields, _early_publisher
    _fold_fields = _once(fold) if fold is not None else None
    _early_publisher = early
    own_pool = pool is None and _parse_pool is None
    if own_pool:
        pool = cycle_pool(len(todo))
    if pool is not None:
        _parse_pool = pool
    # ``workers`` requests in flight at most, from as many threads: a thread waits while a
    # worker process parses and stores what it fetched. With few workers, one thread more
    # than there are processes, so that fetching goes on meanwhile. (More threads only
    # contend for this process's lock: it does little else than fetch.)
    workers = max(1, workers)
    limited = fetcher.limited(threading.BoundedSemaphore(workers))
    threads_wanted = max(workers, pool.processes + 1) if pool is not None else workers
    try:
        with ThreadPoolExecutor(max_workers=threads_wanted, thread_name_prefix="poll") as threads:
            return list(threads.map(one, todo))
    finally:
        _fold_fields = _early_publisher = None
        if pool is not None:
            _parse_pool = None
            if own_pool:
                pool.close()
        flush()
