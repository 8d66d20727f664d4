"""One local org: its state folder, database, schema catalog and in-memory session state."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from typing import Callable
from zoneinfo import ZoneInfo

from sfsync.errors import LocalOrgError
from sfsync.local_org.catalog import Catalog
from sfsync.local_org.records import RecordWriter
from sfsync.local_org.settings import DEFAULT_DAILY_API_LIMIT, DEFAULT_TIME_ZONE, LocalOrgSettings, load_settings
from sfsync.local_org.standard_objects import standard_objects
from sfsync.local_org.state import Credentials, StateDir
from sfsync.local_org.store import Store
from sfsync.local_org.values import now_ms

logger = logging.getLogger(__name__)

ORG_NAME = "sfsync Local Org"
USAGE_WINDOW_MINUTES = 24 * 60
_USAGE_TABLE = "_sfsync_api_usage"
_USAGE_DDL = f"CREATE TABLE IF NOT EXISTS {_USAGE_TABLE} (minute INTEGER PRIMARY KEY, calls INTEGER NOT NULL)"
__all__ = ["LocalOrg", "DEFAULT_DAILY_API_LIMIT", "DEFAULT_TIME_ZONE", "ORG_NAME"]


class LocalOrg:
    """Opens (or creates) the org in ``state_dir``. Thread-safe; shared by all request threads."""

    def __init__(self, state_dir, settings: LocalOrgSettings | None = None, daily_api_limit: int | None = None):
        self.state = StateDir(state_dir)
        if settings is None:
            settings = load_settings(self.state.settings_file, {"daily_api_limit": daily_api_limit})
        self.settings = settings
        self._zone = settings.zone
        self.store = Store(self.state.db_file)
        fresh = not self.state.is_initialized()
        self.credentials: Credentials = self.state.ensure(self._create_db)
        if not fresh:
            self.store.check()
        self._catalog = self.store.load_catalog()
        if self._catalog.get("User") is None or self._catalog.get("Organization") is None:
            raise LocalOrgError(f"{self.state.db_file}: standard objects are missing from the database")
        self.writer = RecordWriter(self.store, lambda: self._catalog, self.credentials.user_id)
        self.daily_api_limit = settings.daily_api_limit
        self._sync_time_zone()
        # API calls per minute over the last 24 hours (Salesforce counts a rolling 24-hour window),
        # kept in the database too: each command serves the org anew and must not get a fresh allowance.
        self._usage_lock = threading.Lock()
        self.clock: Callable[[], float] = time.time
        self._api_calls: OrderedDict[int, int] = self._load_usage()
        self.store.release()  # the opening thread is done with the database

    # The catalog is swapped whole after a deploy (see catalog.py).
    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def publish_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def time_zone(self) -> ZoneInfo:
        return self._zone

    def _sync_time_zone(self) -> None:
        """The settings' zone is the org's: the Organization row says so too (SOQL reads it)."""
        with self.store.transaction() as tx:
            tx.execute('UPDATE "Organization" SET TimeZoneSidKey = ? WHERE TimeZoneSidKey IS NOT ?',
                       (self.settings.time_zone, self.settings.time_zone))

    def now(self) -> dt.datetime:
        """The org's clock (one place, so tests and fault injection can move it)."""
        return dt.datetime.now(dt.timezone.utc)

    def _used(self) -> int:
        oldest = int(self.clock() // 60) - USAGE_WINDOW_MINUTES + 1
        while self._api_calls and next(iter(self._api_calls)) < oldest:
            self._api_calls.popitem(last=False)
        return sum(self._api_calls.values())

    def count_api_call(self) -> tuple[int, int]:
        """Count one API call; (calls in the last 24 hours, daily allocation)."""
        with self._usage_lock:
            minute = int(self.clock() // 60)
            self._api_calls[minute] = self._api_calls.get(minute, 0) + 1
            used = self._used()
        # Outside the usage lock: a thread holding the database's write lock may be waiting for it.
        self._persist_call(minute)
        return used, self.daily_api_limit

    def _load_usage(self) -> OrderedDict[int, int]:
        oldest = int(self.clock() // 60) - USAGE_WINDOW_MINUTES + 1
        with self.store.transaction() as tx:
            tx.execute(_USAGE_DDL)
            tx.execute(f"DELETE FROM {_USAGE_TABLE} WHERE minute < ?", (oldest,))
            rows = tx.execute(f"SELECT minute, calls FROM {_USAGE_TABLE} ORDER BY minute").fetchall()
        return OrderedDict((row[0], row[1]) for row in rows)

    def _persist_call(self, minute: int) -> None:
        try:
            with self.store.transaction() as tx:
                tx.execute(f"INSERT INTO {_USAGE_TABLE} (minute, calls) VALUES (?, 1) "
                           "ON CONFLICT(minute) DO UPDATE SET calls = calls + 1", (minute,))
                tx.execute(f"DELETE FROM {_USAGE_TABLE} WHERE minute < ?", (minute - USAGE_WINDOW_MINUTES + 1,))
        except sqlite3.Error as exc:  # the count in memory still holds for this run
            logger.warning("cannot record the API call in %s: %s", self.state.db_file, exc)

    def api_usage(self) -> tuple[int, int]:
        with self._usage_lock:
            return self._used(), self.daily_api_limit

    def _create_db(self, creds: Credentials) -> None:
        """A new database with the Organization row and the admin user, as a new org has them."""
        self.store.create(standard_objects())
        ts = now_ms()
        stamps = {
            "CreatedDate": ts, "LastModifiedDate": ts, "SystemModstamp": ts,
            "CreatedById": creds.user_id, "LastModifiedById": creds.user_id,
        }
        catalog = self.store.load_catalog()
        with self.store.transaction() as tx:
            org_id = self.store.next_id(tx, "00D")
            user_id = self.store.next_id(tx, "005")
            assert (org_id, user_id) == (creds.org_id, creds.user_id)
            self.store.insert(tx, catalog.get("Organization"), {
                "Id": org_id, "Name": ORG_NAME, "IsSandbox": 0, "OrganizationType": "Developer Edition",
                "TimeZoneSidKey": DEFAULT_TIME_ZONE, "LanguageLocaleKey": "ja", "DefaultLocaleSidKey": "ja_JP",
                **stamps,
            })
            self.store.insert(tx, catalog.get("User"), {
                "Id": user_id, "Username": creds.username, "FirstName": "Local", "LastName": "Admin",
                "Name": "Local Admin", "Email": creds.username, "Alias": "ladmin", "IsActive": 1,
                "LanguageLocaleKey": "ja", "TimeZoneSidKey": DEFAULT_TIME_ZONE, "LocaleSidKey": "ja_JP",
                "EmailEncodingKey": "UTF-8", **stamps,
            })

    def close(self) -> None:
        self.store.close()
