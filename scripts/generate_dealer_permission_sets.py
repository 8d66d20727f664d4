#!/usr/bin/env python3
"""Write the Dealer_Staff and Dealer_Manager permission sets from the object folders.

Every field of Dealer_Store__c, Test_Drive_Reservation__c and Test_Drive_Vehicle__c gets a
fieldPermissions entry, except required and master-detail fields: the platform always grants those
and refuses a deploy that lists them. Run it after adding a field:
    python3 scripts/generate_dealer_permission_sets.py [--check]
With --check it writes nothing and exits 1 when a file is out of date (tests call it that way).
The output is already in Prettier's XML format, so `npm test` accepts it as is.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "metadata" / "main" / "default"
OBJECTS = ("Dealer_Store__c", "Test_Drive_Reservation__c", "Test_Drive_Vehicle__c")
RESERVATION = "Test_Drive_Reservation__c"
# Stamps and lease fields that only the overdue worker writes: read-only for people.
WORKER_FIELDS = {"Overdue_Notified_At__c", "Escalated_At__c", "Notice_Claim__c", "Notice_Claimed_By__c",
                 "Notice_Claimed_Until__c"}
# Apex classes the flows and the board (LWC testDriveBoard) call in the user's context.
CLASSES = ("TestDriveBoardController", "TestDriveEmailComposer")
# The Activity Planner app and its Lightning page tab (F5), besides the object tabs.
APPS = ("Activity_Planner",)
EXTRA_TABS = ("Test_Drive_Board",)

T, F = "true", "false"
# object -> (create, read, edit, delete)
SETS = {
    "Dealer_Staff": {
        "label": "Dealer Staff",
        "description": "Sales staff: book, change, cancel and complete test drives; read cars and stores.",
        "objects": {"Dealer_Store__c": (F, T, F, F), RESERVATION: (T, T, T, F), "Test_Drive_Vehicle__c": (F, T, F, F)},
        "editable": lambda obj, field: obj == RESERVATION and field not in WORKER_FIELDS,
        "custom_permissions": (),
    },
    "Dealer_Manager": {
        "label": "Dealer Manager",
        "description": "Store managers: staff rights plus cars, stores and fixing closed test drives.",
        "objects": {"Dealer_Store__c": (T, T, T, F), RESERVATION: (T, T, T, T), "Test_Drive_Vehicle__c": (T, T, T, T)},
        "editable": lambda obj, field: field not in WORKER_FIELDS,
        "custom_permissions": ("Test_Drive_Admin_Override",),
    },
}


def object_fields(obj: str) -> list[tuple[str, bool]]:
    """(field name, always granted) for each field file of ``obj``, sorted by name."""
    out = []
    for path in sorted((DEFAULT / "objects" / obj / "fields").glob("*.field-meta.xml")):
        text = path.read_text(encoding="utf-8")
        always = bool(re.search(r"<required>true</required>|<type>MasterDetail</type>", text))
        out.append((path.name.split(".")[0], always))
    return out


def render(name: str) -> str:
    spec = SETS[name]
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>',
             '<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">']
    for app in APPS:
        lines += ["    <applicationVisibilities>", f"        <application>{app}</application>",
                  "        <visible>true</visible>", "    </applicationVisibilities>"]
    for cls in CLASSES:
        lines += ["    <classAccesses>", f"        <apexClass>{cls}</apexClass>", "        <enabled>true</enabled>",
                  "    </classAccesses>"]
    for perm in spec["custom_permissions"]:
        lines += ["    <customPermissions>", "        <enabled>true</enabled>", f"        <name>{perm}</name>",
                  "    </customPermissions>"]
    lines.append(f"    <description>{spec['description']}</description>")
    for obj in OBJECTS:
        for field, always in object_fields(obj):
            if always:
                continue
            editable = T if spec["editable"](obj, field) else F
            lines += ["    <fieldPermissions>", f"        <editable>{editable}</editable>",
                      f"        <field>{obj}.{field}</field>", "        <readable>true</readable>",
                      "    </fieldPermissions>"]
    lines += ["    <hasActivationRequired>false</hasActivationRequired>", f"    <label>{spec['label']}</label>"]
    for obj in OBJECTS:
        create, read, edit, delete = spec["objects"][obj]
        lines += ["    <objectPermissions>", f"        <allowCreate>{create}</allowCreate>",
                  f"        <allowDelete>{delete}</allowDelete>", f"        <allowEdit>{edit}</allowEdit>",
                  f"        <allowRead>{read}</allowRead>", "        <modifyAllRecords>false</modifyAllRecords>",
                  f"        <object>{obj}</object>", "        <viewAllRecords>false</viewAllRecords>",
                  "    </objectPermissions>"]
    for tab in sorted((*OBJECTS, *EXTRA_TABS)):
        lines += ["    <tabSettings>", f"        <tab>{tab}</tab>", "        <visibility>Visible</visibility>",
                  "    </tabSettings>"]
    lines.append("</PermissionSet>")
    return "\n".join(lines) + "\n"


def target(name: str) -> Path:
    return DEFAULT / "permissionsets" / f"{name}.permissionset-meta.xml"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in SETS:
        text = render(name)
        path = target(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(ROOT).as_posix())
        if not check:
            path.write_text(text, encoding="utf-8")
    for rel in stale:
        print(f"{'out of date' if check else 'wrote'}: {rel}")
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
