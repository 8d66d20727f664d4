"""The overdue worker against a real local org, with injected faults (sfsync.local_org.faults).

The metadata is deployed once per module into a template state folder; each test serves a copy,
seeds records straight into the org's store (fast, no API calls counted) and runs the worker
in-process (tests/test_worker_process.py runs it as a subprocess, to kill it or signal it).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sfsync.client import OrgClient, RetryPolicy
from sfsync.connection import local_credentials
from sfsync.deploy import DeployOptions, start_deploy, wait_for_deploy
from sfsync.domain import api_datetime
from sfsync.local_org import LocalOrgServer, list_notifications, local_org_info
from sfsync.local_org.faults import FaultRule
from sfsync.local_org.values import now_ms
from sfsync.packaging import build_package
from sfsync.worker import WorkerOptions, notify_overdue

pytestmark = pytest.mark.e2e

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
REPO = Path(__file__).resolve().parents[1]
ACTION = r"/services/data/v\d+\.\d+/actions/standard/customNotificationAction"
COLLECTION = r"/services/data/v\d+\.\d+/composite/sobjects"
QUERY_MORE = r"/services/data/v\d+\.\d+/query/01g.*"
V = "/services/data/v66.0"


def deployed_template(state: Path) -> Path:
    """A local org in ``state`` with metadata/ deployed (copied by each test)."""
    with LocalOrgServer(state):
        client = OrgClient.connect(local_credentials(local_org_info(state)))
        status = wait_for_deploy(client, start_deploy(client, build_package(REPO).zip_bytes, DeployOptions()),
                                 wait_seconds=120)
        assert status.success, status.error_message
    return state


@contextmanager
def serve_copy(template: Path, state: Path) -> Iterator[LocalOrgServer]:
    shutil.copytree(template, state)
    with LocalOrgServer(state) as srv:
        yield srv


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return deployed_template(tmp_path_factory.mktemp("worker-org") / "template")


@pytest.fixture
def served(template, tmp_path):
    with serve_copy(template, tmp_path / "org") as srv:
        yield srv


class Seeder:
    """Records written straight into the org's store, as the REST API would write them."""

    def __init__(self, srv: LocalOrgServer):
        self.org = srv.org

    def add(self, sobject: str, **fields) -> str:
        body = {k: api_datetime(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        with self.org.store.transaction() as tx:
            return self.org.writer.create(tx, self.org.catalog.get(sobject), body, now_ms())

    def many(self, sobject: str, bodies: list[dict]) -> list[str]:
        obj = self.org.catalog.get(sobject)
        with self.org.store.transaction() as tx:
            return [self.org.writer.create(tx, obj, {k: api_datetime(v) if isinstance(v, datetime) else v
                                                     for k, v in b.items()}, now_ms()) for b in bodies]


def user(seed: Seeder, key: str, last: str, *, lang: str = "ja", active: bool = True) -> str:
    return seed.add("User", Username=f"{key}@faults.example", LastName=last, Email=f"{key}@faults.example",
                    Alias=key[:8], LanguageLocaleKey=lang, IsActive=active)


class Dealer:
    """One store with a manager and a demo car, and opportunities owned by active staff."""

    def __init__(self, srv: LocalOrgServer):
        self.seed = Seeder(srv)
        s = self.seed
        self.owner_ja = user(s, "sato", "佐藤")
        self.owner_en = user(s, "mori", "Mori", lang="en_US")
        self.manager = user(s, "tencho", "店長")
        self.store = s.add("Dealer_Store__c", Name="渋谷店", Store_Code__c="S001", Manager__c=self.manager)
        self.vehicle = s.add("Test_Drive_Vehicle__c", Name="Breeze G", Store__c=self.store)
        self.account = s.add("Account", Name="田中 一郎")
        self.opp_ja = self.opportunity(self.owner_ja)
        self.opp_en = self.opportunity(self.owner_en)

    def opportunity(self, owner: str) -> str:
        return self.seed.add("Opportunity", Name="田中様 商談", AccountId=self.account, OwnerId=owner,
                             StageName="Prospecting", CloseDate="2027-01-31")

    def reservation_body(self, start: datetime, opp: str | None = None, **extra) -> dict:
        return {"Name": "田中様試乗", "Opportunity__c": opp or self.opp_ja, "Vehicle__c": self.vehicle,
                "Scheduled_Start__c": start, "Scheduled_End__c": start + timedelta(hours=1),
                "Status__c": "Scheduled", **extra}

    def overdue(self, n: int, **extra) -> list[str]:
        start = NOW - timedelta(days=12)
        return self.seed.many("Test_Drive_Reservation__c", [
            self.reservation_body(start, self.opp_ja if i % 2 == 0 else self.opp_en, **extra) for i in range(n)])


def client_for(srv: LocalOrgServer) -> OrgClient:
    return OrgClient.connect(local_credentials(local_org_info(srv.state_dir)),
                             retry=RetryPolicy(attempts=4, max_wait=0, multiplier=0))


def work(srv: LocalOrgServer, **kw):
    options = WorkerOptions(now=NOW, worker_id="faults", lease_settle_seconds=0, **kw)
    return notify_overdue(client_for(srv), options)


def notified_counts(srv: LocalOrgServer) -> Counter:
    return Counter(n.target_id for n in list_notifications(srv.state_dir))


def stamped(srv: LocalOrgServer, field: str = "Overdue_Notified_At__c") -> set[str]:
    rows = srv.org.store.conn().execute(
        f'SELECT Id FROM "Test_Drive_Reservation__c" WHERE "{field}" IS NOT NULL').fetchall()
    return {r[0] for r in rows}


def lease_rows(srv: LocalOrgServer) -> list[tuple]:
    return [tuple(r) for r in srv.org.store.conn().execute(
        'SELECT Id, Notice_Claimed_By__c FROM "Test_Drive_Reservation__c" WHERE Notice_Claim__c IS NOT NULL')]


def rest_calls(srv: LocalOrgServer) -> dict[str, int]:
    return {k: v for k, v in srv.counters().items() if k.startswith("GET /services/data") or
            k.startswith("POST /services/data") or k.startswith("PATCH /services/data")}


# --------------------------------------------------------------------------- failure kinds of item 4
# Six overdue reservations in batches of two: positions 1, 2, 3 are the first, middle and last batch.
# PATCH #1 is the lease, so the stamp of batch k is PATCH #k+1.
POSITIONS = [1, 2, 3]


def _fault(kind: str, pos: int) -> FaultRule:
    return {
        "drop_action": lambda: FaultRule(method="POST", path=ACTION, nth=pos, drop_connection=True),
        "503_action": lambda: FaultRule(method="POST", path=ACTION, nth=pos, status=503),
        "500_stamp": lambda: FaultRule(method="PATCH", path=COLLECTION, nth=pos + 1, status=500),
        "drop_stamp": lambda: FaultRule(method="PATCH", path=COLLECTION, nth=pos + 1, drop_connection=True),
        "lock_stamp": lambda: FaultRule(method="PATCH", path=COLLECTION, nth=pos + 1,
                                        item_errors={0: "UNABLE_TO_LOCK_ROW"}),
        "401_action": lambda: FaultRule(method="POST", path=ACTION, nth=pos, status=401),
        "401_stamp": lambda: FaultRule(method="PATCH", path=COLLECTION, nth=pos + 1, status=401),
    }[kind]()


@pytest.mark.parametrize("pos", POSITIONS)
@pytest.mark.parametrize("kind", ["drop_action", "503_action", "500_stamp", "drop_stamp", "lock_stamp",
                                  "401_action", "401_stamp"])
def test_recoverable_faults_end_with_every_reservation_notified_once(served, kind, pos):
    ids = Dealer(served).overdue(6)
    served.faults.add(_fault(kind, pos))

    result = work(served, batch_size=2)

    assert (result.exit_code, result.outcome, result.notified, result.failed) == (0, "done", 6, 0)
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
    assert stamped(served) == set(ids)
    assert lease_rows(served) == []


@pytest.mark.parametrize("pos", POSITIONS)
def test_request_limit_stops_at_once_exit_3_and_the_rerun_sends_the_rest(served, pos):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="POST", path=ACTION, nth=pos, status=403))

    result = work(served, batch_size=2)

    order = ids[1:] + ids[:1]  # the lease's record (the lowest Id) goes in the last batch
    sent = order[: 2 * (pos - 1)]
    assert (result.exit_code, result.outcome, result.notified_ids) == (3, "api_limit", sent)
    assert result.error == "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
    assert notified_counts(served) == Counter({rid: 1 for rid in sent})
    assert stamped(served) == set(sent)
    assert len(lease_rows(served)) == 1  # no call after the 403, not even the release

    served.faults.clear()
    again = work(served, batch_size=2)  # same worker id: takes its own lease over
    assert (again.exit_code, sorted(again.notified_ids)) == (0, sorted(order[2 * (pos - 1):]))
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
    assert lease_rows(served) == []


@pytest.mark.parametrize("pos", POSITIONS)
def test_failed_items_in_a_200_action_answer_are_left_for_the_next_run(served, pos):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="POST", path=ACTION, nth=pos,
                                item_errors={1: ("INVALID_ARGUMENT_TYPE", "Invalid parameter value for: targetId")}))

    result = work(served, batch_size=2)

    failed = (ids[1:] + ids[:1])[2 * (pos - 1) + 1]
    assert (result.exit_code, result.notified, [f.model_dump() for f in result.failures]) == (
        2, 5, [{"id": failed, "error_code": "INVALID_ARGUMENT_TYPE", "message": "Invalid parameter value for: targetId"}])
    assert failed not in stamped(served) and failed not in notified_counts(served)

    again = work(served, batch_size=2)
    assert (again.exit_code, again.notified_ids) == (0, [failed])
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})


@pytest.mark.parametrize("pos", POSITIONS)
def test_a_stamp_refused_in_a_200_composite_answer_is_reported_and_notified_again(served, pos):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="PATCH", path=COLLECTION, nth=pos + 1,
                                item_errors={1: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "The record failed a validation rule.")}))

    result = work(served, batch_size=2)

    refused = (ids[1:] + ids[:1])[2 * (pos - 1) + 1]
    assert (result.exit_code, result.notified, result.failed) == (2, 5, 1)
    assert result.failures[0].model_dump() == {"id": refused, "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                               "message": "The record failed a validation rule."}
    assert stamped(served) == set(ids) - {refused}

    again = work(served, batch_size=2)
    assert (again.exit_code, again.notified_ids) == (0, [refused])
    # The documented duplicate: the org refused the record of a notice that went out.
    assert notified_counts(served) == Counter({rid: 2 if rid == refused else 1 for rid in ids})


def test_a_composite_answer_with_three_failed_items(served):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="PATCH", path=COLLECTION, nth=2, item_errors={
        0: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "The record failed a validation rule."),
        2: ("ENTITY_IS_LOCKED", "the entity is locked for editing"),
        5: ("FIELD_INTEGRITY_EXCEPTION", "field integrity exception"),
    }))

    result = work(served)

    assert [(f.id, f.error_code) for f in result.failures] == [
        (ids[1], "FIELD_CUSTOM_VALIDATION_EXCEPTION"), (ids[3], "ENTITY_IS_LOCKED"), (ids[0], "FIELD_INTEGRITY_EXCEPTION")]
    assert (result.exit_code, result.notified_ids) == (2, [ids[2], ids[4], ids[5]])
    assert stamped(served) == {ids[2], ids[4], ids[5]}
    # Item 5 was the lease's record (stamp + release in one record): released by one more call.
    assert lease_rows(served) == []


def test_transient_faults_that_outlast_the_retries_abort_with_exit_1_and_lose_nothing(served):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="POST", path=ACTION, nth=2, times=None, status=503))

    result = work(served, batch_size=2)

    assert (result.exit_code, result.outcome, result.notified_ids) == (1, "aborted", ids[1:3])
    assert result.error.startswith("SERVER_UNAVAILABLE: ")
    assert lease_rows(served) == []  # released on the way out
    served.faults.clear()
    assert sorted(work(served, batch_size=2).notified_ids) == sorted(ids[:1] + ids[3:])
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})


def test_a_second_401_after_logging_in_again_aborts_without_looping(served):
    ids = Dealer(served).overdue(2)
    served.faults.add(FaultRule(method="POST", path=ACTION, times=None, status=401))

    result = work(served)

    assert (result.exit_code, result.outcome, result.notified) == (1, "aborted", 0)
    assert result.error == ("INVALID_SESSION_ID: actions/standard/customNotificationAction: Session expired or invalid "
                            "(again after logging in anew)")
    assert served.counters()[f"POST {V}/actions/standard/customNotificationAction"] == 2
    assert served.counters()["POST /services/oauth2/token"] == 2
    assert stamped(served) == set() and notified_counts(served) == Counter()
    assert len(ids) == 2


# --------------------------------------------------------------------------- paging edges, budget
@pytest.mark.parametrize("n, pages", [(2001, 2), (4001, 3)])
def test_paging_edges_notify_every_row_once_within_the_call_budget(served, n, pages):
    ids = Dealer(served).overdue(n)
    served.faults.reset_counters()

    result = work(served)

    assert (result.checked, result.notified, result.failed, result.exit_code) == (n, n, 0, 0)
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
    batches = -(-n // 200)
    assert rest_calls(served) == {
        f"GET {V}/query": 3,  # probe, notification type, first page
        f"GET {V}/query/{{locator}}": pages - 1,
        f"POST {V}/actions/standard/customNotificationAction": batches,
        f"PATCH {V}/composite/sobjects": batches + 1,  # + the lease; released inside the last stamp
    }
    rest = sum(rest_calls(served).values())
    assert rest == -(-n // 2000) + 2 * batches + 3  # exactly the budget of item 5
    assert result.api_calls == rest + 1  # + the login


@pytest.mark.parametrize("nth", [1, 2])
def test_invalid_query_locator_restarts_with_a_keyset_query_without_renotifying(served, nth):
    ids = Dealer(served).overdue(4001)
    served.faults.add(FaultRule(method="GET", path=QUERY_MORE, nth=nth, status=400, error_code="INVALID_QUERY_LOCATOR"))

    result = work(served)

    assert (result.notified, result.exit_code) == (4001, 0)
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
    assert served.counters()[f"GET {V}/query"] == 4  # probe, type, first page, the keyset restart


# --------------------------------------------------------------------------- the cutoff, end to end
def test_a_reservation_exactly_at_the_cutoff_in_jst(served):
    d = Dealer(served)
    now = datetime(2026, 12, 3, 23, 59, tzinfo=JST)
    cutoff = datetime(2026, 11, 24, 0, 0, tzinfo=JST)
    at, before = d.seed.many("Test_Drive_Reservation__c", [
        d.reservation_body(cutoff), d.reservation_body(cutoff - timedelta(seconds=1))])

    result = notify_overdue(client_for(served), WorkerOptions(now=now, worker_id="jst", lease_settle_seconds=0))

    assert (result.checked, result.notified_ids) == (1, [before])
    assert at not in notified_counts(served)


def test_the_dst_change_over_in_los_angeles(served):
    d = Dealer(served)
    la = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 11, 10, 12, 0, tzinfo=la)  # PST; ten days back is 11/01, the fall-back day
    last_overdue = datetime(2026, 10, 31, 23, 59, 59, tzinfo=la)  # PDT, 06:59:59Z
    first_not = datetime(2026, 11, 1, 0, 0, tzinfo=la)  # PDT, 07:00Z
    repeated_hour = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=la)  # PST, the second 01:30
    ids = d.seed.many("Test_Drive_Reservation__c", [
        d.reservation_body(last_overdue), d.reservation_body(first_not), d.reservation_body(repeated_hour)])

    result = notify_overdue(client_for(served), WorkerOptions(now=now, time_zone="America/Los_Angeles",
                                                              worker_id="dst", lease_settle_seconds=0))

    assert (result.checked, result.notified_ids) == (1, [ids[0]])


# --------------------------------------------------------------------------- recipients, escalation, digest
def test_inactive_owner_manager_escalation_and_digest_against_the_org(served):
    d = Dealer(served)
    gone = user(d.seed, "gone", "退職", active=False)
    opp_gone = d.opportunity(gone)
    start = NOW - timedelta(days=12)
    first, to_manager, escalate = d.seed.many("Test_Drive_Reservation__c", [
        d.reservation_body(start),
        d.reservation_body(start, opp_gone),
        d.reservation_body(start - timedelta(days=10), Overdue_Notified_At__c=NOW - timedelta(days=8)),
    ])
    no_car = d.seed.add("Test_Drive_Reservation__c", **{**d.reservation_body(start, opp_gone), "Vehicle__c": None})

    result = work(served, digest=True)

    assert [(f.id, f.error_code) for f in result.failures] == [(no_car, "NO_VEHICLE")]
    notes = sorted((n.recipient_id, n.target_id, n.title) for n in list_notifications(served.state_dir))
    assert notes == sorted([
        (d.owner_ja, first, "未処理の試乗予約が1件あります"),
        (d.manager, to_manager, "未処理の試乗予約が1件あります"),
        (d.manager, escalate, "【エスカレーション】未処理の試乗予約が1件あります"),
    ])
    assert stamped(served) == {first, to_manager, escalate}
    assert stamped(served, "Escalated_At__c") == {escalate}
    assert (result.notified, result.escalated, result.exit_code) == (2, 1, 2)
    # Escalated once: the next run has nothing more for the manager.
    assert work(served, digest=True).escalated == 0




@pytest.mark.parametrize("pos", POSITIONS)
def test_a_refused_login_after_a_401_is_fatal_and_never_loops(served, pos):
    ids = Dealer(served).overdue(6)
    client = client_for(served)  # the first login, before the faults
    served.faults.add(FaultRule(method="POST", path=ACTION, nth=pos, status=401))
    served.faults.add(FaultRule(method="POST", path="/services/oauth2/token", times=None, status=400,
                                error_code="invalid_grant", message="authentication failure"))

    result = notify_overdue(client, WorkerOptions(now=NOW, worker_id="faults", lease_settle_seconds=0, batch_size=2))

    order = ids[1:] + ids[:1]
    assert (result.exit_code, result.outcome, result.notified_ids) == (1, "aborted", order[: 2 * (pos - 1)])
    assert result.error.startswith("login to https://127.0.0.1:")
    assert result.error.endswith(" as admin@local.sfsync refused (invalid_grant: authentication failure)")
    assert served.counters()["POST /services/oauth2/token"] == 2  # the first login and one refused retry
    served.faults.clear()
    assert sorted(work(served, batch_size=2).notified_ids) == sorted(order[2 * (pos - 1):])
    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
