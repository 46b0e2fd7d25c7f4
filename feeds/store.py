"""The store: articles and polling state, SQLAlchemy Core over SQLite (WAL) by default.

The same code runs on PostgreSQL (``postgresql+psycopg://...``). Each source's articles are
written in one transaction, so a crash leaves either the whole poll or none of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from feeds.errors import StoreError
from feeds.model import Article, Enclosure, Image, Person, Stored

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class AwareDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as ISO 8601 text, keeping the original offset."""

    impl = sa.String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        return value.isoformat()

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return datetime.fromisoformat(value) if value else None


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


def _json_list(items: Sequence[Any]) -> str:
    if not items:
        return "[]"  # most entries have no contributors, images or enclosures
    # Person, Image and Enclosure hold only flat values: vars() is asdict without deep copies.
    return json.dumps([dict(vars(i)) for i in items], ensure_ascii=False, separators=(",", ":"))


def _row_values(source_id: str, article: Article, first_seen: datetime | None = None
                ) -> dict[str, Any]:
    """The row of ``article``; ``first_seen`` replaces the article's (without a copy of it)."""
    first_seen = first_seen or article.first_seen
    sort_date = article.published or first_seen
    assert sort_date is not None
    return {
        "source_id": source_id,
        "key": article.key,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "summary": article.summary,
        "content_html": article.content_html,
        "text": article.text,
        "published": article.published,
        "updated": article.updated,
        "first_seen": first_seen,
        "sort_ts": sort_date.timestamp(),
        "authors": _json_list(article.authors),
        "contributors": _json_list(article.contributors),
        "source_name": article.source_name,
        "categories": json.dumps(list(article.categories), ensure_ascii=False)
        if article.categories else "[]",
        "language": article.language,
        "images": _json_list(article.images),
        "enclosures": _json_list(article.enclosures),
        "content_hash": article.content_hash,
        "fingerprint": article.fingerprint,
    }


def _json_items(text: str) -> list[Any]:
    return [] if text == "[]" else list(json.loads(text))


def _article_from_row(row: Any) -> Article:
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
        authors=tuple(Person(**p) for p in _json_items(row.authors)),
        contributors=tuple(Person(**p) for p in _json_items(row.contributors)),
        source_name=row.source_name,
        categories=tuple(_json_items(row.categories)),
        language=row.language,
        images=tuple(Image(**i) for i in _json_items(row.images)),
        enclosures=tuple(Enclosure(**e) for e in _json_items(row.enclosures)),
        fingerprint=row.fingerprint,
        content_hash=row.content_hash,
    )


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

    @classmethod
    def open(cls, path_or_url: Path | str) -> Store:
        """Open (creating if needed) the store at a SQLite path or an SQLAlchemy URL."""
        text = str(path_or_url)
        if "://" in text:
            url = text
        else:
            path = Path(text)
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine, text)
        store._prepare()
        return store

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
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sources_table).where(sources_table.c.id == source_id)
            ).first()
        return SourceState(**row._asdict()) if row else SourceState(id=source_id)

    def states(self) -> dict[str, SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources_table)).all()
        return {row.id: SourceState(**row._asdict()) for row in rows}

    def save_state(self, state: SourceState) -> None:
        self.save_states([state])

    def save_states(self, states: Iterable[SourceState]) -> None:
        """Save several polling states in one transaction (a cycle of 304s writes them so)."""
        now = datetime.now(UTC)
        rows = {}
        for state in states:
            values = asdict(state)
            values["created"] = state.created or now
            rows[state.id] = values  # the last state of a source wins, as saved one by one
        if not rows:
            return
        with self.engine.begin() as conn:
            known: set[str] = set()
            ids = list(rows)
            for start in range(0, len(ids), 500):
                found = conn.execute(sa.select(sources_table.c.id)
                                     .where(sources_table.c.id.in_(ids[start : start + 500])))
                known.update(row.id for row in found)
            updates = [{("b_id" if k == "id" else k): v for k, v in values.items()
                        if k != "created"} for i, values in rows.items() if i in known]
            if updates:
                # One statement for every row (executemany): compiled once, not per source.
                columns = [c.name for c in sources_table.c if c.name not in ("id", "created")]
                conn.execute(
                    sa.update(sources_table).where(sources_table.c.id == sa.bindparam("b_id"))
                    .values({name: sa.bindparam(name) for name in columns}),
                    updates,
                )
            inserts = [values for i, values in rows.items() if i not in known]
            if inserts:
                conn.execute(sa.insert(sources_table), inserts)

    def _save_state(self, conn: Connection, values: dict[str, Any]) -> None:
        # Update first: a known source is the common case, and a miss costs one insert.
        updated = conn.execute(
            sa.update(sources_table).where(sources_table.c.id == values["id"])
            .values({k: v for k, v in values.items() if k != "created"})
        )
        if not updated.rowcount:
            conn.execute(sa.insert(sources_table).values(values))

    def revisions(self) -> dict[str, int]:
        """Per source, a number that changes whenever one of its articles is added or changed."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(revisions_table.c.source_id,
                                          revisions_table.c.revision)).all()
        return {row.source_id: row.revision for row in rows}

    # -- health --------------------------------------------------------------------------

    def add_health_event(self, event: HealthEvent) -> None:
        values = {k: v for k, v in asdict(event).items() if k != "id"}
        with self.engine.begin() as conn:
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
    ) -> UpsertCounts:
        """Store ``articles``: new ones get ``first_seen = now``, changed ones are updated.

        With ``state``, the polling state is saved in the same transaction, so the articles
        and the validators (ETag, body hash) that say we have them never disagree.
        """
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        table = articles_table
        # A key twice in one batch would break the unique index and lose the whole poll;
        # keep the first, as parse_feed does.
        unique: dict[str, Article] = {}
        for article in articles:
            unique.setdefault(article.key, article)
        articles = list(unique.values())
        with self.engine.begin() as conn:
            existing: dict[str, tuple[int, str, datetime]] = {}
            keys = [a.key for a in articles]
            for chunk_start in range(0, len(keys), 500):
                chunk = keys[chunk_start : chunk_start + 500]
                rows = conn.execute(
                    sa.select(table.c.id, table.c.key, table.c.content_hash, table.c.first_seen)
                    .where(table.c.source_id == source_id, table.c.key.in_(chunk))
                )
                for row in rows:
                    existing[row.key] = (row.id, row.content_hash, row.first_seen)
            inserts = []
            for article in articles:
                found = existing.get(article.key)
                if found is None:
                    inserts.append(_row_values(source_id, article, first_seen=now))
                    counts["new"] += 1
                elif found[1] != article.content_hash:
                    # The publisher's `updated` when given; otherwise when we saw the change.
                    changed = replace(article, first_seen=found[2], updated=article.updated or now)
                    values = _row_values(source_id, changed)
                    conn.execute(sa.update(table).where(table.c.id == found[0]).values(values))
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            if inserts:
                conn.execute(sa.insert(table), inserts)
            if counts["new"] or counts["updated"]:
                bumped = conn.execute(
                    sa.update(revisions_table).where(revisions_table.c.source_id == source_id)
                    .values(revision=revisions_table.c.revision + 1)
                )
                if not bumped.rowcount:
                    conn.execute(sa.insert(revisions_table).values(source_id=source_id,
                                                                  revision=1))
            if state is not None:
                values = asdict(state)
                values["created"] = state.created or now
                self._save_state(conn, values)
        return UpsertCounts(**counts)

    def latest(self, source_id: str, limit: int) -> list[Stored]:
        """The newest ``limit`` articles of one source, newest first."""
        query = (
            sa.select(articles_table)
            .where(articles_table.c.source_id == source_id)
            .order_by(articles_table.c.sort_ts.desc(), articles_table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Stored(row.source_id, _article_from_row(row)) for row in conn.execute(query)]

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
