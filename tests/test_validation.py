"""sfsync.validation (and the schema it loads from sfsync.metadata_schema)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfsync.errors import UsageError
from sfsync.metadata_schema import ENV_VAR, PACKAGED_XSD, generate_xsd, load_schema, xsd_path
from sfsync.validation import Problem, ValidationReport, validate_tree

REPO = Path(__file__).resolve().parents[1]
WSDL = Path("/work/shared/reference/metadata-api-v66.wsdl")
NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'
FIELDS = "metadata/main/default/objects/Foo__c/fields"


def make_project(root: Path, files: dict[str, str]) -> Path:
    (root / "sfdx-project.json").write_text(json.dumps(
        {"packageDirectories": [{"path": "metadata", "default": True}], "sourceApiVersion": "66.0"}))
    (root / "metadata").mkdir(exist_ok=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def field(body: str, root: str = "CustomField", ns: str = NS) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} {ns}>\n{body}</{root}>\n'


GOOD_TEXT = field("    <fullName>Good__c</fullName>\n    <label>Good</label>\n    <length>20</length>\n"
                  "    <type>Text</type>\n")


def lines(report: ValidationReport) -> list[str]:
    return [str(p) for p in report.problems]


# ----------------------------------------------------------------------------- real tree


def test_real_metadata_tree_has_no_problems():
    report = validate_tree(REPO)
    assert lines(report) == []
    assert report.ok
    # every metadata file of the tree is checked (counted here by its -meta.xml name)
    assert report.files_checked == len(list((REPO / "metadata").rglob("*-meta.xml")))


# ----------------------------------------------------------------------------- edge cases


def test_valid_fixture_field(tmp_path):
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Good__c.field-meta.xml": GOOD_TEXT}))
    assert report == ValidationReport(files_checked=1, problems=[])


def test_misspelled_element_gives_path_line_and_message(tmp_path):
    text = field("    <fullName>Bad__c</fullName>\n    <lable>Bad</lable>\n    <length>20</length>\n"
                 "    <type>Text</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Bad__c.field-meta.xml": text}))
    assert lines(report) == [
        "metadata/main/default/objects/Foo__c/fields/Bad__c.field-meta.xml:4: "
        "<lable> is not an element of CustomField (did you mean <label>?)"
    ]
    assert report.problems[0] == Problem(
        path="metadata/main/default/objects/Foo__c/fields/Bad__c.field-meta.xml", line=4,
        message="<lable> is not an element of CustomField (did you mean <label>?)")


def test_element_out_of_order(tmp_path):
    text = field("    <label>Ord</label>\n    <fullName>Ord__c</fullName>\n    <type>Checkbox</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Ord__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Ord__c.field-meta.xml:4: <fullName> is out of order: in CustomField it must come"
        " before <label> (elements follow the Metadata API schema order)"
    ]


def test_wrong_enumeration_case(tmp_path):
    text = field("    <fullName>When__c</fullName>\n    <label>When</label>\n    <type>Datetime</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/When__c.field-meta.xml": text}))
    assert len(report.problems) == 1
    p = report.problems[0]
    assert (p.path, p.line) == (f"{FIELDS}/When__c.field-meta.xml", 5)
    assert p.message.startswith("<type>: 'Datetime' is not an allowed value (values are case-sensitive);"
                                " allowed values: 'AutoNumber', 'Lookup', ")
    assert "'DateTime'" in p.message


def test_bad_boolean(tmp_path):
    text = field("    <fullName>Flag__c</fullName>\n    <defaultValue>false</defaultValue>\n"
                 "    <externalId>maybe</externalId>\n    <label>Flag</label>\n    <type>Checkbox</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Flag__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Flag__c.field-meta.xml:5: <externalId>: 'maybe' is not a valid boolean value"
        " (use true or false)"
    ]


def test_missing_namespace(tmp_path):
    text = field("    <fullName>NoNs__c</fullName>\n    <label>x</label>\n    <length>5</length>\n"
                 "    <type>Text</type>\n", ns="")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/NoNs__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/NoNs__c.field-meta.xml:2: root element <CustomField> must declare "
        'xmlns="http://soap.sforce.com/2006/04/metadata" (found no namespace)'
    ]


def test_wrong_namespace(tmp_path):
    text = field("    <fullName>X__c</fullName>\n", ns='xmlns="urn:other"')
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/X__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/X__c.field-meta.xml:2: root element <CustomField> must declare "
        'xmlns="http://soap.sforce.com/2006/04/metadata" (found xmlns="urn:other")'
    ]


def test_broken_xml_reports_syntax_error_line(tmp_path):
    text = field("    <fullName>Broken__c</fullName>\n    <label>Broken</labl>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Broken__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Broken__c.field-meta.xml:4: not well-formed XML: Opening and ending tag mismatch:"
        " label line 4 and labl, line 4, column 25"
    ]


def test_text_field_without_length(tmp_path):
    text = field("    <fullName>NoLen__c</fullName>\n    <label>No length</label>\n    <type>Text</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/NoLen__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/NoLen__c.field-meta.xml:5: Text field NoLen__c has no <length>: add <length> with"
        " the maximum number of characters"
    ]


def test_text_field_length_over_255(tmp_path):
    text = field("    <fullName>Long__c</fullName>\n    <label>L</label>\n    <length>300</length>\n"
                 "    <type>Text</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Long__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Long__c.field-meta.xml:5: Text field Long__c has length 300: it must be between 1 and 255"
    ]


def test_long_text_area_needs_length_and_visible_lines(tmp_path):
    text = field("    <fullName>Notes__c</fullName>\n    <label>Notes</label>\n    <type>LongTextArea</type>\n")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Notes__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Notes__c.field-meta.xml:5: LongTextArea field Notes__c has no <length>: add <length>"
        " with the maximum number of characters",
        f"{FIELDS}/Notes__c.field-meta.xml:5: LongTextArea field Notes__c has no <visibleLines>",
    ]


def test_full_name_must_match_file_name(tmp_path):
    text = GOOD_TEXT.replace("Good__c", "Other__c")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Good__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Good__c.field-meta.xml:3: fullName 'Other__c' does not match the file name"
        " (expected 'Good__c')"
    ]


def test_suffix_must_match_root_type(tmp_path):
    text = field("    <label>X</label>\n", root="CustomObject")
    report = validate_tree(make_project(tmp_path, {f"{FIELDS}/Obj__c.field-meta.xml": text}))
    assert lines(report) == [
        f"{FIELDS}/Obj__c.field-meta.xml:2: a .field-meta.xml file must have the root element"
        " <CustomField>, found <CustomObject>"
    ]


def test_unknown_file_types_are_reported(tmp_path):
    project = make_project(tmp_path, {
        "metadata/main/default/widgets/W.widget-meta.xml": field("", root="Widget"),
        "metadata/main/default/README.md": "notes\n",
    })
    report = validate_tree(project)
    message = ("unknown metadata file type: sfsync does not know which Metadata API type this file"
               " belongs to (check its folder and suffix, for example"
               " objects/<Object>/fields/<Field>.field-meta.xml)")
    assert lines(report) == [
        f"metadata/main/default/README.md:1: {message}",
        f"metadata/main/default/widgets/W.widget-meta.xml:1: {message}",
    ]
    assert report.files_checked == 2


LWC_META = """<?xml version="1.0" encoding="UTF-8"?>
<LightningComponentBundle xmlns="http://soap.sforce.com/2006/04/metadata">
    <apiVersion>66.0</apiVersion>
    <isExposed>{exposed}</isExposed>
    <targets>
        <target>lightning__RecordPage</target>
    </targets>
    <targetConfigs>
        <targetConfig targets="{target}">
            <objects>
                <object>Opportunity</object>
            </objects>
        </targetConfig>
    </targetConfigs>
</LightningComponentBundle>
"""


def test_lwc_meta_with_target_configs_is_valid(tmp_path):
    project = make_project(tmp_path, {
        "metadata/main/default/lwc/board/board.js-meta.xml":
            LWC_META.format(exposed="true", target="lightning__RecordPage"),
        "metadata/main/default/lwc/board/board.js": "export default class Board {}\n",
    })
    assert validate_tree(project) == ValidationReport(files_checked=1, problems=[])


def test_lwc_meta_problems_keep_their_lines(tmp_path):
    project = make_project(tmp_path, {
        "metadata/main/default/lwc/board/board.js-meta.xml":
            LWC_META.format(exposed="yes", target="lightning__AppPage"),
    })
    rel = "metadata/main/default/lwc/board/board.js-meta.xml"
    assert lines(validate_tree(project)) == [
        f"{rel}:4: <isExposed>: 'yes' is not a valid boolean value (use true or false)",
        f"{rel}:9: <targetConfig> is for target lightning__AppPage, which is not listed in <targets>",
    ]


def test_lwc_tests_folder_is_not_checked(tmp_path):
    project = make_project(tmp_path, {
        "metadata/main/default/lwc/board/__tests__/data.xml-meta.xml": "<not xml",
        "metadata/main/default/lwc/jsconfig.json": "{}",
    })
    assert validate_tree(project) == ValidationReport(files_checked=0, problems=[])


def test_missing_sfdx_project_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no sfdx-project.json in"):
        validate_tree(tmp_path)


def test_problem_str():
    assert str(Problem(path="metadata/a.field-meta.xml", line=7, message="boom")) == \
        "metadata/a.field-meta.xml:7: boom"


# ----------------------------------------------------------------------------- schema


def test_schema_is_compiled_once_per_process():
    assert load_schema() is load_schema()
    assert load_schema().path == PACKAGED_XSD


def test_schema_path_override_by_env(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "custom.xsd"))
    assert xsd_path() == tmp_path / "custom.xsd"
    assert xsd_path(tmp_path / "arg.xsd") == tmp_path / "arg.xsd"
    with pytest.raises(UsageError, match="metadata schema not found: .*custom.xsd"):
        load_schema()


def test_schema_child_order_follows_the_wsdl_sequence():
    order = load_schema().child_order("CustomObject")
    assert order[:2] == ["fullName", "module"]
    assert order.index("fieldSets") + 1 == order.index("fields") == order.index("gender") - 1
    assert order.index("startsWith") + 1 == order.index("validationRules") == order.index("visibility") - 1


@pytest.mark.skipif(not WSDL.is_file(), reason="shared WSDL not present")
def test_shipped_xsd_is_what_the_generator_builds():
    assert generate_xsd(WSDL) == PACKAGED_XSD.read_bytes()


# ----------------------------------------------------------------------------- companions, links, XXE, encoding
CLASSES = "metadata/main/default/classes"
CLASS_META = ('<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n'
              "    <apiVersion>66.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n")
PLAIN_LWC_META = ('<?xml version="1.0" encoding="UTF-8"?>\n<LightningComponentBundle '
            'xmlns="http://soap.sforce.com/2006/04/metadata">\n    <apiVersion>66.0</apiVersion>\n'
            "    <isExposed>false</isExposed>\n</LightningComponentBundle>\n")
RESOURCE_META = ('<?xml version="1.0" encoding="UTF-8"?>\n<StaticResource xmlns="http://soap.sforce.com/2006/04/metadata">'
                 "\n    <cacheControl>Private</cacheControl>\n    <contentType>text/plain</contentType>\n"
                 "</StaticResource>\n")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_source_files_without_their_meta_xml_are_reported(tmp_path):
    root = make_project(tmp_path, {
        f"{CLASSES}/X.cls": "public class X {}\n",
        f"{CLASSES}/Ok.cls": "public class Ok {}\n",
        f"{CLASSES}/Ok.cls-meta.xml": CLASS_META,
        "metadata/main/default/triggers/T.trigger": "trigger T on Account (before insert) {}\n",
        "metadata/main/default/staticresources/notes.txt": "hello\n",
        "metadata/main/default/lwc/board/board.js": "export default class Board {}\n",
        "metadata/main/default/lwc/board/board.html": "<template></template>\n",
        "metadata/main/default/lwc/fine/fine.js": "export default class Fine {}\n",
        "metadata/main/default/lwc/fine/fine.js-meta.xml": PLAIN_LWC_META,
    })
    assert lines(validate_tree(root)) == [
        f"{CLASSES}/X.cls:1: X.cls has no X.cls-meta.xml beside it: a ApexClass deploys only with its metadata file",
        "metadata/main/default/lwc/board/board.html:1: Lightning web component board has no board.js-meta.xml in "
        "metadata/main/default/lwc/board/",
        "metadata/main/default/staticresources/notes.txt:1: static resource notes has no notes.resource-meta.xml",
        "metadata/main/default/triggers/T.trigger:1: T.trigger has no T.trigger-meta.xml beside it: a ApexTrigger "
        "deploys only with its metadata file",
    ]


def test_meta_xml_without_its_source_file_is_reported(tmp_path):
    root = make_project(tmp_path, {f"{CLASSES}/Y.cls-meta.xml": CLASS_META,
                                   "metadata/main/default/staticresources/r.resource-meta.xml": RESOURCE_META})
    assert lines(validate_tree(root)) == [
        f"{CLASSES}/Y.cls-meta.xml:1: Y.cls-meta.xml has no Y.cls beside it",
        "metadata/main/default/staticresources/r.resource-meta.xml:1: static resource r has no content file or folder",
    ]


def test_symlinks_leading_outside_the_project_are_reported_and_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    root = make_project(_mkdir(tmp_path / "p"), {f"{CLASSES}/Ok.cls": "public class Ok {}\n",
                                         f"{CLASSES}/Ok.cls-meta.xml": CLASS_META,
                                         f"{CLASSES}/Evil.cls-meta.xml": CLASS_META})
    (root / CLASSES / "Evil.cls").symlink_to(secret)
    (root / CLASSES / "outside").symlink_to(tmp_path, target_is_directory=True)
    (root / CLASSES / "Inside.cls").symlink_to(root / CLASSES / "Ok.cls")  # inside the project: fine
    (root / CLASSES / "Inside.cls-meta.xml").write_text(CLASS_META)
    message = ("symbolic link to a file outside the project: sfsync never packages what it points at; "
               "replace it with the file itself")
    assert lines(validate_tree(root)) == [
        f"{CLASSES}/Evil.cls:1: {message}",
        f"{CLASSES}/Evil.cls-meta.xml:1: Evil.cls-meta.xml has no Evil.cls beside it",
        f"{CLASSES}/outside:1: {message}",
    ]


def test_doctype_and_entities_are_refused_without_resolving_them(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE CustomField [\n  <!ENTITY e SYSTEM "file://{secret}">\n]>\n'
           '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">\n    <fullName>Bad__c</fullName>\n'
           "    <label>&e;</label>\n    <length>20</length>\n    <type>Text</type>\n</CustomField>\n")
    undefined = field("    <fullName>Und__c</fullName>\n    <label>&e;</label>\n    <length>20</length>\n"
                      "    <type>Text</type>\n")
    root = make_project(_mkdir(tmp_path / "p"), {f"{FIELDS}/Bad__c.field-meta.xml": xxe,
                                         f"{FIELDS}/Und__c.field-meta.xml": undefined})
    report = validate_tree(root)
    assert lines(report) == [
        f"{FIELDS}/Bad__c.field-meta.xml:2: DOCTYPE and entity declarations are not allowed in metadata files",
        f"{FIELDS}/Und__c.field-meta.xml:4: not well-formed XML: Entity 'e' not defined, line 4, column 15",
    ]
    assert "TOPSECRET" not in report.model_dump_json()


def test_files_that_are_not_utf8_are_reported_with_their_line(tmp_path):
    root = make_project(tmp_path, {f"{CLASSES}/L.cls-meta.xml": CLASS_META,
                                   f"{FIELDS}/Good__c.field-meta.xml": GOOD_TEXT})
    (root / CLASSES / "L.cls").write_bytes(b"public class L {\n    // caf\xe9\n}\n")
    (root / FIELDS / "Latin__c.field-meta.xml").write_bytes(
        GOOD_TEXT.replace("Good", "Latin").replace("<label>Latin</label>", "<label>Lat\xe9n</label>")
        .encode("latin-1"))
    assert lines(validate_tree(root)) == [
        f"{CLASSES}/L.cls:2: the file is not UTF-8 text (byte 0xe9 cannot be decoded): save it as UTF-8",
        f"{FIELDS}/Latin__c.field-meta.xml:4: the file is not UTF-8 text (byte 0xe9 cannot be decoded): save it as UTF-8",
    ]


def test_an_unexpected_lxml_error_is_a_problem_on_that_file(tmp_path, monkeypatch):
    from lxml import etree

    import sfsync.validation as validation

    def boom(item, root, problem):
        raise etree.XMLSchemaValidateError("Internal error in XML Schema validation.")

    monkeypatch.setattr(validation, "_check_field", boom)
    root = make_project(tmp_path, {f"{FIELDS}/Good__c.field-meta.xml": GOOD_TEXT})
    assert lines(validate_tree(root)) == [
        f"{FIELDS}/Good__c.field-meta.xml:1: cannot check the file: XMLSchemaValidateError: "
        "Internal error in XML Schema validation."]
