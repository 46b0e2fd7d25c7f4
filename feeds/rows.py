"""Articles in and out of the store as plain driver rows, no SQLAlchemy: rows back into the
model, the statements and values that write a source's articles (and their topic index rows),
and the cycle's Folding.

Shared by :mod:`feeds.store` and the worker processes (:mod:`feeds.worker`), which store
what they parse and read a source's newest articles from the SQLite file themselves.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path
from typing import Any

from feeds.model import Article, Enclosure, Image, Person, Stored

# The table of folded article texts (feeds.topics.topic_text): the store writes the rows of
# articles folded where they were parsed, and worker processes read it directly.
TEXT_TABLE = "topic_text"


@dataclass(frozen=True)
class Folding:
    """How a cycle folds what it parses for the topic index (feeds.topics.prepare_index):
    per field of feeds.topics.FIELDS whether the index holds it, and the index sequence
    number the cycle's rows get (above every rule's, so that each evaluates them once)."""

    fields: tuple[bool, ...]
    seq: int


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


# The columns of an Article in the order of its fields, so a driver row is its arguments
# (alt_keys, the last field, is parsing's and not stored).
ARTICLE_COLUMNS = ", ".join(f.name for f in dataclass_fields(Article) if f.name != "alt_keys")


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


_writers = threading.local()


@contextlib.contextmanager
def writing(path: str) -> Iterator[sqlite3.Cursor]:
    """A cursor in a write transaction on the SQLite store at ``path``, committed on exit
    (rolled back on an error). One connection per thread and file, kept: a worker process
    stores what it parses while the cycle's other processes write the same file."""
    connections = _writers.__dict__.setdefault("by_path", {})
    conn = connections.get(path)
    if conn is None:
        conn = connections[path] = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=10000")  # as feeds.store's connections
        conn.execute("PRAGMA synchronous=NORMAL")
        # No checkpoints from here: one copies megabytes into the database file and waits
        # for the disk, with this process's core idle. The cycle's process checkpoints as
        # it commits the polling states (SQLite's default, every 1,000 pages of log).
        conn.execute("PRAGMA wal_autocheckpoint=0")
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
    try:
        yield cur
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.close()
    conn.commit()


def latest_from_file(path: str, source_id: str, limit: int) -> list[Stored]:
    """:meth:`feeds.store.Store.latest` read straight from the SQLite file at ``path``."""
    rows = read_only(path).execute(LATEST, (source_id, limit)).fetchall()
    return [Stored(source_id, article_from_tuple(r)) for r in rows]

# -- writing articles: plain driver values, shared by feeds.store and the worker processes --

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_SPACED = json.JSONEncoder(ensure_ascii=False)  # what json.dumps gives categories


def json_list(items: Sequence[Any]) -> str:
    if not items:
        return "[]"  # most entries have no contributors, images or enclosures
    if isinstance(items, tuple):
        return _encoded(items)
    return _encode(items)


# The same authors (and categories) recur through a source's entries: hashing a tuple of
# frozen dataclasses costs a tenth of encoding it.
@functools.lru_cache(maxsize=8192)
def _encoded(items: tuple[Any, ...]) -> str:
    return _encode(items)


def _encode(items: Sequence[Any]) -> str:
    # Person, Image and Enclosure hold only flat values: vars() is asdict without deep copies.
    return _COMPACT.encode([dict(vars(i)) for i in items])


def iso(value: datetime | None) -> str | None:
    """``value`` as the store's AwareDateTime holds it (the hot paths bind plain values)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return value.isoformat()


def categories_json(items: Sequence[str]) -> str:
    if not items:
        return "[]"
    return _categories_encoded(items) if isinstance(items, tuple) else _SPACED.encode(list(items))


@functools.lru_cache(maxsize=8192)
def _categories_encoded(items: tuple[str, ...]) -> str:
    return _SPACED.encode(list(items))


# The article columns the hot statements bind, in one place: an insert binds source_id,
# key, first_seen and these; an update binds these where (source_id, key) match.
CHANGING = ("url", "canonical_url", "title", "summary", "content_html", "text", "published",
             "updated", "sort_ts", "authors", "contributors", "source_name", "categories",
             "language", "images", "enclosures", "content_hash", "fingerprint")


def changing_values(article: Article, updated: datetime | None, sort_ts: float
                     ) -> tuple[Any, ...]:
    """The values of CHANGING for ``article`` (whose own ``updated`` gives way to ours)."""
    a = article
    return (a.url, a.canonical_url, a.title, a.summary, a.content_html, a.text,
            iso(a.published), iso(updated), sort_ts, json_list(a.authors),
            json_list(a.contributors), a.source_name, categories_json(a.categories),
            a.language, json_list(a.images), json_list(a.enclosures), a.content_hash,
            a.fingerprint)


# The statements that write a source's articles, with "?" markers (feeds.store swaps in its
# driver's). INSERT ... ON CONFLICT is both SQLite's (3.24+) and PostgreSQL's.
ARTICLE_SQL = {
    "insert": f"INSERT INTO articles (source_id, key, first_seen, {', '.join(CHANGING)}) "
              f"VALUES ({', '.join('?' * (3 + len(CHANGING)))})",
    "update": f"UPDATE articles SET {', '.join(f'{c} = ?' for c in CHANGING)} "
              "WHERE source_id = ? AND key = ?",
    "bump": "INSERT INTO source_revisions (source_id, revision) VALUES (?, 1) "
            "ON CONFLICT (source_id) DO UPDATE SET revision = source_revisions.revision + 1",
    "revision": "SELECT revision FROM source_revisions WHERE source_id = ?",
    # The folded text of an article just stored (its topic index row), the other columns
    # copied from the stored version: what feeds.topics.refresh_index would write.
    "folded": f"INSERT INTO {TEXT_TABLE} (article_id, content_hash, seq, sort_ts, source_id, "
              "language, folded) SELECT id, content_hash, ?, sort_ts, source_id, "
              "language, ? FROM articles WHERE source_id = ? AND key = ? "
              "ON CONFLICT (article_id) DO UPDATE SET content_hash = excluded.content_hash, "
              "seq = excluded.seq, sort_ts = excluded.sort_ts, source_id = excluded.source_id, "
              "language = excluded.language, folded = excluded.folded",
}


def upsert_rows(cur: Any, sql: Mapping[str, str], marker: str, source_id: str,
                articles: Sequence[Article], now: datetime,
                folded: Mapping[str, str] | None = None, seq: int = 0, *,
                first: bool = False) -> tuple[int, int, int]:
    """Write ``articles`` of ``source_id`` with the DB-API cursor ``cur``, inside the caller's
    transaction: new ones get ``first_seen = now``, changed ones are updated; with
    ``folded``, their topic index rows too, at sequence number ``seq`` (Folding.seq).
    ``first`` says the source holds no article yet (none can exist). Returns (new, updated,
    unchanged).

    See :meth:`feeds.store.Store.upsert`, which wraps it.
    """
    # A key twice in one batch would break the unique index and lose the whole poll;
    # keep the first, as parse_feed does.
    unique: dict[str, Article] = {}
    for article in articles:
        unique.setdefault(article.key, article)
    now_iso, now_ts = iso(now), now.timestamp()
    # What the source holds of these keys: only what tells new, changed and unchanged.
    existing: dict[str, tuple[str, str]] = {} if first else {
        key: (content_hash, first_seen) for key, content_hash, first_seen in _stored(
            cur, marker, source_id, list(unique), "content_hash, first_seen")}
    renamed = _adopt_stored_keys(cur, marker, source_id, unique, existing) if not first else {}
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    unchanged = 0
    for key, article in unique.items():
        found = existing.get(key)
        published = article.published
        if found is None:
            sort_ts = published.timestamp() if published else now_ts
            inserts.append((source_id, key, now_iso,
                            *changing_values(article, article.updated, sort_ts)))
        elif found[0] != article.content_hash:
            # Sorted by its first_seen when undated, which an update keeps.
            first_seen = when(found[1])
            assert first_seen is not None
            sort_ts = (published or first_seen).timestamp()
            # The publisher's `updated` when given; otherwise when we saw the change.
            updates.append((*changing_values(article, article.updated or now, sort_ts),
                            source_id, key))
        else:
            unchanged += 1
    # One executemany each: the statement is prepared once for the whole batch.
    if inserts:
        # Last in the document first: the store's order (sort_ts, then the later stored
        # first) then keeps the publisher's order among entries of one time, such as
        # undated ones (first seen together) or date-only ones.
        cur.executemany(sql["insert"], inserts[::-1])
    if updates:
        cur.executemany(sql["update"], updates)
    if inserts or updates:
        cur.execute(sql["bump"], (source_id,))
        if folded is not None:
            cur.executemany(sql["folded"], [
                (seq, folded[renamed.get(key, key)], source_id, key)
                for key in (*(row[1] for row in inserts), *(row[-1] for row in updates))])
    return len(inserts), len(updates), unchanged


def _stored(cur: Any, marker: str, source_id: str, keys: Sequence[str], columns: str
            ) -> list[tuple[Any, ...]]:
    """(key, *columns) of the articles ``source_id`` holds under ``keys``, 500 keys a query."""
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        cur.execute(
            f"SELECT key, {columns} FROM articles WHERE source_id = {marker} "
            f"AND key IN ({', '.join([marker] * len(chunk))})",
            [source_id, *chunk],
        )
        rows += cur.fetchall()
    return rows


def _adopt_stored_keys(cur: Any, marker: str, source_id: str, unique: dict[str, Article],
                       existing: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Give an article whose key the source does not hold the key it holds the same story
    under, among the article's ``alt_keys`` (its GUID stopped or started being unique in the
    feed): a story never comes back as a new one. The same story: the same URL, or without
    URLs the same title. Changes ``unique`` and ``existing`` in place; returns
    {adopted key: key as parsed}."""
    wanting = [(key, a) for key, a in unique.items() if key not in existing and a.alt_keys]
    alts = list(dict.fromkeys(alt for _, a in wanting for alt in a.alt_keys
                              if alt not in unique))
    if not alts:
        return {}
    stored: dict[str, tuple[str, str, str | None, str]] = {
        row[0]: row[1:] for row in _stored(cur, marker, source_id, alts,
                                           "content_hash, first_seen, url, title")}
    renamed: dict[str, str] = {}
    for key, article in wanting:
        for alt in article.alt_keys:
            found = stored.get(alt)
            if found is None or alt in unique:
                continue
            url, title = found[2], found[3]
            if (url == article.url) if url and article.url else (title == article.title):
                del unique[key]
                # Hashed with the key it is stored under, so an unchanged story stays so.
                unique[alt] = replace(article, key=alt, content_hash="")
                existing[alt] = (found[0], found[1])
                renamed[alt] = key
                break
    return renamed
