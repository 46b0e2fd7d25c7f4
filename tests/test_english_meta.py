"""English pages: names, bylines, exact times, day/month orders and listing dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from feeds.extract.article import extract_article
from feeds.extract.dates import day_first_for, parse_english_date, parse_zh_date
from feeds.extract.metadata import split_names

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
PARAGRAPH = "<p>" + ("Officials said the plan, which had been under discussion for more than two "
                     "years, would be rolled out in phases. " * 3) + "</p>"


def page(byline: str = "", head: str = "", lang: str = "en") -> str:
    return (f"<html lang={lang}><head><title>Big story | Site</title>{head}</head><body>"
            f"<article><h1>Big story</h1><div class=meta>{byline}</div>{PARAGRAPH}{PARAGRAPH}"
            "</article></body></html>")


def authors(html: str) -> list[str]:
    extracted = extract_article(html, "http://x.test/a", timezone=SHANGHAI, now=NOW)
    return [p.name for p in extracted.authors]


def published(html: str, tz: ZoneInfo = SHANGHAI) -> datetime | None:
    return extract_article(html, "http://x.test/a", timezone=tz, now=NOW).published


# --- 1. names ----------------------------------------------------------------------------------

def test_meta_author_latin_name_is_one_person() -> None:
    """A meta author ``Jane Doe`` is one author, not ``Jane`` and ``Doe``."""
    assert authors(page(head='<meta name="author" content="Jane Doe">')) == ["Jane Doe"]


def test_meta_author_and_list_is_two_people() -> None:
    """``Jane Doe and John Roe`` in meta author is two authors, without an ``and``."""
    html = page(head='<meta name="author" content="Jane Doe and John Roe">')
    assert authors(html) == ["Jane Doe", "John Roe"]


@pytest.mark.parametrize(("value", "expected"), [
    ("Laura Chen, Maria Garcia and Tom O'Neill", ["Laura Chen", "Maria Garcia", "Tom O'Neill"]),
    ("Li Wei & Emma Stone", ["Li Wei", "Emma Stone"]),
    ("Jane Doe; John Roe", ["Jane Doe", "John Roe"]),
    ("张三 John Smith", ["张三", "John Smith"]),
    ("张三 李四", ["张三", "李四"]),
    ("张三、李四", ["张三", "李四"]),
    ("Peter Smith, Business reporter", ["Peter Smith"]),
    ("AT&T", ["AT&T"]),
])
def test_split_names_keeps_latin_names_whole(value: str, expected: list[str]) -> None:
    """Latin names split only at commas, semicolons, and, & and slashes; Han names at spaces."""
    assert split_names(value) == expected


# --- 2. exact time from <time datetime> ---------------------------------------------------------

def test_time_datetime_under_headline_gives_exact_instant() -> None:
    """``<time datetime=…Z>26 November 2026</time>`` gives 07:40 UTC, not midnight local."""
    html = page('<time datetime="2026-11-26T07:40:00Z">26 November 2026</time>')
    assert published(html) == datetime(2026, 11, 26, 7, 40, tzinfo=UTC)


def test_time_datetime_late_utc_keeps_its_day() -> None:
    """A 21:00 UTC story in a London site's zone stays on the 26th, at 21:00."""
    html = page('<time datetime="2026-11-26T21:00:00Z">26 November 2026</time>')
    assert published(html, LONDON) == datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


def test_itemprop_date_published_content_is_read() -> None:
    """``itemprop=datePublished`` with a ``content`` time beats the day-only text beside it."""
    html = page('<span itemprop="datePublished" content="2026-11-26T07:40:00+00:00">'
                "Nov 26, 2026</span>")
    assert published(html) == datetime(2026, 11, 26, 7, 40, tzinfo=UTC)


def test_time_of_related_story_is_not_taken() -> None:
    """A ``<time>`` in a related-stories list does not date the article shown above it."""
    html = page("Published 1 October 2026").replace(
        "</article>", '</article><aside><h2>Related</h2><ul><li><a href="/b">Other</a>'
        '<time datetime="2026-11-20T10:00:00Z">20 November</time></li></ul></aside>')
    assert published(html, LONDON) == datetime(2026, 10, 1, tzinfo=LONDON)


def test_english_time_with_pm_and_zone() -> None:
    """``May 1, 2024 3:45 PM EDT`` is 15:45 at -04:00 (it was read as 03:45 local)."""
    assert parse_zh_date("May 1, 2024 3:45 PM EDT", SHANGHAI, NOW) == \
        datetime(2024, 5, 1, 15, 45, tzinfo=timezone(timedelta(hours=-4)))


# --- 3. day.month.year and the 5/1/2024 question -------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("15.10.2026", datetime(2026, 10, 15, tzinfo=LONDON)),
    ("01.05.2024", datetime(2024, 5, 1, tzinfo=LONDON)),
    ("01.05.2024 14:30", datetime(2024, 5, 1, 14, 30, tzinfo=LONDON)),
    ("25/12/2024", datetime(2024, 12, 25, tzinfo=LONDON)),
    ("12/25/2024", datetime(2024, 12, 25, tzinfo=LONDON)),
])
def test_day_month_year_is_read(text: str, expected: datetime) -> None:
    """Dotted dates are day first; a slashed date with only one possible reading is read."""
    assert parse_zh_date(text, LONDON, NOW) == expected


def test_ambiguous_slashed_date_needs_a_language() -> None:
    """``5/1/2024`` is unread without a hint, 1 May for en-US, 5 January for en-GB."""
    assert parse_zh_date("5/1/2024", LONDON, NOW) is None
    assert parse_zh_date("5/1/2024", LONDON, NOW, day_first=False) == \
        datetime(2024, 5, 1, tzinfo=LONDON)
    assert parse_zh_date("5/1/2024", LONDON, NOW, day_first=True) == \
        datetime(2024, 1, 5, tzinfo=LONDON)


@pytest.mark.parametrize(("language", "expected"), [
    ("en-US", False), ("en_us", False), ("en-GB", True), ("en-IN", True), ("de", True),
    ("fr-FR", True), ("en", None), (None, None), ("", None),
])
def test_day_first_for_language(language: str | None, expected: bool | None) -> None:
    """Only the US (and a few regions) writes the month first; a bare ``en`` is undecided."""
    assert day_first_for(language) is expected


def test_page_language_orders_slashed_date() -> None:
    """An en-US page's ``5/1/2024`` is 1 May; an en-GB page's is 5 January."""
    assert published(page("Posted 5/1/2024", lang="en-US"), LONDON) == \
        datetime(2024, 5, 1, tzinfo=LONDON)
    assert published(page("Posted 5/1/2024", lang="en-GB"), LONDON) == \
        datetime(2024, 1, 5, tzinfo=LONDON)


def test_dotted_date_on_article_page() -> None:
    """A press release dated ``15.10.2026`` under its headline gets that day."""
    assert published(page("15.10.2026"), LONDON) == datetime(2026, 10, 15, tzinfo=LONDON)


def test_version_number_is_no_date() -> None:
    """``v1.2.2024`` is a version, not 1 February."""
    assert parse_zh_date("release v1.2.2024", LONDON, NOW) is None


# --- 4. English bylines --------------------------------------------------------------------------

@pytest.mark.parametrize(("byline", "expected"), [
    ("By Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
    ('<span class="author">By Jane Doe and John Roe</span>', ["Jane Doe", "John Roe"]),
    ('Written by <a rel="author" href="/u/li">Li Wei</a> &amp; '
     '<a rel="author" href="/u/emma">Emma Stone</a>', ["Li Wei", "Emma Stone"]),
    ('<span class="author">Jane Doe</span>', ["Jane Doe"]),
    ('<a rel="author" href="/u/j">Jane Doe</a>', ["Jane Doe"]),
    ("By Peter Smith, Business reporter · 3 hours ago", ["Peter Smith"]),
    ("By Laura Chen, Maria Garcia and Tom O'Neill", ["Laura Chen", "Maria Garcia", "Tom O'Neill"]),
    ("By Jane Doe May 1, 2024", ["Jane Doe"]),
    ("By Jane Doe Updated Monday", ["Jane Doe"]),
    ("By the Press Office", []),
])
def test_english_byline(byline: str, expected: list[str]) -> None:
    """English credits under the headline name their authors, roles and desks left out."""
    assert authors(page(byline)) == expected


def test_json_ld_author_string_with_and_is_two_people() -> None:
    """A JSON-LD author string ``Jane Doe and John Roe`` is two authors."""
    html = page(head='<script type="application/ld+json">{"@type":"NewsArticle",'
                     '"author":"Jane Doe and John Roe"}</script>')
    assert authors(html) == ["Jane Doe", "John Roe"]


def test_comment_authors_are_not_authors() -> None:
    """A ``comment-author`` in the comments is a reader, not the article's author."""
    html = page("").replace(
        "</article>", '</article><section id="comments"><div class="comment-author">'
        "Mike Tyson</div><p>Great piece.</p></section>")
    assert authors(html) == []


def test_lowercase_user_name_stays_a_name() -> None:
    """A lone lowercase user name (``kingname``) is still a name."""
    assert split_names("kingname") == ["kingname"]


# --- 5. English listing dates --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("3 hours ago", NOW - timedelta(hours=3)),
    ("15 minutes ago", NOW - timedelta(minutes=15)),
    ("an hour ago", NOW - timedelta(hours=1)),
    ("2 days ago", NOW - timedelta(days=2)),
    ("5h ago", NOW - timedelta(hours=5)),
    ("just now", NOW),
    ("yesterday", datetime(2026, 11, 25, tzinfo=LONDON)),
    ("Yesterday at 3:45 pm", datetime(2026, 11, 25, 15, 45, tzinfo=LONDON)),
    ("May 1, 2024", datetime(2024, 5, 1, tzinfo=LONDON)),
    ("1 May 2024", datetime(2024, 5, 1, tzinfo=LONDON)),
    ("Nov 26, 2026", datetime(2026, 11, 26, tzinfo=LONDON)),
    ("15.10.2026", datetime(2026, 10, 15, tzinfo=LONDON)),
    ("2026-11-26T09:15:00Z", datetime(2026, 11, 26, 9, 15, tzinfo=UTC)),
])
def test_parse_english_date(text: str, expected: datetime) -> None:
    """Listing dates as English sites write them, relative ones counted from ``now``."""
    assert parse_english_date(text, LONDON, NOW) == expected


def test_parse_english_date_yesterday_in_source_zone() -> None:
    """``yesterday`` is the day before ``now`` in the source's zone (Shanghai is on the 27th)."""
    assert parse_english_date("yesterday", SHANGHAI, NOW) == \
        datetime(2026, 11, 26, tzinfo=SHANGHAI)


def test_parse_english_date_without_relative_and_nothing() -> None:
    """``relative=False`` skips ``3 hours ago``; text without a date gives None."""
    assert parse_english_date("3 hours ago", LONDON, NOW, relative=False) is None
    assert parse_english_date("58 comments", LONDON, NOW) is None
    assert parse_english_date("5/1/2024", LONDON, NOW) is None


def test_relative_english_date_on_byline_line() -> None:
    """``By Staff · 3 hours ago`` under the headline dates the article 3 hours before now."""
    assert published(page("By Staff · 3 hours ago")) == NOW - timedelta(hours=3)


@pytest.mark.parametrize(("line", "expected"), [
    ("Updated 26 November 2026 · Published 25 November 2026", "2026-11-25T00:00:00+00:00"),
    ("Published: 25 November 2026 10:00 | Last updated: 26 November 2026",
     "2026-11-25T10:00:00+00:00"),
    ("Posted on May 1, 2024", "2024-05-01T00:00:00+01:00"),
])
def test_an_english_publish_label_beats_an_update_label(line: str, expected: str) -> None:
    """Under the headline, "Published"/"Posted" dates the article even when an "Updated"
    date comes first, as 发布时间 beats 更新时间 on Chinese pages."""
    prose = "<p>" + "The council said on Monday that the plan would bring more buses. " * 5 + "</p>"
    html = (f"<html><head><title>Bus plan - Example News</title></head><body><h1>Bus plan</h1>"
            f"<div class='meta'>{line}</div><div class='body'>{prose}{prose}</div></body></html>")
    extracted = extract_article(html, "https://news.example.com/a",
                                timezone=LONDON, now=datetime(2026, 11, 26, 12, tzinfo=UTC))
    assert extracted.published is not None
    assert extracted.published.isoformat() == expected
