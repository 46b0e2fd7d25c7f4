"""Topics: a cycle with new articles costs the new articles, not the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feeds import topics
from feeds.config import Config, parse_config
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.store import Store
from feeds.topics import Index, refresh_index

NOW = datetime(2024, 6, 7, 12, 0, tzinfo=UTC)

CONFIG = """
store: {path: db.sqlite}
output: {max_entries: 20}
sources:
  - {id: alpha, url: "https://alpha.example.org/feed"}
  - {id: beta, url: "https://beta.example.org/feed"}
topics:
  - {id: qingdao, any: [青岛], limit: 20}
"""


def art(key: str, n: int, minutes: float, script: str = "s") -> Article:
    """Story ``n`` (its own numbers in every sentence), in Simplified or Traditional."""
    text = f"青岛第{n}条新闻：" + "".join(f"内容{n}句子{k}不同。" for k in range(12))
    title = f"青岛{n}"
    if script == "t":
        text, title = convert(text, "s2t"), convert(title, "s2t")
    return Article(key=key, url=f"https://{key}.example.org/", canonical_url=None, title=title,
                   text=text, content_html=f"<p>{text}</p>",
                   published=NOW - timedelta(minutes=minutes))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return parse_config(CONFIG, "c.yaml", tmp_path)


def fresh_index(config: Config, store: Store) -> Index:
    """An Index as a new process would make it (nothing cached in this one)."""
    topics._ENTRIES.clear()
    index = Index(config, store)
    index.update()
    return index


def shown(index: Index, config: Config) -> list[tuple[str, str]]:
    return [(s.article.title, s.article.content_html or "")
            for s in index.topic_entries(config.topics[0], NOW)]


def test_new_articles_give_the_feed_a_fresh_computation_gives(config: Config,
                                                              store: Store) -> None:
    """After new articles ahead of what a feed read, the feed is deduped afresh (resuming its
    kept stories could group otherwise) and equals the feed computed from scratch; a new
    copy of a kept story joins it."""
    store.upsert("alpha", [art(f"old{n}", n, 100 + n) for n in range(300)], NOW)
    first = fresh_index(config, store)
    assert len(shown(first, config)) == 20
    assert first.compared > 20  # the first build reads every candidate it needs
    # Five new stories, and a copy (other script, other source) of the newest kept one.
    store.upsert("alpha", [art(f"new{n}", 1000 + n, n) for n in range(5)], NOW)
    store.upsert("beta", [art("copy0", 0, 10, script="t")], NOW)
    later = fresh_index(config, store)
    merged = shown(later, config)
    assert later.merges == 0 and later.compared > 20
    assert [title for title, _ in merged[:5]] == [f"青岛{1000 + n}" for n in range(5)]
    assert "also-at" in dict(merged)["青岛0"]
    # The same store, feed computed from scratch (kept stories forgotten): the same feed.
    with store.engine.begin() as conn:
        conn.execute(sa.delete(topics.topic_feed))
    scratch = fresh_index(config, store)
    assert shown(scratch, config) == merged


def test_a_match_past_what_the_feed_read_reuses_its_kept_stories(config: Config,
                                                               store: Store) -> None:
    """A new match older than every candidate a feed read changes nothing dedup reads: the
    kept stories are loaded, nothing is compared, and the feed equals one from scratch."""
    store.upsert("alpha", [art(f"old{n}", n, 100 + n) for n in range(300)], NOW)
    fresh_index(config, store).topic_entries(config.topics[0], NOW)
    store.upsert("beta", [art("older", 5000, 100_000)], NOW)
    later = fresh_index(config, store)
    kept = shown(later, config)
    assert later.merges == 1 and later.compared == 0
    with store.engine.begin() as conn:
        conn.execute(sa.delete(topics.topic_feed))
    scratch = fresh_index(config, store)
    assert shown(scratch, config) == kept and scratch.compared > 20


def test_an_older_change_computes_the_feed_afresh(config: Config, store: Store) -> None:
    """A change among the matches a feed already read (an edited old article) is not
    merged: the feed is computed again from its matches."""
    store.upsert("alpha", [art(f"old{n}", n, 100 + n) for n in range(50)], NOW)
    fresh_index(config, store).topic_entries(config.topics[0], NOW)
    store.upsert("alpha", [art("old3", 3, 100 + 3, script="t")], NOW)  # edited in place
    later = fresh_index(config, store)
    assert len(shown(later, config)) == 20
    assert later.merges == 0 and later.compared > 20


def test_nothing_new_reads_no_article(config: Config, store: Store) -> None:
    """With nothing stored since the last fold, refresh_index compares no article with its
    folded version; after an upsert it compares only the source that changed."""
    store.upsert("alpha", [art(f"a{n}", n, n) for n in range(30)], NOW)
    store.upsert("beta", [art(f"b{n}", 100 + n, n) for n in range(30)], NOW)
    assert refresh_index(store)[0] == 60
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert refresh_index(store)[0] == 0
        assert not [s for s in statements if "JOIN topic_text" in s]
        store.upsert("beta", [art("b-new", 500, 0)], NOW)
        statements.clear()
        assert refresh_index(store)[0] == 1
        joins = [s for s in statements if "JOIN topic_text" in s]
        assert len(joins) == 1 and "articles.source_id IN" in joins[0]
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def test_rule_state_batch_update_equals_one_at_a_time() -> None:
    """RuleState.discard_many and add_many leave the newest matches that discard and add
    one article at a time leave (ties in time, truncation, an emptied truncated state)."""
    import random

    from feeds.topics import RuleState

    rng = random.Random(8)
    for _ in range(300):
        depth = rng.randint(1, 12)
        old = sorted({(float(rng.randint(0, 30)), aid) for aid in range(rng.randint(0, 20))},
                     reverse=True)
        truncated = len(old) > depth or rng.random() < 0.3
        one = RuleState("s", 0, depth, truncated, 0, old[:depth])
        many = RuleState("s", 0, depth, truncated, 0, old[:depth])
        changed = set(rng.sample(range(40), rng.randint(0, 15)))
        new = [(float(rng.randint(0, 40)), aid) for aid in changed if rng.random() < 0.6]
        for aid in changed:
            one.discard(aid)
        for ts, aid in new:
            one.add(ts, aid)
        many.discard_many(changed)
        many.add_many(new)
        assert many.top == one.top
        assert many.ids == one.ids == {aid for _, aid in one.top}
        assert many.truncated == one.truncated
