"""sfsync.client.OrgClient against `responses` mocks built from real Salesforce payloads."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from lxml import etree
from pydantic import SecretStr

from sfsync.client import ActionResult, ApiError, OrgClient, RetryPolicy, SaveResult
from sfsync.config import OrgCredentials
from sfsync.errors import (
    ApiLimitExceeded,
    AuthenticationFailed,
    OrgUnreachable,
    SalesforceApiError,
    SessionExpired,
)

INSTANCE = "https://dealer-test.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
DATA = f"{INSTANCE}/services/data/v66.0"
QUERY_URL = f"{DATA}/query/"
COLLECTION_URL = f"{DATA}/composite/sobjects"
ACTION_URL = f"{DATA}/actions/standard/customNotificationAction"
SOAP_URL = f"{INSTANCE}/services/Soap/m/66.0"
PASSWORD = "Pa55-word-never-logged"
FAST = RetryPolicy(attempts=4, max_wait=0, multiplier=0)


def creds(**overrides) -> OrgCredentials:
    values = dict(name="dealer", instance_url=INSTANCE, username="worker@dealer.example",
                  password=SecretStr(PASSWORD), client_id="sfsync-cli")
    values.update(overrides)
    return OrgCredentials(**values)


def token_body(token: str) -> dict:
    # The documented success body of the username-password flow.
    return {"access_token": token, "instance_url": INSTANCE, "id": f"{INSTANCE}/id/00D000000000001AAA/005000000000001AAA",
            "token_type": "Bearer", "issued_at": "1764753600000", "signature": "c2lnbmF0dXJl"}


def add_login(rsps, token: str = "tok-1") -> None:
    rsps.add(responses.POST, TOKEN_URL, json=token_body(token), status=200)


def calls_to(rsps, url: str, method: str | None = None) -> list:
    return [c for c in rsps.calls if c.request.url.split("?")[0] == url and (method is None or c.request.method == method)]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(rsps):
    add_login(rsps)
    return OrgClient.connect(creds(), retry=FAST)


# ---------------------------------------------------------------- login
def test_login_posts_the_password_grant_and_uses_the_token(rsps, reference_payload):
    add_login(rsps, "tok-abc")
    client = OrgClient.connect(creds(), retry=FAST)
    assert client.api_calls == 1
    login = rsps.calls[0].request
    assert parse_qs(login.body) == {
        "grant_type": ["password"], "username": ["worker@dealer.example"], "password": [PASSWORD],
        "client_id": ["sfsync-cli"],
    }
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("query-last-page.json"))
    assert list(client.query_pages("SELECT Id FROM Account")) == [[]]
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer tok-abc"
    assert parse_qs(urlsplit(rsps.calls[1].request.url).query) == {"q": ["SELECT Id FROM Account"]}
    assert client.api_calls == 2


def test_login_sends_client_secret_only_when_configured(rsps):
    add_login(rsps)
    OrgClient.connect(creds(client_id=None, client_secret=None), retry=FAST)
    add_login(rsps)
    OrgClient.connect(creds(client_secret=SecretStr("shh")), retry=FAST)
    assert sorted(parse_qs(rsps.calls[0].request.body)) == ["grant_type", "password", "username"]
    assert parse_qs(rsps.calls[1].request.body)["client_secret"] == ["shh"]


def test_login_failure_is_authentication_failed_after_one_request(rsps, reference_payload):
    rsps.add(responses.POST, TOKEN_URL, json=reference_payload("oauth-token-error.json"), status=400)
    with pytest.raises(AuthenticationFailed) as info:
        OrgClient.connect(creds(), retry=FAST)
    assert str(info.value) == (
        f"login to {TOKEN_URL} as worker@dealer.example refused (invalid_client_id: client identifier invalid)"
    )
    assert PASSWORD not in str(info.value)
    assert len(rsps.calls) == 1


def test_access_token_is_used_without_login(rsps, reference_payload):
    client = OrgClient.connect(creds(username=None, password=None, access_token=SecretStr("00Dxx!token")), retry=FAST)
    assert client.api_calls == 0
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("query-last-page.json"))
    list(client.query_pages("SELECT Id FROM Account"))
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer 00Dxx!token"


def test_no_credentials_at_all_is_refused():
    with pytest.raises(AuthenticationFailed, match="neither username\\+password nor access_token"):
        OrgClient.connect(creds(username=None, password=None), retry=FAST)


def test_ca_file_is_the_session_verify(rsps, tmp_path):
    ca = tmp_path / "ca.pem"
    add_login(rsps)
    client = OrgClient.connect(creds(ca_file=ca), retry=FAST)
    assert client._http.verify == str(ca)
    assert rsps.calls[0].request.req_kwargs["verify"] == str(ca)


def test_connection_refused_is_org_unreachable_naming_the_url_not_the_password(rsps):
    rsps.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(OrgUnreachable) as info:
        OrgClient.connect(creds(), retry=FAST)
    assert str(info.value) == f"no answer from {TOKEN_URL} (ConnectionError)"
    assert PASSWORD not in str(info.value)
    assert len(rsps.calls) == 4  # retried up to the policy's attempts


def test_tls_failure_is_org_unreachable_without_retry(rsps):
    rsps.add(responses.POST, TOKEN_URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(OrgUnreachable, match=f"TLS handshake with {TOKEN_URL} failed"):
        OrgClient.connect(creds(), retry=FAST)
    assert len(rsps.calls) == 1


# ---------------------------------------------------------------- query paging
def _three_pages(reference_payload):
    first = reference_payload("query-page1-with-nextRecordsUrl.json")
    first["nextRecordsUrl"] = "/services/data/v66.0/query/01gD0000002HU6KIAW-2000"
    for record in first["records"]:
        record["attributes"]["url"] = record["attributes"]["url"].replace("v20.0", "v66.0")
    second = reference_payload("query-page1-contact-v66.json")
    second["nextRecordsUrl"] = "/services/data/v66.0/query/01gD0000002HU6KIAW-4000"
    last = reference_payload("query-last-page.json")
    last["records"] = [{"attributes": {"type": "Contact", "url": "/services/data/v66.0/sobjects/Contact/003RO0000035WQhYAM"},
                        "Id": "003RO0000035WQhYAM"}]
    return first, second, last


def test_query_pages_follows_relative_next_records_urls(client, rsps, reference_payload):
    first, second, last = _three_pages(reference_payload)
    rsps.add(responses.GET, QUERY_URL, json=first)
    rsps.add(responses.GET, f"{DATA}/query/01gD0000002HU6KIAW-2000", json=second)
    rsps.add(responses.GET, f"{DATA}/query/01gD0000002HU6KIAW-4000", json=last)
    pages = list(client.query_pages("SELECT Name FROM Account"))
    assert pages == [
        [{"attributes": {"type": "Account", "url": "/services/data/v66.0/sobjects/Account/001D000000IRFmaIAH"}, "Name": "Test 1"},
         {"attributes": {"type": "Account", "url": "/services/data/v66.0/sobjects/Account/001D000000IomazIAB"}, "Name": "Test 2"}],
        [{"attributes": {"type": "Contact", "url": "/services/data/v66.0/sobjects/Contact/003RO0000035WQgYAM"},
          "Id": "003RO0000035WQgYAM"}],
        [{"attributes": {"type": "Contact", "url": "/services/data/v66.0/sobjects/Contact/003RO0000035WQhYAM"},
          "Id": "003RO0000035WQhYAM"}],
    ]
    assert [c.request.url for c in rsps.calls[1:]] == [
        f"{QUERY_URL}?q=SELECT+Name+FROM+Account",
        f"{DATA}/query/01gD0000002HU6KIAW-2000",
        f"{DATA}/query/01gD0000002HU6KIAW-4000",
    ]
    assert client.api_calls == 4


def test_query_pages_fetches_the_next_page_only_when_asked(client, rsps, reference_payload):
    first, second, last = _three_pages(reference_payload)
    rsps.add(responses.GET, QUERY_URL, json=first)
    rsps.add(responses.GET, f"{DATA}/query/01gD0000002HU6KIAW-2000", json=second)
    pages = client.query_pages("SELECT Name FROM Account")
    assert [r["Name"] for r in next(pages)] == ["Test 1", "Test 2"]
    assert client.api_calls == 2  # login + first page: streaming, not collecting
    pages.close()


def test_done_false_without_next_records_url_is_an_error(client, rsps, reference_payload):
    page = reference_payload("query-page1-contact-v66.json")
    del page["nextRecordsUrl"]
    rsps.add(responses.GET, QUERY_URL, json=page)
    pages = client.query_pages("SELECT Id FROM Contact")
    assert next(pages)[0]["Id"] == "003RO0000035WQgYAM"
    with pytest.raises(SalesforceApiError, match="done=false but has no nextRecordsUrl"):
        next(pages)


def test_sforce_limit_info_is_parsed(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("query-last-page.json"),
             headers={"Sforce-Limit-Info": "api-usage=18/5000"})
    assert client.api_usage is None
    list(client.query_pages("SELECT Id FROM Account"))
    assert client.api_usage == (18, 5000)


# ---------------------------------------------------------------- error policy
def test_invalid_session_logs_in_again_once_and_repeats_the_call(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("error-invalid-session-id.json"), status=401)
    add_login(rsps, "tok-2")
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("query-last-page.json"))
    assert list(client.query_pages("SELECT Id FROM Account")) == [[]]
    assert [(c.request.method, c.request.url.split("?")[0]) for c in rsps.calls] == [
        ("POST", TOKEN_URL), ("GET", QUERY_URL), ("POST", TOKEN_URL), ("GET", QUERY_URL),
    ]
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer tok-1"
    assert rsps.calls[3].request.headers["Authorization"] == "Bearer tok-2"
    assert client.api_calls == 4


def test_invalid_session_twice_is_session_expired_after_one_refresh(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("error-invalid-session-id.json"), status=401)
    add_login(rsps, "tok-2")
    with pytest.raises(SessionExpired) as info:
        list(client.query_pages("SELECT Id FROM Account"))
    assert str(info.value) == "INVALID_SESSION_ID: query: Session expired or invalid (again after logging in anew)"
    assert info.value.status == 401
    assert len(calls_to(rsps, TOKEN_URL)) == 2  # connect + the one refresh
    assert len(calls_to(rsps, QUERY_URL)) == 2


def test_invalid_session_with_an_access_token_cannot_refresh(rsps, reference_payload):
    client = OrgClient.connect(creds(username=None, password=None, access_token=SecretStr("00Dxx!t")), retry=FAST)
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("error-invalid-session-id-rest-not-allowed.json"), status=401)
    with pytest.raises(SessionExpired, match="This session is not valid for use with the REST API"):
        list(client.query_pages("SELECT Id FROM Account"))
    assert len(rsps.calls) == 1


def test_request_limit_exceeded_is_not_retried(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("error-request-limit-exceeded.json"), status=403)
    with pytest.raises(ApiLimitExceeded) as info:
        list(client.query_pages("SELECT Id FROM Account"))
    assert (info.value.status, info.value.error_code, str(info.value)) == (
        403, "REQUEST_LIMIT_EXCEEDED", "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.")
    assert len(calls_to(rsps, QUERY_URL)) == 1


def test_503_is_retried_then_succeeds(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, body="Service Unavailable", status=503)
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("query-last-page.json"))
    assert list(client.query_pages("SELECT Id FROM Account")) == [[]]
    assert len(calls_to(rsps, QUERY_URL)) == 2
    assert client.api_calls == 3


def test_5xx_gives_up_after_the_policy_attempts(client, rsps):
    rsps.add(responses.GET, QUERY_URL, body="Service Unavailable", status=503)
    with pytest.raises(SalesforceApiError) as info:
        list(client.query_pages("SELECT Id FROM Account"))
    assert (info.value.status, str(info.value)) == (503, "query: Service Unavailable")
    assert len(calls_to(rsps, QUERY_URL)) == 4


def test_other_4xx_is_an_api_error_and_not_retried(client, rsps, reference_payload):
    rsps.add(responses.GET, QUERY_URL, json=reference_payload("error-malformed-query.json"), status=400)
    with pytest.raises(SalesforceApiError) as info:
        list(client.query_pages("invalid"))
    assert (info.value.status, info.value.error_code, info.value.detail) == (
        400, "MALFORMED_QUERY", "query: unexpected token: 'invalid'")
    assert type(info.value) is SalesforceApiError
    assert len(calls_to(rsps, QUERY_URL)) == 1


# ---------------------------------------------------------------- sObject collections
def test_update_records_sends_allornone_false_and_aligns_results(client, rsps, reference_payload):
    body = reference_payload("sobjects-collection-partial-failure.json")
    rsps.add(responses.PATCH, COLLECTION_URL, json=body)
    results = client.update_records(
        [{"Id": "001RM000003oCprYAE", "Name": "ok"}, {"Id": "001xx000003DGb2999", "Name": "bad"}], sobject="Account")
    assert results == [
        SaveResult(id="001RM000003oCprYAE", success=True, errors=[]),
        SaveResult(id=None, success=False, errors=[
            ApiError("MALFORMED_ID", "Contact ID: id value of incorrect type: 001xx000003DGb2999", ["Id"])]),
    ]
    assert json.loads(calls_to(rsps, COLLECTION_URL)[0].request.body) == {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Id": "001RM000003oCprYAE", "Name": "ok"},
            {"attributes": {"type": "Account"}, "Id": "001xx000003DGb2999", "Name": "bad"},
        ],
    }


def test_create_records_chunks_by_200(client, rsps, reference_payload):
    ok = reference_payload("sobjects-collection-partial-failure.json")[0]

    def reply(request):
        sent = json.loads(request.body)["records"]
        return 200, {}, json.dumps([dict(ok, id=f"001{i:015d}") for i, _ in enumerate(sent)])

    rsps.add_callback(responses.POST, COLLECTION_URL, callback=reply)
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(201)]
    results = client.create_records(records)
    sizes = [len(json.loads(c.request.body)["records"]) for c in calls_to(rsps, COLLECTION_URL)]
    assert sizes == [200, 1]
    assert len(results) == 201 and all(r.success for r in results)


def test_records_without_a_type_are_refused(client):
    with pytest.raises(ValueError, match="attributes.type"):
        client.create_records([{"Name": "x"}])


def test_a_result_count_mismatch_is_an_error(client, rsps, reference_payload):
    rsps.add(responses.PATCH, COLLECTION_URL, json=reference_payload("sobjects-collection-partial-failure.json")[:1])
    with pytest.raises(SalesforceApiError, match="expected 2 result\\(s\\), got 1"):
        client.update_records([{"Id": "a"}, {"Id": "b"}], sobject="Account")


# ---------------------------------------------------------------- invocable actions
def test_invoke_action_success(client, rsps, reference_payload):
    request = reference_payload("custom-notification-action-request.json")
    rsps.add(responses.POST, ACTION_URL, json=reference_payload("custom-notification-action-response.json"))
    results = client.invoke_standard_action("customNotificationAction", request["inputs"])
    assert results == [ActionResult(True, [], {"SuccessMessage": "Your custom notification is processed successfully."})]
    assert json.loads(rsps.calls[-1].request.body) == request


def test_invoke_action_per_item_failure_with_http_400_is_a_result(client, rsps, reference_payload):
    request = reference_payload("custom-notification-action-request.json")
    rsps.add(responses.POST, ACTION_URL, json=reference_payload("custom-notification-action-error-response.json"), status=400)
    results = client.invoke_standard_action("customNotificationAction", request["inputs"])
    assert results == [ActionResult(False, [ApiError("INVALID_ARGUMENT_TYPE", "Invalid parameter value for: targetId")], None)]
    assert len(calls_to(rsps, ACTION_URL)) == 1


def test_invoke_action_mixed_results_keep_input_order(client, rsps, reference_payload):
    ok = reference_payload("custom-notification-action-response.json")[0]
    bad = reference_payload("custom-notification-action-error-response.json")[0]
    rsps.add(responses.POST, ACTION_URL, json=[ok, bad, ok])
    inputs = [dict(reference_payload("custom-notification-action-request.json")["inputs"][0], targetId=t)
              for t in ("a", "b", "c")]
    results = client.invoke_standard_action("customNotificationAction", inputs)
    assert [r.is_success for r in results] == [True, False, True]


def test_invoke_action_chunks_inputs(client, rsps, reference_payload):
    ok = reference_payload("custom-notification-action-response.json")[0]
    rsps.add_callback(responses.POST, ACTION_URL,
                      callback=lambda req: (200, {}, json.dumps([ok] * len(json.loads(req.body)["inputs"]))))
    base = reference_payload("custom-notification-action-request.json")["inputs"][0]
    results = client.invoke_standard_action("customNotificationAction", [base] * 450)
    assert [len(json.loads(c.request.body)["inputs"]) for c in calls_to(rsps, ACTION_URL)] == [200, 200, 50]
    assert len(results) == 450


def test_invoke_action_whole_call_error_raises(client, rsps, reference_payload):
    rsps.add(responses.POST, ACTION_URL, json=reference_payload("error-not-found.json"), status=404)
    with pytest.raises(SalesforceApiError) as info:
        client.invoke_standard_action("customNotificationAction", [{"title": "x"}])
    assert (info.value.status, info.value.error_code) == (404, "NOT_FOUND")


# ---------------------------------------------------------------- Metadata SOAP
MD = "http://soap.sforce.com/2006/04/metadata"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"


def soap_body(inner: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}" xmlns="{MD}">'
            f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>")


def soap_fault(code: str, text: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}" '
            f'xmlns:sf="{MD}"><soapenv:Body><soapenv:Fault><faultcode>{code}</faultcode>'
            f"<faultstring>{text}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>")


CHECK = f'<checkDeployStatus xmlns="{MD}"><asyncProcessId>0Af000000000001AAA</asyncProcessId></checkDeployStatus>'.encode()
CHECK_RESPONSE = "<checkDeployStatusResponse><result><id>0Af000000000001AAA</id><done>true</done></result></checkDeployStatusResponse>"


def test_soap_metadata_wraps_the_operation_and_returns_the_body_child(client, rsps):
    rsps.add(responses.POST, SOAP_URL, body=soap_body(CHECK_RESPONSE), status=200, content_type="text/xml")
    element = client.soap_metadata(CHECK, "checkDeployStatus")
    assert etree.QName(element).localname == "checkDeployStatusResponse"
    assert element.findtext(f"{{{MD}}}result/{{{MD}}}id") == "0Af000000000001AAA"
    sent = rsps.calls[-1].request
    assert sent.headers["SOAPAction"] == "checkDeployStatus"
    assert sent.headers["Content-Type"] == "text/xml; charset=utf-8"
    envelope = etree.fromstring(sent.body)
    assert envelope.findtext(f"{{{SOAPENV}}}Header/{{{MD}}}SessionHeader/{{{MD}}}sessionId") == "tok-1"
    op = envelope.find(f"{{{SOAPENV}}}Body")[0]
    assert op.tag == f"{{{MD}}}checkDeployStatus"
    assert op.findtext(f"{{{MD}}}asyncProcessId") == "0Af000000000001AAA"


def test_soap_action_defaults_to_the_operation_name(client, rsps):
    rsps.add(responses.POST, SOAP_URL, body=soap_body(CHECK_RESPONSE), status=200)
    client.soap_metadata(CHECK)
    assert rsps.calls[-1].request.headers["SOAPAction"] == "checkDeployStatus"


def test_soap_invalid_session_refreshes_once(client, rsps):
    rsps.add(responses.POST, SOAP_URL, status=500, body=soap_fault(
        "sf:INVALID_SESSION_ID", "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session"))
    add_login(rsps, "tok-2")
    rsps.add(responses.POST, SOAP_URL, body=soap_body(CHECK_RESPONSE), status=200)
    client.soap_metadata(CHECK, "checkDeployStatus")
    soap_calls = calls_to(rsps, SOAP_URL)
    assert len(soap_calls) == 2 and len(calls_to(rsps, TOKEN_URL)) == 2
    second = etree.fromstring(soap_calls[1].request.body)
    assert second.findtext(f"{{{SOAPENV}}}Header/{{{MD}}}SessionHeader/{{{MD}}}sessionId") == "tok-2"


def test_soap_invalid_session_twice_is_session_expired(client, rsps):
    rsps.add(responses.POST, SOAP_URL, status=500, body=soap_fault(
        "sf:INVALID_SESSION_ID", "INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session"))
    add_login(rsps, "tok-2")
    with pytest.raises(SessionExpired):
        client.soap_metadata(CHECK, "checkDeployStatus")
    assert len(calls_to(rsps, SOAP_URL)) == 2


def test_soap_other_fault_is_an_api_error_without_retry(client, rsps):
    rsps.add(responses.POST, SOAP_URL, status=500, body=soap_fault(
        "sf:INVALID_CROSS_REFERENCE_KEY", "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id"))
    with pytest.raises(SalesforceApiError) as info:
        client.soap_metadata(CHECK, "checkDeployStatus")
    assert (info.value.error_code, info.value.status) == ("INVALID_CROSS_REFERENCE_KEY", 500)
    assert info.value.detail == "Metadata checkDeployStatus: invalid cross reference id"
    assert len(calls_to(rsps, SOAP_URL)) == 1


def test_soap_503_without_envelope_is_retried(client, rsps):
    rsps.add(responses.POST, SOAP_URL, status=503, body="<html>maintenance</html>")
    rsps.add(responses.POST, SOAP_URL, body=soap_body(CHECK_RESPONSE), status=200)
    assert etree.QName(client.soap_metadata(CHECK)).localname == "checkDeployStatusResponse"
    assert len(calls_to(rsps, SOAP_URL)) == 2


# ---------------------------------------------------------------- retry policy
def test_retry_policy_defaults_and_environment(monkeypatch):
    monkeypatch.delenv("SFSYNC_RETRY_ATTEMPTS", raising=False)
    monkeypatch.delenv("SFSYNC_RETRY_MAX_WAIT", raising=False)
    assert RetryPolicy.from_env() == RetryPolicy(attempts=4, max_wait=8.0, multiplier=0.5)
    monkeypatch.setenv("SFSYNC_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("SFSYNC_RETRY_MAX_WAIT", "0")
    assert RetryPolicy.from_env() == RetryPolicy(attempts=2, max_wait=0.0, multiplier=0.0)


def test_retry_policy_from_a_bad_environment_is_a_config_error(monkeypatch):
    from sfsync.errors import ConfigError

    monkeypatch.setenv("SFSYNC_RETRY_ATTEMPTS", "many")
    with pytest.raises(ConfigError, match="SFSYNC_RETRY_ATTEMPTS must be an integer"):
        RetryPolicy.from_env()
    monkeypatch.setenv("SFSYNC_RETRY_ATTEMPTS", "0")
    with pytest.raises(ConfigError, match="at least 1"):
        RetryPolicy.from_env()


def test_connect_uses_the_environment_policy(rsps, monkeypatch):
    monkeypatch.setenv("SFSYNC_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("SFSYNC_RETRY_MAX_WAIT", "0")
    rsps.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(OrgUnreachable):
        OrgClient.connect(creds())
    assert len(rsps.calls) == 2


def test_soap_fault_message_names_the_code_once(client, rsps):
    # Salesforce repeats the code at the start of faultstring; the message says it once.
    rsps.add(responses.POST, SOAP_URL, status=500, body=soap_fault(
        "sf:INVALID_ID_FIELD", "INVALID_ID_FIELD: This validation can no longer be deployed"))
    op = f'<deployRecentValidation xmlns="{MD}"><validationId>0Af000000000001AAA</validationId></deployRecentValidation>'
    with pytest.raises(SalesforceApiError) as info:
        client.soap_metadata(op.encode(), "deployRecentValidation")
    assert str(info.value) == ("INVALID_ID_FIELD: Metadata deployRecentValidation: "
                               "This validation can no longer be deployed")
    assert (info.value.status, info.value.error_code) == (500, "INVALID_ID_FIELD")
