"""Fault injection: make chosen requests of the local org fail as Salesforce fails.

A rule matches requests by method and path (a regular expression matched against the whole path,
without the query string). Each rule counts the requests it matches; it fires on matching
requests ``nth`` .. ``nth + times - 1`` (``nth`` None = from the first; ``times`` None = without
end; ``times`` left out = 1 when ``nth`` is given, otherwise every matching request).

What a firing rule does, in this order: wait ``delay_seconds``; then drop the connection, or
answer with a whole-request error (``status``), or let the request through with per-item
failures (``item_errors``, composite/sobjects and invocable actions). With ``after=True`` the org
processes the request first (its writes are kept) and only then drops or fails the answer: the
"the write happened but the answer was lost" case clients must survive.

Rules come from ``srv.faults.add(...)``, the rule file ``faults.json`` in the state folder (read
at start), or the control endpoint (see control.py).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from sfsync.local_org.ids import normalize_id
from sfsync.local_org.messages import Request, Response

logger = logging.getLogger(__name__)

_UNSET: Any = object()

# Salesforce's wording for the errors clients meet; a rule without a message gets these.
DEFAULT_MESSAGES = {
    "SERVER_UNAVAILABLE": "Server Unavailable",
    "UNKNOWN_EXCEPTION": "An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}",
    "INVALID_SESSION_ID": "Session expired or invalid",
    "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
    "INVALID_QUERY_LOCATOR": "invalid query locator",
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "The record failed a validation rule.",
    "NOT_FOUND": "The requested resource does not exist",
}
DEFAULT_CODES = {
    500: "UNKNOWN_EXCEPTION",
    503: "SERVER_UNAVAILABLE",
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    400: "INVALID_QUERY_LOCATOR",
    404: "NOT_FOUND",
}
_DATA_PREFIX = re.compile(r"^/services/data/v\d+\.\d+/")
_LOCATOR_RE = re.compile(r"^01g[0-9A-Za-z]{12,15}-\d+$")


def default_message(code: str) -> str:
    template = DEFAULT_MESSAGES.get(code, code)
    # Salesforce's ErrorId is a number pair; a random one keeps each answer distinct.
    return template.format(error_id=f"{uuid.uuid4().int % 10**10}-{uuid.uuid4().int % 10**5} ({uuid.uuid4().int % 10**10})")


@dataclass
class FaultRule:
    method: str | None = None  # None or "*" = any method
    path: str = ".*"  # regular expression, matched against the whole path
    nth: int | None = None
    times: int | None = _UNSET
    status: int | None = None
    error_code: str | None = None
    message: str | None = None
    item_errors: dict[int, tuple[str, str]] | None = None
    delay_seconds: float = 0.0
    drop_connection: bool = False
    after: bool = False  # beyond the contract: process the request, then fail/drop the answer

    def __post_init__(self) -> None:
        if self.times is _UNSET:
            self.times = 1 if self.nth is not None else None
        if self.nth is not None and self.nth < 1:
            raise ValueError("nth is 1-based: it must be 1 or more")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be 1 or more (or None for no end)")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")
        if self.status is not None and self.error_code is None:
            self.error_code = DEFAULT_CODES.get(self.status, "UNKNOWN_EXCEPTION")
        if self.item_errors is not None:
            self.item_errors = _item_errors(self.item_errors)
        if self.status is None and not self.item_errors and not self.drop_connection and not self.delay_seconds:
            raise ValueError("a fault rule needs status, item_errors, drop_connection or delay_seconds")
        self._path_re = re.compile(self.path)

    def matches(self, req: Request) -> bool:
        if self.method not in (None, "*") and self.method.upper() != req.method.upper():
            return False
        return self._path_re.fullmatch(req.path) is not None

    def fires_on(self, count: int) -> bool:
        """Whether the ``count``-th matching request (1-based) is hit."""
        first = self.nth or 1
        if count < first:
            return False
        return self.times is None or count < first + self.times

    def to_json(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.item_errors is not None:
            data["item_errors"] = {str(i): list(v) for i, v in self.item_errors.items()}
        return data

    @classmethod
    def from_json(cls, data: Any) -> "FaultRule":
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be a JSON object")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown fault rule key(s): {', '.join(unknown)}")
        return cls(**data)


def _item_errors(raw: Any) -> dict[int, tuple[str, str]]:
    if not isinstance(raw, dict):
        raise ValueError("item_errors must map item index -> (error code, message)")
    out: dict[int, tuple[str, str]] = {}
    for key, value in raw.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"item_errors key {key!r} is not an item index") from None
        if isinstance(value, str):
            value = (value, default_message(value))
        if not isinstance(value, (list, tuple)) or len(value) not in (1, 2) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"item_errors[{index}] must be an error code or [error code, message]")
        code = value[0]
        out[index] = (code, value[1] if len(value) == 2 else default_message(code))
    return out


def normalise_path(path: str) -> str:
    """A path with record ids and query locators replaced, so counters group by endpoint."""
    parts = path.rstrip("/").split("/") if path != "/" else [""]
    out = []
    for part in parts:
        if _LOCATOR_RE.match(part):
            out.append("{locator}")
        elif any(c.isdigit() for c in part) and normalize_id(part) is not None:
            out.append("{id}")
        else:
            out.append(part)
    return "/".join(out) or "/"


class FaultInjector:
    """The rules and request counters of one server; the app calls ``intercept`` for every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, list[int]]] = []  # rule, [matching requests seen]
        self._file_rules: list[tuple[FaultRule, list[int]]] = []
        self._counters: Counter[str] = Counter()
        self.sleep: Callable[[float], None] = time.sleep

    # -- rules -------------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> FaultRule:
        if not isinstance(rule, FaultRule):
            raise TypeError("add() takes a FaultRule")
        with self._lock:
            self._rules.append((rule, [0]))
        logger.info("fault rule added: %s %s", rule.method or "*", rule.path)
        return rule

    def clear(self) -> None:
        """Remove every rule (those from faults.json too)."""
        with self._lock:
            self._rules.clear()
            self._file_rules.clear()

    def set_file_rules(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._file_rules = [(r, [0]) for r in rules]

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [r for r, _ in self._file_rules + self._rules]

    # -- counters ----------------------------------------------------------------------------
    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()

    # -- dispatch ----------------------------------------------------------------------------
    def _select(self, req: Request) -> FaultRule | None:
        """Count the request everywhere it matches; the first rule that fires wins."""
        chosen = None
        with self._lock:
            self._counters[f"{req.method.upper()} {normalise_path(req.path)}"] += 1
            for rule, seen in self._file_rules + self._rules:
                if not rule.matches(req):
                    continue
                seen[0] += 1
                if chosen is None and rule.fires_on(seen[0]):
                    chosen = rule
        return chosen

    def intercept(self, req: Request, proceed: Callable[[Request], Response]) -> Response:
        rule = self._select(req)
        if rule is None:
            return proceed(req)
        logger.info("fault injected on %s %s", req.method, req.path)
        if rule.delay_seconds:
            self.sleep(rule.delay_seconds)
        if rule.item_errors:
            req.item_errors = dict(rule.item_errors)
        if rule.after:
            response = proceed(req)
            if rule.drop_connection:
                return Response(0, drop_connection=True)
            if rule.status is not None:
                return error_response(req, rule)
            return response
        if rule.drop_connection:
            return Response(0, drop_connection=True)
        if rule.status is not None:
            return error_response(req, rule)
        return proceed(req)


def error_response(req: Request, rule: FaultRule) -> Response:
    """The body Salesforce sends for this error on this kind of endpoint."""
    code = rule.error_code or DEFAULT_CODES.get(rule.status, "UNKNOWN_EXCEPTION")
    message = rule.message or default_message(code)
    status = rule.status or 500
    if req.path.startswith("/services/oauth2/"):
        return Response.json(status, {"error": code, "error_description": message})
    if req.path.startswith("/services/Soap/"):
        from sfsync.local_org.metadata_api import SoapFault, fault_response

        response = fault_response(SoapFault(f"sf:{code}", f"{code}: {message}", code))
        response.status = status
        return response
    return Response.json(status, [{"message": message, "errorCode": code}])


__all__ = ["FaultRule", "FaultInjector", "normalise_path", "error_response"]
