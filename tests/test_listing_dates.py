"""Listing dates without a year or a time: ``(05-01)``, ``[05-01]``, ``05/01``, ``5/1``,
``24-05-01``, read in the source's zone as the most recent such day, never as fractions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from feeds.config import ItemRules
from feeds.sources.page import parse_listing, parse_listing_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
MAY_1 = datetime(2024, 5, 1, tzinfo=SHANGHAI)


@pytest.mark.parametrize("text", [
    "(05-01)", "[05-01]", "05/01", "5/1", "24-05-01", "（05-01）", "【5-1】", " 05-01 ",
    "05-01 来源：新华社", "发布时间：05-01 来源：新华社", "日期:5/1", "阅读(05-01)",
])
def test_short_listing_dates(text: str) -> None:
    """Month-day (and two-digit-year) dates as listings print them are that day, local."""
    assert parse_listing_date(text, SHANGHAI, NOW) == MAY_1


JAN_10 = datetime(2024, 1, 10, 4, 0, tzinfo=UTC)
APR_30 = datetime(2024, 4, 30, 17, 0, tzinfo=UTC)  # already 1 May 01:00 in Shanghai


@pytest.mark.parametrize(("now", "text", "chinese", "expected"), [
    # Early January: December is last year's; tomorrow is this year's (a day's grace).
    (JAN_10, "12-30", "12月30日", datetime(2023, 12, 30)),
    (JAN_10, "(01-11)", "1月11日", datetime(2024, 1, 11)),
    (JAN_10, "[01/12]", "1月12日", datetime(2023, 1, 12)),
    # The source's day counts, not UTC's.
    (APR_30, "5/2", "5月2日", datetime(2024, 5, 2)),
    (APR_30, "5/3", "5月3日", datetime(2023, 5, 3)),
    # The most recent 29 February, not none at all.
    (datetime(2025, 3, 1, 4, 0, tzinfo=UTC), "02-29", "2月29日", datetime(2024, 2, 29)),
])
def test_short_dates_are_the_most_recent_such_day(now: datetime, text: str, chinese: str,
                                                  expected: datetime) -> None:
    """A year-less date is the latest such day not more than a day ahead, as 5月1日 is."""
    wanted = expected.replace(tzinfo=SHANGHAI)
    assert parse_listing_date(text, SHANGHAI, now) == wanted
    assert parse_listing_date(chinese, SHANGHAI, now) == wanted


@pytest.mark.parametrize("text", [
    "1/2的人认为", "第1/2页", "2024-05", "第2024-05期", "比分3-1", "评论 12 5/1 阅读",
    "13-01", "02-30", "v1.2.3", "1.5", "24-5/1", "3-1战胜对手",
])
def test_numbers_that_are_not_dates(text: str) -> None:
    """Fractions, scores, year-months and versions inside text are not read as dates."""
    assert parse_listing_date(text, SHANGHAI, NOW) is None


def test_detected_listing_items_get_their_short_dates() -> None:
    """Automatic detection dates each row by its (05-01) and ignores a 1/2 in a title."""
    rows = "".join(
        f'<li><a href="/b/b{n}.html">{title}</a> <span>(05-0{n})</span></li>'
        for n, title in enumerate(["青岛港澳工作会议召开今日举行",
                                   "调查显示1/2的市民支持新航线开通",
                                   "臺灣同胞在青島投資興業記"], 1)
    )
    rows += '<li><a href="/b/b9.html">青岛港新闻一则无日期的报道 3/4</a></li>'
    html = f'<html><body><ul class="news-list">{rows}</ul></body></html>'
    listing = parse_listing(html, "http://example.cn/b/", rules=None, tz=SHANGHAI, now=NOW,
                            allow_file=False)
    dates = {item.url.rsplit("/", 1)[-1]: item.date for item in listing.items}
    assert dates == {"b1.html": datetime(2024, 5, 1, tzinfo=SHANGHAI),
                     "b2.html": datetime(2024, 5, 2, tzinfo=SHANGHAI),
                     "b3.html": datetime(2024, 5, 3, tzinfo=SHANGHAI),
                     "b9.html": None}


def test_rules_date_selector_reads_short_dates() -> None:
    """A date selector on [05/01] cells gives dated items."""
    html = ('<html><body><table class="lb">'
            '<tr><td><a href="/a/1.htm">青岛市召开全市港澳工作会议</a></td><td>[05/01]</td></tr>'
            '<tr><td><a href="/a/2.htm">关于做好2024年港澳工作的通知</a></td><td>[4/30]</td></tr>'
            "</table></body></html>")
    rules = ItemRules(each="table.lb tr", link="a@href", title="a", date="td:nth-child(2)")
    listing = parse_listing(html, "http://example.cn/a/", rules=rules, tz=SHANGHAI, now=NOW,
                            allow_file=False)
    assert [item.date for item in listing.items] == [
        MAY_1, datetime(2024, 4, 30, tzinfo=SHANGHAI)]
