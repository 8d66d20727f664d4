"""Date and datetime values of SOQL: literals as written, relative date literals, storage encodings.

Storage (docs/contracts.md): datetime = INTEGER epoch ms UTC, date = TEXT YYYY-MM-DD.
Relative date literals (TODAY, LAST_N_DAYS:n, ...) are day ranges in the org's time zone; each is a
half-open range [first day 00:00, day after the last day 00:00), as Salesforce documents them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc

DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):?(\d{2}))$",
    re.IGNORECASE,
)

# Literal name -> (first day, number of days) relative to today; n is the literal's :n argument.
_FIXED = {
    "TODAY": lambda n: (0, 1),
    "YESTERDAY": lambda n: (-1, 1),
    "TOMORROW": lambda n: (1, 1),
}
# LAST_N_DAYS:n includes today (Salesforce: "the current day is always included"), so it spans
# n + 1 days; NEXT_N_DAYS:n starts tomorrow; N_DAYS_AGO:n is the single day n days back.
_WITH_N = {
    "LAST_N_DAYS": lambda n: (-n, n + 1),
    "NEXT_N_DAYS": lambda n: (1, n),
    "N_DAYS_AGO": lambda n: (-n, 1),
}


@dataclass(frozen=True)
class DayRange:
    """Days [start, end) in the org's time zone."""

    start: dt.date
    end: dt.date  # exclusive

    def as_dates(self) -> tuple[str, str]:
        return self.start.isoformat(), self.end.isoformat()

    def as_ms(self, tz: ZoneInfo) -> tuple[int, int]:
        return local_midnight_ms(self.start, tz), local_midnight_ms(self.end, tz)


def is_relative_literal(name: str, has_n: bool) -> bool:
    return name.upper() in (_WITH_N if has_n else _FIXED)


def relative_range(name: str, n: int | None, tz: ZoneInfo, now: dt.datetime) -> DayRange:
    """The day range of TODAY / YESTERDAY / TOMORROW / LAST_N_DAYS:n / NEXT_N_DAYS:n / N_DAYS_AGO:n."""
    key = name.upper()
    table = _WITH_N if n is not None else _FIXED
    offset, days = table[key](n or 0)
    today = now.astimezone(tz).date()
    start = today + dt.timedelta(days=offset)
    return DayRange(start, start + dt.timedelta(days=days))


def local_midnight_ms(day: dt.date, tz: ZoneInfo) -> int:
    return to_ms(dt.datetime.combine(day, dt.time(0), tzinfo=tz))


def to_ms(value: dt.datetime) -> int:
    # Integer arithmetic: float timestamps can be off by one ms.
    delta = value.astimezone(UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_date_literal(text: str) -> str:
    """YYYY-MM-DD -> the same text once checked to be a real day; ValueError otherwise."""
    m = DATE_RE.match(text)
    if not m:
        raise ValueError(text)
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()


def parse_datetime_literal(text: str) -> int:
    """A SOQL dateTime literal (Z or +hh:mm / -hh:mm, optional fraction) -> epoch ms UTC."""
    m = DATETIME_RE.match(text)
    if not m:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    if m.group(8):
        tz: dt.tzinfo = UTC
    else:
        sign = -1 if m.group(9) == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11))))
    return to_ms(dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz))


def format_datetime_ms(ms: int) -> str:
    """Stored epoch ms -> Salesforce's JSON form 2026-11-23T15:00:00.000+0000."""
    seconds, millis = divmod(int(ms), 1000)
    d = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=seconds)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}+0000"
