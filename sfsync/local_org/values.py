"""Conversions between JSON field values and their SQLite storage encoding."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sfsync.local_org.catalog import FieldDef

UTC = dt.timezone.utc
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadValue(ValueError):
    """The JSON value cannot become a value of the field's type (Salesforce: JSON_PARSER_ERROR)."""

    def __init__(self, sf_type: str, token: str, text: str):
        self.sf_type = sf_type  # the type name Salesforce's deserializer names
        self.token = token  # VALUE_STRING, VALUE_NUMBER_INT, ...
        self.text = text
        super().__init__(f"{sf_type} from {token} value {text}")


def json_token(value: Any) -> tuple[str, str]:
    """Jackson's token name for a JSON value and how Salesforce prints it in messages."""
    if isinstance(value, bool):
        return ("VALUE_TRUE" if value else "VALUE_FALSE"), ("true" if value else "false")
    if isinstance(value, int):
        return "VALUE_NUMBER_INT", str(value)
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT", repr(value)
    if isinstance(value, dict):
        return "START_OBJECT", "{"
    if isinstance(value, list):
        return "START_ARRAY", "["
    return "VALUE_STRING", str(value)


def parse_datetime(text: str) -> dt.datetime:
    """ISO 8601 with Z or an offset (no offset means UTC, as Salesforce reads it)."""
    m = _DATETIME_RE.match(text)
    if not m:
        raise ValueError(text)
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    frac = (m.group(7) or "0")[:6].ljust(6, "0")
    tzs = m.group(8)
    if tzs in (None, "Z"):
        tz = UTC
    else:
        sign = -1 if tzs[0] == "-" else 1
        digits = tzs[1:].replace(":", "")
        tz = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return dt.datetime(year, month, day, hour, minute, second, int(frac), tzinfo=tz)


def datetime_to_ms(value: dt.datetime) -> int:
    return int(round(value.timestamp() * 1000))


def ms_to_text(ms: int) -> str:
    """Salesforce's datetime form: 2026-11-23T15:00:00.000+0000."""
    d = dt.datetime.fromtimestamp(ms / 1000, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}+0000"


def now_ms() -> int:
    return datetime_to_ms(dt.datetime.now(UTC))


def to_storage(fdef: FieldDef, value: Any) -> Any:
    """JSON value -> stored value; raises BadValue like Salesforce's JSON deserializer would."""
    if value is None:
        return None
    t = fdef.type
    token, text = json_token(value)
    if isinstance(value, (dict, list)):
        raise BadValue(_deser_type(t), token, text)
    if t == "boolean":
        if isinstance(value, bool):
            return 1 if value else 0
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return 1 if value.lower() == "true" else 0
        raise BadValue("boolean", token, text)
    if t in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            raise BadValue(_deser_type(t), token, text)
        if isinstance(value, (int, float)):
            return int(value) if t == "int" else float(value)
        try:
            return int(value) if t == "int" else float(value)
        except ValueError:
            raise BadValue(_deser_type(t), token, text) from None
    if t == "date":
        if isinstance(value, str) and _DATE_RE.match(value):
            try:
                dt.date.fromisoformat(value)
                return value
            except ValueError:
                pass
        raise BadValue("date", token, text)
    if t == "datetime":
        if isinstance(value, str):
            try:
                return datetime_to_ms(parse_datetime(value))
            except ValueError:
                pass
        raise BadValue("datetime", token, text)
    # text-like, picklist, reference, id: JSON scalars become their text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def _deser_type(t: str) -> str:
    return {
        "int": "int", "double": "double", "currency": "double", "percent": "double",
        "boolean": "boolean", "date": "date", "datetime": "datetime",
    }.get(t, "String")


def to_json(fdef: FieldDef, stored: Any) -> Any:
    """Stored value -> JSON value as the REST API returns it."""
    if stored is None:
        return None
    t = fdef.type
    if t == "boolean":
        return bool(stored)
    if t == "datetime":
        return ms_to_text(int(stored))
    if t == "int":
        return int(stored)
    if t in ("double", "currency", "percent"):
        return float(stored)
    return stored
