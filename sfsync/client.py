"""The one way sfsync talks to an org: REST through simple-salesforce, Metadata SOAP, OAuth login.

Error policy (docs/contracts.md): no answer / TLS -> OrgUnreachable; OAuth refusal ->
AuthenticationFailed (never retried: retrying a wrong password locks the user out);
401 INVALID_SESSION_ID -> log in again once and repeat the call once, then SessionExpired;
403 REQUEST_LIMIT_EXCEEDED -> ApiLimitExceeded; any other 4xx -> SalesforceApiError (not
retried: the same request gets the same answer); 5xx and dropped connections -> retried with
exponential backoff and jitter, then the error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from lxml import etree
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from sfsync.config import OrgCredentials
from sfsync.errors import (
    ApiLimitExceeded,
    ConfigError,
    OrgUnreachable,
    SalesforceApiError,
    SessionExpired,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# sObject Collections take at most 200 records per request (REST API guide, "sObject Collections").
COLLECTION_CHUNK = 200
# The Actions guide documents no per-request cap on inputs for customNotificationAction (only
# 500 recipient ids per input, 250/750 characters for title/body); 200 keeps one request the
# size of one DML chunk, which is also what Flow hands an invocable action at a time.
ACTION_INPUT_CHUNK: dict[str, int] = {"customNotificationAction": 200}
DEFAULT_ACTION_INPUT_CHUNK = 200

SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
METADATA_NS = "http://soap.sforce.com/2006/04/metadata"

_LIMIT_INFO_RE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (5xx, dropped connections) are retried."""

    attempts: int = 4  # total tries, the first one included
    max_wait: float = 8.0  # seconds, cap of one backoff sleep
    multiplier: float = 0.5  # first backoff is up to this many seconds, then doubles
    timeout: tuple[float, float] = (10.0, 120.0)  # requests (connect, read) timeout

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """Defaults, overridable by SFSYNC_RETRY_ATTEMPTS / SFSYNC_RETRY_MAX_WAIT (tests, CI)."""
        base = cls()
        try:
            attempts = int(os.environ.get("SFSYNC_RETRY_ATTEMPTS", base.attempts))
            max_wait = float(os.environ.get("SFSYNC_RETRY_MAX_WAIT", base.max_wait))
        except ValueError:
            raise ConfigError("SFSYNC_RETRY_ATTEMPTS must be an integer and SFSYNC_RETRY_MAX_WAIT a number") from None
        if attempts < 1 or max_wait < 0:
            raise ConfigError("SFSYNC_RETRY_ATTEMPTS must be at least 1 and SFSYNC_RETRY_MAX_WAIT not negative")
        return cls(attempts=attempts, max_wait=max_wait, multiplier=min(base.multiplier, max_wait))


@dataclass(frozen=True)
class ApiError:
    """One error of a SaveResult or an action result (their key is ``statusCode``)."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SaveResult:
    """Outcome of one record of a composite/sobjects call, in input order."""

    id: str | None
    success: bool
    errors: list[ApiError] = field(default_factory=list)


@dataclass(frozen=True)
class ActionResult:
    """Outcome of one input of an invocable action, in input order."""

    is_success: bool
    errors: list[ApiError] = field(default_factory=list)
    output_values: dict[str, Any] | None = None


@dataclass
class QueryPage:
    """One page of a query result."""

    records: list[dict]
    total_size: int
    done: bool


# Per-item errors of a DML call that are worth retrying for the failed items only.
LOCK_ERRORS = frozenset({"UNABLE_TO_LOCK_ROW"})


class _Transient(Exception):
    """Worth another try; ``final`` is what the caller sees if the tries run out."""

    def __init__(self, final: Exception):
        super().__init__(str(final))
        self.final = final


class _InvalidSession(Exception):
    """The org answered INVALID_SESSION_ID; the caller decides whether to log in again."""


class _CountingSession(requests.Session):
    """A requests.Session that counts every request answered and reads Sforce-Limit-Info.

    simple-salesforce and our own OAuth/SOAP calls share this session, so the count covers
    login, REST and SOAP alike.
    """

    def __init__(self, timeout: tuple[float, float]):
        super().__init__()
        self.calls = 0
        self.api_usage: tuple[int, int] | None = None
        self._timeout = timeout

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        # requests lets $REQUESTS_CA_BUNDLE override Session.verify when the call passes no
        # verify of its own (psf/requests#4726); pass it explicitly so the org's CA is used.
        kwargs.setdefault("verify", self.verify)
        response = super().request(method, url, *args, **kwargs)
        self.calls += 1
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            match = _LIMIT_INFO_RE.search(info)
            if match:
                self.api_usage = (int(match.group(1)), int(match.group(2)))
        return response


def _first_error(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) from a REST error body: a JSON array of {message, errorCode}."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        item = content[0]
        code = item.get("errorCode") or item.get("statusCode")
        return code, str(item.get("message", "")).strip()
    if isinstance(content, dict):
        code = content.get("errorCode") or content.get("error")
        message = content.get("message") or content.get("error_description") or ""
        return code, str(message).strip()
    text = str(content or "").strip()
    return None, text[:500]


def _api_errors(items: Any) -> list[ApiError]:
    if not items:
        return []
    return [
        ApiError(
            status_code=str(e.get("statusCode") or e.get("errorCode") or "UNKNOWN"),
            message=str(e.get("message", "")),
            fields=list(e.get("fields") or []),
        )
        for e in items
    ]


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _safe_url(url: str) -> str:
    """The URL without its query string (which may carry a long SOQL text)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class OrgClient:
    """A logged-in connection to one org. Build it with :meth:`connect`."""

    def __init__(self, creds: OrgCredentials, retry: RetryPolicy | None = None):
        self._creds = creds
        self._retry = retry or RetryPolicy.from_env()
        self._http = _CountingSession(self._retry.timeout)
        if creds.ca_file:
            self._http.verify = str(creds.ca_file)
        self.instance_url = creds.instance_url.rstrip("/")
        self.api_version = creds.api_version
        self._token: str | None = None
        self._sf: Salesforce | None = None

    # ------------------------------------------------------------------ connection
    @classmethod
    def connect(cls, creds: OrgCredentials, retry: RetryPolicy | None = None) -> OrgClient:
        """Log in by the org's configured method (sfsync.auth); no REST call is made yet."""
        client = cls(creds, retry)
        client._login()
        return client

    @property
    def api_calls(self) -> int:
        """HTTP requests answered so far, login included."""
        return self._http.calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API requests from the last Sforce-Limit-Info header."""
        return self._http.api_usage

    @property
    def can_refresh(self) -> bool:
        from sfsync.auth import can_refresh

        return can_refresh(self._creds)

    def _adopt_token(self, token: str, instance_url: str) -> None:
        self._token = token
        self.instance_url = instance_url.rstrip("/")
        # simple-salesforce is used as is for REST; "direct" mode (session_id + instance_url)
        # makes no request of its own and never tries to refresh on its own.
        self._sf = Salesforce(
            instance_url=self.instance_url,
            session_id=token,
            session=self._http,
            version=self.api_version,
            object_pairs_hook=dict,  # plain dicts, not OrderedDict, for callers and JSON output
        )

    def _login(self) -> None:
        """Log in (or log in again) by the org's method; the requests are sfsync.auth's.

        We post token requests ourselves: simple-salesforce's own login builds its URL as
        ``https://{domain}.salesforce.com``, so it cannot log in to a My Domain-less host such
        as the local org on 127.0.0.1. Only 5xx and dropped connections are retried here; a
        refusal (AuthenticationFailed) never is.
        """
        from sfsync import auth

        def post(url: str, data: dict) -> requests.Response:
            def attempt() -> requests.Response:
                response = self._send(
                    lambda: self._http.post(url, data=data, headers={"Accept": "application/json"}), url)
                if response.status_code >= 500:
                    raise _Transient(SalesforceApiError(
                        f"login at {_safe_url(url)} failed with HTTP {response.status_code}",
                        status=response.status_code))
                return response

            return self._retrying(attempt, f"login at {_safe_url(url)}")

        result = auth.login(self._creds, post)
        self.username, self.user_id = result.username, result.user_id
        self._adopt_token(result.access_token, result.instance_url)

    # ------------------------------------------------------------------ call plumbing
    def _send(self, do: Callable[[], requests.Response], url: str) -> requests.Response:
        """Run one HTTP exchange, turning transport failures into our errors."""
        try:
            return do()
        except requests.exceptions.SSLError as exc:
            # A certificate problem does not heal by waiting: no retry.
            raise OrgUnreachable(f"TLS handshake with {_safe_url(url)} failed: {type(exc).__name__}") from None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(OrgUnreachable(f"no answer from {_safe_url(url)} ({type(exc).__name__})")) from None
        except requests.RequestException as exc:
            raise OrgUnreachable(f"cannot send a request to {_safe_url(url)} ({type(exc).__name__})") from None

    def _retrying(self, fn: Callable[[], T], what: str) -> T:
        policy = self._retry

        def note_retry(state: RetryCallState) -> None:
            # INFO, not WARNING: the caller reports the final outcome; retries are progress.
            exc = state.outcome.exception() if state.outcome else None
            logger.info(
                "%s: %s; retry %d of %d in %.1f s",
                what,
                exc,
                state.attempt_number,
                policy.attempts - 1,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retryer = Retrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_random_exponential(multiplier=policy.multiplier, max=policy.max_wait),
            retry=retry_if_exception_type(_Transient),
            before_sleep=note_retry,
            reraise=True,
        )
        try:
            return retryer(fn)
        except _Transient as exc:
            logger.info("%s: giving up after %d attempt(s)", what, policy.attempts)
            raise exc.final from None

    def _call(self, fn: Callable[[], T], what: str) -> T:
        """Retry transient errors; on INVALID_SESSION_ID log in again once and repeat once."""
        try:
            return self._retrying(fn, what)
        except _InvalidSession as exc:
            if not self.can_refresh:
                raise SessionExpired(str(exc), status=401, error_code="INVALID_SESSION_ID") from None
            logger.info("%s: session expired, logging in again", what)
            self._login()
        try:
            return self._retrying(fn, what)
        except _InvalidSession as exc:
            raise SessionExpired(
                f"{exc} (again after logging in anew)", status=401, error_code="INVALID_SESSION_ID"
            ) from None

    def _rest(self, what: str, fn: Callable[[Salesforce], T], *, action_results: bool = False) -> T:
        """Run a simple-salesforce call with the error policy of this module."""

        def attempt() -> T:
            assert self._sf is not None
            url = self.instance_url + what if what.startswith("/") else self._sf.base_url + what
            try:
                return self._send(lambda: fn(self._sf), url)  # type: ignore[arg-type]
            except SalesforceError as exc:
                # Invocable actions answer 400 with one result per input when some fail;
                # those are per-item outcomes, not a failed call.
                if action_results and exc.status == 400 and _is_action_results(exc.content):
                    return exc.content  # type: ignore[return-value]
                raise self._map_http_error(exc.status, exc.content, what) from None

        return self._call(attempt, what)

    @staticmethod
    def _map_http_error(status: int, content: Any, what: str) -> Exception:
        code, message = _first_error(content)
        if status == 401 and code == "INVALID_SESSION_ID":
            return _InvalidSession(f"{what}: {message}")
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return ApiLimitExceeded(message or "the org's API request limit is used up", status=status, error_code=code)
        error = SalesforceApiError(f"{what}: {message or f'HTTP {status}'}", status=status, error_code=code)
        if status >= 500:
            return _Transient(error)
        return error

    # ------------------------------------------------------------------ REST
    def query_pages(self, soql: str) -> Iterator[list[dict]]:
        """Yield each page of records of ``soql``, following nextRecordsUrl; one page in memory."""
        for page in self.query_result_pages(soql):
            yield page.records

    def query_result_pages(self, soql: str) -> Iterator[QueryPage]:
        """Like query_pages, with each page's totalSize and done flag (the last page has done=True).

        A query locator that expired or was dropped (400 INVALID_QUERY_LOCATOR) surfaces as a
        SalesforceApiError with that error_code; callers that page ``ORDER BY Id`` restart with
        ``Id > last seen`` (keyset) instead of starting over.
        """
        result = self._rest("query", lambda sf: sf.query(soql))
        page = 1
        while True:
            records = result.get("records", [])
            done = result.get("done", True)
            next_url = result.get("nextRecordsUrl")
            total = result.get("totalSize", len(records))
            del result  # hold one page only
            logger.debug("query page %d: %d record(s)", page, len(records))
            yield QueryPage(records=records, total_size=total, done=bool(done))
            del records
            if done:
                return
            if not next_url:
                raise SalesforceApiError("query result says done=false but has no nextRecordsUrl")
            # nextRecordsUrl is relative to the instance; keep only path+query if a host is given.
            parts = urlsplit(next_url)
            relative = parts.path + (f"?{parts.query}" if parts.query else "")
            result = self._rest(relative, lambda sf, rel=relative: sf.query_more(rel, identifier_is_url=True))
            page += 1

    def _collection(self, method: str, records: list[dict], sobject: str | None) -> list[SaveResult]:
        results: list[SaveResult] = []
        for chunk in _chunks(records, COLLECTION_CHUNK):
            payload_records = []
            for record in chunk:
                if "attributes" not in record:
                    if not sobject:
                        raise ValueError("each record needs attributes.type, or pass sobject=")
                    record = {"attributes": {"type": sobject}, **record}
                payload_records.append(record)
            body = {"allOrNone": False, "records": payload_records}
            raw = self._rest(
                "composite/sobjects",
                lambda sf, b=body: sf.restful("composite/sobjects", method=method, json=b),
            )
            if not isinstance(raw, list) or len(raw) != len(chunk):
                got = len(raw) if isinstance(raw, list) else type(raw).__name__
                raise SalesforceApiError(
                    f"composite/sobjects {method}: expected {len(chunk)} result(s), got {got}"
                )
            results.extend(
                SaveResult(id=item.get("id"), success=bool(item.get("success")), errors=_api_errors(item.get("errors")))
                for item in raw
            )
        return results

    def create_records(self, records: list[dict], sobject: str | None = None) -> list[SaveResult]:
        """Insert ``records`` (allOrNone=false), 200 per request; results in input order."""
        return self._collection("POST", records, sobject)

    def update_records(self, records: list[dict], sobject: str | None = None) -> list[SaveResult]:
        """Update ``records`` by Id (allOrNone=false), 200 per request; results in input order."""
        return self._collection("PATCH", records, sobject)

    def update_records_retrying(
        self,
        records: list[dict],
        sobject: str | None = None,
        *,
        retry_codes: frozenset[str] = LOCK_ERRORS,
        attempts: int = 3,
        sleep: Callable[[float], None] | None = None,
    ) -> list[SaveResult]:
        """update_records, then again for the items that failed with ``retry_codes`` only.

        UNABLE_TO_LOCK_ROW means another transaction held the row for a moment; the rest of the
        chunk was saved (allOrNone=false), so only the locked items are sent again, after a
        jittered exponential pause, at most ``attempts`` times in all.
        """
        import random
        import time

        pause = sleep or time.sleep
        results: list[SaveResult | None] = list(self.update_records(records, sobject))
        for attempt in range(1, attempts):
            retry = [i for i, r in enumerate(results) if r is not None and not r.success
                     and any(e.status_code in retry_codes for e in r.errors)]
            if not retry:
                break
            wait = min(self._retry.max_wait, self._retry.multiplier * (2 ** (attempt - 1)))
            logger.info("%d item(s) locked; retrying them (attempt %d of %d)", len(retry), attempt + 1, attempts)
            pause(random.uniform(0, wait))
            again = self.update_records([records[i] for i in retry], sobject)
            for i, result in zip(retry, again, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    @property
    def api_remaining(self) -> int | None:
        """Daily API requests left by the last Sforce-Limit-Info header (None before any REST answer)."""
        usage = self._http.api_usage
        return None if usage is None else max(0, usage[1] - usage[0])

    def invoke_standard_action(self, name: str, inputs: list[dict]) -> list[ActionResult]:
        """POST actions/standard/<name>; one ActionResult per input, in input order."""
        path = f"actions/standard/{name}"
        size = ACTION_INPUT_CHUNK.get(name, DEFAULT_ACTION_INPUT_CHUNK)
        results: list[ActionResult] = []
        for chunk in _chunks(inputs, size):
            body = {"inputs": list(chunk)}
            raw = self._rest(
                path,
                lambda sf, b=body: sf.restful(path, method="POST", json=b),
                action_results=True,
            )
            if not isinstance(raw, list) or len(raw) != len(chunk):
                got = len(raw) if isinstance(raw, list) else type(raw).__name__
                raise SalesforceApiError(f"{path}: expected {len(chunk)} result(s), got {got}")
            results.extend(
                ActionResult(
                    is_success=bool(item.get("isSuccess")),
                    errors=_api_errors(item.get("errors")),
                    output_values=item.get("outputValues"),
                )
                for item in raw
            )
        return results

    # ------------------------------------------------------------------ Metadata SOAP
    def soap_metadata(self, body_xml: bytes, soap_action: str | None = None) -> etree._Element:
        """Send one Metadata API operation; return the child element of soapenv:Body.

        ``body_xml`` is the operation element (e.g. ``<deploy xmlns="...metadata">``); this
        wraps it in an envelope with the SessionHeader. ``soap_action`` defaults to the
        operation's name, as simple-salesforce sends it (the WSDL itself declares "").
        """
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
        operation = etree.fromstring(body_xml, parser)
        url = f"{self.instance_url}/services/Soap/m/{self.api_version}"
        op_name = etree.QName(operation).localname
        what = f"Metadata {op_name}"
        action = op_name if soap_action is None else soap_action

        def attempt() -> etree._Element:
            envelope = self._envelope(operation)
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
            response = self._send(lambda: self._http.post(url, data=envelope, headers=headers), url)
            return self._soap_result(response, what)

        return self._call(attempt, what)

    def _envelope(self, operation: etree._Element) -> bytes:
        env = etree.Element(f"{{{SOAPENV_NS}}}Envelope", nsmap={"soapenv": SOAPENV_NS, "met": METADATA_NS})
        header = etree.SubElement(env, f"{{{SOAPENV_NS}}}Header")
        session = etree.SubElement(header, f"{{{METADATA_NS}}}SessionHeader")
        etree.SubElement(session, f"{{{METADATA_NS}}}sessionId").text = self._token
        body = etree.SubElement(env, f"{{{SOAPENV_NS}}}Body")
        body.append(_copy(operation))
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _soap_result(response: requests.Response, what: str) -> etree._Element:
        status = response.status_code
        try:
            root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            root = None
        body = root.find(f"{{{SOAPENV_NS}}}Body") if root is not None else None
        if body is None:
            error = SalesforceApiError(f"{what}: HTTP {status} without a SOAP envelope", status=status)
            raise _Transient(error) if status >= 500 else error
        fault = body.find(f"{{{SOAPENV_NS}}}Fault")
        if fault is not None:
            faultcode = (fault.findtext("faultcode") or "").strip()
            faultstring = (fault.findtext("faultstring") or "").strip()
            code = faultcode.split(":", 1)[-1] or None
            # Salesforce's faultstring starts with the code again ("INVALID_ID_FIELD: ..."), and
            # SalesforceApiError puts the code first: say it once.
            if code and faultstring.startswith(f"{code}:"):
                faultstring = faultstring[len(code) + 1:].strip()
            if code == "INVALID_SESSION_ID":
                raise _InvalidSession(f"{what}: {faultstring or code}")
            raise SalesforceApiError(f"{what}: {faultstring or faultcode}", status=status, error_code=code)
        if status >= 300:
            error = SalesforceApiError(f"{what}: HTTP {status}", status=status)
            raise _Transient(error) if status >= 500 else error
        children = [c for c in body if isinstance(c.tag, str)]
        if not children:
            raise SalesforceApiError(f"{what}: empty SOAP body", status=status)
        return children[0]


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def _is_action_results(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(item, dict) and "isSuccess" in item for item in content)
    )
