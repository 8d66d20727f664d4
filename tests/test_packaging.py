"""sfsync.packaging: source format -> Metadata API zip."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from sfsync.errors import MetadataInvalid
from sfsync.metadata_schema import load_schema
from sfsync.packaging import build_package, write_package

REPO = Path(__file__).resolve().parents[1]
NS = "http://soap.sforce.com/2006/04/metadata"
HDR = '<?xml version="1.0" encoding="UTF-8"?>\n'
D = "metadata/main/default"


def make_project(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sfdx-project.json").write_text(json.dumps(
        {"packageDirectories": [{"path": "metadata", "default": True}], "sourceApiVersion": "66.0"}))
    (root / "metadata").mkdir(exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root


def md(root: str, body: str) -> str:
    return f'{HDR}<{root} xmlns="{NS}">\n{body}</{root}>\n'


def unzip(result) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(result.zip_bytes))


OBJECT = md("CustomObject", "    <deploymentStatus>Deployed</deploymentStatus>\n    <label>Car</label>\n"
            "    <nameField>\n        <label>Car Name</label>\n        <type>Text</type>\n    </nameField>\n"
            "    <pluralLabel>Cars</pluralLabel>\n    <sharingModel>ReadWrite</sharingModel>\n"
            "    <visibility>Public</visibility>\n")
FIELD_B = md("CustomField", "    <fullName>B__c</fullName>\n    <label>B</label>\n    <length>10</length>\n"
             "    <type>Text</type>\n")
FIELD_A = md("CustomField", "    <fullName>A__c</fullName>\n    <defaultValue>false</defaultValue>\n"
             "    <label>A</label>\n    <type>Checkbox</type>\n")
RULE = md("ValidationRule", "    <fullName>Needs_B</fullName>\n    <active>true</active>\n"
          "    <errorConditionFormula>ISBLANK(B__c)</errorConditionFormula>\n"
          "    <errorMessage>B を入力してください</errorMessage>\n")
LIST_VIEW = md("ListView", "    <fullName>All</fullName>\n    <filterScope>Everything</filterScope>\n"
               "    <label>All</label>\n")
OBJ_TR = md("CustomObjectTranslation", "    <caseValues>\n        <plural>false</plural>\n"
            "        <value>車</value>\n    </caseValues>\n    <nameFieldLabel>車名</nameFieldLabel>\n")
FIELD_TR = md("CustomFieldTranslation", "    <label>ビー</label>\n    <name>B__c</name>\n")
PERMSET = md("PermissionSet", "    <description>試乗 — 読み取り専用</description>\n"
             "    <hasActivationRequired>false</hasActivationRequired>\n    <label>Reader</label>\n")
TAB = md("CustomTab", "    <customObject>true</customObject>\n    <motif>Custom20: Airplane</motif>\n")


def small_tree(tmp_path: Path) -> Path:
    return make_project(tmp_path, {
        f"{D}/objects/Car__c/Car__c.object-meta.xml": OBJECT,
        f"{D}/objects/Car__c/fields/B__c.field-meta.xml": FIELD_B,
        f"{D}/objects/Car__c/fields/A__c.field-meta.xml": FIELD_A,
        f"{D}/objects/Car__c/validationRules/Needs_B.validationRule-meta.xml": RULE,
        f"{D}/objects/Car__c/listViews/All.listView-meta.xml": LIST_VIEW,
        f"{D}/objectTranslations/Car__c-ja/Car__c-ja.objectTranslation-meta.xml": OBJ_TR,
        f"{D}/objectTranslations/Car__c-ja/B__c.fieldTranslation-meta.xml": FIELD_TR,
        f"{D}/permissionsets/Reader.permissionset-meta.xml": PERMSET,
        f"{D}/tabs/Car__c.tab-meta.xml": TAB,
    })


def test_package_xml_for_small_tree(tmp_path):
    result = build_package(small_tree(tmp_path))
    assert unzip(result).read("package.xml").decode("utf-8") == """\
<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types>
        <members>Car__c.A__c</members>
        <members>Car__c.B__c</members>
        <name>CustomField</name>
    </types>
    <types>
        <members>Car__c</members>
        <name>CustomObject</name>
    </types>
    <types>
        <members>Car__c-ja</members>
        <name>CustomObjectTranslation</name>
    </types>
    <types>
        <members>Car__c</members>
        <name>CustomTab</name>
    </types>
    <types>
        <members>Car__c.All</members>
        <name>ListView</name>
    </types>
    <types>
        <members>Reader</members>
        <name>PermissionSet</name>
    </types>
    <types>
        <members>Car__c.Needs_B</members>
        <name>ValidationRule</name>
    </types>
    <version>66.0</version>
</Package>
"""
    assert result.components == [
        ("CustomField", "Car__c.A__c"), ("CustomField", "Car__c.B__c"), ("CustomObject", "Car__c"),
        ("CustomObjectTranslation", "Car__c-ja"), ("CustomTab", "Car__c"), ("ListView", "Car__c.All"),
        ("PermissionSet", "Reader"), ("ValidationRule", "Car__c.Needs_B"),
    ]
    assert unzip(result).namelist() == [
        "objectTranslations/Car__c-ja.objectTranslation", "objects/Car__c.object", "package.xml",
        "permissionsets/Reader.permissionset", "tabs/Car__c.tab",
    ]
    assert result.file_count == 5


def test_children_merged_into_object_in_schema_order(tmp_path):
    z = unzip(build_package(small_tree(tmp_path)))
    root = etree.fromstring(z.read("objects/Car__c.object"))
    assert etree.QName(root).localname == "CustomObject"
    assert [etree.QName(c).localname for c in root] == [
        "deploymentStatus", "fields", "fields", "label", "listViews", "nameField", "pluralLabel",
        "sharingModel", "validationRules", "visibility",
    ]
    assert [f.findtext(f"{{{NS}}}fullName") for f in root.iterfind(f"{{{NS}}}fields")] == ["A__c", "B__c"]
    # The merged file is valid Metadata API format.
    assert load_schema().xmlschema.validate(root.getroottree()), load_schema().xmlschema.error_log


def test_field_translation_merged_and_japanese_byte_exact(tmp_path):
    z = unzip(build_package(small_tree(tmp_path)))
    data = z.read("objectTranslations/Car__c-ja.objectTranslation")
    assert data.decode("utf-8") == md(
        "CustomObjectTranslation",
        "    <caseValues>\n        <plural>false</plural>\n        <value>車</value>\n    </caseValues>\n"
        "    <fields>\n        <label>ビー</label>\n        <name>B__c</name>\n    </fields>\n"
        "    <nameFieldLabel>車名</nameFieldLabel>\n")
    assert "ビー".encode("utf-8") in data and b"&#" not in data
    obj = z.read("objects/Car__c.object")
    assert "<errorMessage>B を入力してください</errorMessage>".encode("utf-8") in obj


def test_single_file_types_copied_byte_for_byte(tmp_path):
    z = unzip(build_package(small_tree(tmp_path)))
    assert z.read("permissionsets/Reader.permissionset") == PERMSET.encode("utf-8")
    assert z.read("tabs/Car__c.tab") == TAB.encode("utf-8")


def test_non_ascii_file_name_kept_with_utf8_flag(tmp_path):
    layout = md("Layout", "    <layoutSections>\n        <label>情報</label>\n"
                "        <style>TwoColumnsTopToBottom</style>\n    </layoutSections>\n")
    project = make_project(tmp_path, {f"{D}/layouts/Car__c-車レイアウト.layout-meta.xml": layout})
    result = build_package(project)
    z = unzip(result)
    info = z.getinfo("layouts/Car__c-車レイアウト.layout")
    assert info.flag_bits & 0x800
    assert z.read(info) == layout.encode("utf-8")
    assert result.components == [("Layout", "Car__c-車レイアウト")]
    assert "<members>Car__c-車レイアウト</members>".encode("utf-8") in z.read("package.xml")


def test_bundles_classes_and_static_resources(tmp_path):
    lwc_meta = md("LightningComponentBundle", "    <apiVersion>66.0</apiVersion>\n"
                  "    <isExposed>false</isExposed>\n")
    aura_meta = md("AuraDefinitionBundle", "    <apiVersion>66.0</apiVersion>\n")
    cls_meta = md("ApexClass", "    <apiVersion>66.0</apiVersion>\n    <status>Active</status>\n")
    sr_meta = md("StaticResource", "    <cacheControl>Private</cacheControl>\n"
                 "    <contentType>application/javascript</contentType>\n")
    zip_meta = md("StaticResource", "    <cacheControl>Public</cacheControl>\n"
                  "    <contentType>application/zip</contentType>\n")
    project = make_project(tmp_path, {
        f"{D}/lwc/board/board.js": "export default class Board {}\n",
        f"{D}/lwc/board/board.html": "<template></template>\n",
        f"{D}/lwc/board/board.js-meta.xml": lwc_meta,
        f"{D}/lwc/board/__tests__/board.test.js": "test('x', () => {});\n",
        f"{D}/lwc/board/__mocks__/m.js": "\n",
        f"{D}/lwc/jsconfig.json": "{}\n",
        f"{D}/lwc/.eslintrc.json": "{}\n",
        f"{D}/aura/planner/planner.app": "<aura:application/>\n",
        f"{D}/aura/planner/planner.app-meta.xml": aura_meta,
        f"{D}/classes/Greeter.cls": "public class Greeter {}\n",
        f"{D}/classes/Greeter.cls-meta.xml": cls_meta,
        f"{D}/staticresources/helper.js": "var x = 1;\n",
        f"{D}/staticresources/helper.resource-meta.xml": sr_meta,
        f"{D}/staticresources/icons/a.svg": "<svg/>\n",
        f"{D}/staticresources/icons.resource-meta.xml": zip_meta,
        f"{D}/labels/CustomLabels.labels-meta.xml": md("CustomLabels", ""),
    })
    result = build_package(project)
    z = unzip(result)
    assert z.namelist() == [
        "aura/planner/planner.app", "aura/planner/planner.app-meta.xml",
        "classes/Greeter.cls", "classes/Greeter.cls-meta.xml",
        "labels/CustomLabels.labels",
        "lwc/board/board.html", "lwc/board/board.js", "lwc/board/board.js-meta.xml",
        "package.xml",
        "staticresources/helper.resource", "staticresources/helper.resource-meta.xml",
        "staticresources/icons.resource", "staticresources/icons.resource-meta.xml",
    ]
    assert result.components == [
        ("ApexClass", "Greeter"), ("AuraDefinitionBundle", "planner"), ("CustomLabels", "CustomLabels"),
        ("LightningComponentBundle", "board"), ("StaticResource", "helper"), ("StaticResource", "icons"),
    ]
    assert z.read("staticresources/helper.resource") == b"var x = 1;\n"
    inner = zipfile.ZipFile(io.BytesIO(z.read("staticresources/icons.resource")))
    assert inner.namelist() == ["a.svg"] and inner.read("a.svg") == b"<svg/>\n"


def test_email_templates_and_folders(tmp_path):
    folder = md("EmailFolder", "    <accessType>Public</accessType>\n    <name>Test Drive</name>\n"
                "    <publicFolderAccess>ReadWrite</publicFolderAccess>\n")
    tmpl = md("EmailTemplate", "    <available>true</available>\n    <encodingKey>UTF-8</encodingKey>\n"
              "    <name>変更のお知らせ</name>\n    <style>none</style>\n    <subject>試乗予約の変更</subject>\n"
              "    <type>text</type>\n")
    project = make_project(tmp_path, {
        f"{D}/email/TestDrive.emailFolder-meta.xml": folder,
        f"{D}/email/TestDrive/Changed.email": "{!Contact.Name} 様\n",
        f"{D}/email/TestDrive/Changed.email-meta.xml": tmpl,
    })
    result = build_package(project)
    assert unzip(result).namelist() == [
        "email/TestDrive-meta.xml", "email/TestDrive/Changed.email", "email/TestDrive/Changed.email-meta.xml",
        "package.xml",
    ]
    assert result.components == [("EmailTemplate", "TestDrive"), ("EmailTemplate", "TestDrive/Changed")]


def test_fields_of_a_standard_object_without_object_file(tmp_path):
    project = make_project(tmp_path, {f"{D}/objects/Opportunity/fields/B__c.field-meta.xml": FIELD_B})
    result = build_package(project)
    assert result.components == [("CustomField", "Opportunity.B__c")]
    assert unzip(result).read("objects/Opportunity.object").decode("utf-8") == md(
        "CustomObject", "    <fields>\n        <fullName>B__c</fullName>\n        <label>B</label>\n"
        "        <length>10</length>\n        <type>Text</type>\n    </fields>\n")


def test_same_tree_gives_same_bytes(tmp_path):
    first = build_package(small_tree(tmp_path / "a"))
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)  # new mtimes, new inode order
    for p in copy.rglob("*"):
        if p.is_file():
            p.touch()
    second = build_package(copy)
    assert first.zip_bytes == second.zip_bytes
    info = unzip(first).infolist()[0]
    assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_unknown_source_type_raises_naming_the_file(tmp_path):
    project = make_project(tmp_path, {f"{D}/widgets/W.widget-meta.xml": md("Widget", "")})
    with pytest.raises(MetadataInvalid) as err:
        build_package(project)
    assert err.value.problems == [
        f"{D}/widgets/W.widget-meta.xml:1: unknown metadata file type: sfsync does not know which"
        " Metadata API type this file belongs to (check its folder and suffix, for example"
        " objects/<Object>/fields/<Field>.field-meta.xml)"
    ]


def test_broken_xml_raises_with_line(tmp_path):
    project = make_project(tmp_path, {f"{D}/tabs/Car__c.tab-meta.xml": f'{HDR}<CustomTab xmlns="{NS}">\n<motif>\n'})
    with pytest.raises(MetadataInvalid) as err:
        build_package(project)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"{D}/tabs/Car__c.tab-meta.xml:4: not well-formed XML: ")


def test_write_package(tmp_path):
    out = tmp_path / "out" / "deploy.zip"
    result = write_package(small_tree(tmp_path / "p"), out)
    assert out.read_bytes() == result.zip_bytes


def test_real_tree_packages_to_valid_metadata_api_format():
    result = build_package(REPO)
    z = unzip(result)
    names = z.namelist()
    assert names == sorted(names)
    for expected in [
        "package.xml",
        "notificationtypes/Test_Drive_Overdue.notiftype",
        "objectTranslations/Test_Drive_Reservation__c-ja.objectTranslation",
        "objects/Test_Drive_Reservation__c.object",
        "permissionsets/Test_Drive_Worker.permissionset",
        "triggers/TestDriveReservationTrigger.trigger",
        "triggers/TestDriveReservationTrigger.trigger-meta.xml",
        "classes/ReservationGuardService.cls",
        "flows/TestDrive_Cancel_Reservation.flow",
        "lwc/testDriveBoard/testDriveBoard.js",
        "staticresources/BookingRuleVectors.resource",
    ]:
        assert expected in names, expected
    assert not [n for n in names if "__tests__" in n or n.startswith("metadata/")]
    schema = load_schema().xmlschema
    xml_entries = [n for n in names if n.split("/")[0] in
                   ("notificationtypes", "objectTranslations", "objects", "permissionsets", "tabs", "layouts")]
    for name in xml_entries:
        doc = etree.fromstring(z.read(name)).getroottree()
        assert schema.validate(doc), (name, schema.error_log)
    tr = z.read("objectTranslations/Test_Drive_Reservation__c-ja.objectTranslation").decode("utf-8")
    assert "<relationshipLabel>試乗予定</relationshipLabel>" in tr
    field_files = list((REPO / "metadata").rglob("*.field-meta.xml"))
    assert len([c for c in result.components if c[0] == "CustomField"]) == len(field_files)


# ----------------------------------------------------------------------------- `sfsync package`: checks first
from sfsync.cli import main  # noqa: E402

FIELD_DIR = f"{D}/objects/Car__c/fields"
CLASS_META = md("ApexClass", "    <apiVersion>66.0</apiVersion>\n    <status>Active</status>\n")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def text_field(name: str, body: str | None = None) -> str:
    return md("CustomField", body or f"    <fullName>{name}</fullName>\n    <label>{name}</label>\n"
                                      "    <length>20</length>\n    <type>Text</type>\n")


BAD_TREES = {
    "wrong root": ({f"{FIELD_DIR}/A__c.field-meta.xml": md("CustomObject", "    <label>A</label>\n")},
                   f"{FIELD_DIR}/A__c.field-meta.xml:2: a .field-meta.xml file must have the root element "
                   "<CustomField>, found <CustomObject>"),
    "no namespace": ({f"{FIELD_DIR}/A__c.field-meta.xml": text_field("A__c").replace(f' xmlns="{NS}"', "")},
                     f'{FIELD_DIR}/A__c.field-meta.xml:2: root element <CustomField> must declare xmlns="{NS}" '
                     "(found no namespace)"),
    "order": ({f"{FIELD_DIR}/A__c.field-meta.xml": text_field("A__c", "    <fullName>A__c</fullName>\n"
                                                                       "    <length>20</length>\n"
                                                                       "    <label>A</label>\n    <type>Text</type>\n")},
              f"{FIELD_DIR}/A__c.field-meta.xml:5: <label> is out of order: in CustomField it must come before "
              "<length> (elements follow the Metadata API schema order)"),
    "no length": ({f"{FIELD_DIR}/A__c.field-meta.xml": text_field("A__c", "    <fullName>A__c</fullName>\n"
                                                                           "    <label>A</label>\n"
                                                                           "    <type>Text</type>\n")},
                  f"{FIELD_DIR}/A__c.field-meta.xml:5: Text field A__c has no <length>: add <length> with the "
                  "maximum number of characters"),
    "fullName": ({f"{FIELD_DIR}/A__c.field-meta.xml": text_field("B__c")},
                 f"{FIELD_DIR}/A__c.field-meta.xml:3: fullName 'B__c' does not match the file name (expected 'A__c')"),
    "duplicate": ({f"{FIELD_DIR}/A__c.field-meta.xml": text_field("A__c", "    <fullName>A__c</fullName>\n"
                                                                           "    <label>A</label>\n"
                                                                           "    <label>A</label>\n"
                                                                           "    <length>20</length>\n"
                                                                           "    <type>Text</type>\n")},
                  f"{FIELD_DIR}/A__c.field-meta.xml:5: <label> may appear only once in CustomField"),
}


@pytest.mark.parametrize("case", sorted(BAD_TREES))
def test_package_refuses_a_tree_validate_rejects(capsys, tmp_path, case):
    files, problem = BAD_TREES[case]
    project = make_project(tmp_path / "p", {f"{D}/objects/Car__c/Car__c.object-meta.xml": OBJECT, **files})
    out_file = tmp_path / "car.zip"
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", str(out_file))
    assert (code, out, err) == (1, problem + "\n", "error: 1 problem(s) in metadata\n")
    assert not out_file.exists()


def test_package_never_follows_a_symlink_out_of_the_project(capsys, tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    project = make_project(tmp_path / "p", {f"{D}/classes/Evil.cls-meta.xml": CLASS_META})
    (project / D / "classes/Evil.cls").symlink_to(secret)
    with pytest.raises(MetadataInvalid) as info:
        build_package(project)
    assert info.value.problems == [
        f"{D}/classes/Evil.cls:1: symbolic link to a file outside the project: sfsync never packages what it "
        "points at; replace it with the file itself"]
    out_file = tmp_path / "x.zip"
    code, out, _ = run_cli(capsys, "package", "--project", str(project), "--out", str(out_file))
    assert code == 1 and out.startswith(f"{D}/classes/Evil.cls:1: symbolic link")
    assert not out_file.exists()


def test_package_refuses_a_doctype_and_writes_no_zip(capsys, tmp_path):
    xxe = (f'{HDR}<!DOCTYPE CustomField [<!ENTITY e "x">]>\n<CustomField xmlns="{NS}">\n'
           "    <fullName>A__c</fullName>\n    <label>&e;</label>\n    <length>20</length>\n    <type>Text</type>\n"
           "</CustomField>\n")
    project = make_project(tmp_path / "p", {f"{D}/objects/Car__c/Car__c.object-meta.xml": OBJECT,
                                            f"{FIELD_DIR}/A__c.field-meta.xml": xxe})
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", str(tmp_path / "x.zip"))
    assert (code, out, err) == (1, f"{FIELD_DIR}/A__c.field-meta.xml:2: DOCTYPE and entity declarations are not "
                                   "allowed in metadata files\n", "error: 1 problem(s) in metadata\n")


def test_package_reports_a_file_that_is_not_utf8(capsys, tmp_path):
    project = make_project(tmp_path / "p", {f"{D}/classes/L.cls-meta.xml": CLASS_META,
                                            f"{D}/classes/L.cls": b"public class L { // \xe9t\xe9\n}\n"})
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", str(tmp_path / "x.zip"))
    assert (code, out, err) == (1, f"{D}/classes/L.cls:1: the file is not UTF-8 text (byte 0xe9 cannot be "
                                   "decoded): save it as UTF-8\n", "error: 1 problem(s) in metadata\n")


VALID = {f"{D}/classes/Ok.cls": "public class Ok {}\n", f"{D}/classes/Ok.cls-meta.xml": CLASS_META}


def test_package_out_refuses_to_replace_a_file_that_is_not_a_zip(capsys, tmp_path):
    project = make_project(tmp_path / "p", VALID)
    before = (project / "sfdx-project.json").read_bytes()
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", str(project / "sfdx-project.json"))
    assert (code, out, err) == (2, "", f"error: refusing to overwrite {project / 'sfdx-project.json'}: it is not a "
                                       "zip archive\n")
    assert (project / "sfdx-project.json").read_bytes() == before


def test_package_out_replaces_an_old_zip_through_a_rename(capsys, tmp_path):
    project = make_project(tmp_path / "p", VALID)
    out_file = tmp_path / "build" / "x.zip"
    assert run_cli(capsys, "package", "--project", str(project), "--out", str(out_file))[0] == 0
    first = out_file.stat().st_ino
    code, out, _ = run_cli(capsys, "package", "--project", str(project), "--out", str(out_file))
    assert (code, out) == (0, f"wrote {out_file}: 1 components in 3 files\n")
    assert out_file.stat().st_ino != first  # a new file renamed over the old one
    assert sorted(p.name for p in out_file.parent.iterdir()) == ["x.zip"]  # no temporary file left


def test_package_out_inside_the_package_directory_is_refused(capsys, tmp_path):
    project = make_project(tmp_path / "p", VALID)
    out_file = project / "metadata" / "x.zip"
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", str(out_file))
    assert (code, out, err) == (2, "", f"error: --out {out_file} is inside the package directory metadata/; "
                                       "write the zip elsewhere (e.g. build/)\n")
    assert not out_file.exists()


@pytest.mark.parametrize("target,message", [
    ("/dev/full", "error: zip file /dev/full is not a regular file\n"),
    ("/proc/x.zip", "error: cannot write zip file /proc/x.zip: No such file or directory\n"),
    ("DIR", "Usage: sfsync package [OPTIONS]\nTry 'sfsync package --help' for help.\n\n"
            "Error: Invalid value for '--out': File 'DIR' is a directory.\n"),
])
def test_package_out_that_cannot_be_written_is_one_line_naming_it(capsys, tmp_path, target, message):
    project = make_project(tmp_path / "p", VALID)
    if target == "DIR":
        target = str(tmp_path)
        message = message.replace("DIR", target)
    code, out, err = run_cli(capsys, "package", "--project", str(project), "--out", target)
    assert (code, out, err) == (2, "", message)


def test_build_package_itself_refuses_a_doctype(tmp_path):
    xxe = f'{HDR}<!DOCTYPE ApexClass>\n<ApexClass xmlns="{NS}">\n    <apiVersion>66.0</apiVersion>\n</ApexClass>\n'
    project = make_project(tmp_path / "p", {f"{D}/classes/A.cls": "public class A {}\n",
                                            f"{D}/classes/A.cls-meta.xml": xxe})
    with pytest.raises(MetadataInvalid) as info:
        build_package(project)
    assert info.value.problems == [
        f"{D}/classes/A.cls-meta.xml:2: DOCTYPE and entity declarations are not allowed in metadata files"]
