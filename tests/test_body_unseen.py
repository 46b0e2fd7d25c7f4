"""Article bodies on pages unlike the bundled ones: pinyin in its own element, related links,
copyright and QR-code lines, share bars, captions in one paragraph or a layout table, a
figure just before the text container, and the explicit-rules body path."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from feeds.config import ArticleRules
from feeds.extract.article import Extracted, extract_article

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
URL = "http://example.cn/a/1.html"
PROSE = ("山东省青岛市召开全市港澳工作会议，传达贯彻中央和省委有关会议精神，总结工作，"
         "部署任务。市委常委出席会议并讲话，强调要扎实推动各领域交流合作走深走实。")
# Distinct paragraphs long enough for the container path (identical ones would be deduplicated).
P = f"<p>{PROSE}</p>"
P2 = ("<p>会议指出，过去一年全市上下统筹推进经济社会发展，搭建了多个高端经贸合作平台，通过线上"
      "线下结合的方式稳步推进交流，在青投资实现了逆势上涨，得到了上级业务部门的充分肯定。</p>")
P3 = ("<p>会议要求，各区市、各部门要切实加强组织领导，把相关工作列入重要议事日程，不断加强机构"
      "建设，配齐配强工作力量，以优异成绩迎接新的发展阶段，为全市高质量发展作出新的更大贡献。</p>")


def extract(body: str, *, h1: str = "青岛港务会议召开", title: str = "青岛港务会议召开_示例网",
            rules: ArticleRules | None = None) -> Extracted:
    html = (f"<html><head><title>{title}</title></head><body><h1>{h1}</h1>"
            f"<div class='info'>2024-05-01 08:00 来源：示例网</div>{body}</body></html>")
    return extract_article(html, URL, timezone=SHANGHAI, rules=rules, now=NOW)


# --- 1. pinyin in separate elements -----------------------------------------------------------

def test_pinyin_in_its_own_span_is_removed_from_body_and_title() -> None:
    """A span holding only ``(tái)`` right after a Han character is a flattened ruby hint."""
    extracted = extract(
        f"<div>{P}<p>臺<span>(tái)</span>灣<span>(wān)</span>同胞表示，營商環境越來越好。</p>{P2}{P3}</div>",
        h1="臺<span>(tái)</span>灣<span>(wān)</span>同胞在青島", title="臺灣同胞在青島")
    assert "(tái)" not in extracted.content_html
    assert "(wān)" not in extracted.content_html
    assert "臺灣同胞表示" in extracted.text
    assert extracted.title == "臺灣同胞在青島"


def test_multi_syllable_pinyin_in_bold_is_removed() -> None:
    """``青島<b>(qīng dǎo)</b>`` loses the annotation, the name stays."""
    extracted = extract(
        f"<div>{P}<p>青島<b>(qīng dǎo)</b>是一座海濱城市，港口繁忙。</p>{P2}{P3}</div>")
    assert "qīng" not in extracted.text
    assert "青島是一座海濱城市" in extracted.text


def test_pinyin_element_between_outside_brackets_is_removed() -> None:
    """``臺(<span>tái</span>)灣``: the syllable and both brackets go."""
    extracted = extract(
        f"<div>{P}<p>臺(<span>tái</span>)灣（<i>wān</i>）同胞表示，營商環境越來越好。</p>{P2}{P3}</div>")
    assert "臺灣同胞表示" in extracted.text


def test_multi_syllable_pinyin_in_running_text_is_removed() -> None:
    """``青島(qīng dǎo)`` in one text node loses the annotation as a single syllable would."""
    extracted = extract(
        f"<div>{P}<p>青島(qīng dǎo)是一座海濱城市，港口(an apple)繁忙。</p>{P2}{P3}</div>")
    assert "青島是一座海濱城市，港口(an apple)繁忙" in extracted.text


def test_parenthesised_latin_in_elements_stays() -> None:
    """Abbreviations, years and names in their own element stay beside real pinyin hints."""
    extracted = extract(
        f"<div>{P}<p>世界贸易组织<span>(WTO)</span>与人工智能<b>(AI)</b>在<span>(2024)</span>"
        f"年，青岛<i>(Qingdao)</i>举办论坛<span>(online)</span>，臺<span>(tái)</span>灣同胞參加。"
        f"</p>{P2}{P3}</div>")
    for kept in ("(WTO)", "(AI)", "(2024)", "(Qingdao)", "(online)"):
        assert kept in extracted.text
    assert "(tái)" not in extracted.text


def test_toneless_pinyin_element_stays_without_toned_hints() -> None:
    """A lone toneless ``(de)`` is ambiguous and kept when the page shows no toned hints."""
    extracted = extract(
        f"<div>{P}<p>他说<span>(de)</span>是对的，大家都同意这个看法。</p>{P2}{P3}</div>")
    assert "(de)" in extracted.text


# --- 2. related links and boilerplate ---------------------------------------------------------

def test_related_links_after_label_paragraph_are_removed() -> None:
    """Link-only paragraphs after a ``相关阅读：`` label go with the label."""
    extracted = extract(
        f"<div>{P}{P2}{P3}<p>相关阅读：</p><p><a href='/x1.html'>青岛举行港澳青年交流活动</a></p>"
        f"<p>· <a href='/x2.html'>山东省召开全省港澳工作会议</a></p></div>")
    assert "青岛举行港澳青年交流活动" not in extracted.text
    assert "山东省召开全省港澳工作会议" not in extracted.text
    assert "更大贡献" in extracted.text


def test_related_label_in_traditional_with_links_in_same_block() -> None:
    """``相關閱讀：`` followed by its links inside one paragraph is dropped whole."""
    extracted = extract(
        f"<div>{P}{P2}{P3}<p>相關閱讀：<a href='/x1.html'>青島舉行港澳青年交流活動</a> "
        f"<a href='/x2.html'>山東召開港澳工作會議</a></p></div>")
    assert "青島舉行港澳青年交流活動" not in extracted.text
    assert "相關閱讀" not in extracted.text


def test_prose_paragraph_after_related_label_stays() -> None:
    """Only link-only blocks follow the label out; the next prose paragraph stays."""
    extracted = extract(
        f"<div>{P}{P2}{P3}<p>延伸阅读：</p><p><a href='/x1.html'>青岛举行港澳青年交流活动</a></p>"
        f"<p>会后，与会人员<a href='/p.html'>参观了</a>前湾港区，了解港口建设和运营的情况。</p>"
        f"</div>")
    assert "青岛举行港澳青年交流活动" not in extracted.text
    assert "了解港口建设和运营的情况" in extracted.text


def test_copyright_and_qr_code_lines_are_removed() -> None:
    """Short copyright notices and QR-code prompts are page furniture."""
    extracted = extract(
        f"<div>{P}{P2}{P3}<p>版权声明：本文为示例新闻网原创，转载请注明出处。</p>"
        f"<p>扫描二维码，关注示例新闻网微信公众号</p><p>（本文来源：示例网，转载请注明）</p>"
        f"<p><img src='/qrcode.jpg'><br>扫码关注我们</p></div>")
    for gone in ("版权声明", "转载请注明", "扫描二维码", "扫码关注"):
        assert gone not in extracted.text
    assert "qrcode" not in extracted.content_html
    assert "更大贡献" in extracted.text


def test_long_prose_mentioning_copyright_and_qr_codes_stays() -> None:
    """A real paragraph that mentions QR codes or reprints is not boilerplate."""
    prose = ("市民可扫描二维码关注“青岛发布”微信公众号了解详情。据介绍，版权声明和转载请注明出处等"
             "提示在网络文章中十分常见，但不少自媒体仍然无视规定，相关部门将加强版权执法检查力度。")
    opening = ("关注“青岛发布”微信公众号的市民，可以在线预约参观前湾港区，预约成功后凭短信入场，"
               "每天限额两千人，港区还将为市民安排讲解员，介绍港口的历史和自动化码头的建设情况。")
    extracted = extract(f"<div>{P}<p>{prose}</p><p>{opening}</p>{P2}{P3}</div>")
    assert "市民可扫描二维码关注" in extracted.text
    assert "加强版权执法检查力度" in extracted.text
    assert "介绍港口的历史" in extracted.text


def test_share_bar_with_platform_links_is_removed() -> None:
    """``分享到：`` with its QQ/微博 links leaves nothing behind."""
    extracted = extract(
        f"<div>{P}{P2}{P3}<div class='share-bar'>分享到：<a>微信</a> <a>微博</a> <a>QQ</a> "
        f"<a>Facebook</a></div></div>")
    assert "QQ" not in extracted.text
    assert "Facebook" not in extracted.text
    assert "分享" not in extracted.text


# --- 3. captions ------------------------------------------------------------------------------

def test_caption_after_br_in_the_image_paragraph_becomes_figcaption() -> None:
    """``<p><img><br>图为会议现场。</p>`` is one figure with that caption."""
    extracted = extract(
        f"<div>{P}<p><img src='/1.jpg'><br><span>图为会议现场。</span></p>{P2}{P3}</div>")
    assert [i.caption for i in extracted.images] == ["图为会议现场。"]
    assert ('<figure><img src="http://example.cn/1.jpg"><figcaption>图为会议现场。</figcaption>'
            '</figure>') in extracted.content_html


def test_layout_table_with_image_and_caption_becomes_one_figure() -> None:
    """A table holding one image and a caption cell is a figure, not a table."""
    extracted = extract(
        f"<div>{P}<table align='center'><tr><td><img src='/1.jpg'></td></tr>"
        f"<tr><td>青岛港前湾港区一角（资料图）</td></tr></table>{P2}{P3}</div>")
    assert [i.caption for i in extracted.images] == ["青岛港前湾港区一角（资料图）"]
    assert "<table" not in extracted.content_html
    assert "<td" not in extracted.content_html
    assert extracted.content_html.count("青岛港前湾港区一角") == 1


def test_data_table_with_an_image_stays_a_table() -> None:
    """A table with several text cells is data, not a figure wrapper."""
    extracted = extract(
        f"<div>{P}<table><tr><td><img src='/1.jpg'></td><td>集装箱</td><td>1200万标箱</td></tr>"
        f"<tr><td>散货</td><td>3亿吨</td><td>同比增长5%</td></tr></table>{P2}{P3}</div>")
    assert "<table" in extracted.content_html
    assert "1200万标箱" in extracted.text


# --- 4. a figure just before the text container -----------------------------------------------

def test_figure_just_before_the_text_container_is_kept() -> None:
    """A captioned figure placed right before the paragraphs' container stays in the body."""
    extracted = extract(
        f"<figure><img src='/lead.jpg'><figcaption>青岛市港澳工作会议现场</figcaption></figure>"
        f"<div class='content'>{P}{P2}{P3}</div><div class='footer'><p>版权所有</p></div>")
    assert [i.caption for i in extracted.images] == ["青岛市港澳工作会议现场"]
    assert extracted.content_html.startswith("<figure>")


# --- 5. explicit rules --------------------------------------------------------------------------

def test_rules_body_strips_full_width_indents_like_the_automatic_path() -> None:
    """A body chosen by a selector loses its ``　　`` indents and form widgets too."""
    indented = "".join(p.replace("<p>", "<p>\u3000\u3000") for p in (P, P2, P3))
    body = f"<div class='text'>{indented}<form><input value='x'><button>提交</button></form></div>"
    auto = extract(body)
    ruled = extract(body, rules=ArticleRules(body="div.text"))
    assert "\u3000" not in ruled.content_html
    assert "提交" not in ruled.content_html
    assert "\u3000" not in auto.content_html
    assert ruled.text == auto.text


def test_code_blocks_keep_their_indentation() -> None:
    """Indent stripping leaves ``<pre>`` alone: code indentation is content."""
    code = "<pre><code>def parse():<br>    return 1<br>\u3000\u3000# 注释</code></pre>"
    extracted = extract(f"<div>{P}{code}{P2}{P3}</div>")
    assert "<br>    return 1" in extracted.content_html
    assert "<br>\u3000\u3000# 注释" in extracted.content_html


def test_number_inside_a_sentence_stays_but_a_stock_quote_goes() -> None:
    """``在<b>2024</b>年`` is prose; a quote span after a company link is a widget."""
    extracted = extract(
        f"<div>{P}<p>青岛港在<b>2024</b>年吞吐量增长，<span><a href='/q/BLK'>贝莱德</a></span>"
        f"<span>(431.2, 7.37, 1.74%)</span>固定收益业务表现稳定。</p>{P2}{P3}</div>")
    assert "青岛港在2024年吞吐量增长" in extracted.text
    assert "431.2" not in extracted.text
    assert "贝莱德固定收益业务" in extracted.text
