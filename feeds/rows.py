"""Stored article rows back into the model: plain driver rows, no SQLAlchemy.

Shared by :mod:`feeds.store` and the worker processes (:mod:`feeds.worker`), which read a
source's newest articles from the SQLite file themselves to render its feeds.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path
from typing import Any

from feeds.model import Article, Enclosure, Image, Person, Stored

# The table of folded article texts (feeds.topics.topic_text): the store writes the rows of
# articles folded where they were parsed, and worker processes read it directly.
TEXT_TABLE = "topic_text"
# The index sequence number of rows the store wrote: feeds.topics.refresh_index gives them
# the next one, so that every rule evaluates them once.
UNSEQUENCED = -1


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# Decoded JSON lists are immutable (tuples of frozen dataclasses), so equal texts can share
# them: the same authors and categories recur through a source's articles, and json.loads
# plus the dataclasses cost more than reading the row.
@functools.lru_cache(maxsize=8192)
def persons(text: str) -> tuple[Person, ...]:
    return () if text == "[]" else tuple(Person(**p) for p in json.loads(text))


@functools.lru_cache(maxsize=8192)
def strings(text: str) -> tuple[str, ...]:
    return () if text == "[]" else tuple(json.loads(text))


@functools.lru_cache(maxsize=8192)
def images(text: str) -> tuple[Image, ...]:
    return () if text == "[]" else tuple(Image(**i) for i in json.loads(text))


@functools.lru_cache(maxsize=8192)
def enclosures(text: str) -> tuple[Enclosure, ...]:
    return () if text == "[]" else tuple(Enclosure(**e) for e in json.loads(text))


# The columns of an Article in the order of its fields, so a driver row is its arguments.
ARTICLE_COLUMNS = ", ".join(f.name for f in dataclass_fields(Article))


def article_from_tuple(r: tuple[Any, ...]) -> Article:
    """The article of a driver row of ARTICLE_COLUMNS (no SQLAlchemy result processing)."""
    return Article(r[0], r[1], r[2], r[3], r[4], r[5], r[6], when(r[7]), when(r[8]),
                   when(r[9]), persons(r[10]), persons(r[11]), r[12], strings(r[13]),
                   r[14], images(r[15]), enclosures(r[16]), r[17], r[18])


# A source's newest articles, in feed order (Store.latest).
LATEST = (f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE source_id = ? "
          "ORDER BY sort_ts DESC, id DESC LIMIT ?")

_readers: dict[str, sqlite3.Connection] = {}


def read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the SQLite store at ``path``, one per process and file
    (a worker process reads the store of its cycle while the parent writes it)."""
    conn = _readers.get(path)
    if conn is None:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        conn = _readers[path] = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=10000")
    return conn


def latest_from_file(path: str, source_id: str, limit: int) -> list[Stored]:
    """:meth:`feeds.store.Store.latest` read straight from the SQLite file at ``path``."""
    rows = read_only(path).execute(LATEST, (source_id, limit)).fetchall()
    return [Stored(source_id, article_from_tuple(r)) for r in rows]
