"""Dates and bylines as government and press-release pages write them: HK/Taiwan release
footers, relative words in prose, stated time zones, Minguo years, English month names,
split header dates, WeChat script timestamps and bylines."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from feeds.extract.article import Extracted, extract_article
from feeds.extract.dates import parse_zh_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 7, 4, 0, tzinfo=UTC)
URL = "http://example.gov/news/2024/0501/1.html"
PARAGRAPHS = "".join(
    f"<p>第{n}段：政府近月推出多项措施推动旅游业发展，改善旅客体验，增设指示牌并改善景点设施，"
    f"同时推出新的大型活动吸引更多旅客，业界普遍欢迎相关措施并表示将积极配合推动落实。</p>"
    for n in range(1, 5))


def extract(html: str) -> Extracted:
    return extract_article(html, URL, timezone=SHANGHAI, now=NOW)


def iso(extracted: Extracted) -> str | None:
    return extracted.published.isoformat() if extracted.published else None


def page(head: str = "", under: str = "", body: str = PARAGRAPHS, after: str = "",
         title: str = "立法会五题：推动旅游业的措施") -> str:
    return (f"<html><head><meta charset='utf-8'><title>{title}</title>{head}</head><body>"
            f"<div class='nav'><a href='/'>首页</a> | <a href='/n/'>新闻公报</a></div>"
            f"<h1>{title}</h1>{under}<div class='content'>{body}</div>{after}"
            f"<div class='footer'>2024 | 重要告示 | 私隐政策</div></body></html>")


# --- 1. relative words in prose; the release footer dates the page ---------------------------

def test_today_in_the_lead_is_not_the_date_and_the_footer_date_is() -> None:
    """``以下是今日（五月一日）…`` under the headline is prose, not a date line: the date and
    time at the end of the release (``2024年5月1日（星期三）`` / ``香港時間15時30分``) date it."""
    extracted = extract(page(
        under="<p>以下是今日（五月一日）在立法會會議上張宇人議員的提問和局長的答覆：</p>",
        after="<p>完<br>2024年5月1日（星期三）<br>香港時間15時30分</p><p>NNNN</p>"))
    assert iso(extracted) == "2024-05-01T15:30:00+08:00"


def test_today_in_prose_alone_gives_no_date() -> None:
    """A page whose only date word is 今天 inside a sentence has no date (first_seen applies)."""
    extracted = extract(page(under="<p>记者今天从市政府获悉，全市旅游业恢复良好</p>"))
    assert extracted.published is None


def test_relative_date_on_a_date_line_still_counts() -> None:
    """A line under the headline that is only a relative date (``3小时前``) still dates the page."""
    extracted = extract(page(under="<div class='info'>3小时前 来源：某某网</div>"))
    assert iso(extracted) == "2024-05-07T09:00:00+08:00"


def test_labelled_absolute_date_at_the_end_beats_a_relative_one() -> None:
    """An absolute labelled date anywhere beats a relative date line under the headline."""
    extracted = extract(page(under="<div class='info'>昨天 10:22</div>", body=PARAGRAPHS * 2,
                             after="<p>发布日期：2024-05-03 08:00</p>"))
    assert iso(extracted) == "2024-05-03T08:00:00+08:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年5月1日（星期三） 香港時間15時30分", "2024-05-01T15:30:00+08:00"),
        ("2024年5月1日 下午3:45", "2024-05-01T15:45:00+08:00"),
        ("2024年5月1日上午9时", "2024-05-01T09:00:00+08:00"),
        ("2024年5月1日晚上8点30分", "2024-05-01T20:30:00+08:00"),
        ("2024-05-01 12:30", "2024-05-01T12:30:00+08:00"),
    ],
)
def test_times_after_a_date(text: str, expected: str) -> None:
    """Times written after a date (zone words, 上午/下午, hour-only 9时) are read; 下午 and
    晚上 add 12 hours."""
    value = parse_zh_date(text, SHANGHAI, NOW)
    assert value is not None and value.isoformat() == expected


# --- 2. a time zone stated on the page --------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("美东时间 2024-05-01 14:00", "2024-05-02T02:00:00+08:00"),
        ("2024-05-01 09:00 (UTC)", "2024-05-01T17:00:00+08:00"),
        ("2024-05-01 09:00 GMT", "2024-05-01T17:00:00+08:00"),
        ("格林尼治时间2024年5月1日9时", "2024-05-01T17:00:00+08:00"),
        ("北京时间2024年5月1日10:00", "2024-05-01T10:00:00+08:00"),
        ("东京时间 2024-05-01 10:00", "2024-05-01T09:00:00+08:00"),
        ("2024-01-15 14:00（美国东部时间）", "2024-01-16T03:00:00+08:00"),
        ("2024-05-01 09:00 UTC-5", "2024-05-01T22:00:00+08:00"),
    ],
)
def test_stated_zone_gives_the_same_instant(text: str, expected: str) -> None:
    """A zone word on the page (美东时间, UTC, 东京时间…) places the time in that zone; the
    result is the same instant, shown in the source's zone."""
    value = parse_zh_date(text, SHANGHAI, NOW)
    assert value is not None and value.astimezone(SHANGHAI).isoformat() == expected


def test_stated_zone_in_a_page_date_line() -> None:
    """``美东时间 2024-05-01 14:00`` under the headline is 2024-05-02 02:00 Beijing time."""
    extracted = extract(page(
        under="<div class='info'>美东时间 2024-05-01 14:00　来源：某某财经</div>"))
    assert iso(extracted) == "2024-05-02T02:00:00+08:00"


# --- 3. government formats --------------------------------------------------------------------

def test_minguo_labelled_date() -> None:
    """A labelled Taiwan (Minguo) date ``發布日期：113-05-01`` is 2024-05-01; the update date
    label does not win."""
    extracted = extract(page(under="<ul class='info'><li>發布日期：113-05-01</li>"
                                   "<li>更新日期：113-05-02</li><li>發布單位：行政院</li></ul>"))
    assert iso(extracted) == "2024-05-01T00:00:00+08:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("113年5月1日", "2024-05-01T00:00:00+08:00"),
        ("民國113年5月1日", "2024-05-01T00:00:00+08:00"),
        ("中華民國99年12月31日", "2010-12-31T00:00:00+08:00"),
        ("113-05-01 14:30", "2024-05-01T14:30:00+08:00"),
    ],
)
def test_minguo_forms_when_labelled(text: str, expected: str) -> None:
    """Minguo years (+1911) are read when the caller says the text is a labelled date."""
    value = parse_zh_date(text, SHANGHAI, NOW, minguo=True)
    assert value is not None and value.isoformat() == expected


def test_minguo_never_from_random_numbers() -> None:
    """Numbers that look like a Minguo date are not a date unless labelled or a date line."""
    assert parse_zh_date("第113-05-01号文件", SHANGHAI, NOW) is None
    assert parse_zh_date("113年5月1日", SHANGHAI, NOW) is None
    extracted = extract(page(
        body=PARAGRAPHS + "<p>依据第113年5月1日次会议决议执行，编号113-05-01。</p>"))
    assert extracted.published is None


def test_minguo_date_line_at_the_end() -> None:
    """A line that is only a Minguo date (``中華民國113年5月1日``) dates the page."""
    extracted = extract(page(after="<p>中華民國113年5月1日</p>"))
    assert iso(extracted) == "2024-05-01T00:00:00+08:00"


def test_english_release_footer() -> None:
    """``Ends/Wednesday, May 1, 2024`` with ``Issued at HKT 15:30`` on the next line dates an
    English release on a Chinese-site template."""
    body = "".join(f"<p>Paragraph {n}: The Government will continue to work with the trade to "
                   f"enhance the visitor experience, including more signage and new events.</p>"
                   for n in range(1, 5))
    extracted = extract(page(
        title="LCQ5: Measures to promote tourism",
        under="<p>Following is a question and a reply in the Legislative Council "
              "today (May 1):</p>",
        body=body, after="<p>Ends/Wednesday, May 1, 2024<br>Issued at HKT 15:30</p><p>NNNN</p>"))
    assert iso(extracted) == "2024-05-01T15:30:00+08:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("May 1, 2024", "2024-05-01T00:00:00+08:00"),
        ("Wednesday, 1 May 2024 15:30", "2024-05-01T15:30:00+08:00"),
        ("Sept. 3, 2023 at 3:45 PM", "2023-09-03T15:45:00+08:00"),
    ],
)
def test_english_month_names(text: str, expected: str) -> None:
    """English month-name dates parse, with an optional time (AM/PM)."""
    value = parse_zh_date(text, SHANGHAI, NOW)
    assert value is not None and value.isoformat() == expected


def test_split_header_date_above_the_headline() -> None:
    """Xinhuanet's header ``<em>2024</em><em>05</em>/<em>01</em> 10:22:33`` above the <h1>
    dates the page."""
    html = page().replace(
        "<h1>", "<div class='header-time'><span class='year'><em> 2024</em></span>"
                "<span class='day'><em> 05</em>/<em>01</em></span>"
                "<span class='time'> 10:22:33</span></div>"
                "<div class='source'>来源：新华网</div><h1>")
    assert iso(extract(html)) == "2024-05-01T10:22:33+08:00"


# --- 4. WeChat ----------------------------------------------------------------------------------

WECHAT = """<html><head><meta charset="utf-8">
<meta property="og:title" content="五一假期首日，全市重点景区客流平稳有序">
<meta property="og:site_name" content="微信公众平台">
<meta name="author" content="市文旅局">
<title>五一假期首日，全市重点景区客流平稳有序</title>
<script>var msg_title = '五一假期首日'.html(false);
var ct = "1714521600";
var publish_time = "2024-05-01" || "";</script>
</head><body id="activity-detail">
<div id="page-content" class="rich_media_area_primary">
<h1 class="rich_media_title" id="activity-name">五一假期首日，全市重点景区客流平稳有序</h1>
<div id="meta_content" class="rich_media_meta_list">
<span id="copyright_logo" class="rich_media_meta rich_media_meta_text meta_tag_text">原创</span>
BYLINE
<span class="rich_media_meta rich_media_meta_nickname" id="profileBt"><a>某某文旅</a></span>
<span class="rich_media_meta rich_media_meta_text"><em id="publish_time"
 class="rich_media_meta rich_media_meta_text"></em></span>
</div>
<div class="rich_media_content" id="js_content">PARAGRAPHS</div></div>
</body></html>"""


def wechat(byline: str) -> str:
    return WECHAT.replace("BYLINE", byline).replace("PARAGRAPHS", PARAGRAPHS)


def test_wechat_script_timestamp_dates_the_page() -> None:
    """WeChat's ``var ct = "1714521600"`` (Unix seconds) is the publish time when the page
    shows none: 2024-05-01 08:00 Beijing time."""
    extracted = extract(wechat(""))
    assert iso(extracted) == "2024-05-01T08:00:00+08:00"


def test_wechat_byline_beats_an_organisation_meta_author() -> None:
    """The author shown under a WeChat headline beats a meta author naming an organisation."""
    extracted = extract(wechat('<span class="rich_media_meta rich_media_meta_text">张小明</span>'))
    assert [p.name for p in extracted.authors] == ["张小明"]


def test_labelled_author_beats_an_organisation_meta_author() -> None:
    """``作者：张小明`` under the headline beats a meta author naming an organisation."""
    extracted = extract(wechat(
        '<span class="rich_media_meta rich_media_meta_text">作者：张小明</span>'))
    assert [p.name for p in extracted.authors] == ["张小明"]


def test_organisation_meta_author_stays_without_a_byline() -> None:
    """With no byline shown, the meta author is kept as before."""
    extracted = extract(wechat(""))
    assert [p.name for p in extracted.authors] == ["市文旅局"]


def test_script_date_is_not_read_from_unrelated_variables() -> None:
    """A script number that is no plausible timestamp (``var ct = "12"``) gives no date."""
    html = wechat("").replace('"1714521600"', '"12"').replace('"2024-05-01"', '""')
    assert extract(html).published is None


def test_taiwan_reporter_credit_with_place() -> None:
    """``記者林志明／臺北報導 2024年5月1日 下午3:45`` gives the reporter and 15:45."""
    extracted = extract(page(
        under="<div class='info'>記者林志明／臺北報導 2024年5月1日 下午3:45</div>"))
    assert [p.name for p in extracted.authors] == ["林志明"]
    assert iso(extracted) == "2024-05-01T15:45:00+08:00"
