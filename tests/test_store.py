"""The store: articles keyed by (source, key), stable first_seen, polling state, schema guard."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.errors import StoreError
from feeds.model import Article, Enclosure, Image, Person
from feeds.store import SCHEMA_VERSION, SourceState, Store

T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


def art(key: str, title: str = "title", **kwargs: object) -> Article:
    fields: dict[str, object] = {"url": f"https://example.org/{key}", "canonical_url": None}
    fields.update(kwargs)
    return Article(key=key, title=title, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state" / "feeds.db")
    try:
        yield s
    finally:
        s.close()


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


def test_open_creates_schema_and_records_version(tmp_path: Path) -> None:
    """A new store creates its parent directory, its tables and records the schema version."""
    path = tmp_path / "deep" / "dir" / "feeds.db"
    Store.open(path).close()
    assert path.exists()
    assert rows(path, "SELECT value FROM meta WHERE name='schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]


def test_reopen_keeps_data_and_created(tmp_path: Path) -> None:
    """Reopening an existing store keeps its articles and its creation time."""
    path = tmp_path / "feeds.db"
    first = Store.open(path)
    first.upsert("s", [art("a")], T0)
    created = first.created
    first.close()
    second = Store.open(path)
    try:
        assert [s.article.key for s in second.latest("s", 10)] == ["a"]
        assert second.created == created
    finally:
        second.close()


def test_new_article_gets_first_seen_now(store: Store) -> None:
    """first_seen is the time of the first upsert, whatever the caller put in the article."""
    counts = store.upsert("s", [art("a", first_seen=T0 - timedelta(days=9))], T0)
    assert (counts.new, counts.updated, counts.unchanged) == (1, 0, 0)
    assert store.latest("s", 1)[0].article.first_seen == T0


def test_unchanged_article_is_not_rewritten(store: Store) -> None:
    """The same article again counts as unchanged and leaves first_seen and updated alone."""
    store.upsert("s", [art("a")], T0)
    counts = store.upsert("s", [art("a")], T0 + timedelta(hours=1))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    stored = store.latest("s", 10)
    assert len(stored) == 1
    assert stored[0].article.first_seen == T0
    assert stored[0].article.updated is None


def test_changed_article_updates_in_place(store: Store, tmp_path: Path) -> None:
    """A changed content hash updates the row: no duplicate, first_seen kept, updated = now."""
    store.upsert("s", [art("a", "old title")], T0)
    later = T0 + timedelta(hours=2)
    counts = store.upsert("s", [art("a", "new title")], later)
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 0)
    stored = store.latest("s", 10)
    assert [s.article.title for s in stored] == ["new title"]
    assert stored[0].article.first_seen == T0
    assert stored[0].article.updated == later
    assert rows(tmp_path / "state" / "feeds.db", "SELECT count(*) FROM articles") == [(1,)]


def test_publisher_updated_wins_over_now(store: Store) -> None:
    """When the publisher gives `updated`, a changed article keeps that, not our clock."""
    store.upsert("s", [art("a", "v1")], T0)
    theirs = datetime(2024, 12, 5, 9, 30, tzinfo=BEIJING)
    store.upsert("s", [art("a", "v2", updated=theirs)], T0 + timedelta(days=1))
    assert store.latest("s", 1)[0].article.updated == theirs


def test_same_key_in_two_sources_is_two_articles(store: Store) -> None:
    """Articles are keyed by (source, key): the same key in another source is another story."""
    store.upsert("one", [art("shared")], T0)
    store.upsert("two", [art("shared")], T0)
    assert store.counts() == {"one": 1, "two": 1}
    assert store.known_keys("one", ["shared", "other"]) == {"shared"}
    assert store.known_keys("three", ["shared"]) == set()


def test_round_trip_keeps_every_field(store: Store) -> None:
    """Every article field, offsets and Chinese text included, comes back as it went in."""
    published = datetime(2021, 6, 7, 10, 22, tzinfo=BEIJING)
    article = art(
        "k",
        "青島港 新聞",
        canonical_url="https://example.org/k",
        summary="摘要",
        content_html="<p>正文</p>",
        text="正文",
        published=published,
        authors=(Person("郭碧娟", "guo@example.org", "https://example.org/guo"),),
        contributors=(Person("編輯"),),
        source_name="中國臺灣網",
        categories=("地方", "Qingdao"),
        language="zh-TW",
        images=(Image("https://example.org/i.jpg", "港口"),),
        enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 123),),
        fingerprint="f" * 16,
    )
    store.upsert("s", [article], T0)
    back = store.latest("s", 1)[0].article
    assert back == replace(article, first_seen=T0)
    assert back.published is not None and back.published.utcoffset() == timedelta(hours=8)


def test_latest_is_newest_first_and_limited(store: Store) -> None:
    """latest() orders by published (first_seen when absent), newest first, and caps the count."""
    store.upsert(
        "s",
        [
            art("old", published=T0 - timedelta(days=2)),
            art("new", published=T0 + timedelta(days=1)),
            art("undated"),  # sorts by first_seen = T0
        ],
        T0,
    )
    assert [s.article.key for s in store.latest("s", 10)] == ["new", "undated", "old"]
    assert [s.article.key for s in store.latest("s", 2)] == ["new", "undated"]


def test_iter_articles_filters_sources_and_age(store: Store) -> None:
    """iter_articles() restricts to the given sources and to articles newer than `since`."""
    store.upsert("a", [art("a1", published=T0), art("a2", published=T0 - timedelta(days=5))], T0)
    store.upsert("b", [art("b1", published=T0 + timedelta(hours=1))], T0)
    assert [s.article.key for s in store.iter_articles()] == ["b1", "a1", "a2"]
    assert [s.article.key for s in store.iter_articles(["a"])] == ["a1", "a2"]
    since = T0 - timedelta(days=1)
    assert [s.article.key for s in store.iter_articles(since=since)] == ["b1", "a1"]


def test_polling_state_is_per_source(store: Store) -> None:
    """Each source keeps its own validators and counters; saving one leaves the other alone."""
    assert store.state("x") == SourceState(id="x")
    modified = "Mon, 07 Jun 2021 02:22:00 GMT"
    store.save_state(SourceState(id="x", etag='"abc"', last_modified=modified, last_success=T0))
    store.save_state(SourceState(id="y", last_error="HTTP 500", failures=3, last_error_at=T0))
    x, y = store.state("x"), store.state("y")
    assert (x.etag, x.last_success, x.failures) == ('"abc"', T0, 0)
    assert (y.etag, y.last_error, y.failures) == (None, "HTTP 500", 3)
    assert set(store.states()) == {"x", "y"}


def test_state_created_survives_updates(store: Store) -> None:
    """Saving a state again updates it but keeps the time the source was first recorded."""
    store.save_state(SourceState(id="x", created=T0))
    store.save_state(replace(store.state("x"), etag='"2"', created=T0 + timedelta(days=3)))
    state = store.state("x")
    assert state.created == T0
    assert state.etag == '"2"'


def test_upsert_saves_state_in_the_same_transaction(store: Store) -> None:
    """A failing upsert stores neither articles nor the state (validators never get ahead)."""
    good = art("good")
    naive = art("bad", published=datetime(2021, 6, 7, 10, 22))  # no tzinfo: refused
    with pytest.raises(Exception, match="naive datetime"):
        store.upsert("s", [good, naive], T0, SourceState(id="s", etag='"new"'))
    assert store.counts() == {}
    assert store.state("s").etag is None
    store.upsert("s", [good], T0, SourceState(id="s", etag='"new"'))
    assert store.counts() == {"s": 1}
    assert store.state("s").etag == '"new"'


def test_many_articles_in_one_upsert(store: Store) -> None:
    """More keys than one IN-chunk (500) are matched correctly on the second pass."""
    articles = [art(f"k{i}", published=T0 - timedelta(minutes=i)) for i in range(1203)]
    assert store.upsert("s", articles, T0).new == 1203
    again = store.upsert("s", articles, T0 + timedelta(hours=1))
    assert (again.new, again.unchanged) == (0, 1203)
    assert store.counts() == {"s": 1203}


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    """A store written by another schema version raises StoreError naming both versions."""
    path = tmp_path / "feeds.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE name='schema_version'")
    with pytest.raises(StoreError, match=rf"version 99 .*version {SCHEMA_VERSION}") as info:
        Store.open(path)
    assert str(path) in str(info.value)


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A file that is not SQLite gives a StoreError that says so, not a raw driver error."""
    path = tmp_path / "feeds.db"
    path.write_bytes(b"this is a text file, not a database\n" * 100)
    with pytest.raises(StoreError, match="not a usable database") as info:
        Store.open(path)
    assert str(path) in str(info.value)
    assert path.read_bytes().startswith(b"this is a text file")  # left untouched


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    """Another program's SQLite file is refused, listing its tables, and left unchanged."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(StoreError, match=r"not created by feeds.*customers"):
        Store.open(path)
    assert rows(path, "SELECT name FROM sqlite_master WHERE type='table'") == [("customers",)]


def test_meta_table_without_version_is_refused(tmp_path: Path) -> None:
    """A meta table with no schema_version row is treated as an incompatible store."""
    path = tmp_path / "feeds.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE name='schema_version'")
    with pytest.raises(StoreError, match="schema version None"):
        Store.open(path)


def test_same_key_twice_in_one_batch(store: Store) -> None:
    """A batch holding one key twice stores it once (the first wins) instead of failing."""
    counts = store.upsert("s", [art("a", "first"), art("b"), art("a", "second")], T0)
    assert (counts.new, counts.updated) == (2, 0)
    assert {s.article.key: s.article.title for s in store.latest("s", 10)} == {
        "a": "first", "b": "title"
    }


def test_update_then_same_again_is_unchanged(store: Store) -> None:
    """After an update, the same article again is unchanged: our own `updated` is not hashed."""
    store.upsert("s", [art("a", "v1")], T0)
    store.upsert("s", [art("a", "v2")], T0 + timedelta(hours=1))
    counts = store.upsert("s", [art("a", "v2")], T0 + timedelta(hours=2))
    assert (counts.updated, counts.unchanged) == (0, 1)
    assert store.latest("s", 1)[0].article.updated == T0 + timedelta(hours=1)


def test_revision_rises_only_when_something_is_new_or_changed(store: Store) -> None:
    """A source's revision starts at 1, stays put on an unchanged poll and rises on a change."""
    assert store.revisions() == {}
    store.upsert("s", [art("a")], T0)
    store.upsert("t", [], T0)
    assert store.revisions() == {"s": 1}
    store.upsert("s", [art("a")], T0 + timedelta(hours=1))
    assert store.revisions() == {"s": 1}
    store.upsert("s", [art("a", "edited")], T0 + timedelta(hours=2))
    store.upsert("s", [art("a", "edited"), art("b")], T0 + timedelta(hours=3))
    assert store.revisions() == {"s": 3}


def test_changed_undated_article_keeps_its_place(store: Store) -> None:
    """An undated article that changes still sorts by its first_seen, not by the change."""
    store.upsert("s", [art("undated")], T0)
    store.upsert("s", [art("dated", published=T0 + timedelta(hours=1))], T0 + timedelta(hours=1))
    store.upsert("s", [art("undated", "edited")], T0 + timedelta(hours=5))
    assert [s.article.key for s in store.latest("s", 10)] == ["dated", "undated"]
    assert store.latest("s", 10)[1].article.title == "edited"


def test_state_round_trip_keeps_every_field(store: Store) -> None:
    """Every polling-state field, offsets, flags and floats included, comes back as saved."""
    state = SourceState(
        id="x", title="標題", link="https://example.org/", etag='"e"',
        last_modified="Mon, 07 Jun 2021 02:22:00 GMT", body_hash="b" * 64, created=T0,
        last_attempt=datetime(2024, 12, 5, 16, 0, tzinfo=BEIJING), last_success=T0,
        last_error="HTTP 500", last_error_at=T0, failing_since=T0, failures=4,
        next_due=T0 + timedelta(hours=1), retry_after=T0 + timedelta(minutes=5),
        moved_to="https://example.org/new", gone=True, interval_hint=900.5,
    )
    store.save_state(state)
    assert store.state("x") == state
    assert store.states() == {"x": state}
    back = store.state("x").last_attempt
    assert back is not None and back.utcoffset() == timedelta(hours=8)


def test_save_states_inserts_and_updates_in_one_call(store: Store) -> None:
    """save_states adds new sources and updates known ones (keeping created); the last state
    given for a source wins."""
    store.save_state(SourceState(id="old", created=T0, etag='"1"'))
    later = T0 + timedelta(days=1)
    store.save_states([
        SourceState(id="old", created=later, etag='"2"'),
        SourceState(id="new", etag='"a"'),
        SourceState(id="new", etag='"b"', failures=2),
    ])
    states = store.states()
    assert (states["old"].created, states["old"].etag) == (T0, '"2"')
    assert (states["new"].etag, states["new"].failures) == ('"b"', 2)
    assert states["new"].created is not None


def test_upsert_state_keeps_created_of_a_known_source(store: Store) -> None:
    """The state saved with an upsert updates a known source without moving its created."""
    store.upsert("s", [art("a")], T0, SourceState(id="s", etag='"1"'))
    assert store.state("s").created == T0
    store.upsert("s", [art("b")], T0 + timedelta(days=2),
                 SourceState(id="s", etag='"2"', created=T0 + timedelta(days=2)))
    assert (store.state("s").created, store.state("s").etag) == (T0, '"2"')


def test_stored_text_keeps_its_format(store: Store, tmp_path: Path) -> None:
    """Dates, JSON lists and flags are stored as earlier releases wrote them, so existing
    stores and the SQLAlchemy readers (topics) read the same values."""
    published = datetime(2021, 6, 7, 10, 22, tzinfo=BEIJING)
    store.upsert("s", [art("k", published=published, authors=(Person("郭", None, "u"),),
                           categories=("地方", "Qingdao"))], T0,
                 SourceState(id="s", gone=True))
    db = tmp_path / "state" / "feeds.db"
    assert rows(db, "SELECT published, first_seen, authors, categories, contributors, sort_ts "
                    "FROM articles") == [(
        "2021-06-07T10:22:00+08:00", "2024-12-05T08:00:00+00:00",
        '[{"name":"郭","email":null,"uri":"u"}]', '["地方", "Qingdao"]', "[]",
        published.timestamp(),
    )]
    assert rows(db, "SELECT gone, created FROM sources") == [(1, "2024-12-05T08:00:00+00:00")]


def test_latest_matches_the_sqlalchemy_reader(store: Store) -> None:
    """latest() (driver rows) and _article_from_row (SQLAlchemy rows, used by topics) build
    the same articles."""
    import sqlalchemy as sa

    from feeds.store import _article_from_row, articles_table

    store.upsert("s", [
        art("a", published=datetime(2021, 6, 7, 10, 22, tzinfo=BEIJING),
            authors=(Person("A"), Person("B", "b@example.org")), categories=("x",),
            images=(Image("https://example.org/i.jpg"),),
            enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 5),)),
        art("b", summary="s", updated=T0),
    ], T0)
    with store.engine.connect() as conn:
        core = [_article_from_row(row) for row in conn.execute(
            sa.select(articles_table).order_by(articles_table.c.sort_ts.desc()))]
    assert [s.article for s in store.latest("s", 10)] == core
    assert [a.key for a in core] == ["b", "a"]
    # What a worker process reads from the file itself (feeds.rows, no SQLAlchemy).
    from feeds.rows import latest_from_file

    assert store.sqlite_file is not None
    assert latest_from_file(store.sqlite_file, "s", 10) == store.latest("s", 10)
    assert latest_from_file(store.sqlite_file, "s", 1) == store.latest("s", 1)


def test_json_lists_encode_alike_from_tuples_and_lists() -> None:
    """A list where a tuple is expected (not hashable, so not cached) is stored the same."""
    from feeds.rows import categories_json, json_list

    people = (Person("A", "a@example.org"), Person("B"))
    assert json_list(people) == json_list(list(people))
    assert categories_json(("x", "y")) == categories_json(["x", "y"]) == '["x", "y"]'


def _rss(*items: tuple[str | None, str | None, str]) -> bytes:
    """An RSS 2.0 document of (guid, link, title) items."""
    out = []
    for guid, link, title in items:
        out.append("<item><title>" + title + "</title>"
                   + (f"<link>{link}</link>" if link else "")
                   + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
                   + f"<description>{title} in a few words.</description></item>")
    return ('<rss version="2.0"><channel><title>t</title><link>https://a.example/</link>'
            + "".join(out) + "</channel></rss>").encode()


def _poll(store: Store, body: bytes) -> tuple[int, int, int]:
    from zoneinfo import ZoneInfo

    from feeds.sources.feed import FeedContext, parse_feed

    parsed = parse_feed(body, FeedContext("s", "https://a.example/feed", ZoneInfo("UTC")))
    counts = store.upsert("s", parsed.articles, datetime(2024, 5, 1, tzinfo=UTC))
    return counts.new, counts.updated, counts.unchanged


@pytest.mark.parametrize("later", [
    # A publisher reuses the GUID of a stored story for a new one: the GUID is no longer
    # unique in the feed, so neither item is keyed by it.
    [("g1", "https://a.example/a", "Story A"), ("g1", "https://a.example/b", "Story B")],
    # Without GUIDs, a new item links where a stored one does.
    [(None, "https://a.example/a", "Story A"), (None, "https://a.example/a", "Story B")],
])
def test_a_story_keeps_its_key_when_its_guid_or_link_stops_being_unique(
        store: Store, later: list[tuple[str | None, str | None, str]]) -> None:
    """A stored story whose GUID or link another item starts sharing stays one article:
    only the other item is new, and when it leaves again nothing is new or changed."""
    first = later[0]
    assert _poll(store, _rss(first)) == (1, 0, 0)
    assert _poll(store, _rss(*later)) == (1, 0, 1)
    assert _poll(store, _rss(*later)) == (0, 0, 2)
    assert _poll(store, _rss(first)) == (0, 0, 1)
    titles = sorted(s.article.title for s in store.latest("s", 10))
    assert titles == ["Story A", "Story B"]


def test_a_story_keyed_by_url_keeps_that_key_when_its_guid_becomes_unique(store: Store) -> None:
    """Two items sharing a GUID are keyed by URL; when one goes, the other (now with a
    unique GUID) is still the stored article, not a new one."""
    both = [("g1", "https://a.example/a", "Story A"), ("g1", "https://a.example/b", "Story B")]
    assert _poll(store, _rss(*both)) == (2, 0, 0)
    assert _poll(store, _rss(both[1])) == (0, 0, 1)
    assert len(store.latest("s", 10)) == 2


def test_a_store_path_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    """A store path whose directory cannot exist (a file is in the way) raises StoreError
    naming that directory, not a bare OSError."""
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="afile"):
        Store.open(blocker / "x.db")


def test_entries_of_one_time_keep_the_publishers_order(store: Store) -> None:
    """Undated entries, first seen together, come out in the feed's own order, newest
    (first) first; so do entries sharing one date."""
    body = _rss(("g1", "https://a.example/1", "First"), ("g2", "https://a.example/2", "Second"),
                ("g3", "https://a.example/3", "Third"))
    _poll(store, body)
    assert [s.article.title for s in store.latest("s", 10)] == ["First", "Second", "Third"]
