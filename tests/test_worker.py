"""sfsync.worker.notify_overdue against `responses` mocks built from real Salesforce payloads."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pydantic
import pytest
import responses
from pydantic import SecretStr
from responses import matchers

from sfsync.client import OrgClient, RetryPolicy
from sfsync.config import OrgCredentials
from sfsync.worker import (
    ItemFailure,
    NotificationTypeMissing,
    NotifiedRecipient,
    WorkerOptions,
    notify_overdue,
    overdue_soql,
)

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
STAMP = "2026-12-03T00:00:00.000Z"
INSTANCE = "https://dealer-test.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
DATA = f"{INSTANCE}/services/data/v66.0"
QUERY_URL = f"{DATA}/query/"
COLLECTION_URL = f"{DATA}/composite/sobjects"
ACTION_URL = f"{DATA}/actions/standard/customNotificationAction"
TYPE_ID = "0MLR0000000008eOAA"  # the id printed in the Actions guide example
TYPE_SOQL = "SELECT Id FROM CustomNotificationType WHERE DeveloperName = 'Test_Drive_Overdue'"
OVERDUE_SOQL = (
    "SELECT Id, Name, Status__c, Scheduled_Start__c, Opportunity__c, Opportunity__r.Name, "
    "Opportunity__r.OwnerId, Opportunity__r.Owner.Name FROM Test_Drive_Reservation__c "
    "WHERE Status__c NOT IN ('Completed', 'Cancelled') AND Scheduled_Start__c < 2026-11-23T15:00:00Z "
    "AND Overdue_Notified_At__c = null ORDER BY Id"
)

R1, R2, R3 = "a01000000000001AAA", "a01000000000002AAB", "a01000000000003AAC"
U1, U2 = "005000000000001AAA", "005000000000002AAB"


def reservation(rid: str, name: str, start: str, opp_id: str, opp_name: str, owner_id: str | None,
                owner_name: str | None, status: str = "Scheduled") -> dict:
    """One record as the REST query resource returns it (attributes + nested relationships)."""
    opportunity = None
    if opp_id:
        opportunity = {
            "attributes": {"type": "Opportunity", "url": f"/services/data/v66.0/sobjects/Opportunity/{opp_id}"},
            "Name": opp_name,
            "OwnerId": owner_id,
            "Owner": None if owner_id is None else {
                "attributes": {"type": "User", "url": f"/services/data/v66.0/sobjects/User/{owner_id}"},
                "Name": owner_name,
            },
        }
    return {
        "attributes": {"type": "Test_Drive_Reservation__c",
                       "url": f"/services/data/v66.0/sobjects/Test_Drive_Reservation__c/{rid}"},
        "Id": rid,
        "Name": name,
        "Status__c": status,
        "Scheduled_Start__c": start,
        "Opportunity__c": opp_id,
        "Opportunity__r": opportunity,
    }


def three_reservations() -> list[dict]:
    return [
        reservation(R1, "山田様プリウス試乗", "2026-11-20T01:00:00.000+0000", "006000000000001AAA", "山田様 新車商談",
                    U1, "佐藤 花子"),
        reservation(R2, "O'Brien様リーフ試乗", "2026-11-23T14:59:00.000+0000", "006000000000002AAB", "O'Brien様 商談",
                    U2, "鈴木 一郎"),
        reservation(R3, "田中様アクア試乗", "2026-11-01T00:00:00.000+0000", "006000000000003AAC", "田中様 商談",
                    U1, "佐藤 花子"),
    ]


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
def page(reference_payload):
    """A one-page query result: the reference last page with our records in it."""

    def build(records: list[dict]) -> dict:
        body = reference_payload("query-last-page.json")
        body["totalSize"] = len(records)
        body["records"] = records
        return body

    return build


@pytest.fixture
def type_lookup(rsps, page):
    record = {"attributes": {"type": "CustomNotificationType",
                             "url": f"/services/data/v66.0/sobjects/CustomNotificationType/{TYPE_ID}"}, "Id": TYPE_ID}
    rsps.add(responses.GET, QUERY_URL, json=page([record]), match=[matchers.query_param_matcher({"q": TYPE_SOQL})])


def add_overdue_query(rsps, body: dict) -> None:
    rsps.add(responses.GET, QUERY_URL, json=body, match=[matchers.query_param_matcher({"q": OVERDUE_SOQL})])


def action_ok(reference_payload) -> dict:
    return reference_payload("custom-notification-action-response.json")[0]


def action_failed(reference_payload) -> dict:
    return reference_payload("custom-notification-action-error-response.json")[0]


def save_ok(reference_payload, rid: str) -> dict:
    return dict(reference_payload("sobjects-collection-partial-failure.json")[0], id=rid)


def save_failed(reference_payload) -> dict:
    return reference_payload("sobjects-collection-partial-failure.json")[1]


def sent_bodies(rsps, url: str) -> list:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.url == url]


def stamp_body(*ids: str) -> dict:
    return {"allOrNone": False, "records": [
        {"attributes": {"type": "Test_Drive_Reservation__c"}, "Id": rid, "Overdue_Notified_At__c": STAMP} for rid in ids
    ]}


def test_overdue_soql_is_exact():
    from sfsync.domain import overdue_cutoff

    assert overdue_soql(overdue_cutoff(NOW, 10, "Asia/Tokyo")) == OVERDUE_SOQL


def test_notifies_owners_and_stamps_all_when_everything_succeeds(client, rsps, reference_payload, page, type_lookup):
    add_overdue_query(rsps, page(three_reservations()))
    rsps.add(responses.POST, ACTION_URL, json=[action_ok(reference_payload)] * 3)
    rsps.add(responses.PATCH, COLLECTION_URL, json=[save_ok(reference_payload, r) for r in (R1, R2, R3)])

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert sent_bodies(rsps, ACTION_URL) == [{"inputs": [
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U1], "title": "未処理の試乗予約: 山田様プリウス試乗",
         "body": "商談「山田様 新車商談」の試乗予約「山田様プリウス試乗」(試乗開始予定 2026/11/20 10:00 JST)から10日以上経過しましたが、"
                 "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。",
         "targetId": R1},
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U2], "title": "未処理の試乗予約: O'Brien様リーフ試乗",
         "body": "商談「O'Brien様 商談」の試乗予約「O'Brien様リーフ試乗」(試乗開始予定 2026/11/23 23:59 JST)から10日以上経過しましたが、"
                 "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。",
         "targetId": R2},
        {"customNotifTypeId": TYPE_ID, "recipientIds": [U1], "title": "未処理の試乗予約: 田中様アクア試乗",
         "body": "商談「田中様 商談」の試乗予約「田中様アクア試乗」(試乗開始予定 2026/11/01 09:00 JST)から10日以上経過しましたが、"
                 "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。",
         "targetId": R3},
    ]}]
    assert sent_bodies(rsps, COLLECTION_URL) == [stamp_body(R1, R2, R3)]
    assert result.model_dump() == {
        "checked": 3, "overdue": 3, "notified": 3, "failed": 0, "api_calls": 5,
        "notified_ids": [R1, R2, R3], "failures": [],
        "recipients": [
            {"user_id": U1, "user_name": "佐藤 花子", "reservation_ids": [R1, R3]},
            {"user_id": U2, "user_name": "鈴木 一郎", "reservation_ids": [R2]},
        ],
    }


def test_a_failed_stamp_is_a_failure_and_the_others_are_stamped(client, rsps, reference_payload, page, type_lookup):
    add_overdue_query(rsps, page(three_reservations()))
    rsps.add(responses.POST, ACTION_URL, json=[action_ok(reference_payload)] * 3)
    rsps.add(responses.PATCH, COLLECTION_URL,
             json=[save_ok(reference_payload, R1), save_failed(reference_payload), save_ok(reference_payload, R3)])

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert sent_bodies(rsps, COLLECTION_URL) == [stamp_body(R1, R2, R3)]
    assert result.notified_ids == [R1, R3]
    assert result.failures == [ItemFailure(
        id=R2, error_code="MALFORMED_ID", message="Contact ID: id value of incorrect type: 001xx000003DGb2999")]
    assert (result.checked, result.overdue, result.notified, result.failed) == (3, 3, 2, 1)
    # The notification did go out, so the owner is reported as notified.
    assert result.recipients[1] == NotifiedRecipient(user_id=U2, user_name="鈴木 一郎", reservation_ids=[R2])


def test_a_failed_notification_is_not_stamped(client, rsps, reference_payload, page, type_lookup):
    add_overdue_query(rsps, page(three_reservations()))
    rsps.add(responses.POST, ACTION_URL,
             json=[action_ok(reference_payload), action_failed(reference_payload), action_ok(reference_payload)])
    rsps.add(responses.PATCH, COLLECTION_URL, json=[save_ok(reference_payload, R1), save_ok(reference_payload, R3)])

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert sent_bodies(rsps, COLLECTION_URL) == [stamp_body(R1, R3)]
    assert result.notified_ids == [R1, R3]
    assert result.failures == [ItemFailure(
        id=R2, error_code="INVALID_ARGUMENT_TYPE", message="Invalid parameter value for: targetId")]
    assert result.recipients == [NotifiedRecipient(user_id=U1, user_name="佐藤 花子", reservation_ids=[R1, R3])]
    assert (result.notified, result.failed, result.api_calls) == (2, 1, 5)


def test_a_whole_batch_refused_with_http_400_stamps_nothing(client, rsps, reference_payload, page, type_lookup):
    add_overdue_query(rsps, page(three_reservations()[:1]))
    rsps.add(responses.POST, ACTION_URL, status=400, json=reference_payload("custom-notification-action-error-response.json"))

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert sent_bodies(rsps, COLLECTION_URL) == []
    assert (result.notified, result.failed, result.notified_ids, result.recipients) == (0, 1, [], [])
    assert result.failures[0].error_code == "INVALID_ARGUMENT_TYPE"


def test_dry_run_reads_and_counts_but_sends_nothing(client, rsps, page):
    add_overdue_query(rsps, page(three_reservations()))

    result = notify_overdue(client, WorkerOptions(now=NOW, dry_run=True))

    assert [c.request.method for c in rsps.calls] == ["POST", "GET"]  # login, the overdue query
    assert result.model_dump() == {
        "checked": 3, "overdue": 3, "notified": 0, "failed": 0, "api_calls": 2,
        "notified_ids": [], "failures": [], "recipients": [],
    }


def test_missing_notification_type_is_a_clear_error(client, rsps, page):
    rsps.add(responses.GET, QUERY_URL, json=page([]), match=[matchers.query_param_matcher({"q": TYPE_SOQL})])
    with pytest.raises(NotificationTypeMissing) as info:
        notify_overdue(client, WorkerOptions(now=NOW))
    assert str(info.value) == (
        "custom notification type 'Test_Drive_Overdue' is not deployed in the org; deploy metadata/ first")
    assert len(rsps.calls) == 2  # login + lookup; no reservation read, nothing sent


def test_pages_are_processed_one_at_a_time_in_batches(client, rsps, reference_payload, page, type_lookup):
    first = reference_payload("query-page1-contact-v66.json")
    first["totalSize"] = 3
    first["nextRecordsUrl"] = "/services/data/v66.0/query/01gRO0000016PIAYA2-2"
    first["records"] = three_reservations()[:2]
    add_overdue_query(rsps, first)
    rsps.add(responses.GET, f"{DATA}/query/01gRO0000016PIAYA2-2", json=page(three_reservations()[2:]))
    ok = action_ok(reference_payload)
    rsps.add_callback(responses.POST, ACTION_URL,
                      callback=lambda req: (200, {}, json.dumps([ok] * len(json.loads(req.body)["inputs"]))))
    rsps.add_callback(responses.PATCH, COLLECTION_URL, callback=lambda req: (200, {}, json.dumps(
        [save_ok(reference_payload, r["Id"]) for r in json.loads(req.body)["records"]])))

    result = notify_overdue(client, WorkerOptions(now=NOW, batch_size=1))

    assert [(c.request.method, c.request.url.split("?")[0]) for c in rsps.calls[1:]] == [
        ("GET", QUERY_URL),  # notification type
        ("GET", QUERY_URL),  # first page of overdue reservations
        ("POST", ACTION_URL), ("PATCH", COLLECTION_URL),
        ("POST", ACTION_URL), ("PATCH", COLLECTION_URL),
        ("GET", f"{DATA}/query/01gRO0000016PIAYA2-2"),
        ("POST", ACTION_URL), ("PATCH", COLLECTION_URL),
    ]
    assert [b["inputs"][0]["targetId"] for b in sent_bodies(rsps, ACTION_URL)] == [R1, R2, R3]
    assert sent_bodies(rsps, COLLECTION_URL) == [stamp_body(R1), stamp_body(R2), stamp_body(R3)]
    assert (result.checked, result.notified, result.api_calls) == (3, 3, 10)


def test_reservation_without_an_owner_is_a_failure_and_not_sent(client, rsps, reference_payload, page, type_lookup):
    orphan = reservation(R2, "オーナー不明", "2026-11-20T01:00:00.000+0000", "006000000000002AAB", "商談", None, None)
    add_overdue_query(rsps, page([three_reservations()[0], orphan]))
    rsps.add(responses.POST, ACTION_URL, json=[action_ok(reference_payload)])
    rsps.add(responses.PATCH, COLLECTION_URL, json=[save_ok(reference_payload, R1)])

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert [i["targetId"] for i in sent_bodies(rsps, ACTION_URL)[0]["inputs"]] == [R1]
    assert result.failures == [ItemFailure(id=R2, error_code="NO_RECIPIENT",
                                           message="the reservation's Opportunity has no owner")]
    assert result.notified_ids == [R1]


def test_a_row_that_is_not_overdue_is_read_but_not_sent(client, rsps, reference_payload, page, type_lookup):
    records = three_reservations()[:1]
    records.append(reservation(R2, "まだ期限前", "2026-11-23T15:00:00.000+0000", "006000000000002AAB", "商談", U2, "鈴木 一郎"))
    records.append(reservation(R3, "完了済み", "2026-11-01T00:00:00.000+0000", "006000000000003AAC", "商談", U1, "佐藤 花子",
                               status="Completed"))
    add_overdue_query(rsps, page(records))
    rsps.add(responses.POST, ACTION_URL, json=[action_ok(reference_payload)])
    rsps.add(responses.PATCH, COLLECTION_URL, json=[save_ok(reference_payload, R1)])

    result = notify_overdue(client, WorkerOptions(now=NOW))

    assert (result.checked, result.overdue, result.notified_ids) == (3, 1, [R1])


def test_long_names_are_cut_to_the_notification_limits(client, rsps, reference_payload, page, type_lookup):
    long_name = "長" * 300
    add_overdue_query(rsps, page([reservation(R1, long_name, "2026-11-20T01:00:00.000+0000", "006000000000001AAA",
                                              "商" * 800, U1, "佐藤 花子")]))
    rsps.add(responses.POST, ACTION_URL, json=[action_ok(reference_payload)])
    rsps.add(responses.PATCH, COLLECTION_URL, json=[save_ok(reference_payload, R1)])

    notify_overdue(client, WorkerOptions(now=NOW))

    sent = sent_bodies(rsps, ACTION_URL)[0]["inputs"][0]
    assert (len(sent["title"]), len(sent["body"])) == (250, 750)
    assert sent["title"].endswith("長…") and sent["body"].endswith("商…")


def test_options_require_an_aware_now():
    with pytest.raises(pydantic.ValidationError):
        WorkerOptions(now=datetime(2026, 12, 3, 9, 0))
    with pytest.raises(pydantic.ValidationError):
        WorkerOptions(now=NOW, days=0)
