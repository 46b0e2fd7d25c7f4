"""Article bodies on page archetypes that went wrong: a site footer longer than a short
notice, short articles and video pages, br-separated press releases, WeChat captions and QR
codes, and furniture lines (完, NNNN, Ends/..., photo credits, 字体) at a body's edges."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from feeds.extract.article import Extracted, extract_article

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 7, tzinfo=UTC)
URL = "http://www.example.gov.cn/art/2024/5/1/art_1.html"
NAV = ('<div class="top-nav"><a href="/">首页</a> | <a href="/news/">新闻</a> | '
       '<a href="/gov/">政务</a> | <a href="/fw/">服务</a></div>'
       '<div class="crumb">您当前的位置：<a href="/">首页</a> &gt; <a href="/news/">新闻中心</a>'
       ' &gt; 正文</div>')
HOT = ('<div class="side"><h3>热点新闻</h3><ul>'
       '<li><a href="/a1.html">全市安全生产工作会议召开部署节日期间重点任务</a></li>'
       '<li><a href="/a2.html">我市启动2024年城市更新行动计划首批项目开工</a></li>'
       '<li><a href="/a3.html">五一假期全市接待游客超过三百万人次同比增长</a></li></ul></div>')
# A government site's footer: over 300 characters of prose-looking paragraphs.
FOOTER = ('<div class="bottom-wrap"><p>主办单位：某某市人民政府办公厅　'
          '承办单位：某某市大数据管理局　地址：某某市人民路1号　邮编：100000　'
          '联系电话：010-12345678　网站标识码：1100000001　'
          '京ICP备12345678号　京公网安备11010502030000号　建议使用1920×1080分辨率浏览本网站，'
          '推荐使用IE9以上版本浏览器或者谷歌、火狐等浏览器访问本网站，以获得更好的浏览体验。'
          '本网站所有内容未经授权不得转载。</p><p>版权所有：某某市人民政府　技术支持：某某信息技术'
          '有限公司　网站运维电话：010-87654321　网站纠错邮箱：admin@example.gov.cn　为了更好地为'
          '公众提供服务，欢迎通过网站纠错和意见建议栏目反馈问题，我们将在五个工作日内予以回复处理。'
          '</p></div>')
ALERT = ("市气象台5月1日6时发布暴雨蓝色预警信号：预计未来12小时我市东部地区将出现50毫米以上降雨。"
         "请注意防范城市内涝和山洪地质灾害。")
NOTICE = [
    "支付是经济金融活动的基础性支撑。近年来，我国移动支付快速发展，为广大群众提供了便捷高效的"
    "支付服务。同时，老年人、外籍来华人员等群体在支付服务方面仍面临一些障碍。",
    "一、切实改善银行卡受理环境。推动重点场所、重点商户支持境外银行卡受理，满足外籍来华人员"
    "刷卡消费需求。",
    "二、坚持现金兜底定位。持续优化现金使用环境，加强现金供应，不得拒收现金，保障群众现金支付需求。",
    "三、进一步提升移动支付便利性。推动移动支付服务优化升级，支持外籍来华人员绑定境外银行卡。",
]


def page(body: str, *, title: str = "市气象台发布暴雨蓝色预警", tail: str = HOT + FOOTER,
         head: str = "") -> str:
    return (f"<html><head><meta charset='utf-8'><title>{title}_某某市人民政府</title>{head}"
            f"</head><body>{NAV}<div class='main'><h1>{title}</h1>"
            f"<div class='info'>发布时间：2024-05-01 06:10　来源：市气象台</div>{body}</div>"
            f"{tail}</body></html>")


def extract(html: str, url: str = URL) -> Extracted:
    return extract_article(html, url, timezone=SHANGHAI, now=NOW)


def test_a_long_footer_does_not_beat_a_short_notice() -> None:
    """A 300-character notice is the body, not the longer 主办单位/ICP备 footer below it."""
    body = "<div class='TRS_Editor'>" + "".join(f"<p>　　{p}</p>" for p in NOTICE) + "</div>"
    extracted = extract(page(body, title="国务院办公厅关于进一步优化支付服务提升支付便利性的意见"))
    assert NOTICE[0] in extracted.text and NOTICE[3] in extracted.text
    assert "ICP备" not in extracted.text and "主办单位" not in extracted.text


def test_a_one_paragraph_alert_is_the_body_not_the_footer() -> None:
    """A one-paragraph alert after the headline is the body; footer, navigation, the date
    line and the hot list stay out."""
    extracted = extract(page(f"<div class='TRS_Editor'><p>{ALERT}</p></div>"
                             "<div class='editor'>责任编辑：马丽</div>"))
    assert extracted.text == ALERT


def test_a_short_article_without_a_footer_is_not_the_whole_page() -> None:
    """With no block long enough, the page is not flattened into one paragraph with its
    navigation, breadcrumb, title, date line and hot list."""
    extracted = extract(page(f"<div class='TRS_Editor'><p>{ALERT}</p></div>", tail=HOT))
    assert extracted.content_html == f"<p>{ALERT}</p>"


def test_br_separated_text_counts_as_prose() -> None:
    """A body of text runs separated by <br> (no <p>) is found and split into paragraphs."""
    runs = "<br><br>".join(f"　　{p}" for p in NOTICE)
    extracted = extract(page(f"<div class='zw' id='zoom'>{runs}</div>", title="关于放假的通知"))
    assert extracted.content_html.count("<p>") == len(NOTICE)
    assert NOTICE[2] in extracted.text and "ICP" not in extracted.text
    assert "　" not in extracted.content_html  # no indents left after the <br>s


def test_a_video_page_keeps_its_player_and_summary() -> None:
    """A video page gives the player (with its poster) and the short summary, nothing else."""
    summary = ("5月1日，“五一”假期首日，全市高速公路车流量达到48万辆次，各主要收费站总体运行平稳。"
               "交警部门在重点路段加派警力。")
    body = ("<div class='player'><video controls poster='/v/cover.jpg' src='/v/traffic.mp4'>"
            f"</video></div><div class='summary'><p>{summary}</p></div>"
            "<div class='editor'>责任编辑：吴迪</div>")
    extracted = extract(page(body, title="视频丨直击五一假期首日交通出行"))
    assert 'src="http://www.example.gov.cn/v/traffic.mp4"' in extracted.content_html
    assert 'poster="http://www.example.gov.cn/v/cover.jpg"' in extracted.content_html
    assert extracted.text == summary


def test_a_fallback_body_is_cleaned_like_a_container_body() -> None:
    """When no single block is the article (a gallery), the whole-page extraction is
    cleaned too: the date/source/photographer line at its start goes, captions stay."""
    pictures = "".join(
        f"<div class='pic'><img src='/photo/p{n}.jpg'><p class='desc'>{caption}（记者 孙悦 摄）</p>"
        "</div>" for n, caption in enumerate(
            ["春日的公园，游客泛舟湖上。", "市民在花海中拍照留念。", "孩子们在草坪上放风筝。",
             "古镇街巷游人如织。"]))
    html = (f"<html><head><title>图集丨五一假期市民乐享春光_某某网</title></head><body>{NAV}"
            "<div class='atlas'><h1>图集丨五一假期市民乐享春光</h1>"
            "<div class='info'>2024-05-01 18:05　来源：某某网　摄影：孙悦</div>"
            f"<div class='photos'>{pictures}</div></div>{HOT}</body></html>")
    extracted = extract(html)
    assert "摄影" not in extracted.text and "来源" not in extracted.text
    assert [i.caption for i in extracted.images][:2] == [
        "春日的公园，游客泛舟湖上。（记者 孙悦 摄）", "市民在花海中拍照留念。（记者 孙悦 摄）"]


WECHAT_TEXT = ("5月1日是“五一”假期第一天，全市各重点景区迎来客流高峰。据市文旅局统计，当日全市纳入"
               "监测的42家A级旅游景区共接待游客52.3万人次，同比增长12.6%，实现旅游收入3.1亿元。"
               "为保障假期旅游安全有序，市文旅局会同公安、交通等部门成立联合工作专班。")


def wechat(extra: str) -> Extracted:
    html = ("<html><head><title>五一假期首日，全市重点景区客流平稳有序</title></head><body>"
            "<h1 class='rich_media_title'>五一假期首日，全市重点景区客流平稳有序</h1>"
            "<div class='rich_media_content' id='js_content' style='visibility: hidden;'>"
            "<section style='text-align:center;'><img data-src='https://mmbiz.qpic.cn/mmbiz_jpg/"
            "abc/640?wx_fmt=jpeg'></section><section style='text-align:center;'><span>"
            "图为游客在某某古镇游览。</span></section>"
            f"<p><span>{WECHAT_TEXT}</span></p>{extra}</div></body></html>")
    return extract(html, "https://mp.weixin.qq.com/s/abc")


def test_wechat_caption_in_the_next_section_is_attached() -> None:
    """An image's caption in the <section> after the image's <section> becomes its caption."""
    extracted = wechat("")
    assert [i.caption for i in extracted.images] == ["图为游客在某某古镇游览。"]
    assert "<figcaption>图为游客在某某古镇游览。</figcaption>" in extracted.content_html


def test_wechat_qr_code_goes_with_its_prompt() -> None:
    """The QR-code image before a 长按识别二维码 prompt goes with the prompt; so does an image
    named as a QR code."""
    extracted = wechat(
        "<section><img data-src='https://mmbiz.qpic.cn/mmbiz_gif/q9/640?wx_fmt=gif'></section>"
        "<p style='text-align:center;'><span>长按识别二维码关注我们</span></p>"
        "<p><img src='/static/qrcode_for_gh.jpg'></p>")
    assert [i.url for i in extracted.images] == ["https://mmbiz.qpic.cn/mmbiz_jpg/abc/640?wx_fmt=jpeg"]
    assert "长按" not in extracted.text


def test_editor_and_reviewer_credits_with_an_ideographic_space_go() -> None:
    """``编辑：李华　审核：王强`` (U+3000 between the credits) leaves the body."""
    extracted = wechat("<p><span style='font-size:12px;'>编辑：李华　审核：王强</span></p>")
    assert "李华" not in extracted.text and "王强" not in extracted.text
    assert extracted.text.endswith("成立联合工作专班。")


HK_BODY = ("<div id='contentBody'><span id='PRHeadlineSpan'>{title}</span><br><br>"
           "<span id='pressrelease'>{text}</span><p>{end}</p><p>NNNN</p></div>"
           "<div id='footer'>2024 | Important notices | Privacy Policy</div>")


def hk(title: str, paragraphs: list[str], end: str) -> Extracted:
    text = "".join(f"&nbsp;&nbsp; &nbsp;{p}<br><br>" for p in paragraphs)
    html = (f"<html><head><title>{title}</title></head><body><div id='header'>"
            "<a href='/'>Home</a> | <a href='/tc/'>繁體版</a></div>"
            f"{HK_BODY.format(title=title, text=text, end=end)}</body></html>")
    return extract(html, "https://www.info.gov.hk/gia/general/202405/01/P1.htm")


def test_hong_kong_press_release_end_marks_go() -> None:
    """``Ends/Wednesday, May 1, 2024 / Issued at HKT 15:30`` and ``NNNN`` leave the end of a
    press release; its paragraphs stay, one <p> each."""
    paragraphs = [
        "Hong Kong recorded about 1.4 million visitor arrivals during the Easter holidays this "
        "year. The Government will continue to work with the Hong Kong Tourism Board.",
        "The Government will also launch new mega events and improve facilities at tourist "
        "spots, including the provision of more signage for visitors.",
        "Thank you, President.",
    ]
    extracted = hk("LCQ5: Measures to promote tourism", paragraphs,
                   "Ends/Wednesday, May 1, 2024<br>Issued at HKT 15:30")
    assert extracted.text.splitlines() == paragraphs


def test_chinese_press_release_end_marks_go() -> None:
    """``完 / 2024年5月1日（星期三） / 香港時間15時30分`` and ``NNNN`` leave the end."""
    paragraphs = ["今年復活節假期期間，本港錄得約一百四十萬訪港旅客人次。政府會繼續與香港旅遊"
                  "發展局及業界合作，提升旅客體驗，包括增設指示牌、改善旅遊景點設施，以及推出新的大型活動，"
                  "吸引更多旅客訪港。", "多謝主席。"]
    extracted = hk("立法會五題：推動旅遊業的措施", paragraphs,
                   "完<br>2024年5月1日（星期三）<br>香港時間15時30分")
    assert extracted.text.splitlines() == paragraphs


def test_end_marks_inside_the_prose_stay() -> None:
    """``完`` inside a block of prose is the article: only standalone blocks go."""
    closing = ["工作完成后另行通知，请各单位遵照执行。（完）", "某某市城市管理局"]
    body = ("<div class='TRS_Editor'>" + "".join(f"<p>{p}</p>" for p in NOTICE + closing)
            + "</div>")
    extracted = extract(page(body, title="关于放假的通知"))
    assert extracted.text.splitlines()[-2:] == closing


def test_font_size_widget_at_the_start_goes() -> None:
    """A ``字体：小中大`` widget at the start of a body goes (here a whole-page extraction's:
    the paragraphs sit in a <span>, as on xinhua.net)."""
    body = ("<div class='setFont'>字体：<span>小</span><span>中</span><span>大</span></div>"
            "<div id='detail'><span id='detailContent'>"
            + "".join(f"<p>{p}</p>" for p in NOTICE) + "</span></div>")
    extracted = extract(page(body, title="关于放假的通知", tail=""))
    assert extracted.text.splitlines()[0] == NOTICE[0]


def test_a_notices_signature_date_stays() -> None:
    """A notice ending with its issuer and the date it was signed keeps that date; the
    publication date line above the body is still dropped."""
    sentence = "为做好劳动节期间安全生产工作，现将有关事项通知如下。各单位要切实加强领导。"
    para = "<p>" + sentence * 3 + "</p>"
    html = ("<html><head><title>关于做好安全生产工作的通知_某某市人民政府</title></head><body>"
            "<h1>关于做好安全生产工作的通知</h1><div class='info'>2024年3月1日</div>"
            f"<div class='TRS_Editor'>{para}{para}<p>某某市人民政府办公室</p>"
            "<p>2024年3月1日</p></div></body></html>")
    extracted = extract_article(html, "http://gov.example.cn/a.html",
                                timezone=ZoneInfo("Asia/Shanghai"))
    assert extracted.content_html.endswith("<p>某某市人民政府办公室</p><p>2024年3月1日</p>")
    assert extracted.content_html.count("2024年3月1日") == 1
