"""Offline reference checks of sfsync.validation: names used in one file exist in the tree."""

from __future__ import annotations

import shutil
from pathlib import Path


from sfsync.packaging import scan_tree
from sfsync.validation import check_references, validate_tree

NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
BASE = "metadata/main/default"


def xml(root: str, body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} {NS}>\n{body}\n</{root}>\n'


def field(name: str, extra: str = "<type>Text</type><length>80</length>") -> str:
    return xml("CustomField", f"    <fullName>{name}</fullName>\n    <label>{name}</label>\n    {extra}")


def make_project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    (root / BASE).mkdir(parents=True)
    (root / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "metadata", "default": true}]}')
    base_files = {
        "objects/Car__c/Car__c.object-meta.xml": xml("CustomObject", "    <label>Car</label>"),
        "objects/Car__c/fields/Model__c.field-meta.xml": field("Model__c"),
        "objects/Car__c/fields/Store__c.field-meta.xml": field(
            "Store__c", "<referenceTo>Account</referenceTo><relationshipName>Cars</relationshipName>"
                        "<required>true</required><type>Lookup</type>"),
        "permissionsets/Reader.permissionset-meta.xml": xml("PermissionSet", (
            "    <fieldPermissions>\n        <editable>false</editable>\n        <field>Car__c.Model__c</field>\n"
            "        <readable>true</readable>\n    </fieldPermissions>\n    <label>Reader</label>")),
        "labels/CustomLabels.labels-meta.xml": xml("CustomLabels", (
            "    <labels>\n        <fullName>Hello</fullName>\n        <language>en_US</language>\n"
            "        <protected>false</protected>\n        <shortDescription>Hello</shortDescription>\n"
            "        <value>Hello</value>\n    </labels>")),
        "translations/ja.translation-meta.xml": xml("Translations", (
            "    <customLabels>\n        <label>こんにちは</label>\n        <name>Hello</name>\n    </customLabels>")),
        "classes/CarService.cls": "public with sharing class CarService {}\n",
        "classes/CarService.cls-meta.xml": xml("ApexClass", "    <apiVersion>66.0</apiVersion>\n    <status>Active</status>"),
    }
    for rel, text in {**base_files, **files}.items():
        path = root / BASE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def problems(root: Path) -> list[str]:
    items, _ = scan_tree(root)
    return sorted(str(p) for p in check_references(root, items))


def test_a_consistent_tree_has_no_reference_problem(tmp_path):
    assert problems(make_project(tmp_path, {})) == []


def test_layout_fields_and_quick_actions(tmp_path):
    layout = xml("Layout", (
        "    <layoutSections>\n        <layoutColumns>\n            <layoutItems>\n"
        "                <field>Model__c</field>\n            </layoutItems>\n            <layoutItems>\n"
        "                <field>Colour__c</field>\n            </layoutItems>\n            <layoutItems>\n"
        "                <field>Name</field>\n            </layoutItems>\n        </layoutColumns>\n    </layoutSections>\n"
        "    <quickActionList>\n        <quickActionListItems>\n"
        "            <quickActionName>Car__c.Return_Car</quickActionName>\n        </quickActionListItems>\n"
        "    </quickActionList>"))
    root = make_project(tmp_path, {"layouts/Car__c-Car Layout.layout-meta.xml": layout})
    assert problems(root) == [
        f"{BASE}/layouts/Car__c-Car Layout.layout-meta.xml:18: quick action Car__c.Return_Car is not defined in "
        "metadata/ (quickActions/)",
        f"{BASE}/layouts/Car__c-Car Layout.layout-meta.xml:9: field Car__c.Colour__c is not defined in metadata/ "
        "(no objects/Car__c/fields/Colour__c.field-meta.xml)",
    ]


def test_flow_objects_fields_apex_labels_and_record_fields(tmp_path):
    flow = xml("Flow", (
        "    <actionCalls>\n        <name>Compose</name>\n        <actionName>MissingComposer</actionName>\n"
        "        <actionType>apex</actionType>\n    </actionCalls>\n"
        "    <recordUpdates>\n        <name>Save</name>\n        <inputAssignments>\n"
        "            <field>Grade__c</field>\n        </inputAssignments>\n        <object>Car__c</object>\n"
        "    </recordUpdates>\n"
        "    <screens>\n        <fields>\n            <fieldText>{!$Label.Hello} {!$Label.Goodbye}</fieldText>\n"
        "        </fields>\n    </screens>\n"
        "    <start>\n        <object>Car__c</object>\n    </start>\n"
        "    <textTemplates>\n        <text>{!$Record.Model__c} {!$Record.Plate__c}</text>\n    </textTemplates>"))
    root = make_project(tmp_path, {"flows/Car_Flow.flow-meta.xml": flow})
    path = f"{BASE}/flows/Car_Flow.flow-meta.xml"
    assert problems(root) == [
        f"{path}:11: field Car__c.Grade__c is not defined in metadata/ (no objects/Car__c/fields/Grade__c.field-meta.xml)",
        f"{path}:17: label Goodbye is not defined in metadata/ (labels/CustomLabels.labels-meta.xml)",
        f"{path}:24: field Car__c.Plate__c is not defined in metadata/ (no objects/Car__c/fields/Plate__c.field-meta.xml)",
        f"{path}:5: Apex class MissingComposer is not defined in metadata/ (classes/)",
    ]


def test_permission_set_names_and_missing_field_access(tmp_path):
    perms = xml("PermissionSet", (
        "    <classAccesses>\n        <apexClass>GoneService</apexClass>\n        <enabled>true</enabled>\n"
        "    </classAccesses>\n    <fieldPermissions>\n        <editable>false</editable>\n"
        "        <field>Car__c.Model__c</field>\n        <readable>true</readable>\n    </fieldPermissions>\n"
        "    <fieldPermissions>\n        <editable>false</editable>\n        <field>Car__c.Colour__c</field>\n"
        "        <readable>true</readable>\n    </fieldPermissions>\n    <label>Reader</label>\n"
        "    <objectPermissions>\n        <object>Boat__c</object>\n    </objectPermissions>"))
    root = make_project(tmp_path, {
        "permissionsets/Reader.permissionset-meta.xml": perms,
        "objects/Car__c/fields/Grade__c.field-meta.xml": field("Grade__c"),
    })
    ps = f"{BASE}/permissionsets/Reader.permissionset-meta.xml"
    assert problems(root) == [
        f"{BASE}/objects/Car__c/fields/Grade__c.field-meta.xml:2: no permission set grants read access to "
        "Car__c.Grade__c: add a <fieldPermissions> entry for it to a permission set in permissionsets/",
        f"{ps}:14: field Car__c.Colour__c is not defined in metadata/ (no objects/Car__c/fields/Colour__c.field-meta.xml)",
        f"{ps}:19: object Boat__c is not defined in metadata/ (no objects/Boat__c/Boat__c.object-meta.xml)",
        f"{ps}:4: Apex class GoneService is not defined in metadata/ (classes/)",
    ]


def test_quick_action_flow_and_fields(tmp_path):
    action = xml("QuickAction", (
        "    <flowDefinition>Return_Flow</flowDefinition>\n    <label>Return</label>\n"
        "    <quickActionLayout>\n        <quickActionLayoutColumns>\n            <quickActionLayoutItems>\n"
        "                <field>Mileage__c</field>\n            </quickActionLayoutItems>\n"
        "        </quickActionLayoutColumns>\n    </quickActionLayout>\n    <type>Flow</type>"))
    root = make_project(tmp_path, {"quickActions/Car__c.Return_Car.quickAction-meta.xml": action})
    path = f"{BASE}/quickActions/Car__c.Return_Car.quickAction-meta.xml"
    assert problems(root) == [
        f"{path}:3: flow Return_Flow is not defined in metadata/ (flows/)",
        f"{path}:8: field Car__c.Mileage__c is not defined in metadata/ (no objects/Car__c/fields/Mileage__c.field-meta.xml)",
    ]


def test_lwc_schema_label_and_apex_imports(tmp_path):
    js = ("import { LightningElement } from 'lwc';\n"
          "import MODEL from '@salesforce/schema/Car__c.Model__c';\n"
          "import COLOUR from '@salesforce/schema/Car__c.Colour__c';\n"
          "// import OLD from '@salesforce/schema/Car__c.Old__c';\n"
          "import HELLO from '@salesforce/label/c.Hello';\n"
          "import BYE from '@salesforce/label/c.Bye';\n"
          "import list from '@salesforce/apex/CarService.list';\n"
          "import gone from '@salesforce/apex/GoneController.list';\n"
          "export default class CarCard extends LightningElement {}\n")
    root = make_project(tmp_path, {"lwc/carCard/carCard.js": js, "lwc/carCard/carCard.js-meta.xml": xml(
        "LightningComponentBundle", "    <apiVersion>66.0</apiVersion>\n    <isExposed>false</isExposed>")})
    path = f"{BASE}/lwc/carCard/carCard.js"
    assert problems(root) == [
        f"{path}:3: field Car__c.Colour__c is not defined in metadata/ (no objects/Car__c/fields/Colour__c.field-meta.xml)",
        f"{path}:6: label Bye is not defined in metadata/ (labels/CustomLabels.labels-meta.xml)",
        f"{path}:8: Apex class GoneController is not defined in metadata/ (classes/)",
    ]


def test_apex_labels_fields_and_objects(tmp_path):
    apex = ("public with sharing class CarService {\n"
            "    // Label.Commented_Out is not a reference\n"
            "    String a = System.Label.Hello + Label.Missing_Label;\n"
            "    Schema.SObjectField f = Car__c.Model__c;\n"
            "    Schema.SObjectField g = Car__c.Colour__c;\n"
            "    List<SObject> rows = [SELECT Id FROM Boat__c];\n"
            "}\n")
    root = make_project(tmp_path, {"classes/CarService.cls": apex})
    path = f"{BASE}/classes/CarService.cls"
    assert problems(root) == [
        f"{path}:3: label Missing_Label is not defined in metadata/ (labels/CustomLabels.labels-meta.xml)",
        f"{path}:5: field Car__c.Colour__c is not defined in metadata/ (no objects/Car__c/fields/Colour__c.field-meta.xml)",
        f"{path}:6: object Boat__c is not defined in metadata/ (no objects/Boat__c/Boat__c.object-meta.xml)",
    ]


def test_every_label_needs_english_and_japanese(tmp_path):
    labels = xml("CustomLabels", (
        "    <labels>\n        <fullName>Hello</fullName>\n        <language>en_US</language>\n"
        "        <protected>false</protected>\n        <shortDescription>Hello</shortDescription>\n"
        "        <value>Hello</value>\n    </labels>\n"
        "    <labels>\n        <fullName>Only_English</fullName>\n        <language>en_US</language>\n"
        "        <protected>false</protected>\n        <shortDescription>x</shortDescription>\n"
        "        <value>Only English</value>\n    </labels>"))
    root = make_project(tmp_path, {"labels/CustomLabels.labels-meta.xml": labels})
    assert problems(root) == [
        f"{BASE}/labels/CustomLabels.labels-meta.xml:11: label Only_English has no Japanese text: add <customLabels> "
        f"with <name>Only_English</name> and a <label> to {BASE}/translations/ja.translation-meta.xml",
    ]


def test_shipped_tree_references_resolve(repo_root, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(repo_root / "metadata", copy / "metadata")
    shutil.copy(repo_root / "sfdx-project.json", copy / "sfdx-project.json")
    field_file = copy / BASE / "objects/Test_Drive_Reservation__c/fields/Model__c.field-meta.xml"
    assert problems(copy) == []
    field_file.unlink()  # every layout, flow, permission set and Apex use of the field now dangles
    report = validate_tree(copy)
    assert report.problems, "removing a used field must be reported"
    assert all("Test_Drive_Reservation__c.Model__c is not defined" in p.message for p in report.problems
               if "Model__c" in p.message)
