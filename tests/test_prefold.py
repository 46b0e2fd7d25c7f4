"""Articles folded where a cycle parses them: the same text refresh_index would fold from the
store, written with the upsert, and the same topic feeds as an index built from scratch."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import LocalServer

import feeds.worker
from feeds import folding, poll, topics
from feeds.config import load_config
from feeds.folding import fold_article, folded_values
from feeds.model import Article, Person
from feeds.poll import run_cycle
from feeds.publish import publish_all
from feeds.rows import TEXT_TABLE, Folding
from feeds.scheduler import Service
from feeds.sources.feed import FeedContext, parse_feed
from feeds.store import Store
from feeds.topics import FIELDS

NOW = datetime(2024, 6, 7, 12, 0, tzinfo=UTC)
COLUMNS = ("title", "summary", "text", "content_html", "authors", "contributors", "categories",
           "source_name")
INDEX_TABLES = ("topic_text", "topic_meta", "topic_state", "topic_feed", "article_sketch_v2")
MASKS = list(itertools.product((False, True), repeat=len(FIELDS)))


def stored_columns(store: Store) -> dict[str, tuple[str | None, ...]]:
    """Per article key, the columns refresh_index folds, as the store holds them."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT key, {', '.join(COLUMNS)} FROM articles").all()
    return {row[0]: tuple(row[1:]) for row in rows}


# -- fold_article equals folding the stored columns ------------------------------------------

ARTICLES = [
    Article(key="trad", url="https://a.example.org/1", canonical_url=None,
            title="青島啤酒節開幕　ＱＩＮＧＤＡＯ Beer", summary="今年的青島啤酒節吸引了很多遊客。",
            text="青島市政府表示，啤酒節將持續兩週。\n\n全形：ＡＢＣ１２３！",
            content_html="<p>青島市政府表示，啤酒節將持續兩週。</p>",
            authors=(Person("張偉", "zw@example.org"), Person("Ｌｉ　Ｗｅｉ")),
            contributors=(Person("王小明", uri="https://example.org/w"),),
            categories=("城市", "ＳＨＩＰＰＩＮＧ", "Qingdao Port"), source_name="青島日報",
            language="zh-TW"),
    Article(key="html-only", url=None, canonical_url=None, title="Only HTML",
            summary=None, text=None,
            content_html="<div><p>Caf\u00e9 &amp; <b>QINGDAO</b>&nbsp;port</p><br/>港口</div>"),
    Article(key="bare", url=None, canonical_url=None, title="", summary=None, text=None,
            content_html=None),
    Article(key="spaces", url=None, canonical_url=None, title="  Mixed\tCASE  title\n",
            summary="e\u0301 ﬁ ① Ⅻ", text="   ", content_html="<p>from html</p>",
            authors=(Person(""),), categories=("",), source_name="  Reuters  "),
    Article(key="people", url=None, canonical_url=None, title="t",
            contributors=(Person("Zhāng Wěi"), Person("马云")), categories=("a", "b", "a"),
            source_name=None, summary="", text="", content_html=""),
]


def test_fold_article_equals_folding_the_stored_columns(store: Store) -> None:
    """fold_article of each article gives what folded_values gives from its stored columns,
    for every mask of the six fields."""
    store.upsert("s", ARTICLES, NOW)
    columns = stored_columns(store)
    assert set(columns) == {a.key for a in ARTICLES}
    for article, mask in itertools.product(ARTICLES, MASKS):
        assert fold_article(article, mask) == folded_values(columns[article.key], mask), (
            article.key, mask)
    # Not vacuous: the fields differ, and Traditional and full-width text is folded.
    everything = fold_article(ARTICLES[0], (True,) * len(FIELDS)).split(folding.SEP)
    assert everything[0] == "青岛啤酒节开幕 qingdao beer"
    assert everything[3] == "张伟\nli wei\n王小明".replace("\n", " ")
    assert everything[5] == "青岛日报"
    assert fold_article(ARTICLES[1], (False, False, True, False, False, False)) \
        == f"{folding.SEP * 2}café & qingdao port 港口{folding.SEP * 3}"


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>源</title><id>urn:x</id>
<updated>2024-06-07T10:00:00Z</updated>
<entry><id>urn:1</id><title>青島港　ＱＩＮＧＤＡＯ</title><updated>2024-06-07T10:00:00Z</updated>
<author><name>張偉</name></author><contributor><name>Ｌｉ Ｗｅｉ</name></contributor>
<category term="港口"/><category term="Shipping"/>
<content type="html">&lt;p&gt;貨櫃&lt;b&gt;吞吐量&lt;/b&gt;創新高&lt;/p&gt;</content></entry>
<entry><id>urn:2</id><title>Plain</title><updated>2024-06-07T09:00:00Z</updated>
<summary>Only a summary, no content</summary></entry>
<entry><id>urn:3</id><link href="https://example.org/3"/><updated>2024-06-07T08:00:00Z</updated>
<content type="html">&lt;p&gt;No title: 臺灣&lt;/p&gt;</content></entry>
</feed>"""


@pytest.mark.parametrize("convert", [None, "t2s"])
def test_parse_feed_folds_what_the_store_will_hold(store: Store, convert: str | None) -> None:
    """parse_feed with FeedContext.fold gives, per article, what folding its stored columns
    gives (with and without the source's script conversion); without fold it gives none."""
    plain = FeedContext("s", "https://example.org/feed", UTC, convert=convert)
    assert parse_feed(ATOM.encode(), plain).folded is None
    parsed = {mask: parse_feed(ATOM.encode(), FeedContext(
        "s", "https://example.org/feed", UTC, convert=convert, fold=Folding(mask, 1)))
        for mask in MASKS}
    articles = parsed[MASKS[0]].articles
    assert len(articles) == 3
    store.upsert("s", articles, NOW)
    columns = stored_columns(store)
    for mask, feed in parsed.items():
        assert feed.articles == articles
        assert feed.folded == tuple(folded_values(columns[a.key], mask) for a in articles)
    folded = parsed[MASKS[-1]].folded
    assert folded is not None
    title, _, content, people, categories, _ = folded[0].split(folding.SEP)
    assert (title, content, people, categories) == (
        "青岛港 qingdao", "货柜吞吐量创新高", "张伟 li wei", "港口 shipping")


# -- end to end: a cycle writes the index rows, and its feeds equal a rebuilt index's --------


def rss(title: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS document with ``items`` (guid, title, description), an hour apart."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{head}</title><link>http://example.org/{guid}</link>"
        f"<description>{text}</description><category>城市</category>"
        f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S GMT')}"
        "</pubDate></item>"
        for n, (guid, head, text) in enumerate(items))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>http://example.org/</link>{body}</channel></rss>")


def atom(items: list[tuple[str, str, str, str]]) -> str:
    """An Atom document with ``items`` (id, title, author, html content), an hour apart."""
    body = "".join(
        f"<entry><id>urn:{ident}</id><title>{head}</title>"
        f"<updated>{(NOW - timedelta(hours=n, minutes=30)).isoformat()}</updated>"
        f"<author><name>{author}</name></author><contributor><name>Ed Itor</name></contributor>"
        f'<link href="http://example.org/{ident}"/><category term="World"/>'
        f'<content type="html">&lt;p&gt;{html}&lt;/p&gt;</content></entry>'
        for n, (ident, head, author, html) in enumerate(items))
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>English</title><id>urn:en</id><updated>{NOW.isoformat()}</updated>"
            f"{body}</feed>")


CN = [
    ("c1", "青島啤酒節開幕", "今年的青島啤酒節吸引了很多遊客"),  # Traditional: matches 青岛
    ("c2", "济南地铁新线", "济南地铁三号线开通"),
    ("c3", "上海天气", "明天多云"),
    ("c4", "ＱＩＮＧＤＡＯ港口", "全形字母的新闻"),  # full width: matches qingdao
]
EN = [
    ("e1", "Qingdao port expands", "Zhang Wei", "Container traffic at a record"),
    ("e2", "Weather in Paris", "Jean Dupont", "Rain all week"),
    ("e3", "Metro strike", "张伟", "Trains stop in Lyon"),
]
LOCAL = [
    ("l1", "北京地铁延长", "新站开通"),
    ("l2", "地铁广告招商", "广告位出租"),  # excluded by the filter
    ("l3", "青岛海滩", "夏天人多"),
    ("l4", "体育新闻", "足球比赛"),  # in no include: filtered out
]
TOPICS = """
topics:
  - {id: qingdao, any: [青岛, qingdao]}
  - {id: metro, any: [地铁, metro], limit: 5}
  - {id: people, any: [张伟, zhang wei], fields: [author, title]}
"""


def write_config(directory: Path, urls: dict[str, str], out: str = "out",
                 topic_list: str = TOPICS) -> Path:
    """A config of the three served sources (the third filtered) and three topics."""
    path = directory / f"{out}.yaml"
    path.write_text(
        "defaults: {interval: 1h, jitter: 0, allow_private: true, host_delay: 1ms}\n"
        f"store: {{path: {directory / 'feeds.db'}}}\n"
        f"output: {{dir: {directory / out}, max_entries: 20}}\n"
        "sources:\n"
        f"  - {{id: cn, url: \"{urls['cn']}\"}}\n"
        f"  - {{id: en, url: \"{urls['en']}\"}}\n"
        f"  - {{id: local, url: \"{urls['local']}\", "
        "filter: {include: [地铁, 青岛], exclude: [广告]}}\n" + topic_list)
    return path


def serve(server: LocalServer, cn: list[tuple[str, str, str]] = CN,
          en: list[tuple[str, str, str, str]] = EN) -> dict[str, str]:
    # Not conditional: every poll reads the body, and an unchanged one is told by its hash.
    return {"cn": server.add("/cn.rss", rss("中文", cn), conditional=False),
            "en": server.add("/en.atom", atom(en), conditional=False),
            "local": server.add("/local.rss", rss("本地", LOCAL), conditional=False)}


def index_rows(store: Store) -> dict[int, tuple[str, int, str]]:
    """Per article id, its topic_text row: content hash, sequence number, folded text."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT article_id, content_hash, seq, folded FROM {TEXT_TABLE}").all()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def check_index(store: Store) -> dict[int, tuple[str, int, str]]:
    """Every article has a topic_text row of its current version, holding what
    folding its stored columns gives."""
    rows = index_rows(store)
    with store.engine.connect() as conn:
        articles = conn.exec_driver_sql(
            f"SELECT id, content_hash, {', '.join(COLUMNS)} FROM articles").all()
        fields = conn.exec_driver_sql(
            "SELECT value FROM topic_meta WHERE name = 'fields'").scalar_one()
    mask = tuple(f'"{name}"' in fields for name in FIELDS)
    assert mask == (True, True, True, True, True, False)
    assert {a[0] for a in articles} == set(rows)
    for article in articles:
        content_hash, seq, folded = rows[article[0]]
        assert content_hash == article[1]
        assert seq > 0
        assert folded == folded_values(tuple(article[2:]), mask)
    return rows


def topic_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes()
            for p in sorted((*out.glob("topics/*"), *out.glob("sources/*")))}


def rebuilt(directory: Path, urls: dict[str, str], store: Store, out: str) -> dict[str, bytes]:
    """The feeds published from an index built from nothing (as a new process would)."""
    with store.engine.begin() as conn:
        for table in INDEX_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    topics._ENTRIES.clear()
    config = load_config(write_config(directory, urls, out))
    publish_all(config, store, NOW)
    return topic_files(config.output_dir)


@contextlib.contextmanager
def refusing_to_fold() -> Iterator[list[int]]:
    """Folding stored columns (what refresh_index does) raises; yields the attempts."""
    calls: list[int] = []

    def refuse(values: Any, wanted: Any) -> str:
        calls.append(1)
        raise AssertionError("refresh_index read an article back to fold it")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(topics, "folded_values", refuse)
        patch.setattr(folding, "folded_values", refuse)
        yield calls


@pytest.fixture(params=["threads", "processes"])
def parse_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Feeds parsed in the poll threads, or in the cycle's worker processes (parsing in this
    process then fails, so a cycle that polls every source fine parsed them elsewhere)."""
    if request.param == "processes":
        monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 1)
        monkeypatch.setattr(feeds.worker, "PARSE_PROCESSES", 2)

        def elsewhere(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a feed was parsed in this process, not in a worker")

        monkeypatch.setattr(poll, "parse_feed", elsewhere)
    else:
        monkeypatch.setattr(feeds.worker, "PARSE_POOL_MIN_SOURCES", 10_000)
    topics._ENTRIES.clear()
    return str(request.param)


def test_cycle_writes_the_index_rows_and_publishes_what_a_rebuild_publishes(
    http_server: LocalServer, tmp_path: Path, parse_in: str
) -> None:
    """A cycle stores each article's folded text as it polls (refresh_index folds nothing and
    only sequences the rows), and its topic and filtered source feeds equal those of an index
    rebuilt from nothing; again after a second cycle adds one item and changes two."""
    urls = serve(http_server)
    path = write_config(tmp_path, urls)
    service = Service(path, load_config(path), workers=2, clock=lambda: NOW, publish_every=60)
    try:
        with refusing_to_fold() as calls:
            results, _ = service.run_once()
        assert not calls
        assert [(r.status, r.new) for r in results] == [("ok", 4), ("ok", 3), ("ok", 4)]
        first = check_index(service.store)
        assert len(first) == 11 and {seq for _, seq, _ in first.values()} == {1}
        out = tmp_path / "out"
        published = topic_files(out)
        entries = {name: data.count(b"<entry>") for name, data in published.items()}
        assert entries == {"topics/qingdao.atom": 4, "topics/metro.atom": 3,
                           "topics/people.atom": 2, "sources/cn.atom": 4,
                           "sources/en.atom": 3, "sources/local.atom": 2}
        assert "青島啤酒節開幕".encode() in published["topics/qingdao.atom"]
        assert published == rebuilt(tmp_path, urls, service.store, "rebuilt1")

        # Second cycle: c5 is new, c3 starts matching qingdao, c2 stops matching metro.
        changed_cn = [*CN, ("c5", "青岛地铁开通", "新线路")]
        changed_cn[1] = ("c2", "济南公交新线", "济南公交三号线开通")
        changed_cn[2] = ("c3", "上海天气", "明天去青島")
        serve(http_server, cn=changed_cn)
        later = NOW + timedelta(hours=1)
        service.clock = lambda: later
        with refusing_to_fold() as calls:
            results, _ = service.run_once()
        assert not calls
        assert [(r.status, r.new, r.updated) for r in results] == [
            ("ok", 1, 2), ("not modified", 0, 0), ("not modified", 0, 0)]
        second = check_index(service.store)
        with service.store.engine.connect() as conn:
            ids = {url.rsplit("/", 1)[1]: aid for url, aid in conn.exec_driver_sql(
                "SELECT url, id FROM articles WHERE source_id = 'cn'").all()}
        for key in ("c2", "c3"):
            assert second[ids[key]][0] != first[ids[key]][0]  # the new content hash
            assert second[ids[key]][1] == 2
        assert second[ids["c5"]][1] == 2
        assert {seq for aid, (_, seq, _) in second.items() if aid in first
                and aid not in (ids["c2"], ids["c3"])} == {1}
        published = topic_files(out)
        assert published["topics/qingdao.atom"].count(b"<entry>") == 6
        assert published["topics/metro.atom"].count(b"<entry>") == 3
        assert "明天去青島".encode() in published["topics/qingdao.atom"]
        assert "济南公交".encode() not in published["topics/metro.atom"]
        assert published == rebuilt(tmp_path, urls, service.store, "rebuilt2")
    finally:
        service.close()


def test_without_folding_while_polling_refresh_index_folds(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """The same cycle run without ``fold`` leaves the folding to refresh_index, which then
    fails when folding stored columns raises: the test above can tell the two apart."""
    urls = serve(http_server)
    path = write_config(tmp_path, urls)
    topics._ENTRIES.clear()
    service = Service(path, load_config(path), workers=2, clock=lambda: NOW, publish_every=60)
    try:
        results = run_cycle(service.config, service.store, service.fetcher, NOW, workers=2)
        assert [r.new for r in results] == [4, 3, 4]
        with refusing_to_fold() as calls, pytest.raises(AssertionError, match="read an article"):
            service.publish()
        assert calls
    finally:
        service.close()


# Index.prepare() empties the index to hold the new field before polling: its watermark must
# go too, or refresh_index would fold only articles past it and never those of sources the
# cycle did not change.
def test_a_rule_on_a_new_field_in_a_polling_cycle_indexes_every_article(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """When a config adds a rule on a field the index did not hold (author), the cycle that
    empties the index to hold it still indexes the articles of sources that did not change:
    its feeds equal a rebuilt index's."""
    urls = serve(http_server)
    path = write_config(tmp_path, urls, topic_list=TOPICS.split("  - {id: people")[0])
    first = Service(path, load_config(path), workers=2, clock=lambda: NOW, publish_every=60)
    try:
        first.run_once()
    finally:
        first.close()
    path = write_config(tmp_path, urls)
    serve(http_server, cn=[*CN, ("c5", "青岛地铁开通", "新线路")])  # one source changes
    topics._ENTRIES.clear()
    later = NOW + timedelta(hours=1)
    service = Service(path, load_config(path), workers=2, clock=lambda: later, publish_every=60)
    try:
        results, _ = service.run_once()
        assert [r.status for r in results] == ["ok", "not modified", "not modified"]
        published = topic_files(tmp_path / "out")
        assert published == rebuilt(tmp_path, urls, service.store, "rebuilt")
        assert published["topics/people.atom"].count(b"<entry>") == 2
        check_index(service.store)
    finally:
        service.close()


def test_each_cycle_claims_a_sequence_number_above_every_rule_and_claim(tmp_path: Path) -> None:
    """prepare_index claims a number above every row, rule state and earlier claim (a cycle
    that stopped half-way keeps its own); refresh_index releases the claim."""
    from feeds import topics

    store = Store.open(tmp_path / "db.sqlite")
    try:
        first = topics.prepare_index(store)
        assert first.seq == 1 and first.fields == tuple(f in topics.DEFAULT_FIELDS
                                                         for f in FIELDS)
        assert topics.prepare_index(store).seq == 2  # the first cycle never published
        with store.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO topic_state VALUES ('h', 'x', 7, 1, 0, 1, x'')")
        assert topics.prepare_index(store).seq == 8
        topics.refresh_index(store)
        with store.engine.connect() as conn:
            claimed = conn.exec_driver_sql(
                "SELECT count(*) FROM topic_meta WHERE name = 'claimed'").scalar_one()
        assert claimed == 0
        assert topics.prepare_index(store).seq == 8  # rows and states decide again
    finally:
        store.close()


def test_a_topic_index_that_cannot_be_prepared_does_not_fail_polling(
        http_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If preparing the topic index fails, the cycle polls and stores every source all the
    same, and the index folds the articles when it is updated."""
    from feeds import topics

    asked: list[int] = []

    def broken(self: topics.Index) -> None:
        asked.append(1)
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(topics.Index, "prepare", broken)
    urls = serve(http_server)
    path = write_config(tmp_path, urls)
    service = Service(path, load_config(path), workers=2, clock=lambda: NOW, publish_every=60)
    try:
        results, _ = service.run_once()
        assert asked and all(not r.failed for r in results)
        check_index(service.store)  # every article indexed, by the update after polling
    finally:
        service.close()
