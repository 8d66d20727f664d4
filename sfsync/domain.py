"""The org-facing business rules, in one place and free of I/O.

Everything here is a pure function of its arguments (no clock, no network): the worker, the CLI
and the local org call these so that "overdue" means the same thing everywhere, and SOQL
literals are built by exactly one quoting helper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


# ---------------------------------------------------------------------------- overdue worker rules
DEFAULT_ESCALATE_AFTER_DAYS = 7  # issue F6: the store manager is told 7 days after the first notice

LANGUAGE_JA = "ja"
LANGUAGE_EN = "en"


def escalation_cutoff(now: datetime, escalate_after: int, tz: str) -> datetime:
    """First notices stamped before this instant are due for escalation.

    Counted in calendar days in ``tz``, as the overdue cutoff is: a first notice sent on
    11/20 (local) is escalated from 11/27 on with the default 7 days, whatever its hour.
    """
    return overdue_cutoff(now, escalate_after, tz)


def is_due_for_escalation(
    notified_at: datetime | None,
    escalated_at: datetime | None,
    *,
    now: datetime,
    escalate_after: int = DEFAULT_ESCALATE_AFTER_DAYS,
    tz: str = "Asia/Tokyo",
) -> bool:
    """True if the first notice went out ``escalate_after`` calendar days ago and nobody escalated yet."""
    if notified_at is None or escalated_at is not None:
        return False
    _require_aware(notified_at, "notified_at")
    return notified_at < escalation_cutoff(now, escalate_after, tz)


def notice_language(language_locale_key: str | None) -> str:
    """'ja' for a Japanese-speaking user (LanguageLocaleKey ja, ja_JP), else 'en'."""
    if language_locale_key and language_locale_key.lower().replace("-", "_").split("_")[0] == "ja":
        return LANGUAGE_JA
    return LANGUAGE_EN


@dataclass(frozen=True)
class StaffUser:
    """A user as the worker's query sees it (Opportunity owner or store manager)."""

    user_id: str | None
    name: str | None = None
    active: bool = True
    language_locale_key: str | None = None


@dataclass(frozen=True)
class NoticeRecipient:
    user_id: str
    name: str | None
    language: str  # LANGUAGE_JA or LANGUAGE_EN
    role: str  # "owner" or "manager"


@dataclass(frozen=True)
class NoRecipient:
    """Nobody can be told about a reservation: reported as a per-item failure, never a crash."""

    code: str
    message: str


# Why a notice has nobody to go to (per-item failure codes in the worker's report).
NO_OWNER = "NO_OWNER"
NO_VEHICLE = "NO_VEHICLE"
NO_STORE = "NO_STORE"
NO_MANAGER = "NO_MANAGER"
MANAGER_INACTIVE = "MANAGER_INACTIVE"


def _manager(has_vehicle: bool, has_store: bool, manager: StaffUser | None, why: str) -> NoticeRecipient | NoRecipient:
    if not has_vehicle:
        return NoRecipient(NO_VEHICLE, f"{why}, and the reservation has no demo car, so no store manager can be found")
    if not has_store:
        return NoRecipient(NO_STORE, f"{why}, and the reservation's demo car belongs to no store")
    if manager is None or not manager.user_id:
        return NoRecipient(NO_MANAGER, f"{why}, and the store has no manager (Dealer_Store__c.Manager__c is empty)")
    if not manager.active:
        return NoRecipient(MANAGER_INACTIVE, f"{why}, and the store manager's user is inactive")
    return NoticeRecipient(manager.user_id, manager.name, notice_language(manager.language_locale_key), "manager")


def first_notice_recipient(
    owner: StaffUser | None, *, has_vehicle: bool, has_store: bool, manager: StaffUser | None
) -> NoticeRecipient | NoRecipient:
    """The Opportunity's owner; if that user is inactive, the store's manager (features.md F6)."""
    if owner is None or not owner.user_id:
        return NoRecipient(NO_OWNER, "the reservation's Opportunity has no owner")
    if owner.active:
        return NoticeRecipient(owner.user_id, owner.name, notice_language(owner.language_locale_key), "owner")
    return _manager(has_vehicle, has_store, manager, "the Opportunity's owner is inactive")


def escalation_recipient(*, has_vehicle: bool, has_store: bool, manager: StaffUser | None) -> NoticeRecipient | NoRecipient:
    """Escalations always go to the store's manager."""
    return _manager(has_vehicle, has_store, manager, "escalation goes to the store manager")


# ---------------------------------------------------------------------------- booking rules
# Overlap with buffers, validation rules R1-R6, status transitions, the batch evaluator: they live
# in sfsync/booking_rules.py (tests/vectors/README.md) and are re-exported here.
from sfsync.booking_rules import *  # noqa: E402,F401,F403
