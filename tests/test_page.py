"""Listing-page sources: rules, automatic detection, article pages, security, the CLI tools.

The bundled example site (config/examples/taiwan-cn, a copy of the seed's mobile news site, and
config/examples/mirror) is served on loopback with charset headers, like a real site.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner
from conftest import LocalServer, shared_path
from lxml import etree

from feeds.cli import cli
from feeds.config import Config, ItemRules, parse_config
from feeds.extract.article import extract_article
from feeds.fetch import Fetcher, Response
from feeds.model import Article
from feeds.poll import poll_source, run_cycle
from feeds.publish import publish_all
from feeds.sources.page import (
    MAX_ARTICLE_FETCHES,
    collect_page,
    insert_source,
    parse_listing,
    parse_listing_date,
)
from feeds.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "examples"
SITE = EXAMPLES / "taiwan-cn"
MIRROR = EXAMPLES / "mirror"
NOW = datetime(2021, 6, 8, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
SEED = "/taiwan-cn/202106/t20210607_12357331.htm"
CHARSETS = {
    "t20210605_12356802.htm": "big5",
    "t20210604_12356511.htm": "gbk",
}
NOISE = ("字號", "字号", "移動版", "移动版", "責任編輯", "责任编辑", "分享")
PINYIN = re.compile(r"\((?:guó|tái|wǎng|kāi|huì|yì|lái|zé|dòng|hào)\)")


def serve_site(server: LocalServer, prefix: str, root: Path, *, mislabel: bool = False) -> None:
    """Serve every file under ``root`` at ``prefix``, with the charset each page is written in
    (or, with ``mislabel``, every page claiming UTF-8)."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".png":
            content_type = "image/png"
        else:
            charset = "utf-8" if mislabel else CHARSETS.get(path.name, "utf-8")
            content_type = f"text/html; charset={charset}"
        server.add(f"{prefix}/{path.relative_to(root).as_posix()}", path.read_bytes(),
                   headers={"Content-Type": content_type})


def make_config(tmp_path: Path, sources: str, *, allow_private: bool = True) -> Config:
    text = f"""
defaults: {{allow_private: {str(allow_private).lower()}}}
output: {{dir: out, base_url: "https://feeds.example.org/"}}
store: {{path: feeds.db}}
sources:
{sources}
"""
    return parse_config(text, "test.yaml", tmp_path)


@pytest.fixture
def site(http_server: LocalServer) -> LocalServer:
    serve_site(http_server, "/taiwan-cn", SITE)
    serve_site(http_server, "/mirror", MIRROR)
    return http_server


def all_text(article: Article) -> str:
    """Every text field of an article, for 'must not appear anywhere' checks."""
    people = [p.name for p in (*article.authors, *article.contributors)]
    captions = [i.caption or "" for i in article.images]
    return "\n".join([article.title, article.summary or "", article.text or "",
                      article.content_html or "", article.source_name or "",
                      *people, *captions, *article.categories])


def run_site(tmp_path: Path, server: LocalServer, sources: str, **kwargs: bool
             ) -> tuple[Config, Store]:
    config = make_config(tmp_path, sources, **kwargs)
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path)
    try:
        results = run_cycle(config, store, fetcher, NOW)
    finally:
        fetcher.close()
    assert all(not r.failed for r in results), results
    publish_all(config, store, NOW)
    return config, store


def articles_of(store: Store, source_id: str) -> dict[str, Article]:
    return {s.article.key: s.article for s in store.iter_articles([source_id])}


# -- the seed's site ---------------------------------------------------------------------------


def test_seed_site_without_rules_gives_the_seed_article(tmp_path: Path, site: LocalServer) -> None:
    """The seed's site as a source with no rules yields the seed article with clean fields."""
    url = site.url("/taiwan-cn/index.html")
    _config, store = run_site(tmp_path, site, f"  - id: taiwan-cn\n    page: {url}\n")
    articles = articles_of(store, "taiwan-cn")
    assert len(articles) == 4
    seed = articles[site.url(SEED)]
    assert seed.title == "青島市召開市委臺港澳工作會議"
    assert seed.published == datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)
    assert seed.published.isoformat() == "2021-06-07T10:22:00+08:00"
    assert seed.url == site.url(SEED)
    assert [i.url for i in seed.images] == [site.url("/taiwan-cn/images/qingdao-meeting.png")]
    assert "圖片來源:青島市臺港澳辦" in (seed.images[0].caption or "")
    assert "<figure>" in (seed.content_html or "") and "figcaption" in (seed.content_html or "")
    assert "黨委(黨組)" in (seed.text or "")  # real parentheses survive the pinyin clean-up
    for article in articles.values():
        text = all_text(article)
        for noise in NOISE:
            assert noise not in text, (noise, article.key)
        assert not PINYIN.search(text), article.key


def test_seed_article_contributor_and_source(tmp_path: Path, site: LocalServer) -> None:
    """The seed's editor becomes a contributor and its 來源 line the source name."""
    url = site.url("/taiwan-cn/index.html")
    _config, store = run_site(tmp_path, site, f"  - id: taiwan-cn\n    page: {url}\n")
    seed = articles_of(store, "taiwan-cn")[site.url(SEED)]
    extracted = extract_article((SITE / "202106" / SEED.rsplit("/", 1)[1]).read_text(
        encoding="utf-8"), site.url(SEED), timezone=SHANGHAI)
    assert extracted.published == datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)
    # Depends on feeds/extract/article.py reading `來(lái)源` and `[責(zé)任編輯:…]` through the
    # flattened pinyin of the seed page.
    assert [p.name for p in seed.contributors] == ["郭碧娟"]
    assert seed.source_name == "中國臺灣網"


def test_big5_gbk_and_ruby_articles(tmp_path: Path, site: LocalServer) -> None:
    """Big5 and GBK article pages decode cleanly; ruby annotations do not reach the text."""
    url = site.url("/taiwan-cn/index.html")
    _config, store = run_site(tmp_path, site, f"  - id: taiwan-cn\n    page: {url}\n")
    articles = articles_of(store, "taiwan-cn")
    big5 = articles[site.url("/taiwan-cn/202106/t20210605_12356802.htm")]
    gbk = articles[site.url("/taiwan-cn/202106/t20210604_12356511.htm")]
    assert big5.title == "廈門舉辦第十三屆海峽論壇青年創業分論壇"
    assert big5.published == datetime(2021, 6, 5, 9, 30, tzinfo=SHANGHAI)
    assert gbk.title == "福州马尾：两岸同胞共庆端午 龙舟竞渡话亲情"
    assert "朱镕基" in (gbk.text or "")  # a character GBK has and GB2312 lacks
    assert "竞渡" in (gbk.text or "") and "jìng" not in all_text(gbk)
    for article in (big5, gbk):
        assert "\ufffd" not in all_text(article)


def test_mislabeled_charset_is_not_mojibake(tmp_path: Path, http_server: LocalServer) -> None:
    """Pages in Big5 and GBK served as charset=utf-8 still decode to the right text."""
    serve_site(http_server, "/taiwan-cn", SITE, mislabel=True)
    url = http_server.url("/taiwan-cn/index.html")
    _config, store = run_site(tmp_path, http_server, f"  - id: tw\n    page: {url}\n")
    titles = {a.title for a in articles_of(store, "tw").values()}
    assert "廈門舉辦第十三屆海峽論壇青年創業分論壇" in titles
    assert "福州马尾：两岸同胞共庆端午 龙舟竞渡话亲情" in titles


def test_atom_from_page_sources_is_valid(tmp_path: Path, site: LocalServer) -> None:
    """The seed's site and its mirror, with no rules, publish valid Atom without page noise."""
    sources = (f"  - id: taiwan-cn\n    page: {site.url('/taiwan-cn/index.html')}\n"
               f"  - id: mirror\n    page: {site.url('/mirror/index.html')}\n")
    config, _store = run_site(tmp_path, site, sources)
    for ident in ("taiwan-cn", "mirror"):
        path = config.output_dir / "sources" / f"{ident}.atom"
        data = path.read_bytes()
        etree.fromstring(data)
        parsed = feedparser.parse(data)
        assert not parsed.bozo, parsed.bozo_exception
        assert len(parsed.entries) >= 3
        titles = [e.title for e in parsed.entries]
        assert "青島市召開市委臺港澳工作會議" in titles
        text = data.decode("utf-8")
        for noise in NOISE:
            assert noise not in text, (ident, noise)
        assert not PINYIN.search(text)
        try:
            from atomcheck import problems
        except ImportError:
            continue
        assert problems(data, f"https://feeds.example.org/sources/{ident}.atom") == []


def test_second_poll_fetches_no_article_again(tmp_path: Path, site: LocalServer) -> None:
    """Known items are never fetched again; a new item on a changed listing is fetched once."""
    url = site.url("/taiwan-cn/index.html")
    config = make_config(tmp_path, f"  - id: tw\n    page: {url}\n")
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path)
    source = config.sources[0]
    first = poll_source(source, config, fetcher, store, NOW)
    assert first.new == 4
    assert len(site.requests_for(SEED)) == 1
    # The listing changes (a new story, and the seed's link gains a tracking parameter).
    listing = (SITE / "index.html").read_text(encoding="utf-8")
    listing = listing.replace('href="202106/t20210607_12357331.htm"',
                              'href="202106/t20210607_12357331.htm?utm_source=list"')
    listing = listing.replace(
        '<ul class="m-list">',
        '<ul class="m-list">\n<li class="m-list-item"><a href="202106/new.htm">'
        '新增文章標題在這裡測試</a><span class="m-date">2021-06-08 09:00</span></li>')
    site.add("/taiwan-cn/index.html", listing, headers={"Content-Type": "text/html"},
             conditional=False)
    site.add("/taiwan-cn/202106/new.htm",
             (SITE / "202106" / "t20210603_12355907.htm").read_bytes(),
             headers={"Content-Type": "text/html; charset=utf-8"})
    second = poll_source(source, config, fetcher, store, NOW)
    fetcher.close()
    assert second.status == "ok" and second.new == 1
    assert len(site.requests_for(SEED)) == 1
    assert len(site.requests_for("/taiwan-cn/202106/t20210605_12356802.htm")) == 1
    assert len(site.requests_for("/taiwan-cn/202106/new.htm")) == 1
    assert len(articles_of(store, "tw")) == 5


def test_dead_article_link_is_reported_and_others_stored(
    tmp_path: Path, site: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A 404 article is logged for that item; the other items are stored."""
    listing = (SITE / "index.html").read_text(encoding="utf-8").replace(
        "202106/t20210605_12356802.htm", "202106/gone.htm")
    site.add("/taiwan-cn/index.html", listing, headers={"Content-Type": "text/html"})
    url = site.url("/taiwan-cn/index.html")
    with caplog.at_level(logging.WARNING, logger="feeds.sources.page"):
        _config, store = run_site(tmp_path, site, f"  - id: tw\n    page: {url}\n")
    keys = set(articles_of(store, "tw"))
    assert len(keys) == 3
    assert site.url("/taiwan-cn/202106/gone.htm") not in keys
    messages = [r.getMessage() for r in caplog.records]
    assert any("gone.htm" in m and "404" in m for m in messages), messages


def test_skipped_article_is_retried_although_the_listing_is_unchanged(
    tmp_path: Path, site: LocalServer
) -> None:
    """An item skipped because its page failed is fetched on the next poll even when the
    listing page itself has not changed (no 304, no same-body shortcut)."""
    listing = (SITE / "index.html").read_text(encoding="utf-8").replace(
        "202106/t20210605_12356802.htm", "202106/later.htm")
    site.add("/taiwan-cn/index.html", listing, headers={"Content-Type": "text/html"})
    url = site.url("/taiwan-cn/index.html")
    config, store = run_site(tmp_path, site, f"  - id: tw\n    page: {url}\n")
    later = site.url("/taiwan-cn/202106/later.htm")
    assert later not in articles_of(store, "tw")
    assert store.state("tw").etag is None  # validators dropped: the listing is read again
    site.add("/taiwan-cn/202106/later.htm",
             (SITE / "202106/t20210605_12356802.htm").read_bytes(),
             headers={"Content-Type": "text/html; charset=utf-8"})
    fetcher = Fetcher(base_dir=tmp_path)
    result = poll_source(config.sources[0], config, fetcher, store, NOW)
    fetcher.close()
    assert result.status == "ok" and result.new == 1
    assert later in articles_of(store, "tw")
    assert store.state("tw").etag is not None  # complete now: conditional GET again


def test_every_article_failing_fails_the_source(tmp_path: Path, http_server: LocalServer) -> None:
    """When every new article page fails, the poll fails with the first reason."""
    http_server.add("/list.html", (SITE / "index.html").read_bytes(),
                    headers={"Content-Type": "text/html; charset=utf-8"})
    config = make_config(tmp_path, f"  - id: tw\n    page: {http_server.url('/list.html')}\n")
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert result.failed
    assert "HTTP 404" in (result.error or "")


# -- rules and detection -----------------------------------------------------------------------

LIST_HTML = """<html><head><meta charset="utf-8"><title>通知公告</title></head><body>
<nav><a href="/a/1.html">首页导航链接文字很长的</a></nav>
<div class="list"><ul>
<li><a href="/tzgg/2021/06/1001.html"
 title="关于开展2021年度安全生产检查工作的通知（全文）">关于开展2021年度安全生产检查工作的通知</a>
<span class="date">2021-06-07</span><p class="sum">摘要一</p></li>
<li><a href="/tzgg/2021/06/1002.html">青岛市关于做好端午节期间有关工作的通知</a>
<span class="date">2021-06-05</span><p class="sum">摘要二</p></li>
<li><a href="/tzgg/2021/06/1003.html">关于公布第二批市级非物质文化遗产名录的公告</a>
<span class="date">发布时间：2021年6月3日</span><p class="sum">摘要三</p></li>
</ul></div>
<div class="footer"><a href="/about/contact.html">联系我们网站地图与版权声明</a></div>
</body></html>"""
BASE = "https://www.example.gov.cn/tzgg/"


@pytest.mark.parametrize("rules", [
    ItemRules(each="div.list li", link="a@href", title="a", date="span.date",
              summary="p.sum"),
    ItemRules(each="//div[@class='list']//li", link="//a/@href", title="//a",
              date="//span[@class='date']", summary="//p", regex={"date": r"(\d{4}.*)"}),
])
def test_rules_css_and_xpath(rules: ItemRules) -> None:
    """CSS and XPath rules pick the same items, with titles, local dates and summaries."""
    listing = parse_listing(LIST_HTML, BASE, rules=rules, tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "rules"
    assert [i.url for i in listing.items] == [
        f"https://www.example.gov.cn/tzgg/2021/06/100{n}.html" for n in (1, 2, 3)]
    assert listing.items[1].title == "青岛市关于做好端午节期间有关工作的通知"
    assert [i.date for i in listing.items] == [
        datetime(2021, 6, d, tzinfo=SHANGHAI) for d in (7, 5, 3)]
    assert listing.items[0].summary == "摘要一"


def test_rules_matching_nothing_name_the_source() -> None:
    """Selectors that match nothing raise ParseError naming the source, with a hint."""
    from feeds.errors import ParseError

    with pytest.raises(ParseError) as caught:
        parse_listing(LIST_HTML, BASE, rules=ItemRules(each="div.nothing li"), tz=SHANGHAI,
                      now=NOW, allow_file=False, source_id="gov")
    assert caught.value.source_id == "gov"
    assert "selectors match nothing" in caught.value.message


def test_page_without_any_list_raises() -> None:
    """A page with no list of articles raises ParseError asking for items: rules."""
    from feeds.errors import ParseError

    html = "<html><body><p>只有一段文字，没有文章列表。</p><a href='/x'>x</a></body></html>"
    with pytest.raises(ParseError, match="add items: rules"):
        parse_listing(html, BASE, rules=None, tz=SHANGHAI, now=NOW, allow_file=False)


def test_automatic_detection_ignores_navigation_and_proposes_rules() -> None:
    """Automatic detection finds the dated list, not the nav or footer, and proposes rules."""
    listing = parse_listing(LIST_HTML, BASE, rules=None, tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "auto"
    assert len(listing.items) == 3
    assert listing.items[0].title == "关于开展2021年度安全生产检查工作的通知（全文）"
    assert listing.items[2].date == datetime(2021, 6, 3, tzinfo=SHANGHAI)
    assert listing.proposed is not None
    again = parse_listing(LIST_HTML, BASE, rules=listing.proposed, tz=SHANGHAI, now=NOW,
                          allow_file=False)
    assert [i.url for i in again.items] == [i.url for i in listing.items]


def test_jsonld_itemlist_detection() -> None:
    """A JSON-LD ItemList gives the items, with headline and local date."""
    data = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "position": 1, "item": {
            "@type": "NewsArticle", "url": "/news/1.html", "headline": "第一条新闻",
            "datePublished": "2021-06-07 10:22:00"}},
        {"@type": "ListItem", "position": 2, "url": "https://www.example.gov.cn/news/2.html"},
    ]}
    html = (f'<html><head><script type="application/ld+json">{json.dumps(data)}</script>'
            "</head><body></body></html>")
    listing = parse_listing(html, BASE, rules=None, tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "json-ld"
    assert [i.url for i in listing.items] == ["https://www.example.gov.cn/news/1.html",
                                              "https://www.example.gov.cn/news/2.html"]
    assert listing.items[0].title == "第一条新闻"
    assert listing.items[0].date == datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)


def test_advertised_feed_is_used(tmp_path: Path, http_server: LocalServer) -> None:
    """A page advertising a feed is read through that feed, keyed by canonical URLs."""
    feed = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            "<item><title>甲文章</title><link>http://news.example.org/a.html?utm_source=rss"
            "</link><guid>g1</guid><description>" + "正文内容很长。" * 80 + "</description>"
            "</item></channel></rss>")
    http_server.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
    page = ('<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            "</head><body></body></html>")
    http_server.add("/", page, headers={"Content-Type": "text/html"})
    config = make_config(tmp_path, f"  - id: adv\n    page: {http_server.url('/')}\n")
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert result.new == 1, result
    [article] = articles_of(store, "adv").values()
    assert article.title == "甲文章"
    assert article.key == "http://news.example.org/a.html"


@pytest.mark.parametrize(("name", "url", "least", "most"), [
    ("163/1.html", "https://news.163.com/", 15, 120),
    ("163/2.html", "https://news.163.com/", 15, 120),
    ("netease_forum/1.html", "https://n.netease.com/forum-1-1.html", 20, 80),
    ("tieba/1.html", "https://tieba.baidu.com/f?kw=x", 20, 80),
])
def test_detection_on_real_listing_pages(name: str, url: str, least: int, most: int) -> None:
    """Automatic detection on real Chinese listing pages finds a sensible number of articles."""
    html = shared_path("pages", "zh-lists", name).read_text(encoding="utf-8")
    # The forum advertises its feed; remove it to exercise the link-block detection.
    html = html.replace("application/rss+xml", "text/plain")
    listing = parse_listing(html, url, rules=None, tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "auto"
    assert least <= len(listing.items) <= most, len(listing.items)
    titles = [i.title or "" for i in listing.items]
    assert all(len(t) >= 5 for t in titles)
    hosts = {i.url.split("/")[2] for i in listing.items}
    assert len(hosts) <= 3


def test_pagination_follows_next_links(tmp_path: Path, http_server: LocalServer) -> None:
    """max_pages follows 下一页 links and gathers the items of every page."""
    def page(n: int, nxt: str) -> str:
        rows = "".join(f'<li><a href="/a/{n}{k}.html">第{n}页的第{k}篇文章标题</a>'
                       f"<span>2021-06-0{k}</span></li>" for k in range(1, 4))
        return f"<html><body><ul class='l'>{rows}</ul>{nxt}</body></html>"

    http_server.add("/list", page(1, '<a href="/list2">下一页</a>'))
    http_server.add("/list2", page(2, '<a href="/list3">下一页</a>'))
    http_server.add("/list3", page(3, ""))
    for n in (1, 2, 3):
        for k in range(1, 4):
            http_server.add(f"/a/{n}{k}.html", f"<html><body><h1>文章{n}{k}</h1>"
                            f"<p>{'正文' * 50}</p></body></html>")
    config = make_config(tmp_path, f"  - id: p\n    page: {http_server.url('/list')}\n"
                         "    max_pages: 2\n")
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert result.new == 6, result
    assert http_server.requests_for("/list3") == []


def test_article_fetches_are_capped_per_poll(tmp_path: Path, http_server: LocalServer) -> None:
    """A first poll of a huge listing fetches at most MAX_ARTICLE_FETCHES article pages."""
    count = MAX_ARTICLE_FETCHES + 10
    rows = "".join(f'<li><a href="/a/{k}.html">第{k}篇很长的文章标题</a></li>'
                   for k in range(count))
    http_server.add("/list", f"<html><body><ul>{rows}</ul></body></html>")
    for k in range(count):
        http_server.add(f"/a/{k}.html", f"<html><body><h1>文章{k}</h1><p>{'字' * 200}</p>"
                        "</body></html>")
    config = make_config(tmp_path, f"  - id: big\n    page: {http_server.url('/list')}\n")
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert result.new == MAX_ARTICLE_FETCHES
    fetched = [r for r in http_server.requests if r.path.startswith("/a/")]
    assert len(fetched) == MAX_ARTICLE_FETCHES


# -- security ---------------------------------------------------------------------------------


def remote_listing(links: list[str]) -> Response:
    rows = "".join(f'<li><a href="{href}">一篇足够长的文章标题{n}</a></li>'
                   for n, href in enumerate(links))
    body = f"<html><body><ul class='news'>{rows}</ul></body></html>".encode()
    return Response("https://news.example.org/list.html", 200, body, "text/html; charset=utf-8")


@pytest.mark.parametrize("allow", [False, True])
def test_private_links_on_remote_page(tmp_path: Path, http_server: LocalServer,
                                      allow: bool) -> None:
    """Article links to a private address are refused unless allow_private is set."""
    for n in range(3):
        http_server.add(f"/a/{n}.html", f"<html><body><h1>内部文章{n}</h1>"
                        f"<p>{'内容' * 60}</p></body></html>")
    response = remote_listing([http_server.url(f"/a/{n}.html") for n in range(3)])
    config = make_config(tmp_path, "  - id: r\n    page: https://news.example.org/list.html\n"
                         "    items: {each: ul.news li}\n", allow_private=allow)
    store = Store.open(config.store_path)
    if allow:
        articles = collect_page(
            config.sources[0], config, response, Fetcher(), store, NOW
        ).articles
        assert len(articles) == 3
    else:
        from feeds.errors import FetchError

        with pytest.raises(FetchError, match="private"):
            collect_page(config.sources[0], config, response, Fetcher(), store, NOW)
        assert http_server.requests == []


def test_file_links_from_http_listing_are_refused(
    tmp_path: Path, http_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A file: link on a remote listing is never read; the other items carry on."""
    secret = tmp_path / "secret.html"
    secret.write_text("<html><body><h1>机密文件不应被读取</h1><p>secret</p></body></html>")
    http_server.add("/ok.html", f"<html><body><h1>正常文章</h1><p>{'内容' * 60}</p></body></html>")
    response = remote_listing([secret.as_uri(), http_server.url("/ok.html")])
    config = make_config(tmp_path, "  - id: r\n    page: https://news.example.org/list.html\n"
                         "    items: {each: ul.news li}\n")
    store = Store.open(config.store_path)
    with caplog.at_level(logging.WARNING, logger="feeds.sources.page"):
        articles = collect_page(
            config.sources[0], config, response, Fetcher(), store, NOW
        ).articles
    assert [a.url for a in articles] == [http_server.url("/ok.html")]
    assert all("secret" not in (a.text or "") for a in articles)
    assert any("file: link" in r.getMessage() for r in caplog.records)


def test_local_listing_follows_its_file_links(tmp_path: Path) -> None:
    """The bundled example, as local files, is read through file: links."""
    config = parse_config(
        "store: {path: db.sqlite}\nsources:\n  - id: tw\n    page: examples/taiwan-cn/index.html\n",
        "t.yaml", EXAMPLES.parent)
    store = Store.open(tmp_path / "db.sqlite")
    result = poll_source(config.sources[0], config, Fetcher(base_dir=EXAMPLES.parent), store, NOW)
    assert result.new == 4, result
    titles = {a.title for a in articles_of(store, "tw").values()}
    assert "青島市召開市委臺港澳工作會議" in titles


# -- full text for feeds -----------------------------------------------------------------------


def test_full_text_for_summary_only_feed(tmp_path: Path, site: LocalServer) -> None:
    """full_text: true replaces a feed entry's summary with its article page, once."""
    feed = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            f"<item><title>青島市召開市委臺港澳工作會議</title><link>{site.url(SEED)}</link>"
            "<guid>seed</guid><description>6月4日,山東省青島市委臺港澳工作會議召開…</description>"
            "</item></channel></rss>")
    site.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
    config = make_config(tmp_path, f"  - id: f\n    url: {site.url('/feed.xml')}\n"
                         "    full_text: true\n")
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert result.new == 1, result
    [article] = articles_of(store, "f").values()
    assert "王久軍要求" in (article.text or "")
    assert article.summary == "6月4日,山東省青島市委臺港澳工作會議召開…"
    assert len(site.requests_for(SEED)) == 1


# -- small parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-06-07 10:22:00", datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)),
    ("发布时间：2021年06月07日 10:22", datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)),
    ("2021年6月7日", datetime(2021, 6, 7, tzinfo=SHANGHAI)),
    ("06-07 10:22", datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)),
    ("12-30 08:00", datetime(2020, 12, 30, 8, 0, tzinfo=SHANGHAI)),
    ("2021-06-07T02:22:00Z", datetime(2021, 6, 7, 2, 22, tzinfo=UTC)),
    ("没有日期", None),
])
def test_listing_dates(text: str, expected: datetime | None) -> None:
    """Listing dates get the source's zone; a date without a year is never in the future."""
    assert parse_listing_date(text, SHANGHAI, NOW) == expected


def test_insert_source_keeps_comments_and_order() -> None:
    """A draft source goes at the end of sources:, before topics:, with comments intact."""
    text = ("# top comment\nsources:\n  - id: a   # keep me\n    url: https://a.org/\n\n"
            "# topics follow\ntopics:\n  - id: t\n    any: [x]\n")
    out = insert_source(text, "  - id: b\n    page: https://example.org/\n")
    assert out == ("# top comment\nsources:\n  - id: a   # keep me\n    url: https://a.org/\n"
                   "  - id: b\n    page: https://example.org/\n\n"
                   "# topics follow\ntopics:\n  - id: t\n    any: [x]\n")
    assert [s.id for s in parse_config(out).sources] == ["a", "b"]


# -- the CLI tools -------------------------------------------------------------------------------


def write_config(tmp_path: Path, sources: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("# my feeds\ndefaults: {allow_private: true}\nstore: {path: feeds.db}\n"
                    f"sources:\n{sources}\ntopics: []\n", encoding="utf-8")
    return path


def test_cli_preview_stores_nothing(tmp_path: Path, site: LocalServer) -> None:
    """feeds preview prints the items and every field of one article, and stores nothing."""
    config = write_config(tmp_path, f"  - id: tw\n    page: {site.url('/taiwan-cn/index.html')}\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "preview", "tw"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "4 items via automatic detection" in result.output
    for name in ("title:", "published:", "contributors:", "source_name:", "images:", "text:"):
        assert name in result.output
    assert "2021-06-07T10:22:00+08:00" in result.output
    assert not (tmp_path / "feeds.db").exists()


def test_cli_add_writes_a_valid_draft(tmp_path: Path, site: LocalServer) -> None:
    """feeds add appends a draft page source with proposed rules; comments survive."""
    config = write_config(tmp_path, "  - id: existing\n    url: https://example.org/feed.xml\n")
    url = site.url("/taiwan-cn/index.html")
    result = CliRunner().invoke(cli, ["-c", str(config), "add", url, "--id", "tw"])
    assert result.exit_code == 0, result.output
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# my feeds\n")
    loaded = parse_config(text, "x", tmp_path)
    source = loaded.source("tw")
    assert source.page == url
    assert source.items is not None and source.items.each == "ul.m-list > li.m-list-item"


def test_cli_add_reads_a_local_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path given to feeds add is found from where the user is, and stored absolute."""
    (tmp_path / "conf").mkdir()
    config = write_config(tmp_path / "conf",
                          "  - id: existing\n    url: https://example.org/feed.xml\n")
    monkeypatch.chdir(SITE.parent)
    result = CliRunner().invoke(cli, ["-c", str(config), "add", "taiwan-cn/index.html",
                                      "--id", "local"])
    assert result.exit_code == 0, result.output
    loaded = parse_config(config.read_text(encoding="utf-8"), "x", config.parent)
    assert loaded.source("local").page == str(SITE / "index.html")


def test_cli_add_prefers_an_advertised_feed(tmp_path: Path, http_server: LocalServer) -> None:
    """feeds add on a page advertising a feed drafts a feed source."""
    http_server.add("/", '<html><head><link rel="alternate" type="application/atom+xml" '
                    'href="/atom.xml"><title>站点</title></head><body></body></html>')
    config = write_config(tmp_path, "  - id: existing\n    url: https://example.org/feed.xml\n")
    result = CliRunner().invoke(cli, ["-c", str(config), "add", http_server.url("/")])
    assert result.exit_code == 0, result.output
    loaded = parse_config(config.read_text(encoding="utf-8"), "x", tmp_path)
    assert loaded.sources[-1].url == http_server.url("/atom.xml")


def test_cli_check_live_reports_rotten_rules(tmp_path: Path, site: LocalServer) -> None:
    """feeds check --live passes matching test_urls and fails (exit 1) on rotten ones."""
    article = site.url("/taiwan-cn/202106/t20210603_12355907.htm")
    good = write_config(tmp_path, f"""  - id: tw
    page: {site.url('/taiwan-cn/index.html')}
    test_urls:
      - url: {article}
        title: 海峽兩岸文博會10月在廈門舉辦 首設線上展廳
        published: "2021-06-03T16:05:00+08:00"
        contains: 首次設立線上展廳
""")
    result = CliRunner().invoke(cli, ["-c", str(good), "check", "--live"])
    assert result.exit_code == 0, result.output
    assert "1 test URL(s), 0 failed" in result.output
    rotten = good.read_text(encoding="utf-8").replace("首次設立線上展廳", "不存在的句子")
    good.write_text(rotten, encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(good), "check", "--live"])
    assert result.exit_code == 1, result.output
    assert "不存在的句子" in result.output and "FAILED" in result.output
