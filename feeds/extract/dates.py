"""Dates: every result is timezone-aware; local times get the source's time zone."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo


def aware(value: datetime, tz: tzinfo) -> datetime:
    """``value`` with ``tz`` attached if it has no offset of its own."""
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def parse_feed_date(
    raw: str | None,
    parsed: time.struct_time | Callable[[], time.struct_time | None] | None,
    tz: tzinfo,
) -> datetime | None:
    """The date of a feed element.

    feedparser normalises every date to UTC and silently assumes UTC when the feed gives no
    offset; a Chinese feed writing ``2021-06-07 10:22:00`` means Beijing time, so a date
    without an offset is read in the source's time zone instead. ``parsed`` (feedparser's
    reading) is the fallback; a callable is called only when that fallback is needed.
    """
    if raw:
        text = raw.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            value = None
        if value is None:
            value = _plain_rfc822(text)  # the commonest form, and the cheapest test
        if value is None:
            digits = text.translate(_DIGITS)
            if _ABSOLUTE.fullmatch(digits):
                # 2021/06/07 10:22, 2024-5-1 8:00:00, 2024年5月1日 08:00: local time unless
                # an offset follows. feedparser reads these as UTC or as another date
                # (2024年5月1日 became 1 November), so its reading is never taken: an
                # impossible 2021/13/07 is None.
                local = _absolute(digits, tz, datetime.now(UTC))
                return _plausible(local) if local is not None else None
        if value is None:
            if text.endswith("-0000"):
                text = text[:-5] + "+0000"  # RFC 2822 "unknown zone"; feeds mean UTC by it
            value = _feed_rfc822(text, tz)
        if value is not None:
            return _plausible(aware(value, tz))
    if callable(parsed):
        parsed = parsed()
    if parsed is not None:
        try:
            return _plausible(datetime(*parsed[:6], tzinfo=UTC))
        except (ValueError, OverflowError):
            return None
    return None


_FEED_ZONE_NAME = re.compile(r"\s([A-Z]{3,5})$")


# RFC 822 as most RSS feeds write it, read without the email module's general parser.
_PLAIN_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) "
    r"(?:([+-])(\d\d)(\d\d)|GMT|UTC|UT|Z)\Z"
)
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def _plain_rfc822(text: str) -> datetime | None:
    """What :func:`email.utils.parsedate_to_datetime` gives for the plain form, else None (the
    general path then decides, also on out-of-range values). "-0000" means UTC here."""
    match = _PLAIN_RFC822.match(text)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    offset = 0
    if sign is not None:
        offset = int(zone_hours) * 3600 + int(zone_minutes) * 60
        if sign == "-":
            offset = -offset
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute),
                        int(second), tzinfo=timezone(timedelta(seconds=offset)))
    except ValueError:
        return None


def _feed_rfc822(text: str, tz: tzinfo) -> datetime | None:
    """RFC 822. A zone abbreviation is ambiguous (CST is Beijing time on a Chinese feed and
    Chicago time to the email module): the source zone's own abbreviation means that zone."""
    zone = _FEED_ZONE_NAME.search(text)
    try:
        if zone and zone.group(1) not in ("GMT", "UTC", "UT"):
            local = email.utils.parsedate_to_datetime(text[: zone.start()])
            if local.tzinfo is None and tz.tzname(local) == zone.group(1):
                return local.replace(tzinfo=tz)
        # Without a zone it comes back naive and gets the source's zone.
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _plausible(value: datetime) -> datetime | None:
    """Drop dates no publisher means (year 1 placeholders, far future)."""
    if value.year < 1970 or value.year > 2200:
        return None
    return value


# --- Dates as Chinese pages write them -------------------------------------------------------
#
# Like feedparser, one small pure function per format, tried in turn. Each takes the text, the
# source's time zone and ``now`` and returns an aware datetime or None. Local times (the usual
# case: ``2021-06-07 10:22:00`` means Beijing time) get ``tz``.

ZhDateParser = Callable[[str, tzinfo, datetime], "datetime | None"]

_DIGITS = str.maketrans("０１２３４５６７８９：－／", "0123456789:-/")
# 2021-06-07 10:22:00, 2021/6/7 10:22, 2021.06.07, 2021年06月07日 10:22, 2021年6月7日 10时22分
_ABSOLUTE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)\s*日?"
    r"(?:\s*(?:T|\s)?\s*(\d{1,2})\s*(?::|时|時|点|點)\s*(\d{1,2})"
    r"(?:\s*(?::|分)\s*(\d{1,2})(?:\.\d+)?)?\s*秒?)?"
    r"(?:\s*(Z|[+-]\d\d:?\d\d)(?!\d))?"
)
# 06-07 10:22 and 6月7日 10:22 (no year: the latest such date not after ``now``)
_NO_YEAR = re.compile(
    r"(?<![\d.\-/年])(\d{1,2})\s*(?:-|/|月)\s*(\d{1,2})(?!\d)\s*日?\s+(\d{1,2})\s*[:：]\s*(\d{2})(?!\d)"
)
_RELATIVE = re.compile(
    r"(\d+|半|一|两|兩|几|幾)\s*(秒|分钟|分鐘|分|个?小时|個?小時|天|日|周|週|星期|个?月|個?月|年)\s*前"
)
_NUMBERS = {"半": 0.5, "一": 1, "两": 2, "兩": 2, "几": 3, "幾": 3}
_UNITS = {
    "秒": 1, "分钟": 60, "分鐘": 60, "分": 60, "小时": 3600, "小時": 3600, "天": 86400,
    "日": 86400, "周": 604800, "週": 604800, "星期": 604800, "月": 30 * 86400, "年": 365 * 86400,
}
_JUST_NOW = re.compile(r"刚刚|剛剛|刚才|剛才")
_DAY_WORDS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}
_NAMED_DAY = re.compile(r"(今天|今日|昨天|昨日|前天)\s*(?:(\d{1,2})\s*[:：]\s*(\d{2}))?")


def _iso(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """ISO 8601 as in meta tags and JSON-LD: ``2021-06-07T10:22:00+08:00``."""
    candidate = text.strip()
    if not candidate[:4].isdigit():
        return None
    try:
        value = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError:
        return None
    return aware(value, tz)


def _absolute(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """Year-month-day with an optional time, in digits or with 年月日; no time is midnight."""
    match = _ABSOLUTE.search(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0))
    except ValueError:
        return None
    if offset:
        zone = offset if offset == "Z" else offset[:3] + ":" + offset[-2:]
        try:
            return datetime.fromisoformat(value.isoformat() + zone.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value.replace(tzinfo=tz)


def _rfc822(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``Mon, 07 Jun 2021 10:22:00 +0800`` (meta tags of some CMSs)."""
    if not re.search(r"[A-Za-z]{3},? \d", text):
        return None
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return aware(value, tz)


def _relative(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``3小時前``, ``5分钟前``, ``2天前``: counted back from ``now``."""
    match = _RELATIVE.search(text)
    if match is None:
        return None
    count, unit = match.groups()
    number = _NUMBERS[count] if count in _NUMBERS else int(count)
    seconds = _UNITS[unit.lstrip("个個")] * number
    return now.astimezone(tz) - timedelta(seconds=seconds)


def _just_now(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``刚刚`` (just now)."""
    return now.astimezone(tz) if _JUST_NOW.search(text) else None


def _named_day(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``昨天 10:22``, ``今天 08:00``, ``前天``: a day named relative to ``now``, local time."""
    match = _NAMED_DAY.search(text)
    if match is None:
        return None
    word, hour, minute = match.groups()
    day = now.astimezone(tz).date() - timedelta(days=_DAY_WORDS[word])
    try:
        return datetime(day.year, day.month, day.day, int(hour or 0), int(minute or 0),
                        tzinfo=tz)
    except ValueError:
        return None


def _no_year(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``06-07 10:22`` / ``6月7日 10:22``: this year, or last year if that is in the future."""
    match = _NO_YEAR.search(text)
    if match is None:
        return None
    month, day, hour, minute = (int(g) for g in match.groups())
    local_now = now.astimezone(tz)
    for year in (local_now.year, local_now.year - 1):
        try:
            value = datetime(year, month, day, hour, minute, tzinfo=tz)
        except ValueError:
            return None
        if value <= local_now + timedelta(days=1):
            return value
    return None


# Tried in this order; absolute forms first so "发布于 2021-06-07（3天前）" keeps its day.
ZH_DATE_PARSERS: list[ZhDateParser] = [
    _iso, _absolute, _rfc822, _relative, _just_now, _named_day, _no_year,
]


def parse_zh_date(text: str | None, tz: tzinfo, now: datetime | None = None) -> datetime | None:
    """The first date found in ``text`` (a date line, meta tag or JSON-LD value), aware.

    ``发布时间：2021-06-07 10:22``, ``2021年6月7日``, ``3小時前``, ``昨天 10:22``, ``刚刚``,
    ISO 8601 and RFC 822 are understood; relative forms count from ``now`` (default: the
    current time).
    """
    if not text:
        return None
    normalized = text.translate(_DIGITS).strip()
    if not normalized:
        return None
    reference = now if now is not None else datetime.now(UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=tz)
    for parser in ZH_DATE_PARSERS:
        value = parser(normalized, tz, reference)
        if value is not None:
            return _plausible(value)
    return None
