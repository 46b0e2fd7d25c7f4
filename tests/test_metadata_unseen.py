"""Article metadata on pages unlike the bundled ones: headlines not found verbatim in the text,
values in adjacent inline elements, update vs publish labels, photo credits in captions, and
meta dates in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from feeds.extract.article import Extracted, extract_article

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
URL = "http://example.cn/news/2024/0501/1.html"
# Distinct paragraphs long enough for the container path (identical ones would be deduplicated).
P1 = ("<p>省政府新闻办今天举行发布会，介绍今年一季度全省外贸进出口情况。海关负责人表示，"
      "一季度全省货物贸易进出口总值同比增长，其中出口增长较快，民营企业进出口占比继续提高。</p>")
P2 = ("<p>发布会上，相关部门负责人回答了记者提问。他们表示，将继续优化口岸营商环境，"
      "推进通关便利化改革，支持外贸企业拓展多元市场，稳住外贸基本盘，推动外贸质升量稳。</p>")
P3 = ("<p>据介绍，下一步全省将加快培育外贸新动能，推动跨境电商、市场采购等新业态发展，"
      "扩大先进技术设备和优质消费品进口，为经济社会高质量发展作出更大贡献，助力开放型经济。</p>")
P4 = ("<p>专家认为，外贸企业应当加快数字化转型，提升产品附加值和品牌影响力，积极开拓共建"
      "“一带一路”国家市场，同时用好各项稳外贸政策，增强抵御外部风险的能力，实现稳定增长。</p>")
BODY = f"<div class='content'>{P1}{P2}{P3}</div>"


def extract(html: str) -> Extracted:
    return extract_article(html, URL, timezone=SHANGHAI, now=NOW)


def page(head: str, body: str) -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def iso(extracted: Extracted) -> str | None:
    return extracted.published.isoformat() if extracted.published else None


# --- 1. the headline is not in the page text verbatim -----------------------------------------

def test_headline_in_a_title_div_and_a_tagline_in_title_tag() -> None:
    """Without an <h1>, the <title> part shown as a heading in the body is the title, and the
    date line under that heading is read."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网_权威资讯传播综合新闻门户网站</title>",
        "<div class='nav'><a href='/'>首页</a> <a href='/n'>新闻</a></div>"
        "<div class='article-title'>外贸进出口稳中有升</div>"
        "<div class='info'>2024-04-20 09:30 来源：东方时报</div>" + BODY))
    assert extracted.title == "外贸进出口稳中有升"
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"
    assert extracted.source_name == "东方时报"


def test_date_line_under_h1_when_og_title_is_worded_differently() -> None:
    """An og:title worded unlike the <h1> still leaves the date line under the <h1> readable."""
    extracted = extract(page(
        "<title>一季度外贸稳中有升_东方时报网</title>"
        "<meta property='og:title' content='一季度外贸稳中有升'>",
        "<h1>一季度全省外贸进出口 稳中有升态势明显</h1>"
        "<div>2024-04-20 09:30 来源：东方时报</div>" + BODY))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_date_line_under_h1_when_og_title_is_rewritten() -> None:
    """An og:title sharing only some words with the <h1> still finds the <h1> (not the logo)."""
    extracted = extract(page(
        "<title>外贸新观察_东方时报网</title>"
        "<meta property='og:title' content='全省外贸稳中向好'>",
        "<div class='top'><span>2024年6月1日 星期六</span></div>"
        "<h1 class='logo'>东方时报网</h1><h1>一季度全省进出口稳中有升</h1>"
        "<div>2024-04-20 09:30 来源：东方时报</div>" + BODY))
    assert extracted.title == "全省外贸稳中向好"
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_date_line_under_h1_holding_inline_annotations() -> None:
    """Pinyin kept in inline elements of the <h1> does not hide the date line under it."""
    extracted = extract(page(
        "<title>臺灣外貿穩中有升_東方時報網</title>",
        "<h1>臺<span>(tái)</span>灣<span>(wān)</span>外貿穩中有升</h1>"
        "<div>2024-04-20 09:30 來源：東方時報</div>" + BODY))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_headline_split_over_adjacent_spans_is_still_found() -> None:
    """A headline written as adjacent spans is found in the text: the date under it is read."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1><span>外贸进出口</span><span>稳中有升</span></h1>"
        "<div>2024-04-20 09:30 来源：东方时报</div>" + BODY))
    assert extracted.title == "外贸进出口稳中有升"
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_editor_of_a_teaser_above_the_headline_is_not_a_contributor() -> None:
    """The editor line is looked for from the headline element on, also when the headline is
    not in the text verbatim."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网_权威资讯传播综合新闻门户网站</title>",
        "<div class='side'><p>昨日要闻：港口吞吐量创新高 责任编辑：赵六</p></div>"
        "<div class='article-title'>外贸进出口稳中有升</div>"
        "<div>2024-04-20 09:30 来源：东方时报</div>" + BODY + "<p>责任编辑：李四</p>"))
    assert [p.name for p in extracted.contributors] == ["李四"]


# --- 2. values in adjacent inline elements -----------------------------------------------------

def test_date_and_time_in_adjacent_spans() -> None:
    """A day and a time in two adjacent spans are read as one date."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1>"
        "<div class='info'><span>2024-04-20</span><span>09:30</span>"
        "<span>来源：东方时报</span></div>" + BODY))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"
    assert extracted.source_name == "东方时报"


def test_author_and_editor_in_adjacent_spans() -> None:
    """An author span followed directly by an editor span gives the author alone."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1>"
        "<div class='info'><span>2024-04-20 09:30</span><span>作者：张三</span>"
        "<span>责任编辑：李四</span><span>打印</span></div>" + BODY))
    assert [p.name for p in extracted.authors] == ["张三"]
    assert [p.name for p in extracted.contributors] == ["李四"]


def test_author_glued_to_editor_label_in_one_text() -> None:
    """``作者：张三责任编辑：李四`` in one text node is cut before the editor label."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1>"
        "<div class='info'>2024-04-20 09:30 作者：张三责任编辑：李四</div>" + BODY))
    assert [p.name for p in extracted.authors] == ["张三"]


def test_reporter_glued_to_an_editor_element() -> None:
    """``本报记者 张三<span>责任编辑：李四</span>``: the reporter is the author, the editor a
    contributor."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1>"
        "<div class='info'>2024-04-20 09:30 本报记者 张三<span>责任编辑：李四</span>"
        "<span>返回顶部</span></div>" + BODY))
    assert [p.name for p in extracted.authors] == ["张三"]
    assert [p.name for p in extracted.contributors] == ["李四"]


# --- 3. publish label beats update label --------------------------------------------------------

@pytest.mark.parametrize("line", [
    "更新时间：2024-05-02 10:00 发布时间：2024-04-20 09:30",
    "修改时间：2024-05-02 10:00 发表时间：2024-04-20 09:30",
    "最后更新：2024-05-02 10:00 | 發布日期：2024-04-20 09:30",
])
def test_publish_label_wins_over_an_earlier_update_label(line: str) -> None:
    """A date labelled as published is the published date even after an update label."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        f"<h1>外贸进出口稳中有升</h1><div class='info'>{line}</div>" + BODY))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_update_label_under_headline_loses_to_a_publish_label_elsewhere() -> None:
    """An update-only line under the headline does not beat a publish label lower down."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1><div class='info'>更新时间：2024-05-02 10:00</div>"
        + BODY + "<div class='foot'>发布日期：2024-04-20 09:30</div>"))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"


def test_date_opening_the_lead_paragraph_is_not_the_published_date() -> None:
    """``2024年4月18日下午，…`` starting the prose dates the event; the page's own label wins."""
    lead = ("<p>2024年4月18日下午，省政府新闻办举行发布会，介绍今年一季度全省外贸进出口情况，"
            "海关负责人出席发布会并回答记者提问。</p>")
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<div class='bar'>发布日期：2024-04-20</div>"
        f"<h1>外贸进出口稳中有升</h1><div class='content'>{lead}{P1}{P2}{P3}{P4}</div>"))
    assert iso(extracted) == "2024-04-20T00:00:00+08:00"


def test_update_label_alone_still_dates_the_article() -> None:
    """With no other date on the page, the update time is better than none."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1><div class='info'>更新时间：2024-05-02 10:00</div>" + BODY))
    assert iso(extracted) == "2024-05-02T10:00:00+08:00"


# --- 4. photo credits are not authors ----------------------------------------------------------

@pytest.mark.parametrize("credit", [
    "港口作业现场。新华社记者 王五 摄",
    "港口作业现场。（新华社记者王五摄）",
    "港口作业现场。本報記者 王五 攝",
    "港口作业现场。本报记者 王五 摄影",
    "港口作业现场。本报记者 王五/图",
])
def test_photo_credit_in_a_caption_is_not_an_author(credit: str) -> None:
    """A caption credit ending in 摄/攝/摄影/图 names a photographer, not the author."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1><div class='info'>2024-04-20 09:30 来源：东方时报</div>"
        f"<div class='content'><p><img src='/1.jpg'></p><p>{credit}</p>{P1}{P2}{P3}</div>"))
    assert extracted.authors == ()


def test_writer_credit_beside_a_picture_credit_is_the_author() -> None:
    """``文/张三 图/李四``: 图/ labels the next name, so 张三 stays the author."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1><div class='info'>2024-04-20 09:30 文/张三 图/李四</div>"
        + BODY))
    assert [p.name for p in extracted.authors] == ["张三"]


def test_reporter_after_a_photo_credit_is_the_author() -> None:
    """A writing credit is still found after a photographer's credit in the header zone."""
    extracted = extract(page(
        "<title>外贸进出口稳中有升_东方时报网</title>",
        "<h1>外贸进出口稳中有升</h1><div class='info'>2024-04-20 09:30 来源：东方时报</div>"
        "<div class='content'><p><img src='/1.jpg'></p><p>港口作业现场。新华社记者 王五 摄</p>"
        f"<p>本报记者 张三</p>{P1}{P2}{P3}</div>"))
    assert [p.name for p in extracted.authors] == ["张三"]


# --- 5. explicit offsets are shown in the source's zone -----------------------------------------

@pytest.mark.parametrize("value", ["2024-04-20T01:30:00Z", "2024-04-20T01:30:00+00:00",
                                   "2024-04-19T21:30:00-04:00"])
def test_meta_date_with_an_offset_is_given_in_the_source_zone(value: str) -> None:
    """A meta published time in UTC (or any offset) comes back in Beijing time, same instant."""
    extracted = extract(page(
        f"<title>外贸进出口稳中有升_东方时报网</title>"
        f"<meta property='article:published_time' content='{value}'>",
        "<h1>外贸进出口稳中有升</h1>" + BODY))
    assert iso(extracted) == "2024-04-20T09:30:00+08:00"
