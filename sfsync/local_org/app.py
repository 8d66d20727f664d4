"""The single dispatch point of the local org: every HTTP request goes through LocalOrgApp.handle.

``fault_hook(req, proceed)`` (faults.FaultInjector.intercept) wraps the org: it counts the request
and may delay it, answer in place of the org, let it through with per-item failures, or drop the
connection. The control endpoint (control.py) is answered before the hook and never counted.
"""

from __future__ import annotations

import logging
import re
from typing import Callable

from sfsync.local_org.control import CONTROL_PREFIX, ControlApi
from sfsync.local_org.errors import ApiError, invalid_session, not_found
from sfsync.local_org.faults import default_message
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.metadata_api import MetadataApi
from sfsync.local_org.oauth import SessionRegistry, bearer_token
from sfsync.local_org.org import LocalOrg
from sfsync.local_org.rest import RestApi

logger = logging.getLogger(__name__)

_DATA_RE = re.compile(r"^/services/data/v(\d+)\.(\d+)(?:/(.*))?$")
_SOAP_RE = re.compile(r"^/services/Soap/m/(\d+)\.(\d+)(?:/.*)?$")
MIN_VERSION = 50

FaultHook = Callable[[Request, Callable[[Request], Response]], Response]


def _unexpected() -> Response:
    return Response.json(500, [{"message": default_message("UNKNOWN_EXCEPTION"), "errorCode": "UNKNOWN_EXCEPTION"}])


class LocalOrgApp:
    def __init__(self, org: LocalOrg, instance_url: Callable[[], str]):
        self.org = org
        self.instance_url = instance_url
        self.sessions = SessionRegistry(org.credentials.org_id, org.settings.token_lifetime_seconds)
        self.rest = RestApi(org)
        self.metadata = MetadataApi(org, self.sessions)
        self.fault_hook: FaultHook | None = None
        self.control: ControlApi | None = None

    def handle(self, req: Request) -> Response:
        if req.path.startswith(CONTROL_PREFIX):
            return self.control.handle(req) if self.control is not None else Response.json(404, {"error": "not_found"})
        hook = self.fault_hook
        try:
            response = hook(req, self._dispatch) if hook is not None else self._dispatch(req)
        except Exception:  # a broken hook must not kill the server thread
            logger.exception("local org: fault hook failed on %s %s", req.method, req.path)
            response = _unexpected()
        if req.path.startswith("/services/data/") and not response.drop_connection:
            self._limit_header(response)
        return response

    def _dispatch(self, req: Request) -> Response:
        try:
            response = self._route(req)
        except ApiError as exc:
            response = Response.json(exc.status, exc.body)
        except Exception:  # a bug must not kill the server thread; answer as Salesforce does
            logger.exception("local org: unexpected error on %s %s", req.method, req.path)
            response = _unexpected()
        return response

    def _limit_header(self, response: Response) -> None:
        used, limit = self.org.api_usage()
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{limit}"

    def _route(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == "/services/oauth2/token":
            if req.method != "POST":
                raise not_found()
            creds = self.org.credentials
            return Response.json(200, self.sessions.token_response(
                req.body, creds.username, creds.password, creds.user_id, self.instance_url()
            ))
        m = _DATA_RE.match(path)
        if m:
            major = int(m.group(1))
            if self.sessions.user_for(bearer_token(req.header("Authorization"))) is None:
                raise invalid_session()
            used, limit = self.org.count_api_call()
            if used > limit:
                raise ApiError.of(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            if major < MIN_VERSION or major > 66:
                raise not_found()
            version = f"{m.group(1)}.{m.group(2)}"
            rest_path = m.group(3) or ""
            if not rest_path:
                raise not_found()
            return self.rest.handle(req, version, rest_path.split("/"))
        if _SOAP_RE.match(path):
            if req.method != "POST":
                raise not_found()
            return self.metadata.handle(req)
        raise not_found()
