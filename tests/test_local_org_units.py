"""Pure helpers of the local org: IDs, value encodings, the catalog."""

from __future__ import annotations

import datetime as dt

import pytest

from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.ids import case_safe_suffix, make_id, normalize_id
from sfsync.local_org.standard_objects import standard_objects
from sfsync.local_org.values import BadValue, ms_to_text, parse_datetime, to_json, to_storage


def test_case_safe_suffix_matches_salesforce_example():
    # From the reference MALFORMED_ID body: the 15-char id 001900K0001pPuO has suffix ACU, so ...AAU is malformed.
    assert case_safe_suffix("001900K0001pPuO") == "ACU"
    assert normalize_id("001900K0001pPuO") == "001900K0001pPuOACU"
    assert normalize_id("001900K0001pPuOAAU") is None


def test_ids_sort_in_creation_order():
    ids = [make_id("a00", n) for n in (1, 9, 10, 35, 36, 61, 62, 63, 3843, 3844)]
    assert ids == sorted(ids)
    assert make_id("001", 1) == "001000000000001AAA"
    assert make_id("001", 62) == "001000000000010AAA"
    assert normalize_id("001000000000001") == "001000000000001AAA"
    assert normalize_id("001000000000001aaa") == "001000000000001AAA"
    assert normalize_id("not an id") is None


@pytest.mark.parametrize("text, expected", [
    ("2026-11-23T15:00:00Z", "2026-11-23T15:00:00.000+0000"),
    ("2026-11-24T00:00:00+09:00", "2026-11-23T15:00:00.000+0000"),
    ("2026-11-24T00:00:00.123+0900", "2026-11-23T15:00:00.123+0000"),
    ("2026-11-23T15:00:00.000+0000", "2026-11-23T15:00:00.000+0000"),
    ("2026-11-23T15:00:00", "2026-11-23T15:00:00.000+0000"),
])
def test_datetime_in_and_out(text, expected):
    fdef = FieldDef(api_name="D__c", type="datetime", column="D__c")
    assert to_json(fdef, to_storage(fdef, text)) == expected


@pytest.mark.parametrize("ftype, value, message", [
    ("datetime", "23/11/2026", "datetime from VALUE_STRING value 23/11/2026"),
    ("date", "2026-13-01", "date from VALUE_STRING value 2026-13-01"),
    ("double", "forty", "double from VALUE_STRING value forty"),
    ("boolean", 1, "boolean from VALUE_NUMBER_INT value 1"),
    ("string", {"a": 1}, "String from START_OBJECT value {"),
])
def test_bad_json_values(ftype, value, message):
    with pytest.raises(BadValue) as err:
        to_storage(FieldDef(api_name="F", type=ftype, column="F"), value)
    assert str(err.value) == message


def test_storage_encodings():
    def f(t):
        return FieldDef(api_name="F", type=t, column="F")
    assert to_storage(f("boolean"), True) == 1
    assert to_storage(f("boolean"), "false") == 0
    assert to_storage(f("date"), "2026-11-23") == "2026-11-23"
    assert to_storage(f("int"), "12") == 12
    assert to_storage(f("currency"), 12) == 12.0
    assert to_storage(f("string"), 12) == "12"
    assert parse_datetime("2026-11-23T15:00:00Z") == dt.datetime(2026, 11, 23, 15, tzinfo=dt.timezone.utc)
    assert ms_to_text(0) == "1970-01-01T00:00:00.000+0000"


def test_catalog_lookups_are_case_insensitive():
    catalog = Catalog(standard_objects())
    opp = catalog.get("opportunity")
    assert opp is not None and opp.api_name == "Opportunity" and opp.key_prefix == "006"
    assert opp.field("stagename").api_name == "StageName"
    assert opp.relationship("OWNER").api_name == "OwnerId"
    assert opp.relationship("owner").reference_to == ("User",)
    assert catalog.get("Nope") is None
    assert catalog.by_key_prefix("0ML").api_name == "CustomNotificationType"
    assert [o.api_name for o in catalog] == ["Organization", "User", "Account", "Contact", "Opportunity",
                                            "CustomNotificationType"]


def test_catalog_json_round_trip():
    obj = ObjectDef(api_name="Car__c", label="Car", table="Car__c", key_prefix="a00", custom=True, fields={
        "opp__c": FieldDef(api_name="Opp__c", type="reference", column="Opp__c", reference_to=("Opportunity",),
                           relationship_name="Opp__r", picklist_values=(), cascade_delete=True),
        "color__c": FieldDef(api_name="Color__c", type="picklist", column="Color__c",
                             picklist_values=("Red", "Blue"), restricted=True, default="Red"),
    })
    assert ObjectDef.from_json(obj.to_json()) == obj
    new = Catalog().with_objects([obj])
    assert new.get("car__c").relationship("opp__r").api_name == "Opp__c"
