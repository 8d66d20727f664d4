"""The demo dataset: the shape the issue asks for, no double booking, deterministic, load order."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sfsync.dataset import Dataset, Ref, _load_groups, build_demo_dataset, dataset_shape, load_dataset
from sfsync.errors import SfsyncFailure

NOW = datetime(2026, 12, 3, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo():
    return build_demo_dataset(NOW)


def reservations(ds: Dataset):
    return [r for r in ds.records if r.sobject == "Test_Drive_Reservation__c"]


def test_shape_meets_the_demo_brief(demo):
    shape = dataset_shape(demo)
    assert (shape.stores, shape.vehicles, shape.users, shape.opportunities) == (3, 12, 24, 525)
    assert shape.reservations >= 3000
    brands = {r.fields["Brand__c"] for r in demo.records if r.sobject == "Test_Drive_Vehicle__c"}
    assert brands == {"ASUKA", "KAEDE"}


def test_reservations_span_past_120_and_next_30_days_in_tokyo(demo):
    tz = ZoneInfo("Asia/Tokyo")
    days = {(r.fields["Scheduled_Start__c"].astimezone(tz).date() - NOW.astimezone(tz).date()).days
            for r in reservations(demo)}
    assert (min(days), max(days)) == (-120, 30)


def test_mix_of_statuses_and_some_overdue(demo):
    cutoff = NOW - timedelta(days=11)
    statuses = Counter(r.fields["Status__c"] for r in reservations(demo))
    assert set(statuses) == {"Scheduled", "Completed", "Cancelled"}
    overdue = [r for r in reservations(demo) if r.fields["Status__c"] == "Scheduled"
               and r.fields["Scheduled_Start__c"] < cutoff and "Overdue_Notified_At__c" not in r.fields]
    assert 50 <= len(overdue) <= 300


def test_each_test_drive_is_of_the_model_its_opportunity_is_about(demo):
    opportunity_names = {r.key: r.fields["Name"] for r in demo.records if r.sobject == "Opportunity"}
    for r in reservations(demo):
        assert f" {r.fields['Model__c']} 商談" in opportunity_names[r.fields["Opportunity__c"].key], r.key


def test_no_demo_car_is_double_booked(demo):
    by_car = defaultdict(list)
    for r in reservations(demo):
        by_car[r.fields["Vehicle__c"].key].append((r.fields["Scheduled_Start__c"], r.fields["Scheduled_End__c"]))
    for slots in by_car.values():
        slots.sort()
        for (_, end), (start, _) in zip(slots, slots[1:]):
            assert end <= start


def test_same_seed_same_data_and_japanese_names(demo):
    again = build_demo_dataset(NOW)
    assert [(r.key, r.fields) for r in again.records] == [(r.key, r.fields) for r in demo.records]
    first = reservations(demo)[0].fields["Name"]
    assert first.endswith("モデル試乗") and "様" in first


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        build_demo_dataset(datetime(2026, 12, 3))


def test_load_groups_put_references_in_earlier_batches():
    ds = Dataset()
    ds.add("u", "User", LastName="森")
    for n in range(250):
        ds.add(f"a{n}", "Account", Name=f"A{n}")
        ds.add(f"o{n}", "Opportunity", Name=f"O{n}", AccountId=Ref(f"a{n}"), OwnerId=Ref("u"))
    groups = _load_groups(ds.records)
    assert [(g[0].sobject, len(g)) for g in groups] == [
        ("User", 200), ("Account", 51), ("Opportunity", 200), ("Opportunity", 50),
    ]
    assert [r.key for r in groups[0][:3]] == ["u", "a0", "a1"]


def test_reference_to_an_undefined_record_is_refused():
    ds = Dataset()
    ds.add("o", "Opportunity", Name="x", AccountId=Ref("missing"))
    with pytest.raises(ValueError, match="record 'o' refers to 'missing'"):
        _load_groups(ds.records)


class RecordingClient:
    """Stands in for OrgClient.create_records: hands out ids, fails records named in ``fail``."""

    def __init__(self, fail: set[str] = frozenset()):
        self.fail = fail
        self.api_calls = 0
        self.batches: list[list[dict]] = []

    def create_records(self, records):
        from sfsync.client import ApiError, SaveResult

        self.api_calls += 1
        self.batches.append(records)
        out = []
        for n, rec in enumerate(records):
            if rec.get("Name") in self.fail:
                out.append(SaveResult(id=None, success=False, errors=[
                    ApiError(status_code="REQUIRED_FIELD_MISSING", message="Required fields are missing: [StageName]",
                             fields=["StageName"])]))
            else:
                out.append(SaveResult(id=f"001{len(self.batches):03d}{n:012d}", success=True, errors=[]))
        return out


def test_load_resolves_references_to_returned_ids():
    ds = Dataset()
    ds.add("acc", "Account", Name="田中 一郎")
    ds.add("opp", "Opportunity", Name="田中様 商談", AccountId=Ref("acc"),
           CloseDate=datetime(2026, 12, 31, tzinfo=timezone.utc).date())
    client = RecordingClient()
    result = load_dataset(client, ds)
    assert result.ids == {"acc": "001001000000000000", "opp": "001002000000000000"}
    assert client.batches[1] == [{"attributes": {"type": "Opportunity"}, "Name": "田中様 商談",
                                  "AccountId": "001001000000000000", "CloseDate": "2026-12-31"}]
    assert (result.counts, result.api_calls) == ({"Account": 1, "Opportunity": 1}, 2)


def test_load_failure_names_the_record_and_error():
    ds = Dataset()
    ds.add("opp:7", "Opportunity", Name="bad")
    with pytest.raises(SfsyncFailure) as info:
        load_dataset(RecordingClient(fail={"bad"}), ds)
    assert str(info.value) == ("loading Opportunity record 'opp:7' failed: REQUIRED_FIELD_MISSING: "
                               "Required fields are missing: [StageName]")
