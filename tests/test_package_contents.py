"""The deploy package carries every flow, e-mail template, trigger, Apex class and static resource of metadata/."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from sfsync.packaging import build_package

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "metadata" / "main" / "default"


@pytest.fixture(scope="module")
def package():
    return build_package(ROOT)


def _stems(folder: str, suffix: str) -> set[str]:
    return {p.name[: -len(suffix)] for p in (DEFAULT / folder).glob(f"*{suffix}")}


@pytest.mark.parametrize(
    ("type_name", "folder", "suffix"),
    [
        ("Flow", "flows", ".flow-meta.xml"),
        ("ApexTrigger", "triggers", ".trigger"),
        ("ApexClass", "classes", ".cls"),
        ("StaticResource", "staticresources", ".resource-meta.xml"),
        ("QuickAction", "quickActions", ".quickAction-meta.xml"),
    ],
)
def test_every_source_component_is_in_the_package(package, type_name, folder, suffix):
    expected = _stems(folder, suffix)
    assert expected, f"no {type_name} in metadata/"
    packaged = {member for t, member in package.components if t == type_name}
    assert packaged == expected


def test_issue_4_components_are_packaged(package):
    components = set(package.components)
    for needed in [
        ("ApexTrigger", "TestDriveReservationTrigger"),
        ("ApexClass", "TestDriveReservationTriggerHandler"),
        ("ApexClass", "ReservationGuardService"),
        ("ApexClass", "ReservationGuardVectorsTest"),
        ("Flow", "TestDrive_Change_Reservation"),
        ("Flow", "TestDrive_Cancel_Reservation"),
        ("Flow", "TestDrive_Complete_Test_Drive"),
        ("Flow", "TestDrive_New_Reservation"),
        ("EmailTemplate", "Test_Drive"),
        ("EmailTemplate", "Test_Drive/Test_Drive_Change_en"),
        ("EmailTemplate", "Test_Drive/Test_Drive_Change_ja"),
        ("EmailTemplate", "Test_Drive/Test_Drive_Cancel_en"),
        ("EmailTemplate", "Test_Drive/Test_Drive_Cancel_ja"),
        ("StaticResource", "BookingRuleVectors"),
        ("CustomMetadata", "Booking_Buffer.Electric"),
        ("CustomObject", "Booking_Buffer__mdt"),
        ("CustomLabels", "CustomLabels"),
        ("CustomPermission", "Test_Drive_Admin_Override"),
        ("PermissionSet", "Dealer_Staff"),
        ("PermissionSet", "Dealer_Manager"),
        ("QuickAction", "Opportunity.New_Test_Drive"),
        ("ValidationRule", "Test_Drive_Reservation__c.Final_Status_Read_Only"),
    ]:
        assert needed in components, needed


def test_email_templates_and_static_resource_bytes_in_zip(package):
    with zipfile.ZipFile(io.BytesIO(package.zip_bytes)) as zf:
        names = set(zf.namelist())
        for kind in ("Change", "Cancel"):
            for lang in ("en", "ja"):
                stem = f"email/Test_Drive/Test_Drive_{kind}_{lang}"
                assert f"{stem}.email" in names
                assert f"{stem}.email-meta.xml" in names
                assert zf.read(f"{stem}.email") == (DEFAULT / "email" / "Test_Drive" / f"Test_Drive_{kind}_{lang}.email").read_bytes()
        assert "email/Test_Drive-meta.xml" in names
        assert zf.read("staticresources/BookingRuleVectors.resource") == (
            ROOT / "tests" / "vectors" / "booking_rules.json"
        ).read_bytes()
