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
from feeds.poll import poll_source
from feeds.sources.page import Item, article_from
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
    config = parse_config(
        "defaults: {allow_private: true}\nstore: {path: feeds.db}\nsources:\n"
        f"  - {{id: gov, page: '{http_server.url('/tzgg/')}'}}\n", "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    fetcher = Fetcher(base_dir=tmp_path)
    try:
        result = poll_source(config.sources[0], config, fetcher, store, NOW)
    finally:
        fetcher.close()
    assert result.new == len(NOTICES), result
    titles = sorted(s.article.title for s in store.iter_articles(["gov"]))
    assert titles == sorted(NOTICES)
