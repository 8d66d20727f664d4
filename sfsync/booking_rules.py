"""Booking rules of Test_Drive_Reservation__c: the Python twin of the org's rules.

The org enforces these with the validation rules of the object (R1-R6) and the Apex guard
(``ReservationGuardService``); tests/vectors/README.md states them precisely and
tests/vectors/booking_rules.json holds the cases both implementations must pass. The local org
runs ``check_reservation_writes`` on its writes so that the API answers as the org would.

Everything here is pure: no clock, no I/O. Records are mappings with API field names
(``Id``, ``Name``, ``Vehicle__c``, ``Scheduled_Start__c`` ...); date-times may be aware
``datetime`` objects or REST strings (``2027-01-15T01:00:00.000Z``). Re-exported by
``sfsync.domain``; this module must not import ``sfsync.domain`` (that would be circular).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

RESERVATION_SOBJECT = "Test_Drive_Reservation__c"

# Status__c picklist API names (same values as sfsync.domain's STATUS_* constants).
BOOKING_STATUS_SCHEDULED = "Scheduled"
BOOKING_STATUS_COMPLETED = "Completed"
BOOKING_STATUS_CANCELLED = "Cancelled"
FINAL_STATUSES = (BOOKING_STATUS_COMPLETED, BOOKING_STATUS_CANCELLED)

# Validation rules and Apex addError() both answer with this code.
BOOKING_ERROR_CODE = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
ADMIN_OVERRIDE_PERMISSION = "Test_Drive_Admin_Override"
DEFAULT_STORE_TIME_ZONE = "Asia/Tokyo"
MAX_PARTIAL_SAVE_ATTEMPTS = 3  # Apex "Bulk DML Exception Handling": at most three attempts

# Validation rule names (metadata fullName) in the order the rules are reported (R1..R6).
RULE_FINAL_STATUS_READ_ONLY = "Final_Status_Read_Only"
RULE_CANCELLED_CANNOT_BE_COMPLETED = "Cancelled_Cannot_Be_Completed"
RULE_SCHEDULED_END_AFTER_START = "Scheduled_End_After_Start"
RULE_ACTUAL_TIMES_REQUIRED = "Actual_Times_Required"
RULE_ACTUAL_END_AFTER_START = "Actual_End_After_Start"
RULE_ACTUAL_END_NOT_IN_FUTURE = "Actual_End_Not_In_Future"
# Not a validation rule: the Apex guard's error (no field, message from a custom label).
RULE_BOOKING_OVERLAP = "Booking_Overlap"

# English error messages of the validation rules (errorMessage in the metadata).
VALIDATION_MESSAGES_EN: dict[str, str] = {
    RULE_FINAL_STATUS_READ_ONLY: "Completed and cancelled test drive reservations cannot be changed.",
    RULE_CANCELLED_CANNOT_BE_COMPLETED: "A cancelled test drive reservation cannot be completed.",
    RULE_SCHEDULED_END_AFTER_START: "Scheduled End must be after Scheduled Start.",
    RULE_ACTUAL_TIMES_REQUIRED: "Enter Actual Start and Actual End to complete the test drive.",
    RULE_ACTUAL_END_AFTER_START: "Actual End must be after Actual Start.",
    RULE_ACTUAL_END_NOT_IN_FUTURE: "Actual End cannot be in the future.",
}

# Custom labels of the guard's error (English values in labels/CustomLabels.labels-meta.xml).
LABEL_BOOKING_CONFLICT = "Test_Drive_Booking_Conflict"
LABEL_BOOKING_CONFLICT_BUFFER = "Test_Drive_Booking_Conflict_Buffer"
CONFLICT_TEMPLATES_EN: dict[str, str] = {
    LABEL_BOOKING_CONFLICT: 'This demo car is already booked by reservation "{0}" from {1} to {2} ({3}).',
    LABEL_BOOKING_CONFLICT_BUFFER: (
        'This demo car is already booked by reservation "{0}" from {1} to {2} ({3}), '
        "and it needs {4} minutes after each test drive before the next one."
    ),
}

# R1 refuses a change of any of these on a Completed/Cancelled reservation. Not guarded on
# purpose: Customer_Reaction__c (notes may be added later) and the worker's stamp fields.
READ_ONLY_WHEN_FINAL: tuple[str, ...] = (
    "Name", "Vehicle__c", "Model__c", "Variation__c", "Powertrain__c", "Scheduled_Start__c",
    "Scheduled_End__c", "Location__c", "Status__c", "Actual_Start__c", "Actual_End__c",
    "Deal_Outlook__c", "Driven_Vehicle__c", "Cancellation_Reason__c",
)
_DATETIME_FIELDS = frozenset({"Scheduled_Start__c", "Scheduled_End__c", "Actual_Start__c", "Actual_End__c"})


@dataclass(frozen=True)
class RuleError:
    """One error on one record, as the API reports it (``fields`` empty: a record-level error)."""

    rule: str
    message: str
    fields: tuple[str, ...] = ()
    error_code: str = BOOKING_ERROR_CODE


@dataclass(frozen=True)
class RuleResult:
    """The rules' verdict on one record of a batch: accepted, or refused with its errors."""

    errors: tuple[RuleError, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.errors

    # The first error (the vectors' cases have exactly one); None when accepted.
    @property
    def error_code(self) -> str | None:
        return self.errors[0].error_code if self.errors else None

    @property
    def message(self) -> str | None:
        return self.errors[0].message if self.errors else None

    @property
    def fields(self) -> tuple[str, ...]:
        return self.errors[0].fields if self.errors else ()


@dataclass(frozen=True)
class VehicleInfo:
    """What the guard reads of a demo car: its powertrain and its store's time zone."""

    powertrain: str | None = None
    time_zone: str | None = None  # Dealer_Store__c.Time_Zone__c; None/blank = Asia/Tokyo


@dataclass(frozen=True)
class ReservationWrite:
    """One record of a batch: the values after the write and, for an update, the stored ones.

    ``new`` is the whole record (an update merged onto the stored row, see ``merge_update``);
    ``old`` is None for an insert. A new record has no ``Id`` yet.
    """

    new: Mapping[str, Any]
    old: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BookingMessages:
    """Message texts in one language: validation-rule messages by rule, label templates by label."""

    validation: Mapping[str, str] = field(default_factory=lambda: dict(VALIDATION_MESSAGES_EN))
    conflict: Mapping[str, str] = field(default_factory=lambda: dict(CONFLICT_TEMPLATES_EN))


ENGLISH_MESSAGES = BookingMessages()


# ---------------------------------------------------------------------------- values
def booking_datetime(value: Any) -> datetime | None:
    """A field value as an aware UTC datetime (None stays None); accepts REST strings."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a Salesforce dateTime: {value!r}") from None
    else:
        raise TypeError(f"not a dateTime value: {value!r}")
    if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
        raise ValueError(f"dateTime without a time zone: {value!r}")
    return parsed.astimezone(timezone.utc)


def _value(record: Mapping[str, Any], name: str) -> Any:
    """A field value with Salesforce's blank handling: an empty string is null."""
    v = record.get(name)
    if v == "":
        return None
    if name in _DATETIME_FIELDS:
        return booking_datetime(v)
    return v


def booking_status(record: Mapping[str, Any]) -> str:
    """Status__c; a missing status counts as Scheduled (the picklist default)."""
    return _value(record, "Status__c") or BOOKING_STATUS_SCHEDULED


def merge_update(old: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The record after an update: ``changes`` over ``old`` (a key present with None clears it)."""
    merged = dict(old)
    merged.update(changes)
    return merged


def _changed(old: Mapping[str, Any], new: Mapping[str, Any], name: str) -> bool:
    return _value(old, name) != _value(new, name)


# ---------------------------------------------------------------------------- status transitions
def is_allowed_transition(old_status: str | None, new_status: str | None, *, can_override: bool) -> bool:
    """Status changes R1/R2 allow: Scheduled -> anything; Completed/Cancelled are final unless
    the user has the admin override; Cancelled -> Completed never (not even with the override)."""
    old_s = old_status or BOOKING_STATUS_SCHEDULED
    new_s = new_status or BOOKING_STATUS_SCHEDULED
    if old_s == new_s:
        return True
    if old_s == BOOKING_STATUS_CANCELLED and new_s == BOOKING_STATUS_COMPLETED:
        return False
    return old_s not in FINAL_STATUSES or can_override


# ---------------------------------------------------------------------------- validation rules
def validation_errors(
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    *,
    now: datetime,
    can_override: bool,
    messages: BookingMessages = ENGLISH_MESSAGES,
) -> list[RuleError]:
    """The validation rules R1..R6 that refuse this record, in that order (all of them fire)."""
    now_utc = booking_datetime(now)
    if now_utc is None:
        raise ValueError("now is required")
    found: list[tuple[str, tuple[str, ...]]] = []
    new_status = booking_status(new)
    if old is not None:
        old_status = booking_status(old)
        reopen_to_completed = old_status == BOOKING_STATUS_CANCELLED and new_status == BOOKING_STATUS_COMPLETED
        if (
            old_status in FINAL_STATUSES
            and not can_override
            and not reopen_to_completed
            and any(_changed(old, new, name) for name in READ_ONLY_WHEN_FINAL)
        ):
            found.append((RULE_FINAL_STATUS_READ_ONLY, ()))
        if reopen_to_completed:
            found.append((RULE_CANCELLED_CANNOT_BE_COMPLETED, ("Status__c",)))
    found.extend(completion_errors(new, now=now_utc))
    return [RuleError(rule, messages.validation.get(rule, VALIDATION_MESSAGES_EN[rule]), fields) for rule, fields in found]


def completion_errors(record: Mapping[str, Any], *, now: datetime) -> list[tuple[str, tuple[str, ...]]]:
    """R3..R6 (rule name, fields): scheduled and actual intervals, actual times of a completed drive."""
    out: list[tuple[str, tuple[str, ...]]] = []
    s_start, s_end = _value(record, "Scheduled_Start__c"), _value(record, "Scheduled_End__c")
    a_start, a_end = _value(record, "Actual_Start__c"), _value(record, "Actual_End__c")
    if s_start is not None and s_end is not None and s_end <= s_start:
        out.append((RULE_SCHEDULED_END_AFTER_START, ("Scheduled_End__c",)))
    if booking_status(record) == BOOKING_STATUS_COMPLETED and (a_start is None or a_end is None):
        out.append((RULE_ACTUAL_TIMES_REQUIRED, ()))
    if a_start is not None and a_end is not None and a_end <= a_start:
        out.append((RULE_ACTUAL_END_AFTER_START, ("Actual_End__c",)))
    if a_end is not None and a_end > booking_datetime(now):
        out.append((RULE_ACTUAL_END_NOT_IN_FUTURE, ("Actual_End__c",)))
    return out


# ---------------------------------------------------------------------------- overlap guard
def occupies(record: Mapping[str, Any]) -> bool:
    """True when the record holds its demo car: not cancelled, a car, a non-empty interval."""
    start, end = _value(record, "Scheduled_Start__c"), _value(record, "Scheduled_End__c")
    return (
        booking_status(record) != BOOKING_STATUS_CANCELLED
        and _value(record, "Vehicle__c") is not None
        and start is not None
        and end is not None
        and end > start
    )


def needs_overlap_check(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """Inserts that occupy are checked; updates only when the slot changed or a cancelled one
    comes back, so that unrelated edits of legacy overlapping data are not refused."""
    if not occupies(new):
        return False
    if old is None:
        return True
    return (
        _changed(old, new, "Vehicle__c")
        or _changed(old, new, "Scheduled_Start__c")
        or _changed(old, new, "Scheduled_End__c")
        or booking_status(old) == BOOKING_STATUS_CANCELLED
    )


def _stored_blocks(row: Mapping[str, Any]) -> bool:
    """A stored row the guard's query returns (``ReservationSelector.activeReservations``): not
    cancelled, a car, both times set. Unlike ``occupies`` it does not drop an empty or reversed
    interval: legacy rows R3 would refuse today still take part in the overlap test, as in Apex."""
    return (
        booking_status(row) != BOOKING_STATUS_CANCELLED
        and _value(row, "Vehicle__c") is not None
        and _value(row, "Scheduled_Start__c") is not None
        and _value(row, "Scheduled_End__c") is not None
    )


def slots_overlap(a: Mapping[str, Any], b: Mapping[str, Any], buffer_minutes: int) -> bool:
    """Half-open ``[start, end + buffer)`` of two bookings of one car intersect."""
    pad = timedelta(minutes=buffer_minutes)
    a_start, a_end = _value(a, "Scheduled_Start__c"), _value(a, "Scheduled_End__c")
    b_start, b_end = _value(b, "Scheduled_Start__c"), _value(b, "Scheduled_End__c")
    return a_start < b_end + pad and b_start < a_end + pad


def _display_name(record: Mapping[str, Any]) -> str:
    name = record.get("Name")
    if name not in (None, "") and str(name).strip():
        return str(name)
    return str(record.get("Id") or "")


def _starts_before(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    a_start, b_start = _value(a, "Scheduled_Start__c"), _value(b, "Scheduled_Start__c")
    if a_start != b_start:
        return a_start < b_start
    # By character code (Python str order on code points; Apex compareTo agrees for the BMP).
    return _display_name(a) < _display_name(b)


def first_conflict(record: Mapping[str, Any], occupied: Iterable[Mapping[str, Any]], buffer_minutes: int) -> Mapping[str, Any] | None:
    """The conflicting booking that starts first (ties: the smaller name), or None."""
    best = None
    for other in occupied:
        if slots_overlap(record, other, buffer_minutes) and (best is None or _starts_before(other, best)):
            best = other
    return best


def _zone(name: str | None) -> tuple[str, ZoneInfo]:
    tz = name if name and name.strip() else DEFAULT_STORE_TIME_ZONE  # Apex: String.isNotBlank
    try:
        return tz, ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        # Apex's Datetime.format() falls back to GMT for an unknown zone id but prints the id.
        return tz, ZoneInfo("UTC")


def conflict_message(
    conflict: Mapping[str, Any],
    vehicle: VehicleInfo | None,
    buffer_minutes: int,
    messages: BookingMessages = ENGLISH_MESSAGES,
) -> str:
    """The guard's error text: the conflicting booking and its times in the store's time zone."""
    tz_name, zi = _zone(vehicle.time_zone if vehicle else None)
    label = LABEL_BOOKING_CONFLICT_BUFFER if buffer_minutes > 0 else LABEL_BOOKING_CONFLICT
    template = messages.conflict.get(label, CONFLICT_TEMPLATES_EN[label])
    args = (
        _display_name(conflict),
        _value(conflict, "Scheduled_Start__c").astimezone(zi).strftime("%Y/%m/%d %H:%M"),
        _value(conflict, "Scheduled_End__c").astimezone(zi).strftime("%Y/%m/%d %H:%M"),
        tz_name,
        str(buffer_minutes),
    )
    return format_label(template, args)


def format_label(template: str, args: Sequence[str]) -> str:
    """Apex ``String.format`` for string arguments: ``{n}`` -> args[n]; ``''`` is a literal quote."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "'":
            if template.startswith("''", i):
                out.append("'")
                i += 2
                continue
            # A quoted section is literal text (MessageFormat); an unmatched quote runs to the end.
            close = template.find("'", i + 1)
            out.append(template[i + 1:] if close < 0 else template[i + 1:close])
            i = len(template) if close < 0 else close + 1
            continue
        if ch == "{":
            close = template.find("}", i)
            key = template[i + 1:close] if close > 0 else ""
            if key.isdigit() and int(key) < len(args):
                out.append(args[int(key)])
                i = close + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def buffer_for(vehicle: VehicleInfo | None, buffers: Mapping[str, int]) -> int:
    """Buffer minutes of the car's powertrain (Booking_Buffer__mdt); none configured = 0."""
    if vehicle is None or not vehicle.powertrain:
        return 0
    minutes = buffers.get(vehicle.powertrain) or 0
    return int(minutes) if minutes > 0 else 0


def overlap_errors(
    existing: Iterable[Mapping[str, Any]],
    writes: Sequence[ReservationWrite],
    buffers: Mapping[str, int],
    vehicles: Mapping[str, VehicleInfo],
    messages: BookingMessages = ENGLISH_MESSAGES,
) -> list[RuleError | None]:
    """The Apex guard over one batch: per record its overlap error or None.

    Occupied slots of a checked record: stored bookings not in the batch, batch records that
    are not checked but occupy, and the checked records before it that passed. A refused
    record occupies nothing.
    """
    batch_ids = {w.new.get("Id") for w in writes if w.old is not None and w.new.get("Id")}
    checked = [needs_overlap_check(w.new, w.old) for w in writes]
    occupied: dict[Any, list[Mapping[str, Any]]] = {}
    for row in existing:
        if row.get("Id") not in batch_ids and _stored_blocks(row):
            occupied.setdefault(_value(row, "Vehicle__c"), []).append(row)
    for w, is_checked in zip(writes, checked):
        if not is_checked and occupies(w.new):
            occupied.setdefault(_value(w.new, "Vehicle__c"), []).append(w.new)
    out: list[RuleError | None] = []
    for w, is_checked in zip(writes, checked):
        if not is_checked:
            out.append(None)
            continue
        car = _value(w.new, "Vehicle__c")
        vehicle = vehicles.get(car)
        minutes = buffer_for(vehicle, buffers)
        slots = occupied.setdefault(car, [])
        conflict = first_conflict(w.new, slots, minutes)
        if conflict is None:
            slots.append(w.new)
            out.append(None)
        else:
            out.append(RuleError(RULE_BOOKING_OVERLAP, conflict_message(conflict, vehicle, minutes, messages)))
    return out


# ---------------------------------------------------------------------------- batch evaluator
def _one_attempt(existing, writes, buffers, now, can_override, vehicles, messages) -> list[RuleResult]:
    # As in the org: the guard (before trigger) judges the whole attempt, then the validation
    # rules run; a record can collect both, reported R1..R6 first.
    guard = overlap_errors(existing, writes, buffers, vehicles, messages)
    results = []
    for w, overlap in zip(writes, guard):
        errors = validation_errors(w.new, w.old, now=now, can_override=can_override, messages=messages)
        if overlap is not None:
            errors.append(overlap)
        results.append(RuleResult(tuple(errors)))
    return results


def check_reservation_writes(
    existing: Iterable[Mapping[str, Any]],
    writes: Sequence[ReservationWrite],
    buffers: Mapping[str, int],
    now: datetime,
    can_override: bool,
    *,
    vehicles: Mapping[str, VehicleInfo] | None = None,
    messages: BookingMessages = ENGLISH_MESSAGES,
    all_or_none: bool = True,
) -> list[RuleResult]:
    """Judge one batch of reservation writes as the org does; one result per write, in order.

    ``existing``: stored reservations (as stored; at least those of the written cars), batch
    records' stored rows included or not (they are replaced by their new values).
    ``buffers``: powertrain -> minutes. ``vehicles``: demo car id -> VehicleInfo.
    ``can_override``: the writing user holds the custom permission Test_Drive_Admin_Override.

    ``all_or_none=False`` is a partial save: Salesforce re-runs the trigger on the records that
    had no error (at most three attempts), so a record accepted first can be refused later
    when a batch record whose stored slot it relied on being replaced was refused.
    """
    stored = list(existing)
    vehicles = vehicles or {}
    results = _one_attempt(stored, writes, buffers, now, can_override, vehicles, messages)
    if all_or_none:
        return results
    active = [i for i, r in enumerate(results) if r.accepted]
    for _ in range(MAX_PARTIAL_SAVE_ATTEMPTS - 1):
        if len(active) == len(writes) or not active:
            break
        again = _one_attempt(stored, [writes[i] for i in active], buffers, now, can_override, vehicles, messages)
        newly = [i for i, r in zip(active, again) if not r.accepted]
        for i, r in zip(active, again):
            results[i] = r
        if not newly:
            break
        active = [i for i in active if i not in newly]
    return results


__all__ = [
    "RESERVATION_SOBJECT", "BOOKING_STATUS_SCHEDULED", "BOOKING_STATUS_COMPLETED", "BOOKING_STATUS_CANCELLED",
    "FINAL_STATUSES", "BOOKING_ERROR_CODE", "ADMIN_OVERRIDE_PERMISSION", "DEFAULT_STORE_TIME_ZONE",
    "MAX_PARTIAL_SAVE_ATTEMPTS", "RULE_FINAL_STATUS_READ_ONLY", "RULE_CANCELLED_CANNOT_BE_COMPLETED",
    "RULE_SCHEDULED_END_AFTER_START", "RULE_ACTUAL_TIMES_REQUIRED", "RULE_ACTUAL_END_AFTER_START",
    "RULE_ACTUAL_END_NOT_IN_FUTURE", "RULE_BOOKING_OVERLAP", "VALIDATION_MESSAGES_EN",
    "LABEL_BOOKING_CONFLICT", "LABEL_BOOKING_CONFLICT_BUFFER", "CONFLICT_TEMPLATES_EN", "READ_ONLY_WHEN_FINAL",
    "RuleError", "RuleResult", "VehicleInfo", "ReservationWrite", "BookingMessages", "ENGLISH_MESSAGES",
    "booking_datetime", "booking_status", "merge_update", "is_allowed_transition", "validation_errors",
    "completion_errors", "occupies", "needs_overlap_check", "slots_overlap", "first_conflict",
    "conflict_message", "format_label", "buffer_for", "overlap_errors", "check_reservation_writes",
]
