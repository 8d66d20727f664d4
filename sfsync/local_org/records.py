"""Record writes with Salesforce's field checks (the sObject and collection resources share these).

Checks in the order Salesforce reports them: unknown field (INVALID_FIELD), JSON value of the
wrong type (JSON_PARSER_ERROR, a whole-request error), read-only field
(INVALID_FIELD_FOR_INSERT_UPDATE), value checks (length, e-mail, picklist, ids, references),
required fields (REQUIRED_FIELD_MISSING), unique fields (DUPLICATE_VALUE).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.errors import RecordErrors, SaveError, echo, invalid_field
from sfsync.local_org.ids import normalize_id
from sfsync.local_org.standard_objects import PERSON_NAME_OBJECTS
from sfsync.local_org.store import Store, quote, storage_default
from sfsync.local_org.values import BadValue, to_json, to_storage

logger = logging.getLogger(__name__)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SYSTEM_STAMPS = ("CreatedDate", "LastModifiedDate", "SystemModstamp")


@dataclass(frozen=True)
class BadJson(Exception):
    """A field's JSON value has the wrong type: the request fails with JSON_PARSER_ERROR."""

    field: str
    error: BadValue


def _insert_update_error(names: list[str]) -> SaveError:
    joined = ", ".join(names)
    return SaveError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {joined}. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        tuple(names),
    )


def record_json(obj: ObjectDef, row: sqlite3.Row, api_version: str) -> dict:
    """A whole record as GET sobjects/<Type>/<Id> returns it."""
    out: dict[str, Any] = {
        "attributes": {"type": obj.api_name, "url": f"/services/data/v{api_version}/sobjects/{obj.api_name}/{row['Id']}"}
    }
    keys = set(row.keys())
    for fdef in obj.fields.values():
        if fdef.column in keys:
            out[fdef.api_name] = to_json(fdef, row[fdef.column])
    return out


class RecordWriter:
    """Validates and writes records of one org; every method runs inside the caller's transaction."""

    def __init__(self, store: Store, catalog: Callable[[], Catalog], user_id: str):
        self.store = store
        self._catalog = catalog
        self.user_id = user_id

    @property
    def catalog(self) -> Catalog:
        return self._catalog()

    # -- checks ------------------------------------------------------------------------------
    def convert(self, obj: ObjectDef, body: dict, creating: bool) -> tuple[dict[str, tuple[FieldDef, Any]], list[SaveError]]:
        """JSON fields -> {column: (FieldDef, stored value)}; errors found before touching the database."""
        fields: dict[str, tuple[FieldDef, Any]] = {}
        unknown = [k for k in body if k != "attributes" and obj.field(k) is None]
        if unknown:
            # Salesforce stops at the first unknown column.
            return {}, [invalid_field(unknown[0], obj.api_name)]
        for key, value in body.items():
            if key == "attributes":
                continue
            fdef = obj.field(key)
            assert fdef is not None
            if creating and fdef.api_name == "Id":
                continue  # checked by the caller (Id on create is ignored by collections when null)
            try:
                fields[fdef.column] = (fdef, to_storage(fdef, value))
            except BadValue as exc:
                raise BadJson(key, exc) from None
        readonly = [
            f.api_name for f, _ in fields.values() if not (f.createable if creating else f.updateable)
        ]
        if readonly:
            return {}, [_insert_update_error(readonly)]
        return fields, []

    def _value_errors(self, tx: sqlite3.Connection, obj: ObjectDef, fields: dict[str, tuple[FieldDef, Any]]) -> list[SaveError]:
        errors: list[SaveError] = []
        for fdef, value in fields.values():
            if value is None:
                continue
            if fdef.type in ("string", "textarea", "email", "phone", "url", "picklist") and fdef.length:
                if len(value) > fdef.length:
                    errors.append(SaveError(
                        "STRING_TOO_LONG",
                        f"{fdef.label}: data value too large: {echo(value)} (max length={fdef.length})",
                        (fdef.api_name,),
                    ))
                    continue
            if fdef.type == "email" and not _EMAIL_RE.match(value):
                errors.append(SaveError(
                    "INVALID_EMAIL_ADDRESS", f"{fdef.label}: invalid email address: {value}", (fdef.api_name,)
                ))
            elif fdef.type == "picklist" and fdef.restricted and value not in fdef.picklist_values:
                errors.append(SaveError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{fdef.label}: bad value for restricted picklist field: {value}",
                    (fdef.api_name,),
                ))
            elif fdef.type == "reference":
                error = self._reference_error(tx, fdef, value)
                if error:
                    errors.append(error)
                else:
                    fields[fdef.column] = (fdef, normalize_id(value))
        return errors

    def _reference_error(self, tx: sqlite3.Connection, fdef: FieldDef, value: str) -> SaveError | None:
        full = normalize_id(value)
        if full is None:
            return SaveError("MALFORMED_ID", f"{fdef.label}: id value of incorrect type: {value}", (fdef.api_name,))
        targets = [self.catalog.get(name) for name in fdef.reference_to]
        target = next((t for t in targets if t is not None and t.key_prefix == full[:3]), None)
        if target is None:
            return SaveError(
                "FIELD_INTEGRITY_EXCEPTION", f"{fdef.label}: id value of incorrect type: {value}", (fdef.api_name,)
            )
        if not self.store.exists(target, full, tx):
            return SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (fdef.api_name,))
        return None

    def _unique_errors(self, tx: sqlite3.Connection, obj: ObjectDef, fields: dict[str, tuple[FieldDef, Any]], own_id: str | None) -> list[SaveError]:
        errors = []
        for fdef, value in fields.values():
            if not fdef.unique or value is None:
                continue
            row = tx.execute(
                f"SELECT Id FROM {quote(obj.table)} WHERE {quote(fdef.column)} = ? AND Id IS NOT ?",
                (value, own_id),
            ).fetchone()
            if row:
                errors.append(SaveError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {fdef.api_name} duplicates value on record with id: {row[0]}",
                    (),
                ))
        return errors

    # -- writes ------------------------------------------------------------------------------
    def create(self, tx: sqlite3.Connection, obj: ObjectDef, body: dict, now_ms: int) -> str:
        """Insert one record; raises RecordErrors or BadJson. Returns the new Id."""
        if body.get("Id") not in (None, ""):
            raise RecordErrors([SaveError(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ("Id",)
            )])
        fields, errors = self.convert(obj, body, creating=True)
        if errors:
            raise RecordErrors(errors)
        # Defaults for absent fields, then the system fields.
        for fdef in obj.fields.values():
            if fdef.column not in fields and fdef.default is not None and fdef.createable:
                fields[fdef.column] = (fdef, storage_default(fdef))
        owner = obj.field("OwnerId")
        if owner is not None and fields.get(owner.column, (None, None))[1] is None:
            fields[owner.column] = (owner, self.user_id)
        errors = self._value_errors(tx, obj, fields)
        missing = [
            f.api_name for f in obj.fields.values()
            if (f.required_on_create or not f.nillable) and f.createable and f.type != "boolean"
            and fields.get(f.column, (None, None))[1] in (None, "")
        ]
        if missing:
            errors.append(SaveError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)))
        if not errors:
            errors = self._unique_errors(tx, obj, fields, None)
        if errors:
            raise RecordErrors(errors)
        values = {col: v for col, (_, v) in fields.items()}
        record_id = self.store.next_id(tx, obj.key_prefix)
        values.update({"Id": record_id, "CreatedById": self.user_id, "LastModifiedById": self.user_id})
        for stamp in _SYSTEM_STAMPS:
            values[stamp] = now_ms
        self._derive_name(obj, values, None)
        self.store.insert(tx, obj, values)
        return record_id

    def update(self, tx: sqlite3.Connection, obj: ObjectDef, record_id: str, body: dict, now_ms: int) -> None:
        """Update one existing record (``record_id`` already checked to exist)."""
        clean = {k: v for k, v in body.items() if k.lower() != "id"}
        fields, errors = self.convert(obj, clean, creating=False)
        if errors:
            raise RecordErrors(errors)
        errors = self._value_errors(tx, obj, fields)
        cleared = [
            f.api_name for f, v in fields.values()
            if v in (None, "") and (not f.nillable or f.required_on_create) and f.type != "boolean"
        ]
        if cleared:
            errors.append(SaveError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", tuple(cleared)))
        if not errors:
            errors = self._unique_errors(tx, obj, fields, record_id)
        if errors:
            raise RecordErrors(errors)
        values = {col: (0 if f.type == "boolean" and v is None else v) for col, (f, v) in fields.items()}
        values.update({"LastModifiedById": self.user_id, "LastModifiedDate": now_ms, "SystemModstamp": now_ms})
        self._derive_name(obj, values, self.store.get(obj, record_id, tx))
        self.store.update(tx, obj, record_id, values)

    def delete(self, tx: sqlite3.Connection, obj: ObjectDef, record_id: str) -> None:
        """Delete a record: master-detail children go with it, lookups to it are cleared."""
        for child in self.catalog:
            for fdef in child.fields.values():
                if fdef.type != "reference" or obj.api_name not in fdef.reference_to:
                    continue
                if fdef.cascade_delete:
                    for (child_id,) in tx.execute(
                        f"SELECT Id FROM {quote(child.table)} WHERE {quote(fdef.column)} = ?", (record_id,)
                    ).fetchall():
                        self.delete(tx, child, child_id)
                elif fdef.nillable and fdef.updateable:
                    tx.execute(
                        f"UPDATE {quote(child.table)} SET {quote(fdef.column)} = NULL WHERE {quote(fdef.column)} = ?",
                        (record_id,),
                    )
        self.store.delete(tx, obj, record_id)

    def _derive_name(self, obj: ObjectDef, values: dict, old: sqlite3.Row | None) -> None:
        if obj.api_name.lower() not in PERSON_NAME_OBJECTS:
            return
        if "FirstName" not in values and "LastName" not in values:
            return
        first = values["FirstName"] if "FirstName" in values else (old["FirstName"] if old else None)
        last = values["LastName"] if "LastName" in values else (old["LastName"] if old else None)
        values["Name"] = " ".join(p for p in (first, last) if p)


__all__ = ["RecordWriter", "BadJson", "record_json"]
