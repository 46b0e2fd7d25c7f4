"""RSS 2.0, JSON Feed 1.1 and index.html from one model: valid, Chinese intact, titles escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
import yaml
from atomcheck import assert_valid_atom
from feedsite import HOSTILE, NOW, example_config, publish_example
from lxml import etree
from lxml import html as lxml_html

from feeds.config import Config, load_config
from feeds.model import Article, Enclosure, Image, Person
from feeds.publish import FeedSpec, publish_all, render_json_feed, render_rss
from feeds.store import Store, Stored

BASE = "http://localhost:8080/"
ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
_RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT)$"
)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_EMAIL_AUTHOR = re.compile(r"^[^@\s]+@[^@\s]+\.\w+( \(.+\))?$")


def _absolute(url: str | None) -> bool:
    """A full URL, not a relative one. (The bundled example's page sources are local files, so
    their articles link to file: URLs: absolute too.)"""
    parts = urlsplit(url or "")
    if parts.scheme == "file":
        return parts.path.startswith("/")
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def rss_problems(data: bytes, self_url: str) -> list[str]:
    """What the W3C validator most often reports for generated RSS 2.0, as a list."""
    out: list[str] = []
    root = etree.fromstring(data)
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"NotRss: root {root.tag} version {root.get('version')}"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"channel count {len(channels)}"]
    channel = channels[0]
    for required in ("title", "link", "description"):
        if not (channel.findtext(required) or "").strip():
            out.append(f"MissingElement: channel {required}")
    if not _absolute(channel.findtext("link")):
        out.append(f"InvalidURLAttribute: channel link {channel.findtext('link')!r}")
    selfs = [link for link in channel.findall(ATOM + "link") if link.get("rel") == "self"]
    if not selfs:
        out.append("MissingAtomSelfLink")
    elif selfs[0].get("href") != self_url:
        out.append(f"SelfDoesntMatchLocation: {selfs[0].get('href')} != {self_url}")
    elif selfs[0].get("type") != "application/rss+xml":
        out.append(f"self link type {selfs[0].get('type')!r}")
    for name in ("lastBuildDate", "pubDate"):
        value = channel.findtext(name)
        if value is not None and not _RFC822.match(value):
            out.append(f"InvalidRFC2822Date: channel {name} {value!r}")
    guids: set[str] = set()
    for i, item in enumerate(channel.findall("item")):
        where = f"item[{i}]"
        if not (item.findtext("title") or item.findtext("description")):
            out.append(f"ItemMustContainTitleOrDescription: {where}")
        guid = item.find("guid")
        if guid is None:
            out.append(f"MissingGuid: {where}")
        else:
            if guid.get("isPermaLink", "true") == "true" and not _absolute(guid.text):
                out.append(f"InvalidPermalink: {where} {guid.text!r}")
            if guid.text in guids:
                out.append(f"DuplicateItem: {where} guid {guid.text}")
            guids.add(guid.text or "")
        link = item.findtext("link")
        if link is not None and not _absolute(link):
            out.append(f"InvalidURLAttribute: {where} link {link!r}")
        pub = item.findtext("pubDate")
        if pub is None or not _RFC822.match(pub):
            out.append(f"InvalidRFC2822Date: {where} pubDate {pub!r}")
        else:
            parsedate_to_datetime(pub)
        for author in item.findall("author"):
            if not _EMAIL_AUTHOR.match(author.text or ""):
                out.append(f"InvalidContact: {where} author {author.text!r}")
        enclosures = item.findall("enclosure")
        if len(enclosures) > 1:
            out.append(f"DuplicateEnclosure: {where}")
        for enclosure in enclosures:
            length = enclosure.get("length") or ""
            if not _absolute(enclosure.get("url")) or not length.isdigit() \
                    or not enclosure.get("type"):
                out.append(f"InvalidEnclosure: {where} {dict(enclosure.attrib)}")
        for html_name in ("description", "{http://purl.org/rss/1.0/modules/content/}encoded"):
            text = item.findtext(html_name)
            if not text or "<" not in text:
                continue
            fragment = lxml_html.fragment_fromstring(text, create_parent="div")
            for node in fragment.iter():
                if not isinstance(node.tag, str):
                    continue
                if node.tag in ("script", "iframe", "object", "embed"):
                    out.append(f"SecurityRisk: {where} <{node.tag}>")
                for attr in ("href", "src"):
                    value = node.get(attr)
                    if value and not value.startswith("#") and not _absolute(value) \
                            and not value.startswith("mailto:"):
                        out.append(f"ContainsRelRef: {where} {attr}={value!r}")
    return out


def json_feed_problems(data: bytes, feed_url: str) -> list[str]:
    """JSON Feed 1.1's required fields and value types (jsonfeed.org/version/1.1)."""
    out: list[str] = []
    feed = json.loads(data.decode("utf-8"))
    if feed.get("version") != "https://jsonfeed.org/version/1.1":
        out.append(f"version {feed.get('version')!r}")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        out.append("title missing")
    if feed.get("feed_url") != feed_url:
        out.append(f"feed_url {feed.get('feed_url')!r} != {feed_url!r}")
    if not _absolute(feed.get("home_page_url")):
        out.append("home_page_url not absolute")
    for author in feed.get("authors", []):
        if not author.get("name") and not author.get("url"):
            out.append("author without name or url")
    if not isinstance(feed.get("items"), list):
        return [*out, "items is not a list"]
    ids: set[str] = set()
    for i, item in enumerate(feed["items"]):
        where = f"items[{i}]"
        if not isinstance(item.get("id"), str) or not item["id"]:
            out.append(f"{where} id missing or not a string")
        if item.get("id") in ids:
            out.append(f"{where} duplicate id")
        ids.add(item.get("id"))
        if not isinstance(item.get("content_html"), str) and \
                not isinstance(item.get("content_text"), str):
            out.append(f"{where} needs content_html or content_text")
        for name in ("date_published", "date_modified"):
            if name in item and not _RFC3339.match(item[name]):
                out.append(f"{where} {name} not RFC 3339: {item[name]!r}")
        for name in ("url", "image"):
            if name in item and not _absolute(item[name]):
                out.append(f"{where} {name} not absolute")
        for attachment in item.get("attachments", []):
            if not _absolute(attachment.get("url")) or not attachment.get("mime_type"):
                out.append(f"{where} attachment {attachment}")
        if "tags" in item and not all(isinstance(t, str) for t in item["tags"]):
            out.append(f"{where} tags must be strings")
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    """The bundled example, published in every format."""
    tmp = tmp_path_factory.mktemp("formats")
    yield publish_example(example_config(tmp))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    """The bundled example with a source titled with markup meant to run in the index page."""
    tmp = tmp_path_factory.mktemp("hostile")
    yield publish_example(example_config(tmp, hostile=True))


def _feeds(config: Config, suffix: str) -> list[Path]:
    found = sorted(config.output_dir.glob(f"*/*{suffix}"))
    assert found, suffix
    return found


def test_every_rss_feed_is_valid(example: Config) -> None:
    """Each RSS file has a self link to itself, guids, RFC 822 dates and absolute URLs."""
    for path in _feeds(example, ".rss"):
        rel = path.relative_to(example.output_dir).as_posix()
        assert rss_problems(path.read_bytes(), BASE + rel) == [], rel


def test_every_json_feed_is_valid(example: Config) -> None:
    """Each JSON Feed file has the 1.1 version, its own URL, ids and content."""
    for path in _feeds(example, ".json"):
        rel = path.relative_to(example.output_dir).as_posix()
        assert json_feed_problems(path.read_bytes(), BASE + rel) == [], rel


def test_atom_still_valid_beside_the_other_formats(example: Config) -> None:
    """Adding formats leaves every Atom feed valid."""
    for path in _feeds(example, ".atom"):
        rel = path.relative_to(example.output_dir).as_posix()
        assert_valid_atom(path.read_bytes(), self_url=BASE + rel)


def test_formats_carry_the_same_entries(example: Config) -> None:
    """Atom, RSS and JSON Feed of one source hold the same titles, links and ids."""
    out = example.output_dir / "sources"
    atom = feedparser.parse((out / "python-insider.atom").read_bytes())
    rss = feedparser.parse((out / "python-insider.rss").read_bytes())
    feed = json.loads((out / "python-insider.json").read_bytes())
    assert not rss.bozo
    assert [e.title for e in atom.entries] == [e.title for e in rss.entries] \
        == [i["title"] for i in feed["items"]]
    assert [e.link for e in atom.entries] == [e.link for e in rss.entries] \
        == [i["url"] for i in feed["items"]]
    assert [e.id for e in atom.entries] == [e.id for e in rss.entries] \
        == [i["id"] for i in feed["items"]]
    assert [e.published_parsed for e in atom.entries] == [e.published_parsed for e in rss.entries]


def test_chinese_titles_survive_every_format(example: Config) -> None:
    """Chinese feed and entry titles, GBK-only characters included, read back intact."""
    out = example.output_dir / "sources"
    rss = feedparser.parse((out / "qingdao-news.rss").read_bytes())
    feed = json.loads((out / "qingdao-news.json").read_bytes().decode("utf-8"))
    atom = feedparser.parse((out / "qingdao-news.atom").read_bytes())
    for parsed_title, titles in (
        (rss.feed.title, [e.title for e in rss.entries]),
        (feed["title"], [i["title"] for i in feed["items"]]),
        (atom.feed.title, [e.title for e in atom.entries]),
    ):
        assert parsed_title == "青岛新闻"
        assert "青岛港上半年集装箱吞吐量创新高" in titles
        assert "济南发布夏季旅游线路" in titles
    assert "镕、堃" in json.dumps(feed, ensure_ascii=False)
    assert "镕、堃" in (out / "qingdao-news.rss").read_text(encoding="utf-8")
    # Written as UTF-8, not as character references a reader might not decode.
    assert b"&#" not in (out / "qingdao-news.rss").read_bytes()


def _stored(**changes: object) -> Stored:
    article = Article(
        key="k1", url="https://example.org/a/1", canonical_url=None, title="标题 <b>one</b>",
        summary="摘要", content_html='<p>正文 <a href="https://example.org/x">x</a></p>',
        published=datetime(2021, 6, 7, 10, 22, tzinfo=timezone(timedelta(hours=8))),
        first_seen=datetime(2021, 6, 7, 3, 0, tzinfo=UTC),
        authors=(Person("王晓", "wang@example.org"), Person("编辑")),
        categories=("本地", "港口"),
        images=(Image("https://example.org/i.jpg", "图"),),
        enclosures=(Enclosure("https://example.org/a.mp3", None, None),
                    Enclosure("https://example.org/b.ogg", "audio/ogg", 10)),
    )
    for name, value in changes.items():
        object.__setattr__(article, name, value)
    return Stored("src", article)


def test_rss_item_details() -> None:
    """guid isPermaLink=false, pubDate in RFC 822, e-mail author, dc:creator, one enclosure."""
    spec = FeedSpec("sources", "src", "源", [_stored()], subtitle="说明", language="zh-CN")
    data = render_rss(spec, BASE, "feeds", NOW)
    assert rss_problems(data, BASE + "sources/src.rss") == []
    item = etree.fromstring(data).find("channel/item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert guid.text and guid.text.startswith("urn:uuid:")
    assert item.findtext("pubDate") == "Mon, 07 Jun 2021 10:22:00 +0800"
    assert item.findtext("author") == "wang@example.org (王晓)"
    assert [c.text for c in item.findall(DC + "creator")] == ["王晓", "编辑"]
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert dict(enclosure.attrib) == {"url": "https://example.org/a.mp3", "length": "0",
                                      "type": "application/octet-stream"}
    assert [c.text for c in item.findall("category")] == ["本地", "港口"]
    # The title is text: markup in it arrives escaped, never as elements.
    assert item.findtext("title") == "标题 <b>one</b>"


def test_rss_and_json_bytes_depend_only_on_entries() -> None:
    """Rendering twice gives the same bytes (no clock time inside), so files change only
    when entries do."""
    spec = FeedSpec("topics", "t", "话题", [_stored()])
    assert render_rss(spec, BASE, "feeds", NOW) == render_rss(spec, BASE, "feeds", NOW)
    assert render_json_feed(spec, BASE, "a", NOW) == render_json_feed(spec, BASE, "a", NOW)
    rss = etree.fromstring(render_rss(spec, BASE, "feeds", NOW))
    assert rss.findtext("channel/lastBuildDate") == "Mon, 07 Jun 2021 10:22:00 +0800"


def test_json_feed_item_details() -> None:
    """JSON Feed items carry content_html, dates with offsets, authors, tags, attachments."""
    spec = FeedSpec("sources", "src", "源", [_stored(), _stored(key="k2", content_html=None,
                                                               summary=None)])
    data = render_json_feed(spec, BASE, "feeds", NOW)
    assert json_feed_problems(data, BASE + "sources/src.json") == []
    feed = json.loads(data)
    first, second = feed["items"]
    picture = '<p><img src="https://example.org/i.jpg" alt="图"></p>'
    assert first["content_html"].startswith(picture + "<p>正文")
    assert first["date_published"] == "2021-06-07T10:22:00+08:00"
    assert first["authors"] == [{"name": "王晓"}, {"name": "编辑"}]
    assert first["tags"] == ["本地", "港口"]
    assert first["image"] == "https://example.org/i.jpg"
    assert first["attachments"] == [
        {"url": "https://example.org/a.mp3", "mime_type": "application/octet-stream"},
        {"url": "https://example.org/b.ogg", "mime_type": "audio/ogg", "size_in_bytes": 10},
    ]
    # Without text, the entry's image is its content.
    assert second["content_html"] == picture
    assert "content_text" not in second
    assert first["id"] != second["id"]


def test_formats_follow_the_config(tmp_path: Path) -> None:
    """Only Atom by default; a format dropped from the config has its files removed."""
    config = publish_example(example_config(tmp_path, formats=("atom", "rss")))
    out = config.output_dir
    assert (out / "sources" / "qingdao-news.rss").exists()
    assert not list(out.glob("*/*.json"))
    path = tmp_path / "config" / "feeds.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["output"]["formats"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    atom_only = load_config(path)
    assert atom_only.output.formats == ("atom",)
    store = Store.open(atom_only.store_path)
    try:
        publish_all(atom_only, store, NOW)
    finally:
        store.close()
    assert not list(out.glob("*/*.rss"))
    assert (out / "sources" / "qingdao-news.atom").exists()


# -- index.html -------------------------------------------------------------------------------


def _index(config: Config) -> tuple[str, lxml_html.HtmlElement]:
    text = (config.output_dir / "index.html").read_text(encoding="utf-8")
    return text, lxml_html.document_fromstring(text)


def test_index_escapes_a_hostile_title(hostile: Config) -> None:
    """A feed title holding <script> and an onerror handler shows as text, never as markup."""
    text, doc = _index(hostile)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    assert doc.xpath("//script") == []
    assert doc.xpath("//img") == []
    assert [e for e in doc.iter() if isinstance(e.tag, str)
            and any(a.lower().startswith("on") for a in e.attrib)] == []
    assert HOSTILE in [h.text_content() for h in doc.xpath("//h3")]
    # The autodiscovery title attribute is escaped too.
    titles = [link.get("title") for link in doc.xpath("//link[@rel='alternate']")]
    assert f"{HOSTILE} (Atom)" in titles


def test_index_lists_every_feed_with_links_in_each_format(example: Config) -> None:
    """Every source and topic feed: title, entry count, health, one link per format, and
    matching autodiscovery tags."""
    _, doc = _index(example)
    cards = {a.get("id"): a for a in doc.xpath("//article")}
    expected = [f"sources-{s.id}" for s in example.sources if s.enabled] + \
        [f"topics-{t.id}" for t in example.topics]
    assert sorted(cards) == sorted(expected)
    qingdao = cards["sources-qingdao-news"]
    assert qingdao.xpath("string(.//h3)") == "青岛新闻"
    meta = qingdao.xpath("string(.//p[@class='meta'])")
    assert "2 entries" in meta and "ok" in meta
    assert "2021-06-07 10:22 +0800" in meta
    assert [a.get("href") for a in qingdao.xpath(".//p[@class='subscribe']/a")] == [
        "sources/qingdao-news.atom", "sources/qingdao-news.rss", "sources/qingdao-news.json"]
    broken = cards["sources-broken-example"].xpath("string(.//p[@class='meta'])")
    assert "failing since 2025-01-01 20:00 +0800" in broken
    topic = cards["topics-qingdao"].xpath("string(.//p[@class='desc'])")
    assert topic == "青岛 news from every source, in either script"
    alternates = doc.xpath("//head/link[@rel='alternate']")
    assert len(alternates) == 3 * len(expected)
    assert {a.get("type") for a in alternates} == {
        "application/atom+xml", "application/rss+xml", "application/feed+json"}
    for link in alternates:
        assert (example.output_dir / link.get("href")).is_file()
    assert doc.xpath("//a[@href='feeds.opml']")


def test_index_has_no_external_assets(example: Config) -> None:
    """No script, stylesheet, image or font is loaded from anywhere; a CSP forbids it."""
    text, doc = _index(example)
    assert doc.xpath("//script | //img | //iframe | //link[@rel='stylesheet']") == []
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        for attr in ("src", "href"):
            value = element.get(attr) or ""
            assert not value.startswith(("http:", "https:", "//")), value
    assert "default-src 'none'" in text
    assert "@import" not in text and "url(" not in text


def test_index_rewritten_only_when_something_changed(tmp_path: Path) -> None:
    """A second publish with nothing new leaves index.html (and every feed) untouched."""
    config = publish_example(example_config(tmp_path))
    store = Store.open(config.store_path)
    try:
        changed = publish_all(config, store, NOW + timedelta(hours=1))
    finally:
        store.close()
    assert changed == []


def test_index_links_the_health_feed_once_it_exists(tmp_path: Path) -> None:
    """When the scheduler has written health.atom, the index links it and advertises it."""
    config = publish_example(example_config(tmp_path))
    _, doc = _index(config)
    assert not doc.xpath("//a[@href='health.atom']")
    (config.output_dir / "health.atom").write_text("<feed/>", encoding="utf-8")
    store = Store.open(config.store_path)
    try:
        changed = publish_all(config, store, NOW)
    finally:
        store.close()
    assert changed == [config.output_dir / "index.html"]
    _, doc = _index(config)
    assert doc.xpath("//a[@href='health.atom']")
    assert doc.xpath("//head/link[@rel='alternate'][@href='health.atom']")


def test_the_source_line_is_the_byline_of_an_entry_without_authors() -> None:
    """A page's 来源 line names who an entry is by when the page names no author, in every
    format; with authors, they are the byline."""
    from feeds.render import render_atom

    agency = _stored(authors=(), source_name="新华社", enclosures=())
    spec = FeedSpec("sources", "src", "源", [agency])
    atom = etree.fromstring(render_atom(spec, BASE, "feeds", NOW))
    assert [n.text for n in atom.iterfind(f"{ATOM}entry/{ATOM}author/{ATOM}name")] == ["新华社"]
    assert_valid_atom(render_atom(spec, BASE, "feeds", NOW), BASE + spec.relative_path)
    rss = etree.fromstring(render_rss(spec, BASE, "feeds", NOW))
    assert [n.text for n in rss.iter(f"{DC}creator")] == ["新华社"]
    item = json.loads(render_json_feed(spec, BASE, "feeds", NOW))["items"][0]
    assert item["authors"] == [{"name": "新华社"}]
    named = FeedSpec("sources", "src", "源", [_stored(source_name="新华社")])
    atom = etree.fromstring(render_atom(named, BASE, "feeds", NOW))
    assert [n.text for n in atom.iterfind(f"{ATOM}entry/{ATOM}author/{ATOM}name")] == [
        "王晓", "编辑"]


def test_links_that_are_not_uris_are_written_as_uris() -> None:
    """A publisher's link with a backslash, spaces or quotes, and such an enclosure URL,
    come out as URIs the validator accepts (a backslash is a slash, the rest encoded)."""
    from feeds.render import render_atom

    odd = _stored(url='https://example.org/a b\\c"d', enclosures=(
        Enclosure("https://example.org/my file.mp3", "audio/mpeg", 10),), images=())
    spec = FeedSpec("sources", "src", "源", [odd])
    data = render_atom(spec, BASE, "feeds", NOW)
    assert_valid_atom(data, BASE + spec.relative_path)
    hrefs = [link.get("href") for link in etree.fromstring(data).iter(f"{ATOM}link")]
    assert "https://example.org/a%20b/c%22d" in hrefs
    assert "https://example.org/my%20file.mp3" in hrefs
    item = json.loads(render_json_feed(spec, BASE, "feeds", NOW))["items"][0]
    assert item["url"] == "https://example.org/a%20b/c%22d"
