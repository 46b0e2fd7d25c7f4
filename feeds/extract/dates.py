"""Dates: every result is timezone-aware; local times get the source's time zone."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo


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

# Zones pages state beside a time (``美东时间 2024-05-01 14:00``, ``09:00 (UTC)``): an IANA name
# (daylight saving applies), or None for words that name no zone we can know (当地时间).
ZONE_NAMES: dict[str, str | None] = {
    **dict.fromkeys(("北京时间", "北京時間", "台北时间", "台北時間", "臺北時間", "香港时间",
                     "香港時間", "澳门时间", "澳門時間", "新加坡时间", "新加坡時間", "HKT"),
                    "Asia/Shanghai"),
    **dict.fromkeys(("东京时间", "東京時間", "日本时间", "日本時間", "首尔时间", "首爾時間",
                     "韩国时间", "韓國時間", "JST", "KST"), "Asia/Tokyo"),
    **dict.fromkeys(("美东时间", "美東時間", "美国东部时间", "美國東部時間", "纽约时间",
                     "紐約時間", "华盛顿时间", "華盛頓時間"), "America/New_York"),
    **dict.fromkeys(("美国中部时间", "美國中部時間", "芝加哥时间"), "America/Chicago"),
    **dict.fromkeys(("美西时间", "美西時間", "美国西部时间", "美國西部時間", "太平洋时间",
                     "太平洋時間", "洛杉矶时间", "洛杉磯時間", "旧金山时间", "舊金山時間"),
                    "America/Los_Angeles"),
    **dict.fromkeys(("格林尼治时间", "格林尼治時間", "格林威治时间", "格林威治時間",
                     "协调世界时", "協調世界時", "世界标准时间", "UTC", "GMT"), "UTC"),
    **dict.fromkeys(("伦敦时间", "倫敦時間", "英国时间", "英國時間"), "Europe/London"),
    **dict.fromkeys(("巴黎时间", "巴黎時間", "柏林时间", "柏林時間", "布鲁塞尔时间",
                     "布魯塞爾時間", "欧洲中部时间", "歐洲中部時間", "CET", "CEST"),
                    "Europe/Paris"),
    **dict.fromkeys(("莫斯科时间", "莫斯科時間"), "Europe/Moscow"),
    **dict.fromkeys(("新德里时间", "新德里時間", "印度时间", "印度時間"), "Asia/Kolkata"),
    **dict.fromkeys(("悉尼时间", "悉尼時間", "雪梨時間"), "Australia/Sydney"),
    **dict.fromkeys(("当地时间", "當地時間"), None),
}
_ZONE_WORD = "|".join(re.escape(w) for w in sorted(ZONE_NAMES, key=len, reverse=True))
# 下午3:45 is 15:45; 上午/凌晨 keep the hour.
_HALF_DAY = {"下午": 12, "晚上": 12, "晚间": 12, "晚間": 12, "傍晚": 12, "夜间": 12,
             "夜間": 12, "中午": 12, "上午": 0, "早上": 0, "早晨": 0, "凌晨": 0, "清晨": 0}
_HALF_DAY_WORD = "|".join(_HALF_DAY)
_WEEKDAY = r"(?:[（(]\s*(?:星期|週|周|礼拜|禮拜)[一二三四五六日天]\s*[)）])"
# The time after a date: ``10:22:00``, ``10时22分``, ``香港時間15時30分``, ``下午3:45``,
# ``上午9时``.
_TIME = (
    rf"(?:\s*(?:T|\s)?\s*(?:(?P<zone2>{_ZONE_WORD})\s*)?(?P<half>{_HALF_DAY_WORD})?\s*"
    r"(?P<hour>\d{1,2})\s*(?:(?::|时|時|点|點)\s*(?P<minute>\d{1,2})"
    r"(?:\s*(?::|分)\s*(?P<second>\d{1,2})(?:\.\d+)?)?\s*[分秒]?|[时時点點](?!\s*\d)))?"
)
# An offset or a zone after the time: ``+08:00``, ``(UTC)``, ``UTC+8``, ``（北京时间）``.
_AFTER = (
    r"(?:\s*(?P<offset>Z|[+-]\d\d:?\d\d)(?!\d))?"
    rf"(?:\s*[（(]?\s*(?P<zone3>{_ZONE_WORD})(?:\s*(?P<zone_offset>[+-]\d{{1,2}}(?::?\d\d)?)"
    r"(?!\d))?\s*[)）]?)?"
)
# 2021-06-07 10:22:00, 2021/6/7 10:22, 2021.06.07, 2021年06月07日 10:22, 2021年6月7日 10时22分,
# 美东时间 2024-05-01 14:00, 2024年5月1日（星期三）香港時間15時30分
_ABSOLUTE = re.compile(
    rf"(?:(?P<zone1>{_ZONE_WORD})\s*[:：]?\s*)?"
    r"(?<!\d)(?P<year>(?:19|20)\d\d)\s*(?:[-/.]|年)\s*(?P<month>\d{1,2})\s*(?:[-/.]|月)\s*"
    rf"(?P<day>\d{{1,2}})(?!\d)\s*日?(?:\s*{_WEEKDAY})?" + _TIME + _AFTER
)
# Xinhuanet's split header: ``<em>2024</em><em>05</em>/<em>01</em> 10:22:33`` reads
# ``2024 05 / 01 10:22:33``; only with a time, so a bare ``2024 05/01`` is no date.
_SPLIT_YEAR = re.compile(
    r"(?<![\d.])(?P<year>20\d\d)\s+(?P<month>\d{1,2})\s*[/-]\s*(?P<day>\d{1,2})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d\d)(?::(?P<second>\d\d))?(?!\d)"
)
# Taiwan (Minguo) years: ``113-05-01``, ``113年5月1日``, ``民國113年5月1日`` (year + 1911). Read
# only where the caller knows the text is a date (after a label, on a date line): otherwise a
# document number would do. Two-digit years only with the era name (``24-05-01`` is 2024).
_MINGUO = re.compile(
    r"^\s*(?:(?P<era>(?:中華|中华)?(?:民國|民国))\s*(?P<short>\d{2,3})|(?P<year>1\d\d))"
    r"\s*(?:[-/.]|年)\s*(?P<month>\d{1,2})\s*(?:[-/.]|月)\s*(?P<day>\d{1,2})(?!\d)\s*日?"
    rf"(?:\s*{_WEEKDAY})?" + _TIME + _AFTER
)
# Zone abbreviations US, British and Australian pages write after a time (``3:45 PM EDT``).
# Read only right after an English time: elsewhere ``EST`` could be part of a word. A standard
# or daylight name is its fixed offset (as RFC 822 has it); ``ET``/``PT`` follow the season.
# ``CST`` and ``IST`` are left out: China/Central and India/Ireland/Israel.
EN_ZONE_NAMES: dict[str, tzinfo] = {
    "EST": timezone(timedelta(hours=-5)), "EDT": timezone(timedelta(hours=-4)),
    "CDT": timezone(timedelta(hours=-5)), "MST": timezone(timedelta(hours=-7)),
    "MDT": timezone(timedelta(hours=-6)), "PST": timezone(timedelta(hours=-8)),
    "PDT": timezone(timedelta(hours=-7)), "BST": timezone(timedelta(hours=1)),
    "AEST": timezone(timedelta(hours=10)), "AEDT": timezone(timedelta(hours=11)),
    "ET": ZoneInfo("America/New_York"), "CT": ZoneInfo("America/Chicago"),
    "MT": ZoneInfo("America/Denver"), "PT": ZoneInfo("America/Los_Angeles"),
}
_EN_ZONE_WORD = "|".join(sorted(EN_ZONE_NAMES, key=len, reverse=True))
_EN_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
             r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
# ``May 1, 2024``, ``Wednesday, 1 May 2024 15:30``, ``Sept. 3, 2023 at 3:45 PM``, ``HKT 15:30``.
_ENGLISH = re.compile(
    rf"(?:\b(?P<month1>{_EN_MONTH})\.?\s+(?P<day1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    rf"|\b(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month2>{_EN_MONTH})\.?,?\s+)"
    r"(?P<year>(?:19|20)\d\d)(?!\d)"
    rf"(?:\s*,?\s*(?:at\s+)?(?:(?P<zone2>{_ZONE_WORD})\s*)?(?P<hour>\d{{1,2}}):(?P<minute>\d\d)"
    r"(?::(?P<second>\d\d))?(?:\s*(?P<half>[AaPp])\.?[Mm]\.?(?![A-Za-z]))?"
    rf"(?:\s*\(?(?P<zone_en>{_EN_ZONE_WORD})\)?(?![A-Za-z]))?)?" + _AFTER
)
_EN_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
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


def _zone_of(match: re.Match[str], tz: tzinfo) -> tzinfo | None:
    """The zone a date match states (an offset, ``UTC+8``, a zone word), else ``tz``; None for
    an impossible offset."""
    groups = match.groupdict()
    offset = groups.get("offset") or groups.get("zone_offset")
    if offset:
        if offset == "Z":
            return UTC
        sign, digits = offset[0], offset[1:].replace(":", "")
        hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
        if int(hours) > 14 or int(minutes) > 59:
            return None
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    if groups.get("zone_en"):
        return EN_ZONE_NAMES[groups["zone_en"]]
    word = groups.get("zone1") or groups.get("zone2") or groups.get("zone3")
    name = ZONE_NAMES.get(word) if word else None
    return ZoneInfo(name) if name else tz


def _dated(match: re.Match[str], year: int, month: int, day: int, tz: tzinfo) -> datetime | None:
    """The datetime a date match gives: its time (上午/下午, AM/PM) in its stated zone or ``tz``."""
    groups = match.groupdict()
    hour = int(groups.get("hour") or 0)
    half = groups.get("half")
    if half:
        later = half.lower() == "p" or _HALF_DAY.get(half, 0) == 12
        if later and hour < (11 if half == "中午" else 12):
            hour += 12  # 下午3:45 is 15:45; 中午12时 stays 12
        elif half.lower() == "a" and hour == 12:
            hour = 0
    zone = _zone_of(match, tz)
    if zone is None:
        return None
    try:
        return datetime(year, month, day, hour, int(groups.get("minute") or 0),
                        int(groups.get("second") or 0), tzinfo=zone)
    except ValueError:
        return None


def _absolute(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """Year-month-day with an optional time, in digits or with 年月日; no time is midnight. A
    zone stated beside it (``美东时间``, ``(UTC)``, ``+08:00``) is the zone of the time."""
    match = _ABSOLUTE.search(text)
    if match is None:
        return None
    return _dated(match, int(match["year"]), int(match["month"]), int(match["day"]), tz)


def _split_year(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``2024 05/01 10:22:33``: a header that puts the year, the day and the time apart."""
    match = _SPLIT_YEAR.search(text)
    if match is None:
        return None
    return _dated(match, int(match["year"]), int(match["month"]), int(match["day"]), tz)


def _minguo(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``113-05-01``, ``民國113年5月1日`` at the start of ``text``: Taiwan's era, year + 1911."""
    match = _MINGUO.match(text)
    if match is None:
        return None
    year = int(match["short"] or match["year"]) + 1911
    return _dated(match, year, int(match["month"]), int(match["day"]), tz)


def _english(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``May 1, 2024``, ``1 May 2024 15:30``, ``Sept. 3, 2023 at 3:45 PM`` (English releases)."""
    match = _ENGLISH.search(text)
    if match is None:
        return None
    month = _EN_MONTHS[(match["month1"] or match["month2"])[:3].lower()]
    return _dated(match, int(match["year"]), month, int(match["day1"] or match["day2"]), tz)


# The RFC 822 shape: a day, a month name and a year before the time. ``May 1, 2024 3:45 PM``
# is English prose that the email module would read as 03:45: :func:`_english` reads it.
_RFC822_SHAPE = re.compile(r"(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d")


def _rfc822(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``Mon, 07 Jun 2021 10:22:00 +0800`` (meta tags of some CMSs)."""
    if not _RFC822_SHAPE.match(text.strip()):
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


# --- Numeric day/month orders ------------------------------------------------------------------
#
# ``15.10.2026`` is day.month.year wherever dots are written (Germany, Russia, much of Europe).
# ``5/1/2024`` is 5 January in Britain, India and most of the world but 1 May in the US: when
# both readings are real dates the page's language decides (see :func:`day_first_for`), and
# without a hint the date is not read at all, since a wrong date is worse than none (the
# caller then falls back to another date or to first_seen). A reading that is no date
# (``25/12/2024``, ``12/25/2024``) settles the order whatever the hint.
_DAY_MONTH_YEAR = re.compile(
    r"(?<![\w.:/-])(?P<first>\d{1,2})\s*(?P<sep>[./-])\s*(?P<then>\d{1,2})\s*(?P=sep)\s*"
    r"(?P<year>(?:19|20)\d\d)(?![\d]|[./-]\d)"
    r"(?:\s*,?\s*(?:at\s+|um\s+|à\s+)?(?P<hour>\d{1,2})[:.h](?P<minute>\d\d)(?!\d)"
    r"(?::(?P<second>\d\d))?(?:\s*(?P<half>[AaPp])\.?[Mm]\.?(?![A-Za-z]))?"
    rf"(?:\s*\(?(?P<zone_en>{_EN_ZONE_WORD})\)?(?![A-Za-z]))?)?" + _AFTER
)
# Regions that write the month first (``5/1/2024`` is 1 May): the US and a few others.
_MONTH_FIRST_REGIONS = frozenset({"us", "ph", "fm", "mh", "pw", "as", "gu", "mp", "um", "vi"})


def day_first_for(language: str | None) -> bool | None:
    """Whether ``5/1/2024`` means 5 January (True) or 1 May (False) on a page in
    ``language`` (a ``lang`` attribute or BCP 47 tag such as ``en-US``, ``en_GB``, ``de``).

    ``en-US`` (and the few other month-first regions) is month first; any other region and
    any other language is day first. A bare ``en`` (or no language) is None: English pages
    are written both ways (``lang="en"`` is as common in London as in New York), so such a
    date is left unread rather than guessed.
    """
    if not language:
        return None
    parts = re.split(r"[-_]", language.strip().lower())
    if parts[0] != "en":
        return bool(parts[0])
    region = next((p for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    if region is None:
        return None
    return region not in _MONTH_FIRST_REGIONS


def _day_month_year(text: str, tz: tzinfo, now: datetime,
                    day_first: bool | None = None) -> datetime | None:
    """``15.10.2026``, ``01.05.2024 14:30``, ``25/12/2024``, ``5/1/2024`` (with a hint)."""
    for match in _DAY_MONTH_YEAR.finditer(text):
        first, second = int(match["first"]), int(match["then"])
        as_day_first = 1 <= second <= 12 and 1 <= first <= 31
        as_month_first = 1 <= first <= 12 and 1 <= second <= 31
        if as_day_first and as_month_first and first != second:
            dotted = match["sep"] == "."
            order = True if dotted and day_first is not False else day_first
            if order is None:
                continue  # both readings are dates and nothing says which: not guessed
        else:
            order = as_day_first
            if not (as_day_first or as_month_first):
                continue
        day, month = (first, second) if order else (second, first)
        value = _dated(match, int(match["year"]), month, day, tz)
        if value is not None:
            return value
    return None


# --- English dates that count from now --------------------------------------------------------

_EN_COUNT = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
             "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a few": 3, "few": 3, "several": 3}
_EN_UNIT_SECONDS = (
    (r"s|secs?|seconds?", 1), (r"m|mins?|minutes?", 60), (r"h|hrs?|hours?", 3600),
    (r"d|days?", 86400), (r"w|wks?|weeks?", 604800), (r"mos?|months?", 30 * 86400),
    (r"y|yrs?|years?", 365 * 86400),
)
_EN_RELATIVE = re.compile(
    r"(?i)(?<![\w-])(?P<count>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"a few|few|several)\s*(?P<unit>"
    + "|".join(f"(?:{unit})" for unit, _ in _EN_UNIT_SECONDS) + r")\.?\s+ago\b"
)
_EN_NAMED_DAY = re.compile(
    r"(?i)\b(?P<word>today|yesterday)\b(?:\s*,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d\d)"
    r"(?:\s*(?P<half>[ap])\.?m\.?(?![a-z]))?)?"
)
_EN_JUST_NOW = re.compile(r"(?i)\b(?:just now|moments? ago|a moment ago)\b")


def _english_relative(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``3 hours ago``, ``15 mins ago``, ``an hour ago``, ``2d ago``: counted back from ``now``."""
    match = _EN_RELATIVE.search(text)
    if match is None:
        return None
    count = match["count"].lower()
    number = _EN_COUNT[count] if count in _EN_COUNT else int(count)
    unit = match["unit"].lower()
    seconds = next(s for pattern, s in _EN_UNIT_SECONDS if re.fullmatch(pattern, unit))
    return now.astimezone(tz) - timedelta(seconds=seconds * number)


def _english_named_day(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``yesterday``, ``Today at 10:22``, ``yesterday 3:45 pm``: local time, midnight if none."""
    match = _EN_NAMED_DAY.search(text)
    if match is None:
        return None
    day = now.astimezone(tz).date() - timedelta(days=match["word"].lower() == "yesterday")
    hour = int(match["hour"] or 0)
    half = (match["half"] or "").lower()
    if half == "p" and hour < 12:
        hour += 12
    elif half == "a" and hour == 12:
        hour = 0
    try:
        return datetime(day.year, day.month, day.day, hour, int(match["minute"] or 0), tzinfo=tz)
    except ValueError:
        return None


def _english_just_now(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    """``just now``, ``moments ago``."""
    return now.astimezone(tz) if _EN_JUST_NOW.search(text) else None


# Tried in this order; absolute forms first so "发布于 2021-06-07（3天前）" keeps its day.
ABSOLUTE_PARSERS: list[ZhDateParser] = [_iso, _absolute, _split_year, _english, _rfc822]
# Forms that count from ``now``: only a metadata line means them (``今日`` in a sentence is the
# day of the event, and the day the page is read is not the day it was published).
RELATIVE_PARSERS: list[ZhDateParser] = [_relative, _just_now, _named_day, _english_relative,
                                        _english_just_now, _english_named_day]


def parse_english_date(text: str | None, tz: tzinfo, now: datetime, *,
                       day_first: bool | None = None, relative: bool = True) -> datetime | None:
    """A date as English pages and listings write it, aware, in ``tz`` unless it states a zone.

    Absolute: ISO 8601, ``May 1, 2024``, ``1 May 2024``, ``Nov 26, 2026``, ``Sept. 3, 2023 at
    3:45 PM``, ``15.10.2026`` (dots: day first), ``25/12/2024``; ``5/1/2024`` only with
    ``day_first`` (from :func:`day_first_for` of the page language), since both readings are
    dates. Relative to ``now`` (skipped with ``relative=False``): ``3 hours ago``, ``15 minutes
    ago``, ``an hour ago``, ``2d ago``, ``just now``, ``yesterday`` / ``today`` (midnight local
    time unless a time follows: ``yesterday at 3:45 pm``). A date-only result is midnight in
    ``tz``. None when ``text`` holds none of these.
    """
    if not text:
        return None
    normalized = text.translate(_DIGITS).strip()
    reference = now if now.tzinfo is not None else now.replace(tzinfo=tz)
    parsers: list[ZhDateParser] = [_iso, _english, _rfc822]
    parsers.append(lambda t, z, n: _day_month_year(t, z, n, day_first))
    if relative:
        parsers.extend([_english_relative, _english_just_now, _english_named_day])
    for parser in parsers:
        value = parser(normalized, tz, reference)
        if value is not None:
            return _plausible(value)
    return None


def parse_zh_date(text: str | None, tz: tzinfo, now: datetime | None = None, *,
                  relative: bool = True, minguo: bool = False,
                  day_first: bool | None = None) -> datetime | None:
    """The first date found in ``text`` (a date line, meta tag or JSON-LD value), aware.

    ``发布时间：2021-06-07 10:22``, ``2021年6月7日 下午3:45``, ``May 1, 2024``, ``3小時前``,
    ``昨天 10:22``, ``刚刚``, ISO 8601 and RFC 822 are understood; a stated zone
    (``美东时间``, ``UTC``) is honoured. Relative forms count from ``now`` (default: the
    current time) and are skipped with ``relative=False``. ``minguo=True`` (the text is known to
    be a date: it follows a label) also reads Taiwan's ``113-05-01`` at its start.
    ``15.10.2026`` (day.month.year) is read too; ``5/1/2024`` only with ``day_first`` (see
    :func:`day_first_for`). English relative forms (``3 hours ago``, ``yesterday``) count as
    relative ones.
    """
    if not text:
        return None
    normalized = text.translate(_DIGITS).strip()
    if not normalized:
        return None
    reference = now if now is not None else datetime.now(UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=tz)
    parsers = list(ABSOLUTE_PARSERS)
    parsers.append(lambda t, z, n: _day_month_year(t, z, n, day_first))
    if minguo:
        parsers.append(_minguo)
    if relative:
        parsers.extend(RELATIVE_PARSERS)
    parsers.append(_no_year)
    for parser in parsers:
        value = parser(normalized, tz, reference)
        if value is not None:
            return _plausible(value)
    return None


# What may stand on a date line beside the date: weekdays, zone and half-day words, labels,
# the end marks of press releases (``完``, ``Ends/``), relative words, separators.
_DATE_LINE_NOISE = re.compile(
    rf"{_ZONE_WORD}|{_HALF_DAY_WORD}|{_EN_MONTH}\.?|(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|"
    r"Sat(?:ur)?|Sun)(?:day)?\.?|(?:星期|週|周|礼拜|禮拜)[一二三四五六日天]|"
    r"(?:中華|中华)?(?:民國|民国)|Ends|Issued|at|AM|PM|am|pm|"
    r"(?:发布|發布|发表|發表|更新|修改|发稿|發稿)?(?:时间|時間|日期)|发布于|發布於|"
    r"今天|今日|昨天|昨日|前天|刚刚|剛剛|刚才|剛才|个?小时|個?小時|分钟|分鐘|秒|天|周|週|前|"
    r"[\d年月日时時点點分号號:：/\-.,，、()（）\[\]【】|｜\s]"
)


def is_date_line(line: str) -> bool:
    """True if ``line`` is a date and little else (``2024年5月1日（星期三）``,
    ``Ends/Wednesday, May 1, 2024``, ``3小时前``): not a sentence that mentions a day."""
    if not line or len(line) > 60 or not re.search(r"\d|今|昨|前|刚|剛", line):
        return False
    rest = _DATE_LINE_NOISE.sub("", line.translate(_DIGITS))
    return len(rest) <= 2


# A line that is only a time (``香港時間15時30分``, ``Issued at HKT 15:30``, ``下午3:45``): the
# time of the date on the line before it.
_TIME_LINE = re.compile(
    rf"(?:Issued\s+at|(?:发布|發布)?(?:时间|時間)\s*[:：])?\s*(?P<time>(?:(?:{_ZONE_WORD})\s*)?"
    rf"(?:(?:{_HALF_DAY_WORD})\s*)?\d{{1,2}}\s*(?::|时|時|点|點)\s*\d{{1,2}}\s*(?:分|:\d\d)?"
    rf"(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*[（(]?\s*(?:{_ZONE_WORD})\s*[)）]?)?)\s*"
)
_HAS_TIME = re.compile(r"\d\s*(?::|时|時|点|點)")


def time_of_line(line: str) -> str | None:
    """The time ``line`` consists of, to append to a date line above it; else None."""
    match = _TIME_LINE.fullmatch(line.translate(_DIGITS))
    return match["time"] if match else None


def has_time(line: str) -> bool:
    """True if ``line`` shows a time of day."""
    return bool(_HAS_TIME.search(line.translate(_DIGITS)))
