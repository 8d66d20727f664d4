"""describeGlobal and describe of the local org, built from the deployed metadata of this project."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sfsync.local_org import LocalOrgServer, local_org_info
from sfsync.local_org.deployer import Deployer, apply_plan
from sfsync.packaging import build_package

pytestmark = pytest.mark.e2e
V = "/services/data/v66.0"
RES = "Test_Drive_Reservation__c"


@pytest.fixture(scope="module")
def org(tmp_path_factory, request):
    state = tmp_path_factory.mktemp("describe") / "org"
    repo = Path(request.config.rootpath)
    with LocalOrgServer(state) as srv:
        # Deployed in-process (the Metadata API path has its own tests).
        plan = Deployer(srv.org.catalog).plan(build_package(repo).zip_bytes)
        assert plan.error_message is None and not [m for m in plan.messages if m.problem]
        srv.org.publish_catalog(apply_plan(srv.org, plan))
        srv.org.store.release()
        info = local_org_info(state)
        s = requests.Session()
        s.trust_env = False
        s.verify = str(info.ca_file)
        token = s.post(f"{srv.instance_url}/services/oauth2/token", data={
            "grant_type": "password", "username": info.username, "password": info.password.get_secret_value()}).json()
        s.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield srv, s


def _get(org, path):
    srv, s = org
    r = s.get(srv.instance_url + V + path)
    assert r.status_code == 200, r.text
    return r.json()


def test_describe_global_lists_every_object_with_its_urls(org):
    body = _get(org, "/sobjects")
    assert (body["encoding"], body["maxBatchSize"]) == ("UTF-8", 200)
    names = [o["name"] for o in body["sobjects"]]
    assert names == sorted(names, key=str.lower)
    assert {"Account", "Contact", "Opportunity", "User", "Organization", "CustomNotificationType",
            "Dealer_Store__c", "Test_Drive_Vehicle__c", RES} <= set(names)
    res = next(o for o in body["sobjects"] if o["name"] == RES)
    assert res["label"] == "Test Drive Reservation"
    assert (res["custom"], res["queryable"], res["createable"], res["updateable"], res["deletable"]) == (
        True, True, True, True, True)
    assert len(res["keyPrefix"]) == 3
    assert res["urls"] == {
        "compactLayouts": f"{V}/sobjects/{RES}/describe/compactLayouts",
        "rowTemplate": f"{V}/sobjects/{RES}/{{ID}}",
        "approvalLayouts": f"{V}/sobjects/{RES}/describe/approvalLayouts",
        "defaultValues": f"{V}/sobjects/{RES}/defaultValues?recordTypeId&fields",
        "listviews": f"{V}/sobjects/{RES}/listviews",
        "describe": f"{V}/sobjects/{RES}/describe",
        "quickActions": f"{V}/sobjects/{RES}/quickActions",
        "layouts": f"{V}/sobjects/{RES}/describe/layouts",
        "sobject": f"{V}/sobjects/{RES}",
    }
    org_entry = next(o for o in body["sobjects"] if o["name"] == "Organization")
    assert (org_entry["createable"], org_entry["updateable"], org_entry["deletable"], org_entry["custom"]) == (
        False, False, False, False)


def test_describe_reservation_fields(org):
    body = _get(org, f"/sobjects/{RES}/describe")
    assert body["name"] == RES and body["labelPlural"]
    fields = {f["name"]: f for f in body["fields"]}
    status = fields["Status__c"]
    assert (status["type"], status["nillable"], status["restrictedPicklist"], status["soapType"]) == (
        "picklist", False, True, "xsd:string")
    assert status["picklistValues"] == [
        {"active": True, "defaultValue": True, "label": "Scheduled", "validFor": None, "value": "Scheduled"},
        {"active": True, "defaultValue": False, "label": "Completed", "validFor": None, "value": "Completed"},
        {"active": True, "defaultValue": False, "label": "Cancelled", "validFor": None, "value": "Cancelled"},
    ]
    opp = fields["Opportunity__c"]
    assert (opp["type"], opp["referenceTo"], opp["relationshipName"], opp["cascadeDelete"], opp["soapType"]) == (
        "reference", ["Opportunity"], "Opportunity__r", True, "tns:ID")
    start = fields["Scheduled_Start__c"]
    assert (start["type"], start["soapType"], start["nillable"], start["createable"], start["updateable"]) == (
        "datetime", "xsd:dateTime", False, True, True)
    ident = fields["Id"]
    assert (ident["type"], ident["length"], ident["createable"], ident["updateable"], ident["idLookup"]) == (
        "id", 18, False, False, True)
    for f in body["fields"]:
        assert {"name", "type", "label", "length", "nillable", "createable", "updateable", "picklistValues",
                "referenceTo", "relationshipName"} <= set(f), f["name"]


def test_describe_opportunity_child_relationships(org):
    body = _get(org, "/sobjects/Opportunity/describe")
    rel = [r for r in body["childRelationships"] if r["childSObject"] == RES]
    assert rel == [{
        "cascadeDelete": True, "childSObject": RES, "deprecatedAndHidden": False, "field": "Opportunity__c",
        "junctionIdListNames": [], "junctionReferenceTo": [], "relationshipName": "Test_Drive_Reservations__r",
        "restrictedDelete": False,
    }]


def test_describe_names_are_case_insensitive_and_unknown_is_not_found(org):
    assert _get(org, "/sobjects/test_drive_reservation__c/describe")["name"] == RES
    srv, s = org
    r = s.get(srv.instance_url + V + "/sobjects/Nope__c/describe")
    assert (r.status_code, r.json()) == (404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])


def test_sobject_basic_info(org):
    body = _get(org, "/sobjects/Account")
    assert sorted(body) == ["objectDescribe", "recentItems"]
    assert (body["objectDescribe"]["name"], body["objectDescribe"]["keyPrefix"], body["recentItems"]) == ("Account", "001", [])
