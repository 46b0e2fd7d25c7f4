"""Kinds of feeds whose extensions feedparser files in surprising places: Mastodon, podcasts,
Media RSS, YouTube, feeds that name their author only once. Real bytes through the real
feedparser (and the lxml fast path where it accepts them); the samples in tests/data/feeds
pin the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from atomcheck import problems
from conftest import DATA, LocalServer

from feeds.config import load_config
from feeds.fetch import Fetcher
from feeds.poll import run_cycle
from feeds.publish import publish_all
from feeds.sources import feed as feed_module
from feeds.sources.fastfeed import parse_plain_feed
from feeds.sources.feed import FeedContext, ParsedFeed, parse_feed
from feeds.store import Store

URL = "https://feeds.test/feed.xml"
MRSS = 'xmlns:media="http://search.yahoo.com/mrss/"'


def parse(body: str | bytes) -> ParsedFeed:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(data, FeedContext("kinds", URL, ZoneInfo("UTC")))


def rss_item(item: str, channel: str = "", namespaces: str = MRSS) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {namespaces}><channel>'
            f"<title>t</title><link>https://x.example/</link><description>d</description>"
            f"{channel}<item>{item}</item></channel></rss>")


def both_paths(body: bytes) -> tuple[ParsedFeed, ParsedFeed]:
    """(fast path, feedparser) for a document the fast path must accept."""
    context = FeedContext("kinds", URL, ZoneInfo("UTC"))
    fast = parse_plain_feed(body, URL, None)
    assert fast is not None, "the fast path declined"
    slow = feed_module._xml_feed(body, context, None)
    return (feed_module._finish(fast, context, body, None),
            feed_module._finish(slow, context, body, None))


# 1. The post's HTML, not a plain-text description of its media, is its content.

def test_media_description_does_not_replace_description() -> None:
    """A toot's image alt text (media:description, plain) is neither its content nor title."""
    parsed = parse(rss_item(
        "<guid>https://m.example/@u/1</guid><link>https://m.example/@u/1</link>"
        "<description>&lt;p&gt;The toot &lt;a href='https://e.example/'&gt;link&lt;/a&gt;"
        "&lt;/p&gt;</description>"
        '<media:content url="https://m.example/1.png" type="image/png" medium="image">'
        '<media:description type="plain">a photo of a cat</media:description></media:content>'))
    [article] = parsed.articles
    assert article.title == "The toot link"
    assert article.content_html is not None and 'href="https://e.example/"' in article.content_html
    assert "cat" not in (article.content_html + (article.text or "") + article.title)


def test_itunes_summary_does_not_replace_show_notes() -> None:
    """A podcast's plain itunes:summary loses to its HTML description, whichever comes first."""
    itunes = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    notes = "<description>&lt;p&gt;Notes &lt;a href='https://r.example/'&gt;ref&lt;/a&gt;&lt;/p&gt;</description>"
    plain = "<itunes:summary>Notes, plain and much longer than the HTML ones</itunes:summary>"
    for order in (notes + plain, plain + notes):
        parsed = parse(rss_item(f"<title>Ep</title><link>https://p.example/1</link>{order}",
                                namespaces=itunes))
        html = parsed.articles[0].content_html or ""
        assert 'href="https://r.example/"' in html, order
        assert "plain" not in html


def test_plain_text_content_when_nothing_is_html() -> None:
    """An Atom entry with only a plain-text content keeps it, escaped, as its content."""
    parsed = parse("""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>urn:1</id><link href="https://a.example/1"/>
      <content type="text">x &lt; y, always</content></entry></feed>""")
    [article] = parsed.articles
    assert article.content_html == "<p>x &lt; y, always</p>"
    assert article.title == "x < y, always"


def test_longest_html_wins_between_content_and_summary() -> None:
    """Among HTML alternatives the longest is the content; the summary stays the summary."""
    parsed = parse(rss_item(
        "<title>T</title><link>https://x.example/1</link>"
        "<description>&lt;p&gt;A full description with &lt;b&gt;bold&lt;/b&gt; words.&lt;/p&gt;"
        "</description>"
        '<content:encoded><![CDATA[<p>Short</p>]]></content:encoded>',
        namespaces='xmlns:content="http://purl.org/rss/1.0/modules/content/"'))
    [article] = parsed.articles
    assert article.content_html == "<p>A full description with <b>bold</b> words.</p>"
    assert article.summary == "A full description with bold words."


# 2. Enclosures: a type for every one, Media RSS audio and video.

@pytest.mark.parametrize(("url", "kind"), [
    ("https://c.example/1.mp3", "audio/mpeg"),
    ("https://c.example/EP.MP3?token=a.b", "audio/mpeg"),
    ("https://c.example/1.m4a", "audio/mp4"),
    ("https://c.example/1.mp4", "video/mp4"),
    ("https://c.example/1.ogg", "audio/ogg"),
    ("https://c.example/1.opus", "audio/ogg"),
    ("https://c.example/notes.pdf", "application/pdf"),
    ("https://c.example/v1.2/download", "application/octet-stream"),
    ("https://c.example/play?file=x.mp3", "application/octet-stream"),
])
def test_enclosure_type_guessed_from_extension(url: str, kind: str) -> None:
    """An enclosure without a type gets the one its file extension names, else octet-stream."""
    parsed = parse(rss_item(f'<title>Ep</title><link>https://p.example/1</link>'
                            f'<enclosure url="{url.replace("&", "&amp;")}" length="12"/>'))
    [enclosure] = parsed.articles[0].enclosures
    assert (enclosure.url, enclosure.type, enclosure.length) == (url, kind, 12)


def test_declared_enclosure_type_is_kept() -> None:
    """A type the feed declares is kept even when the extension suggests another."""
    parsed = parse(rss_item('<title>Ep</title><link>https://p.example/1</link>'
                            '<enclosure url="https://c.example/1.mp3" type="audio/x-mpeg"/>'))
    assert parsed.articles[0].enclosures[0].type == "audio/x-mpeg"


def test_media_group_video_becomes_enclosures() -> None:
    """Video and audio media:content (also in a media:group) are enclosures; images are not."""
    parsed = parse(rss_item(
        "<title>V</title><link>https://v.example/1</link>"
        '<media:content url="https://v.example/big.jpg" medium="image"/>'
        '<media:group><media:content url="https://v.example/1.mp4" type="video/mp4" '
        'fileSize="500"/><media:content url="https://v.example/1.webm"/></media:group>'
        '<media:content url="https://v.example/1.mp3" medium="audio"/>'))
    [article] = parsed.articles
    assert [(e.url, e.type, e.length) for e in article.enclosures] == [
        ("https://v.example/1.mp4", "video/mp4", 500),
        ("https://v.example/1.webm", "video/webm", None),
        ("https://v.example/1.mp3", "audio/mpeg", None),
    ]
    assert [i.url for i in article.images] == ["https://v.example/big.jpg"]


def test_podcast_atom_output_passes_the_atom_checker(tmp_path: Path,
                                                     http_server: LocalServer) -> None:
    """A podcast whose enclosures carry no type is written as Atom the checker accepts."""
    sample = (DATA / "feeds" / "podcast-itunes.xml").read_bytes()
    http_server.add("/pod.xml", sample, headers={"Content-Type": "application/rss+xml"})
    base = "http://localhost:8080/"
    (tmp_path / "feeds.yaml").write_text(
        f'output: {{dir: out, base_url: "{base}", formats: [atom]}}\n'
        "store: {path: state/feeds.db}\n"
        "defaults: {allow_private: true}\n"
        f"sources:\n  - id: pod\n    url: {http_server.url('/pod.xml')}\n",
        encoding="utf-8")
    config = load_config(tmp_path / "feeds.yaml")
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path, timeout=5)
    try:
        now = datetime(2024, 6, 20, tzinfo=UTC)
        [result] = run_cycle(config, store, fetcher, now, workers=1)
        assert result.error is None
        publish_all(config, store, now)
    finally:
        fetcher.close()
        store.close()
    written = (config.output_dir / "sources" / "pod.atom").read_bytes()
    assert written.count(b'rel="enclosure"') == 3
    assert problems(written, self_url=base + "sources/pod.atom") == []


# 3. Images: pictures of the item, not players or avatars.

def test_flash_player_is_no_image() -> None:
    """YouTube's media:content (a Flash player, no medium) is no image; its thumbnail is."""
    parsed = parse("""<feed xmlns="http://www.w3.org/2005/Atom"
        xmlns:media="http://search.yahoo.com/mrss/"><title>c</title>
      <entry><id>yt:video:v1</id><title>Video</title>
      <link rel="alternate" href="https://www.youtube.com/watch?v=v1"/>
      <media:group><media:content url="https://www.youtube.com/v/v1?version=3"
        type="application/x-shockwave-flash" width="640" height="390"/>
      <media:thumbnail url="https://i1.ytimg.com/vi/v1/hqdefault.jpg" width="480" height="360"/>
      </media:group></entry></feed>""")
    [article] = parsed.articles
    assert [i.url for i in article.images] == ["https://i1.ytimg.com/vi/v1/hqdefault.jpg"]
    assert article.enclosures == ()


def test_media_content_is_an_image_by_type_or_extension() -> None:
    """A media:content without medium is an image when its type or its file says so."""
    parsed = parse(rss_item(
        "<title>P</title><link>https://x.example/1</link>"
        '<media:content url="https://x.example/a.jpg"/>'
        '<media:content url="https://x.example/b" type="image/webp"/>'
        '<media:content url="https://x.example/c" type="text/html"/>'
        '<media:content url="https://x.example/d.png" medium="document"/>'))
    assert [i.url for i in parsed.articles[0].images] == ["https://x.example/a.jpg",
                                                          "https://x.example/b"]


def test_avatar_thumbnail_comes_after_the_item_picture() -> None:
    """A small avatar thumbnail (GitHub's) ranks after the item's own thumbnail."""
    parsed = parse("""<feed xmlns="http://www.w3.org/2005/Atom"
        xmlns:media="http://search.yahoo.com/mrss/"><title>c</title>
      <entry><id>tag:github.com,2008:1</id><title>Release</title>
      <link rel="alternate" href="https://github.com/o/r/releases/1"/>
      <media:thumbnail height="30" width="30" url="https://avatars.githubusercontent.com/u/1?s=60"/>
      <media:thumbnail url="https://github.com/o/r/social.png" width="1280" height="640"/>
      </entry></feed>""")
    assert [i.url for i in parsed.articles[0].images] == [
        "https://github.com/o/r/social.png", "https://avatars.githubusercontent.com/u/1?s=60"]


# 4. The feed's author for entries that name none.

def test_channel_itunes_author_without_owner_email() -> None:
    """A podcast channel's author becomes its episodes', without the itunes:owner address."""
    parsed = parse(rss_item(
        "<title>Ep</title><link>https://p.example/1</link>",
        channel="<itunes:author>Pat</itunes:author><itunes:owner><itunes:name>Pat</itunes:name>"
                "<itunes:email>owner@p.example</itunes:email></itunes:owner>",
        namespaces='xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'))
    assert [(p.name, p.email) for p in parsed.articles[0].authors] == [("Pat", None)]


def test_channel_dc_creator_is_the_items_author() -> None:
    """An RSS channel's dc:creator is the author of items naming none."""
    parsed = parse(rss_item(
        "<title>A</title><link>https://x.example/1</link>",
        channel="<dc:creator>Desk</dc:creator>",
        namespaces='xmlns:dc="http://purl.org/dc/elements/1.1/"'))
    assert [p.name for p in parsed.articles[0].authors] == ["Desk"]


def test_source_author_before_feed_author() -> None:
    """An Atom entry copied from another feed takes its source's author, not the planet's."""
    parsed = parse("""<feed xmlns="http://www.w3.org/2005/Atom"><title>Planet</title>
      <author><name>Planet Admin</name></author>
      <entry><id>urn:1</id><title>a</title><link href="https://b.example/1"/>
        <source><id>urn:b</id><title>B</title><author><name>Blogger B</name></author></source>
      </entry>
      <entry><id>urn:2</id><title>b</title><link href="https://b.example/2"/></entry></feed>""")
    assert [[p.name for p in a.authors] for a in parsed.articles] == [["Blogger B"],
                                                                      ["Planet Admin"]]


@pytest.mark.parametrize("editor", [
    "press@council.example.gov (Press Office)",
    "Press Office (press@council.example.gov)",
    "press@council.example.gov",
    "Press Office",
    "",
])
def test_managing_editor_same_on_both_paths(editor: str) -> None:
    """The channel's managingEditor, in its usual spellings, gives the same author either way."""
    body = rss_item("<title>A</title><link>https://x.example/1</link>",
                    channel=f"<managingEditor>{editor}</managingEditor>", namespaces="")
    fast, slow = both_paths(body.encode())
    assert fast.articles == slow.articles
    names = [p.name for p in fast.articles[0].authors]
    assert names == (["Press Office"] if "Press" in editor else [])


def test_atom_feed_authors_same_on_both_paths() -> None:
    """An Atom feed's authors (several, one nameless) give the same articles either way."""
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><link href="https://a.example/"/>
<author><name>One</name><uri>https://a.example/one</uri></author>
<author><email>two@a.example</email></author><author><name>Three</name></author>
<entry><id>urn:1</id><title>a</title><link href="https://a.example/1"/></entry>
<entry><id>urn:2</id><title>b</title><link href="https://a.example/2"/>
<author><name>Own</name></author></entry></feed>"""
    fast, slow = both_paths(body)
    assert fast.articles == slow.articles
    assert [[(p.name, p.uri) for p in a.authors] for a in fast.articles] == [
        [("One", "https://a.example/one"), ("Three", None)], [("Own", None)]]


def test_a_feed_of_too_many_entries_is_read_to_its_newest(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """Above MAX_ENTRIES entries a feed is cut to its newest ones, kept in their order, so a
    hostile feed of a million items cannot take a poll's time and memory."""
    monkeypatch.setattr(feed_module, "MAX_ENTRIES", 3)
    items = "".join(
        f"<item><title>t{n}</title><link>https://e.org/{n}</link>"
        f"<pubDate>Wed, 0{n} May 2024 08:00:00 +0000</pubDate></item>" for n in (3, 1, 5, 2, 4))
    body = f'<rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.encode()
    parsed = feed_module.parse_feed(body, FeedContext("s", "https://e.org/", ZoneInfo("UTC")))
    assert [a.title for a in parsed.articles] == ["t3", "t5", "t4"]
