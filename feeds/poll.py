"""One poll of one source, and one cycle over all of them.

The flow of a poll, as a pipeline::

    store.state | fetch (conditional GET) | skip if 304 or same body hash | parse | store.upsert

Expected per-source errors (SourceError) are recorded in the store and the cycle moves on;
an unexpected exception in one source is logged with its traceback and recorded too, so one
broken source never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from feeds.config import Config, Source
from feeds.errors import FeedsError, GoneError, SourceError
from feeds.fetch import Fetcher, Response
from feeds.model import Article
from feeds.sources.feed import FeedContext, parse_feed
from feeds.store import SourceState, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollResult:
    """What one poll did, for the summary table, the log and the scheduler."""

    source_id: str
    status: str  # "ok", "not modified", "failed", "gone"
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    duration: float = 0.0
    next_due: datetime | None = None
    moved_to: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "gone")


Collector = Callable[[Source, Config, Response, Fetcher, Store, datetime], Sequence[Article]]


def collect_feed(
    source: Source, config: Config, response: Response, fetcher: Fetcher, store: Store,
    now: datetime,
) -> Sequence[Article]:
    context = FeedContext(
        source_id=source.id,
        url=response.url,
        timezone=config.timezone(source),
        language=source.language,
        convert=source.convert,
    )
    parsed = parse_feed(response.body, context, response.content_type)
    if parsed.warning:
        log.debug("%s: feed has errors but was read: %s", source.id, parsed.warning)
    return parsed.articles


def collector_for(source: Source) -> Collector:
    if source.kind == "feed":
        return collect_feed
    from feeds.sources.page import collect_page

    return collect_page


def next_due_after(now: datetime, interval: timedelta, failures: int, cap: timedelta,
                   retry_after: datetime | None = None) -> datetime:
    """When to poll next: the interval, doubled per consecutive failure up to ``cap``."""
    wait = interval if failures == 0 else min(interval * (2 ** min(failures, 30)), cap)
    due = now + max(wait, timedelta(0))
    return max(due, retry_after) if retry_after else due


def poll_source(
    source: Source, config: Config, fetcher: Fetcher, store: Store, now: datetime
) -> PollResult:
    """Fetch, parse and store one source; record success or failure in the store."""
    started = time.monotonic()
    state = store.state(source.id)
    interval = config.interval(source)
    try:
        response = fetcher.get(
            source.location,
            source_id=source.id,
            etag=state.etag,
            last_modified=state.last_modified,
            headers=source.headers,
            proxy=source.proxy,
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
            next_due=next_due_after(now, interval, 0, config.defaults.max_backoff),
        )
        if response.not_modified:
            store.save_state(success)
            return PollResult(source.id, "not modified", duration=time.monotonic() - started,
                              next_due=success.next_due, moved_to=response.moved_to)
        body_hash = response.body_hash
        success = replace(
            success,
            etag=response.etag,
            last_modified=response.last_modified,
            body_hash=body_hash,
        )
        if body_hash == state.body_hash:
            store.save_state(success)
            return PollResult(source.id, "not modified", duration=time.monotonic() - started,
                              next_due=success.next_due, moved_to=response.moved_to)
        articles = collector_for(source)(source, config, response, fetcher, store, now)
        counts = store.upsert(source.id, articles, now, success)
        return PollResult(
            source.id, "ok", counts.new, counts.updated, counts.unchanged,
            duration=time.monotonic() - started, next_due=success.next_due,
            moved_to=response.moved_to,
        )
    except SourceError as e:
        return _record_failure(source, config, store, state, now, e, started)
    except FeedsError as e:
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
    next_due = None if gone else next_due_after(
        now, config.interval(source), failures, config.defaults.max_backoff, retry_after
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
    log.warning("%s: %s", source.id, message)
    return PollResult(
        source.id, "gone" if gone else "failed", error=message,
        duration=time.monotonic() - started, next_due=next_due,
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
) -> list[PollResult]:
    """Poll every enabled source once (in parallel threads) and return the results in order."""
    todo = [s for s in (sources if sources is not None else config.sources) if s.enabled]

    def one(source: Source) -> PollResult:
        result = poll_source(source, config, fetcher, store, now)
        if on_result:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="poll") as pool:
        return list(pool.map(one, todo))
