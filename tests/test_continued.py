"""Multi-page articles: which links continue the article, and a page source that joins them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LocalServer

from feeds.config import Config, parse_config
from feeds.extract.article import Extracted
from feeds.extract.continued import (
    MAX_PAGES,
    continuation_urls,
    join_pages,
    might_continue,
    parse_page,
)
from feeds.fetch import Fetcher
from feeds.model import Image
from feeds.poll import poll_source
from feeds.store import Store

NOW = datetime(2024, 5, 7, tzinfo=UTC)
TITLE = "我市持续优化营商环境 经营主体活力迸发"
SIDE = """<div class="side"><h3>热点新闻</h3><ul>
<li><a href="/news/a1.html">全市安全生产工作会议召开部署节日期间重点任务</a></li>
<li><a href="/news/a2.html">我市启动2024年城市更新行动计划首批项目开工</a></li>
<li><a href="/news/a3.html">五一假期全市接待游客超过三百万人次同比增长</a></li></ul></div>"""


def article(body: str, pager: str, *, after: str = "") -> str:
    """An article page as Chinese government sites write it: headline, info line, body,
    pager, editor line, a side list of other stories."""
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{TITLE}_要闻_某某市人民政府</title></head><body>
<div class="crumb">您当前的位置：<a href="/">首页</a> &gt;
<a href="/news/">新闻中心</a> &gt; 正文</div>
<div class="main"><h1 class="title">{TITLE}</h1>
<div class="info">发布时间：2024-05-01 09:30　来源：某某日报　作者：陈晓</div>
<div class="TRS_Editor">{body}</div>
{pager}
<div class="editor">责任编辑：刘洋</div>{after}</div>
{SIDE}
<div class="footer"><p>主办单位：某某市人民政府办公厅　京ICP备12345678号</p></div>
</body></html>"""


def prose(label: str, count: int = 2) -> str:
    return "".join(f"<p>{label}第{k}段：在要素保障方面，我市设立产业发展基金，建立重点项目用地、"
                   f"用能、用水等要素保障清单，对符合条件的企业给予一次性奖励。</p>"
                   for k in range(1, count + 1))


def urls(page_html: str, url: str, article_url: str | None = None) -> list[str]:
    return continuation_urls(parse_page(page_html), url, article_url=article_url)


# -- detection: pagers that belong to the article --------------------------------------------


def test_people_style_pager_with_page_suffix() -> None:
    """首页 上一页 1 2 3 下一页 尾页 共3页 under the body gives pages 2 and 3, in order."""
    pager = ('<div class="page_n" id="pages"><a href="multi.html">首页</a> <a href="#">上一页</a> '
             '<a href="multi.html">1</a> <a href="multi_3.html">3</a> <a href="multi_2.html">2</a> '
             '<a href="multi_2.html">下一页</a> <a href="multi_3.html">尾页</a> 共3页</div>')
    page = article(prose("一"), pager)
    assert urls(page, "http://www.example.gov.cn/news/multi.html") == [
        "http://www.example.gov.cn/news/multi_2.html",
        "http://www.example.gov.cn/news/multi_3.html",
    ]


def test_trs_pager_numbers_the_second_page_1() -> None:
    """A TRS article t…_123.html goes on at t…_123_1.html and t…_123_2.html."""
    pager = ('<div class="page">共3页 <span>1</span> <a href="t20240501_123_1.html">2</a> '
             '<a href="t20240501_123_2.html">3</a> <a href="t20240501_123_1.html">下一页</a></div>')
    page = article(prose("一"), pager)
    base = "https://www.example.gov.cn/zwgk/202405/"
    assert urls(page, base + "t20240501_123.html") == [
        base + "t20240501_123_1.html", base + "t20240501_123_2.html"]


def test_trs_pager_written_by_a_script() -> None:
    """createPageHTML(3, 0, "t…_123", "html") stands for the two further pages."""
    pager = ('<div class="page"><script>createPageHTML(3, 0, "t20240501_123", "html");'
             '</script></div>')
    page = article(prose("一"), pager)
    base = "https://www.example.gov.cn/zwgk/202405/"
    assert urls(page, base + "t20240501_123.html") == [
        base + "t20240501_123_1.html", base + "t20240501_123_2.html"]
    assert might_continue(page, base + "t20240501_123.html")


def test_index_and_query_pagers() -> None:
    """index.html goes on at index_1.html; show.php?id=5 at show.php?id=5&page=2."""
    pager = ('<div class="pages"><a href="index_1.html">2</a> '
             '<a href="index_1.html">下一页</a> 共2页</div>')
    page = article(prose("一"), pager)
    base = "http://www.example.com/2024/05/art_77/"
    assert urls(page, base + "index.html") == [base + "index_1.html"]
    assert urls(page, base) == [base + "index_1.html"]
    pager = ('<div class="pager"><a href="show.php?id=5&amp;page=2">2</a> '
             '<a href="show.php?id=5&amp;page=3">3</a> <a href="show.php?id=6">下一篇</a></div>')
    page = article(prose("一"), pager)
    assert urls(page, "http://www.example.com/show.php?id=5") == [
        "http://www.example.com/show.php?id=5&page=2",
        "http://www.example.com/show.php?id=5&page=3"]


def test_next_link_sharing_the_stem_and_later_pages_of_a_window() -> None:
    """A 下一页 link to 1220000_p2.html counts; page 2's pager is read against page 1's URL."""
    page = article(prose("一"),
                   '<div class="pg"><a href="1220000_p2.html">下一页 &gt;&gt;</a></div>')
    base = "https://www.example.com/news/"
    assert urls(page, base + "1220000.html") == [base + "1220000_p2.html"]
    second = article(prose("二"), '<div class="pg"><a href="1220000.html">1</a> '
                     '<a href="1220000_2.html">2</a> <a href="1220000_3.html">3</a> 共3页</div>')
    assert urls(second, base + "1220000_2.html", base + "1220000.html") == [
        base + "1220000_3.html"]


# -- detection: pagers that are not the article's ---------------------------------------------


def test_listing_pager_is_not_a_continuation() -> None:
    """A listing's pager (index_1.html, 下一页, 共5页 under a list of headlines) is ignored."""
    rows = "".join(f'<li><a href="t202405{k:02d}_{k}.html">全市重点工作推进会第{k}次会议召开</a>'
                   f'<span>2024-05-{k:02d}</span></li>' for k in range(1, 21))
    listing = f"""<html><body><div class="main"><h2>要闻</h2><ul class="list">{rows}</ul>
<div class="page">共5页 <a href="index.html">1</a> <a href="index_1.html">2</a>
<a href="index_2.html">3</a> <a href="index_1.html">下一页</a> <a href="index_4.html">尾页</a>
<script>createPageHTML(5, 0, "index", "html");</script></div></div></body></html>"""
    assert urls(listing, "http://www.example.gov.cn/news/index.html") == []


def test_next_article_link_is_not_a_continuation() -> None:
    """上一篇 / 下一篇 links lead to other articles, even beside the word 下一页."""
    links = ('<div class="prev-next"><p>上一篇：<a href="t20240430_120.html">'
             '全市召开安全生产工作会议</a></p>'
             '<p>下一篇：<a href="t20240502_124.html">下一页</a></p>'
             '<p><a href="t20240502_124.html">下一篇</a></p></div>')
    page = article(prose("一"), links)
    assert urls(page, "https://www.example.gov.cn/zwgk/202405/t20240501_123.html") == []
    short = article(prose("一"), '<div class="pn"><a href="124.html">下一页</a> '
                    '<a href="124.html">下一篇</a> <a href="122.html">上一页</a></div>')
    assert urls(short, "https://www.example.com/news/123.html") == []


def test_comments_pager_is_not_a_continuation() -> None:
    """A pager of the comments under the article (?page=2, or a comments URL) is ignored."""
    comments = "".join(f'<div class="item"><span>网友{k}</span><p>说得很好，我们小区附近的'
                       f'营商环境确实改善了很多，办事方便了不少。</p></div>' for k in range(8))
    block = (f'<div id="comments"><h3>网友评论</h3>{comments}<div class="pages">共4页 '
             f'<a href="?page=2">2</a> <a href="?page=3">3</a> '
             f'<a href="?page=2">下一页</a></div></div>'
             f'<div class="more"><a href="/comment/123_2.html">下一页</a> '
             f'<a href="123_comments_2.html">下一页</a></div>')
    page = article(prose("一"), "", after=block)
    assert urls(page, "https://www.example.com/news/123.html") == []
    assert urls(page, "https://www.example.com/news/show?id=123") == []


def test_one_page_article_is_not_parsed_again() -> None:
    """A page with no pager words and no link to its own name needs no second parse."""
    page = article(prose("一"), '<div class="share"><a href="/news/124.html">下一篇</a></div>')
    assert not might_continue(page, "https://www.example.com/news/123.html")


# -- joining ---------------------------------------------------------------------------------


def test_join_drops_repeated_headers_and_keeps_images() -> None:
    """A page repeating the headline and lead picture loses them; its own figure stays."""
    lead = '<figure><img src="https://x.example/lead.jpg"><figcaption>会场</figcaption></figure>'
    first = Extracted(TITLE, f"{lead}<p>第一页。</p>", "第一页。",
                      images=(Image("https://x.example/lead.jpg", "会场"),))
    second = Extracted(TITLE, f"<h2>{TITLE}</h2>{lead}<p>第二页。</p><figure><img "
                       'src="https://x.example/2.jpg"><figcaption>工地</figcaption></figure>'
                       "<p>上一页 1 2 下一页 共2页</p>", "",
                       images=(Image("https://x.example/lead.jpg", "会场"),
                               Image("https://x.example/2.jpg", "工地")))
    joined = join_pages(first, [second])
    assert joined.content_html.count("lead.jpg") == 1
    assert TITLE not in joined.content_html
    assert "共2页" not in joined.text
    assert joined.text.index("第一页") < joined.text.index("第二页") < joined.text.index("工地")
    assert [i.url for i in joined.images] == ["https://x.example/lead.jpg",
                                              "https://x.example/2.jpg"]


# -- a page source end to end ------------------------------------------------------------------


def serve_multipage(server: LocalServer, pages: int, *, failing: int | None = None) -> None:
    """A listing with four one-page articles and one of ``pages`` pages (``multi.html``,
    then ``multi_2.html``…); page ``failing`` answers 500."""
    others = ["全市安全生产工作会议召开部署节日期间重点任务",
              "我市启动城市更新行动计划首批项目开工",
              "五一假期全市接待游客超过三百万人次",
              "市政府常务会议研究部署优化营商环境工作"]
    rows = "".join(f'<li><a href="/news/one{k}.html">{title}</a><span>2024-05-0{k + 2}</span></li>'
                   for k, title in enumerate(others))
    server.add("/news/index.html",
               '<html><body><ul class="list"><li><a href="/news/multi.html">我市持续优化营商环境'
               f'经营主体活力迸发</a><span>2024-05-01</span></li>{rows}</ul></body></html>',
               headers={"Content-Type": "text/html; charset=utf-8"})
    for k in range(len(others)):
        server.add(f"/news/one{k}.html", article(prose("单页"), ""),
                   headers={"Content-Type": "text/html; charset=utf-8"})
    for n in range(1, pages + 1):
        name = "multi.html" if n == 1 else f"multi_{n}.html"
        numbers = " ".join(f'<a href="{"multi.html" if k == 1 else f"multi_{k}.html"}">{k}</a>'
                           for k in range(1, pages + 1))
        following = f'<a href="multi_{n + 1}.html">下一页</a>' if n < pages else ""
        pager = f'<div class="page_n" id="pages">{numbers} {following} 共{pages}页</div>'
        body = prose(f"第{n}页")
        if n == 2:
            body += ('<p><img src="/img/site.jpg"></p><p>图为产业园区建设现场。</p>'
                     + prose("第2页续", 1))
        if failing == n:
            server.add(f"/news/{name}", b"error", status=500)
        else:
            server.add(f"/news/{name}", article(body, pager),
                       headers={"Content-Type": "text/html; charset=utf-8"})


def make_config(tmp_path: Path, url: str) -> Config:
    return parse_config(f"""
defaults: {{allow_private: true}}
output: {{dir: out, base_url: "https://feeds.example.org/"}}
store: {{path: feeds.db}}
sources:
  - id: gov
    page: {url}
    robots: false
""", "test.yaml", tmp_path)


def poll(tmp_path: Path, server: LocalServer) -> dict[str, str]:
    config = make_config(tmp_path, server.url("/news/index.html"))
    store = Store.open(config.store_path)
    result = poll_source(config.sources[0], config, Fetcher(), store, NOW)
    assert not result.failed
    return {s.article.url: s.article.text or "" for s in store.iter_articles(["gov"])} | {
        "html:" + s.article.url: s.article.content_html or "" for s in store.iter_articles(["gov"])}


def test_page_source_joins_a_three_page_article(tmp_path: Path,
                                                 http_server: LocalServer) -> None:
    """The entry holds every page's text once, in order, with page 2's figure; each page is
    fetched once; the one-page article is untouched."""
    serve_multipage(http_server, 3)
    stored = poll(tmp_path, http_server)
    text = stored[http_server.url("/news/multi.html")]
    parts = [f"第{n}页第{k}段" for n in (1, 2, 3) for k in (1, 2)]
    assert all(text.count(part) == 1 for part in parts), text
    assert [text.index(part) for part in parts] == sorted(text.index(part) for part in parts)
    assert text.index("图为产业园区建设现场") < text.index("第3页第1段")
    assert "/img/site.jpg" in stored["html:" + http_server.url("/news/multi.html")]
    assert "未完" not in text and "共3页" not in text and TITLE not in text
    for path in ("/news/multi.html", "/news/multi_2.html", "/news/multi_3.html"):
        assert len(http_server.requests_for(path)) == 1, path
    assert len(stored) == 10
    assert "未完" not in stored[http_server.url("/news/one0.html")]


def test_failing_page_leaves_a_note_linking_it(tmp_path: Path,
                                               http_server: LocalServer) -> None:
    """Page 3 answering 500: pages 1 and 2 are kept and a closing note links page 3."""
    serve_multipage(http_server, 3, failing=3)
    stored = poll(tmp_path, http_server)
    page3 = http_server.url("/news/multi_3.html")
    text = stored[http_server.url("/news/multi.html")]
    assert "第1页第2段" in text and "第2页第2段" in text and "第3页" not in text.split("未完")[0]
    assert text.rstrip().endswith(f"（未完，见第3页：{page3}）")
    assert f'<a href="{page3}">' in stored["html:" + http_server.url("/news/multi.html")]


def test_pages_are_capped_per_article(tmp_path: Path, http_server: LocalServer) -> None:
    """A pager of 14 pages costs at most MAX_PAGES fetches; the note links the rest."""
    serve_multipage(http_server, 14)
    stored = poll(tmp_path, http_server)
    fetched = [r.path for r in http_server.requests if r.path.startswith("/news/multi")]
    assert len(fetched) == MAX_PAGES
    text = stored[http_server.url("/news/multi.html")]
    assert f"第{MAX_PAGES}页第2段" in text
    assert f"第{MAX_PAGES + 1}页：{http_server.url(f'/news/multi_{MAX_PAGES + 1}.html')}" in text
    assert http_server.url("/news/multi_14.html") in text


@pytest.mark.parametrize("language", ["zh-TW", "en"])
def test_note_in_the_page_script(language: str) -> None:
    """The note reads 見第3頁 on a traditional page and 'Continued on page 3' in English."""
    first = Extracted("標題", "<p>這是第一頁。</p>", "這是第一頁。", language=language)
    joined = join_pages(first, [], missing=[(3, "https://x.example/a_3.html")])
    expected = "見第3頁" if language == "zh-TW" else "Continued on page 3"
    assert expected in joined.text
