"""Topics, from a review: a source's own articles are never one story, and regular expressions
match in both scripts whichever script they are written in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from atomcheck import problems
from lxml import etree

from feeds import poll, topics
from feeds.config import Config, parse_config
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.publish import publish_all
from feeds.store import Store
from feeds.topics import Index

NOW = datetime(2024, 6, 7, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"

CONFIG = """
output: {{dir: out, base_url: "https://feeds.example.org/", all_feed: true}}
store: {{path: db.sqlite}}
sources:
  - {{id: w, url: "https://w.example.org/feed"}}
  - {{id: mirror, url: "https://mirror.example.org/feed"}}
topics:
{topics}
"""


def make_config(tmp_path: Path, *rules: str) -> Config:
    text = CONFIG.format(topics="\n".join(f"  - {{id: t{i}, {rule}}}"
                                          for i, rule in enumerate(rules)))
    return parse_config(text, "c.yaml", tmp_path)


def entries(path: Path) -> list[etree._Element]:
    return etree.fromstring(path.read_bytes()).findall(f"{ATOM}entry")


def titles(path: Path) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in entries(path)]


def report(day: int, key: str | None = None) -> Article:
    """A daily weather report: one template, its own date and numbers (the reviewer's feed)."""
    text = (f"{day}日青岛天气预报：今天白天多云转晴，最高气温{20 + day}℃，最低气温{12 + day}℃，"
            f"降水概率{(day * 37) % 90}%。偏南风3到4级，阵风5级。相对湿度百分之六十到八十五。"
            "紫外线强度中等，适宜户外活动，请市民注意防晒，出行携带雨具。"
            "海上：黄海中部海域东南风4到5级，浪高1.0到1.5米。\n"
            "明天天气：阴转小雨，气温15到22℃。后天：小雨转多云。"
            "气象台提醒，近期早晚温差较大，注意增减衣物。")
    key = key or f"w{day}"
    published = datetime(2024, 6, day, 7, 0, tzinfo=UTC) - timedelta(hours=8)
    return Article(key=key, url=f"https://w.example.org/{key}.html", canonical_url=None,
                   title=f"青岛天气预报 6月{day}日", text=text, content_html=f"<p>{text}</p>",
                   published=published)


def mirrored(article: Article) -> Article:
    """A copy on a mirror site: Traditional script, a banner, another URL, seen later."""
    assert article.text and article.title and article.published
    text = convert("中國臺灣網移動版 字號 " + article.text, "s2t")
    return Article(key=f"m-{article.key}", url=f"https://mirror.example.org/{article.key}.html",
                   canonical_url=None, title=convert(article.title, "s2t"), text=text,
                   content_html=f"<p>{text}</p>", published=article.published + timedelta(hours=2))


# -- a source's own articles are never one story ----------------------------------------------


def test_one_sources_template_reports_are_one_entry_each(tmp_path: Path, store: Store) -> None:
    """Four reports of one feed (one template, their own keys, links, dates and numbers) are
    four entries in the topic feed and in all.atom, each with its own updated, no 'Also at'."""
    config = make_config(tmp_path, "any: [青岛]")
    store.upsert("w", [report(d) for d in (1, 2, 3, 4)], NOW)
    publish_all(config, store, NOW)
    want = [f"青岛天气预报 6月{d}日" for d in (4, 3, 2, 1)]
    for name in ("topics/t0.atom", "all.atom", "sources/w.atom"):
        path = tmp_path / "out" / name
        assert titles(path) == want, name
        for entry in entries(path):
            assert "also-at" not in (entry.findtext(f"{ATOM}content") or "")
            assert entry.findtext(f"{ATOM}updated") == entry.findtext(f"{ATOM}published")
        assert problems(path.read_bytes(), f"https://feeds.example.org/{name}") == []


def test_a_mirror_joins_its_story_among_template_reports(tmp_path: Path, store: Store) -> None:
    """A Traditional copy of the newest report on another source is grouped with that report
    only (the older reports of its source stay entries of their own), shown with its own
    published date."""
    config = make_config(tmp_path, "any: [青岛]")
    store.upsert("w", [report(d) for d in (1, 2, 3, 4)], NOW)
    store.upsert("mirror", [mirrored(report(4))], NOW + timedelta(hours=1))
    publish_all(config, store, NOW + timedelta(hours=1))
    for name in ("topics/t0.atom", "all.atom"):
        path = tmp_path / "out" / name
        assert titles(path) == [f"青岛天气预报 6月{d}日" for d in (4, 3, 2, 1)], name
        contents = [e.findtext(f"{ATOM}content") or "" for e in entries(path)]
        assert ["also-at" in c for c in contents] == [True, False, False, False]
        assert "https://mirror.example.org/w4.html" in contents[0]
        assert contents[0].count("<a href") == 1
        assert entries(path)[0].findtext(f"{ATOM}published") == entries(
            tmp_path / "out/sources/w.atom")[0].findtext(f"{ATOM}published")
        assert problems(path.read_bytes(), f"https://feeds.example.org/{name}") == []


def test_same_source_near_duplicates_with_one_url_stay_apart(store: Store, tmp_path: Path
                                                             ) -> None:
    """Two articles of one source with distinct keys are two entries even when their text is
    the same and their links agree (a feed that lists one page twice under two GUIDs)."""
    config = make_config(tmp_path, "any: [青岛]")
    a, b = report(2), report(2, key="w2-again")
    b = Article(**{**b.__dict__, "url": a.url, "published": a.published + timedelta(hours=1)})
    store.upsert("w", [a, b], NOW)
    index = Index(config, store)
    got = index.topic_entries(config.topics[0], NOW)
    assert [s.article.key for s in got] == ["w2-again", "w2"]
    assert len(index.all_entries()) == 2


def test_incremental_feeds_equal_a_fresh_evaluation(tmp_path: Path) -> None:
    """Reports arriving over several cycles, and a mirror of one, give the same topic and all
    feeds as evaluating the final store from scratch in a new process."""
    config = make_config(tmp_path, "any: [青岛], limit: 3", "any: [天气预报]")

    def feeds(index: Index) -> list[list[tuple[str, str, str]]]:
        got = [index.topic_entries(t, NOW) for t in config.topics] + [index.all_entries()]
        return [[(s.source_id, s.article.key, s.article.content_html or "") for s in feed]
                for feed in got]

    store = Store.open(tmp_path / "db.sqlite")
    try:
        for day in (1, 2, 3, 4, 5):
            store.upsert("w", [report(day)], NOW)
            if day == 4:
                store.upsert("mirror", [mirrored(report(2))], NOW)
            topics._ENTRIES.clear()
            kept = feeds(Index(config, store))
        topics._ENTRIES.clear()
        fresh_store = Store.open(tmp_path / "fresh.sqlite")
        try:
            fresh_store.upsert("w", [report(d) for d in (1, 2, 3, 4, 5)], NOW)
            fresh_store.upsert("mirror", [mirrored(report(2))], NOW)
            fresh = feeds(Index(config, fresh_store))
        finally:
            fresh_store.close()
    finally:
        store.close()
    assert kept == fresh
    assert [len(feed) for feed in fresh] == [3, 5, 5]
    assert [key for _, key, _ in fresh[1]] == [f"w{d}" for d in (5, 4, 3, 2, 1)]
    assert sum("also-at" in html for *_, html in fresh[2]) == 1


def test_workers_dedup_one_sources_reports_apart_too(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Topic feeds deduped in worker processes keep a source's reports apart as this process
    does, and group the mirror the same way."""
    config = make_config(tmp_path, "any: [青岛], limit: 4", "any: [天气预报]",
                         "any: [紫外线], limit: 2")
    called: list[int] = []
    real = poll.ParsePool.dedup

    def counting(self: poll.ParsePool, *args: object) -> object:
        called.append(1)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(poll.ParsePool, "dedup", counting)

    def feeds(directory: Path, pool: poll.ParsePool | None) -> list[list[tuple[str, str]]]:
        directory.mkdir()
        store = Store.open(directory / "db.sqlite")
        try:
            store.upsert("w", [report(d) for d in range(1, 8)], NOW)
            store.upsert("mirror", [mirrored(report(5))], NOW)
            topics._ENTRIES.clear()
            index = Index(config, store, pool)
            return [[(s.source_id, s.article.key) for s in index.topic_entries(t, NOW)]
                    for t in config.topics]
        finally:
            store.close()

    want = feeds(tmp_path / "here", None)
    pool = poll.ParsePool(2)
    try:
        got = feeds(tmp_path / "workers", pool)
    finally:
        pool.close()
    assert called  # the feeds went to the workers
    assert got == want
    assert want[1] == [("w", f"w{d}") for d in range(7, 0, -1)]


# -- regular expressions in either script -------------------------------------------------------

TEXTS = ("臺港澳居民來往內地通行證在青島市可以辦理", "台港澳居民来往内地通行证在青岛市可以办理")


@pytest.mark.parametrize("pattern", [
    "臺港澳", "台港澳", "青島市", "青岛市", "青島.{0,2}可以", "[臺台]港澳", "[臺]港澳",
    "(?:臺|香)港澳", "臺港澳+居民", r"\A臺港澳|青島市\Z|青島市", "(?P<place>青島)市", "來往內地",
    "(?:ＱＩ)?青島", "青島市(?=可以)", "(?<=在)青島市", r"居民\S{2}內地",
])
def test_regex_in_either_script_matches_text_in_either(tmp_path: Path, store: Store,
                                                       pattern: str) -> None:
    """A topic regex written in Traditional or Simplified characters (with classes, groups,
    quantifiers, lookarounds) matches articles in both scripts, in the full match pass and in
    the incremental one."""
    config = make_config(tmp_path, f"regex: ['{pattern}']")
    store.upsert("w", [Article(key="s", url="https://w.example.org/s", canonical_url=None,
                               title=TEXTS[1], published=NOW - timedelta(hours=1))], NOW)
    store.upsert("mirror", [Article(key="t", url="https://mirror.example.org/t",
                                    canonical_url=None, title=TEXTS[0] + "。",
                                    published=NOW - timedelta(hours=2))], NOW)
    index = Index(config, store)
    assert [s.article.key for s in index.topic_entries(config.topics[0], NOW)] == ["s", "t"]
    # An article stored later is matched by the incremental pass.
    store.upsert("w", [Article(key="later", url="https://w.example.org/later",
                               canonical_url=None, title="最新：" + TEXTS[0], published=NOW)],
                 NOW)
    topics._ENTRIES.clear()
    index = Index(config, store)
    assert [s.article.key for s in index.topic_entries(config.topics[0], NOW)] == [
        "later", "s", "t"]


def test_regex_none_and_filters_fold_too(tmp_path: Path, store: Store) -> None:
    """A source filter's exclude pattern (regex: true) in Traditional characters drops the
    Simplified article it names from the source's and the topic's feeds."""
    text = CONFIG.format(topics="  - {id: t0, any: [青岛]}").replace(
        'url: "https://w.example.org/feed"}',
        'url: "https://w.example.org/feed", filter: {exclude: ["廣告$"], regex: true}}')
    config = parse_config(text, "c.yaml", tmp_path)
    store.upsert("w", [
        Article(key="ad", url="https://w.example.org/ad", canonical_url=None,
                title="青岛啤酒广告", published=NOW - timedelta(hours=1)),
        Article(key="news", url="https://w.example.org/news", canonical_url=None,
                title="青岛新闻", published=NOW - timedelta(hours=2)),
    ], NOW)
    index = Index(config, store)
    assert [s.article.key for s in index.topic_entries(config.topics[0], NOW)] == ["news"]
    assert [s.article.key for s in index.source_entries(config.sources[0])] == ["news"]


@pytest.mark.parametrize(("pattern", "folded"), [
    ("臺港澳", "台港澳"),
    ("ascii only [A-Z]+", "ascii only [A-Z]+"),
    (r"\d+號", r"\d+号"),
    ("[臺灣]", "[臺台灣湾]"),
    ("[一-龥]", "[一-龥]"),
    ("（臺）", r"\(台\)"),           # full-width parentheses stay literal after NFKC
    ("臺+", "台+"),
    ("㍿+", "(?:株式会社)+"),
    ("(?P<臺>x)(?P=臺)", "(?P<臺>x)(?P=臺)"),  # group names are names, not text
    ("ÄÖ", "äö"),
    (r"\N{CJK UNIFIED IDEOGRAPH-81FA}", r"\N{CJK UNIFIED IDEOGRAPH-81FA}"),
])
def test_fold_pattern_folds_literals_only(pattern: str, folded: str) -> None:
    """Only a pattern's literal characters are folded (as keywords are); its syntax stays."""
    from feeds.folding import fold_pattern

    assert fold_pattern(pattern) == folded
