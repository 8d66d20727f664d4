"""Before-save rules of the local org: what the deployed trigger and validation rules do in the org.

Only Test_Drive_Reservation__c has rules: the booking guard (Apex ``ReservationGuardService``)
and the validation rules R1-R6, both evaluated by ``sfsync.booking_rules``. The REST layer
writes a batch, then asks ``BookingTrigger.check`` which records the org would have refused;
everything runs inside the caller's write transaction, and that holds the store's write lock,
so two concurrent saves are serialised as ``FOR UPDATE`` on the demo-car rows serialises them
in Salesforce (the second one reads the first one's booking).

Permissions: the local org's only user is a System Administrator. Custom permissions are not
implied by "Modify All Data" (a user holds one only through a profile or permission set that
lists it, and the local org has no permission-set assignments), so ``$Permission.
Test_Drive_Admin_Override`` is false here, as it is for an admin in a fresh org.

Messages are in the writing user's language (User.LanguageLocaleKey) as the org shows them:
the deployed custom labels and their ``Translations``, and the validation rules' errorMessage
and their ``CustomObjectTranslation`` entries; English built-ins when nothing is deployed.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from lxml import etree

from sfsync.booking_rules import (
    CONFLICT_TEMPLATES_EN,
    RESERVATION_SOBJECT,
    VALIDATION_MESSAGES_EN,
    BookingMessages,
    ReservationWrite,
    VehicleInfo,
    check_reservation_writes,
    needs_overlap_check,
)
from sfsync.local_org.catalog import ObjectDef
from sfsync.local_org.errors import RecordErrors, SaveError
from sfsync.local_org.ids import normalize_id
from sfsync.local_org.store import quote
from sfsync.local_org.values import datetime_to_ms

logger = logging.getLogger(__name__)

VEHICLE_SOBJECT = "Test_Drive_Vehicle__c"
STORE_SOBJECT = "Dealer_Store__c"
BUFFER_SOBJECT = "Booking_Buffer__mdt"
_MD = "{http://soap.sforce.com/2006/04/metadata}"
_UTC = dt.timezone.utc

__all__ = ["BookingTrigger", "run_single", "user_has_custom_permission"]


def user_has_custom_permission(org, tx: sqlite3.Connection, user_id: str, permission: str) -> bool:
    """Custom permissions of a user. The local org assigns no permission sets, and a System
    Administrator does not get custom permissions from Modify All Data: always False."""
    return False


def _to_api(obj: ObjectDef, row: sqlite3.Row) -> dict[str, Any]:
    """A stored row as the rules read a record: API names, datetimes as aware datetimes."""
    keys = set(row.keys())
    out: dict[str, Any] = {}
    for fdef in obj.fields.values():
        if fdef.column not in keys:
            continue
        value = row[fdef.column]
        if fdef.type == "datetime" and value is not None:
            value = dt.datetime.fromtimestamp(int(value) / 1000, _UTC)
        out[fdef.api_name] = value
    return out


class _MessageCache:
    """Message texts per org and language, parsed from the deployed components once per deploy."""

    _MAX_ENTRIES = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, BookingMessages] = {}

    def get(self, tx: sqlite3.Connection, db_path: str, language: str) -> BookingMessages:
        # Several local orgs can live in one process (tests): the database path is part of the key.
        stamp = tuple(tx.execute("SELECT COUNT(*), MAX(deployed_at) FROM _sfsync_components").fetchone())
        key = (db_path, stamp, language)
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None:
            return cached
        messages = _load_messages(tx, language)
        with self._lock:
            if len(self._entries) >= self._MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = messages
        return messages


def _parse(content: bytes) -> etree._Element | None:
    try:
        return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None


def _load_messages(tx: sqlite3.Connection, language: str) -> BookingMessages:
    conflict = dict(CONFLICT_TEMPLATES_EN)
    validation = dict(VALIDATION_MESSAGES_EN)
    rows = tx.execute("SELECT type, full_name, content FROM _sfsync_components WHERE type IN "
                      "('CustomLabels', 'CustomLabel', 'Translations', 'CustomObject', 'CustomObjectTranslation', "
                      "'ValidationRule')").fetchall()
    for type_, full_name, content in rows:
        root = _parse(content)
        if root is None:
            continue
        if type_ in ("CustomLabels", "CustomLabel"):
            for el in root.iter(_MD + "labels"):
                name, value = el.findtext(_MD + "fullName"), el.findtext(_MD + "value")
                if name in conflict and value:
                    conflict[name] = value
        elif type_ in ("CustomObject", "ValidationRule") and full_name.startswith(RESERVATION_SOBJECT):
            for el in root.iter(_MD + "validationRules") if type_ == "CustomObject" else [root]:
                name = el.findtext(_MD + "fullName") or full_name.rpartition(".")[2]
                message = el.findtext(_MD + "errorMessage")
                if name in validation and message:
                    validation[name] = message
    if language == "en":
        return BookingMessages(validation=validation, conflict=conflict)
    # Translations win over the master language; a missing translation shows the master text.
    for type_, full_name, content in rows:
        root = _parse(content)
        if root is None:
            continue
        if type_ == "Translations" and full_name == language:
            for el in root.iter(_MD + "customLabels"):
                name, label = el.findtext(_MD + "name"), el.findtext(_MD + "label")
                if name in conflict and label:
                    conflict[name] = label
        elif type_ == "CustomObjectTranslation" and full_name == f"{RESERVATION_SOBJECT}-{language}":
            for el in root.iter(_MD + "validationRules"):
                name, message = el.findtext(_MD + "name"), el.findtext(_MD + "errorMessage")
                if name in validation and message:
                    validation[name] = message
    return BookingMessages(validation=validation, conflict=conflict)


_MESSAGES = _MessageCache()


def _language(locale_key: str | None) -> str:
    """The translation language of a LanguageLocaleKey: ja, ja_JP -> ja; en_US -> en."""
    key = (locale_key or "en_US").replace("-", "_")
    return "en" if key.split("_")[0] == "en" else key


@dataclass
class _Target:
    obj: ObjectDef
    old: dict[str, Any] | None  # the stored row before the write (updates only)


class BookingTrigger:
    """The before-save rules for one batch (one request) of record writes."""

    def __init__(self, org, tx: sqlite3.Connection, targets: dict[int, _Target]):
        self._org = org
        self._tx = tx
        self._targets = targets

    # -- construction: remember the stored rows of updated reservations before they change ---
    @classmethod
    def for_records(cls, org, tx: sqlite3.Connection, records: Sequence[Any], creating: bool) -> "BookingTrigger":
        """A collection request's records (JSON objects with attributes.type and, for updates, Id)."""
        targets: dict[int, _Target] = {}
        for i, rec in enumerate(records):
            attrs = rec.get("attributes") if isinstance(rec, dict) else None
            type_name = attrs.get("type") if isinstance(attrs, dict) else None
            obj = org.catalog.get(type_name) if isinstance(type_name, str) else None
            if obj is None or obj.api_name != RESERVATION_SOBJECT:
                continue
            raw_id = None if creating else (rec.get("Id") or rec.get("id"))
            targets[i] = _Target(obj, cls._stored(org, tx, obj, raw_id) if raw_id else None)
        return cls(org, tx, targets)

    @classmethod
    def for_one(cls, org, tx: sqlite3.Connection, obj: ObjectDef, record_id: str | None) -> "BookingTrigger":
        """A single-record save; ``record_id`` is the Id of an update, None for an insert."""
        if obj.api_name != RESERVATION_SOBJECT:
            return cls(org, tx, {})
        return cls(org, tx, {0: _Target(obj, cls._stored(org, tx, obj, record_id) if record_id else None)})

    @staticmethod
    def _stored(org, tx, obj: ObjectDef, raw_id: Any) -> dict[str, Any] | None:
        full = normalize_id(str(raw_id))
        row = org.store.get(obj, full, tx) if full and full[:3] == obj.key_prefix else None
        return _to_api(obj, row) if row is not None else None

    # -- the check -----------------------------------------------------------------------------
    def check(self, saved: Mapping[int, str], all_or_none: bool) -> dict[int, list[SaveError]]:
        """Errors by batch position for the records written in this attempt (position -> Id).

        Records that failed the field checks are not in ``saved``: they never reach the
        trigger, as in Salesforce (system validation runs before before-triggers).
        """
        positions = [p for p in sorted(saved) if p in self._targets]
        if not positions:
            return {}
        tx, org = self._tx, self._org
        obj = self._targets[positions[0]].obj
        writes: list[ReservationWrite] = []
        for p in positions:
            target = self._targets[p]
            new = _to_api(obj, org.store.get(obj, saved[p], tx))
            if target.old is None:
                new.pop("Id", None)  # a record in before insert has no Id yet
            writes.append(ReservationWrite(new, target.old))
        cars = sorted({w.new.get("Vehicle__c") for w in writes if w.new.get("Vehicle__c")})
        buffers = self._buffers()
        existing = self._stored_bookings(obj, cars, [saved[p] for p in positions], writes,
                                         max(buffers.values(), default=0))
        # Updated records' stored rows are what the org still has until the batch commits.
        existing.extend(w.old for w in writes if w.old is not None)
        user = self._user()
        results = check_reservation_writes(
            existing, writes, buffers, org.now(),
            user_has_custom_permission(org, tx, org.writer.user_id, "Test_Drive_Admin_Override"),
            vehicles=self._vehicles(cars), messages=_MESSAGES.get(tx, str(org.store.path), _language(user)),
            all_or_none=all_or_none,
        )
        found = {
            p: [SaveError(e.error_code, e.message, e.fields) for e in r.errors]
            for p, r in zip(positions, results) if not r.accepted
        }
        if found:
            logger.info("booking rules refused %d of %d reservation writes", len(found), len(positions))
        return found

    def _stored_bookings(self, obj: ObjectDef, cars: list[str], exclude: list[str],
                         writes: list[ReservationWrite], max_buffer: int) -> list[dict[str, Any]]:
        """Stored reservations of ``cars`` that can touch the batch's slots (the Apex selector's
        window: padded by the largest buffer), except the batch's own rows.

        Only writes whose slot is checked count (the worker's stamp updates move no slot), so a
        batch that moves nothing reads nothing, as the Apex service queries nothing for it."""
        checked = [w for w in writes if needs_overlap_check(w.new, w.old)]
        cars = sorted({w.new["Vehicle__c"] for w in checked if w.new.get("Vehicle__c")})
        starts = [w.new["Scheduled_Start__c"] for w in checked if w.new.get("Scheduled_Start__c") is not None]
        ends = [w.new["Scheduled_End__c"] for w in checked if w.new.get("Scheduled_End__c") is not None]
        if not cars or not starts or not ends:
            return []
        pad = dt.timedelta(minutes=max_buffer)
        window_start, window_end = datetime_to_ms(min(starts) - pad), datetime_to_ms(max(ends) + pad)
        col = {name: quote(obj.field(name).column) for name in ("Vehicle__c", "Scheduled_Start__c", "Scheduled_End__c")}
        marks = ", ".join("?" for _ in cars)
        skip = ", ".join("?" for _ in exclude) or "NULL"
        rows = self._tx.execute(
            f"SELECT * FROM {quote(obj.table)} WHERE {col['Vehicle__c']} IN ({marks}) "
            f"AND {col['Scheduled_Start__c']} < ? AND {col['Scheduled_End__c']} > ? AND \"Id\" NOT IN ({skip})",
            [*cars, window_end, window_start, *exclude],
        ).fetchall()
        return [_to_api(obj, r) for r in rows]

    def _buffers(self) -> dict[str, int]:
        mdt = self._org.catalog.get(BUFFER_SOBJECT)
        minutes = mdt.field("Buffer_Minutes__c") if mdt else None
        if minutes is None:
            return {}
        rows = self._tx.execute(
            f"SELECT DeveloperName, {quote(minutes.column)} FROM {quote(mdt.table)}"
        ).fetchall()
        return {name: int(value) for name, value in rows if value is not None and value > 0}

    def _vehicles(self, cars: list[str]) -> dict[str, VehicleInfo]:
        catalog = self._org.catalog
        vehicle, store = catalog.get(VEHICLE_SOBJECT), catalog.get(STORE_SOBJECT)
        if vehicle is None or not cars:
            return {}
        out: dict[str, VehicleInfo] = {}
        powertrain, store_ref = vehicle.field("Powertrain__c"), vehicle.field("Store__c")
        tz_field = store.field("Time_Zone__c") if store else None
        for car in cars:
            row = self._org.store.get(vehicle, car, self._tx)
            if row is None:
                continue
            tz = None
            if store_ref is not None and tz_field is not None and row[store_ref.column]:
                store_row = self._org.store.get(store, row[store_ref.column], self._tx)
                tz = store_row[tz_field.column] if store_row is not None else None
            out[car] = VehicleInfo(row[powertrain.column] if powertrain else None, tz)
        return out

    def _user(self) -> str | None:
        user = self._org.catalog.get("User")
        row = self._org.store.get(user, self._org.writer.user_id, self._tx) if user else None
        return row["LanguageLocaleKey"] if row is not None and "LanguageLocaleKey" in row.keys() else None


def run_single(org, tx: sqlite3.Connection, obj: ObjectDef, record_id: str | None, write: Callable[[], str]) -> str:
    """Save one record through the before-save rules; raises RecordErrors if they refuse it.

    ``record_id``: the Id of an update (None for an insert); ``write`` does the field checks and
    the write and returns the Id. The caller's transaction rolls the write back on the error.
    """
    trigger = BookingTrigger.for_one(org, tx, obj, record_id)
    saved_id = write()
    errors = trigger.check({0: saved_id}, all_or_none=True).get(0)
    if errors:
        raise RecordErrors(errors)
    return saved_id
