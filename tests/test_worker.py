"""sfsync.worker.notify_overdue against `responses` mocks built from real Salesforce payloads.

Every request is answered by ``FakeOrg`` (reference bodies with our records); each test pins the
exact requests sent, in order, and the exact result.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pydantic
import pytest
import responses
from pydantic import SecretStr

from sfsync.client import OrgClient, RetryPolicy
from sfsync.config import OrgCredentials
from sfsync.domain import escalation_cutoff, overdue_cutoff
from sfsync.errors import ApiLimitExceeded
from sfsync.worker import (
    LEASE_SOQL,
    ApiAllowanceTooLow,
    ItemFailure,
    LeaseBusy,
    NotificationTypeMissing,
    ReservationObjectMissing,
    NotifiedRecipient,
    WorkerOptions,
    notify_overdue,
    overdue_soql,
    probe_soql,
)

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
WALL = datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc)  # the lease's wall clock
STAMP = "2026-12-03T00:00:00.000Z"
LEASE_UNTIL = "2026-12-03T01:30:00.000Z"
INSTANCE = "https://dealer-test.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
DATA = f"{INSTANCE}/services/data/v66.0"
QUERY_URL = f"{DATA}/query/"
COLLECTION_URL = f"{DATA}/composite/sobjects"
ACTION_URL = f"{DATA}/actions/standard/customNotificationAction"
TYPE_ID = "0MLR0000000008eOAA"  # the id printed in the Actions guide example
TYPE_SOQL = "SELECT Id FROM CustomNotificationType WHERE DeveloperName = 'Test_Drive_Overdue'"
FIELDS = (
    "SELECT Id, Name, Status__c, Scheduled_Start__c, Overdue_Notified_At__c, Escalated_At__c, Notice_Claimed_By__c, "
    "Opportunity__r.Name, Opportunity__r.OwnerId, Opportunity__r.Owner.Name, Opportunity__r.Owner.IsActive, "
    "Opportunity__r.Owner.LanguageLocaleKey, Vehicle__c, Vehicle__r.Store__c, Vehicle__r.Store__r.Manager__c, "
    "Vehicle__r.Store__r.Manager__r.Name, Vehicle__r.Store__r.Manager__r.IsActive, "
    "Vehicle__r.Store__r.Manager__r.LanguageLocaleKey FROM Test_Drive_Reservation__c "
)
FILTER = (
    "WHERE Status__c NOT IN ('Completed', 'Cancelled') AND Scheduled_Start__c < 2026-11-23T15:00:00Z "
    "AND (Overdue_Notified_At__c = null OR (Overdue_Notified_At__c < 2026-11-26T15:00:00Z AND Escalated_At__c = null))"
)
OVERDUE_SOQL = FIELDS + FILTER + " ORDER BY Id"
PROBE_SOQL = f"SELECT Id FROM Test_Drive_Reservation__c {FILTER} AND Notice_Claim__c = null ORDER BY Id LIMIT 1"
HOLDER_PREFIX = "host-a/"

R1, R2, R3 = "a01000000000001AAA", "a01000000000002AAB", "a01000000000003AAC"
U1, U2, M1 = "005000000000001AAA", "005000000000002AAB", "005000000000009AAJ"
V1, S1 = "a02000000000001AAA", "a03000000000001AAA"


def staff(user_id: str, name: str, *, active: bool = True, lang: str = "ja") -> dict:
    return {"attributes": {"type": "User", "url": f"/services/data/v66.0/sobjects/User/{user_id}"},
            "Name": name, "IsActive": active, "LanguageLocaleKey": lang}


def reservation(rid: str, name: str, start: str, opp_name: str, owner_id: str | None, owner: dict | None, *,
                status: str = "Scheduled", notified_at: str | None = None, manager: dict | None = None,
                manager_id: str | None = M1, vehicle: bool = True, holder: str | None = None) -> dict:
    """One record as the REST query resource returns it (attributes + nested relationships)."""
    store = {"attributes": {"type": "Dealer_Store__c", "url": f"/services/data/v66.0/sobjects/Dealer_Store__c/{S1}"},
             "Manager__c": manager_id,
             "Manager__r": (manager or staff(M1, "店長 一郎")) if manager_id else None}
    return {
        "attributes": {"type": "Test_Drive_Reservation__c",
                       "url": f"/services/data/v66.0/sobjects/Test_Drive_Reservation__c/{rid}"},
        "Id": rid, "Name": name, "Status__c": status, "Scheduled_Start__c": start,
        "Overdue_Notified_At__c": notified_at, "Escalated_At__c": None, "Notice_Claimed_By__c": holder,
        "Opportunity__r": {
            "attributes": {"type": "Opportunity", "url": "/services/data/v66.0/sobjects/Opportunity/006000000000001AAA"},
            "Name": opp_name, "OwnerId": owner_id, "Owner": owner,
        },
        "Vehicle__c": V1 if vehicle else None,
        "Vehicle__r": {"attributes": {"type": "Test_Drive_Vehicle__c",
                                      "url": f"/services/data/v66.0/sobjects/Test_Drive_Vehicle__c/{V1}"},
                       "Store__c": S1, "Store__r": store} if vehicle else None,
    }


def three_reservations() -> list[dict]:
    return [
        reservation(R1, "山田様プリウス試乗", "2026-11-20T01:00:00.000+0000", "山田様 新車商談", U1, staff(U1, "佐藤 花子")),
        reservation(R2, "O'Brien様リーフ試乗", "2026-11-23T14:59:00.000+0000", "O'Brien様 商談", U2,
                    staff(U2, "Ai Mori", lang="en_US")),
        reservation(R3, "田中様アクア試乗", "2026-11-01T00:00:00.000+0000", "田中様 商談", U1, staff(U1, "佐藤 花子")),
    ]


class FakeOrg:
    """Answers every request of a run; ``pages`` are the overdue query's pages (lists of records)."""

    def __init__(self, rsps, reference_payload, pages: list[list[dict]]):
        self.ref = reference_payload
        self.pages = pages
        self.holder: str | None = None  # who the org says holds the lease (set from the lease write)
        self.lease_rows: list[dict] = []
        self.action_outcome = lambda inp: self.ref("custom-notification-action-response.json")[0]
        self.save_outcome = lambda rec: dict(self.ref("sobjects-collection-partial-failure.json")[0], id=rec["Id"])
        self.query_error: dict[str, tuple[int, object]] = {}
        rsps.add_callback(responses.GET, QUERY_URL, callback=self.query)
        for i in range(1, 10):
            rsps.add_callback(responses.GET, f"{DATA}/query/01gRO0000016PIAYA2-{i}", callback=self.query_more)
        rsps.add_callback(responses.POST, ACTION_URL, callback=self.action)
        rsps.add_callback(responses.PATCH, COLLECTION_URL, callback=self.patch)
        self.rsps = rsps

    def _page(self, index: int) -> dict:
        records = self.pages[index] if self.pages else []
        if index + 1 < len(self.pages):
            body = self.ref("query-page1-contact-v66.json")
            body["nextRecordsUrl"] = f"/services/data/v66.0/query/01gRO0000016PIAYA2-{index + 1}"
        else:
            body = self.ref("query-last-page.json")
        body["totalSize"] = sum(len(p) for p in self.pages)
        body["records"] = [dict(r, Notice_Claimed_By__c=self.holder) if r["Id"] == R1 and self.holder else r
                           for r in records]
        return body

    def query(self, request):
        q = parse_qs(urlsplit(request.url).query)["q"][0]
        if q in self.query_error:
            status, body = self.query_error.pop(q)
            return status, {}, json.dumps(body)
        if q == TYPE_SOQL:
            body = self.ref("query-last-page.json")
            body["totalSize"] = 1
            body["records"] = [{"attributes": {"type": "CustomNotificationType",
                                               "url": f"/services/data/v66.0/sobjects/CustomNotificationType/{TYPE_ID}"},
                                "Id": TYPE_ID}]
        elif q == PROBE_SOQL:
            first = [{"attributes": p["attributes"], "Id": p["Id"]} for p in (self.pages[0][:1] if self.pages else [])]
            body = dict(self.ref("query-last-page.json"), totalSize=len(first), records=first)
        elif q == LEASE_SOQL:
            body = dict(self.ref("query-last-page.json"), totalSize=len(self.lease_rows), records=self.lease_rows)
        elif q.startswith(FIELDS):
            body = self._page(0) if q == OVERDUE_SOQL else self.keyset_page(q)
        else:
            raise AssertionError(f"unexpected query {q}")
        return 200, {"Sforce-Limit-Info": "api-usage=120/15000"}, json.dumps(body)

    def keyset_page(self, q: str) -> dict:
        raise AssertionError(f"unexpected keyset query {q}")

    def query_more(self, request):
        index = int(request.url.rsplit("-", 1)[1])
        return 200, {}, json.dumps(self._page(index))

    def action(self, request):
        return 200, {}, json.dumps([self.action_outcome(i) for i in json.loads(request.body)["inputs"]])

    def patch(self, request):
        records = json.loads(request.body)["records"]
        out = []
        for rec in records:
            if rec.get("Notice_Claim__c") == "OVERDUE_WORKER_LEASE" and "Overdue_Notified_At__c" not in rec:
                self.holder = rec["Notice_Claimed_By__c"]
                out.append(dict(self.ref("sobjects-collection-partial-failure.json")[0], id=rec["Id"]))
            else:
                out.append(self.save_outcome(rec))
        return 200, {}, json.dumps(out)

    def calls(self) -> list[tuple[str, str]]:
        """(method, what) of each request after the login."""
        out = []
        for c in self.rsps.calls[1:]:
            url = c.request.url
            if url.startswith(QUERY_URL) and "?q=" in url:
                q = parse_qs(urlsplit(url).query)["q"][0]
                what = {TYPE_SOQL: "type", PROBE_SOQL: "probe", LEASE_SOQL: "lease?", OVERDUE_SOQL: "query"}.get(q, q)
            elif url.startswith(f"{DATA}/query/"):
                what = "query-more"
            elif url == ACTION_URL:
                what = "notify"
            else:
                recs = json.loads(c.request.body)["records"]
                lease_only = all("Overdue_Notified_At__c" not in r and "Escalated_At__c" not in r for r in recs)
                what = "lease" if lease_only else "stamp"
            out.append((c.request.method, what))
        return out

    def bodies(self, url: str) -> list:
        return [json.loads(c.request.body) for c in self.rsps.calls if c.request.url == url]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "instance_url": INSTANCE,
                                              "token_type": "Bearer", "issued_at": "1764753600000"})
    creds = OrgCredentials(name="dealer", instance_url=INSTANCE, username="worker@dealer.example",
                           password=SecretStr("pw"))
    return OrgClient.connect(creds, retry=RetryPolicy(max_wait=0, multiplier=0))


@pytest.fixture
def org(rsps, reference_payload):
    return lambda pages: FakeOrg(rsps, reference_payload, pages)


def options(**kw) -> WorkerOptions:
    return WorkerOptions(now=NOW, worker_id="host-a", lease_settle_seconds=0, **kw)


def run(client, opts=None, **kw):
    return notify_overdue(client, opts or options(), clock=lambda: WALL, sleep=lambda s: None, **kw)


def lease_record(rid: str, holder: str) -> dict:
    return {"attributes": {"type": "Test_Drive_Reservation__c"}, "Id": rid, "Notice_Claim__c": "OVERDUE_WORKER_LEASE",
            "Notice_Claimed_By__c": holder, "Notice_Claimed_Until__c": LEASE_UNTIL}


def release_fields() -> dict:
    return {"Notice_Claim__c": None, "Notice_Claimed_By__c": None, "Notice_Claimed_Until__c": None}


def stamp(rid: str, field: str = "Overdue_Notified_At__c") -> dict:
    return {"attributes": {"type": "Test_Drive_Reservation__c"}, "Id": rid, field: STAMP}


JA_BODY = ("商談「{opp}」の試乗予約「{name}」(試乗開始予定 {when})から10日以上経過しましたが、"
           "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。")


def test_soql_texts_are_exact():
    cutoff, esc = overdue_cutoff(NOW, 10, "Asia/Tokyo"), escalation_cutoff(NOW, 7, "Asia/Tokyo")
    assert overdue_soql(cutoff, esc) == OVERDUE_SOQL
    assert probe_soql(cutoff, esc) == PROBE_SOQL
    assert overdue_soql(cutoff, esc, "a01000000000002AAB") == (
        FIELDS + FILTER + " AND Id > 'a01000000000002AAB' ORDER BY Id")


def test_notifies_owners_in_their_language_stamps_and_releases_the_lease_in_one_call(client, org):
    fake = org([three_reservations()])

    result = run(client)

    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "query"),
                            ("POST", "notify"), ("PATCH", "stamp")]
    holder = fake.holder
    assert holder.startswith(HOLDER_PREFIX) and len(holder) == len(HOLDER_PREFIX) + 12
    assert fake.bodies(COLLECTION_URL)[0] == {"allOrNone": False, "records": [lease_record(R1, holder)]}
    assert fake.bodies(ACTION_URL) == [{"inputs": [
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U2], "title": "Unprocessed test drive: O'Brien様リーフ試乗",
         "body": "The test drive \"O'Brien様リーフ試乗\" for opportunity \"O'Brien様 商談\" (scheduled 2026-11-23 23:59 JST) "
                 "is 10 or more days past and has not been completed, changed or cancelled. Please review the "
                 "reservation and process it.",
         "targetId": R2},
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U1], "title": "未処理の試乗予約: 田中様アクア試乗",
         "body": JA_BODY.format(opp="田中様 商談", name="田中様アクア試乗", when="2026/11/01 09:00 JST"),
         "targetId": R3},
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U1], "title": "未処理の試乗予約: 山田様プリウス試乗",
         "body": JA_BODY.format(opp="山田様 新車商談", name="山田様プリウス試乗", when="2026/11/20 10:00 JST"),
         "targetId": R1},
    ]}]
    # The lease carrier R1 goes last: its stamp record also releases the lease, in the same call.
    assert fake.bodies(COLLECTION_URL)[1] == {"allOrNone": False, "records": [
        stamp(R2), stamp(R3), {**stamp(R1), **release_fields()}]}
    assert result.model_dump() == {
        "checked": 3, "overdue": 3, "escalations_due": 0, "notified": 3, "escalated": 0, "failed": 0, "api_calls": 7,
        "notified_ids": [R2, R3, R1], "escalated_ids": [], "failures": [],
        "recipients": [
            {"user_id": U2, "user_name": "Ai Mori", "reservation_ids": [R2], "escalated_ids": []},
            {"user_id": U1, "user_name": "佐藤 花子", "reservation_ids": [R3, R1], "escalated_ids": []},
        ],
        "outcome": "done", "error": None, "duration_seconds": result.duration_seconds,
    }
    assert result.exit_code == 0
    # Budget: REST calls (login excluded) <= ceil(S/2000) + 2*ceil(N/200) + 3 = 1 + 2 + 3.
    assert result.api_calls - 1 == 6


def test_a_failed_stamp_is_a_failure_and_the_others_are_stamped(client, org, reference_payload):
    fake = org([three_reservations()])
    failed = reference_payload("sobjects-collection-partial-failure.json")[1]
    ok = fake.save_outcome
    fake.save_outcome = lambda rec: failed if rec["Id"] == R2 else ok(rec)

    result = run(client)

    assert result.notified_ids == [R3, R1]
    assert result.failures == [ItemFailure(
        id=R2, error_code="MALFORMED_ID", message="Contact ID: id value of incorrect type: 001xx000003DGb2999")]
    assert (result.checked, result.overdue, result.notified, result.failed, result.exit_code) == (3, 3, 2, 1, 2)
    # The notice did go out, so its recipient is reported as notified.
    assert result.recipients[0] == NotifiedRecipient(user_id=U2, user_name="Ai Mori", reservation_ids=[R2])


def test_a_failed_notification_is_not_stamped(client, org, reference_payload):
    fake = org([three_reservations()])
    fake.action_outcome = lambda inp: reference_payload(
        "custom-notification-action-error-response.json" if inp["targetId"] == R2
        else "custom-notification-action-response.json")[0]

    result = run(client)

    assert fake.bodies(COLLECTION_URL)[1]["records"] == [stamp(R3), {**stamp(R1), **release_fields()}]
    assert result.failures == [ItemFailure(
        id=R2, error_code="INVALID_ARGUMENT_TYPE", message="Invalid parameter value for: targetId")]
    assert result.recipients == [NotifiedRecipient(user_id=U1, user_name="佐藤 花子", reservation_ids=[R3, R1])]
    assert (result.notified, result.failed, result.exit_code) == (2, 1, 2)


def test_inactive_owner_goes_to_the_store_manager_and_unreachable_ones_are_reported(client, org):
    records = [
        reservation(R1, "山田様試乗", "2026-11-20T01:00:00.000+0000", "山田様 商談", U1,
                    staff(U1, "佐藤 花子", active=False), manager=staff(M1, "Ken Store", lang="en_US")),
        reservation(R2, "森様試乗", "2026-11-20T01:00:00.000+0000", "森様 商談", U2,
                    staff(U2, "森 愛", active=False), vehicle=False),
        reservation(R3, "田中様試乗", "2026-11-20T01:00:00.000+0000", "田中様 商談", U2,
                    staff(U2, "森 愛", active=False), manager_id=None),
    ]
    fake = org([records])

    result = run(client)

    assert fake.bodies(ACTION_URL)[0]["inputs"] == [{
        "customNotifTypeId": TYPE_ID, "recipientIds": [M1], "title": "Unprocessed test drive: 山田様試乗",
        "body": "The salesperson in charge (佐藤 花子) is an inactive user, so you are notified as store manager. "
                "The test drive \"山田様試乗\" for opportunity \"山田様 商談\" (scheduled 2026-11-20 10:00 JST) is 10 or "
                "more days past and has not been completed, changed or cancelled. Please review the reservation and "
                "process it.",
        "targetId": R1}]
    assert result.failures == [
        ItemFailure(id=R2, error_code="NO_VEHICLE", message="the Opportunity's owner is inactive, and the reservation "
                    "has no demo car, so no store manager can be found"),
        ItemFailure(id=R3, error_code="NO_MANAGER", message="the Opportunity's owner is inactive, and the store has no "
                    "manager (Dealer_Store__c.Manager__c is empty)"),
    ]
    assert (result.notified_ids, result.failed, result.exit_code) == ([R1], 2, 2)


def test_escalation_goes_to_the_manager_once_with_its_own_stamp(client, org):
    records = [
        reservation(R1, "山田様試乗", "2026-11-10T01:00:00.000+0000", "山田様 商談", U1, staff(U1, "佐藤 花子"),
                    notified_at="2026-11-26T14:59:59.000+0000"),  # 11/26 23:59 JST: 7 calendar days before 12/03
        reservation(R2, "森様試乗", "2026-11-10T01:00:00.000+0000", "森様 商談", U1, staff(U1, "佐藤 花子"),
                    notified_at="2026-11-26T15:00:00.000+0000"),  # 11/27 00:00 JST: only 6 days; not due
    ]
    fake = org([records])

    result = run(client)

    assert fake.bodies(ACTION_URL)[0]["inputs"] == [{
        "customNotifTypeId": TYPE_ID, "recipientIds": [M1], "title": "【エスカレーション】未処理の試乗予約: 山田様試乗",
        "body": "商談「山田様 商談」の試乗予約「山田様試乗」(試乗開始予定 2026/11/10 10:00 JST、担当 佐藤 花子)は、"
                "2026/11/26 23:59 JSTに担当者へ通知してから7日以上経過しましたが、まだ処理されていません。担当者に確認してください。",
        "targetId": R1}]
    assert fake.bodies(COLLECTION_URL)[1]["records"] == [{**stamp(R1, "Escalated_At__c"), **release_fields()}]
    assert (result.checked, result.overdue, result.escalations_due, result.escalated, result.escalated_ids,
            result.notified) == (2, 0, 1, 1, [R1], 0)
    assert result.recipients == [NotifiedRecipient(user_id=M1, user_name="店長 一郎", reservation_ids=[],
                                                   escalated_ids=[R1])]


def test_digest_sends_one_notice_per_recipient_pointing_at_the_list_view(client, org):
    fake = org([three_reservations()])

    result = run(client, options(digest=True))

    page_ref = ('{"type":"standard__objectPage","attributes":{"objectApiName":"Test_Drive_Reservation__c",'
                '"actionName":"list"},"state":{"filterName":"Overdue_Unprocessed"}}')
    assert fake.bodies(ACTION_URL) == [{"inputs": [
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U2], "title": "1 unprocessed test drive(s)",
         "body": "1 test drive reservation(s) are 10 or more days past their scheduled start with no completion, change "
                 "or cancellation recorded. Open this notice to see the list and process them.",
         "targetId": R2, "targetPageRef": page_ref},
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U1], "title": "未処理の試乗予約が2件あります",
         "body": "試乗開始予定から10日以上経過し、完了・変更・キャンセルのいずれも登録されていない試乗予約が2件あります。"
                 "この通知から一覧を開き、処理してください。",
         "targetId": R1, "targetPageRef": page_ref},
    ]}]
    # The group holding the lease's record (R1) goes last; its stamp releases the lease.
    assert fake.bodies(COLLECTION_URL)[1]["records"] == [stamp(R2), stamp(R3), {**stamp(R1), **release_fields()}]
    assert (result.notified, sorted(result.notified_ids), result.api_calls) == (3, [R1, R2, R3], 7)


def test_dry_run_reads_and_counts_but_sends_nothing_and_takes_no_lease(client, org):
    fake = org([three_reservations()])

    result = run(client, options(dry_run=True))

    assert fake.calls() == [("GET", "query")]
    assert (result.checked, result.overdue, result.notified, result.api_calls, result.outcome) == (3, 3, 0, 2, "done")


def test_nothing_due_costs_one_query_after_login(client, org):
    fake = org([])

    result = run(client)

    assert fake.calls() == [("GET", "probe")]
    assert (result.checked, result.api_calls, result.exit_code) == (0, 2, 0)


def test_missing_notification_type_is_a_clear_error_before_the_lease(client, org, rsps):
    fake = org([three_reservations()])
    fake.query_error[TYPE_SOQL] = (200, {"totalSize": 0, "done": True, "records": []})
    with pytest.raises(NotificationTypeMissing) as info:
        run(client)
    assert str(info.value) == (
        "custom notification type 'Test_Drive_Overdue' is not deployed in the org; deploy metadata/ first")
    assert fake.calls() == [("GET", "probe"), ("GET", "type")]


def test_a_live_lease_of_another_worker_means_busy_and_nothing_sent(client, org, reference_payload):
    fake = org([three_reservations()])
    duplicate = {"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE", "message":
                 f"duplicate value found: Notice_Claim__c duplicates value on record with id: {R3}", "fields": []}]}
    fake.rsps.replace(responses.PATCH, COLLECTION_URL, json=[duplicate])
    fake.lease_rows = [lease_record(R3, "host-b/0123456789ab")]

    with pytest.raises(LeaseBusy) as info:
        run(client)

    assert str(info.value) == ("another worker (host-b/0123456789ab) holds the worker lease until "
                               "2026-12-03T01:30:00.000Z; nothing was sent")
    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "lease?")]


def test_a_lease_left_by_the_same_worker_id_is_taken_over_in_place(client, org, rsps):
    fake = org([three_reservations()])
    duplicate = {"success": False, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found",
                                               "fields": []}]}
    answers = iter([[duplicate]])
    original = fake.patch

    def patch(request):
        try:
            return 200, {}, json.dumps(next(answers))
        except StopIteration:
            status, headers, body = original(request)
            fake.lease_rows = [lease_record(R3, fake.holder)]
            return status, headers, body

    rsps.remove(responses.PATCH, COLLECTION_URL)  # drop the FakeOrg callback
    rsps.add_callback(responses.PATCH, COLLECTION_URL, callback=patch)
    fake.lease_rows = [lease_record(R3, "host-a/killedrun0001")]

    result = run(client)

    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "lease?"),
                            ("PATCH", "lease"), ("GET", "lease?"), ("GET", "query"), ("POST", "notify"),
                            ("PATCH", "stamp")]
    patches = fake.bodies(COLLECTION_URL)
    assert patches[1]["records"] == [lease_record(R3, fake.holder)]
    # R3 carries the lease and is in the batch: stamped and released in one record.
    assert patches[2]["records"] == [stamp(R1), stamp(R2), {**stamp(R3), **release_fields()}]
    assert (result.notified, result.exit_code) == (3, 0)


def test_losing_the_lease_before_the_first_page_sends_nothing(client, org):
    fake = org([three_reservations()])
    original = fake._page

    def page(index):
        body = original(index)
        body["records"][0]["Notice_Claimed_By__c"] = "host-b/0123456789ab"  # the later writer won
        return body

    fake._page = page
    with pytest.raises(LeaseBusy) as info:
        run(client)
    assert str(info.value) == "another worker (host-b/0123456789ab) took the worker lease; nothing was sent"
    assert ("POST", "notify") not in fake.calls()
    assert fake.calls()[-1] == ("GET", "query")  # and never cleared what is not ours


def test_unable_to_lock_row_is_retried_for_the_failed_items_only(client, org):
    fake = org([three_reservations()])
    locked = {"success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message":
              "unable to obtain exclusive access to this record", "fields": []}]}
    ok = fake.save_outcome
    tries = {R2: 0}

    def outcome(rec):
        if rec["Id"] == R2 and tries[R2] == 0:
            tries[R2] += 1
            return locked
        return ok(rec)

    fake.save_outcome = outcome

    result = run(client)

    assert [b["records"] for b in fake.bodies(COLLECTION_URL)[1:]] == [
        [stamp(R2), stamp(R3), {**stamp(R1), **release_fields()}], [stamp(R2)]]
    assert (result.notified_ids, result.failed, result.exit_code) == ([R2, R3, R1], 0, 0)


def test_request_limit_on_the_notification_stops_at_once_and_stamps_nothing(client, org, rsps, reference_payload):
    fake = org([three_reservations()])
    rsps.replace(responses.POST, ACTION_URL, status=403, json=reference_payload("error-request-limit-exceeded.json"))

    result = run(client)

    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "query"),
                            ("POST", "notify")]
    assert (result.outcome, result.exit_code, result.notified, result.error) == (
        "api_limit", 3, 0, "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")


def test_refuses_to_start_below_the_api_reserve(client, org):
    fake = org([three_reservations()])
    with pytest.raises(ApiAllowanceTooLow) as info:
        run(client, options(min_api_remaining=14881))
    assert str(info.value) == ("API_ALLOWANCE_RESERVE: refusing to start: 14880 daily API request(s) left, below the "
                               "reserve of 14881 (--min-api-remaining)")
    assert isinstance(info.value, ApiLimitExceeded) and info.value.exit_code == 3
    assert fake.calls() == [("GET", "probe")]


def test_expired_query_locator_restarts_after_the_last_id_without_renotifying(client, org, rsps, reference_payload):
    records = three_reservations()
    fake = org([records[:2], records[2:]])
    rsps.replace(responses.GET, f"{DATA}/query/01gRO0000016PIAYA2-1", status=400,
                 json=[{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
    keyset = FIELDS + FILTER + f" AND Id > '{R2}' ORDER BY Id"
    fake.keyset_page = lambda q: (dict(reference_payload("query-last-page.json"), totalSize=1, records=records[2:])
                                  if q == keyset else pytest.fail(q))

    result = run(client, options(batch_size=1))

    # R1 carries the lease and is held for the last batch; R2 went out before the locator expired.
    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "query"),
                            ("POST", "notify"), ("PATCH", "stamp"), ("GET", "query-more"), ("GET", keyset),
                            ("POST", "notify"), ("PATCH", "stamp"), ("POST", "notify"), ("PATCH", "stamp")]
    assert [[i["targetId"] for i in b["inputs"]] for b in fake.bodies(ACTION_URL)] == [[R2], [R3], [R1]]
    assert fake.bodies(COLLECTION_URL)[3]["records"] == [{**stamp(R1), **release_fields()}]
    assert (result.notified_ids, result.outcome, result.exit_code) == ([R2, R3, R1], "done", 0)


def test_done_false_without_next_records_url_aborts_after_that_page(client, org, rsps, reference_payload):
    fake = org([three_reservations()])
    original = fake._page

    def page(index):
        body = original(index)
        body["done"] = False
        return body

    fake._page = page

    result = run(client)

    # The page's notices were waiting for a full batch: nothing sent, the lease released.
    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "query"),
                            ("PATCH", "lease")]
    assert (result.notified, result.outcome, result.exit_code) == (0, "aborted", 1)
    assert result.error == "query result says done=false but has no nextRecordsUrl"


def test_stop_request_finishes_the_current_batch_then_releases_the_lease(client, org):
    fake = org([three_reservations()])
    polls = iter([False, True])

    result = run(client, options(batch_size=2), should_stop=lambda: next(polls))

    assert fake.calls() == [("GET", "probe"), ("GET", "type"), ("PATCH", "lease"), ("GET", "query"),
                            ("POST", "notify"), ("PATCH", "stamp"), ("PATCH", "lease")]
    assert fake.bodies(COLLECTION_URL)[2]["records"] == [
        {"attributes": {"type": "Test_Drive_Reservation__c"}, "Id": R1, **release_fields()}]
    assert (result.notified_ids, result.outcome, result.exit_code) == ([R2, R3], "stopped", 0)


def test_long_names_are_cut_to_the_notification_limits(client, org):
    fake = org([[reservation(R1, "長" * 300, "2026-11-20T01:00:00.000+0000", "商" * 800, U1, staff(U1, "佐藤"))]])

    run(client)

    sent = fake.bodies(ACTION_URL)[0]["inputs"][0]
    assert (len(sent["title"]), len(sent["body"])) == (250, 750)
    assert sent["title"].endswith("長…") and sent["body"].endswith("商…")


def test_options_require_an_aware_now_and_sane_numbers():
    with pytest.raises(pydantic.ValidationError):
        WorkerOptions(now=datetime(2026, 12, 3, 9, 0))
    with pytest.raises(pydantic.ValidationError):
        WorkerOptions(now=NOW, days=0)
    with pytest.raises(pydantic.ValidationError):
        WorkerOptions(now=NOW, batch_size=201)


def test_an_org_without_the_reservation_object_is_told_to_deploy_first(client, org):
    fake = org([])
    # Salesforce's INVALID_TYPE answer for an unknown sObject (shape as error-malformed-query-with-position.json)
    fake.query_error[PROBE_SOQL] = (400, [{
        "message": "\nSELECT Id FROM Test_Drive_Reservation__c WHERE Status__c\n               ^\n"
                   "ERROR at Row:1:Column:16\nsObject type 'Test_Drive_Reservation__c' is not supported. If you are "
                   "attempting to use a custom object, be sure to append the '__c' after the entity name. Please "
                   "reference your WSDL or the describe call for the appropriate names.",
        "errorCode": "INVALID_TYPE"}])
    with pytest.raises(ReservationObjectMissing) as info:
        run(client)
    assert str(info.value) == ("the org has no Test_Drive_Reservation__c; deploy metadata/ first "
                               "(sfsync deploy --target-org dealer)")
    assert info.value.exit_code == 1
    assert fake.calls() == [("GET", "probe")]


def test_dry_run_against_an_org_without_the_reservation_object(client, org):
    fake = org([])
    fake.query_error[OVERDUE_SOQL] = (400, [{
        "message": "sObject type 'Test_Drive_Reservation__c' is not supported.", "errorCode": "INVALID_TYPE"}])
    with pytest.raises(ReservationObjectMissing) as info:
        run(client, options(dry_run=True))
    assert str(info.value) == ("the org has no Test_Drive_Reservation__c; deploy metadata/ first "
                               "(sfsync deploy --target-org dealer)")


def test_metrics_file_that_cannot_be_written_is_a_clear_error_naming_it(tmp_path):
    # (sfsync.metrics.write_metrics_file: the worker's --metrics-file)
    from sfsync.errors import UsageError
    from sfsync.metrics import write_metrics_file

    with pytest.raises(UsageError) as info:
        write_metrics_file("/proc/sfsync.prom", "a 1\n")
    assert str(info.value) == "cannot write metrics file /proc/sfsync.prom: No such file or directory"
    with pytest.raises(UsageError) as info:
        write_metrics_file(tmp_path, "a 1\n")
    assert str(info.value) == f"cannot write metrics file {tmp_path}: it is a directory"
