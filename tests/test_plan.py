"""sfsync.plan: retrieve/listMetadata bodies (WSDL order), answers, and the component comparison."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest
from lxml import etree

from sfsync.errors import SalesforceApiError, SfsyncFailure
from sfsync.plan import (
    ComponentChange,
    compare,
    components_of_zip,
    list_metadata,
    list_metadata_request_xml,
    retrieve,
    retrieve_request_xml,
)

MD = "http://soap.sforce.com/2006/04/metadata"
M = f"{{{MD}}}"

OBJECT = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields>
        <fullName>Model__c</fullName>
        <label>{label}</label>
        <length>80</length>
        <type>Text</type>
    </fields>
    {extra}
    <label>Test Drive Reservation</label>
    <nameField>
        <label>Reservation Name</label>
        <type>Text</type>
    </nameField>
    <sharingModel>ControlledByParent</sharingModel>
</CustomObject>
"""
CLASS = b"public with sharing class ReservationSelector {}\n"
CLASS_META = (b'<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">'
              b"<apiVersion>66.0</apiVersion><status>Active</status></ApexClass>\n")


def make_zip(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return buf.getvalue()


def children(xml: bytes) -> list[tuple[str, str | None]]:
    return [(etree.QName(c).localname, c.text) for c in etree.fromstring(xml).iter() if c.text and c.text.strip()]


def test_retrieve_body_follows_retrieve_request_sequence():
    body = retrieve_request_xml([("CustomField", "B__c.X__c"), ("ApexClass", "Zed"), ("ApexClass", "Alpha")])
    root = etree.fromstring(body)
    assert etree.QName(root).localname == "retrieve"
    request = root[0]
    assert [etree.QName(c).localname for c in request] == ["apiVersion", "singlePackage", "unpackaged"]
    assert children(body) == [("apiVersion", "66.0"), ("singlePackage", "true"), ("members", "Alpha"),
                              ("members", "Zed"), ("name", "ApexClass"), ("members", "B__c.X__c"),
                              ("name", "CustomField"), ("version", "66.0")]
    assert b"None" not in body


def test_list_metadata_body_has_queries_then_as_of_version():
    assert children(list_metadata_request_xml(["CustomField", "ApexClass"])) == [
        ("type", "CustomField"), ("type", "ApexClass"), ("asOfVersion", "66.0")]


def test_objects_are_compared_field_by_field():
    local = components_of_zip(make_zip({
        "package.xml": "<Package/>",
        "objects/Test_Drive_Reservation__c.object": OBJECT.format(label="Model", extra=""),
        "classes/ReservationSelector.cls": CLASS, "classes/ReservationSelector.cls-meta.xml": CLASS_META,
    }))
    assert sorted(local) == [("ApexClass", "ReservationSelector"), ("CustomField", "Test_Drive_Reservation__c.Model__c"),
                             ("CustomObject", "Test_Drive_Reservation__c")]
    assert local[("CustomField", "Test_Drive_Reservation__c.Model__c")] == (
        "<fields>\n    <fullName>Model__c</fullName>\n    <label>Model</label>\n    <length>80</length>\n"
        "    <type>Text</type>\n</fields>\n")


def test_plan_lists_removed_first_then_new_changed_unchanged_with_diff():
    removed_field = ("<fields><fullName>Old_Note__c</fullName><label>Note</label><type>Text</type>"
                     "<length>10</length></fields>")
    org_zip = make_zip({  # a retrieve answer: other whitespace, a folder prefix, an extra field
        "unpackaged/package.xml": "<Package/>",
        "unpackaged/objects/Test_Drive_Reservation__c.object": OBJECT.format(label="Model", extra=removed_field)
        .replace("    ", "\t"),
    })
    tree_zip = make_zip({
        "objects/Test_Drive_Reservation__c.object": OBJECT.format(label="モデル名", extra=""),
        "classes/ReservationSelector.cls": CLASS, "classes/ReservationSelector.cls-meta.xml": CLASS_META,
    })
    changes = compare(components_of_zip(tree_zip), components_of_zip(org_zip), with_diff=True)
    assert [(c.state, c.type, c.full_name) for c in changes] == [
        ("removed", "CustomField", "Test_Drive_Reservation__c.Old_Note__c"),
        ("new", "ApexClass", "ReservationSelector"),
        ("changed", "CustomField", "Test_Drive_Reservation__c.Model__c"),
        ("unchanged", "CustomObject", "Test_Drive_Reservation__c"),
    ]
    assert changes[2].diff == (
        "--- org: CustomField Test_Drive_Reservation__c.Model__c\n"
        "+++ tree: CustomField Test_Drive_Reservation__c.Model__c\n"
        "@@ -1,6 +1,6 @@\n <fields>\n     <fullName>Model__c</fullName>\n-    <label>Model</label>\n"
        "+    <label>モデル名</label>\n     <length>80</length>\n     <type>Text</type>\n </fields>\n")


def test_standard_fields_and_other_apps_components_are_never_removable():
    org = {("CustomField", "Test_Drive_Reservation__c.CreatedById"): "x", ("ApexClass", "OtherTeamsClass"): "x",
           ("CustomField", "Account.Region__c"): "x", ("CustomObject", "Test_Drive_Reservation__c"): "o"}
    local = {("CustomObject", "Test_Drive_Reservation__c"): "o"}
    assert compare(local, org) == [ComponentChange(type="CustomObject", full_name="Test_Drive_Reservation__c",
                                                   state="unchanged")]


class ScriptedSoap:
    """Answers Metadata calls in turn with the given operation responses (body children)."""

    def __init__(self, answers: list[str]):
        self.answers = answers
        self.sent: list[bytes] = []

    def soap_metadata(self, body_xml: bytes, soap_action: str):
        self.sent.append(body_xml)
        return etree.fromstring(self.answers[len(self.sent) - 1])


def retrieve_result(status: str, done: bool, zip_bytes: bytes | None = None, messages: str = "") -> str:
    zip_el = f"<zipFile>{base64.b64encode(zip_bytes).decode()}</zipFile>" if zip_bytes else "<zipFile/>"
    return (f'<checkRetrieveStatusResponse xmlns="{MD}"><result><done>{str(done).lower()}</done>'
            f"<id>09S5g00000AbCdEEAV</id>{messages}<status>{status}</status>"
            f"<success>{str(status == 'Succeeded').lower()}</success>{zip_el}</result></checkRetrieveStatusResponse>")


ASYNC = (f'<retrieveResponse xmlns="{MD}"><result><done>false</done><id>09S5g00000AbCdEEAV</id>'
         "<state>Queued</state></result></retrieveResponse>")


def test_retrieve_polls_until_done_and_returns_the_zip_and_messages():
    zip_bytes = make_zip({"package.xml": "<Package/>"})
    missing = ("<messages><fileName>package.xml</fileName><problem>Entity of type 'ApexClass' named "
               "'ReservationSelector' cannot be found</problem></messages>")
    client = ScriptedSoap([ASYNC, retrieve_result("InProgress", False), retrieve_result("Succeeded", True, zip_bytes,
                                                                                       missing)])
    status = retrieve(client, [("ApexClass", "ReservationSelector")], sleep=lambda s: None)
    assert (status.status, status.zip_bytes) == ("Succeeded", zip_bytes)
    assert status.messages == ["package.xml: Entity of type 'ApexClass' named 'ReservationSelector' cannot be found"]
    assert [etree.QName(etree.fromstring(b)).localname for b in client.sent] == [
        "retrieve", "checkRetrieveStatus", "checkRetrieveStatus"]
    assert children(client.sent[1]) == [("asyncProcessId", "09S5g00000AbCdEEAV"), ("includeZip", "true")]


def test_retrieve_unknown_status_is_an_error():
    client = ScriptedSoap([ASYNC, retrieve_result("Exploded", False)])
    with pytest.raises(SalesforceApiError, match="unknown status 'Exploded'"):
        retrieve(client, [("ApexClass", "A")], sleep=lambda s: None)


def test_retrieve_that_never_ends_stops_at_the_limit():
    t = [0.0]
    client = ScriptedSoap([ASYNC] + [retrieve_result("InProgress", False)] * 4)
    with pytest.raises(SfsyncFailure, match="retrieve 09S5g00000AbCdEEAV still InProgress after 3 s"):
        retrieve(client, [("ApexClass", "A")], wait_seconds=3, clock=lambda: t[0],
                 sleep=lambda s: t.__setitem__(0, t[0] + s))
    assert len(client.sent) == 5


def test_list_metadata_asks_three_types_per_call():
    def answer(*rows):
        items = "".join(
            f"<result><createdById>0055g00000AbCdE</createdById><createdByName>Admin</createdByName>"
            f"<createdDate>2026-12-01T00:00:00.000Z</createdDate><fileName>{f}</fileName><fullName>{n}</fullName>"
            f"<id>01p5g000001AbCd</id><lastModifiedById>0055g00000AbCdE</lastModifiedById>"
            f"<lastModifiedByName>Admin</lastModifiedByName><lastModifiedDate>2026-12-02T00:00:00.000Z"
            f"</lastModifiedDate><manageableState>unmanaged</manageableState><type>{t}</type></result>"
            for t, n, f in rows)
        return f'<listMetadataResponse xmlns="{MD}">{items}</listMetadataResponse>'

    client = ScriptedSoap([answer(("ApexClass", "Zed", "classes/Zed.cls")), answer(("Flow", "F", "flows/F.flow"))])
    found = list_metadata(client, ["ApexClass", "ApexTrigger", "CustomField", "Flow"])
    assert [(f.type, f.full_name, f.file_name, f.manageable_state) for f in found] == [
        ("ApexClass", "Zed", "classes/Zed.cls", "unmanaged"), ("Flow", "F", "flows/F.flow", "unmanaged")]
    assert [len(etree.fromstring(b).findall(f"{M}queries")) for b in client.sent] == [3, 1]
