"""One local org: its state folder, database, schema catalog and in-memory session state."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from zoneinfo import ZoneInfo

from sfsync.errors import LocalOrgError
from sfsync.local_org.catalog import Catalog
from sfsync.local_org.records import RecordWriter
from sfsync.local_org.standard_objects import standard_objects
from sfsync.local_org.state import Credentials, StateDir
from sfsync.local_org.store import Store
from sfsync.local_org.values import now_ms

logger = logging.getLogger(__name__)

DEFAULT_DAILY_API_LIMIT = 15000
ORG_NAME = "sfsync Local Org"
DEFAULT_TIME_ZONE = "Asia/Tokyo"


class LocalOrg:
    """Opens (or creates) the org in ``state_dir``. Thread-safe; shared by all request threads."""

    def __init__(self, state_dir, daily_api_limit: int = DEFAULT_DAILY_API_LIMIT):
        self.state = StateDir(state_dir)
        self.store = Store(self.state.db_file)
        fresh = not self.state.is_initialized()
        self.credentials: Credentials = self.state.ensure(self._create_db)
        if not fresh:
            self.store.check()
        self._catalog = self.store.load_catalog()
        if self._catalog.get("User") is None or self._catalog.get("Organization") is None:
            raise LocalOrgError(f"{self.state.db_file}: standard objects are missing from the database")
        self.writer = RecordWriter(self.store, lambda: self._catalog, self.credentials.user_id)
        self.daily_api_limit = daily_api_limit
        self._api_usage = 0
        self._usage_lock = threading.Lock()
        self.store.release()  # the opening thread is done with the database

    # The catalog is swapped whole after a deploy (see catalog.py).
    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def publish_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def time_zone(self) -> ZoneInfo:
        row = self.store.conn().execute('SELECT TimeZoneSidKey FROM "Organization" LIMIT 1').fetchone()
        return ZoneInfo(row[0] if row and row[0] else DEFAULT_TIME_ZONE)

    def now(self) -> dt.datetime:
        """The org's clock (one place, so tests and fault injection can move it)."""
        return dt.datetime.now(dt.timezone.utc)

    def count_api_call(self) -> tuple[int, int]:
        with self._usage_lock:
            self._api_usage += 1
            return self._api_usage, self.daily_api_limit

    def api_usage(self) -> tuple[int, int]:
        with self._usage_lock:
            return self._api_usage, self.daily_api_limit

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
