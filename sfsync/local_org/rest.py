"""The REST API under /services/data/vXX.X: query, sObject rows, collections, actions, limits."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from sfsync.local_org.catalog import ObjectDef
from sfsync.local_org.errors import ROLLED_BACK, ApiError, RecordErrors, SaveError, json_parser_error, not_found
from sfsync.local_org.ids import make_id, normalize_id
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.org import LocalOrg
from sfsync.local_org.records import BadJson, record_json
from sfsync.local_org.standard_objects import is_read_only
from sfsync.local_org.values import now_ms

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
MAX_COLLECTION = 200
MAX_LOCATORS = 100
TITLE_MAX = 250
BODY_MAX = 750
NOTIFICATION_SUCCESS = "Your custom notification is processed successfully."


def _invalid_type(name: str) -> str:
    return (
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
        "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
        "appropriate names."
    )


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise json_parser_error("The HTTP entity body is required, but this request has no entity body.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise json_parser_error(f"Unexpected character at [line:{line}, column:{col}]") from None


def _value_position(raw: str, key: str) -> tuple[int, int]:
    """Line and column just after the JSON value of ``key`` (Jackson reports where it stopped)."""
    m = re.search(r'"' + re.escape(key) + r'"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\]\s]+)', raw)
    end = m.end() if m else 0
    line = raw.count("\n", 0, end) + 1
    col = end - (raw.rfind("\n", 0, end) + 1) + 1
    return line, col


def bad_json_error(raw: bytes, exc: BadJson) -> ApiError:
    line, col = _value_position(raw.decode("utf-8", "replace"), exc.field)
    bad = exc.error
    return json_parser_error(
        f"Cannot deserialize instance of {bad.sf_type} from {bad.token} value {bad.text} "
        f"or request may be missing a required field at [line:{line}, column:{col}]"
    )


class QueryLocators:
    """Result sets of unfinished queries, kept in memory (oldest dropped first)."""

    def __init__(self):
        self._sets: OrderedDict[str, list[dict]] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = 0

    def add(self, records: list[dict]) -> str:
        with self._lock:
            self._counter += 1
            locator = make_id("01g", self._counter)
            self._sets[locator] = records
            while len(self._sets) > MAX_LOCATORS:
                self._sets.popitem(last=False)
            return locator

    def get(self, locator: str) -> list[dict] | None:
        with self._lock:
            return self._sets.get(locator)


class RestApi:
    def __init__(self, org: LocalOrg):
        self.org = org
        self.locators = QueryLocators()

    # -- routing -----------------------------------------------------------------------------
    def handle(self, req: Request, version: str, parts: list[str]) -> Response:
        method = req.method
        head = parts[0] if parts else ""
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 1:
                return self.query(req, version)
            if len(parts) == 2:
                return self.query_more(req, version, parts[1])
        elif head == "sobjects":
            return self.sobjects(req, version, parts[1:])
        elif head == "composite" and parts[1:] == ["sobjects"] and method in ("POST", "PATCH"):
            return self.collection(req, version)
        elif parts == ["actions", "standard", "customNotificationAction"] and method == "POST":
            return self.custom_notification(req)
        elif parts == ["limits"] and method == "GET":
            return self.limits()
        raise not_found()

    # -- query -------------------------------------------------------------------------------
    def _batch_size(self, req: Request) -> int:
        options = req.header("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not m:
            return DEFAULT_BATCH
        return max(200, min(DEFAULT_BATCH, int(m.group(1))))

    def query(self, req: Request, version: str) -> Response:
        soql_text = req.query().get("q")
        if soql_text is None:
            raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            from sfsync.local_org import soql
        except ImportError:  # the SOQL compiler is built separately
            raise ApiError.of(501, "NOT_IMPLEMENTED", "SOQL is not available in this build") from None
        try:
            compiled = soql.compile_query(
                soql_text, self.org.catalog, self.org.time_zone(), self.org.now(), api_version=version
            )
        except soql.SoqlError as exc:
            raise ApiError.of(400, exc.error_code, exc.message) from None
        conn = self.org.store.conn()
        if compiled.count_only:
            total = conn.execute(compiled.count_sql, compiled.count_params).fetchone()[0]
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        rows = conn.execute(compiled.sql, compiled.params).fetchall()
        records = [compiled.shape(row) for row in rows]
        return self._page(version, records, 0, self._batch_size(req), None)

    def query_more(self, req: Request, version: str, token: str) -> Response:
        locator, _, offset = token.rpartition("-")
        records = self.locators.get(locator) if locator and offset.isdigit() else None
        if records is None:
            raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, records, int(offset), self._batch_size(req), locator)

    def _page(self, version: str, records: list[dict], offset: int, batch: int, locator: str | None) -> Response:
        page = records[offset : offset + batch]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            locator = locator or self.locators.add(records)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        body["records"] = page
        return Response.json(200, body)

    # -- sObject rows ------------------------------------------------------------------------
    def _object(self, name: str) -> ObjectDef:
        obj = self.org.catalog.get(name)
        if obj is None:
            raise not_found()
        return obj

    def _record_id(self, obj: ObjectDef, raw: str) -> str:
        full = normalize_id(raw)
        if full is None or full[:3] != obj.key_prefix:
            if len(raw) in (15, 18) and raw.isalnum():
                raise ApiError.of(400, "MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw}", ["Id"])
            # Salesforce reads a non-id path segment as an external id field name.
            raise ApiError.of(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw}")
        return full

    def sobjects(self, req: Request, version: str, parts: list[str]) -> Response:
        if not parts or len(parts) > 2:
            raise not_found()
        obj = self._object(parts[0])
        if len(parts) == 1:
            if req.method == "POST":
                return self._create_one(req, version, obj)
            if req.method == "GET":
                return Response.json(200, {"objectDescribe": {"name": obj.api_name, "label": obj.label,
                                                              "keyPrefix": obj.key_prefix, "custom": obj.custom},
                                           "recentItems": []})
            raise ApiError.of(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are GET,POST")
        record_id = self._record_id(obj, parts[1])
        if req.method == "GET":
            row = self.org.store.get(obj, record_id)
            if row is None:
                raise not_found()
            wanted = req.query().get("fields")
            out = record_json(obj, row, version)
            if wanted:
                keep = {"attributes"} | {f.strip().lower() for f in wanted.split(",")}
                unknown = [f.strip() for f in wanted.split(",") if obj.field(f.strip()) is None]
                if unknown:
                    raise ApiError.of(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.api_name}")
                out = {k: v for k, v in out.items() if k.lower() in keep}
            return Response.json(200, out)
        if req.method == "PATCH":
            self._check_writable(obj)
            body = _parse_json(req.body)
            if not isinstance(body, dict):
                raise json_parser_error("Cannot deserialize instance of SObject from START_ARRAY value [ at [line:1, column:1]")
            with self.org.store.transaction() as tx:
                if not self.org.store.exists(obj, record_id, tx):
                    raise not_found()
                try:
                    self.org.writer.update(tx, obj, record_id, body, now_ms())
                except RecordErrors as exc:
                    raise ApiError.from_save_errors(exc.errors) from None
                except BadJson as exc:
                    raise bad_json_error(req.body, exc) from None
            return Response(204)
        if req.method == "DELETE":
            self._check_writable(obj)
            with self.org.store.transaction() as tx:
                if not self.org.store.exists(obj, record_id, tx):
                    raise not_found()
                self.org.writer.delete(tx, obj, record_id)
            return Response(204)
        raise ApiError.of(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are GET,PATCH,DELETE")

    def _check_writable(self, obj: ObjectDef) -> None:
        if is_read_only(obj.api_name):
            raise ApiError.of(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.api_name} does not support this operation"
            )

    def _create_one(self, req: Request, version: str, obj: ObjectDef) -> Response:
        self._check_writable(obj)
        body = _parse_json(req.body)
        if not isinstance(body, dict):
            raise json_parser_error("Cannot deserialize instance of SObject from START_ARRAY value [ at [line:1, column:1]")
        with self.org.store.transaction() as tx:
            try:
                record_id = self.org.writer.create(tx, obj, body, now_ms())
            except RecordErrors as exc:
                raise ApiError.from_save_errors(exc.errors) from None
            except BadJson as exc:
                raise bad_json_error(req.body, exc) from None
        response = Response.json(201, {"id": record_id, "success": True, "errors": []})
        response.headers["Location"] = f"/services/data/v{version}/sobjects/{obj.api_name}/{record_id}"
        return response

    # -- sObject collections -----------------------------------------------------------------
    def collection(self, req: Request, version: str) -> Response:
        body = _parse_json(req.body)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise json_parser_error("Cannot deserialize instance of SObject collection: records is required at [line:1, column:1]")
        records = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        if len(records) > MAX_COLLECTION:
            raise ApiError.of(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
        creating = req.method == "POST"
        results: list[dict] = []
        store = self.org.store
        with store.transaction() as tx:
            for i, rec in enumerate(records):
                tx.execute(f"SAVEPOINT r{i}")
                try:
                    record_id = self._collection_item(tx, rec, creating)
                    results.append({"id": record_id, "success": True, "errors": []})
                    tx.execute(f"RELEASE r{i}")
                except RecordErrors as exc:
                    tx.execute(f"ROLLBACK TO r{i}")
                    tx.execute(f"RELEASE r{i}")
                    item: dict[str, Any] = {"success": False, "errors": [e.save_result() for e in exc.errors]}
                    rec_id = rec.get("Id") if isinstance(rec, dict) else None
                    if not creating and isinstance(rec_id, str) and normalize_id(rec_id):
                        item = {"id": normalize_id(rec_id), **item}
                    results.append(item)
                except BadJson as exc:
                    raise bad_json_error(req.body, exc) from None
            if all_or_none and any(not r["success"] for r in results):
                # Nothing is kept; records that would have saved report the rollback.
                tx.execute("ROLLBACK")
                tx.execute("BEGIN")
                # A created record's id is gone with the rollback; an updated record keeps its id.
                results = [
                    r if not r["success"]
                    else {**({} if creating else {"id": r["id"]}), "success": False, "errors": [ROLLED_BACK.save_result()]}
                    for r in results
                ]
        return Response.json(200, results)

    def _collection_item(self, tx, rec: Any, creating: bool) -> str:
        if not isinstance(rec, dict):
            raise RecordErrors([SaveError("INVALID_TYPE", "Must specify a type in the attributes", ())])
        type_name = (rec.get("attributes") or {}).get("type") if isinstance(rec.get("attributes"), dict) else None
        if not type_name:
            raise RecordErrors([SaveError("INVALID_TYPE", "Must specify a type in the attributes", ())])
        obj = self.org.catalog.get(type_name)
        if obj is None:
            raise RecordErrors([SaveError("INVALID_TYPE", _invalid_type(type_name), ())])
        if is_read_only(obj.api_name):
            raise RecordErrors([SaveError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.api_name} does not support this operation", ())])
        if creating:
            return self.org.writer.create(tx, obj, rec, now_ms())
        raw_id = rec.get("Id") or rec.get("id")
        if not raw_id:
            raise RecordErrors([SaveError("MISSING_ARGUMENT", "Id not specified in an update call", ())])
        full = normalize_id(str(raw_id))
        if full is None or full[:3] != obj.key_prefix:
            raise RecordErrors([SaveError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw_id}", ("Id",))])
        if not self.org.store.exists(obj, full, tx):
            raise RecordErrors([SaveError("ENTITY_IS_DELETED", "entity is deleted", ())])
        self.org.writer.update(tx, obj, full, rec, now_ms())
        return full

    # -- invocable action: custom notification ----------------------------------------------
    def custom_notification(self, req: Request) -> Response:
        body = _parse_json(req.body)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise ApiError.of(400, "JSON_PARSER_ERROR", "inputs is required")
        results = []
        with self.org.store.transaction() as tx:
            for item in inputs:
                errors = self._notification_errors(tx, item)
                if errors:
                    results.append({"actionName": "customNotificationAction", "errors": errors, "isSuccess": False})
                    continue
                created = now_ms()
                for recipient in dict.fromkeys(normalize_id(r) for r in item["recipientIds"]):
                    self.org.store.add_notification(tx, {
                        "id": self._notification_id(tx),
                        "type_id": normalize_id(item["customNotifTypeId"]),
                        "recipient_id": recipient, "title": item["title"], "body": item["body"],
                        "target_id": normalize_id(item["targetId"]), "created_date": created,
                    })
                results.append({
                    "actionName": "customNotificationAction", "errors": None, "isSuccess": True,
                    "outputValues": {"SuccessMessage": NOTIFICATION_SUCCESS},
                })
        status = 200 if any(r["isSuccess"] for r in results) else 400
        return Response.json(status, results)

    def _notification_id(self, tx) -> str:
        # Notifications are not an sObject here; "0Ns" mimics a real-looking id.
        return self.org.store.next_id(tx, "0Ns")

    def _notification_errors(self, tx, item: Any) -> list[dict] | None:
        def bad(name: str, code: str = "INVALID_ARGUMENT_TYPE") -> list[dict]:
            return [{"statusCode": code, "message": f"Invalid parameter value for: {name}"}]

        if not isinstance(item, dict):
            return bad("inputs")
        for name in ("customNotifTypeId", "recipientIds", "title", "body", "targetId"):
            if item.get(name) in (None, "", []):
                return [{"statusCode": "REQUIRED_FIELD_MISSING", "message": f"Missing required input parameter: {name}"}]
        catalog = self.org.catalog
        type_id = normalize_id(str(item["customNotifTypeId"]))
        if type_id is None or not self.org.store.exists(catalog.get("CustomNotificationType"), type_id, tx):
            return bad("customNotifTypeId")
        recipients = item["recipientIds"]
        if not isinstance(recipients, list) or len(recipients) > 500:
            return bad("recipientIds")
        user = catalog.get("User")
        for r in recipients:
            rid = normalize_id(str(r))
            if rid is None or not self.org.store.exists(user, rid, tx):
                return bad("recipientIds")
        target = normalize_id(str(item["targetId"]))
        target_obj = catalog.by_key_prefix(target[:3]) if target else None
        if target_obj is None or not self.org.store.exists(target_obj, target, tx):
            return bad("targetId")
        if not isinstance(item["title"], str) or len(item["title"]) > TITLE_MAX:
            return bad("title")
        if not isinstance(item["body"], str) or len(item["body"]) > BODY_MAX:
            return bad("body")
        return None

    # -- limits ------------------------------------------------------------------------------
    def limits(self) -> Response:
        used, limit = self.org.api_usage()
        return Response.json(200, {
            "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        })

