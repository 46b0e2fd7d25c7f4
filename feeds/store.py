"""The store: articles and polling state, SQLAlchemy Core over SQLite (WAL) by default.

The same code runs on PostgreSQL (``postgresql+psycopg://...``). Each source's articles are
written in one transaction, so a crash leaves either the whole poll or none of it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from feeds.errors import StoreError
from feeds.model import Article
from feeds.model import Stored as Stored  # re-exported: it lived here first
from feeds.rows import ARTICLE_SQL, LATEST, upsert_rows
from feeds.rows import article_from_tuple as _article_from_tuple
from feeds.rows import enclosures as _enclosures
from feeds.rows import images as _images
from feeds.rows import iso as _iso
from feeds.rows import persons as _persons
from feeds.rows import strings as _strings
from feeds.rows import when as _when

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class AwareDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as ISO 8601 text, keeping the original offset."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        return _iso(value)

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return _when(value)


metadata = sa.MetaData()

meta_table = sa.Table(
    "meta", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

sources_table = sa.Table(
    "sources", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("link", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.String(64)),
    sa.Column("created", AwareDateTime, nullable=False),
    sa.Column("last_attempt", AwareDateTime),
    sa.Column("last_success", AwareDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", AwareDateTime),
    sa.Column("failing_since", AwareDateTime),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_due", AwareDateTime),
    sa.Column("retry_after", AwareDateTime),
    sa.Column("moved_to", sa.Text),
    sa.Column("gone", sa.Boolean, nullable=False, default=False),
    sa.Column("interval_hint", sa.Float),
)

articles_table = sa.Table(
    "articles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(100), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("canonical_url", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("content_html", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("published", AwareDateTime),
    sa.Column("updated", AwareDateTime),
    sa.Column("first_seen", AwareDateTime, nullable=False),
    sa.Column("sort_ts", sa.Float, nullable=False),
    sa.Column("authors", sa.Text, nullable=False, default="[]"),
    sa.Column("contributors", sa.Text, nullable=False, default="[]"),
    sa.Column("source_name", sa.Text),
    sa.Column("categories", sa.Text, nullable=False, default="[]"),
    sa.Column("language", sa.String(40)),
    sa.Column("images", sa.Text, nullable=False, default="[]"),
    sa.Column("enclosures", sa.Text, nullable=False, default="[]"),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64)),
    sa.UniqueConstraint("source_id", "key", name="uq_articles_source_key"),
    sa.Index("ix_articles_source_sort", "source_id", "sort_ts"),
    sa.Index("ix_articles_sort", "sort_ts"),
)

# A counter per source, raised by every upsert that adds or changes an article, so that
# publishing can tell an unchanged source feed without reading its articles. Added without a
# schema bump: create_all adds the table to existing databases (whose sources then count from
# zero, which only makes the first publish render them once more).
revisions_table = sa.Table(
    "source_revisions", metadata,
    sa.Column("source_id", sa.String(100), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
)

# What happened to sources' health (failing, recovered, gone, broken rules), for health.atom.
# Added without a schema bump: create_all adds the table to existing databases.
health_table = sa.Table(
    "health_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(100), nullable=False),
    sa.Column("at", AwareDateTime, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class HealthEvent:
    """A change in a source's health: ``kind`` is failing, recovered, gone or broken."""

    source_id: str
    at: datetime
    kind: str
    message: str
    id: int | None = None


@dataclass(frozen=True)
class SourceState:
    """Polling state of one source, as stored."""

    id: str
    title: str | None = None
    link: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    created: datetime | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0
    next_due: datetime | None = None
    retry_after: datetime | None = None
    moved_to: str | None = None
    gone: bool = False
    interval_hint: float | None = None


@dataclass(frozen=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _article_from_row(row: Any) -> Article:
    """The article of a row of ``sa.select(articles_table, ...)``."""
    return Article(
        key=row.key,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        summary=row.summary,
        content_html=row.content_html,
        text=row.text,
        published=row.published,
        updated=row.updated,
        first_seen=row.first_seen,
        authors=_persons(row.authors),
        contributors=_persons(row.contributors),
        source_name=row.source_name,
        categories=_strings(row.categories),
        language=row.language,
        images=_images(row.images),
        enclosures=_enclosures(row.enclosures),
        fingerprint=row.fingerprint,
        content_hash=row.content_hash,
    )


_STATE_FIELDS = tuple(f.name for f in dataclass_fields(SourceState))
_STATE_TIMES = tuple(i for i, name in enumerate(_STATE_FIELDS)
                     if isinstance(sources_table.c[name].type, AwareDateTime))
_STATE_GONE = _STATE_FIELDS.index("gone")


def _state_from_tuple(row: Sequence[Any]) -> SourceState:
    """The state of a driver row of _STATE_FIELDS."""
    values = list(row)
    for i in _STATE_TIMES:
        values[i] = _when(values[i])
    values[_STATE_GONE] = bool(values[_STATE_GONE])  # SQLite gives 0/1
    return SourceState(*values)


def _state_values(state: SourceState, now: datetime) -> tuple[Any, ...]:
    """The driver values of ``state`` in _STATE_FIELDS order; ``now`` when it has no created."""
    values: list[Any] = [getattr(state, name) for name in _STATE_FIELDS]
    for i in _STATE_TIMES:
        values[i] = _iso(values[i])
    if state.created is None:
        values[_STATE_FIELDS.index("created")] = _iso(now)
    return tuple(values)


def _statements(marker: str) -> dict[str, str]:
    """The hot statements as driver SQL, with the driver's parameter ``marker``.

    They bind plain values (ISO text, JSON text) instead of going through SQLAlchemy's
    compilation and per-row processing, which cost more than SQLite itself (issue 7). The
    INSERT ... ON CONFLICT form is both SQLite's (3.24+) and PostgreSQL's.
    """
    state_columns = ", ".join(_STATE_FIELDS)
    state_update = ", ".join(f"{c} = excluded.{c}" for c in _STATE_FIELDS
                             if c not in ("id", "created"))
    sql = {
        "latest": LATEST,
        **ARTICLE_SQL,
        "revisions": "SELECT source_id, revision FROM source_revisions",
        "states": f"SELECT {state_columns} FROM sources",
        "state": f"SELECT {state_columns} FROM sources WHERE id = ?",
        # created is kept: it says when the source was first recorded.
        "save_state": f"INSERT INTO sources ({state_columns}) "
                      f"VALUES ({', '.join('?' * len(_STATE_FIELDS))}) "
                      f"ON CONFLICT (id) DO UPDATE SET {state_update}",
    }
    return {name: text.replace("?", marker) for name, text in sql.items()}


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@contextlib.contextmanager
def _cursor(conn: Connection) -> Iterator[Any]:
    """A DBAPI cursor inside ``conn``'s transaction (committed or rolled back with it)."""
    cursor = conn.connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Articles and polling state. Open with :meth:`open`; every method is one transaction."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        # SQLite has one writer at a time, and a writer that finds the database locked
        # sleeps in growing steps (up to 100 ms) before it tries again. Threads of this
        # process take turns here instead, woken the moment the last one commits.
        self._write_lock = threading.Lock()
        marker = _MARKERS.get(engine.dialect.paramstyle)
        if marker is None:
            raise StoreError(f"{location}: driver parameter style "
                             f"{engine.dialect.paramstyle!r} is not supported")
        self._marker = marker
        self._sql = _statements(marker)

    @classmethod
    def open(cls, path_or_url: Path | str) -> Store:
        """Open (creating if needed) the store at a SQLite path or an SQLAlchemy URL."""
        text = str(path_or_url)
        if "://" in text:
            url = text
        else:
            path = Path(text)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the store's directory {path.parent}: "
                                 f"{e.strerror or e}; point store.path somewhere else") from e
            url = f"sqlite:///{path}"
        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, text)
        store._prepare()
        return store

    @property
    def sqlite_file(self) -> str | None:
        """The file of a SQLite store (another process can read it itself), else None."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return url.database

    def close(self) -> None:
        self.engine.dispose()

    def _prepare(self) -> None:
        try:
            with self.engine.begin() as conn:
                inspector = sa.inspect(conn)
                tables = set(inspector.get_table_names())
                if "meta" in tables:
                    row = conn.execute(
                        sa.select(meta_table.c.value).where(meta_table.c.name == "schema_version")
                    ).first()
                    version = int(row.value) if row else None
                    if version != SCHEMA_VERSION:
                        raise StoreError(
                            f"{self.location}: database schema version {version} is not the "
                            f"version {SCHEMA_VERSION} this feeds expects; move the file away to "
                            "start afresh, or use the feeds release that created it"
                        )
                elif tables:
                    raise StoreError(
                        f"{self.location}: this database was not created by feeds "
                        f"(tables: {', '.join(sorted(tables))}); point store.path at a new file"
                    )
                metadata.create_all(conn)
                if "meta" not in tables:
                    conn.execute(sa.insert(meta_table), [
                        {"name": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"name": "created", "value": datetime.now(UTC).isoformat()},
                    ])
        except sa.exc.DatabaseError as e:
            raise StoreError(
                f"{self.location}: not a usable database ({e.orig}); point store.path at a new file"
            ) from e

    @property
    def created(self) -> datetime:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(meta_table.c.value).where(meta_table.c.name == "created")
            ).first()
        return datetime.fromisoformat(row.value) if row else datetime.fromtimestamp(0, UTC)

    # -- polling state -------------------------------------------------------------------

    def state(self, source_id: str) -> SourceState:
        with self.engine.connect() as conn, _cursor(conn) as cur:
            return self._state(cur, source_id)

    def _state(self, cur: Any, source_id: str) -> SourceState:
        cur.execute(self._sql["state"], (source_id,))
        row = cur.fetchone()
        return _state_from_tuple(row) if row else SourceState(id=source_id)

    def states(self) -> dict[str, SourceState]:
        with self.engine.connect() as conn, _cursor(conn) as cur:
            cur.execute(self._sql["states"])
            rows = cur.fetchall()
        return {row[0]: _state_from_tuple(row) for row in rows}

    def save_state(self, state: SourceState) -> None:
        self.save_states([state])

    def save_states(self, states: Iterable[SourceState]) -> None:
        """Save several polling states in one transaction (a cycle of 304s writes them so)."""
        now = datetime.now(UTC)
        # The last state of a source wins, as saved one by one.
        rows = {state.id: _state_values(state, now) for state in states}
        if not rows:
            return
        with self._write_lock, self.engine.begin() as conn, _cursor(conn) as cur:
            cur.executemany(self._sql["save_state"], list(rows.values()))

    def revisions(self) -> dict[str, int]:
        """Per source, a number that changes whenever one of its articles is added or changed."""
        with self.engine.connect() as conn, _cursor(conn) as cur:
            cur.execute(self._sql["revisions"])
            return dict(cur.fetchall())

    def source_view(self, source_id: str) -> tuple[SourceState, int]:
        """One source's state and revision (:meth:`state`, :meth:`revisions`), in one read."""
        with self.engine.connect() as conn, _cursor(conn) as cur:
            state = self._state(cur, source_id)
            cur.execute(self._sql["revision"], (source_id,))
            found = cur.fetchone()
        return state, int(found[0]) if found else 0

    # -- health --------------------------------------------------------------------------

    def add_health_event(self, event: HealthEvent) -> None:
        values = {k: v for k, v in asdict(event).items() if k != "id"}
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(sa.insert(health_table).values(values))

    def health_events(self, limit: int = 100) -> list[HealthEvent]:
        """The newest ``limit`` health events, newest first."""
        query = sa.select(health_table).order_by(health_table.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [HealthEvent(r.source_id, r.at, r.kind, r.message, r.id)
                    for r in conn.execute(query)]

    # -- articles ------------------------------------------------------------------------

    def upsert(
        self,
        source_id: str,
        articles: Sequence[Article],
        now: datetime,
        state: SourceState | None = None,
        *,
        folded: Mapping[str, str] | None = None,
        seq: int = 0,
    ) -> UpsertCounts:
        """Store ``articles``: new ones get ``first_seen = now``, changed ones are updated.

        With ``state``, the polling state is saved in the same transaction, so the articles
        and the validators (ETag, body hash) that say we have them never disagree. With
        ``folded`` (key to folded text, :func:`feeds.folding.fold_article`), the topic index
        rows of the new and changed articles are written too, at sequence number ``seq``;
        the caller has prepared the index (:func:`feeds.topics.prepare_index`).
        """
        with self._write_lock, self.engine.begin() as conn, _cursor(conn) as cur:
            new, updated, unchanged = upsert_rows(cur, self._sql, self._marker, source_id,
                                                  articles, now, folded, seq)
            if state is not None:
                cur.execute(self._sql["save_state"], _state_values(state, now))
        return UpsertCounts(new, updated, unchanged)

    def latest(self, source_id: str, limit: int) -> list[Stored]:
        """The newest ``limit`` articles of one source, newest first."""
        with self.engine.connect() as conn, _cursor(conn) as cur:
            cur.execute(self._sql["latest"], (source_id, limit))
            rows = cur.fetchall()
        return [Stored(source_id, _article_from_tuple(row)) for row in rows]

    def iter_articles(
        self, source_ids: Sequence[str] | None = None, since: datetime | None = None
    ) -> Iterator[Stored]:
        """Every stored article (of ``source_ids``, newer than ``since``), newest first."""
        query = sa.select(articles_table).order_by(
            articles_table.c.sort_ts.desc(), articles_table.c.id.desc()
        )
        if source_ids is not None:
            query = query.where(articles_table.c.source_id.in_(list(source_ids)))
        if since is not None:
            query = query.where(articles_table.c.sort_ts >= since.timestamp())
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield Stored(row.source_id, _article_from_row(row))

    def counts(self) -> dict[str, int]:
        """Number of stored articles per source."""
        query = sa.select(articles_table.c.source_id, sa.func.count()).group_by(
            articles_table.c.source_id
        )
        with self.engine.connect() as conn:
            return {row[0]: row[1] for row in conn.execute(query)}

    def known_keys(self, source_id: str, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are already stored for ``source_id`` (to fetch only new pages)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                rows = conn.execute(
                    sa.select(articles_table.c.key).where(
                        articles_table.c.source_id == source_id, articles_table.c.key.in_(chunk)
                    )
                )
                found.update(row.key for row in rows)
        return found
