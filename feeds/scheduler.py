"""The background service: APScheduler in the foreground, one job per source.

The flow, as a pipeline::

    store.next_due | one APScheduler date job per source | poll_source | store | publish

Due times live in the store (``SourceState.next_due``, written in the same transaction as a
poll's articles), so a restart polls only what is due, and a pending retry survives it. Each
poll re-adds its source's job at the new due time, so a source is never polled twice at once
(``max_instances=1`` and a set of running sources guard it too). Publishing is debounced: a
publish job rewrites the feeds at most every ``publish_every`` seconds, and only after a poll
changed something; ``write_atomic`` skips files whose bytes did not change.

The decisions (:func:`initial_due`, :func:`health_event`, ``poll.source_due_after``) are
pure functions of ``now``, the stored state and the config; :class:`Service` takes one clock
(``clock``) that tests replace.

Signals: SIGTERM/SIGINT stop (in-flight polls get ``stop_grace`` seconds, requests waiting for
their host are abandoned, state is already saved per poll; exit 0); SIGHUP reloads the config
(an invalid one is refused and the running one is kept). A lock file next to the store and
one in the output directory stop a second service from sharing them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import html
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from feeds.config import Config, Source, load_config
from feeds.errors import ConfigError, LockedError, StoreError
from feeds.fetch import FetchCancelled, Fetcher, HostLimiter
from feeds.model import Article
from feeds.poll import (
    ParsePool,
    PollResult,
    cycle_pool,
    draw_jitter,
    poll_source,
    run_cycle,
    source_due_after,
)
from feeds.publish import EarlyPublisher, FeedSpec, publish_all, render_atom, write_atomic
from feeds.store import HealthEvent, SourceState, Store, Stored

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from feeds.rows import Folding

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_STORE = 3

STOP_GRACE = 10.0  # seconds in-flight polls get to finish after SIGTERM
PUBLISH_EVERY = 2.0  # seconds between checks whether the feeds need rewriting
NEW_SOURCE_SPREAD = timedelta(minutes=1)  # new or overdue sources start within this, by jitter
HEALTH_ENTRIES = 100
HEALTH_FILE = "health.atom"
PUBLISH_JOB = "__publish__"  # cannot clash with a source id (they start with a letter or digit)


def utc_now() -> datetime:
    """The real clock; :class:`Service` takes another one in tests."""
    return datetime.now(UTC)


# -- pure decisions --------------------------------------------------------------------------


def initial_due(
    now: datetime, source: Source, state: SourceState | None, config: Config, jitter: float
) -> datetime | None:
    """When a source is first due at start-up, or when it appears in the config.

    None means: do not schedule it (disabled, or gone). A stored due time in the future is
    kept exactly, so a restart polls nothing early and forgets no Retry-After; a new or
    overdue source starts soon, spread by ``jitter`` (0..1) so they do not all start at once.
    """
    if not source.enabled or (state is not None and state.gone):
        return None
    soon = now + min(config.interval(source), NEW_SOURCE_SPREAD) * jitter
    if state is None or state.next_due is None:
        return soon
    due = state.next_due
    if state.retry_after is not None:
        due = max(due, state.retry_after)
    return due if due > now else soon


def changed_schedule_due(
    now: datetime, old: Source, new: Source, state: SourceState | None, config: Config
) -> datetime | None:
    """After a reload changed a source's interval or cron: the sooner of the stored due time
    and the new schedule counted from the last poll (a shorter interval applies at once)."""
    if state is None or state.last_attempt is None or state.failures or state.next_due is None:
        return None
    due = source_due_after(state.last_attempt, new, config, hint_seconds=state.interval_hint)
    return max(min(due, state.next_due), now)


def publish_at_start(states: Mapping[str, SourceState]) -> bool:
    """Whether the service publishes as it starts (the config may have changed while it was
    down): not on a store no source was ever polled into, whose feeds would be written
    empty a moment before the first polls fill them (the first poll asks for publishing)."""
    return any(state.last_success for state in states.values())


def health_event(before: SourceState, result: PollResult, now: datetime) -> HealthEvent | None:
    """The health change a poll caused, if any: failing, broken (rules or parsing), gone,
    or recovered. Only transitions count, so a source failing for days is one entry."""
    sid = result.source_id
    if result.status == "gone":
        if before.gone:
            return None
        return HealthEvent(sid, now, "gone",
                           f"{result.error}; polling stopped, remove the source from the config")
    if result.failed:
        if before.failures:
            return None
        if result.error_kind == "ParseError":
            return HealthEvent(sid, now, "broken", f"cannot read the source: {result.error}")
        return HealthEvent(sid, now, "failing", f"polling failed: {result.error}")
    if before.failures or before.gone:
        since = before.failing_since.isoformat() if before.failing_since else "earlier"
        return HealthEvent(sid, now, "recovered",
                           f"polled successfully again after failing since {since}")
    return None


_HEALTH_TITLES = {
    "failing": "{} is failing",
    "broken": "{}: cannot read the source (rules or format)",
    "gone": "{} is gone",
    "recovered": "{} recovered",
}


def health_spec(config: Config, events: Sequence[HealthEvent]) -> FeedSpec:
    """health.atom: one entry per health change, newest first; never mixed into content feeds."""
    entries = []
    for event in events:
        title = _HEALTH_TITLES.get(event.kind, "{}: " + event.kind).format(event.source_id)
        article = Article(
            key=f"health:{event.id}:{event.kind}",
            url=None,
            canonical_url=None,
            title=title,
            summary=event.message,
            # RFC 4287 §4.1.1.1: an entry without an alternate link needs content.
            content_html=f"<p>{html.escape(event.message)}</p>",
            published=event.at,
            first_seen=event.at,
        )
        entries.append(Stored(event.source_id, article))
    return FeedSpec(
        kind="",
        ident="health",
        title=f"{config.output.title}: source health",
        subtitle="Sources that start failing, recover, are gone, or whose rules stop matching",
        entries=entries,
    )


def recording_metrics() -> Any:
    """feeds.metrics if this process has loaded it, else None.

    Its counters are read only through /metrics, and serve.py imports it; a process that
    serves nothing (``feeds run --once``, a service without --serve) does not load
    prometheus_client just to count.
    """
    return sys.modules.get("feeds.metrics")


# -- the lock --------------------------------------------------------------------------------


def lock_paths(config: Config) -> list[Path]:
    """A lock file next to the SQLite store (not for a database URL) and one in the output."""
    paths = []
    if "://" not in config.store.path:
        store = config.store_path
        paths.append(store.with_name(store.name + ".lock"))
    paths.append(config.output_dir / ".feeds.lock")
    return paths


@contextlib.contextmanager
def service_lock(config: Config) -> Iterator[None]:
    """Hold exclusive fcntl locks on :func:`lock_paths`; raise LockedError if another process
    holds one. The kernel drops them when the process dies, even after kill -9."""
    fds: list[int] = []
    try:
        for path in lock_paths(config):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                raise LockedError(
                    f"another feeds service (pid {holder}) is using {path.parent} "
                    f"(lock file {path}); stop it first, or give this one its own store and "
                    "output directory"
                ) from e
            if path.parent != config.output_dir:
                # The pid helps the message above; the output lock stays untouched so a
                # cycle that changes nothing changes no mtime in the output directory.
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        for fd in fds:
            os.close(fd)


# -- the service -----------------------------------------------------------------------------


def make_service_fetcher(config: Config, limiter: HostLimiter) -> Fetcher:
    return Fetcher(
        base_dir=Path(config.base_dir),
        timeout=config.defaults.timeout.total_seconds(),
        max_bytes=config.defaults.max_bytes,
        max_redirects=config.defaults.max_redirects,
        limiter=limiter,
    )


class Service:
    """Polls every source on its schedule until :meth:`stop`. Usage::

        service = Service(path, config, workers=4)
        service.start()
        ...
        service.reload()   # on SIGHUP
        service.stop()     # on SIGTERM
    """

    def __init__(
        self,
        config_path: Path,
        config: Config,
        *,
        workers: int | None = None,
        clock: Callable[[], datetime] = utc_now,
        publish_every: float = PUBLISH_EVERY,
        store: Store | None = None,
    ) -> None:
        self.config_path = config_path
        self.config = config
        self.clock = clock
        self.workers = workers or config.defaults.workers
        self.store = store or Store.open(config.store_path)
        self.limiter = HostLimiter(config.defaults.per_host,
                                   config.defaults.host_delay.total_seconds())
        self.fetcher = make_service_fetcher(config, self.limiter)
        self._scheduler: BackgroundScheduler | None = None
        self.publish_every = publish_every
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._stopping = False
        self._dirty = True  # publish once at start: the config may have changed while down
        self.polls = 0

    # -- scheduling

    @property
    def scheduler(self) -> BackgroundScheduler:
        """The APScheduler of the service, made on first use (``run_once`` needs none)."""
        if self._scheduler is None:
            from apscheduler.executors.pool import ThreadPoolExecutor
            from apscheduler.schedulers.background import BackgroundScheduler

            self._scheduler = BackgroundScheduler(
                executors={
                    "default": ThreadPoolExecutor(self.workers),
                    "publish": ThreadPoolExecutor(1),
                },
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
                timezone=UTC,
            )
        return self._scheduler

    def _schedule(self, source_id: str, due: datetime) -> None:
        from apscheduler.triggers.date import DateTrigger

        self.scheduler.add_job(
            self._poll_job, trigger=DateTrigger(run_date=due), args=[source_id],
            id=source_id, name=f"poll {source_id}", replace_existing=True,
        )

    def _unschedule(self, source_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(source_id)

    def due_times(self) -> dict[str, datetime]:
        """The scheduled due time of each source (for tests and debugging)."""
        from apscheduler.triggers.date import DateTrigger

        return {
            job.id: job.trigger.run_date for job in self.scheduler.get_jobs()
            if isinstance(job.trigger, DateTrigger)
        }

    def start(self) -> None:
        now = self.clock()
        states = self.store.states()
        self._dirty = publish_at_start(states)
        scheduled = 0
        for source in self.config.sources:
            due = initial_due(now, source, states.get(source.id), self.config,
                              self.config.defaults.jitter * draw_jitter())
            if due is not None:
                self._schedule(source.id, due)
                scheduled += 1
        self.scheduler.add_job(
            self._publish_job, "interval", seconds=self.publish_every, id=PUBLISH_JOB,
            executor="publish", next_run_time=now,
        )
        self.scheduler.start()
        log.info(
            "feeds service started: %d sources (%d scheduled), %d workers, %d request(s) per "
            "host, %gs between requests",
            len(self.config.sources), scheduled, self.workers,
            self.config.defaults.per_host, self.config.defaults.host_delay.total_seconds(),
        )

    # -- jobs

    def _poll_job(self, source_id: str) -> None:
        with self._lock:
            if self._stopping or source_id in self._running:
                return
            self._running.add(source_id)
        try:
            self._poll(source_id)
        finally:
            with self._lock:
                self._running.discard(source_id)

    def _poll(self, source_id: str) -> None:
        config = self.config
        try:
            source = config.source(source_id)
        except KeyError:
            return  # removed by a reload after the job was queued
        if not source.enabled:
            return
        now = self.clock()
        try:
            before = self.store.state(source_id)
            result = poll_source(source, config, self.fetcher, self.store, now)
            event = health_event(before, result, now)
            if event is not None:
                self.store.add_health_event(event)
        except FetchCancelled:
            log.info("poll %s: abandoned, the service is stopping; it stays due", source_id)
            return
        except Exception:
            # The store itself failed (disk full, locked): retry later, never give up.
            log.exception("poll %s: could not record the poll; retrying in one interval",
                          source_id)
            self._reschedule(source_id, now + config.interval(source))
            return
        self.polls += 1
        metrics = recording_metrics()
        if metrics is not None:
            metrics.record_poll(result)
        note = f" ({result.error})" if result.error else ""
        if result.moved_to:
            note += f" (moved to {result.moved_to}; update the config)"
        log.info(
            "poll %s: %s, %d new, %d updated, %.2fs, next due %s%s",
            source_id, result.status, result.new, result.updated, result.duration,
            result.next_due.isoformat(timespec="seconds") if result.next_due else "never (gone)",
            note,
        )
        if result.new or result.updated or event is not None or before.last_success is None:
            self._dirty = True
        if result.next_due is not None:
            self._reschedule(source_id, result.next_due)

    def run_once(self, on_result: Callable[[PollResult], None] | None = None
                 ) -> tuple[list[PollResult], list[Path]]:
        """One cycle over every enabled source, then publish (``feeds run --once``).

        The same politeness, health events and metrics as the service, so a cron job running
        ``--once`` behaves like the service it replaces.
        """
        now = self.clock()
        before = self.store.states()
        metrics = recording_metrics()

        by_id = {s.id: s for s in self.config.sources}  # Config.source walks the list

        def record(result: PollResult) -> None:
            if early is not None and (result.new or result.updated):
                try:
                    early.source_stored(by_id[result.source_id])
                except Exception:
                    # publish() writes it then; it logs a lasting failure there.
                    log.debug("%s: early publishing failed", result.source_id, exc_info=True)
            event = health_event(before.get(result.source_id) or SourceState(result.source_id),
                                 result, now)
            if event is not None:
                self.store.add_health_event(event)
            if metrics is not None:
                metrics.record_poll(result)
            if on_result is not None:
                on_result(result)

        started = time.monotonic()
        # One set of worker processes parses while polling and renders the feeds of the
        # sources polled so far, then renders the rest while publishing.
        pool = cycle_pool(sum(1 for s in self.config.sources if s.enabled))
        early = EarlyPublisher(self.config, self.store, pool) if pool is not None else None
        fold = None
        if self.config.topics or any(s.filter for s in self.config.sources):
            def fold() -> Folding | None:
                from feeds.topics import Index

                return Index(self.config, self.store).prepare()
        # A source whose server asked to wait (429/503 with Retry-After) is not asked again
        # before then, as the service would not: a cron job's next run polls it.
        waiting = {s.id: state.retry_after for s in self.config.sources
                   if s.enabled and (state := before.get(s.id)) is not None
                   and state.retry_after is not None and state.retry_after > now}
        try:
            results = run_cycle(self.config, self.store, self.fetcher, now,
                                sources=[s for s in self.config.sources if s.id not in waiting],
                                workers=self.workers, on_result=record, pool=pool, fold=fold,
                                early=early)
            for source_id, until in waiting.items():
                note = (f"not polled: the server asked to wait until "
                        f"{until.isoformat(timespec='seconds')} (Retry-After)")
                results.append(PollResult(source_id, "waiting", error=note, next_due=until))
                if on_result is not None:
                    on_result(results[-1])
            elapsed = time.monotonic() - started
            log.info("polled %d source(s) in %.1fs", len(results), elapsed)
            if metrics is not None:
                metrics.record_cycle(elapsed)
            return results, self.publish(pool, early)
        finally:
            if pool is not None:
                pool.close()

    def close(self) -> None:
        self.fetcher.close()
        self.store.close()

    def _reschedule(self, source_id: str, due: datetime) -> None:
        with self._lock:
            if self._stopping:
                return
        try:
            source = self.config.source(source_id)
        except KeyError:
            return
        if source.enabled:
            self._schedule(source_id, due)

    def _publish_job(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        try:
            self.publish()
        except Exception:
            self._dirty = True
            log.exception("publishing failed; retrying in %gs", self.publish_every)

    def publish(self, pool: ParsePool | None = None, early: EarlyPublisher | None = None
                ) -> list[Path]:
        """Rewrite the feeds (only files whose bytes changed) and health.atom; ``pool``'s
        processes render the feeds when given, and ``early`` holds those already written."""
        config = self.config
        # health.atom first: index.html (written by publish_all) links it once it exists.
        spec = health_spec(config, self.store.health_events(HEALTH_ENTRIES))
        data = render_atom(spec, config.output.base_url, config.output.author, self.store.created)
        health = config.output_dir / HEALTH_FILE
        changed = [health] if write_atomic(health, data) else []
        changed += publish_all(config, self.store, self.clock(), pool=pool, early=early)
        if changed:
            log.info("published %d changed file(s)", len(changed))
        return changed

    # -- reload and stop

    def reload(self) -> bool:
        """Load the config file again and apply it; refuse (keep the old one) if invalid."""
        try:
            new = load_config(self.config_path)
        except ConfigError as e:
            log.error("config reload refused (%d problem(s)); the running config is kept:",
                      len(e.problems))
            for config_problem in e.problems:
                log.error("  %s", config_problem)
            return False
        old = self.config
        problems = []
        if new.store_path != old.store_path or new.output_dir != old.output_dir:
            problems.append("store.path and output.dir cannot change while running; restart")
        if problems:
            log.error("config reload refused; the running config is kept:")
            for problem in problems:
                log.error("  %s", problem)
            return False
        if new.defaults.workers != old.defaults.workers:
            log.warning("defaults.workers changes only on restart")
        self.limiter.configure(new.defaults.per_host, new.defaults.host_delay.total_seconds())
        now = self.clock()
        states = self.store.states()
        before = {s.id: s for s in old.sources}
        added: list[str] = []
        changed: list[str] = []
        with self._lock:
            running = set(self._running)
        self.config = new
        for source in new.sources:
            prev = before.get(source.id)
            if prev == source:
                continue
            (changed if prev else added).append(source.id)
            state = states.get(source.id)
            due: datetime | None
            if prev is not None and prev.location != source.location and state is not None:
                # A new URL starts afresh: a gone or failing old URL says nothing about it.
                state = replace(state, gone=False, failures=0, failing_since=None,
                                retry_after=None, next_due=None, etag=None, last_modified=None,
                                body_hash=None, moved_to=None)
                self.store.save_state(state)
            if (prev is not None and prev.enabled and source.enabled
                    and prev.location == source.location):
                if (prev.interval, prev.cron) == (source.interval, source.cron):
                    continue  # nothing about its schedule changed; the job reads the new config
                due = changed_schedule_due(now, prev, source, state, new)
                if due is None:
                    continue
            else:
                due = initial_due(now, source, state, new,
                                  new.defaults.jitter * draw_jitter())
            if due is None:
                self._unschedule(source.id)
            elif source.id not in running:
                self._schedule(source.id, due)
        removed = [sid for sid in before if sid not in {s.id for s in new.sources}]
        for sid in removed:
            self._unschedule(sid)
        self._dirty = True
        log.info("config reloaded: %d source(s) added, %d removed, %d changed; %d topic(s)",
                 len(added), len(removed), len(changed), len(new.topics))
        return True

    def idle(self) -> bool:
        with self._lock:
            return not self._running

    def stop(self, grace: float = STOP_GRACE) -> bool:
        """Stop scheduling, abandon requests waiting for a host, give in-flight polls ``grace``
        seconds; publish if needed. Return False if some poll was still running."""
        with self._lock:
            self._stopping = True
        self.scheduler.shutdown(wait=False)
        self.limiter.close()
        deadline = time.monotonic() + grace
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.02)
        clean = self.idle()
        if clean:
            if self._dirty:
                try:
                    self.publish()
                except Exception:
                    log.exception("publishing on stop failed")
            self.fetcher.close()
            self.store.close()
        return clean


# -- the entry point -------------------------------------------------------------------------


@dataclass
class _Signals:
    stop: bool = False
    reload: bool = False


def _install_signals(flags: _Signals) -> None:
    """Handlers only set flags; the main loop acts on them (a handler may interrupt anything)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_stop(signum: int, frame: FrameType | None) -> None:
        flags.stop = True

    def on_hup(signum: int, frame: FrameType | None) -> None:
        flags.reload = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)


def run_service(
    config_path: Path, config: Config, workers: int | None = None, *,
    clock: Callable[[], datetime] = utc_now, stop_grace: float = STOP_GRACE,
) -> int:
    """Run the service in the foreground until SIGTERM/SIGINT; return the exit code."""
    feeds_log = logging.getLogger("feeds")
    if feeds_log.getEffectiveLevel() > logging.INFO:
        # A service logs one line per poll; -v only adds debug output.
        feeds_log.setLevel(logging.INFO)
    flags = _Signals()
    _install_signals(flags)
    try:
        with service_lock(config):
            try:
                service = Service(config_path, config, workers=workers, clock=clock)
            except StoreError as e:
                log.error("store error: %s", e)
                return EXIT_STORE
            service.start()
            while not flags.stop:
                time.sleep(0.1)
                if flags.reload:
                    flags.reload = False
                    log.info("SIGHUP: reloading %s", config_path)
                    service.reload()
            log.info("stopping: waiting up to %gs for polls in flight", stop_grace)
            clean = service.stop(stop_grace)
    except LockedError as e:
        log.error("%s", e)
        return EXIT_STORE
    except OSError as e:
        log.error("cannot use the lock file or the output directory: %s", e)
        return EXIT_STORE
    if not clean:
        # Abandoning a poll is as safe as a crash: each poll is one transaction and every
        # file is replaced atomically. Worker threads would block interpreter exit.
        log.warning("stopped with polls still in flight; they were abandoned")
        logging.shutdown()
        os._exit(EXIT_OK)
    log.info("stopped after %d poll(s)", service.polls)
    return EXIT_OK
