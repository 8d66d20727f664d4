"""The REST API under /services/data/vXX.X: query, sObject rows, collections, actions, limits."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from sfsync.local_org.catalog import ObjectDef
from sfsync.local_org.composite import CompositeApi
from sfsync.local_org.describe import describe_global, describe_sobject, sobject_basic_info
from sfsync.local_org.errors import ROLLED_BACK, ApiError, RecordErrors, SaveError, json_parser_error, not_found
from sfsync.local_org.ids import make_id, normalize_id
from sfsync.local_org.messages import Request, Response
from sfsync.local_org.org import LocalOrg
from sfsync.local_org.records import BadJson, record_json
from sfsync.local_org.standard_objects import is_read_only
from sfsync.local_org.triggers import BookingTrigger, run_single
from sfsync.local_org.values import now_ms

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
MAX_COLLECTION = 200
MAX_LOCATORS = 50  # open cursors kept; the oldest is dropped first
ID_LENGTH = 18
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
    except RecursionError:
        # Salesforce's parser (Jackson) caps nesting too; Python's cap is the recursion limit.
        raise json_parser_error("Document nesting depth exceeds the maximum allowed") from None


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


def _failed_item(rec: Any, creating: bool, errors: list[SaveError]) -> dict[str, Any]:
    """A collection item's failure; an update names its record."""
    item: dict[str, Any] = {"success": False, "errors": [e.save_result() for e in errors]}
    rec_id = rec.get("Id") if isinstance(rec, dict) else None
    if not creating and isinstance(rec_id, str) and normalize_id(rec_id):
        item = {"id": normalize_id(rec_id), **item}
    return item


@dataclass
class _Cursor:
    """A query's result at query time: its Ids in order (18 characters each, concatenated)."""

    query: Any  # soql.CompiledQuery: selects the rows of a page by Id and shapes them
    ids: str
    last_used: float
    batch: int = DEFAULT_BATCH  # the page size asked for when the query ran; later pages keep it

    @property
    def total(self) -> int:
        return len(self.ids) // ID_LENGTH

    def page_ids(self, offset: int, batch: int) -> list[str]:
        chunk = self.ids[offset * ID_LENGTH : (offset + batch) * ID_LENGTH]
        return [chunk[i : i + ID_LENGTH] for i in range(0, len(chunk), ID_LENGTH)]


class QueryLocators:
    """Cursors of unfinished queries, in memory; a cursor unused for ``expiry`` seconds is gone.

    Salesforce keeps a query's matching rows when it runs and pages through that fixed set, so
    later pages neither skip nor repeat rows while the data changes; the cursor keeps only Ids.
    """

    def __init__(self, expiry: float, clock: Callable[[], float] = time.monotonic):
        self.expiry = expiry
        self.clock = clock
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()
        self._counter = 0

    def add(self, query: Any, ids: str, batch: int) -> str:
        with self._lock:
            self._counter += 1
            locator = make_id("01g", self._counter)
            self._cursors[locator] = _Cursor(query, ids, self.clock(), batch)
            while len(self._cursors) > MAX_LOCATORS:
                self._cursors.popitem(last=False)
            return locator

    def get(self, locator: str) -> _Cursor | None:
        with self._lock:
            now = self.clock()
            for old in [k for k, c in self._cursors.items() if now - c.last_used >= self.expiry]:
                del self._cursors[old]
            cursor = self._cursors.get(locator)
            if cursor is not None:
                cursor.last_used = now
            return cursor

    def __len__(self) -> int:
        with self._lock:
            return len(self._cursors)


class RestApi:
    def __init__(self, org: LocalOrg):
        self.org = org
        self.locators = QueryLocators(org.settings.query_locator_expiry_seconds)
        self.composite = CompositeApi(org, self.handle)

    # -- routing -----------------------------------------------------------------------------
    def handle(self, req: Request, version: str, parts: list[str]) -> Response:
        method = req.method
        parts = [p for p in parts if p] or [""]
        head = parts[0].lower()
        if head in ("query", "queryall") and method == "GET":
            if len(parts) == 1:
                return self.query(req, version)
            if len(parts) == 2:
                return self.query_more(req, version, parts[1])
        elif head in ("sobjects", "sobject"):
            return self.sobjects(req, version, parts[1:])
        elif head == "composite" and parts[1:] == ["sobjects"] and method in ("POST", "PATCH"):
            return self.collection(req, version)
        elif head == "composite" and len(parts) == 1 and method == "POST":
            return self.composite.composite(req, _parse_json(req.body))
        elif head == "composite" and len(parts) == 3 and parts[1] == "tree" and method == "POST":
            obj = self._object(parts[2])
            self._check_writable(obj)
            return self.composite.tree(obj, _parse_json(req.body), version)
        elif parts == ["actions", "standard", "customNotificationAction"] and method == "POST":
            return self.custom_notification(req)
        elif parts == ["limits"] and method == "GET":
            return self.limits()
        raise not_found()

    # -- query -------------------------------------------------------------------------------
    def _batch_size(self, req: Request, default: int = DEFAULT_BATCH) -> int:
        """Sforce-Query-Options: batchSize=n (200..2000; Salesforce treats it as a wish, not a promise)."""
        options = req.header("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not m:
            return default
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
        # Only the Ids of the whole result are read now; rows are read a page at a time.
        ids = "".join(row[0] for row in conn.execute(compiled.ids_sql, compiled.ids_params))
        cursor = _Cursor(compiled, ids, 0.0, self._batch_size(req))
        return self._page(version, cursor, None, 0, cursor.batch)

    def query_more(self, req: Request, version: str, token: str) -> Response:
        locator, _, offset = token.rpartition("-")
        cursor = self.locators.get(locator) if locator and offset.isdigit() else None
        if cursor is None or int(offset) > cursor.total:
            raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(version, cursor, locator, int(offset), self._batch_size(req, cursor.batch))

    def _page(self, version: str, cursor: _Cursor, locator: str | None, offset: int, batch: int) -> Response:
        wanted = cursor.page_ids(offset, batch)
        rows = {}
        if wanted:
            query = cursor.query
            for row in self.org.store.conn().execute(query.by_id_sql, (json.dumps(wanted),)):
                rows[row[query.id_index]] = row
        # A row deleted since the query ran is left out of its page (the page is then shorter).
        page = [cursor.query.shape(rows[i]) for i in wanted if i in rows]
        end = offset + len(wanted)
        body: dict[str, Any] = {"totalSize": cursor.total, "done": end >= cursor.total}
        if end < cursor.total:
            locator = locator or self.locators.add(cursor.query, cursor.ids, cursor.batch)
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
        if not parts:
            if req.method == "GET":
                return Response.json(200, describe_global(self.org.catalog, version))
            raise ApiError.of(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are GET,HEAD")
        if len(parts) > 2:
            raise not_found()
        obj = self._object(parts[0])
        if len(parts) == 2 and parts[1] == "describe":
            if req.method == "GET":
                return Response.json(200, describe_sobject(self.org.catalog, obj, version))
            raise ApiError.of(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are GET,HEAD")
        if len(parts) == 1:
            if req.method == "POST":
                return self._create_one(req, version, obj)
            if req.method == "GET":
                return Response.json(200, sobject_basic_info(obj, version))
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
                    run_single(self.org, tx, obj, record_id,
                               lambda: self.org.writer.update(tx, obj, record_id, body, now_ms()) or record_id)
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
                record_id = run_single(self.org, tx, obj, None, lambda: self.org.writer.create(tx, obj, body, now_ms()))
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
        injected = req.item_errors  # fault injection: these items fail as if the org refused them
        store = self.org.store
        with store.transaction() as tx:
            tx.execute("SAVEPOINT collection")
            # Before-save rules (triggers.py) judge the records that passed the field checks. With
            # allOrNone=false the org sets the refused ones aside and saves the rest again.
            trigger = BookingTrigger.for_records(self.org, tx, records, creating)
            refused: dict[int, list[SaveError]] = {}
            while True:
                results, saved = [], {}
                for i, rec in enumerate(records):
                    tx.execute(f"SAVEPOINT r{i}")
                    try:
                        if injected and i in injected:
                            raise RecordErrors([SaveError(*injected[i], ())])
                        if i in refused:
                            raise RecordErrors(refused[i])
                        record_id = self._collection_item(tx, rec, creating)
                        results.append({"id": record_id, "success": True, "errors": []})
                        saved[i] = record_id
                        tx.execute(f"RELEASE r{i}")
                    except RecordErrors as exc:
                        tx.execute(f"ROLLBACK TO r{i}")
                        tx.execute(f"RELEASE r{i}")
                        results.append(_failed_item(rec, creating, exc.errors))
                    except BadJson as exc:
                        raise bad_json_error(req.body, exc) from None
                found = {} if refused else trigger.check(saved, all_or_none)
                if not found or all_or_none:
                    break
                tx.execute("ROLLBACK TO collection")
                refused = found
            for i, errors in found.items():
                results[i] = _failed_item(records[i], creating, errors)
            if all_or_none and any(not r["success"] for r in results):
                # Nothing is kept; records that would have saved report the rollback.
                tx.execute("ROLLBACK TO collection")
                # A created record's id is gone with the rollback; an updated record keeps its id.
                results = [
                    r if not r["success"]
                    else {**({} if creating else {"id": r["id"]}), "success": False, "errors": [ROLLED_BACK.save_result()]}
                    for r in results
                ]
            tx.execute("RELEASE collection")
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
            for i, item in enumerate(inputs):
                if req.item_errors and i in req.item_errors:
                    code, message = req.item_errors[i]
                    errors: list[dict] | None = [{"statusCode": code, "message": message}]
                else:
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

