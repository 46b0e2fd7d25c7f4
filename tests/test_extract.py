"""Article extraction: the seed page in every encoding and ruby variant, dates, credits."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.config import ArticleRules
from feeds.encoding import decode_html
from feeds.extract import metadata
from feeds.extract.article import Extracted, extract_article
from feeds.extract.dates import parse_zh_date
from feeds.extract.images import is_hotlink_protected

SHANGHAI = ZoneInfo("Asia/Shanghai")
ARTICLES = Path(__file__).parent / "data" / "articles"
SEED_URL = "http://m.taiwan.cn/local/dfkx/202106/t20210607_12357878.htm"
SEED_PAGES = sorted(p.name for p in ARTICLES.glob("seed-*.html"))
NOW = datetime(2021, 6, 8, 12, 0, tzinfo=SHANGHAI)


def extract_file(name: str, **kwargs: object) -> Extracted:
    html, _ = decode_html((ARTICLES / name).read_bytes())
    return extract_article(html, SEED_URL, timezone=SHANGHAI, now=NOW, **kwargs)  # type: ignore[arg-type]


def all_text(extracted: Extracted) -> str:
    people = [p.name for p in (*extracted.authors, *extracted.contributors)]
    captions = [i.caption or "" for i in extracted.images]
    return "\n".join([extracted.title, extracted.content_html, extracted.text,
                      extracted.summary or "", extracted.source_name or "", *people, *captions])


def test_seed_pages_exist_in_every_variant() -> None:
    """The seed page is bundled in UTF-8, Big5 and GBK, with ruby and flattened pinyin."""
    assert {"seed-utf8.html", "seed-pinyin-utf8.html", "seed-ruby-utf8.html",
            "seed-ruby-big5.html", "seed-pinyin-gbk.html"} <= set(SEED_PAGES)


@pytest.mark.parametrize("name", SEED_PAGES)
def test_seed_article_fields(name: str) -> None:
    """Every variant of the seed page gives the same clean title, date, editor and source."""
    extracted = extract_file(name)
    assert extracted.title == "青島市召開市委臺港澳工作會議"
    assert extracted.published is not None
    assert extracted.published.isoformat() == "2021-06-07T10:22:00+08:00"
    assert [p.name for p in extracted.contributors] == ["郭碧娟"]
    assert extracted.source_name == "中國臺灣網"
    assert extracted.canonical_url == (
        "http://m.taiwan.cn/local/dfkx/202106/t20210607_12357878.htm?utm_source=m")
    assert "市委常委、統戰部部長王久軍主持會議" in extracted.text
    assert "黨委(黨組)" in extracted.text  # real parentheses survive pinyin removal
    assert "認真傳達學習貫徹會議精神" in extracted.text


@pytest.mark.parametrize("name", SEED_PAGES)
def test_seed_image_keeps_its_caption(name: str) -> None:
    """The lazy image gets its real absolute URL and the line after it as a figcaption."""
    extracted = extract_file(name)
    image_url = "http://m.taiwan.cn/local/images/qingdao-meeting.jpg"
    assert [(i.url, i.caption) for i in extracted.images] == [
        (image_url, "青島市召開市委臺港澳工作會議(圖片來源:青島市臺港澳辦)")]
    assert (f'<figure><img src="{image_url}"><figcaption>青島市召開市委臺港澳工作會議'
            "(圖片來源:青島市臺港澳辦)</figcaption></figure>") in extracted.content_html
    assert "data:image" not in extracted.content_html


@pytest.mark.parametrize("name", SEED_PAGES)
def test_seed_has_no_noise_in_any_field(name: str) -> None:
    """Navigation, font-size widget, share bar, editor line, related links and pinyin are gone."""
    text = all_text(extract_file(name))
    for noise in ("字號", "移動版", "責任編輯", "分享", "打印", "關閉窗口", "相關新聞",
                  "青島舉辦臺資企業座談會", "tái", "wǎng", "<ruby", "<rt"):
        assert noise not in text, noise
    assert not re.search(r"[\u4e00-\u9fff]\([a-zāáǎàēéěèīíǐìōóǒòūúǔù]+\)", text)


def test_conversion_applies_to_every_field() -> None:
    """An OpenCC conversion (t2s) turns every text field into simplified characters."""
    extracted = extract_file("seed-utf8.html", conversion="t2s")
    assert extracted.title == "青岛市召开市委台港澳工作会议"
    assert extracted.source_name == "中国台湾网"
    assert extracted.contributors[0].name == "郭碧娟"
    assert "统战部部长王久军" in extracted.text
    assert extracted.images[0].caption == "青岛市召开市委台港澳工作会议(图片来源:青岛市台港澳办)"


def test_image_proxy_rewrites_src() -> None:
    """An image-proxy template gets the percent-encoded image URL."""
    extracted = extract_file("seed-utf8.html", image_proxy="https://proxy.example/?url={url}")
    assert ('src="https://proxy.example/?url=http%3A%2F%2Fm.taiwan.cn%2Flocal%2Fimages%2F'
            'qingdao-meeting.jpg"') in extracted.content_html
    assert extracted.images[0].url == "http://m.taiwan.cn/local/images/qingdao-meeting.jpg"


PAGE = """<html><head><title>{title}_某某新闻</title>
<meta property="article:published_time" content="{meta_date}">
<meta name="author" content="某某新闻"></head>
<body><div class="nav"><a href="/">首页</a> <a href="/news">新闻</a></div>
<h1>{title}</h1><div class="meta">{info}</div>
<div class="article">{body}</div>
<div class="footer">关于我们 | 联系我们</div></body></html>"""
PARAGRAPHS = "".join(
    f"<p>第{i}段：记者了解到，这是一段足够长的正文内容，用来让正文抽取认出文章的主体部分，"
    f"并且包含一些标点符号和数字{i * 7}。</p>" for i in range(1, 7))


def page(**fields: str) -> str:
    values = {"title": "某市举行新闻发布会", "meta_date": "", "info": "", "body": PARAGRAPHS}
    values.update(fields)
    return PAGE.format(**values)


def test_hotlinked_image_gets_no_referrer_policy() -> None:
    """Images on hotlink-protected hosts (sinaimg) ask for no referrer; others do not."""
    body = ('<p><img data-src="https://n.sinaimg.cn/news/a.jpg" src="/grey.gif"></p>'
            '<p>图为发布会现场。（张三 摄）</p>' + PARAGRAPHS +
            '<p><img src="https://img.example.org/b.png"></p>')
    extracted = extract_article(page(body=body), "https://news.example.com/a/1.html",
                                timezone=SHANGHAI, now=NOW)
    assert ('<figure><img src="https://n.sinaimg.cn/news/a.jpg" referrerpolicy="no-referrer">'
            '<figcaption>图为发布会现场。（张三 摄）</figcaption></figure>'
            ) in extracted.content_html
    assert '<img src="https://img.example.org/b.png">' in extracted.content_html
    assert is_hotlink_protected("https://mmbiz.qpic.cn/x/640?wx_fmt=jpeg")
    assert not is_hotlink_protected("https://example.org/qpic.cn.jpg")


def test_wechat_image_without_extension_is_kept() -> None:
    """An image URL with no file extension (WeChat's ``?wx_fmt=jpeg``) survives extraction."""
    body = '<p><img data-src="https://mmbiz.qpic.cn/mmbiz_jpg/abc/640?wx_fmt=jpeg"></p>' + \
        PARAGRAPHS
    extracted = extract_article(page(body=body), "https://mp.weixin.qq.com/s/x",
                                timezone=SHANGHAI, now=NOW)
    assert [i.url for i in extracted.images] == ["https://mmbiz.qpic.cn/mmbiz_jpg/abc/640?wx_fmt=jpeg"]
    assert "feeds-image" not in extracted.content_html


def test_metadata_line_credits_and_meta_site_author() -> None:
    """作者/来源/编辑 lines give people and source; meta author naming the site is ignored."""
    info = "发布时间：2021年06月07日 10:22 来源：青岛日报 作者：张三、李四 字号：大 中 小"
    body = PARAGRAPHS + "<p>（责任编辑：王五）</p>"
    extracted = extract_article(page(info=info, body=body), "https://news.example.com/a/1.html",
                                timezone=SHANGHAI, now=NOW)
    assert extracted.title == "某市举行新闻发布会"
    assert extracted.published == datetime(2021, 6, 7, 10, 22, tzinfo=SHANGHAI)
    assert extracted.source_name == "青岛日报"
    assert [p.name for p in extracted.authors] == ["张三", "李四"]
    assert [p.name for p in extracted.contributors] == ["王五"]
    assert "责任编辑" not in extracted.text
    assert "字号" not in extracted.text
    assert "第6段" in extracted.text


def test_meta_date_with_offset_wins_and_relative_date_counts_from_now() -> None:
    """A meta date with a time is used as given, shown in the source's zone (the same
    instant); a page saying 3小時前 counts back from now."""
    dated = extract_article(page(meta_date="2021-06-07T02:22:00Z"), "https://e.com/1",
                            timezone=SHANGHAI, now=NOW)
    assert dated.published is not None
    assert dated.published.isoformat() == "2021-06-07T10:22:00+08:00"
    relative = extract_article(page(info="3小時前"), "https://e.com/2", timezone=SHANGHAI,
                               now=NOW)
    assert relative.published == datetime(2021, 6, 8, 9, 0, tzinfo=SHANGHAI)


def test_rules_override_automatic_extraction() -> None:
    """CSS and XPath rules pick title, date, author and body; strip removes elements."""
    html = page(info="<span class='d'>2020-01-02</span><i>作者：张三</i>",
                body="<div class='ad'>广告内容不要</div>" + PARAGRAPHS)
    rules = ArticleRules(title="//div[@class='footer']", date="div.meta span.d",
                         author="div.meta i", body="div.article", strip=("div.ad",))
    extracted = extract_article(html, "https://e.com/3", timezone=SHANGHAI, now=NOW, rules=rules)
    assert extracted.title == "关于我们 | 联系我们"
    assert extracted.published == datetime(2020, 1, 2, tzinfo=SHANGHAI)
    assert [p.name for p in extracted.authors] == ["张三"]
    assert "广告" not in extracted.text
    assert "第1段" in extracted.text


def test_ruby_in_title_and_meta_is_dropped() -> None:
    """Ruby annotations in the headline never reach the title (text read before sanitizing)."""
    title = "<ruby>臺<rp>(</rp><rt>tái</rt><rp>)</rp></ruby>灣新聞發布會"
    html = page(title=title).replace("<title>" + title, "<title>臺灣新聞發布會")
    extracted = extract_article(html, "https://e.com/4", timezone=SHANGHAI, now=NOW)
    assert extracted.title == "臺灣新聞發布會"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-06-07 10:22:00", "2021-06-07T10:22:00+08:00"),
        ("2021年06月07日 10:22", "2021-06-07T10:22:00+08:00"),
        ("2021年6月7日", "2021-06-07T00:00:00+08:00"),
        ("发布时间：2021-06-07 10:22", "2021-06-07T10:22:00+08:00"),
        ("發布時間：2021/06/07 10:22", "2021-06-07T10:22:00+08:00"),
        ("2021.06.07", "2021-06-07T00:00:00+08:00"),
        ("２０２１年６月７日 １０：２２", "2021-06-07T10:22:00+08:00"),
        ("2021-06-07 10时22分", "2021-06-07T10:22:00+08:00"),
        ("2021-06-07T10:22:00+08:00", "2021-06-07T10:22:00+08:00"),
        ("2021-06-07T02:22:00Z", "2021-06-07T02:22:00+00:00"),
        ("2021-06-07T10:22:00.000+0800", "2021-06-07T10:22:00+08:00"),
        ("Mon, 07 Jun 2021 10:22:00 +0800", "2021-06-07T10:22:00+08:00"),
        ("06-07 10:22", "2021-06-07T10:22:00+08:00"),
    ],
)
def test_absolute_date_forms(text: str, expected: str) -> None:
    """Each absolute date form parses; local times get the source's zone."""
    value = parse_zh_date(text, SHANGHAI, NOW)
    assert value is not None and value.isoformat() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3小時前", "2021-06-08T09:00:00+08:00"),
        ("3小时前", "2021-06-08T09:00:00+08:00"),
        ("5分钟前", "2021-06-08T11:55:00+08:00"),
        ("2天前", "2021-06-06T12:00:00+08:00"),
        ("刚刚", "2021-06-08T12:00:00+08:00"),
        ("昨天 10:22", "2021-06-07T10:22:00+08:00"),
        ("今天 08:05", "2021-06-08T08:05:00+08:00"),
        ("前天", "2021-06-06T00:00:00+08:00"),
    ],
)
def test_relative_date_forms(text: str, expected: str) -> None:
    """Relative dates count back from a fixed ``now`` in the source's zone."""
    value = parse_zh_date(text, SHANGHAI, NOW)
    assert value is not None and value.isoformat() == expected


def test_unparseable_dates_give_none() -> None:
    """Text without a date (or an impossible one) gives None rather than a guess."""
    assert parse_zh_date("没有日期", SHANGHAI, NOW) is None
    assert parse_zh_date("2021-13-45", SHANGHAI, NOW) is None
    assert parse_zh_date(None, SHANGHAI, NOW) is None


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("[責任編輯:郭碧娟]", ["郭碧娟"]),
        ("（责任编辑：王五_NF）", ["王五"]),
        ("责任编辑：张三 李四", ["张三", "李四"]),
        ("編輯：陳大文", ["陳大文"]),
        ("【責任編輯 林小明】", ["林小明"]),
    ],
)
def test_editor_lines(line: str, names: list[str]) -> None:
    """Editor credits in their usual spellings give the editor names."""
    assert metadata.find_contributors(line) == names


@pytest.mark.parametrize(
    ("line", "source"),
    [
        ("來源:中國臺灣網", "中國臺灣網"),
        ("2021-06-07 10:22:00 来源：新华社 字号", "新华社"),
        ("来源：人民网-文化频道", "人民网-文化频道"),
        ("來源:中國臺灣網字號", "中國臺灣網"),
        ("(圖片來源:青島市臺港澳辦) 文章来源： 青岛日报", "青岛日报"),
    ],
)
def test_source_lines(line: str, source: str) -> None:
    """The 来源/來源 value is read without the page words glued after it."""
    assert metadata.find_source(line, line) == source


def test_a_rules_date_with_an_offset_is_shown_in_the_site_zone() -> None:
    """A date picked by a rule that carries its own offset is the same instant, written in
    the source's zone, as automatic extraction gives it."""
    html = page(info="<span class='d'>2021-06-07T02:22:00Z</span>")
    rules = ArticleRules(date="div.meta span.d")
    extracted = extract_article(html, "https://e.com/5", timezone=SHANGHAI, now=NOW, rules=rules)
    assert extracted.published is not None
    assert extracted.published.isoformat() == "2021-06-07T10:22:00+08:00"
