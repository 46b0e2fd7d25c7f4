"""Reviewer findings on government and portal sites: headlines under a site-name ``<title>``,
lists beside 热点排行 sidebars, and channel boxes beside the main list.

Pages are built here, shaped like the sites they stand for; detection runs through
``parse_listing`` (what a page source calls), whole polls through a real local HTTP server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import LocalServer

from feeds.config import parse_config
from feeds.extract.article import Extracted, extract_article
from feeds.fetch import Fetcher
from feeds.poll import PollResult, poll_source
from feeds.sources.page import Item, article_from, parse_listing
from feeds.store import Store

NOW = datetime(2024, 5, 2, 4, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
SITE = "某某市人民政府"
NOTICES = [
    "关于做好2024年劳动节期间安全生产工作的通知",
    "关于开展2024年度城镇老旧小区改造项目申报的公告",
    "市人民政府办公室关于印发数字政府建设实施方案的通知",
    "关于调整城乡居民基本医疗保险缴费标准的通知",
]
PROSE = ("为进一步做好相关工作，切实保障人民群众生命财产安全，根据上级有关文件精神，"
         "结合我市实际，现将有关事项通知如下。")


def gov_article(headline_html: str, title: str = SITE) -> str:
    """A government article page whose ``<title>`` is only the site name."""
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<div class='top'>{SITE}</div><div class='dh'><ul><li><a href='/'>首页</a></li>"
            f"<li><a href='/tzgg/'>通知公告</a></li></ul></div>"
            f"<div class='content'>{headline_html}"
            f"<div class='xx'>发布时间：2024-05-01 09:30 来源：市应急管理局</div>"
            f"<div class='TRS_Editor'><p>{PROSE}</p><p>{PROSE}</p><p>{PROSE}</p></div></div>"
            f"<div class='bottom'>主办：{SITE}办公室 版权所有</div></body></html>")


def extracted_title(html: str) -> str:
    return extract_article(html, "http://gov.example.cn/a.html", timezone=SHANGHAI,
                           now=NOW).title


# -- 1. the headline, not the site name ---------------------------------------------------------


def test_h1_beats_a_title_that_is_only_the_site_name() -> None:
    """An <h1> headline wins over a <title> holding only the site name."""
    html = gov_article(f"<h1>{NOTICES[0]}</h1>")
    assert extracted_title(html) == NOTICES[0]


def test_heading_class_beats_a_title_that_is_only_the_site_name() -> None:
    """Without an <h1>, a heading-class element (div.bt) gives the headline, not <title>."""
    html = gov_article(f"<div class='bt'>{NOTICES[2]}</div>")
    assert extracted_title(html) == NOTICES[2]


def test_headline_opening_with_the_site_name_is_kept_whole() -> None:
    """``某某市人民政府关于…`` under ``<title>某某市人民政府`` is the headline, not the site."""
    headline = f"{SITE}关于印发优化营商环境十条措施的通知"
    assert extracted_title(gov_article(f"<h1>{headline}</h1>")) == headline


def test_title_naming_the_article_still_wins_over_a_decorated_h1() -> None:
    """A <title> whose headline part the <h1> holds (with a tag before it) stays the title."""
    html = gov_article("<h1><span class='tag'>原创</span>青岛港迎来新航线开通仪式</h1>",
                       title="青岛港迎来新航线开通仪式 - 示例新闻网")
    assert extracted_title(html) == "青岛港迎来新航线开通仪式"


def poll_channel(tmp_path: Path, http_server: LocalServer) -> tuple[PollResult, list[str]]:
    """One poll of a page source on the server's /tzgg/ into a real store: the result, and
    the titles stored."""
    config = parse_config(
        "defaults: {allow_private: true}\nstore: {path: feeds.db}\nsources:\n"
        f"  - {{id: gov, page: '{http_server.url('/tzgg/')}'}}\n", "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path)
    try:
        result = poll_source(config.sources[0], config, fetcher, store, NOW)
        titles = sorted(s.article.title for s in store.iter_articles(["gov"]))
    finally:
        fetcher.close()
        store.close()
    return result, titles


def test_listing_title_replaces_a_site_name_page_title() -> None:
    """When the page's title is the site name, the entry takes the listing's item title."""
    config = parse_config("sources:\n  - {id: gov, page: 'http://gov.example.cn/'}\n",
                          "test.yaml", Path("."))
    item = Item("http://gov.example.cn/a.html", NOTICES[1])
    article = article_from(item, Extracted(title=SITE, content_html="<p>x</p>", text="x"),
                           config.sources[0])
    assert article.title == NOTICES[1]
    # A page title that is the item's headline in other words stays.
    other = Item("http://gov.example.cn/b.html", "开展老旧小区改造项目申报的公告")
    kept = article_from(other, Extracted(title=NOTICES[1], content_html="<p>x</p>", text="x"),
                        config.sources[0])
    assert kept.title == NOTICES[1]


def test_gov_feed_entries_have_their_own_titles(tmp_path: Path,
                                                http_server: LocalServer) -> None:
    """A poll of a government listing whose articles all say <title>某某市人民政府</title>
    stores each notice under its own headline."""
    rows = "".join(f"<li><a href='/tzgg/t{i}.html'>{t}</a><span>2024-04-2{i}</span></li>"
                   for i, t in enumerate(NOTICES))
    http_server.add("/tzgg/", f"<html><head><meta charset='utf-8'><title>通知公告_{SITE}"
                              f"</title></head><body><div class='list'><ul>{rows}</ul></div>"
                              f"</body></html>",
                    headers={"Content-Type": "text/html; charset=utf-8"})
    for i, title in enumerate(NOTICES):
        headline = f"<h1>{title}</h1>" if i % 2 else f"<div class='bt'>{title}</div>"
        http_server.add(f"/tzgg/t{i}.html", gov_article(headline),
                        headers={"Content-Type": "text/html; charset=utf-8"})
    result, titles = poll_channel(tmp_path, http_server)
    assert result.new == len(NOTICES), result
    assert titles == sorted(NOTICES)


# -- 2. the page's own list, not a 热点排行 sidebar ------------------------------------------------


def gov_listing(main_rows: int, side_heading: str, side_rows: int) -> str:
    """A government channel page: a main list beside a sidebar box whose heading names it,
    both with dated rows, the classes pinyin abbreviations as such sites write them."""
    main = "".join(f"<li><a href='./2024/t{i}.html'>{NOTICES[i % 4]}（第{i}号）</a>"
                   f"<span>2024-04-{20 - i:02d}</span></li>" for i in range(main_rows))
    side = "".join(f"<li><a href='/art/hot/t{i}.html'>全市一季度经济运行情况新闻发布会"
                   f"第{i}场举行</a><span>2024-04-0{i % 9 + 1}</span></li>"
                   for i in range(side_rows))
    return (f"<html><head><meta charset='utf-8'><title>通知公告_{SITE}</title></head><body>"
            f"<div class='dh'><ul><li><a href='/'>首页</a></li></ul></div>"
            f"<div class='zl'><h2>通知公告</h2><div class='lb'><ul>{main}</ul></div></div>"
            f"<div class='yl'><div class='djph'><div class='tit'>{side_heading}</div>"
            f"<ul>{side}</ul></div></div></body></html>")


def auto_titles(html: str, url: str = "http://gov.example.cn/tzgg/") -> list[str]:
    listing = parse_listing(html, url, rules=None, tz=SHANGHAI, now=NOW, allow_file=False)
    assert listing.method == "auto"
    return [item.title or "" for item in listing.items]


def test_main_list_beats_a_longer_hot_sidebar() -> None:
    """A 点击排行 box with more dated rows than the main list does not win."""
    titles = auto_titles(gov_listing(8, "点击排行", 10))
    assert len(titles) == 8
    assert all("第" in t and "号" in t for t in titles)


def test_short_main_list_beats_a_hot_sidebar() -> None:
    """Even a main list of 4 notices beats a 热点新闻 sidebar of 9 (a quiet channel)."""
    titles = auto_titles(gov_listing(4, "<h3>热点新闻</h3>", 9))
    assert len(titles) == 4
    assert titles[0].startswith(NOTICES[0])


def test_sidebar_without_a_furniture_heading_still_counts() -> None:
    """A sidebar headed like any channel is not penalised: the longer list still wins."""
    titles = auto_titles(gov_listing(3, "政策解读", 9))
    assert len(titles) == 9


# -- 3. the main news list, not the channel boxes beside it -------------------------------------


def portal(boxes: int = 3) -> str:
    """A news portal channel page: channel boxes (heading, 更多, 6 dated links each) before
    the main list (10 items with a thumbnail, a summary and a date)."""
    channels = ""
    for c, name in [("gj", "国际"), ("sh", "社会"), ("ty", "体育"), ("cj", "财经")][:boxes]:
        links = "".join(f"<li><a href='/{c}/2024-04-2{k}/doc-{c}{k}.shtml'>{name}频道"
                        f"新闻标题第{k}条内容摘要</a><span>04-2{k}</span></li>" for k in range(6))
        channels += (f"<div class='pd-box'><div class='pd-hd'><h3>{name}</h3>"
                     f"<a href='/{c}/' class='gd'>更多&gt;&gt;</a></div><ul>{links}</ul></div>")
    news = "".join(
        f"<div class='item'><a href='/gn/2024-05-01/doc-{i}.shtml' class='pic'>"
        f"<img src='/img/{i}.jpg'></a><div class='txt'><h2><a href='/gn/2024-05-01/doc-{i}"
        f".shtml'>国内要闻第{i}条：多地出台新政优化营商环境</a></h2><p>有关部门表示，将进一步"
        f"推动政策落地见效，更好满足人民群众需要，详细内容请阅读全文。</p>"
        f"<div class='info'><span>05-01 10:2{i}</span></div></div></div>" for i in range(10))
    return (f"<html><head><meta charset='utf-8'><title>国内新闻_某某网</title></head><body>"
            f"<div class='c2'>{channels}</div><div class='c1'><h2>国内新闻</h2>"
            f"<div class='items'>{news}</div></div></body></html>")


def test_main_news_list_beats_channel_boxes() -> None:
    """Three channel boxes (18 dated links) are three lists, and the main list wins."""
    titles = auto_titles(portal(), "http://news.example.com/gn/")
    assert titles == [f"国内要闻第{i}条：多地出台新政优化营商环境" for i in range(10)]


def test_rows_of_one_list_split_over_several_uls_stay_together() -> None:
    """One list whose rows are split into several ``<ul>``s under one heading is one list."""
    rows = [f"<li><a href='./2024/t{i}.html'>{NOTICES[i % 4]}（第{i}号）</a>"
            f"<span>2024-04-{20 - i:02d}</span></li>" for i in range(10)]
    html = (f"<html><head><meta charset='utf-8'><title>通知公告_{SITE}</title></head><body>"
            f"<div class='lb'><h2>通知公告</h2><ul>{''.join(rows[:5])}</ul><ul>"
            f"{''.join(rows[5:])}</ul></div></body></html>")
    assert len(auto_titles(html)) == 10


def test_gov_channel_with_hot_sidebar_end_to_end(tmp_path: Path,
                                                 http_server: LocalServer) -> None:
    """A poll of a channel page beside a 点击排行 box stores the channel's notices only."""
    html = gov_listing(4, "点击排行", 9)
    http_server.add("/tzgg/", html, headers={"Content-Type": "text/html; charset=utf-8"})
    for i in range(4):
        http_server.add(f"/tzgg/2024/t{i}.html", gov_article(f"<h1>{NOTICES[i]}（第{i}号）</h1>"),
                        headers={"Content-Type": "text/html; charset=utf-8"})
    result, titles = poll_channel(tmp_path, http_server)
    assert result.new == 4, result
    assert not any("/art/hot/" in r.path for r in http_server.requests)
    assert titles == sorted(f"{NOTICES[i]}（第{i}号）" for i in range(4))


def test_a_channel_named_like_furniture_keeps_its_list() -> None:
    """On a page titled 热点新闻_…, the list headed 热点新闻 is the page's own list."""
    html = gov_listing(5, "政策解读", 4).replace(
        f"通知公告_{SITE}", f"热点新闻_{SITE}").replace("<h2>通知公告</h2>", "<h2>热点新闻</h2>")
    assert len(auto_titles(html)) == 5


def test_a_short_headline_the_listing_extends_stays_the_pages_own() -> None:
    """A page headline that only opens a longer listing title (港澳会议召开 for
    港澳会议召开各方代表参加) is the page's headline, not a site name: it stays."""
    config = parse_config("sources:\n  - {id: gov, page: 'http://gov.example.cn/'}\n",
                          "test.yaml", Path("."))
    item = Item("http://gov.example.cn/c.html", "港澳会议召开各方代表参加")
    article = article_from(item, Extracted(title="港澳会议召开", content_html="<p>x</p>",
                                           text="x"), config.sources[0])
    assert article.title == "港澳会议召开"
