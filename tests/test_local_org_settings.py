"""Local org settings (keyword arguments, settings.json), limits, query locators and token lifetime."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from conftest import load_reference
from sfsync.errors import LocalOrgError
from sfsync.local_org import LocalOrgServer, local_org_info
from sfsync.local_org.settings import LocalOrgSettings, load_settings
from sfsync.local_org.values import now_ms

pytestmark = pytest.mark.e2e
V = "/services/data/v66.0"
INVALID_LOCATOR = [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _session(srv, state: Path) -> requests.Session:
    info = local_org_info(state)
    s = requests.Session()
    s.trust_env = False
    s.verify = str(info.ca_file)
    token = s.post(f"{srv.instance_url}/services/oauth2/token", data={
        "grant_type": "password", "username": info.username, "password": info.password.get_secret_value()}).json()
    s.headers["Authorization"] = f"Bearer {token['access_token']}"
    return s


def _seed_accounts(srv, n: int, prefix: str = "Acc") -> list[str]:
    org = srv.org
    obj = org.catalog.get("Account")
    with org.store.transaction() as tx:
        ids = [org.writer.create(tx, obj, {"Name": f"{prefix} {i:04d}"}, now_ms()) for i in range(n)]
    org.store.release()
    return ids


# -- settings ---------------------------------------------------------------------------------
def test_defaults():
    s = LocalOrgSettings()
    assert (s.time_zone, s.daily_api_limit, s.query_locator_expiry_seconds, s.token_lifetime_seconds) == (
        "Asia/Tokyo", 15000, 900, 7200)


def test_settings_file_and_keyword_arguments(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"time_zone": "UTC", "daily_api_limit": 50}))
    s = load_settings(path, {"daily_api_limit": 7, "token_lifetime_seconds": None})
    assert (s.time_zone, s.daily_api_limit, s.token_lifetime_seconds) == ("UTC", 7, 7200)
    assert load_settings(tmp_path / "absent.json") == LocalOrgSettings()


@pytest.mark.parametrize("content, message", [
    ('{"time_zone": "Mars/Olympus"}', "invalid local org settings (time_zone: Value error, unknown time zone 'Mars/Olympus')"),
    ('{"daily_limit": 5}', "invalid local org settings (daily_limit: Extra inputs are not permitted)"),
    ('{"daily_api_limit": -1}', "invalid local org settings (daily_api_limit: Input should be greater than or equal to 0)"),
    ("[1]", "the local org settings must be a JSON object"),
    ("{", "cannot read the local org settings (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
])
def test_bad_settings_are_clear_errors(tmp_path, content, message):
    state = tmp_path / "org"
    state.mkdir()
    (state / "settings.json").write_text(content)
    with pytest.raises(LocalOrgError) as err:
        LocalOrgServer(state).start()
    assert str(err.value) == f"{state / 'settings.json'}: {message}"


def test_time_zone_setting_is_the_orgs(tmp_path):
    state = tmp_path / "org"
    state.mkdir()
    (state / "settings.json").write_text('{"time_zone": "America/Los_Angeles"}')
    with LocalOrgServer(state) as srv:
        s = _session(srv, state)
        body = s.get(srv.instance_url + V + "/query", params={"q": "SELECT TimeZoneSidKey FROM Organization"}).json()
        assert body["records"][0]["TimeZoneSidKey"] == "America/Los_Angeles"
        assert str(srv.org.time_zone()) == "America/Los_Angeles"
    # A keyword argument wins over the file.
    with LocalOrgServer(state, time_zone="Asia/Tokyo") as srv:
        assert str(srv.org.time_zone()) == "Asia/Tokyo"


# -- limits -----------------------------------------------------------------------------------
def test_limits_and_limit_header_count_calls(tmp_path):
    with LocalOrgServer(tmp_path / "org", daily_api_limit=3) as srv:
        s = _session(srv, tmp_path / "org")
        r = s.get(srv.instance_url + V + "/limits")
        assert r.headers["Sforce-Limit-Info"] == "api-usage=1/3"
        assert r.json()["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
        assert s.get(srv.instance_url + V + "/limits").json()["DailyApiRequests"] == {"Max": 3, "Remaining": 1}
        s.get(srv.instance_url + V + "/limits")
        r = s.get(srv.instance_url + V + "/limits")
        assert (r.status_code, r.json()) == (403, load_reference("error-request-limit-exceeded.json"))


def test_the_allocation_is_a_rolling_24_hours(tmp_path):
    clock = FakeClock()
    clock.now = 1_000_000.0
    with LocalOrgServer(tmp_path / "org", daily_api_limit=2) as srv:
        srv.org.clock = clock
        s = _session(srv, tmp_path / "org")
        assert s.get(srv.instance_url + V + "/limits").status_code == 200
        clock.now += 12 * 3600
        assert s.get(srv.instance_url + V + "/limits").status_code == 200
        assert s.get(srv.instance_url + V + "/limits").status_code == 403
        clock.now += 12 * 3600  # the first call leaves the window; the second and third stay
        r = s.get(srv.instance_url + V + "/limits")
        assert (r.status_code, r.headers["Sforce-Limit-Info"]) == (403, "api-usage=3/2")
        clock.now += 12 * 3600 + 60  # now only the refused call at 24 h and this one are in the window
        r = s.get(srv.instance_url + V + "/limits")
        assert (r.status_code, r.headers["Sforce-Limit-Info"]) == (200, "api-usage=2/2")


def test_the_allocation_is_kept_across_restarts(tmp_path):
    # Each command serves the org for its own duration: a restart must not grant a fresh allowance.
    path = tmp_path / "org"
    with LocalOrgServer(path, daily_api_limit=3) as srv:
        s = _session(srv, path)
        assert s.get(srv.instance_url + V + "/limits").headers["Sforce-Limit-Info"] == "api-usage=1/3"
        assert s.get(srv.instance_url + V + "/limits").headers["Sforce-Limit-Info"] == "api-usage=2/3"
    with LocalOrgServer(path, daily_api_limit=3) as srv:
        s = _session(srv, path)
        assert s.get(srv.instance_url + V + "/limits").headers["Sforce-Limit-Info"] == "api-usage=3/3"
        r = s.get(srv.instance_url + V + "/limits")
        assert (r.status_code, r.headers["Sforce-Limit-Info"]) == (403, "api-usage=4/3")


def test_calls_older_than_24_hours_leave_the_window_across_restarts(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        pass
    now_minute = int(time.time() // 60)
    db = sqlite3.connect(path / "org.sqlite3")
    with db:
        db.executemany("INSERT INTO _sfsync_api_usage (minute, calls) VALUES (?, ?)",
                       [(now_minute - 24 * 60 - 1, 500), (now_minute - 60, 7)])
    db.close()
    with LocalOrgServer(path, daily_api_limit=100) as srv:
        r = _session(srv, path).get(srv.instance_url + V + "/limits")
        assert r.headers["Sforce-Limit-Info"] == "api-usage=8/100"
        assert r.json()["DailyApiRequests"] == {"Max": 100, "Remaining": 92}


# -- query paging -----------------------------------------------------------------------------
@pytest.fixture
def paged(tmp_path):
    clock = FakeClock()
    with LocalOrgServer(tmp_path / "org", query_locator_expiry_seconds=60, token_lifetime_seconds=300) as srv:
        srv.app.rest.locators.clock = clock
        srv.app.sessions.clock = clock
        s = _session(srv, tmp_path / "org")
        ids = _seed_accounts(srv, 450)
        yield srv, s, clock, ids


def _query(srv, s, soql, batch=None):
    headers = {"Sforce-Query-Options": f"batchSize={batch}"} if batch else {}
    return s.get(srv.instance_url + V + "/query", params={"q": soql}, headers=headers)


@pytest.mark.parametrize("option, size", [("batchSize=250", 250), ("batchSize=10", 200), ("batchSize=5000", 450),
                                          ("batchSize = 300", 300), ("nonsense", 450)])
def test_batch_size_option(paged, option, size):
    srv, s, _, _ = paged
    r = s.get(srv.instance_url + V + "/query", params={"q": "SELECT Id FROM Account"},
              headers={"Sforce-Query-Options": option})
    assert len(r.json()["records"]) == size


def test_locator_expires_after_inactivity(paged):
    srv, s, clock, _ = paged
    first = _query(srv, s, "SELECT Name FROM Account ORDER BY Name", batch=200).json()
    clock.now += 59
    second = s.get(srv.instance_url + first["nextRecordsUrl"]).json()
    assert second["records"][0]["Name"] == "Acc 0200"
    clock.now += 59  # the clock restarts with each use
    assert s.get(srv.instance_url + second["nextRecordsUrl"]).status_code == 200
    clock.now += 60
    r = s.get(srv.instance_url + second["nextRecordsUrl"])
    assert (r.status_code, r.json()) == (400, INVALID_LOCATOR)


@pytest.mark.parametrize("tail", ["01g000000000099AAA-200", "01g000000000001AAA-x", "garbage", "01g000000000001AAA-9999"])
def test_unknown_or_out_of_range_locator(paged, tail):
    srv, s, _, _ = paged
    _query(srv, s, "SELECT Id FROM Account", batch=200)
    r = s.get(srv.instance_url + V + "/query/" + tail)
    assert (r.status_code, r.json()) == (400, INVALID_LOCATOR)


def test_pages_keep_the_ids_matched_at_query_time(paged):
    """Salesforce's cursor holds the rows matched when the query ran: writes meanwhile neither
    shift later pages nor add rows; a deleted row is left out; later pages show current values."""
    srv, s, _, ids = paged
    soql = "SELECT Id, Name FROM Account WHERE Name LIKE 'Acc%' ORDER BY Id"
    first = _query(srv, s, soql, batch=200).json()
    assert [r["Id"] for r in first["records"]] == ids[:200]
    # The first page's rows stop matching (as the worker's stamps do), new rows start matching.
    base = srv.instance_url + V + "/composite/sobjects"
    for start in range(0, 200, 200):
        s.patch(base, json={"allOrNone": True, "records": [
            {"attributes": {"type": "Account"}, "Id": i, "Name": "Done"} for i in ids[start:start + 200]]})
    _seed_accounts(srv, 5, prefix="Acc new")
    s.delete(srv.instance_url + V + f"/sobjects/Account/{ids[201]}")
    s.patch(srv.instance_url + V + f"/sobjects/Account/{ids[202]}", json={"Name": "Acc renamed"})
    second = s.get(srv.instance_url + first["nextRecordsUrl"]).json()
    assert second["totalSize"] == 450
    assert [r["Id"] for r in second["records"]] == [ids[200]] + ids[202:400]
    assert second["records"][1]["Name"] == "Acc renamed"
    last = s.get(srv.instance_url + second["nextRecordsUrl"]).json()
    assert [r["Id"] for r in last["records"]] == ids[400:]
    assert last["done"] is True and "nextRecordsUrl" not in last
    # A new query sees the new state.
    assert _query(srv, s, soql).json()["totalSize"] == 450 - 200 - 1 + 5


def test_count_query_and_relationship_rows_by_id(paged):
    srv, s, _, _ = paged
    body = _query(srv, s, "SELECT COUNT() FROM Account WHERE Name LIKE 'Acc 00%'").json()
    assert body == {"totalSize": 100, "done": True, "records": []}
    body = _query(srv, s, "SELECT Name, Owner.Name FROM Account ORDER BY Name DESC LIMIT 2").json()
    assert [(r["Name"], r["Owner"]["Name"]) for r in body["records"]] == [("Acc 0449", "Local Admin"),
                                                                          ("Acc 0448", "Local Admin")]
    assert body["totalSize"] == 2


# -- token lifetime ---------------------------------------------------------------------------
def test_token_expires_and_a_new_login_works(paged):
    srv, s, clock, _ = paged
    assert s.get(srv.instance_url + V + "/limits").status_code == 200
    clock.now += 299
    assert s.get(srv.instance_url + V + "/limits").status_code == 200
    clock.now += 1
    r = s.get(srv.instance_url + V + "/limits")
    assert (r.status_code, r.json()) == (401, load_reference("error-invalid-session-id.json"))
    fresh = _session(srv, srv.state_dir)
    assert fresh.get(srv.instance_url + V + "/limits").status_code == 200
