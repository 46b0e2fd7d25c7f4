"""Feed dates: the plain RFC 822 reader gives what the email module's parser gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from feedparser.datetimes import _parse_date

from feeds.extract import dates
from feeds.extract.dates import parse_feed_date

TZS = [UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/Chicago")]


def general_rfc822(text: str, tz: ZoneInfo | timezone) -> datetime | None:
    """The general path parse_feed_date takes for RFC 822 text."""
    if text.endswith("-0000"):
        text = text[:-5] + "+0000"
    return dates._feed_rfc822(text, tz)


def test_plain_rfc822_matches_the_email_module() -> None:
    """Every date the plain reader accepts equals the general reading, offset included."""
    rng = random.Random(5)
    accepted = 0
    for _ in range(20000):
        text = " ".join([
            rng.choice(["Mon,", "Wed,", "", "Wed", "Xyz,", "wed,"]),
            rng.choice(["1", "01", "31", "30", "0"]),
            rng.choice(["Jan", "May", "Feb", "may", "September"]),
            rng.choice(["2024", "1969", "0000", "99"]),
            f"{rng.choice(['08', '24', '23', '8'])}:{rng.choice(['00', '59', '60'])}:"
            f"{rng.choice(['00', '59', '60'])}",
            rng.choice(["+0000", "-0000", "+0800", "-0530", "+2400", "+0099", "GMT", "UTC",
                        "UT", "Z", "EST", "CST", "", "+08:00"]),
        ]).strip()
        fast = dates._plain_rfc822(text)
        if fast is None:
            continue
        accepted += 1
        general = general_rfc822(text, rng.choice(TZS))
        assert general is not None and fast.isoformat() == general.isoformat(), text
    assert accepted > 150


def test_feed_dates() -> None:
    """Common feed forms: RFC 822 with offsets or GMT, RFC 3339, local times in the source zone."""
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_feed_date("Wed, 01 May 2024 08:00:00 +0800", None, UTC) == datetime(
        2024, 5, 1, tzinfo=UTC)
    assert parse_feed_date(" Wed, 01 May 2024 08:00:00 GMT ", None, shanghai) == datetime(
        2024, 5, 1, 8, tzinfo=UTC)
    assert parse_feed_date("01 May 2024 08:00:00 -0000", None, shanghai).utcoffset() == (  # type: ignore[union-attr]
        timedelta(0))
    assert parse_feed_date("Wed, 31 Feb 2024 08:00:00 +0000", None, UTC) is None
    assert parse_feed_date("2024-05-01 08:00:00", None, shanghai) == datetime(
        2024, 5, 1, 8, tzinfo=shanghai)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2024年5月1日 08:00", "2024-05-01T08:00:00+08:00"),
    ("2024年05月01日 08:00:00", "2024-05-01T08:00:00+08:00"),
    ("2024年5月1日", "2024-05-01T00:00:00+08:00"),
    ("2024-5-1 8:00:00", "2024-05-01T08:00:00+08:00"),
    ("2024-05-01 8:00", "2024-05-01T08:00:00+08:00"),
    ("2021/06/07 10:22:00", "2021-06-07T10:22:00+08:00"),
    ("2024-05-01 08:00:00 +0000", "2024-05-01T08:00:00+00:00"),
    ("２０２４年５月１日 ８：００", "2024-05-01T08:00:00+08:00"),
])
def test_chinese_cms_feed_dates_are_local_time(raw: str, expected: str) -> None:
    """Dates old Chinese CMSes write in feeds (年月日, one-digit parts, slashes) are read
    in the source's zone; feedparser read them as UTC or as another day."""
    shanghai = ZoneInfo("Asia/Shanghai")
    reading = _parse_date(raw)
    value = parse_feed_date(raw, reading, shanghai)
    assert value is not None and value.isoformat() == expected


def test_an_impossible_feed_date_is_none_not_another_date() -> None:
    """2021/13/07 has no 13th month: no date, rather than feedparser's guess."""
    raw = "2021/13/07"
    assert parse_feed_date(raw, _parse_date(raw), ZoneInfo("Asia/Shanghai")) is None
