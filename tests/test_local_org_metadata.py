"""Metadata API SOAP of the local org: deploy, checkDeployStatus, schema changes."""

from __future__ import annotations

import io
import zipfile

import pytest
import requests
from lxml import etree


pytestmark = pytest.mark.e2e
MD = "http://soap.sforce.com/2006/04/metadata"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"m": MD, "s": SOAP}
V = "/services/data/v66.0"

PACKAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types><members>*</members><name>CustomObject</name></types>
    <version>66.0</version>
</Package>
"""


def object_xml(fields: str, label: str = "Car") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
{fields}
    <label>{label}</label>
    <nameField><label>{label} Name</label><type>Text</type></nameField>
    <pluralLabel>{label}s</pluralLabel>
</CustomObject>
""".encode()


COLOR = """    <fields>
        <fullName>Color__c</fullName><label>Color</label><type>Picklist</type>
        <valueSet><restricted>true</restricted><valueSetDefinition><sorted>false</sorted>
            <value><fullName>Red</fullName><default>true</default><label>Red</label></value>
            <value><fullName>Blue</fullName><default>false</default><label>Blue</label></value>
        </valueSetDefinition></valueSet>
    </fields>"""
SEEN = """    <fields><fullName>Seen__c</fullName><label>Seen</label><type>DateTime</type><required>true</required></fields>"""
OPP = """    <fields><fullName>Opp__c</fullName><label>Opp</label><type>MasterDetail</type><referenceTo>Opportunity</referenceTo>
        <relationshipName>Cars</relationshipName></fields>"""
NOTIF = b"""<?xml version="1.0" encoding="UTF-8"?>
<CustomNotificationType xmlns="http://soap.sforce.com/2006/04/metadata">
    <customNotifTypeName>Overdue</customNotifTypeName>
    <desktop>true</desktop>
    <masterLabel>Overdue</masterLabel>
    <mobile>true</mobile>
</CustomNotificationType>
"""
APEX = b"public class Hello { }"
APEX_META = b"""<?xml version="1.0" encoding="UTF-8"?>
<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>66.0</apiVersion><status>Active</status></ApexClass>
"""


def make_zip(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("package.xml", PACKAGE)
        for name, data in files.items():
            z.writestr(name, data)
    buf.seek(0)
    return buf






def deploy(org, files: dict[str, bytes], **kw) -> tuple[str, dict]:
    srv, _, sf = org
    started = sf.deploy(make_zip(files), sandbox=False, **kw)
    assert started["state"] == "Queued"
    assert started["asyncId"].startswith("0Af")
    srv.app.metadata.wait_idle()
    return started["asyncId"], sf.checkDeployStatus(started["asyncId"])


def soap_check(org, job_id: str) -> etree._Element:
    srv, session, sf = org
    body = f"""<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:met="{MD}"><soapenv:Header><met:SessionHeader>
<met:sessionId>{sf.session_id}</met:sessionId></met:SessionHeader></soapenv:Header><soapenv:Body>
<met:checkDeployStatus><met:asyncProcessId>{job_id}</met:asyncProcessId><met:includeDetails>true</met:includeDetails>
</met:checkDeployStatus></soapenv:Body></soapenv:Envelope>"""
    r = session.post(f"{srv.instance_url}/services/Soap/m/66.0/{job_id}", data=body, headers={"Content-Type": "text/xml", "SOAPAction": "checkDeployStatus"})
    assert r.status_code == 200
    return etree.fromstring(r.content).find("s:Body/m:checkDeployStatusResponse/m:result", NS)


def test_deploy_creates_custom_object_and_status_parses(org):
    srv, session, sf = org
    job_id, status = deploy(org, {"objects/Car__c.object": object_xml(COLOR + SEEN + OPP)})
    assert status == {
        "state": "Succeeded",
        "state_detail": None,
        "deployment_detail": {"total_count": "4", "failed_count": "0", "deployed_count": "4", "errors": []},
        "unit_test_detail": {"total_count": "0", "failed_count": "0", "completed_count": "0", "errors": []},
    }
    opp = sf.Opportunity.create({"Name": "o", "StageName": "Prospecting", "CloseDate": "2026-12-01"})["id"]
    car = sf.Car__c.create({"Name": "c1", "Opp__c": opp, "Seen__c": "2026-11-24T00:00:00+09:00"})
    assert car == {"id": "a00000000000001AAA", "success": True, "errors": []}
    rows = sf.query("SELECT Name, Color__c, Seen__c, Opp__r.Name FROM Car__c")["records"]
    assert [(r["Name"], r["Color__c"], r["Seen__c"], r["Opp__r"]["Name"]) for r in rows] == [
        ("c1", "Red", "2026-11-23T15:00:00.000+0000", "o")
    ]
    r = session.post(srv.instance_url + V + "/sobjects/Car__c", json={"Name": "c2", "Opp__c": opp, "Seen__c": "2026-11-24T00:00:00Z", "Color__c": "Green"})
    assert r.json() == [{"message": "Color: bad value for restricted picklist field: Green",
                         "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Color__c"]}]
    # Master-detail: deleting the master deletes the detail.
    sf.Opportunity.delete(opp)
    assert sf.query("SELECT COUNT() FROM Car__c")["totalSize"] == 0


def test_deploy_result_has_wsdl_element_order(org):
    job_id, _ = deploy(org, {"objects/Car__c.object": object_xml(SEEN)})
    result = soap_check(org, job_id)
    names = [etree.QName(c).localname for c in result]
    assert names == [
        "checkOnly", "completedDate", "createdBy", "createdByName", "createdDate", "details", "done", "id",
        "ignoreWarnings", "lastModifiedDate", "numberComponentErrors", "numberComponentsDeployed",
        "numberComponentsTotal", "numberTestErrors", "numberTestsCompleted", "numberTestsTotal",
        "rollbackOnError", "runTestsEnabled", "startDate", "status", "success",
    ]
    successes = result.findall("m:details/m:componentSuccesses", NS)
    summary = [(s.findtext("m:componentType", namespaces=NS), s.findtext("m:fullName", namespaces=NS),
                s.findtext("m:fileName", namespaces=NS), s.findtext("m:created", namespaces=NS)) for s in successes]
    assert summary == [
        ("", "package.xml", "package.xml", "false"),
        ("CustomObject", "Car__c", "objects/Car__c.object", "true"),
        ("CustomField", "Car__c.Seen__c", "objects/Car__c.object", "true"),
    ]
    assert [etree.QName(c).localname for c in successes[1]] == [
        "changed", "componentType", "created", "createdDate", "deleted", "fileName", "fullName", "success"
    ]
    assert result.findtext("m:details/m:runTestResult/m:numTestsRun", namespaces=NS) == "0"
    assert (result.findtext("m:status", namespaces=NS), result.findtext("m:done", namespaces=NS),
            result.findtext("m:success", namespaces=NS)) == ("Succeeded", "true", "true")


BROKEN = [
    (b"<CustomObject xmlns='http://soap.sforce.com/2006/04/metadata'>\n<label>Car</label>\n<fields>\n</CustomObject>",
     "CustomObject", "Car__c", "4"),
    (object_xml("    <fields><fullName>X__c</fullName><label>X</label><type>Bogus</type></fields>"),
     "CustomField", "Car__c.X__c", "3"),
    (object_xml("    <fields><fullName>L__c</fullName><label>L</label><type>Lookup</type>\n<referenceTo>Nope__c</referenceTo></fields>"),
     "CustomField", "Car__c.L__c", "4"),
]


@pytest.mark.parametrize("content, ctype, full_name, line", BROKEN)
def test_broken_component_fails_and_applies_nothing(org, content, ctype, full_name, line):
    srv, session, sf = org
    job_id, status = deploy(org, {
        "objects/Car__c.object": content,
        "notificationtypes/Overdue.notiftype": NOTIF,
    })
    assert status["state"] == "Failed"
    assert status["deployment_detail"]["failed_count"] == "1"
    [error] = status["deployment_detail"]["errors"]
    assert (error["type"], error["file"], error["status"]) == (ctype, "objects/Car__c.object", "Error")
    failure = soap_check(org, job_id).find("m:details/m:componentFailures", NS)
    assert failure.findtext("m:fullName", namespaces=NS) == full_name
    assert failure.findtext("m:lineNumber", namespaces=NS) == line
    # All or nothing: the valid notification type was not applied either.
    assert sf.query("SELECT Id FROM CustomNotificationType")["totalSize"] == 0
    assert session.get(srv.instance_url + V + "/sobjects/Car__c").status_code == 404


def test_broken_component_messages(org):
    _, status = deploy(org, {"objects/Car__c.object": BROKEN[1][0]})
    assert status["deployment_detail"]["errors"][0]["message"] == "'Bogus' is not a valid value for the enum 'FieldType'"
    _, status = deploy(org, {"objects/Car__c.object": BROKEN[2][0]})
    assert status["deployment_detail"]["errors"][0]["message"] == (
        "referenceTo value of 'Nope__c' does not resolve to a valid sObject type"
    )


def test_check_only_applies_nothing(org):
    srv, session, _ = org
    _, status = deploy(org, {"objects/Car__c.object": object_xml(SEEN)}, checkOnly=True)
    assert status["state"] == "Succeeded"
    assert session.get(srv.instance_url + V + "/sobjects/Car__c").status_code == 404


def test_notification_types_and_other_components(org):
    srv, _, sf = org
    _, status = deploy(org, {
        "notificationtypes/Test_Drive_Overdue.notiftype": NOTIF,
        "classes/Hello.cls": APEX,
        "classes/Hello.cls-meta.xml": APEX_META,
    })
    assert status["state"] == "Succeeded"
    assert status["deployment_detail"]["total_count"] == "2"
    rows = sf.query("SELECT Id, DeveloperName, MasterLabel FROM CustomNotificationType")["records"]
    assert [(r["Id"], r["DeveloperName"], r["MasterLabel"]) for r in rows] == [
        ("0ML000000000001GAA", "Test_Drive_Overdue", "Overdue")
    ]
    stored = [(r["type"], r["full_name"]) for r in srv.org.store.components()]
    assert stored == [("ApexClass", "Hello"), ("CustomNotificationType", "Test_Drive_Overdue")]


def test_redeploy_adds_columns_and_changes_picklist(org):
    srv, session, sf = org
    deploy(org, {"objects/Car__c.object": object_xml(SEEN)})
    sf.Car__c.create({"Name": "old", "Seen__c": "2026-01-01T00:00:00Z"})
    _, status = deploy(org, {"objects/Car__c.object": object_xml(SEEN + COLOR.replace("Blue", "Green"))})
    assert status["state"] == "Succeeded"
    rows = sf.query("SELECT Name, Color__c FROM Car__c")["records"]
    assert [(r["Name"], r["Color__c"]) for r in rows] == [("old", None)]
    assert sf.Car__c.create({"Name": "new", "Seen__c": "2026-01-01T00:00:00Z", "Color__c": "Green"})["success"] is True
    r = session.post(srv.instance_url + V + "/sobjects/Car__c", json={"Name": "n", "Seen__c": "2026-01-01T00:00:00Z", "Color__c": "Blue"})
    assert r.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_indexes_on_reference_datetime_and_picklist_columns(org):
    srv, _, _ = org
    deploy(org, {"objects/Car__c.object": object_xml(COLOR + SEEN + OPP)})
    conn = srv.org.store.conn()
    indexed = sorted(
        conn.execute(f"PRAGMA index_info('{name}')").fetchone()[2]
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='Car__c' AND name LIKE 'ix_%'")
    )
    assert indexed == ["Color__c", "CreatedById", "CreatedDate", "LastModifiedById", "LastModifiedDate",
                       "Opp__c", "Seen__c", "SystemModstamp"]


def test_soap_without_valid_session_is_fault(org):
    srv, session, _ = org
    body = f"""<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:met="{MD}"><soapenv:Header><met:SessionHeader>
<met:sessionId>bogus</met:sessionId></met:SessionHeader></soapenv:Header><soapenv:Body>
<met:checkDeployStatus><met:asyncProcessId>0Af000000000001AAA</met:asyncProcessId></met:checkDeployStatus>
</soapenv:Body></soapenv:Envelope>"""
    r = requests.post(f"{srv.instance_url}/services/Soap/m/66.0", data=body, verify=session.verify,
                      headers={"Content-Type": "text/xml", "SOAPAction": "checkDeployStatus"})
    assert r.status_code == 500
    fault = etree.fromstring(r.content).find("s:Body/s:Fault", NS)
    assert fault.findtext("faultcode") == "sf:INVALID_SESSION_ID"
    assert fault.findtext("faultstring") == "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session"
    assert fault.findtext(f"detail/{{{MD}}}UnexpectedErrorFault/{{{MD}}}exceptionCode") == "INVALID_SESSION_ID"


def test_unknown_deploy_id_is_fault(org):
    srv, session, sf = org
    with pytest.raises(Exception) as err:
        sf.checkDeployStatus("0Af000000000099AAA")
    assert "INVALID_CROSS_REFERENCE_KEY" in str(err.value)


MDT = b"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields><fullName>Buffer_Minutes__c</fullName><label>Buffer Minutes</label><precision>4</precision>
        <required>true</required><scale>0</scale><type>Number</type></fields>
    <label>Booking Buffer</label>
    <pluralLabel>Booking Buffers</pluralLabel>
    <visibility>Public</visibility>
</CustomObject>
"""


def md_record(field: str = "Buffer_Minutes__c", value: str = "30") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomMetadata xmlns="http://soap.sforce.com/2006/04/metadata" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
    <label>Electric</label>
    <protected>false</protected>
    <values><field>{field}</field><value xsi:type="xsd:double">{value}</value></values>
</CustomMetadata>
""".encode()


def test_custom_metadata_type_and_records(org):
    srv, session, sf = org
    _, status = deploy(org, {
        "objects/Booking_Buffer__mdt.object": MDT,
        "customMetadata/Booking_Buffer.Electric.md": md_record(),
    })
    assert status["state"] == "Succeeded"
    rows = sf.query("SELECT Id, DeveloperName, MasterLabel, Buffer_Minutes__c FROM Booking_Buffer__mdt")["records"]
    assert [(r["Id"], r["DeveloperName"], r["MasterLabel"], r["Buffer_Minutes__c"]) for r in rows] == [
        ("m00000000000001AAA", "Electric", "Electric", 30.0)
    ]
    r = session.post(srv.instance_url + V + "/sobjects/Booking_Buffer__mdt", json={"DeveloperName": "X"})
    assert r.json() == [{"message": "entity type Booking_Buffer__mdt does not support this operation",
                         "errorCode": "INVALID_TYPE_FOR_OPERATION"}]
    # Redeploying a record updates it in place.
    deploy(org, {"objects/Booking_Buffer__mdt.object": MDT, "customMetadata/Booking_Buffer.Electric.md": md_record(value="45")})
    rows = sf.query("SELECT DeveloperName, Buffer_Minutes__c FROM Booking_Buffer__mdt")["records"]
    assert [(r["DeveloperName"], r["Buffer_Minutes__c"]) for r in rows] == [("Electric", 45.0)]


@pytest.mark.parametrize("record, problem", [
    (md_record(field="Nope__c"), "Invalid field Nope__c for custom metadata type Booking_Buffer__mdt"),
    (md_record(value="lots"), "Invalid value for field Buffer_Minutes__c: lots"),
])
def test_bad_custom_metadata_record_fails(org, record, problem):
    _, status = deploy(org, {"objects/Booking_Buffer__mdt.object": MDT, "customMetadata/Booking_Buffer.Electric.md": record})
    assert status["state"] == "Failed"
    assert [(e["type"], e["file"], e["message"]) for e in status["deployment_detail"]["errors"]] == [
        ("CustomMetadata", "customMetadata/Booking_Buffer.Electric.md", problem)
    ]


def test_valid_but_unmodelled_field_type_fails_clearly(org):
    _, status = deploy(org, {"objects/Car__c.object": object_xml(
        "    <fields><fullName>T__c</fullName><label>T</label><type>Time</type></fields>")})
    assert [(e["type"], e["message"]) for e in status["deployment_detail"]["errors"]] == [
        ("CustomField", "Field type Time is not supported by the local org")
    ]


def test_formula_field_is_read_only(org):
    srv, session, sf = org
    deploy(org, {"objects/Car__c.object": object_xml(
        "    <fields><fullName>F__c</fullName><label>F</label><type>Text</type><formula>Name</formula></fields>")})
    r = session.post(srv.instance_url + V + "/sobjects/Car__c", json={"Name": "c", "F__c": "x"})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert sf.Car__c.create({"Name": "c"})["success"] is True


def test_zip_without_package_xml_fails(org):
    srv, _, sf = org
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("objects/Car__c.object", object_xml(SEEN))
    started = sf.deploy(buf, sandbox=False)
    srv.app.metadata.wait_idle()
    status = sf.checkDeployStatus(started["asyncId"])
    assert status["state"] == "Failed"
    assert status["deployment_detail"]["failed_count"] == "1"
    assert status["deployment_detail"]["errors"] == [
        {"type": None, "file": "package.xml", "status": "Error", "message": "No package.xml found"}
    ]


def test_not_a_zip_fails_with_error_message(org):
    srv, _, sf = org
    started = sf.deploy(io.BytesIO(b"not a zip"), sandbox=False)
    srv.app.metadata.wait_idle()
    result = soap_check(org, started["asyncId"])
    assert result.findtext("m:status", namespaces=NS) == "Failed"
    assert result.findtext("m:errorMessage", namespaces=NS) == "The zip file is not valid"


def test_unique_and_length_checks_on_custom_fields(org):
    srv, session, sf = org
    deploy(org, {"objects/Car__c.object": object_xml(
        "    <fields><fullName>Code__c</fullName><label>Code</label><type>Text</type><length>5</length>"
        "<unique>true</unique><externalId>true</externalId></fields>")})
    first = sf.Car__c.create({"Name": "a", "Code__c": "S1"})["id"]
    r = session.post(srv.instance_url + V + "/sobjects/Car__c", json={"Name": "b", "Code__c": "s1"})
    assert r.json() == [{"message": f"duplicate value found: Code__c duplicates value on record with id: {first}",
                         "errorCode": "DUPLICATE_VALUE", "fields": []}]
    r = session.post(srv.instance_url + V + "/sobjects/Car__c", json={"Name": "b", "Code__c": "TOOLONG"})
    assert r.json() == [{"message": "Code: data value too large: TOOLONG (max length=5)",
                         "errorCode": "STRING_TOO_LONG", "fields": ["Code__c"]}]
    # Updating a record to its own value is not a duplicate.
    assert sf.Car__c.update(first, {"Code__c": "S1"}) == 204


@pytest.mark.parametrize("field, line, problem", [
    ("<fullName>T__c</fullName><label>T</label>\n<type>Text</type>", "3",
     "Must specify 'length' for a CustomField of type Text"),
    ("<fullName>T__c</fullName><label>T</label><type>Text</type>\n<length>0</length>", "4",
     "Length must be between 1 and 255"),
    ("<fullName>T__c</fullName><label>T</label><type>Text</type>\n<length>256</length>", "4",
     "Length must be between 1 and 255"),
    ("<fullName>T__c</fullName><label>T</label><type>Text</type>\n<length>ten</length>", "4",
     "'ten' is not a valid value for the type xsd:int"),
    ("<fullName>T__c</fullName><label>T</label><type>LongTextArea</type><visibleLines>3</visibleLines>", "3",
     "Must specify 'length' for a CustomField of type LongTextArea"),
])
def test_text_field_needs_a_valid_length(org, field, line, problem):
    srv, session, _ = org
    job_id, status = deploy(org, {"objects/Car__c.object": object_xml(f"    <fields>{field}</fields>")})
    assert status["state"] == "Failed"
    failure = soap_check(org, job_id).find("m:details/m:componentFailures", NS)
    assert [failure.findtext(f"m:{tag}", namespaces=NS) for tag in
            ("componentType", "fileName", "fullName", "lineNumber", "problem", "problemType")] == [
        "CustomField", "objects/Car__c.object", "Car__c.T__c", line, problem, "Error"]
    assert session.get(srv.instance_url + V + "/sobjects/Car__c").status_code == 404  # nothing applied
