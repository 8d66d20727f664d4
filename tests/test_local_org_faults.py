"""Fault injection in the local org: rules, counters, rule file and control endpoint."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import login_local_org
import requests

from conftest import load_reference
from sfsync.errors import LocalOrgError
from sfsync.local_org import LocalOrgServer, list_notifications
from sfsync.local_org.faults import FaultInjector, FaultRule, normalise_path
from sfsync.local_org.messages import Request, Response

V = "/services/data/v66.0"
COLLECTION = r"/services/data/v\d+\.\d+/composite/sobjects"
ADMIN_ID = "005000000000001AAA"




def _login(srv: LocalOrgServer, state: Path) -> requests.Session:
    return login_local_org(srv.instance_url, state)[0]


@pytest.fixture
def org(tmp_path: Path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as srv:
        yield srv, _login(srv, state), state


def _accounts(org, *names: str) -> list[str]:
    srv, s, _ = org
    r = s.post(srv.instance_url + V + "/composite/sobjects",
               json={"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Name": n} for n in names]})
    assert r.status_code == 200
    return [item["id"] for item in r.json()]


# -- rule semantics (no server) -------------------------------------------------------------------
def _req(method="GET", path=f"{V}/query") -> Request:
    return Request(method, path, "", {})


def _run(inj: FaultInjector, req: Request) -> Response:
    return inj.intercept(req, lambda r: Response.json(200, {"ok": True}))


def test_nth_fires_once_on_that_matching_request_by_default():
    inj = FaultInjector()
    inj.add(FaultRule(method="GET", path=r"/services/data/v\d+\.\d+/query", nth=2, status=503))
    statuses = [_run(inj, _req()).status for _ in range(4)]
    assert statuses == [200, 503, 200, 200]


def test_times_extends_the_run_and_none_means_every_request():
    inj = FaultInjector()
    inj.add(FaultRule(path=r".*/query", nth=2, times=2, status=500))
    assert [_run(inj, _req()).status for _ in range(5)] == [200, 500, 500, 200, 200]
    every = FaultInjector()
    every.add(FaultRule(path=r".*/query", status=503))
    assert [_run(every, _req()).status for _ in range(3)] == [503, 503, 503]


def test_method_and_whole_path_must_match():
    inj = FaultInjector()
    inj.add(FaultRule(method="patch", path=COLLECTION, status=503))
    assert _run(inj, _req("POST", f"{V}/composite/sobjects")).status == 200
    assert _run(inj, _req("PATCH", f"{V}/composite/sobjects/extra")).status == 200
    assert _run(inj, _req("PATCH", f"{V}/composite/sobjects")).status == 503


def test_each_rule_counts_its_own_matches_and_the_first_firing_rule_wins():
    inj = FaultInjector()
    inj.add(FaultRule(path=r".*/query", nth=2, status=500))
    inj.add(FaultRule(path=r".*", nth=2, status=503))
    # Both rules see request 2 as their 2nd match; the first added answers.
    assert [_run(inj, _req()).status for _ in range(3)] == [200, 500, 200]


def test_whole_request_errors_have_salesforces_bodies():
    inj = FaultInjector()
    for status in (401, 403, 400):
        inj.clear()
        inj.add(FaultRule(status=status))
        r = _run(inj, _req())
        assert r.status == status
        body = json.loads(r.body)
        expected = {
            401: load_reference("error-invalid-session-id.json"),
            403: load_reference("error-request-limit-exceeded.json"),
            400: [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}],
        }[status]
        assert body == expected
    inj.clear()
    inj.add(FaultRule(status=503))
    assert json.loads(_run(inj, _req()).body) == [{"message": "Server Unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    inj.clear()
    inj.add(FaultRule(status=500))
    [body] = json.loads(_run(inj, _req()).body)
    assert sorted(body) == ["errorCode", "message"]
    assert body["errorCode"] == "UNKNOWN_EXCEPTION"
    assert body["message"].startswith("An unexpected error occurred. Please include this ErrorId if you contact support: ")


def test_error_code_and_message_can_be_chosen():
    inj = FaultInjector()
    inj.add(FaultRule(status=503, error_code="SERVER_UNAVAILABLE", message="maintenance"))
    assert json.loads(_run(inj, _req()).body) == [{"message": "maintenance", "errorCode": "SERVER_UNAVAILABLE"}]


def test_oauth_path_fails_with_the_oauth_shape():
    inj = FaultInjector()
    inj.add(FaultRule(path="/services/oauth2/token", status=400, error_code="invalid_grant", message="authentication failure"))
    r = _run(inj, _req("POST", "/services/oauth2/token"))
    assert (r.status, json.loads(r.body)) == (400, {"error": "invalid_grant", "error_description": "authentication failure"})


def test_soap_path_fails_with_a_soap_fault():
    inj = FaultInjector()
    inj.add(FaultRule(path=r"/services/Soap/m/.*", status=500, error_code="INVALID_SESSION_ID",
                      message="Invalid Session ID found in SessionHeader: Illegal Session"))
    r = _run(inj, _req("POST", "/services/Soap/m/66.0"))
    assert r.status == 500
    text = r.body.decode()
    assert "<faultcode>sf:INVALID_SESSION_ID</faultcode>" in text
    assert "<faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring>" in text


def test_delay_uses_the_injectors_sleep_then_answers_normally():
    inj = FaultInjector()
    slept = []
    inj.sleep = slept.append
    inj.add(FaultRule(delay_seconds=1.5))
    assert _run(inj, _req()).status == 200
    assert slept == [1.5]


def test_after_runs_the_request_then_fails_the_answer():
    inj = FaultInjector()
    inj.add(FaultRule(status=503, after=True))
    ran = []
    r = inj.intercept(_req(), lambda req: ran.append(req.path) or Response(204))
    assert (ran, r.status) == ([f"{V}/query"], 503)
    inj.clear()
    inj.add(FaultRule(status=503))
    ran.clear()
    assert inj.intercept(_req(), lambda req: ran.append(req.path) or Response(204)).status == 503
    assert ran == []


@pytest.mark.parametrize("kwargs, message", [
    ({"nth": 0, "status": 500}, "nth is 1-based: it must be 1 or more"),
    ({"times": 0, "status": 500}, "times must be 1 or more (or None for no end)"),
    ({"status": 42}, "status 42 is not an HTTP status"),
    ({}, "a fault rule needs status, item_errors, drop_connection or delay_seconds"),
    ({"item_errors": {"x": "UNABLE_TO_LOCK_ROW"}}, "item_errors key 'x' is not an item index"),
])
def test_bad_rules_are_refused(kwargs, message):
    with pytest.raises(ValueError) as err:
        FaultRule(**kwargs)
    assert str(err.value) == message


def test_rule_json_round_trip_and_item_error_forms():
    rule = FaultRule.from_json({"method": "PATCH", "path": COLLECTION, "item_errors": {"1": "UNABLE_TO_LOCK_ROW",
                                "3": ["FIELD_CUSTOM_VALIDATION_EXCEPTION", "Too late"]}})
    assert rule.item_errors == {1: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
                                3: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Too late")}
    assert FaultRule.from_json(rule.to_json()) == rule
    with pytest.raises(ValueError) as err:
        FaultRule.from_json({"status": 500, "when": "now"})
    assert str(err.value) == "unknown fault rule key(s): when"


def test_normalised_paths_hide_ids_and_locators():
    assert normalise_path(f"{V}/query") == f"{V}/query"
    assert normalise_path(f"{V}/query/01g000000000001AAA-2000") == f"{V}/query/{{locator}}"
    assert normalise_path(f"{V}/sobjects/Account/001000000000001AAA") == f"{V}/sobjects/Account/{{id}}"
    assert normalise_path(f"{V}/sobjects/OpportunityHistory") == f"{V}/sobjects/OpportunityHistory"
    assert normalise_path(f"{V}/composite/sobjects/") == f"{V}/composite/sobjects"


# -- through the server ---------------------------------------------------------------------------
def test_srv_faults_503_on_the_second_patch_then_recovers(org):
    srv, s, _ = org
    ids = _accounts(org, "A", "B")
    srv.faults.add(FaultRule(method="PATCH", path=COLLECTION, nth=2, status=503))
    body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, "Id": ids[0], "Name": "A2"}]}
    url = srv.instance_url + V + "/composite/sobjects"
    first, second, third = (s.patch(url, json=body) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 503, 200)
    assert second.json() == [{"message": "Server Unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
    assert second.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_counters_per_endpoint(org):
    srv, s, _ = org
    [acc] = _accounts(org, "A")
    s.get(srv.instance_url + V + "/query", params={"q": "SELECT Id FROM Account"})
    s.get(srv.instance_url + V + "/query", params={"q": "SELECT Name FROM Account"})
    s.get(srv.instance_url + V + f"/sobjects/Account/{acc}")
    assert srv.counters() == {
        "POST /services/oauth2/token": 1,
        "POST /services/data/v66.0/composite/sobjects": 1,
        "GET /services/data/v66.0/query": 2,
        "GET /services/data/v66.0/sobjects/Account/{id}": 1,
    }


def test_item_errors_fail_chosen_collection_items_and_keep_them_unwritten(org):
    srv, s, _ = org
    ids = _accounts(org, "A", "B", "C")
    srv.faults.add(FaultRule(method="PATCH", path=COLLECTION, item_errors={
        1: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
        2: ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Scheduled end must be after the start"),
    }))
    r = s.patch(srv.instance_url + V + "/composite/sobjects", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Id": i, "Name": f"{n}2"} for i, n in zip(ids, "ABC")]})
    assert r.status_code == 200
    assert r.json() == [
        {"id": ids[0], "success": True, "errors": []},
        {"id": ids[1], "success": False, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW",
                                                      "message": "unable to obtain exclusive access to this record", "fields": []}]},
        {"id": ids[2], "success": False, "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                                      "message": "Scheduled end must be after the start", "fields": []}]},
    ]
    names = s.get(srv.instance_url + V + "/query", params={"q": "SELECT Name FROM Account ORDER BY Id"}).json()
    assert [rec["Name"] for rec in names["records"]] == ["A2", "B", "C"]


def test_item_errors_with_all_or_none_roll_everything_back(org):
    srv, s, _ = org
    ids = _accounts(org, "A", "B")
    srv.faults.add(FaultRule(method="PATCH", path=COLLECTION, item_errors={1: "UNABLE_TO_LOCK_ROW"}))
    r = s.patch(srv.instance_url + V + "/composite/sobjects", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Id": i, "Name": "X"} for i in ids]})
    assert r.json()[0] == {"id": ids[0], "success": False, "errors": [load_reference(
        "sobjects-collection-allornone-rolled-back.json")[0]["errors"][0]]}
    assert r.json()[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    names = s.get(srv.instance_url + V + "/query", params={"q": "SELECT Name FROM Account ORDER BY Id"}).json()
    assert [rec["Name"] for rec in names["records"]] == ["A", "B"]


def test_item_errors_fail_chosen_action_inputs(org):
    srv, s, state = org
    [acc] = _accounts(org, "Target")
    # A notification type comes with a deploy; create one directly in the store for this test.
    from sfsync.local_org.values import now_ms
    store, catalog = srv.org.store, srv.org.catalog
    with store.transaction() as tx:
        type_id = store.next_id(tx, "0ML")
        ts = now_ms()
        store.insert(tx, catalog.get("CustomNotificationType"), {
            "Id": type_id, "DeveloperName": "Test_Drive_Overdue", "MasterLabel": "Overdue", "Desktop": 1, "Mobile": 1,
            "CreatedDate": ts, "LastModifiedDate": ts, "SystemModstamp": ts,
            "CreatedById": ADMIN_ID, "LastModifiedById": ADMIN_ID})
    store.release()
    srv.faults.add(FaultRule(method="POST", path=r".*/actions/standard/customNotificationAction",
                             item_errors={0: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")}))
    one = {"customNotifTypeId": type_id, "recipientIds": [ADMIN_ID], "title": "t", "body": "b", "targetId": acc}
    r = s.post(srv.instance_url + V + "/actions/standard/customNotificationAction", json={"inputs": [one, one]})
    assert r.status_code == 200
    assert r.json() == [
        {"actionName": "customNotificationAction", "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW",
         "message": "unable to obtain exclusive access to this record"}], "isSuccess": False},
        load_reference("custom-notification-action-response.json")[0],
    ]
    assert len(list_notifications(state)) == 1


def test_drop_connection_gives_the_client_a_connection_error(org):
    srv, s, _ = org
    srv.faults.add(FaultRule(method="GET", path=r".*/limits", nth=1, drop_connection=True))
    with pytest.raises(requests.ConnectionError):
        s.get(srv.instance_url + V + "/limits")
    assert s.get(srv.instance_url + V + "/limits").status_code == 200
    assert srv.counters()["GET /services/data/v66.0/limits"] == 2


def test_drop_after_processing_keeps_the_write(org):
    srv, s, _ = org
    srv.faults.add(FaultRule(method="POST", path=r".*/sobjects/Account", drop_connection=True, after=True))
    with pytest.raises(requests.ConnectionError):
        s.post(srv.instance_url + V + "/sobjects/Account", json={"Name": "Lost answer"})
    q = s.get(srv.instance_url + V + "/query", params={"q": "SELECT Name FROM Account"}).json()
    assert [r["Name"] for r in q["records"]] == ["Lost answer"]


def test_faults_clear_removes_rules(org):
    srv, s, _ = org
    srv.faults.add(FaultRule(path=r".*/limits", status=503))
    assert s.get(srv.instance_url + V + "/limits").status_code == 503
    srv.faults.clear()
    assert s.get(srv.instance_url + V + "/limits").status_code == 200


# -- rule file and control endpoint ----------------------------------------------------------------
def test_rule_file_is_read_at_start(tmp_path):
    state = tmp_path / "org"
    state.mkdir()
    (state / "faults.json").write_text(json.dumps([
        {"method": "GET", "path": ".*/limits", "nth": 1, "status": 403},
    ]))
    with LocalOrgServer(state) as srv:
        s = _login(srv, state)
        r = s.get(srv.instance_url + V + "/limits")
        assert (r.status_code, r.json()) == (403, load_reference("error-request-limit-exceeded.json"))
        assert s.get(srv.instance_url + V + "/limits").status_code == 200


@pytest.mark.parametrize("content, message", [
    ("{", "cannot read the fault rules"),
    ('{"status": 503}', "the fault rule file must hold a JSON list of rules"),
    ('[{"status": 503, "pth": "x"}]', "rule 1: unknown fault rule key(s): pth"),
    ('[{"status": 503, "path": "("}]', "rule 1: missing ), unterminated subpattern at position 0"),
])
def test_bad_rule_file_is_a_clear_error(tmp_path, content, message):
    state = tmp_path / "org"
    state.mkdir()
    (state / "faults.json").write_text(content)
    with pytest.raises(LocalOrgError) as err:
        LocalOrgServer(state).start()
    assert str(err.value).startswith(f"{state / 'faults.json'}: ")
    assert message in str(err.value)


def _control(srv, state, method, what, token=None, **kw):
    token = token if token is not None else (state / "control-token").read_text().strip()
    return requests.request(method, f"{srv.instance_url}/__sfsync__/{what}", verify=str(state / "ca.pem"),
                            headers={"Authorization": f"Bearer {token}"}, **kw)


def test_control_endpoint_adds_lists_and_clears_rules_and_reads_counters(org):
    srv, s, state = org
    assert stat.S_IMODE((state / "control-token").stat().st_mode) == 0o600
    r = _control(srv, state, "POST", "faults", json={"method": "GET", "path": ".*/limits", "nth": 1, "status": 503})
    assert r.status_code == 200
    [rule] = r.json()["rules"]
    assert (rule["nth"], rule["times"], rule["status"], rule["error_code"]) == (1, 1, 503, "SERVER_UNAVAILABLE")
    assert s.get(srv.instance_url + V + "/limits").status_code == 503
    r = _control(srv, state, "GET", "counters")
    assert r.json() == {"POST /services/oauth2/token": 1, "GET /services/data/v66.0/limits": 1}
    assert _control(srv, state, "DELETE", "faults").status_code == 204
    assert _control(srv, state, "GET", "faults").json() == {"rules": []}
    assert _control(srv, state, "DELETE", "counters").status_code == 204
    assert srv.counters() == {}


def test_control_endpoint_refuses_bad_rules(org):
    srv, _, state = org
    r = _control(srv, state, "POST", "faults", json=[{"status": 503}, {"nth": 0, "status": 503}])
    assert (r.status_code, r.json()) == (400, {"error": "invalid_rule", "error_description": "nth is 1-based: it must be 1 or more"})
    assert srv.faults.rules() == []


@pytest.mark.parametrize("token", ["", "wrong-token-wrong-token"])
def test_control_endpoint_needs_the_control_token(org, token):
    srv, s, state = org
    r = _control(srv, state, "GET", "counters", token=token)
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized",
                        "error_description": "the control endpoint needs the control token of the state folder"}
    # An org session is not a control token either.
    org_token = s.headers["Authorization"].split(" ", 1)[1]
    assert _control(srv, state, "GET", "counters", token=org_token).status_code == 401
