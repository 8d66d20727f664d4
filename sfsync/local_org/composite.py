"""The Composite resource (/composite) and sObject Tree (/composite/tree/<Type>).

Composite runs its subrequests in order in one transaction. ``@{refId.path}`` in a subrequest's
url or body is replaced by a value from an earlier subrequest's answer (``.name`` picks a key,
``[n]`` an element). allOrNone=true: the first failing subrequest (an HTTP status >= 400, or a
collection with a failed record) rolls everything back; it keeps its answer, every other
subrequest answers 400 PROCESSING_HALTED. allOrNone=false: each subrequest stands alone; one
that refers to a failed subrequest answers 400 PROCESSING_HALTED (invalid reference).

sObject Tree creates nested records (children under their parent's child relationship name) all
or nothing: 201 with every referenceId and id, or 400 with the failed records' errors only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable
from urllib.parse import urlsplit

from sfsync.local_org.catalog import ObjectDef
from sfsync.local_org.errors import ApiError, RecordErrors, SaveError, json_parser_error
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.org import LocalOrg
from sfsync.local_org.records import BadJson
from sfsync.local_org.triggers import run_single
from sfsync.local_org.values import now_ms

logger = logging.getLogger(__name__)

MAX_SUBREQUESTS = 25
MAX_TREE_RECORDS = 200
MAX_TREE_DEPTH = 5
HALTED = "PROCESSING_HALTED"
ROLLED_BACK_MESSAGE = "The transaction was rolled back since another operation in the same transaction failed."
_REF_RE = re.compile(r"@\{([^}]*)\}")
_PATH_RE = re.compile(r"^/services/data/v(\d+\.\d+)/(.*)$")
_REFERENCE_ID_RE = re.compile(r"^[A-Za-z0-9_]+$")
_SEGMENT_RE = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


class _BadReference(Exception):
    def __init__(self, expression: str, reference_id: str):
        self.expression, self.reference_id = expression, reference_id


def _resolve(expression: str, answers: dict[str, tuple[int, Any]]) -> Any:
    m = re.match(r"^([A-Za-z0-9_]+)", expression)
    ref_id = m.group(1) if m else expression
    answer = answers.get(ref_id)
    if answer is None or answer[0] >= 400:
        raise _BadReference(expression, ref_id)
    value = answer[1]
    rest = expression[len(ref_id):]
    pos = 0
    while pos < len(rest):
        seg = _SEGMENT_RE.match(rest, pos)
        if seg is None:
            raise _BadReference(expression, ref_id)
        key, index = seg.group(1), seg.group(2)
        if key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise _BadReference(expression, ref_id)
        pos = seg.end()
    if value is None or isinstance(value, (dict, list)):
        raise _BadReference(expression, ref_id)
    return value


def _substitute(value: Any, answers: dict[str, tuple[int, Any]]) -> Any:
    if isinstance(value, str):
        whole = _REF_RE.fullmatch(value)
        if whole:
            return _resolve(whole.group(1), answers)
        return _REF_RE.sub(lambda m: str(_resolve(m.group(1), answers)), value)
    if isinstance(value, list):
        return [_substitute(v, answers) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, answers) for k, v in value.items()}
    return value


def _failed(status: int, body: Any) -> bool:
    if status >= 400:
        return True
    # A collection with a failed record fails the all-or-none composite around it.
    return isinstance(body, list) and any(isinstance(r, dict) and r.get("success") is False for r in body)


def _halted(reference_id: str, message: str) -> dict:
    return {"body": [{"errorCode": HALTED, "message": message}], "httpHeaders": {}, "httpStatusCode": 400,
            "referenceId": reference_id}


class CompositeApi:
    """``route(req, version, parts)`` is the REST API's own router (for the subrequests)."""

    def __init__(self, org: LocalOrg, route: Callable[[Request, str, list[str]], Response]):
        self.org = org
        self.route = route

    # -- /composite --------------------------------------------------------------------------
    def composite(self, req: Request, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
            raise json_parser_error("Cannot deserialize instance of CompositeRequest: compositeRequest is required")
        subrequests = body["compositeRequest"]
        if not subrequests:
            raise ApiError.of(400, "INVALID_INPUT", "compositeRequest must contain at least one subrequest")
        if len(subrequests) > MAX_SUBREQUESTS:
            raise ApiError.of(400, "LIMIT_EXCEEDED", f"Maximum number of subrequests allowed is {MAX_SUBREQUESTS}")
        ref_ids = []
        for sub in subrequests:
            if not isinstance(sub, dict) or not all(isinstance(sub.get(k), str) for k in ("method", "url", "referenceId")):
                raise json_parser_error("Each subrequest needs method, url and referenceId")
            if not _REFERENCE_ID_RE.match(sub["referenceId"]):
                raise ApiError.of(400, "INVALID_INPUT", f"Invalid reference id: {sub['referenceId']}. Reference ids "
                                  "may contain only alphanumeric characters and underscores.")
            ref_ids.append(sub["referenceId"])
        duplicate = next((r for i, r in enumerate(ref_ids) if r in ref_ids[:i]), None)
        if duplicate:
            raise ApiError.of(400, "INVALID_INPUT", f"Duplicate reference id: {duplicate}")
        all_or_none = body.get("allOrNone") is True
        answers: dict[str, tuple[int, Any]] = {}
        results: list[dict] = []
        with self.org.store.transaction() as tx:
            with self.org.store.savepoint(tx) as sp:
                failed_at = None
                for i, sub in enumerate(subrequests):
                    result = self._run(req, sub, answers)
                    results.append(result)
                    answers[sub["referenceId"]] = (result["httpStatusCode"], result["body"])
                    if all_or_none and _failed(result["httpStatusCode"], result["body"]):
                        failed_at = i
                        break
                if failed_at is not None:
                    tx.execute(f"ROLLBACK TO {sp}")
                    results = [
                        results[i] if i == failed_at else _halted(sub["referenceId"], ROLLED_BACK_MESSAGE)
                        for i, sub in enumerate(subrequests)
                    ]
        return Response.json(200, {"compositeResponse": results})

    def _run(self, parent: Request, sub: dict, answers: dict[str, tuple[int, Any]]) -> dict:
        ref_id = sub["referenceId"]
        try:
            url = _substitute(sub["url"], answers)
            sub_body = _substitute(sub["body"], answers) if "body" in sub else None
        except _BadReference as bad:
            return _halted(ref_id, f"Invalid reference specified. No value for {bad.expression} found in {bad.reference_id}.")
        split = urlsplit(str(url))
        m = _PATH_RE.match(split.path)
        headers = {k: v for k, v in parent.headers.items() if k in ("authorization", "sforce-query-options")}
        for k, v in (sub.get("httpHeaders") or {}).items():
            headers[str(k).lower()] = str(v)
        status, body, out_headers = 404, None, {}
        if m is None or sub["method"].upper() not in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            status, body = 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        elif m.group(2).split("/")[0] == "composite" and m.group(2) != "composite/sobjects":
            status, body = 400, [{"errorCode": "INVALID_API_INPUT", "message": "Composite subrequests cannot call the Composite resource"}]
        else:
            payload = json.dumps(sub_body).encode("utf-8") if sub_body is not None else b""
            sub_req = Request(sub["method"].upper(), split.path, split.query, headers, payload)
            # A subrequest that fails rolls back its own writes; the composite decides about the rest.
            try:
                with self.org.store.transaction():
                    response = self._call(sub_req, m.group(1), m.group(2))
                    if response.status >= 400:
                        raise ApiError(response.status, json.loads(response.body) if response.body else None)
            except ApiError as exc:
                status, body = exc.status, exc.body
            else:
                status = response.status
                body = json.loads(response.body) if response.body else None
                if "Location" in response.headers:
                    out_headers["Location"] = response.headers["Location"]
        return {"body": body, "httpHeaders": out_headers, "httpStatusCode": status, "referenceId": ref_id}

    def _call(self, req: Request, version: str, rest_path: str) -> Response:
        try:
            return self.route(req, version, rest_path.split("/"))
        except ApiError as exc:
            return Response.json(exc.status, exc.body)

    # -- /composite/tree/<Type> --------------------------------------------------------------
    def tree(self, obj: ObjectDef, body: Any, version: str) -> Response:
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise json_parser_error("Cannot deserialize instance of SObjectTreeRequest: records is required")
        if self._count(records, obj, 1) > MAX_TREE_RECORDS:
            raise ApiError.of(400, "INVALID_INPUT", f"Exceeded the maximum number of records ({MAX_TREE_RECORDS})")
        results: list[dict] = []
        failures: list[dict] = []
        seen_refs: set[str] = set()
        with self.org.store.transaction() as tx:
            with self.org.store.savepoint(tx) as sp:
                for rec in records:
                    self._tree_record(tx, obj, rec, None, results, failures, seen_refs)
                if failures:
                    tx.execute(f"ROLLBACK TO {sp}")
        if failures:
            return Response.json(400, {"hasErrors": True, "results": failures})
        return Response.json(201, {"hasErrors": False, "results": results})

    def _count(self, records: list, obj: ObjectDef, depth: int) -> int:
        if depth > MAX_TREE_DEPTH:
            raise ApiError.of(400, "INVALID_INPUT", f"Exceeded the maximum depth of {MAX_TREE_DEPTH} levels")
        total = 0
        for rec in records:
            total += 1
            if isinstance(rec, dict):
                for key, value in rec.items():
                    if isinstance(value, dict) and isinstance(value.get("records"), list):
                        total += self._count(value["records"], obj, depth + 1)
        return total

    def _child_link(self, parent: ObjectDef, name: str) -> tuple[ObjectDef, str] | None:
        for child in self.org.catalog:
            for fdef in child.fields.values():
                if (fdef.type == "reference" and parent.api_name in fdef.reference_to
                        and fdef.child_relationship_name and fdef.child_relationship_name.lower() == name.lower()):
                    return child, fdef.api_name
        return None

    def _tree_record(self, tx, obj: ObjectDef, rec: Any, parent_link: tuple[str, str] | None,
                     results: list, failures: list, seen_refs: set) -> None:
        attrs = rec.get("attributes") if isinstance(rec, dict) else None
        ref_id = attrs.get("referenceId") if isinstance(attrs, dict) else None
        if not isinstance(ref_id, str) or not ref_id:
            raise ApiError.of(400, "INVALID_INPUT", "Include a reference ID for each record in the request.")
        if ref_id in seen_refs:
            raise ApiError.of(400, "INVALID_INPUT", f"Duplicate ReferenceId provided in the request: {ref_id}")
        seen_refs.add(ref_id)
        type_name = attrs.get("type")
        if not isinstance(type_name, str) or type_name.lower() != obj.api_name.lower():
            raise ApiError.of(400, "INVALID_INPUT", f"The type {type_name} does not match the resource type {obj.api_name}")
        fields = {k: v for k, v in rec.items() if not (isinstance(v, dict) and "records" in v)}
        children = {k: v for k, v in rec.items() if isinstance(v, dict) and "records" in v}
        fields["attributes"] = {"type": obj.api_name}
        if parent_link is not None:
            fields[parent_link[0]] = parent_link[1]
        try:
            with self.org.store.savepoint(tx):
                record_id = run_single(self.org, tx, obj, None,  # the reservation rules (triggers.py)
                                       lambda: self.org.writer.create(tx, obj, fields, now_ms()))
        except RecordErrors as exc:
            failures.append({"referenceId": ref_id, "errors": [e.save_result() for e in exc.errors]})
            return
        except BadJson as exc:
            failures.append({"referenceId": ref_id, "errors": [SaveError(
                "JSON_PARSER_ERROR", f"Cannot deserialize instance of {exc.error.sf_type} from {exc.error.token} value "
                f"{exc.error.text}", (exc.field,)).save_result()]})
            return
        results.append({"referenceId": ref_id, "id": record_id})
        for name, value in children.items():
            link = self._child_link(obj, name)
            if link is None:
                raise ApiError.of(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.api_name}")
            child_obj, field_name = link
            for child in value["records"]:
                self._tree_record(tx, child_obj, child, (field_name, record_id), results, failures, seen_refs)


__all__ = ["CompositeApi"]
