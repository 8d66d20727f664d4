"""The org-facing business rules, in one place and free of I/O.

Everything here is a pure function of its arguments (no clock, no network): the worker, the CLI
and the local org call these so that "overdue" means the same thing everywhere, and SOQL
literals are built by exactly one quoting helper.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sfsync.errors import UsageError

logger = logging.getLogger(__name__)

# Test_Drive_Reservation__c.Status__c picklist API names (docs/contracts.md).
STATUS_SCHEDULED = "Scheduled"
STATUS_COMPLETED = "Completed"
STATUS_CANCELLED = "Cancelled"
# A reservation in one of these states is processed and can never be overdue.
CLOSED_STATUSES: tuple[str, ...] = (STATUS_COMPLETED, STATUS_CANCELLED)

DEFAULT_OVERDUE_DAYS = 10  # features.md F6: "10 or more days in the past"


class NaiveDatetimeError(UsageError, ValueError):
    """A datetime without tzinfo reached code that must know the instant it means."""


def _require_aware(dt: datetime, what: str) -> None:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise NaiveDatetimeError(f"{what} must be timezone-aware, got naive {dt.isoformat()}")


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``; an unknown name is a UsageError (it comes from options or config)."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone '{tz}' (expected an IANA name such as Asia/Tokyo)") from None


def overdue_cutoff(now: datetime, days: int, tz: str) -> datetime:
    """The first instant that is *not* overdue, as an aware UTC datetime.

    A reservation is overdue when its scheduled start falls on a calendar day (in ``tz``) at
    least ``days`` before today's date in ``tz``. That is the same as: start < local midnight of
    (today - days + 1). Counting calendar days, not 24-hour periods, matches how dealer staff
    read "10 days ago" and does not drift across DST change-overs.
    """
    _require_aware(now, "now")
    if days < 1:
        raise UsageError(f"overdue days must be at least 1, got {days}")
    zi = zone(tz)
    today = now.astimezone(zi).date()
    first_ok_day: date = today - timedelta(days=days - 1)
    # fold=0: if midnight does not exist (a DST gap at 00:00), zoneinfo maps it with the
    # pre-gap offset, which lands on the first real instant of that day.
    local_midnight = datetime.combine(first_ok_day, time(0, 0), tzinfo=zi)
    return local_midnight.astimezone(timezone.utc)


def is_overdue(
    status: str | None,
    scheduled_start: datetime | None,
    *,
    now: datetime,
    days: int = DEFAULT_OVERDUE_DAYS,
    tz: str = "Asia/Tokyo",
) -> bool:
    """True if a reservation with this status and scheduled start is unprocessed (未処理)."""
    if status in CLOSED_STATUSES or scheduled_start is None:
        return False
    _require_aware(scheduled_start, "scheduled_start")
    return scheduled_start < overdue_cutoff(now, days, tz)


def soql_datetime(dt: datetime) -> str:
    """``dt`` as a SOQL dateTime literal (unquoted, UTC, ``Z``): ``2026-11-23T15:00:00Z``.

    SOQL literals have whole seconds (SOQL reference, "Date Formats"), so a value with
    microseconds is refused rather than silently moved.
    """
    _require_aware(dt, "SOQL datetime")
    utc = dt.astimezone(timezone.utc)
    if utc.microsecond:
        raise ValueError(f"SOQL dateTime literals have whole seconds, got {utc.isoformat()}")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def api_datetime(dt: datetime) -> str:
    """``dt`` as a REST/JSON dateTime field value: ``2026-12-03T01:00:00.000Z`` (UTC, millis)."""
    _require_aware(dt, "API datetime")
    utc = dt.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_api_datetime(value: str | None) -> datetime | None:
    """Parse a dateTime as the REST API returns it (``2026-11-23T15:00:00.000+0000``)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a Salesforce dateTime: {value!r}") from None
    _require_aware(parsed, "API datetime value")
    return parsed.astimezone(timezone.utc)


# SOQL's escape sequences inside a quoted string (SOQL reference, "Quoted String Escape
# Sequences"). Line breaks and tabs have their own escapes so a value never puts a raw control
# character into the query text.
_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def soql_string(value: str) -> str:
    """``value`` as a quoted SOQL string literal: ``O'Brien`` -> ``'O\\'Brien'``.

    Non-ASCII text (Japanese names) is kept as is. Other control characters have no SOQL
    escape and are refused. ``%`` and ``_`` are left alone: they only mean something in LIKE.
    """
    out = []
    for ch in value:
        if ch in _SOQL_ESCAPES:
            out.append(_SOQL_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise ValueError(f"control character U+{ord(ch):04X} cannot be put in a SOQL string")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"
