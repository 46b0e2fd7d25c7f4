"""English listing pages: WordPress indexes, English listing dates, proposed date rules,
English pagers, and the listing's time beside an article's day-only date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from conftest import LocalServer

from feeds.config import Config, ItemRules, parse_config
from feeds.extract.article import Extracted
from feeds.fetch import Fetcher
from feeds.poll import poll_source
from feeds.sources.page import (
    Item,
    article_from,
    items_by_rules,
    next_page_url,
    parse_listing,
    parse_listing_date,
)
from feeds.store import Store

NOW = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_config(tmp_path: Path, sources: str) -> Config:
    text = f"""
defaults: {{allow_private: true, host_delay: 0}}
output: {{dir: out, base_url: "https://feeds.example.org/"}}
store: {{path: feeds.db}}
sources:
{sources}
"""
    return parse_config(text, "test.yaml", tmp_path)


def wordpress_post(n: int, slug: str, title: str, when: str, category: str) -> str:
    """One post of a WordPress index as themes write it: its own classes, a header."""
    url = f"/blog/2026/11/{n:02d}/{slug}/"
    return (
        f'<article id="post-{n}" class="post-{n} post type-post status-publish format-standard '
        f'hentry category-{category}"><header class="entry-header"><h2 class="entry-title">'
        f'<a href="{url}" rel="bookmark">{title}</a></h2><div class="entry-meta">'
        f'<span class="posted-on">Posted on <a href="{url}" rel="bookmark">'
        f'<time class="entry-date published" datetime="{when}">November {n}, 2026</time></a>'
        f'</span> <span class="byline">by <a class="url fn n" href="/blog/author/alex/">'
        f'Alex Morgan</a></span></div></header><div class="entry-summary"><p>An excerpt that '
        f'tells the reader what the post is about and makes them read on &hellip;</p>'
        f'<a class="more-link" href="{url}">Continue reading<span class="screen-reader-text"> '
        f'"{title}"</span></a></div><footer class="entry-footer"><span class="comments-link">'
        f'<a href="{url}#comments">4 Comments on {title}</a></span></footer></article>'
    )


POSTS = [
    (25, "learning-rust", "Learning Rust in a month: a diary", "2026-11-25T10:00:00+00:00",
     "code"),
    (20, "back-to-vim", "Why I switched back to Vim after five years",
     "2026-11-20T08:30:00+00:00", "code"),
    (12, "home-server", "Building a home server on a budget", "2026-11-12T19:05:00+00:00",
     "hardware"),
    (3, "sourdough", "Notes on sourdough: what finally worked", "2026-11-03T12:00:00+00:00",
     "bread"),
]


def wordpress_index(pager: str = "") -> str:
    posts = "".join(wordpress_post(*post) for post in POSTS)
    return (
        "<html><head><title>Alex's Notebook</title></head><body><div id='page' class='site'>"
        "<header id='masthead'><p class='site-title'><a href='/blog/'>Alex's Notebook</a></p>"
        "<nav><a href='/blog/about/'>About</a></nav></header><main id='main' class='site-main'>"
        f"{posts}{pager}</main><aside class='widget-area'><h2>Recent Posts</h2><ul>"
        + "".join(f"<li><a href='/blog/2026/11/{n:02d}/{s}/'>{t}</a></li>"
                  for n, s, t, _, _ in POSTS)
        + "</ul></aside></div></body></html>"
    )


# -- 1. WordPress indexes -----------------------------------------------------------------------


def test_wordpress_index_lists_post_titles_with_their_times() -> None:
    """A WordPress index (a class per post, titles in the post's <header>) gives its posts,
    titled by their headings (not "Continue reading", dates or comments), timed by <time>."""
    listing = parse_listing(wordpress_index(), "https://alex.example/blog/", rules=None,
                            tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "auto"
    assert [i.title for i in listing.items] == [title for _, _, title, _, _ in POSTS]
    assert [i.url for i in listing.items] == [
        f"https://alex.example/blog/2026/11/{n:02d}/{slug}/" for n, slug, _, _, _ in POSTS]
    assert [i.date for i in listing.items] == [
        datetime.fromisoformat(when) for _, _, _, when, _ in POSTS]
    proposed = listing.proposed
    assert proposed is not None
    assert "category" not in proposed.each and "#" not in proposed.each.replace("#main", "")
    assert proposed.date is not None and proposed.date.startswith("time")
    assert proposed.date.endswith("@datetime")


def test_title_heading_beats_a_longer_continue_reading_link() -> None:
    """Within one item, the link in the heading is the title, even when a "Read more" link
    to the same post (carrying the title for screen readers) has the longer text."""
    rows = "".join(
        f'<div class="teaser"><h3><a href="/posts/{k}/story-{k}">Short story {k} title</a></h3>'
        f'<p>Summary text of the story number {k} that runs on.</p>'
        f'<a class="more" href="/posts/{k}/story-{k}">Read more about Short story {k} title '
        f'and everything it means</a></div>'
        for k in range(1, 5))
    listing = parse_listing(f"<html><body><div class='list'>{rows}</div></body></html>",
                            "https://site.example/", rules=None, tz=UTC, now=NOW,
                            allow_file=False)
    assert [i.title for i in listing.items] == [f"Short story {k} title" for k in range(1, 5)]


def test_page_header_links_stay_boilerplate() -> None:
    """Only a <header> inside an <article> is content: the page's own <header> still hides
    its links from detection."""
    header = "".join(f'<a href="/section/{k}/latest-news-today">Latest news section {k}</a>'
                     for k in range(6))
    rows = "".join(f'<li><a href="/news/{k}.html">A news story title number {k}</a></li>'
                   for k in range(4))
    html = f"<html><body><header>{header}</header><ul>{rows}</ul></body></html>"
    listing = parse_listing(html, "https://site.example/", rules=None, tz=UTC, now=NOW,
                            allow_file=False)
    assert all("/news/" in i.url for i in listing.items)


# -- 2. the listing's time beside an article's day-only date ------------------------------------


def extracted(published: datetime | None) -> Extracted:
    return Extracted(title="Rail strike called off", content_html="<p>Text</p>", text="Text",
                     published=published)


def test_listing_time_beats_the_articles_day_only_date_on_that_day() -> None:
    """An article page's "26 November 2026" (midnight, +08:00: the 25th in UTC) gives way to
    the listing's <time datetime="2026-11-26T07:40:00Z"> on the same day."""
    source = make_config(Path("/tmp"), "  - {id: n, page: 'https://n.example/'}").sources[0]
    listed = datetime(2026, 11, 26, 7, 40, tzinfo=UTC)
    item = Item("https://n.example/a/rail", "Rail strike called off", listed)
    day_only = datetime(2026, 11, 26, tzinfo=SHANGHAI)
    assert article_from(item, extracted(day_only), source).published == listed


def test_articles_own_time_and_other_days_are_kept() -> None:
    """The article's date stays when it has a time, or names another day than the listing."""
    source = make_config(Path("/tmp"), "  - {id: n, page: 'https://n.example/'}").sources[0]
    listed = datetime(2026, 11, 26, 7, 40, tzinfo=UTC)
    item = Item("https://n.example/a/rail", "Rail strike called off", listed)
    timed = datetime(2026, 11, 26, 9, 5, tzinfo=SHANGHAI)
    assert article_from(item, extracted(timed), source).published == timed
    other_day = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    assert article_from(item, extracted(other_day), source).published == other_day
    assert article_from(item, extracted(None), source).published == listed


# -- 3. English listing dates -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("3 hours ago", datetime(2026, 11, 26, 20, 0, tzinfo=UTC)),
    ("15 minutes ago", datetime(2026, 11, 26, 22, 45, tzinfo=UTC)),
    ("yesterday", datetime(2026, 11, 26, tzinfo=SHANGHAI)),  # local day: 27th in Shanghai
    ("May 1, 2024", datetime(2024, 5, 1, tzinfo=SHANGHAI)),
    ("1 May 2024", datetime(2024, 5, 1, tzinfo=SHANGHAI)),
    ("Nov 26, 2026", datetime(2026, 11, 26, tzinfo=SHANGHAI)),
    ("15.10.2026", datetime(2026, 10, 15, tzinfo=SHANGHAI)),
    ("Posted on November 25, 2026 by Alex", datetime(2026, 11, 25, tzinfo=SHANGHAI)),
])
def test_english_listing_dates(text: str, expected: datetime) -> None:
    """Listings' English dates, absolute and relative, are read in the source's zone."""
    assert parse_listing_date(text, SHANGHAI, NOW) == expected


def test_date_rule_reads_relative_english_ages() -> None:
    """A `date:` rule pointing at "3 hours ago" (a forum's age column) dates its items."""
    rows = "".join(f'<li class="story"><a class="storylink" href="/t/{k}.html">Story {k}</a> '
                   f'<span class="age">{k} hours ago</span></li>' for k in range(1, 4))
    root = lxml.html.fromstring(f"<html><body><ol>{rows}</ol></body></html>")
    rules = ItemRules(each="li.story", link="a.storylink@href", title="a.storylink",
                      date="span.age")
    items = items_by_rules(root, "https://forum.example/", rules, UTC, NOW)
    assert [i.date for i in items] == [datetime(2026, 11, 26, 23 - k, 0, tzinfo=UTC)
                                       for k in range(1, 4)]


def test_detection_prefers_time_datetime_over_the_visible_day() -> None:
    """Automatic detection takes an item's <time datetime> (with its time) before the day
    the item's text shows."""
    rows = "".join(
        f'<li><a href="/news/{k}.html">A news story title number {k}</a> '
        f'<time datetime="2026-11-2{k}T07:40:00Z">2026-11-2{k}</time></li>' for k in range(4))
    listing = parse_listing(f"<html><body><ul>{rows}</ul></body></html>",
                            "https://site.example/", rules=None, tz=SHANGHAI, now=NOW,
                            allow_file=False)
    assert [i.date for i in listing.items] == [datetime(2026, 11, 20 + k, 7, 40, tzinfo=UTC)
                                               for k in range(4)]


# -- 4. proposed date rules -------------------------------------------------------------------


def test_proposed_date_is_the_time_attribute_of_news_cards() -> None:
    """Cards dated by <time datetime> get `date: time@datetime` proposed, and those rules
    give the same dates as detection."""
    cards = "".join(
        f'<div class="card"><a class="card-link" href="/news/articles/story-{k}">'
        f'<h3>A headline for the story number {k}</h3></a><p>Summary of story {k}.</p>'
        f'<time datetime="2026-11-2{k}T09:15:00Z">2{k} November 2026</time></div>'
        for k in range(4))
    html = f"<html><body><section class='grid'>{cards}</section></body></html>"
    listing = parse_listing(html, "https://news.example/", rules=None, tz=UTC, now=NOW,
                            allow_file=False)
    assert listing.proposed is not None
    assert listing.proposed.date == "time@datetime"
    by_rules = parse_listing(html, "https://news.example/", rules=listing.proposed, tz=UTC,
                             now=NOW, allow_file=False)
    assert [i.date for i in by_rules.items] == [i.date for i in listing.items]


def test_proposed_date_of_a_table_row_is_its_date_cell() -> None:
    """A table's rows get their date cell proposed (not the whole row, whose title text
    holds numbers too), and the rules read the same dates."""
    rows = "".join(
        f'<tr><td>{k}</td><td><a href="./2024/t2024050{k}_{k}.html">关于做好2024年第{k}季度'
        f'安全生产工作的通知</a></td><td>2024-05-0{k}</td></tr>' for k in range(1, 6))
    html = (f"<html><body><table class='tb'><tr><th>序号</th><th>标题</th><th>日期</th></tr>"
            f"{rows}</table></body></html>")
    listing = parse_listing(html, "http://gov.example.cn/tzgg/", rules=None, tz=SHANGHAI,
                            now=NOW, allow_file=False)
    proposed = listing.proposed
    assert proposed is not None and proposed.date not in (None, "tr")
    by_rules = parse_listing(html, "http://gov.example.cn/tzgg/", rules=proposed,
                             tz=SHANGHAI, now=NOW, allow_file=False)
    assert [i.date for i in by_rules.items] == [datetime(2024, 5, k, tzinfo=SHANGHAI)
                                                for k in range(1, 6)]


# -- 5. English pagers ------------------------------------------------------------------------


@pytest.mark.parametrize(("pager", "expected"), [
    ('<a class="next page-numbers" href="/blog/page/2/">Next &raquo;</a>', "/blog/page/2/"),
    ('<a href="/blog/page/2/">Next Page &raquo;</a>', "/blog/page/2/"),
    ('<a href="/blog/page/2/">Older posts &rarr;</a>', "/blog/page/2/"),
    ('<a href="/blog/page/2/">&larr; Older Entries</a>', "/blog/page/2/"),
    ('<a href="/blog/?paged=2">Next</a>', "/blog/?paged=2"),
    ('<a href="/blog/2026/11/03/sourdough/">Next post: Notes on sourdough</a>', None),
    ('<a href="/blog/">Newer posts &rarr;</a>', None),
])
def test_english_pagers(pager: str, expected: str | None) -> None:
    """WordPress pagers lead to the next (older) page; 'Newer posts' and an article's
    'Next post' do not."""
    root = lxml.html.fromstring(f"<html><body><p>x</p><nav>{pager}</nav></body></html>")
    found = next_page_url(root, "https://alex.example/blog/page/1/")
    assert found == (f"https://alex.example{expected}" if expected else None)


def test_max_pages_follows_a_wordpress_pager(tmp_path: Path, http_server: LocalServer) -> None:
    """A blog source with max_pages: 2 reads the posts of /page/2/ behind "Older posts →"."""
    pager = '<div class="nav-links"><a href="/blog/page/2/">Older posts &rarr;</a></div>'
    http_server.add("/blog/", wordpress_index(pager))
    second = wordpress_index().replace("/2026/11/", "/2026/10/")
    http_server.add("/blog/page/2/", second)
    for month in ("10", "11"):
        for n, slug, title, _, _ in POSTS:
            http_server.add(f"/blog/2026/{month}/{n:02d}/{slug}/",
                            f"<html><body><article><h1>{title}</h1>"
                            f"<p>{'Some words of the post. ' * 30}</p></article></body></html>")
    config = make_config(tmp_path, f"  - id: blog\n    page: {http_server.url('/blog/')}\n"
                         "    max_pages: 2\n    language: en\n")
    store = Store.open(config.store_path)
    try:
        result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    finally:
        store.close()
    assert result.new == 2 * len(POSTS), result
    assert http_server.requests_for("/blog/page/2/")
