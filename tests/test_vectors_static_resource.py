"""The booking-rule vectors: the file's shape, and the static resource the Apex tests read is the same file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "booking_rules.json"
RESOURCE_DIR = ROOT / "metadata" / "main" / "default" / "staticresources"
LABELS = ROOT / "metadata" / "main" / "default" / "labels" / "CustomLabels.labels-meta.xml"
RULES_DIR = ROOT / "metadata" / "main" / "default" / "objects" / "Test_Drive_Reservation__c" / "validationRules"
MD = "{http://soap.sforce.com/2006/04/metadata}"

DOC = json.loads(VECTORS.read_text(encoding="utf-8"))
CASES = DOC["cases"]


def test_static_resource_is_byte_identical_to_the_vector_file():
    # Rebuild with: python3 scripts/build_vector_resource.py
    assert (RESOURCE_DIR / "BookingRuleVectors.json").read_bytes() == VECTORS.read_bytes()


def test_static_resource_meta_declares_json():
    meta = etree.parse(str(RESOURCE_DIR / "BookingRuleVectors.resource-meta.xml")).getroot()
    assert meta.findtext(f"{MD}contentType") == "application/json"
    assert meta.findtext(f"{MD}cacheControl") == "Private"


def test_enough_cases_with_unique_names():
    names = [c["name"] for c in CASES]
    assert len(names) >= 25
    assert len(names) == len(set(names))
    # ReservationGuardVectorsTest runs 6 methods of 10 cases.
    assert len(names) <= 60


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_shape(case):
    assert set(case) == {"name", "description", "now", "buffers", "vehicles", "permissions", "existing", "write", "expect"}
    assert case["write"]["op"] in ("insert", "update")
    assert len(case["expect"]) == len(case["write"]["records"])
    datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    existing_ids = {r["id"] for r in case["existing"]}
    for record in case["existing"] + case["write"]["records"]:
        for key, value in record.items():
            if key.endswith(("_Start__c", "_End__c", "_At__c")) and value is not None:
                assert value.endswith(".000Z"), (key, value)
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            if key in ("Vehicle__c", "Driven_Vehicle__c") and value is not None:
                assert value in case["vehicles"], value
    if case["write"]["op"] == "update":
        assert all(r["id"] in existing_ids for r in case["write"]["records"])
    for expect in case["expect"]:
        if expect["accepted"]:
            assert expect == {"accepted": True}
        else:
            assert expect["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            assert set(expect) <= {"accepted", "error_code", "message", "field"}


def _labels() -> dict[str, str]:
    root = etree.parse(str(LABELS)).getroot()
    return {el.findtext(f"{MD}fullName"): el.findtext(f"{MD}value") for el in root.iter(f"{MD}labels")}


def test_conflict_templates_match_the_custom_labels():
    labels = _labels()
    for name, template in DOC["message_templates"].items():
        assert labels[name] == template


def test_every_refusal_message_comes_from_a_label_or_a_validation_rule():
    rules = {}
    for path in RULES_DIR.glob("*.validationRule-meta.xml"):
        root = etree.parse(str(path)).getroot()
        rules[root.findtext(f"{MD}errorMessage")] = root.findtext(f"{MD}errorDisplayField")
    prefixes = [t.split("{0}")[0] for t in DOC["message_templates"].values()]
    seen_rules = set()
    for case in CASES:
        for expect in case["expect"]:
            if expect["accepted"]:
                continue
            message = expect["message"]
            if message in rules:
                seen_rules.add(message)
                assert expect.get("field") == rules[message], case["name"]
            else:
                assert any(message.startswith(p) for p in prefixes), (case["name"], message)
                assert "field" not in expect
    # Every validation rule is exercised by at least one case.
    assert seen_rules == set(rules)
