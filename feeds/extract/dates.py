"""Dates: every result is timezone-aware; local times get the source's time zone."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime, tzinfo


def aware(value: datetime, tz: tzinfo) -> datetime:
    """``value`` with ``tz`` attached if it has no offset of its own."""
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def parse_feed_date(raw: str | None, parsed: time.struct_time | None, tz: tzinfo) -> datetime | None:
    """The date of a feed element.

    feedparser normalises every date to UTC and silently assumes UTC when the feed gives no
    offset; a Chinese feed writing ``2021-06-07 10:22:00`` means Beijing time, so a date
    without an offset is read in the source's time zone instead.
    """
    if raw:
        text = raw.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            value = None
        if value is None:
            if text.endswith("-0000"):
                text = text[:-5] + "+0000"  # RFC 2822 "unknown zone"; feeds mean UTC by it
            try:
                # RFC 822; without a zone it comes back naive and gets the source's zone.
                value = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                value = None
        if value is not None:
            return _plausible(aware(value, tz))
    if parsed is not None:
        try:
            return _plausible(datetime(*parsed[:6], tzinfo=UTC))
        except (ValueError, OverflowError):
            return None
    return None


def _plausible(value: datetime) -> datetime | None:
    """Drop dates no publisher means (year 1 placeholders, far future)."""
    if value.year < 1970 or value.year > 2200:
        return None
    return value
