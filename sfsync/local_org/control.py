"""The loopback control endpoint of the local org (fault rules and request counters).

``/__sfsync__/...`` needs ``Authorization: Bearer <token>`` where the token is the content of
``control-token`` in the state folder (0600): whoever can read the state folder may steer the
org, nobody else. Org sessions do not work here, and control requests are not counted.

    POST   /__sfsync__/faults     body: one rule object or a list of them -> 200 {"rules": [...]}
    GET    /__sfsync__/faults     -> 200 {"rules": [...]}
    DELETE /__sfsync__/faults     -> 204 (all rules removed)
    GET    /__sfsync__/counters   -> 200 {"METHOD /path": count, ...}
    DELETE /__sfsync__/counters   -> 204 (counters reset)
"""

from __future__ import annotations

import hmac
import json
import logging
from re import error as re_error  # a bad path pattern is a bad rule

from sfsync.local_org.faults import FaultInjector, FaultRule
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.oauth import bearer_token

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/__sfsync__/"


def _error(status: int, error: str, description: str) -> Response:
    return Response.json(status, {"error": error, "error_description": description})


class ControlApi:
    def __init__(self, faults: FaultInjector, token: str):
        self.faults = faults
        self._token = token

    def handle(self, req: Request) -> Response:
        given = bearer_token(req.header("Authorization")) or ""
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return _error(401, "unauthorized", "the control endpoint needs the control token of the state folder")
        what = req.path[len(CONTROL_PREFIX):].rstrip("/")
        if what == "faults":
            if req.method == "GET":
                return self._rules()
            if req.method == "DELETE":
                self.faults.clear()
                return Response(204)
            if req.method == "POST":
                return self._add(req.body)
        elif what == "counters":
            if req.method == "GET":
                return Response.json(200, self.faults.counters())
            if req.method == "DELETE":
                self.faults.reset_counters()
                return Response(204)
        else:
            return _error(404, "not_found", f"no control resource {what!r}")
        return _error(405, "method_not_allowed", f"{req.method} is not allowed on {req.path}")

    def _rules(self) -> Response:
        return Response.json(200, {"rules": [r.to_json() for r in self.faults.rules()]})

    def _add(self, body: bytes) -> Response:
        try:
            data = json.loads(body.decode("utf-8"))
            rules = [FaultRule.from_json(item) for item in (data if isinstance(data, list) else [data])]
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            return _error(400, "invalid_request", f"body is not JSON: {exc}")
        except (TypeError, ValueError, re_error) as exc:
            return _error(400, "invalid_rule", str(exc))
        for rule in rules:
            self.faults.add(rule)
        return self._rules()


__all__ = ["ControlApi", "CONTROL_PREFIX"]
