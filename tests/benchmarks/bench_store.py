"""Micro-benchmark of the store's hot paths in a polling cycle (issue 7).

From the project root, in the project's virtualenv::

    python tests/benchmarks/bench_store.py                 # 1,000 sources x 50 articles
    python tests/benchmarks/bench_store.py --sources 200   # quicker

It builds ``--sources`` x ``--entries`` articles (``feeds.model.Article``, ~1.2 KB HTML bodies,
one author, two categories; hashes computed before timing) and, on a fresh store in a temporary
directory, times:

- ``upsert cold``: one ``Store.upsert`` per source with its polling state (as ``poll`` does);
- ``latest``: ``Store.latest(source, entries)`` per source (as publishing reads them back);
- ``upsert warm``: the same articles again, nothing changed;
- ``upsert changed``: the same with one article in ten edited;
- ``states``, ``revisions``, ``save_states``: once over every source (a cycle's bookkeeping).

It prints microseconds of CPU (process time) per article for the per-article steps and
milliseconds for the per-cycle ones.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.model import Article, Person
from feeds.store import SourceState, Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BODY = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "</p>"


def make_articles(source: int, entries: int) -> list[Article]:
    """``entries`` articles of one source, shaped like a parsed RSS/Atom entry."""
    return [
        Article(
            key=f"https://example.org/s{source}/{i}",
            url=f"https://example.org/s{source}/{i}",
            canonical_url=None,
            title=f"Story {i} of source {source}",
            summary=f"Summary of story {i}, a sentence or two long.",
            content_html=BODY,
            text=BODY[3:-4],
            published=T0 - timedelta(minutes=i),
            authors=(Person(f"Author {i % 7}"),),
            categories=("news", f"cat{i % 5}"),
            language="en",
        )
        for i in range(entries)
    ]


def timed(label: str, run: Callable[[], object], per: int, unit: str) -> float:
    start = time.process_time()
    wall = time.perf_counter()
    run()
    cpu = time.process_time() - start
    wall = time.perf_counter() - wall
    if unit == "us":
        print(f"{label:<16} {cpu / per * 1e6:8.1f} us/article  "
              f"(cpu {cpu:6.2f} s, wall {wall:6.2f} s)")
        return cpu / per * 1e6
    print(f"{label:<16} {cpu * 1e3:8.1f} ms/cycle    (wall {wall * 1e3:7.1f} ms)")
    return cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    ids = [f"s{i}" for i in range(args.sources)]
    batches = {sid: make_articles(i, args.entries) for i, sid in enumerate(ids)}
    changed = {sid: [replace(a, title=a.title + " (edited)", content_hash="")
                     if n % 10 == 0 else a for n, a in enumerate(batch)]
               for sid, batch in batches.items()}
    total = args.sources * args.entries
    print(f"{args.sources} sources x {args.entries} articles = {total}")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "feeds.db")
        try:
            def upsert(data: dict[str, list[Article]], now: datetime) -> None:
                for sid, batch in data.items():
                    store.upsert(sid, batch, now,
                                 SourceState(id=sid, etag='"e"', last_success=now, next_due=now))

            def latest() -> None:
                for sid in ids:
                    assert len(store.latest(sid, args.entries)) == args.entries

            timed("upsert cold", lambda: upsert(batches, T0), total, "us")
            timed("latest", latest, total, "us")
            timed("upsert warm", lambda: upsert(batches, T0 + timedelta(hours=1)), total, "us")
            timed("upsert changed", lambda: upsert(changed, T0 + timedelta(hours=2)), total, "us")
            states = store.states()
            timed("states", store.states, 1, "ms")
            timed("revisions", store.revisions, 1, "ms")
            later = T0 + timedelta(hours=3)
            saved = [replace(s, last_attempt=later) for s in states.values()]
            timed("save_states", lambda: store.save_states(saved), 1, "ms")
        finally:
            store.close()


if __name__ == "__main__":
    main()
