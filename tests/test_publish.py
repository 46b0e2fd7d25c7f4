"""Publishing: valid Atom per source and topic, OPML, atomic writes, rewrite only on change."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from atomcheck import assert_valid_atom
from lxml import etree

from feeds import render
from feeds.config import Config, parse_config
from feeds.model import Article, Enclosure, Person
from feeds.publish import (
    FeedSpec,
    entry_id,
    publish_all,
    render_atom,
    render_opml,
    write_atomic,
)
from feeds.store import Store, Stored

A = "{http://www.w3.org/2005/Atom}"
T0 = datetime(2024, 12, 5, 8, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
BASE = "https://feeds.example.org/"

CONFIG = """
output: {{dir: out, base_url: "{base}", title: Test feeds, author: Tester, max_entries: {max}}}
store: {{path: feeds.db}}
sources:
  - id: alpha
    url: https://alpha.example.org/feed.xml
    title: Alpha News
  - id: beta
    page: https://beta.example.org/news/
{extra}
topics:
  - id: qingdao
    title: 青岛
    any: [青岛, Qingdao]
    none: [广告]
  - id: alpha-only
    sources: [alpha]
"""


def make_config(tmp_path: Path, max_entries: int = 50, extra: str = "") -> Config:
    text = CONFIG.format(base=BASE, max=max_entries, extra=extra)
    return parse_config(text, "test.yaml", tmp_path)


def art(key: str, title: str, published: datetime | None = None, **kwargs: object) -> Article:
    fields: dict[str, object] = {
        "url": f"https://example.org/{key}",
        "canonical_url": f"https://example.org/{key}",
        "summary": f"summary of {title}",
        "content_html": f"<p>{title}</p>",
        "text": title,
    }
    fields.update(kwargs)
    return Article(key=key, title=title, published=published, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "feeds.db")
    try:
        yield s
    finally:
        s.close()


def spec_of(*articles: Article, source: str = "alpha") -> FeedSpec:
    entries = [Stored(source, a if a.first_seen else _seen(a)) for a in articles]
    return FeedSpec(kind="sources", ident=source, title="Alpha", entries=entries)


def _seen(article: Article) -> Article:
    from dataclasses import replace

    return replace(article, first_seen=T0)


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def feed_files(changed: list[Path], out: Path) -> set[str]:
    """The Atom and OPML files among ``changed`` (other formats and index.html aside)."""
    return {str(p.relative_to(out)) for p in changed if p.suffix in (".atom", ".opml")}


def mtimes(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns
            for p in sorted(directory.rglob("*")) if p.is_file()}


# -- render_atom ---------------------------------------------------------------------------


def test_rich_feed_is_valid_atom() -> None:
    """A feed with authors, contributors, enclosures, categories and Chinese text validates."""
    spec = spec_of(
        art("a", "青島港 新聞", datetime(2021, 6, 7, 10, 22, tzinfo=BEIJING),
            authors=(Person("郭碧娟", "guo@example.org", "https://example.org/guo"),),
            contributors=(Person("編輯"),),
            categories=("地方", "Qingdao"),
            enclosures=(Enclosure("https://example.org/a.mp3", "audio/mpeg", 1234),
                        Enclosure("https://example.org/b.pdf", "application/pdf", None))),
        art("b", "No content at all", T0, summary=None, content_html=None, text=None),
        art("c", "Bad person data", T0, authors=(Person("x", "not-an-email", "ftp://x"),)),
    )
    data = render_atom(spec, BASE, "Tester", T0)
    assert_valid_atom(data, self_url=BASE + "sources/alpha.atom")


def test_enclosures_keep_rel_type_and_length() -> None:
    """feedgen drops link attributes; ours keep rel=enclosure, type and length (0 if unknown)."""
    spec = spec_of(art("a", "Podcast", T0, enclosures=(
        Enclosure("https://example.org/a.mp3", "audio/mpeg", 1234),
        Enclosure("https://example.org/b.bin", None, None),
    )))
    links = parse(render_atom(spec, BASE, "Tester", T0)).findall(f"{A}entry/{A}link")
    got = [(x.get("rel"), x.get("type"), x.get("length"), x.get("href")) for x in links]
    assert ("alternate", "text/html", None, "https://example.org/a") in got
    assert ("enclosure", "audio/mpeg", "1234", "https://example.org/a.mp3") in got
    assert ("enclosure", None, "0", "https://example.org/b.bin") in got


def test_feed_has_self_link_author_and_stable_ids() -> None:
    """The feed names its own URL, an author, and urn:uuid ids derived from (source, key)."""
    root = parse(render_atom(spec_of(art("k", "t", T0)), BASE, "Tester", T0))
    self_links = [x.get("href") for x in root.findall(f"{A}link") if x.get("rel") == "self"]
    assert self_links == [BASE + "sources/alpha.atom"]
    assert root.findtext(f"{A}author/{A}name") == "Tester"
    assert root.findtext(f"{A}entry/{A}id") == entry_id("alpha", "k")
    assert entry_id("alpha", "k") == entry_id("alpha", "k")
    assert entry_id("alpha", "k") != entry_id("beta", "k")
    assert entry_id("alpha", "k").startswith("urn:uuid:")


def test_same_entries_render_same_bytes() -> None:
    """Rendering is deterministic: no wall-clock time leaks into the document."""
    spec = spec_of(art("a", "one", T0), art("b", "two", T0 - timedelta(hours=1)))
    assert render_atom(spec, BASE, "Tester", T0) == render_atom(spec, BASE, "Tester", T0)


def test_feed_updated_is_newest_entry_updated() -> None:
    """The feed's updated is its newest entry's, never older than any entry's updated."""
    odd = art("odd", "published after its updated", T0 + timedelta(days=1),
              updated=T0 - timedelta(days=1))
    spec = spec_of(odd, art("b", "older", T0 - timedelta(days=3)))
    root = parse(render_atom(spec, BASE, "Tester", T0 - timedelta(days=30)))
    feed_updated = datetime.fromisoformat(root.findtext(f"{A}updated") or "")
    entry_updated = [datetime.fromisoformat(e.findtext(f"{A}updated") or "")
                     for e in root.findall(f"{A}entry")]
    assert feed_updated == max(entry_updated)
    for entry in root.findall(f"{A}entry"):
        published = datetime.fromisoformat(entry.findtext(f"{A}published") or "")
        assert datetime.fromisoformat(entry.findtext(f"{A}updated") or "") >= published


def test_empty_feed_uses_given_updated_and_validates() -> None:
    """A feed with no entries is valid and dated by the caller (the store's creation time)."""
    spec = FeedSpec(kind="sources", ident="empty", title="Empty", entries=[])
    data = render_atom(spec, BASE, "Tester", T0)
    assert_valid_atom(data)
    assert datetime.fromisoformat(parse(data).findtext(f"{A}updated") or "") == T0


def test_control_characters_are_dropped() -> None:
    """XML-invalid control characters in scraped text do not break the document."""
    spec = spec_of(art("a", "bad\x00 title\x0b", T0, summary="s\x1fummary",
                       content_html="<p>x\x08y</p>"))
    data = render_atom(spec, BASE, "Tester", T0)
    assert_valid_atom(data)
    assert parse(data).findtext(f"{A}entry/{A}title") == "bad title"


def test_markup_like_titles_are_declared_html_and_shown_as_text() -> None:
    """A title containing `<b>` or `<script>` becomes escaped type="html" (no
    ContainsUndeclaredHTML warning), and a reader shows the characters, not markup."""
    hostile = "<script>alert(1)</script> Use <b> & tags"
    spec = spec_of(art("a", hostile, T0, summary="A <i>quoted</i> tag", content_html="<p>ok</p>"))
    spec = FeedSpec(kind="sources", ident="alpha", title="Alpha <em>news</em>",
                    entries=spec.entries)
    data = render_atom(spec, BASE, "Tester", T0)
    assert_valid_atom(data)
    root = parse(data)
    for path, shown in ((f"{A}title", "Alpha <em>news</em>"),
                        (f"{A}entry/{A}title", hostile),
                        (f"{A}entry/{A}summary", "A <i>quoted</i> tag")):
        element = root.find(path)
        assert element is not None and element.get("type") == "html"
        assert html.unescape(element.text or "") == shown
    plain = render_atom(spec_of(art("b", "Plain title", T0)), BASE, "Tester", T0)
    assert parse(plain).find(f"{A}entry/{A}title").get("type") is None  # type: ignore[union-attr]


def test_entry_without_text_gets_summary() -> None:
    """An entry with neither content nor summary gets its title as summary (no W3C warning)."""
    spec = spec_of(art("a", "Only a title", T0, summary=None, content_html=None, text=None))
    root = parse(render_atom(spec, BASE, "Tester", T0))
    assert root.findtext(f"{A}entry/{A}summary") == "Only a title"


def test_undated_entry_uses_first_seen() -> None:
    """An article with no date is published and updated at first_seen."""
    root = parse(render_atom(spec_of(art("a", "undated")), BASE, "Tester", T0))
    assert datetime.fromisoformat(root.findtext(f"{A}entry/{A}published") or "") == T0
    assert datetime.fromisoformat(root.findtext(f"{A}entry/{A}updated") or "") == T0


def test_topic_conversion_applies_to_titles() -> None:
    """A feed with an OpenCC conversion shows converted titles (s2t: 青岛 -> 青島)."""
    spec = FeedSpec(kind="topics", ident="t", title="青岛", conversion="s2t",
                    entries=[Stored("alpha", _seen(art("a", "青岛新闻", T0)))])
    root = parse(render_atom(spec, BASE, "Tester", T0))
    assert root.findtext(f"{A}title") == "青島"
    assert root.findtext(f"{A}entry/{A}title") == "青島新聞"


# -- write_atomic ----------------------------------------------------------------------------


def test_write_atomic_skips_identical_bytes(tmp_path: Path) -> None:
    """Writing the same bytes again returns False and leaves the file (and mtime) untouched."""
    path = tmp_path / "sub" / "f.atom"
    assert write_atomic(path, b"one") is True
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    assert write_atomic(path, b"one") is False
    assert path.stat().st_mtime_ns == before - 10**9
    assert write_atomic(path, b"two") is True
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.atom"]


def test_write_atomic_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """If the rename fails, the old file is whole and no temp file is left behind."""
    path = tmp_path / "f.atom"
    write_atomic(path, b"old content")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new content")
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.atom"]


# -- publish_all -----------------------------------------------------------------------------


def test_publish_all_writes_valid_feeds_and_opml(tmp_path: Path, store: Store) -> None:
    """Every enabled source and topic gets a valid Atom file, and the OPML lists them all."""
    config = make_config(tmp_path)
    store.upsert("alpha", [art("a1", "Qingdao port news", T0), art("a2", "Other", T0)], T0)
    store.upsert("beta", [art("b1", "青島 traditional", T0), art("b2", "青岛 广告", T0)], T0)
    changed = publish_all(config, store, T0)
    out = tmp_path / "out"
    expected = {"sources/alpha.atom", "sources/beta.atom", "topics/qingdao.atom",
                "topics/alpha-only.atom", "feeds.opml"}
    assert feed_files(changed, out) == expected
    for path in out.rglob("*.atom"):
        assert_valid_atom(path.read_bytes(), self_url=BASE + str(path.relative_to(out)))
    qingdao = parse((out / "topics/qingdao.atom").read_bytes())
    titles = {e.findtext(f"{A}title") for e in qingdao.findall(f"{A}entry")}
    assert titles == {"Qingdao port news", "青島 traditional"}  # 广告 excluded, both scripts match
    alpha_only = parse((out / "topics/alpha-only.atom").read_bytes())
    assert len(alpha_only.findall(f"{A}entry")) == 2
    opml = etree.fromstring((out / "feeds.opml").read_bytes())
    urls = {o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")}
    assert urls == {BASE + "sources/alpha.atom", BASE + "sources/beta.atom",
                    BASE + "topics/qingdao.atom", BASE + "topics/alpha-only.atom"}
    assert opml.findtext("head/title") == "Test feeds"
    beta = [o for o in opml.iter("outline") if o.get("xmlUrl") == BASE + "sources/beta.atom"]
    assert beta[0].get("htmlUrl") == "https://beta.example.org/news/"


def test_publish_all_is_newest_first_and_capped(tmp_path: Path, store: Store) -> None:
    """A source feed holds its newest max_entries articles, newest first."""
    config = make_config(tmp_path, max_entries=3)
    store.upsert("alpha", [art(f"k{i}", f"story {i}", T0 - timedelta(hours=i)) for i in range(6)],
                 T0)
    publish_all(config, store, T0)
    root = parse((tmp_path / "out/sources/alpha.atom").read_bytes())
    assert [e.findtext(f"{A}title") for e in root.findall(f"{A}entry")] == [
        "story 0", "story 1", "story 2"
    ]


def test_publish_all_rewrites_only_changed_files(tmp_path: Path, store: Store) -> None:
    """A second publish with nothing new writes nothing; a change rewrites only its feeds."""
    config = make_config(tmp_path)
    store.upsert("alpha", [art("a1", "Alpha story", T0)], T0)
    store.upsert("beta", [art("b1", "Beta story", T0)], T0)
    out = tmp_path / "out"
    publish_all(config, store, T0)
    before = mtimes(out)
    assert publish_all(config, store, T0 + timedelta(hours=1)) == []
    assert mtimes(out) == before
    store.upsert("beta", [art("b1", "Beta story, corrected", T0)], T0 + timedelta(hours=2))
    changed = publish_all(config, store, T0 + timedelta(hours=2))
    assert feed_files(changed, out) == {"sources/beta.atom"}
    after = mtimes(out)
    assert after["sources/alpha.atom"] == before["sources/alpha.atom"]
    assert after["sources/beta.atom"] != before["sources/beta.atom"]
    assert not [p for p in out.rglob("*.tmp")]


def test_changed_entry_gets_new_updated_same_id(tmp_path: Path, store: Store) -> None:
    """An edited article keeps its Atom id and gets a later updated; others keep theirs."""
    config = make_config(tmp_path)
    store.upsert("alpha", [art("a1", "v1", T0), art("a2", "other", T0)], T0)
    publish_all(config, store, T0)
    path = tmp_path / "out/sources/alpha.atom"
    first = {e.findtext(f"{A}id"): e.findtext(f"{A}updated")
             for e in parse(path.read_bytes()).findall(f"{A}entry")}
    later = T0 + timedelta(hours=5)
    store.upsert("alpha", [art("a1", "v2", T0), art("a2", "other", T0)], later)
    publish_all(config, store, later)
    second = {e.findtext(f"{A}id"): e.findtext(f"{A}updated")
              for e in parse(path.read_bytes()).findall(f"{A}entry")}
    assert set(first) == set(second)
    assert second[entry_id("alpha", "a1")] == later.isoformat()
    assert second[entry_id("alpha", "a2")] == first[entry_id("alpha", "a2")]
    root = parse(path.read_bytes())
    assert root.findtext(f"{A}updated") == later.isoformat()


def test_removed_source_and_topic_feeds_are_deleted(tmp_path: Path, store: Store) -> None:
    """Feeds of sources and topics no longer configured, and stray temp files, are removed."""
    extra = "  - id: gamma\n    url: https://gamma.example.org/feed.xml"
    publish_all(make_config(tmp_path, extra=extra), store, T0)
    out = tmp_path / "out"
    assert (out / "sources/gamma.atom").exists()
    (out / "sources/.alpha.atom.abc.tmp").write_bytes(b"half")
    (out / "sources/notes.txt").write_text("mine")
    (out / "topics/old-topic.atom").write_bytes(b"<feed/>")
    publish_all(make_config(tmp_path), store, T0)
    assert sorted(p.name for p in (out / "sources").iterdir()) == [
        "alpha.atom", "beta.atom", "notes.txt"
    ]
    assert sorted(p.name for p in (out / "topics").iterdir()) == [
        "alpha-only.atom", "qingdao.atom"
    ]
    opml = (out / "feeds.opml").read_text(encoding="utf-8")
    assert "gamma" not in opml


def test_failed_render_leaves_previous_output(tmp_path: Path, store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """If writing crashes mid-publish, every file already there stays whole and parseable."""
    config = make_config(tmp_path)
    store.upsert("alpha", [art("a1", "first", T0)], T0)
    publish_all(config, store, T0)
    out = tmp_path / "out"
    before = {k: (out / k).read_bytes() for k in mtimes(out)}
    store.upsert("alpha", [art("a1", "second", T0)], T0 + timedelta(hours=1))
    real_replace = os.replace
    calls = {"n": 0}

    def flaky(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("killed")
        real_replace(src, dst)

    monkeypatch.setattr(render.os, "replace", flaky)
    with pytest.raises(OSError, match="killed"):
        publish_all(config, store, T0 + timedelta(hours=1))
    for name, data in before.items():
        assert (out / name).read_bytes() == data
    assert not list(out.rglob("*.tmp"))


def test_opml_is_valid_and_skips_empty_groups() -> None:
    """render_opml writes OPML 2.0 with one folder per non-empty group, titles escaped."""
    spec = FeedSpec(kind="topics", ident="t", title="A & B <c>", entries=[])
    root = etree.fromstring(render_opml("list", [("Topics", [spec]), ("Sources", [])], BASE))
    assert root.get("version") == "2.0"
    folders = root.findall("body/outline")
    assert [f.get("text") for f in folders] == ["Topics"]
    assert folders[0][0].get("text") == "A & B <c>"
    assert folders[0][0].get("xmlUrl") == BASE + "topics/t.atom"


def test_checker_flags_what_plain_feedgen_gets_wrong() -> None:
    """The Atom checker itself can fail: plain feedgen output lacks self and author, and an
    enclosure it writes becomes a duplicate alternate link."""
    from atomcheck import problems
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id("https://example.org/feed")
    fg.title("plain")
    fg.updated(T0)
    entry = fg.add_entry()
    entry.id("https://example.org/1")
    entry.title("one")
    entry.updated(T0)
    entry.link(href="https://example.org/1")
    entry.link(href="https://example.org/1.mp3", rel="enclosure", type="audio/mpeg", length="9")
    found = problems(fg.atom_str())
    kinds = {p.split(":")[0] for p in found}
    assert {"MissingSelf", "MissingElement", "DuplicateAtomLink"} <= kinds


def test_checker_flags_bad_dates_ids_html_and_duplicates() -> None:
    """The checker reports bad dates, relative ids, undeclared HTML, scripts and duplicate ids."""
    from atomcheck import problems

    bad = b"""<feed xmlns="http://www.w3.org/2005/Atom"><id>my-feed</id>
    <title>a &lt;b&gt;bold&lt;/b&gt; title</title><updated>2021-06-07 10:22:00</updated>
    <author><name>x</name></author><link rel="self" href="https://example.org/f.atom"/>
    <entry><id>urn:uuid:6f1c1d0e-4c55-4f3e-9a51-8a5d1e0b7c21</id><title>t</title>
    <updated>2021-06-07T10:22:00Z</updated><link href="https://example.org/1"/>
    <content type="html">&lt;p onclick="x()"&gt;hi&lt;script&gt;1&lt;/script&gt;&lt;/p&gt;</content>
    </entry>
    <entry><id>urn:uuid:6f1c1d0e-4c55-4f3e-9a51-8a5d1e0b7c21</id><title>t</title>
    <updated>2021-06-07T10:22:00Z</updated></entry></feed>"""
    kinds = {p.split(":")[0] for p in problems(bad, self_url="https://example.org/other.atom")}
    assert {"InvalidFullLink", "InvalidRFC3339Date", "ContainsUndeclaredHTML", "SecurityRisk",
            "DuplicateEntries", "MissingTextualContent", "MissingAlternateLink",
            "SelfDoesntMatchLocation"} <= kinds


def test_configured_language_becomes_a_valid_xml_lang(tmp_path: Path, store: Store) -> None:
    """`language: zh_CN` is written as xml:lang="zh-CN"; a value that is no tag is left out."""
    extra = ("  - id: gamma\n    url: https://gamma.example.org/feed.xml\n    language: zh_CN\n"
             "  - id: delta\n    url: https://delta.example.org/feed.xml\n"
             "    language: simplified chinese")
    publish_all(make_config(tmp_path, extra=extra), store, T0)
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for name, expected in (("gamma", "zh-CN"), ("delta", None)):
        data = (tmp_path / "out/sources" / f"{name}.atom").read_bytes()
        assert parse(data).get(xml_lang) == expected
        assert_valid_atom(data)


def test_entry_without_link_or_content_gets_content() -> None:
    """An article with no URL and no content still renders (feedgen would raise) and is valid."""
    spec = spec_of(art("a", "Title <only>", T0, url=None, content_html=None, summary=None),
                   art("b", "With summary", T0, url=None, content_html=None, summary="s & t"))
    data = render_atom(spec, BASE, "Tester", T0)
    assert_valid_atom(data)
    contents = [e.findtext(f"{A}content") for e in parse(data).findall(f"{A}entry")]
    assert contents == ["<p>Title &lt;only&gt;</p>", "<p>s &amp; t</p>"]
