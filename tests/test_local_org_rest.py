"""The local org's OAuth and REST API, driven through unmodified simple-salesforce and requests."""

from __future__ import annotations

import json

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sfsync.local_org import LocalOrgServer, list_notifications, local_org_info
from conftest import load_reference

pytestmark = pytest.mark.e2e
ADMIN_ID = "005000000000001AAA"
V = "/services/data/v66.0"






def _post(org, path, body, **kw):
    srv, session, _ = org
    return session.post(srv.instance_url + V + path, json=body, **kw)


def test_oauth_password_flow_answers_like_salesforce(tmp_path):
    with LocalOrgServer(tmp_path / "org") as srv:
        info = local_org_info(tmp_path / "org")
        r = requests.post(
            f"{srv.instance_url}/services/oauth2/token",
            data={"grant_type": "password", "username": info.username, "password": info.password.get_secret_value()},
            verify=str(info.ca_file),
        )
        assert r.status_code == 200
        body = r.json()
        assert sorted(body) == ["access_token", "id", "instance_url", "issued_at", "signature", "token_type"]
        assert body["token_type"] == "Bearer"
        assert body["instance_url"] == srv.instance_url
        assert body["id"] == f"{srv.instance_url}/id/00D000000000001EAA/{ADMIN_ID}"
        assert body["access_token"].startswith("00D000000000001EAA!")
        assert body["issued_at"].isdigit()


def test_oauth_wrong_password_is_invalid_grant(tmp_path):
    with LocalOrgServer(tmp_path / "org") as srv:
        info = local_org_info(tmp_path / "org")
        r = requests.post(
            f"{srv.instance_url}/services/oauth2/token",
            data={"grant_type": "password", "username": info.username, "password": "wrong"},
            verify=str(info.ca_file),
        )
        assert r.status_code == 400
        assert r.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
        # Same shape as the reference OAuth error (an object, not an array).
        assert sorted(r.json()) == sorted(load_reference("oauth-token-error.json"))


@pytest.mark.parametrize("auth", [None, "Bearer not-a-token", "Basic abc"])
def test_rest_without_valid_token_is_401_invalid_session(tmp_path, auth):
    with LocalOrgServer(tmp_path / "org") as srv:
        info = local_org_info(tmp_path / "org")
        headers = {"Authorization": auth} if auth else {}
        r = requests.get(f"{srv.instance_url}{V}/limits", headers=headers, verify=str(info.ca_file))
        assert r.status_code == 401
        assert r.json() == load_reference("error-invalid-session-id.json")


def test_simple_salesforce_create_get_update_delete(org):
    _, _, sf = org
    created = sf.Account.create({"Name": "Acme"})
    assert created == {"id": "001000000000001AAA", "success": True, "errors": []}
    record = sf.Account.get(created["id"])
    assert record["attributes"] == {"type": "Account", "url": f"{V}/sobjects/Account/001000000000001AAA"}
    assert record["Name"] == "Acme"
    assert record["OwnerId"] == ADMIN_ID
    assert record["CreatedById"] == ADMIN_ID
    assert record["CreatedDate"].endswith("+0000") and len(record["CreatedDate"]) == 28
    assert sf.Account.update(created["id"], {"Name": "Acme KK"}) == 204
    assert sf.Account.get(created["id"])["Name"] == "Acme KK"
    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Account.get(created["id"])
    assert err.value.content == load_reference("error-not-found.json")


def test_contact_name_is_derived_and_not_writable(org):
    _, _, sf = org
    cid = sf.Contact.create({"FirstName": "Taro", "LastName": "Yamada"})["id"]
    assert sf.Contact.get(cid)["Name"] == "Taro Yamada"
    sf.Contact.update(cid, {"LastName": "Suzuki"})
    assert sf.Contact.get(cid)["Name"] == "Taro Suzuki"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Contact.create({"LastName": "X", "Name": "X"})
    assert err.value.content == [{
        "message": "Unable to create/update fields: Name. Please check the security settings of this field "
                   "and verify that it is read/write for your profile or permission set.",
        "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
        "fields": ["Name"],
    }]


def test_query_and_query_all(org):
    _, _, sf = org
    for name in ("B", "A", "C"):
        sf.Account.create({"Name": name})
    result = sf.query("SELECT Name FROM Account ORDER BY Name")
    assert result["totalSize"] == 3 and result["done"] is True
    assert [r["Name"] for r in result["records"]] == ["A", "B", "C"]
    all_rows = sf.query_all("SELECT Id, Owner.Name FROM Account ORDER BY Id")
    assert [r["Id"] for r in all_rows["records"]] == ["001000000000001AAA", "001000000000002AAA", "001000000000003AAA"]
    assert all_rows["records"][0]["Owner"]["Name"] == "Local Admin"


def test_query_paging_with_batch_size(org):
    srv, session, sf = org
    records = [{"attributes": {"type": "Account"}, "Name": f"N{i:03d}"} for i in range(200)]
    r = _post(org, "/composite/sobjects", {"allOrNone": True, "records": records})
    assert all(x["success"] for x in r.json())
    r = _post(org, "/composite/sobjects", {"allOrNone": True, "records": records[:50]})
    page1 = session.get(f"{srv.instance_url}{V}/query", params={"q": "SELECT Name FROM Account ORDER BY Id"},
                        headers={"Sforce-Query-Options": "batchSize=200"}).json()
    assert page1["totalSize"] == 250 and page1["done"] is False
    assert len(page1["records"]) == 200
    assert page1["nextRecordsUrl"].startswith(f"{V}/query/01g") and page1["nextRecordsUrl"].endswith("-200")
    page2 = session.get(srv.instance_url + page1["nextRecordsUrl"]).json()
    assert page2["done"] is True and page2["totalSize"] == 250 and "nextRecordsUrl" not in page2
    assert [r["Name"] for r in page2["records"]] == [f"N{i:03d}" for i in range(50)]
    # Same keys as a real first page.
    assert sorted(page1) == sorted(load_reference("query-page1-contact-v66.json"))
    assert sf.query_all("SELECT Id FROM Account")["totalSize"] == 250


def test_unknown_field_write_is_invalid_field(org):
    r = _post(org, "/sobjects/Account", {"Name": "x", "Nmae": "y"})
    assert r.status_code == 400
    assert r.json() == [{"message": "No such column 'Nmae' on sobject of type Account", "errorCode": "INVALID_FIELD"}]


def test_bad_restricted_picklist_and_missing_required(org):
    r = _post(org, "/sobjects/Opportunity", {"Name": "Deal", "StageName": "Bogus"})
    assert r.status_code == 400
    assert r.json() == [
        {"message": "Stage: bad value for restricted picklist field: Bogus",
         "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["StageName"]},
        {"message": "Required fields are missing: [CloseDate]", "errorCode": "REQUIRED_FIELD_MISSING",
         "fields": ["CloseDate"]},
    ]


def test_wrong_json_type_is_json_parser_error(org):
    r = _post(org, "/sobjects/Opportunity", {"Name": "Deal", "Amount": "forty"})
    assert r.status_code == 400
    assert r.json() == [{
        "message": "Cannot deserialize instance of double from VALUE_STRING value forty or request may be "
                   "missing a required field at [line:1, column:35]",
        "errorCode": "JSON_PARSER_ERROR",
    }]


def test_unparsable_datetime_is_json_parser_error(org):
    srv, session, _ = org
    r = session.post(srv.instance_url + V + "/sobjects/Opportunity",
                     data='{"Name": "Deal", "CloseDate": "23/11/2026"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert r.json()[0]["message"].startswith("Cannot deserialize instance of date from VALUE_STRING value 23/11/2026")


def test_reference_checks(org):
    _, _, sf = org
    r = _post(org, "/sobjects/Contact", {"LastName": "X", "AccountId": "001xx000003DGb2999"})
    assert r.json() == [{"message": "Account ID: id value of incorrect type: 001xx000003DGb2999",
                         "errorCode": "MALFORMED_ID", "fields": ["AccountId"]}]
    r = _post(org, "/sobjects/Contact", {"LastName": "X", "AccountId": "001000000000009AAA"})
    assert r.json() == [{"message": "invalid cross reference id", "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                         "fields": ["AccountId"]}]


def test_malformed_id_in_url_matches_reference(org):
    srv, session, _ = org
    r = session.get(f"{srv.instance_url}{V}/sobjects/Account/001900K0001pPuOAAU")
    assert r.status_code == 400
    assert r.json() == load_reference("error-malformed-id.json")


def test_unknown_sobject_and_unknown_url_are_not_found(org):
    srv, session, _ = org
    for path in ("/sobjects/Nope__c", "/nothing/here", "/sobjects/Account/001000000000001AAA"):
        r = session.get(srv.instance_url + V + path)
        assert r.status_code == 404
        assert r.json() == load_reference("error-not-found.json")


def test_datetime_in_with_offset_out_in_utc(org):
    _, _, sf = org
    # Contact has no datetime field the client can write; check via CreatedDate round trip on a filter.
    aid = sf.Account.create({"Name": "A"})["id"]
    created = sf.Account.get(aid)["CreatedDate"]
    result = sf.query(f"SELECT Id FROM Account WHERE CreatedDate = {created[:23]}Z")
    assert [r["Id"] for r in result["records"]] == [aid]


def test_collection_partial_failure_matches_reference_shape(org):
    _, _, sf = org
    aid = sf.Account.create({"Name": "A"})["id"]
    r = _post(org, "/composite/sobjects", {"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Id": aid, "Name": "A2"},
        {"attributes": {"type": "Contact"}, "Id": "001xx000003DGb2999", "LastName": "X"},
    ]}, )
    r = org[1].patch(org[0].instance_url + V + "/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Id": aid, "Name": "A2"},
        {"attributes": {"type": "Contact"}, "Id": "001xx000003DGb2999", "LastName": "X"},
    ]})
    assert r.status_code == 200
    reference = load_reference("sobjects-collection-partial-failure.json")
    body = r.json()
    assert body == [{**reference[0], "id": aid}, reference[1]]
    assert sf.Account.get(aid)["Name"] == "A2"


def test_collection_all_or_none_rolls_back_like_reference(org):
    _, _, sf = org
    aid = sf.Account.create({"Name": "A"})["id"]
    srv, session, _ = org
    r = session.patch(srv.instance_url + V + "/composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Id": aid, "Name": "A2"},
        {"attributes": {"type": "Contact"}, "Id": "001xx000003DGb2999", "LastName": "X"},
    ]})
    reference = load_reference("sobjects-collection-allornone-rolled-back.json")
    assert r.json() == [{**reference[0], "id": aid}, reference[1]]
    assert sf.Account.get(aid)["Name"] == "A"


def test_collection_create_per_item_errors_use_status_code(org):
    r = _post(org, "/composite/sobjects", {"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "ok"},
        {"attributes": {"type": "Account"}},
        {"attributes": {"type": "Account"}, "Name": "x", "Bogus": 1},
    ]})
    assert r.json() == [
        {"id": "001000000000001AAA", "success": True, "errors": []},
        {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING",
                                       "message": "Required fields are missing: [Name]", "fields": ["Name"]}]},
        {"success": False, "errors": [{"statusCode": "INVALID_FIELD",
                                       "message": "No such column 'Bogus' on sobject of type Account", "fields": []}]},
    ]


def test_collection_over_200_records_is_refused(org):
    r = _post(org, "/composite/sobjects", {"records": [{"attributes": {"type": "Account"}, "Name": "x"}] * 201})
    assert r.status_code == 400
    assert r.json() == [{"message": "record limit reached. cannot submit more than 200 records into this call",
                         "errorCode": "EXCEEDED_ID_LIMIT"}]


def _notification_type(srv) -> str:
    """Insert a notification type directly (normally created by deploy)."""
    org = srv.org
    nt = org.catalog.get("CustomNotificationType")
    with org.store.transaction() as tx:
        type_id = org.store.next_id(tx, "0ML")
        org.store.insert(tx, nt, {"Id": type_id, "DeveloperName": "Test_Drive_Overdue", "MasterLabel": "Overdue",
                                  "Desktop": 1, "Mobile": 1, "CreatedDate": 0, "LastModifiedDate": 0,
                                  "SystemModstamp": 0, "CreatedById": ADMIN_ID, "LastModifiedById": ADMIN_ID})
    return type_id


def test_custom_notification_success_and_error_shapes(org, tmp_path):
    srv, session, sf = org
    type_id = _notification_type(srv)
    aid = sf.Account.create({"Name": "A"})["id"]
    url = srv.instance_url + V + "/actions/standard/customNotificationAction"
    ok = {"customNotifTypeId": type_id, "recipientIds": [ADMIN_ID], "title": "T", "body": "B", "targetId": aid}
    r = session.post(url, json={"inputs": [ok]})
    assert r.status_code == 200
    assert r.json() == load_reference("custom-notification-action-response.json")
    r = session.post(url, json={"inputs": [{**ok, "targetId": "001000000000099AAA"}]})
    assert r.status_code == 400
    assert r.json() == load_reference("custom-notification-action-error-response.json")
    notes = list_notifications(tmp_path / "org")
    assert [(n.type_developer_name, n.recipient_id, n.recipient_name, n.title, n.body, n.target_id) for n in notes] == [
        ("Test_Drive_Overdue", ADMIN_ID, "Local Admin", "T", "B", aid)
    ]


@pytest.mark.parametrize("change, bad", [
    ({"customNotifTypeId": "0ML000000000099AAA"}, "customNotifTypeId"),
    ({"recipientIds": ["001000000000001AAA"]}, "recipientIds"),
    ({"title": "t" * 251}, "title"),
    ({"body": "b" * 751}, "body"),
])
def test_custom_notification_validation(org, change, bad):
    srv, session, sf = org
    type_id = _notification_type(srv)
    aid = sf.Account.create({"Name": "A"})["id"]
    item = {"customNotifTypeId": type_id, "recipientIds": [ADMIN_ID], "title": "T", "body": "B", "targetId": aid, **change}
    r = session.post(srv.instance_url + V + "/actions/standard/customNotificationAction", json={"inputs": [item]})
    assert r.json() == [{"actionName": "customNotificationAction", "isSuccess": False,
                         "errors": [{"statusCode": "INVALID_ARGUMENT_TYPE", "message": f"Invalid parameter value for: {bad}"}]}]


def test_limits_and_usage_header(org):
    srv, session, _ = org
    first = session.get(srv.instance_url + V + "/limits")
    second = session.get(srv.instance_url + V + "/limits")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    assert second.json()["DailyApiRequests"] == {"Max": 15000, "Remaining": 14998}


def test_older_api_versions_are_accepted(org):
    srv, session, _ = org
    assert session.get(srv.instance_url + "/services/data/v50.0/limits").status_code == 200
    r = session.get(srv.instance_url + "/services/data/v49.0/limits")
    assert r.status_code == 404 and r.json() == load_reference("error-not-found.json")


def test_json_body_error_location(org):
    srv, session, _ = org
    r = session.post(srv.instance_url + V + "/sobjects/Account", data=b'{"Name": }',
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_read_only_objects_refuse_writes(org):
    r = _post(org, "/sobjects/CustomNotificationType", {"DeveloperName": "X"})
    assert r.status_code == 400
    assert r.json() == [{"message": "entity type CustomNotificationType does not support this operation",
                         "errorCode": "INVALID_TYPE_FOR_OPERATION"}]


def test_deleting_parent_clears_lookup(org):
    _, _, sf = org
    aid = sf.Account.create({"Name": "A"})["id"]
    cid = sf.Contact.create({"LastName": "X", "AccountId": aid})["id"]
    sf.Account.delete(aid)
    assert sf.Contact.get(cid)["AccountId"] is None


def test_requests_are_served_concurrently(org):
    import concurrent.futures

    srv, session, _ = org
    def create(i):
        s = requests.Session()
        s.verify = session.verify
        s.headers.update(session.headers)
        return s.post(srv.instance_url + V + "/sobjects/Account", json={"Name": f"A{i}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(create, range(40))) == [201] * 40
    assert org[2].query("SELECT COUNT() FROM Account")["totalSize"] == 40


def test_body_json_dumps_roundtrip_unicode(org):
    _, _, sf = org
    aid = sf.Account.create({"Name": "トヨタ販売店"})["id"]
    assert sf.Account.get(aid)["Name"] == "トヨタ販売店"
    assert json.dumps(sf.query("SELECT Name FROM Account")["records"][0]["Name"], ensure_ascii=False) == '"トヨタ販売店"'


def test_daily_limit_exceeded_is_403(tmp_path):
    with LocalOrgServer(tmp_path / "org", daily_api_limit=2) as srv:
        info = local_org_info(tmp_path / "org")
        s = requests.Session()
        s.verify = str(info.ca_file)
        token = s.post(f"{srv.instance_url}/services/oauth2/token", data={
            "grant_type": "password", "username": info.username, "password": info.password.get_secret_value(),
        }).json()["access_token"]
        s.headers["Authorization"] = f"Bearer {token}"
        assert [s.get(f"{srv.instance_url}{V}/limits").status_code for _ in range(2)] == [200, 200]
        r = s.get(f"{srv.instance_url}{V}/limits")
        assert r.status_code == 403
        assert r.json() == load_reference("error-request-limit-exceeded.json")
        assert r.headers["Sforce-Limit-Info"] == "api-usage=3/2"


def test_fault_hook_sees_every_request_first(org):
    from sfsync.local_org.messages import Response

    srv, session, _ = org
    seen = []

    def hook(req, proceed):
        seen.append((req.method, req.path))
        if req.path.endswith("/limits"):
            return Response.json(503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}])
        return proceed(req)

    srv.app.fault_hook = hook
    r = session.get(srv.instance_url + V + "/limits")
    assert (r.status_code, r.json()) == (503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}])
    assert session.get(srv.instance_url + V + "/sobjects/Account/001000000000001AAA").status_code == 404
    assert seen == [("GET", f"{V}/limits"), ("GET", f"{V}/sobjects/Account/001000000000001AAA")]


def test_huge_numbers_in_a_query_are_a_400_not_a_server_error(org):
    srv, session, _ = org
    r = session.get(srv.instance_url + V + "/query",
                    params={"q": "SELECT Id FROM Account LIMIT 99999999999999999999999"})
    assert r.status_code == 400
    assert r.json() == [{"message": "99999999999999999999999 is outside the valid range (0 to 2147483647)",
                         "errorCode": "NUMBER_OUTSIDE_VALID_RANGE"}]
    r = session.get(srv.instance_url + V + "/query",
                    params={"q": "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:99999999999"})
    assert (r.status_code, r.json()[0]["errorCode"]) == (400, "MALFORMED_QUERY")


def test_deeply_nested_json_body_is_json_parser_error(org):
    srv, session, _ = org
    r = session.post(srv.instance_url + V + "/sobjects/Account", data=b"[" * 100_000 + b"]" * 100_000,
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == [{"message": "Document nesting depth exceeds the maximum allowed", "errorCode": "JSON_PARSER_ERROR"}]


def test_a_huge_value_is_cut_in_the_error_that_repeats_it(org):
    r = _post(org, "/sobjects/Account", {"Name": "x" * 5_000_000})
    assert r.status_code == 400
    assert r.json() == [{"message": f"Account Name: data value too large: {'x' * 1000}... (max length=255)",
                         "errorCode": "STRING_TOO_LONG", "fields": ["Name"]}]
    r = _post(org, "/sobjects/Account", {"y" * 5000: 1})
    assert r.json()[0]["message"] == f"No such column '{'y' * 1000}...' on sobject of type Account"


def test_too_long_uri_and_headers_answer_as_salesforces_front_server(org):
    # Salesforce's front server answers these itself with a short HTML page (not a REST error body).
    srv, session, _ = org
    r = session.get(srv.instance_url + V + "/query?q=" + "a" * 70_000)
    assert (r.status_code, r.headers["Content-Type"], r.text) == (
        414, "text/html;charset=iso-8859-1", "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>")
    r = session.get(srv.instance_url + V + "/limits", headers={"X-Big": "a" * 70_000})
    assert (r.status_code, r.text) == (431, "<h1>Bad Message 431</h1><pre>reason: Request Header Fields Too Large</pre>")
    assert session.get(srv.instance_url + V + "/limits").status_code == 200  # the server carries on
