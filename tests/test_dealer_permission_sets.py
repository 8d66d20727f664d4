"""Dealer_Staff / Dealer_Manager: generated from the object folders and in step with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
PERMSETS = ROOT / "metadata" / "main" / "default" / "permissionsets"
OBJECTS = ROOT / "metadata" / "main" / "default" / "objects"
MD = "{http://soap.sforce.com/2006/04/metadata}"


def _fields(name: str) -> dict[str, tuple[bool, bool]]:
    root = etree.parse(str(PERMSETS / f"{name}.permissionset-meta.xml")).getroot()
    return {
        fp.findtext(f"{MD}field"): (fp.findtext(f"{MD}readable") == "true", fp.findtext(f"{MD}editable") == "true")
        for fp in root.iter(f"{MD}fieldPermissions")
    }


def test_generated_files_are_up_to_date():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_dealer_permission_sets.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_optional_field_of_the_three_objects_is_listed():
    expected = set()
    for obj in ("Dealer_Store__c", "Test_Drive_Reservation__c", "Test_Drive_Vehicle__c"):
        for path in (OBJECTS / obj / "fields").glob("*.field-meta.xml"):
            text = path.read_text(encoding="utf-8")
            if "<required>true</required>" in text or "<type>MasterDetail</type>" in text:
                continue
            expected.add(f"{obj}.{path.name.split('.')[0]}")
    for name in ("Dealer_Staff", "Dealer_Manager"):
        assert set(_fields(name)) == expected, name


def test_staff_edit_reservations_but_not_worker_stamps_or_cars():
    staff = _fields("Dealer_Staff")
    assert staff["Test_Drive_Reservation__c.Actual_End__c"] == (True, True)
    assert staff["Test_Drive_Reservation__c.Overdue_Notified_At__c"] == (True, False)
    assert staff["Test_Drive_Vehicle__c.Model__c"] == (True, False)


def test_only_the_manager_has_the_admin_override():
    def perms(name):
        root = etree.parse(str(PERMSETS / f"{name}.permissionset-meta.xml")).getroot()
        return [cp.findtext(f"{MD}name") for cp in root.iter(f"{MD}customPermissions")]

    assert perms("Dealer_Manager") == ["Test_Drive_Admin_Override"]
    assert perms("Dealer_Staff") == []
