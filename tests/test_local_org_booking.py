"""The local org enforces the booking rules on its writes, as the deployed trigger and validation rules do.

Driven over HTTPS with an unmodified simple-salesforce client against a local org that has this
project's metadata deployed (Booking_Buffer.Electric = 30 minutes, Japanese translations).
The local admin user's language is ja, so the org answers in Japanese, as Salesforce would.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfsync.local_org import LocalOrgServer, local_org_info
from sfsync.local_org.deployer import Deployer, apply_plan
from sfsync.packaging import build_package

pytestmark = pytest.mark.e2e
RES = "Test_Drive_Reservation__c"
CODE = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
# The Japanese custom-label translations (translations/ja.translation-meta.xml).
JA_CONFLICT = "この試乗車は予約「{0}」({1}〜{2}、{3})で予約済みです。"
JA_CONFLICT_BUFFER = "この試乗車は予約「{0}」({1}〜{2}、{3})で予約済みです。試乗の後は次の予約まで{4}分空ける必要があります。"
EN_CONFLICT = 'This demo car is already booked by reservation "{0}" from {1} to {2} ({3}).'




class Org:
    def __init__(self, srv: LocalOrgServer, state: Path):
        self.srv = srv
        info = local_org_info(state)
        self._ca = str(info.ca_file)
        session = self.session()
        self.token = session.post(f"{srv.instance_url}/services/oauth2/token", data={
            "grant_type": "password", "username": info.username,
            "password": info.password.get_secret_value()}).json()["access_token"]
        self.sf = self.client()
        self._cars = 0
        self.opportunity = self.sf.Opportunity.create(
            {"Name": "Sato-sama", "StageName": "Prospecting", "CloseDate": "2027-03-31"})["id"]
        self.store_id = self.sf.Dealer_Store__c.create({"Name": "Shibuya", "Time_Zone__c": "Asia/Tokyo"})["id"]

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.verify = self._ca
        return s

    def client(self) -> Salesforce:
        """A client of its own (one per thread: a requests.Session is not thread-safe)."""
        return Salesforce(instance_url=self.srv.instance_url, session_id=self.token, session=self.session(),
                          version="66.0")

    def car(self, powertrain: str = "Gasoline", store: str | None = None) -> str:
        self._cars += 1
        return self.sf.Test_Drive_Vehicle__c.create({
            "Name": f"Demo {self._cars}", "Model__c": "Model A", "Powertrain__c": powertrain,
            "Plate_Number__c": f"PLATE-{self._cars}", "Store__c": store or self.store_id, "Active__c": True,
        })["id"]

    def booking(self, name: str, car: str, start: str, end: str, **extra) -> dict:
        return {"Name": name, "Opportunity__c": self.opportunity, "Vehicle__c": car,
                "Scheduled_Start__c": start, "Scheduled_End__c": end, **extra}

    def composite(self, method: str, records: list[dict], all_or_none: bool, sf: Salesforce | None = None):
        body = {"allOrNone": all_or_none, "records": [{"attributes": {"type": RES}, **r} for r in records]}
        return (sf or self.sf).restful("composite/sobjects", method=method, data=json.dumps(body))


@pytest.fixture(scope="module")
def org(tmp_path_factory, request):
    state = tmp_path_factory.mktemp("booking") / "org"
    repo = Path(request.config.rootpath)
    with LocalOrgServer(state) as srv:
        # Deployed in-process (the Metadata API path has its own tests).
        plan = Deployer(srv.org.catalog).plan(build_package(repo).zip_bytes)
        assert plan.error_message is None and not [m for m in plan.messages if m.problem]
        srv.org.publish_catalog(apply_plan(srv.org, plan))
        srv.org.store.release()
        yield Org(srv, state)


def _refusal(exc_info) -> tuple[int, list]:
    return exc_info.value.status, exc_info.value.content


def test_overlapping_booking_is_refused_with_the_guard_error(org):
    car = org.car()
    first = org.sf.Test_Drive_Reservation__c.create(
        org.booking("Sato-sama Model A", car, "2027-01-15T01:00:00.000Z", "2027-01-15T02:00:00.000Z"))
    assert first["success"] is True
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.Test_Drive_Reservation__c.create(
            org.booking("Suzuki-sama Model A", car, "2027-01-15T01:30:00.000Z", "2027-01-15T02:30:00.000Z"))
    assert _refusal(exc) == (400, [{
        "message": JA_CONFLICT.format("Sato-sama Model A", "2027/01/15 10:00", "2027/01/15 11:00", "Asia/Tokyo"),
        "errorCode": CODE,
        "fields": [],
    }])
    # Nothing of the refused booking was stored; the touching slot after it is free.
    got = org.sf.query(f"SELECT Name FROM {RES} WHERE Vehicle__c = '{car}' ORDER BY Name")
    assert [r["Name"] for r in got["records"]] == ["Sato-sama Model A"]
    assert org.sf.Test_Drive_Reservation__c.create(
        org.booking("Tanaka-sama", car, "2027-01-15T02:00:00.000Z", "2027-01-15T03:00:00.000Z"))["success"] is True


def test_update_moving_onto_another_booking_is_refused(org):
    car = org.car()
    org.sf.Test_Drive_Reservation__c.create(org.booking("A", car, "2027-02-01T01:00:00.000Z", "2027-02-01T02:00:00.000Z"))
    b = org.sf.Test_Drive_Reservation__c.create(
        org.booking("B", car, "2027-02-01T05:00:00.000Z", "2027-02-01T06:00:00.000Z"))["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.Test_Drive_Reservation__c.update(b, {"Scheduled_Start__c": "2027-02-01T01:30:00.000Z",
                                                    "Scheduled_End__c": "2027-02-01T02:30:00.000Z"})
    assert _refusal(exc) == (400, [{
        "message": JA_CONFLICT.format("A", "2027/02/01 10:00", "2027/02/01 11:00", "Asia/Tokyo"),
        "errorCode": CODE, "fields": [],
    }])
    assert org.sf.Test_Drive_Reservation__c.get(b)["Scheduled_Start__c"] == "2027-02-01T05:00:00.000+0000"


def test_cancelled_neighbour_frees_the_slot(org):
    car = org.car()
    a = org.sf.Test_Drive_Reservation__c.create(
        org.booking("A", car, "2027-03-01T01:00:00.000Z", "2027-03-01T02:00:00.000Z"))["id"]
    assert org.sf.Test_Drive_Reservation__c.update(a, {"Status__c": "Cancelled", "Cancellation_Reason__c": "Sick"}) == 204
    created = org.sf.Test_Drive_Reservation__c.create(
        org.booking("B", car, "2027-03-01T01:00:00.000Z", "2027-03-01T02:00:00.000Z"))
    assert created["success"] is True


def test_buffer_of_an_electric_car_comes_from_the_deployed_custom_metadata(org):
    car = org.car("Electric")
    org.sf.Test_Drive_Reservation__c.create(org.booking("EV-1", car, "2027-04-01T01:00:00.000Z", "2027-04-01T02:00:00.000Z"))
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.Test_Drive_Reservation__c.create(
            org.booking("EV-2", car, "2027-04-01T02:15:00.000Z", "2027-04-01T03:00:00.000Z"))
    assert _refusal(exc)[1] == [{
        "message": JA_CONFLICT_BUFFER.format("EV-1", "2027/04/01 10:00", "2027/04/01 11:00", "Asia/Tokyo", "30"),
        "errorCode": CODE, "fields": [],
    }]
    # Exactly when the buffer ends is fine.
    assert org.sf.Test_Drive_Reservation__c.create(
        org.booking("EV-3", car, "2027-04-01T02:30:00.000Z", "2027-04-01T03:00:00.000Z"))["success"] is True


def test_store_time_zone_and_english_user(org):
    la = org.sf.Dealer_Store__c.create({"Name": "Los Angeles", "Time_Zone__c": "America/Los_Angeles"})["id"]
    car = org.car(store=la)
    org.sf.Test_Drive_Reservation__c.create(org.booking("LA-1", car, "2027-05-01T17:00:00.000Z", "2027-05-01T18:00:00.000Z"))
    user_id = org.sf.query("SELECT Id FROM User")["records"][0]["Id"]
    user = org.srv.org.catalog.get("User")
    with org.srv.org.store.transaction() as tx:  # the local org's REST has no User edits; set it directly
        org.srv.org.store.update(tx, user, user_id, {"LanguageLocaleKey": "en_US"})
    try:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            org.sf.Test_Drive_Reservation__c.create(
                org.booking("LA-2", car, "2027-05-01T17:30:00.000Z", "2027-05-01T18:30:00.000Z"))
    finally:
        with org.srv.org.store.transaction() as tx:
            org.srv.org.store.update(tx, user, user_id, {"LanguageLocaleKey": "ja"})
    assert _refusal(exc)[1] == [{
        "message": EN_CONFLICT.format("LA-1", "2027/05/01 10:00", "2027/05/01 11:00", "America/Los_Angeles"),
        "errorCode": CODE, "fields": [],
    }]


def test_validation_rule_error_over_rest_names_its_field(org):
    car = org.car()
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.Test_Drive_Reservation__c.create(
            org.booking("Bad", car, "2027-06-01T03:00:00.000Z", "2027-06-01T02:00:00.000Z"))
    assert _refusal(exc) == (400, [{
        "message": "試乗終了予定は試乗開始予定より後の日時にしてください。", "errorCode": CODE, "fields": ["Scheduled_End__c"],
    }])


@pytest.mark.parametrize("round_", range(5))
def test_two_threads_booking_the_same_slot_exactly_one_wins(org, round_):
    car = org.car()
    start, end = f"2027-07-{round_ + 1:02d}T01:00:00.000Z", f"2027-07-{round_ + 1:02d}T02:00:00.000Z"
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def book(name: str) -> None:
        sf = org.client()
        barrier.wait()
        try:
            outcomes[name] = sf.Test_Drive_Reservation__c.create(org.booking(name, car, start, end))
        except SalesforceMalformedRequest as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=book, args=(name,)) for name in ("T1", "T2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [n for n, o in outcomes.items() if isinstance(o, dict) and o.get("success") is True]
    losers = [n for n, o in outcomes.items() if isinstance(o, SalesforceMalformedRequest)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    day = f"2027/07/{round_ + 1:02d}"
    assert outcomes[losers[0]].content == [{
        "message": JA_CONFLICT.format(winners[0], f"{day} 10:00", f"{day} 11:00", "Asia/Tokyo"),
        "errorCode": CODE, "fields": [],
    }]
    got = org.sf.query(f"SELECT Name FROM {RES} WHERE Vehicle__c = '{car}'")
    assert [r["Name"] for r in got["records"]] == winners


def _day_of_slots(org, car: str, count: int, conflict_at: int) -> list[dict]:
    """``count`` back-to-back 30-minute bookings; the one at ``conflict_at`` overlaps the one before."""
    records = []
    for i in range(count):
        minutes = i * 30 - (15 if i == conflict_at else 0)
        start = 8 * 60 + minutes
        end = start + 30
        records.append(org.booking(
            f"Bulk-{i:03d}", car,
            f"2027-08-{1 + start // 1440:02d}T{start // 60 % 24:02d}:{start % 60:02d}:00.000Z",
            f"2027-08-{1 + end // 1440:02d}T{end // 60 % 24:02d}:{end % 60:02d}:00.000Z",
        ))
    return records


def test_200_record_collection_insert_with_one_conflict_inside_the_batch(org):
    car = org.car()
    records = _day_of_slots(org, car, 200, conflict_at=137)
    results = org.composite("POST", records, all_or_none=False)
    assert len(results) == 200
    failed = [(i, r) for i, r in enumerate(results) if not r["success"]]
    # Bulk-136 starts 2027-08-01 08:00 UTC + 136 * 30 min = 2027-08-04 04:00 UTC = 13:00 JST.
    assert failed == [(137, {"success": False, "errors": [{
        "statusCode": CODE,
        "message": JA_CONFLICT.format("Bulk-136", "2027/08/04 13:00", "2027/08/04 13:30", "Asia/Tokyo"),
        "fields": [],
    }]})]
    assert all(r["id"] and r["errors"] == [] for i, r in enumerate(results) if i != 137)
    count = org.sf.query(f"SELECT COUNT() FROM {RES} WHERE Vehicle__c = '{car}'")["totalSize"]
    assert count == 199


def test_all_or_none_collection_with_a_conflict_saves_nothing(org):
    car = org.car()
    records = _day_of_slots(org, car, 5, conflict_at=3)
    results = org.composite("POST", records, all_or_none=True)
    rolled_back = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                   "message": "Record rolled back because not all records were valid and the request was using "
                              "AllOrNone header", "fields": []}
    assert [r["errors"] for r in results] == [[rolled_back]] * 3 + [[{
        "statusCode": CODE,
        "message": JA_CONFLICT.format("Bulk-002", "2027/08/01 18:00", "2027/08/01 18:30", "Asia/Tokyo"),
        "fields": [],
    }]] + [[rolled_back]]
    assert org.sf.query(f"SELECT COUNT() FROM {RES} WHERE Vehicle__c = '{car}'")["totalSize"] == 0


def test_collection_update_swaps_two_slots(org):
    car = org.car()
    a = org.sf.Test_Drive_Reservation__c.create(org.booking("A", car, "2027-09-01T01:00:00.000Z", "2027-09-01T02:00:00.000Z"))["id"]
    b = org.sf.Test_Drive_Reservation__c.create(org.booking("B", car, "2027-09-01T02:00:00.000Z", "2027-09-01T03:00:00.000Z"))["id"]
    results = org.composite("PATCH", [
        {"Id": a, "Scheduled_Start__c": "2027-09-01T02:00:00.000Z", "Scheduled_End__c": "2027-09-01T03:00:00.000Z"},
        {"Id": b, "Scheduled_Start__c": "2027-09-01T01:00:00.000Z", "Scheduled_End__c": "2027-09-01T02:00:00.000Z"},
    ], all_or_none=True)
    assert results == [{"id": a, "success": True, "errors": []}, {"id": b, "success": True, "errors": []}]


def test_partial_save_rechecks_the_survivors(org):
    # A leaves its slot with a reversed interval (refused by the validation rule) while B moves
    # onto A's old slot. Salesforce sets A aside and re-runs the trigger on B: A's stored slot
    # is still taken, so B is refused too, naming A.
    car = org.car()
    a = org.sf.Test_Drive_Reservation__c.create(org.booking("A", car, "2027-10-01T01:00:00.000Z", "2027-10-01T02:00:00.000Z"))["id"]
    b = org.sf.Test_Drive_Reservation__c.create(org.booking("B", car, "2027-10-01T05:00:00.000Z", "2027-10-01T06:00:00.000Z"))["id"]
    results = org.composite("PATCH", [
        {"Id": a, "Scheduled_Start__c": "2027-10-01T08:00:00.000Z", "Scheduled_End__c": "2027-10-01T07:00:00.000Z"},
        {"Id": b, "Scheduled_Start__c": "2027-10-01T01:00:00.000Z", "Scheduled_End__c": "2027-10-01T02:00:00.000Z"},
    ], all_or_none=False)
    assert results == [
        {"id": a, "success": False, "errors": [{"statusCode": CODE, "fields": ["Scheduled_End__c"],
                                                "message": "試乗終了予定は試乗開始予定より後の日時にしてください。"}]},
        {"id": b, "success": False, "errors": [{"statusCode": CODE, "fields": [],
                                                "message": JA_CONFLICT.format("A", "2027/10/01 10:00", "2027/10/01 11:00", "Asia/Tokyo")}]},
    ]
    got = org.sf.query(f"SELECT Name, Scheduled_Start__c FROM {RES} WHERE Vehicle__c = '{car}' ORDER BY Name")
    assert [(r["Name"], r["Scheduled_Start__c"]) for r in got["records"]] == [
        ("A", "2027-10-01T01:00:00.000+0000"), ("B", "2027-10-01T05:00:00.000+0000")]


def test_completed_reservation_is_read_only_for_the_admin(org):
    # The admin holds Modify All Data but not the custom permission Test_Drive_Admin_Override.
    car = org.car()
    rid = org.sf.Test_Drive_Reservation__c.create(org.booking(
        "Done", car, "2026-11-20T01:00:00.000Z", "2026-11-20T02:00:00.000Z", Status__c="Completed",
        Actual_Start__c="2026-11-20T01:05:00.000Z", Actual_End__c="2026-11-20T01:55:00.000Z"))["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.Test_Drive_Reservation__c.update(rid, {"Deal_Outlook__c": "Hot"})
    assert _refusal(exc) == (400, [{
        "message": "完了またはキャンセルされた試乗予約は変更できません。", "errorCode": CODE, "fields": [],
    }])
    assert org.sf.Test_Drive_Reservation__c.update(rid, {"Customer_Reaction__c": "Loved it"}) == 204


def test_sobject_tree_insert_runs_the_guard_too(org):
    car = org.car()

    def child(ref: str, start: str, end: str) -> dict:
        return {"attributes": {"type": RES, "referenceId": ref}, "Name": ref, "Vehicle__c": car,
                "Scheduled_Start__c": start, "Scheduled_End__c": end}

    body = {"records": [{
        "attributes": {"type": "Opportunity", "referenceId": "opp"},
        "Name": "Tree-sama", "StageName": "Prospecting", "CloseDate": "2027-03-31",
        "Test_Drive_Reservations__r": {"records": [
            child("tree1", "2027-11-01T01:00:00.000Z", "2027-11-01T02:00:00.000Z"),
            child("tree2", "2027-11-01T01:30:00.000Z", "2027-11-01T02:30:00.000Z"),
        ]},
    }]}
    with pytest.raises(SalesforceMalformedRequest) as exc:
        org.sf.restful("composite/tree/Opportunity", method="POST", data=json.dumps(body))
    assert _refusal(exc) == (400, {"hasErrors": True, "results": [{"referenceId": "tree2", "errors": [{
        "statusCode": CODE, "fields": [],
        "message": JA_CONFLICT.format("tree1", "2027/11/01 10:00", "2027/11/01 11:00", "Asia/Tokyo"),
    }]}]})
    assert org.sf.query(f"SELECT COUNT() FROM {RES} WHERE Vehicle__c = '{car}'")["totalSize"] == 0
