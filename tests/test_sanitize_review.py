"""Review fixes: embeds become links, large data: images go, entry images reach every format."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import feedparser
import pytest
from atomcheck import problems
from lxml import etree

from feeds.model import Article, Image, Stored
from feeds.render import FeedSpec, lead_image, render_atom, render_json_feed, render_rss
from feeds.sanitize import DATA_IMAGE_LIMIT, sanitize_html

BASE = "https://e.example/post/"


def _links(fragment: str) -> list[tuple[str, str]]:
    """The (href, text) of every link in sanitized HTML."""
    return re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', fragment)


def test_iframe_becomes_a_link_to_its_video() -> None:
    """An embedded YouTube player becomes a paragraph linking to the video's page."""
    out = sanitize_html('<p>Watch:</p><iframe src="https://www.youtube.com/embed/abc_DEF-12?rel=0"'
                        ' width="560" height="315"></iframe><p>end</p>', BASE)
    assert out == ('<p>Watch:</p><p><a href="https://www.youtube.com/watch?v=abc_DEF-12" '
                   'rel="noopener noreferrer">YouTube video</a></p><p>end</p>')


def test_protocol_relative_player_inside_a_paragraph() -> None:
    """A Bilibili player in running text becomes a link in that paragraph (no <p> in a <p>)."""
    out = sanitize_html('<p>看 <iframe src="//player.bilibili.com/player.html?'
                        'bvid=BV1ab411c7&page=1" allowfullscreen></iframe> 吧</p>', BASE)
    assert out == ('<p>看 <a href="https://www.bilibili.com/video/BV1ab411c7" '
                   'rel="noopener noreferrer">Bilibili 视频</a> 吧</p>')


def test_unknown_player_links_its_resolved_url() -> None:
    """An embed from an unknown host links its own absolute URL, shown as the link text."""
    out = sanitize_html('<iframe src="/widgets/map?id=3&amp;z=2"></iframe>', BASE)
    assert _links(out) == [("https://e.example/widgets/map?id=3&amp;z=2",
                            "https://e.example/widgets/map?id=3&amp;z=2")]


def test_object_with_an_embed_gives_one_link() -> None:
    """An old Flash object with an <embed> fallback gives one link; without data, the embed's."""
    with_data = sanitize_html('<object data="https://media.example/a.swf"><param name="movie" '
                              'value="x"><embed src="https://media.example/b.swf"></object>', BASE)
    assert _links(with_data) == [("https://media.example/a.swf", "https://media.example/a.swf")]
    without = sanitize_html('<object width="425"><param name="movie" value="x">'
                            '<embed src="http://www.youtube.com/v/abcdefgh&hl=en" '
                            'type="application/x-shockwave-flash"></object>', BASE)
    assert _links(without) == [("https://www.youtube.com/watch?v=abcdefgh", "YouTube video")]


@pytest.mark.parametrize("fragment", [
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    '<embed src="data:application/x-shockwave-flash;base64,AAAA">',
    '<object data="vbscript:x"></object>',
    '<iframe src="ftp://files.example/x"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
])
def test_embeds_without_a_web_source_leave_nothing(fragment: str) -> None:
    """An embed whose source is not an http(s) URL is dropped, as before, with no link."""
    out = sanitize_html("<p>a</p>" + fragment + "<p>b</p>", BASE)
    assert out == "<p>a</p><p>b</p>"


def test_embed_pass_keeps_the_other_rules() -> None:
    """Scripts, event handlers and script URLs are still dropped in a fragment with embeds."""
    out = sanitize_html('<iframe src="https://player.vimeo.com/video/42?h=1"></iframe>'
                        '<script>alert(1)</script><p onclick="x()">t <a href="javascript:y()">'
                        'l</a></p><iframe src="https://v.example/1" onload="z()"></iframe>', BASE)
    assert "script" not in out and "onclick" not in out and "onload" not in out
    assert _links(out) == [("https://vimeo.com/42", "Vimeo video"),
                           ("https://v.example/1", "https://v.example/1")]


def test_player_without_a_source_shows_its_poster_and_fallback() -> None:
    """A <video> left with nothing to play shows its poster and fallback; one that plays stays."""
    dead = sanitize_html('<video data-src="v.mp4" poster="p.jpg">Get <a href="v.mp4">it</a>'
                         '</video><audio src="javascript:x()"></audio>', BASE)
    assert dead == ('<img src="https://e.example/post/p.jpg">Get '
                    '<a href="https://e.example/post/v.mp4" rel="noopener noreferrer">it</a>')
    playing = '<video controls="" src="https://e.example/v.mp4"></video>'
    assert sanitize_html(playing, BASE) == playing
    sourced = '<video><source src="https://e.example/v.mp4" type="video/mp4"></video>'
    assert sanitize_html(sourced, BASE) == sourced


def _data_image(size: int) -> str:
    payload = base64.b64encode(b"\x89PNG" + bytes(size)).decode()
    return f"data:image/png;base64,{payload}"


def test_large_data_image_is_dropped_small_one_kept() -> None:
    """A data: image above the cap leaves its alt text; an icon-sized one stays."""
    small, large = _data_image(300), _data_image(300_000)
    assert len(small) < DATA_IMAGE_LIMIT < len(large)
    out = sanitize_html(f'<p>a</p><img src="{large}" alt="a chart"><p><img src="{small}"></p>',
                        BASE)
    assert out == f'<p>a</p>a chart<p><img src="{small}"></p>'


def test_image_without_a_usable_source_becomes_its_alt_text() -> None:
    """An <img> whose URL was dropped shows its alt text (escaped), not a broken image."""
    out = sanitize_html('<img src="javascript:alert(1)" alt="x<y & z"><img data-src="a.jpg">', BASE)
    assert out == "x&lt;y &amp; z"


@pytest.mark.parametrize("href", ["DATA:text/html,<script>alert(1)</script>",
                                  "data&colon;text/html,x", "d&#97;ta:text/html,x",
                                  "da\tta:text/html,x"])
def test_disguised_data_links_are_dropped(href: str) -> None:
    """A data: link is dropped however its scheme is spelled (case, entities, tabs)."""
    out = sanitize_html(f'<a href="{href}">x</a>', BASE)
    assert out == '<a rel="noopener noreferrer">x</a>'


NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEEDS = "http://localhost:8080/"


def _spec(**changes: object) -> FeedSpec:
    fields: dict[str, object] = {
        "key": "k1", "url": "https://m.example/@u/1", "canonical_url": None, "title": "Toot",
        "content_html": "<p>Real toot text</p>", "summary": "Real toot text", "published": NOW,
        "first_seen": NOW,
        "images": (Image("https://files.m.example/media/0.png", caption='a "cat" & co'),),
    }
    fields.update(changes)
    article = Article(**fields)  # type: ignore[arg-type]
    return FeedSpec("sources", "src", "Source", [Stored("src", article)])


def _contents(spec: FeedSpec) -> tuple[str, str, str]:
    """The entry's HTML content as Atom, RSS and JSON Feed give it, each checked valid."""
    atom = render_atom(spec, FEEDS, "feeds", NOW)
    assert problems(atom, self_url=FEEDS + "sources/src.atom") == []
    rss = render_rss(spec, FEEDS, "feeds", NOW)
    parsed = feedparser.parse(rss)
    assert not parsed.bozo and parsed.version == "rss20"
    document = json.loads(render_json_feed(spec, FEEDS, "feeds", NOW))
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    item = document["items"][0]
    assert isinstance(item["id"], str) and "content_text" not in item
    atom_content = etree.fromstring(atom).findtext("{http://www.w3.org/2005/Atom}entry/"
                                                   "{http://www.w3.org/2005/Atom}content")
    rss_content = etree.fromstring(rss).findtext(
        "channel/item/{http://purl.org/rss/1.0/modules/content/}encoded")
    return atom_content or "", rss_content or "", item["content_html"]


def test_entry_image_leads_the_content_in_every_format() -> None:
    """An entry's media image shows above content that has none, alt from its caption."""
    lead = ('<p><img src="https://files.m.example/media/0.png" alt="a &quot;cat&quot; &amp; co">'
            '</p>')
    assert _contents(_spec()) == (lead + "<p>Real toot text</p>",) * 3


def test_summary_only_entry_gets_the_image_and_its_text() -> None:
    """An entry with no content (a YouTube video) gets its thumbnail above its summary."""
    spec = _spec(content_html=None, summary="line one & two",
                 images=(Image("https://i1.ytimg.com/vi/v1/hqdefault.jpg"),))
    html_content = ('<p><img src="https://i1.ytimg.com/vi/v1/hqdefault.jpg" alt=""></p>'
                    "<p>line one &amp; two</p>")
    assert _contents(spec) == (html_content,) * 3


def test_image_in_content_is_not_repeated() -> None:
    """Content that shows a picture (its URL relative or not) gets no second one."""
    content = '<p>t</p><p><img src="https://m.example/media/0.png" alt=""></p>'
    spec = _spec(content_html=content, images=(Image("https://m.example/media/0.png"),))
    assert _contents(spec) == (content,) * 3
    relative = _spec(content_html='<img src="/media/0.png" width="1">',
                     images=(Image("https://m.example/media/0.png"),)).entries[0].article
    assert lead_image(relative, relative.content_html or "", None) == ""
    poster = ('<video controls="" poster="https://x.example/p.jpg" '
              'src="https://x.example/v.mp4"></video>')
    assert _contents(_spec(content_html=poster)) == (poster,) * 3


def test_pixel_and_avatar_are_no_pictures() -> None:
    """A tracking pixel does not count as a picture; an avatar is never the lead image."""
    pixel = '<p>t</p><img src="https://pixel.wp.com/b.gif?x=1&amp;y=2" width="1" height="1">'
    spec = _spec(content_html=pixel, images=(
        Image("https://pixel.wp.com/b.gif?x=1&y=2"),
        Image("https://0.gravatar.com/avatar/abc?s=96"),
        Image("https://cdn.example/photo.jpg")))
    lead = '<p><img src="https://cdn.example/photo.jpg" alt=""></p>'
    assert _contents(spec) == (lead + pixel,) * 3
    avatar_only = _spec(images=(Image("https://avatars.githubusercontent.com/u/1?s=60&v=4"),))
    assert _contents(avatar_only) == ("<p>Real toot text</p>",) * 3
