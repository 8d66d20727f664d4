"""SQLite storage of the local org: one table per sObject, one column per field.

Encodings (docs/contracts.md): datetime = INTEGER epoch ms UTC; date = TEXT YYYY-MM-DD;
boolean = INTEGER 0/1; numbers REAL/INTEGER; other text COLLATE NOCASE; Id/reference BINARY.
Each thread gets its own connection (ThreadingHTTPServer); writes are serialized by one lock so
that SQLite never answers "database is locked" and a multi-record write is one transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from sfsync.errors import LocalOrgError
from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.ids import make_id

logger = logging.getLogger(__name__)

DB_FORMAT = "sfsync-local-org"
SCHEMA_VERSION = "1"

_META_DDL = """
CREATE TABLE _sfsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE _sfsync_objects (api_name TEXT PRIMARY KEY, position INTEGER NOT NULL, definition TEXT NOT NULL);
CREATE TABLE _sfsync_counters (key_prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE _sfsync_components (
    type TEXT NOT NULL, full_name TEXT NOT NULL, file_name TEXT NOT NULL, content BLOB NOT NULL,
    deployed_at INTEGER NOT NULL, PRIMARY KEY (type, full_name));
CREATE TABLE _sfsync_notifications (
    id TEXT PRIMARY KEY, type_id TEXT NOT NULL, recipient_id TEXT NOT NULL, title TEXT NOT NULL,
    body TEXT NOT NULL, target_id TEXT NOT NULL, created_date INTEGER NOT NULL);
"""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_sql(fdef: FieldDef) -> str:
    t = fdef.type
    if t in ("datetime", "boolean", "int"):
        decl = "INTEGER"
    elif t in ("double", "currency", "percent"):
        decl = "REAL"
    elif t in ("id", "reference"):
        decl = "TEXT COLLATE BINARY"
    else:  # text-like and date
        decl = "TEXT" if t == "date" else "TEXT COLLATE NOCASE"
    if t == "id":
        decl += " PRIMARY KEY"
    return f"{quote(fdef.column)} {decl}"


def wants_index(obj: ObjectDef, fdef: FieldDef) -> bool:
    """Indexed: lookups (joins), unique/external ids (checked on every write), and the datetime and
    picklist fields of custom objects (what the worker filters on)."""
    if fdef.type == "reference" or fdef.unique or fdef.external_id:
        return fdef.type != "id"
    return obj.custom and fdef.type in ("datetime", "picklist")


def index_sql(obj: ObjectDef, fdef: FieldDef) -> str:
    name = quote(f"ix_{obj.table}_{fdef.column}")
    return f"CREATE INDEX IF NOT EXISTS {name} ON {quote(obj.table)} ({quote(fdef.column)})"


class Store:
    """The org database. ``open()`` checks (or creates) it; connections are per thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.write_lock = threading.RLock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA busy_timeout = 30000")
            c.execute("PRAGMA foreign_keys = OFF")
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
        return c

    @property
    def open_connections(self) -> int:
        with self._all_lock:
            return len(self._all)

    def release(self) -> None:
        """Close this thread's connection (request threads are short-lived; their connections must not pile up)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            return
        self._local.conn = None
        with self._all_lock:
            if c in self._all:
                self._all.remove(c)
        with contextlib.suppress(sqlite3.Error):
            c.close()

    def close(self) -> None:
        with self._all_lock:
            for c in self._all:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
            self._all.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back if the block raises.

        Inside another transaction of the same thread (a composite request's subrequests) it is a
        savepoint: the outer transaction decides what is finally kept.
        """
        with self.write_lock:
            c = self.conn()
            if c.in_transaction:
                with self.savepoint(c):
                    yield c
                return
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                c.execute("ROLLBACK")
                raise
            else:
                c.execute("COMMIT")

    @contextlib.contextmanager
    def savepoint(self, tx: sqlite3.Connection) -> Iterator[str]:
        """A savepoint inside ``tx``: released on success, rolled back to if the block raises."""
        self._savepoints = getattr(self, "_savepoints", 0) + 1
        name = f"sp{self._savepoints}"
        tx.execute(f"SAVEPOINT {name}")
        try:
            yield name
        except BaseException:
            tx.execute(f"ROLLBACK TO {name}")
            tx.execute(f"RELEASE {name}")
            raise
        else:
            tx.execute(f"RELEASE {name}")

    # -- creation and checks -----------------------------------------------------------------
    def create(self, standard: list[ObjectDef]) -> None:
        """Create a new database with the standard objects' tables."""
        if self.path.exists():
            raise LocalOrgError(f"{self.path}: database already exists")
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)
        c = self.conn()
        c.execute("PRAGMA journal_mode = WAL")
        with self.transaction() as tx:
            for stmt in _META_DDL.strip().split(";"):
                if stmt.strip():
                    tx.execute(stmt)
            tx.execute("INSERT INTO _sfsync_meta VALUES ('format', ?), ('schema_version', ?)", (DB_FORMAT, SCHEMA_VERSION))
            for obj in standard:
                self.create_object(tx, obj)

    def check(self) -> None:
        """Raise LocalOrgError unless the file is one of our databases of a version we read."""
        try:
            c = self.conn()
            rows = dict(c.execute("SELECT key, value FROM _sfsync_meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LocalOrgError(
                f"{self.path}: not a local org database ({exc}); move it away or use another state folder"
            ) from None
        if rows.get("format") != DB_FORMAT:
            self.close()
            raise LocalOrgError(f"{self.path}: not a local org database (format marker missing)")
        if rows.get("schema_version") != SCHEMA_VERSION:
            self.close()
            raise LocalOrgError(
                f"{self.path}: local org database version {rows.get('schema_version')!r} is not supported "
                f"(expected {SCHEMA_VERSION})"
            )
        c.execute("PRAGMA journal_mode = WAL")

    def meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM _sfsync_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, tx: sqlite3.Connection, key: str, value: str) -> None:
        tx.execute("INSERT OR REPLACE INTO _sfsync_meta VALUES (?, ?)", (key, value))

    # -- schema ------------------------------------------------------------------------------
    def load_catalog(self) -> Catalog:
        rows = self.conn().execute("SELECT definition FROM _sfsync_objects ORDER BY position").fetchall()
        try:
            return Catalog(ObjectDef.from_json(json.loads(r[0])) for r in rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise LocalOrgError(f"{self.path}: stored object definitions are unreadable ({exc})") from None

    def create_object(self, tx: sqlite3.Connection, obj: ObjectDef) -> None:
        cols = ", ".join(column_sql(f) for f in obj.fields.values())
        tx.execute(f"CREATE TABLE {quote(obj.table)} ({cols})")
        for fdef in obj.fields.values():
            if wants_index(obj, fdef):
                tx.execute(index_sql(obj, fdef))
        self._save_definition(tx, obj)

    def alter_object(self, tx: sqlite3.Connection, old: ObjectDef, new: ObjectDef) -> None:
        """Add the columns ``new`` has and ``old`` lacks; keep the rest (field changes are metadata only)."""
        existing = {r[1].lower() for r in tx.execute(f"PRAGMA table_info({quote(old.table)})")}
        for fdef in new.fields.values():
            if fdef.column.lower() not in existing:
                tx.execute(f"ALTER TABLE {quote(new.table)} ADD COLUMN {column_sql(fdef)}")
                # Salesforce backfills only checkboxes (never null); other defaults apply to new records.
                if fdef.type == "boolean":
                    tx.execute(f"UPDATE {quote(new.table)} SET {quote(fdef.column)} = ?", (storage_default(fdef),))
            if wants_index(new, fdef):
                tx.execute(index_sql(new, fdef))
        self._save_definition(tx, new)

    def _save_definition(self, tx: sqlite3.Connection, obj: ObjectDef) -> None:
        row = tx.execute("SELECT position FROM _sfsync_objects WHERE api_name = ?", (obj.api_name,)).fetchone()
        position = row[0] if row else tx.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM _sfsync_objects").fetchone()[0]
        tx.execute(
            "INSERT OR REPLACE INTO _sfsync_objects VALUES (?, ?, ?)",
            (obj.api_name, position, json.dumps(obj.to_json(), ensure_ascii=False)),
        )

    # -- ids ---------------------------------------------------------------------------------
    def next_id(self, tx: sqlite3.Connection, key_prefix: str) -> str:
        row = tx.execute("SELECT last FROM _sfsync_counters WHERE key_prefix = ?", (key_prefix,)).fetchone()
        number = (row[0] if row else 0) + 1
        tx.execute("INSERT OR REPLACE INTO _sfsync_counters VALUES (?, ?)", (key_prefix, number))
        return make_id(key_prefix, number)

    def reserve_ids(self, tx: sqlite3.Connection, key_prefix: str, count: int) -> list[str]:
        """``count`` new Ids of one object at once (bulk loads)."""
        row = tx.execute("SELECT last FROM _sfsync_counters WHERE key_prefix = ?", (key_prefix,)).fetchone()
        first = (row[0] if row else 0) + 1
        tx.execute("INSERT OR REPLACE INTO _sfsync_counters VALUES (?, ?)", (key_prefix, first + count - 1))
        return [make_id(key_prefix, n) for n in range(first, first + count)]

    def insert_many(self, tx: sqlite3.Connection, obj: ObjectDef, columns: list[str], rows: list[tuple]) -> None:
        """Insert rows as they are (no checks): bulk loads of data known to be valid."""
        tx.executemany(
            f"INSERT INTO {quote(obj.table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            rows,
        )

    # -- records -----------------------------------------------------------------------------
    def insert(self, tx: sqlite3.Connection, obj: ObjectDef, values: dict[str, Any]) -> None:
        cols = list(values)
        tx.execute(
            f"INSERT INTO {quote(obj.table)} ({', '.join(quote(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})",
            [values[c] for c in cols],
        )

    def update(self, tx: sqlite3.Connection, obj: ObjectDef, record_id: str, values: dict[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{quote(c)} = ?" for c in values)
        tx.execute(f"UPDATE {quote(obj.table)} SET {sets} WHERE \"Id\" = ?", [*values.values(), record_id])

    def delete(self, tx: sqlite3.Connection, obj: ObjectDef, record_id: str) -> None:
        tx.execute(f"DELETE FROM {quote(obj.table)} WHERE \"Id\" = ?", (record_id,))

    def get(self, obj: ObjectDef, record_id: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row | None:
        c = conn or self.conn()
        return c.execute(f"SELECT * FROM {quote(obj.table)} WHERE \"Id\" = ?", (record_id,)).fetchone()

    def exists(self, obj: ObjectDef, record_id: str, conn: sqlite3.Connection | None = None) -> bool:
        c = conn or self.conn()
        return c.execute(f"SELECT 1 FROM {quote(obj.table)} WHERE \"Id\" = ?", (record_id,)).fetchone() is not None

    # -- deployed components and notifications -----------------------------------------------
    def save_component(self, tx: sqlite3.Connection, type_: str, full_name: str, file_name: str, content: bytes, now_ms: int) -> None:
        tx.execute(
            "INSERT OR REPLACE INTO _sfsync_components VALUES (?, ?, ?, ?, ?)",
            (type_, full_name, file_name, content, now_ms),
        )

    def components(self) -> list[sqlite3.Row]:
        return self.conn().execute("SELECT * FROM _sfsync_components ORDER BY type, full_name").fetchall()

    def add_notification(self, tx: sqlite3.Connection, row: dict[str, Any]) -> None:
        tx.execute(
            "INSERT INTO _sfsync_notifications VALUES (:id, :type_id, :recipient_id, :title, :body, :target_id, :created_date)",
            row,
        )

    def notifications(self) -> list[sqlite3.Row]:
        return self.conn().execute(
            "SELECT n.*, t.DeveloperName AS type_developer_name, u.Name AS recipient_name "
            "FROM _sfsync_notifications n "
            "LEFT JOIN CustomNotificationType t ON t.Id = n.type_id "
            "LEFT JOIN \"User\" u ON u.Id = n.recipient_id ORDER BY n.created_date, n.id"
        ).fetchall()


def storage_default(fdef: FieldDef) -> Any:
    if fdef.type == "boolean":
        return 1 if fdef.default else 0
    return fdef.default
