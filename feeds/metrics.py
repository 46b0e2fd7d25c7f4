"""Prometheus metrics: counters the poller updates, gauges read from the store.

The counters live in one module-level registry so that the scheduler, in the same process as
``feeds run --serve``, records each poll with :func:`record_poll` and each cycle with
:func:`record_cycle`; ``/metrics`` (serve.py) exposes them. The store gauges are read at
scrape time, so a ``feeds serve`` in another process than the scheduler still reports each
source's failures, last success and article count.

Usage::

    from feeds import metrics
    metrics.record_poll(result)           # a feeds.poll.PollResult
    metrics.record_cycle(seconds=12.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from feeds.config import Config
    from feeds.poll import PollResult
    from feeds.store import Store

REGISTRY = CollectorRegistry(auto_describe=True)

POLLS = Counter(
    "feeds_polls", "Polls of a source, by outcome (ok, not modified, failed, gone).",
    ["source", "status"], registry=REGISTRY,
)
FAILURES = Counter(
    "feeds_poll_failures", "Polls that failed, per source.", ["source"], registry=REGISTRY,
)
NEW_ENTRIES = Counter(
    "feeds_new_entries", "Entries seen for the first time, per source.", ["source"],
    registry=REGISTRY,
)
UPDATED_ENTRIES = Counter(
    "feeds_updated_entries", "Entries whose content changed, per source.", ["source"],
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "feeds_poll_duration_seconds", "Time to fetch, parse and store one source.", ["source"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=REGISTRY,
)
CYCLE_SECONDS = Histogram(
    "feeds_cycle_duration_seconds", "Time for one cycle: poll the due sources and publish.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600), registry=REGISTRY,
)


def record_poll(result: PollResult) -> None:
    """Count one poll: its outcome, new and changed entries, and how long it took."""
    POLLS.labels(result.source_id, result.status).inc()
    if result.failed:
        FAILURES.labels(result.source_id).inc()
    if result.new:
        NEW_ENTRIES.labels(result.source_id).inc(result.new)
    if result.updated:
        UPDATED_ENTRIES.labels(result.source_id).inc(result.updated)
    POLL_SECONDS.labels(result.source_id).observe(max(result.duration, 0.0))


def record_cycle(seconds: float) -> None:
    CYCLE_SECONDS.observe(max(seconds, 0.0))


class StoreCollector:
    """Gauges read from the store at scrape time, one sample per configured source."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    def collect(self) -> Iterator[Metric]:
        states = self.store.states()
        counts = self.store.counts()
        up = GaugeMetricFamily(
            "feeds_source_up", "1 when the source's last poll succeeded, else 0.", labels=["source"]
        )
        failures = GaugeMetricFamily(
            "feeds_source_consecutive_failures", "Failed polls in a row.", labels=["source"]
        )
        success = GaugeMetricFamily(
            "feeds_source_last_success_timestamp_seconds", "When the source last polled fine.",
            labels=["source"],
        )
        attempt = GaugeMetricFamily(
            "feeds_source_last_attempt_timestamp_seconds", "When the source was last polled.",
            labels=["source"],
        )
        articles = GaugeMetricFamily(
            "feeds_source_articles", "Articles stored for the source.", labels=["source"]
        )
        for source in self.config.sources:
            if not source.enabled:
                continue
            state = states.get(source.id)
            failing = bool(state and (state.failures or state.gone))
            up.add_metric([source.id], 0.0 if failing else 1.0)
            failures.add_metric([source.id], float(state.failures if state else 0))
            if state and state.last_success:
                success.add_metric([source.id], state.last_success.timestamp())
            if state and state.last_attempt:
                attempt.add_metric([source.id], state.last_attempt.timestamp())
            articles.add_metric([source.id], float(counts.get(source.id, 0)))
        yield from (up, failures, success, attempt, articles)


class Joined:
    """Several collectors exposed as one (``generate_latest`` takes anything with collect)."""

    def __init__(self, collectors: Iterable[CollectorRegistry | StoreCollector]) -> None:
        self.collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()
