"""Topic work in a cycle's worker processes gives what the same work gives in this process."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds import folding, poll, topics
from feeds.config import parse_config
from feeds.folding import Finder, latin
from feeds.model import Article
from feeds.store import Store
from feeds.topics import Index, RuleSet, scan

NOW = datetime(2024, 6, 7, 12, 0, tzinfo=UTC)
WORDS = ["青岛", "青島", "岛", "济南", "地铁", "啤酒", "Taiwan", "Taiwanese", "port", "港口",
         "会议", "新能源汽车", "汽车", "qing", "dao"]
CONFIG = """
store: {{path: db.sqlite}}
output: {{max_entries: 5}}
sources:
  - {{id: alpha, url: "https://alpha.example.org/feed"}}
  - {{id: beta, url: "https://beta.example.org/feed"}}
topics:
{topics}
"""
RULES = [
    "any: [青岛, port]", "all: [青岛, 地铁]", "any: [济南], none: [啤酒]",
    "regex: ['青岛.{0,4}地铁']", "regex: ['(港口|啤酒)']", "any: [Taiwan]",
    "any: [Taiwan], word_boundaries: false", "any: ['Taiwan*'], language: en",
    "any: [会议], fields: [title]", "any: [地铁], sources: [beta]",
    "any: [地铁], exclude_sources: [beta]", "none: [青岛]", "any: [汽车, 岛]",
]


def fill(store: Store, count: int) -> None:
    rng = random.Random(5)
    by_source: dict[str, list[Article]] = {"alpha": [], "beta": []}
    for n in range(count):
        title = " ".join(rng.sample(WORDS, 2))
        text = "".join(rng.sample(WORDS, 3)) + " " + " ".join(rng.sample(WORDS, 2))
        by_source[rng.choice(["alpha", "beta"])].append(Article(
            key=f"a{n}", url=f"https://a{n}.example.org/", canonical_url=None, title=title,
            text=text, content_html=f"<p>{text}</p>", categories=(rng.choice(WORDS),),
            language=rng.choice(["zh-CN", "en", None]),
            published=NOW - timedelta(minutes=rng.randint(0, 50))))  # ties in sort_ts too
    for sid, articles in by_source.items():
        store.upsert(sid, articles, NOW)


def brute_hits(words: list[str], fields: list[str]) -> dict[int, int]:
    """Keyword occurrences by str.find, every occurrence with its boundary combination."""
    out: dict[int, int] = {}
    for f, text in enumerate(fields):
        for kid, word in enumerate(words):
            at = text.find(word)
            while at >= 0:
                end = at + len(word) - 1
                start_ok = not latin(word[0]) or at == 0 or not latin(text[at - 1])
                end_ok = not latin(word[-1]) or end == len(text) - 1 or not latin(text[end + 1])
                out[kid] = out.get(kid, 0) | 1 << (2 * start_ok + end_ok + 4 * f)
                at = text.find(word, at + 1)
    return out


def test_finder_hits_equal_every_occurrence_found_by_find() -> None:
    """Finder.hits gives, per keyword, the (field, boundary) bits of all its occurrences,
    overlapping ones and both kinds of keyword (Latin-bounded and not) included."""
    words = [w.lower() for w in WORDS]
    finder = Finder(words)
    rng = random.Random(9)
    pieces = [*words, " ", "x", "港", "taiwanese", "qingdao", "_"]
    seen = 0
    for _ in range(500):
        fields = ["".join(rng.choices(pieces, k=rng.randint(0, 8))) for _ in range(4)]
        want = brute_hits(words, fields)
        assert finder.hits(fields) == want, fields
        seen += len(want)
    assert seen > 1000


@pytest.mark.parametrize("regex_words", [0, 400])
def test_finder_on_many_overlapping_keywords(regex_words: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With keywords from a small alphabet (prefixes, suffixes, shared middles: most overlap
    another; a trie with deep branches), Finder.hits equals every occurrence found by find,
    whether the non-overlapping keywords go through the regular expression or not."""
    monkeypatch.setattr(folding, "REGEX_WORDS", regex_words)
    rng = random.Random(4)
    alphabet = "青岛济南地铁港口"
    words = sorted({"".join(rng.choices(alphabet, k=rng.randint(1, 4))) for _ in range(40)})
    words += ["[港]", "a-b", "x"]  # characters special to expressions, one Latin keyword
    finder = Finder(words)
    assert bool(finder.solo) == bool(regex_words)
    found = 0
    for _ in range(300):
        fields = ["".join(rng.choices([*alphabet, "[", "]", "a-b", " x "], k=rng.randint(0, 30)))
                  for _ in range(3)]
        want = brute_hits(words, fields)
        assert finder.hits(fields) == want, fields
        found += len(want)
    assert found > 1000


def test_match_pass_in_worker_processes_equals_one_in_this_process(
        tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """scan() split over two worker processes, each reading the store file itself, gives
    the same order and the same bitset for every rule as scan() in this process."""
    fill(store, 400)
    config = parse_config(CONFIG.format(topics="\n".join(
        f"  - {{id: t{i}, {rule}}}" for i, rule in enumerate(RULES))), "c.yaml", tmp_path)
    Index(config, store).update()
    ruleset = RuleSet(Index(config, store).topic_rules.values())
    path = store.sqlite_file
    assert path is not None
    monkeypatch.setattr(topics, "SCAN_SPLIT", 10)
    calls: list[int] = []
    real = poll.ParsePool.scan

    def counting(self: poll.ParsePool, *args: object) -> object:
        calls.append(len(args[3]) // 8)  # type: ignore[arg-type]
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(poll.ParsePool, "scan", counting)
    pool = poll.ParsePool(2)
    try:
        with store.engine.connect() as conn:
            here = scan(conn, ruleset)
            there = scan(conn, ruleset, pool, path)
    finally:
        pool.close()
    assert sorted(calls) == [200, 200]  # two halves, one a worker
    assert there.order == here.order
    assert there.results == here.results
    assert there.sources == here.sources
    assert all(here.results.values())  # every rule matches something: the comparison counts
    assert len({bits for bits in here.results.values()}) > 5


def test_index_with_a_pool_publishes_the_same_entries(tmp_path: Path, store: Store,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An Index given worker processes (the match pass split over them) gives every topic
    the same entries as an Index without them."""
    fill(store, 300)
    config = parse_config(CONFIG.format(topics="\n".join(
        f"  - {{id: t{i}, {rule}}}" for i, rule in enumerate(RULES))), "c.yaml", tmp_path)
    plain = Index(config, store)
    want = {t.id: [s.article.key for s in plain.topic_entries(t, NOW)] for t in config.topics}
    monkeypatch.setattr(topics, "SCAN_SPLIT", 10)
    topics._ENTRIES.clear()
    other = tmp_path / "copy"
    other.mkdir()
    copy = Store.open(other / "db.sqlite")
    try:
        fill(copy, 300)
        pool = poll.ParsePool(2)
        try:
            index = Index(config, copy, pool)
            got = {t.id: [s.article.key for s in index.topic_entries(t, NOW)]
                   for t in config.topics}
        finally:
            pool.close()
    finally:
        copy.close()
    assert got == want
    assert sum(map(len, want.values())) > 30


def test_packed_sketch_bytes_equal_to_bytes() -> None:
    """Sketch.packed gives the sketch of Sketch.of and exactly the bytes to_bytes gives,
    which from_bytes reads back to the same sketch."""
    rng = random.Random(2)
    checked = 0
    for _ in range(200):
        text = "".join(rng.choices(WORDS, k=rng.randint(0, 120)))
        sketch, packed = topics.Sketch.packed(text)
        assert sketch == topics.Sketch.of(text)
        assert packed == sketch.to_bytes()
        assert topics.Sketch.from_bytes(packed, sketch.size) == sketch
        checked += bool(sketch.hashes)
    assert checked > 150


@pytest.mark.parametrize(("reads", "extra"), [(2, 20), (1, 0)])
def test_feeds_deduped_in_workers_equal_feeds_deduped_here(
        reads: int, extra: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Topic feeds deduped ahead in worker processes, from sketches made there (copies in
    the other script and with boilerplate, small limits so some feeds need more candidates
    than they were given and are computed here) equal those of an Index without workers,
    entry for entry."""
    from feeds.extract.chinese import convert

    rng = random.Random(11)
    places, subjects = ("青岛", "济南", "烟台"), ("地铁", "港口", "啤酒节")
    articles = []
    for n in range(240):
        body = "".join(
            f"{rng.choice(places)}{rng.choice(subjects)}第{rng.randint(1, 9999)}号项目通过验收，"
            f"累计完成投资{rng.randint(1, 9999)}亿元，同比增长{rng.randint(1, 99)}个百分点。"
            for _ in range(3))
        if n % 3 == 1:  # a copy of the one before: other script, a banner added
            body = "中國臺灣網 字號 " + convert(articles[-1].text or "", "s2t")
        articles.append(Article(
            key=f"a{n}", url=f"https://s{n % 5}.example.cn/{n}.html", canonical_url=None,
            title=body[:12], text=body, content_html=f"<p>{body}</p>",
            published=NOW - timedelta(minutes=n // 2)))
    rules = ["any: [青岛], limit: 3", "any: [地铁, 港口], limit: 4", "any: [啤酒节]",
             "all: [济南, 港口], limit: 2", "any: [烟台], limit: 5, prefer: [beta]",
             "any: [青岛], limit: 4, max_age: 1h", "any: [港口], dedup: false"]
    config = parse_config(CONFIG.format(topics="\n".join(
        f"  - {{id: t{i}, {rule}}}" for i, rule in enumerate(rules))), "c.yaml", tmp_path)

    def entries(directory: Path, pool: poll.ParsePool | None) -> dict[str, list[object]]:
        directory.mkdir()
        store = Store.open(directory / "db.sqlite")
        try:
            store.upsert("alpha", articles[0::2], NOW)
            store.upsert("beta", articles[1::2], NOW)
            index = Index(config, store, pool)
            got = {t.id: [(s.source_id, s.article.key, s.article.content_html)
                          for s in index.topic_entries(t, NOW)] for t in config.topics}
            if pool is not None:
                assert not index._prepared  # every feed deduped ahead was used
            return got
        finally:
            store.close()

    monkeypatch.setattr(topics, "PREFETCH_READS", reads)
    monkeypatch.setattr(topics, "PREFETCH_EXTRA", extra)
    sketched: list[int] = []
    real_sketch = poll.ParsePool.sketch

    def sketching(self: poll.ParsePool, path: str, ids: bytes
                  ) -> list[tuple[int, str, str | None, bytes, int]]:
        rows = real_sketch(self, path, ids)
        sketched.append(len(rows))
        return rows

    monkeypatch.setattr(poll.ParsePool, "sketch", sketching)
    prepared: list[bool] = []
    real = poll.ParsePool.dedup

    def counting(self: poll.ParsePool, candidates: dict[int, tuple[float, str | None, bytes,
                 int]], feeds: list[tuple[int, list[int]]]
                 ) -> list[tuple[list[list[int]], list[int], bool, int]]:
        outcome = real(self, candidates, feeds)
        prepared.extend(ran_out for _, _, ran_out, _ in outcome)
        return outcome

    monkeypatch.setattr(poll.ParsePool, "dedup", counting)
    want = entries(tmp_path / "here", None)
    topics._ENTRIES.clear()
    here: list[bool] = []
    real_compute = Index._compute

    def compute(self: Index, candidates: Any, limit: int, dedup_on: bool) -> Any:
        here.append(dedup_on)
        return real_compute(self, candidates, limit, dedup_on)

    monkeypatch.setattr(Index, "_compute", compute)
    pool = poll.ParsePool(2)
    try:
        got = entries(tmp_path / "workers", pool)
    finally:
        pool.close()
    assert got == want
    assert len(prepared) == 6  # every deduped topic went to a worker
    assert len(sketched) == 2 and sum(sketched) >= 10  # sketches made by both workers
    # Given too few candidates, feeds were deduped here again; given enough, none was.
    assert any(here) == (extra == 0)
    assert any("also-at" in (html or "") for feed in want.values() for *_, html in feed)
