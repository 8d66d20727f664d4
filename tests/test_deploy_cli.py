"""`sfsync deploy` and its sub-commands against `responses` mocks of an org's REST and Metadata SOAP.

The SOAP answers follow the v66 WSDL's DeployResult / AsyncResult sequences; the REST answers
the query shape of ../shared/reference/rest.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from urllib.parse import parse_qs

import pytest
import responses
from lxml import etree

from sfsync import deploy as deploy_module
from sfsync.cli import main

INSTANCE = "https://dealer-prod.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
QUERY_URL = f"{INSTANCE}/services/data/v66.0/query/"
SOAP_URL = f"{INSTANCE}/services/Soap/m/66.0"
MD = "http://soap.sforce.com/2006/04/metadata"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
JOB = "0Af5g00000KdPxSCAV"
PASSWORD = "Rel3ase-pw-never-shown"


def soap(inner: str, status: int = 200) -> dict:
    return {"body": (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}" '
                     f'xmlns="{MD}"><soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>'),
            "status": status, "content_type": "text/xml"}


def deploy_answer(job: str = JOB) -> str:
    return f"<deployResponse><result><done>false</done><id>{job}</id><state>Queued</state></result></deployResponse>"


def check_answer(status: str, *, done: bool, success: bool, details: str = "", check_only: bool = False,
                 deployed: int = 78, errors: int = 0, job: str = JOB) -> str:
    return (f"<checkDeployStatusResponse><result><checkOnly>{str(check_only).lower()}</checkOnly>"
            "<createdBy>0055g00000AbCdE</createdBy><createdByName>Release Bot</createdByName>"
            f"<createdDate>2026-12-03T03:00:00.000Z</createdDate><details>{details}</details>"
            f"<done>{str(done).lower()}</done><id>{job}</id><ignoreWarnings>false</ignoreWarnings>"
            f"<numberComponentErrors>{errors}</numberComponentErrors>"
            f"<numberComponentsDeployed>{deployed}</numberComponentsDeployed>"
            "<numberComponentsTotal>78</numberComponentsTotal><numberTestErrors>0</numberTestErrors>"
            "<numberTestsCompleted>0</numberTestsCompleted><numberTestsTotal>0</numberTestsTotal>"
            "<rollbackOnError>true</rollbackOnError><runTestsEnabled>true</runTestsEnabled>"
            f"<status>{status}</status><success>{str(success).lower()}</success></result>"
            "</checkDeployStatusResponse>")


FIELD_FAILURE = ("<componentFailures><changed>false</changed><columnNumber>13</columnNumber>"
                 "<componentType>CustomField</componentType><created>false</created>"
                 "<createdDate>2026-12-03T03:00:04.000Z</createdDate><deleted>false</deleted>"
                 "<fileName>objects/Test_Drive_Reservation__c.object</fileName>"
                 "<fullName>Test_Drive_Reservation__c.Status__c</fullName><lineNumber>120</lineNumber>"
                 "<problem>Picklist value: Done not found</problem><problemType>Error</problemType>"
                 "<success>false</success></componentFailures>")
WARNING = ("<componentSuccesses><changed>true</changed><componentType>ApexClass</componentType>"
           "<created>false</created><createdDate>2026-12-03T03:00:04.000Z</createdDate><deleted>false</deleted>"
           "<fileName>classes/ReservationSelector.cls</fileName><fullName>ReservationSelector</fullName>"
           "<problem>Variable is never used: unused</problem><problemType>Warning</problemType>"
           "<success>true</success></componentSuccesses>")


def organization(is_sandbox: bool, edition: str) -> dict:
    return {"totalSize": 1, "done": True, "records": [{
        "attributes": {"type": "Organization", "url": "/services/data/v66.0/sobjects/Organization/00D5g000004XyZ1EAK"},
        "Id": "00D5g000004XyZ1EAK", "Name": "Dealer Group", "IsSandbox": is_sandbox, "OrganizationType": edition}]}


def token_body(token: str) -> dict:
    return {"access_token": token, "instance_url": INSTANCE, "token_type": "Bearer", "issued_at": "1764753600000",
            "id": "https://login.salesforce.com/id/00D5g000004XyZ1EAK/0055g00000AbCdEAAA", "signature": "c2ln"}


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setitem(deploy_module.wait_for_deploy.__kwdefaults__, "clock", fake.now)
    monkeypatch.setitem(deploy_module.wait_for_deploy.__kwdefaults__, "sleep", fake.sleep)
    return fake


@pytest.fixture
def org(tmp_path, monkeypatch, clock):
    """An org 'prod' in sfsync.toml (password flow) answering as production, and the mock."""
    config = tmp_path / "sfsync.toml"
    config.write_text(f'[orgs.prod]\ninstance_url = "{INSTANCE}"\nusername = "release@dealer.example"\n'
                      f'password = "{PASSWORD}"\n', encoding="utf-8")
    monkeypatch.setenv("SFSYNC_CONFIG", str(config))
    monkeypatch.setenv("SFSYNC_RETRY_MAX_WAIT", "0")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=token_body("tok-1"))
        rsps.add(responses.GET, QUERY_URL, json=organization(False, "Enterprise Edition"))
        yield rsps


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def soap_ops(rsps) -> list[etree._Element]:
    """The Metadata API operations sent, in order."""
    ops = []
    for call in rsps.calls:
        if call.request.url == SOAP_URL:
            ops.append(etree.fromstring(call.request.body).find(f"{{{SOAPENV}}}Body")[0])
    return ops


def deploy_args(repo_root, *more: str) -> list[str]:
    return ["deploy", "--target-org", "prod", "--project", str(repo_root), *more]


def test_status_never_done_ends_at_the_limit_with_69_and_the_job_id(org, capsys, repo_root, clock):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("InProgress", done=False, success=False, deployed=10)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--wait", "2", "--json"))
    assert code == 69
    doc = json.loads(out)
    assert (doc["status"], doc["result"]["id"], doc["result"]["status"], doc["result"]["done"]) == (
        69, JOB, "InProgress", False)
    assert f"deploy {JOB} is still InProgress after 2 minute(s)" in err
    assert f"sfsync deploy resume {JOB} --target-org prod" in err
    ops = [etree.QName(op).localname for op in soap_ops(org)]
    # one poll per second for 120 s of the fake clock, the first at 0 s: no endless loop
    assert ops == ["deploy"] + ["checkDeployStatus"] * 121
    assert clock.t == 120


def test_failed_deploy_with_success_false_exits_1_with_the_failure_table(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Failed", done=True, success=False, details=FIELD_FAILURE,
                                                          deployed=77, errors=1)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 1
    assert out == f"deploy {JOB} Failed on prod: 1 component error(s), 0 test error(s)\n"
    assert "TYPE         NAME                                 LINE  PROBLEM" in err
    assert "CustomField  Test_Drive_Reservation__c.Status__c  120   Picklist value: Done not found" in err


def test_succeeded_partial_exits_68(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("SucceededPartial", done=True, success=True,
                                                          details=FIELD_FAILURE, deployed=77, errors=1)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 68
    assert out == (f"deploy {JOB} partly succeeded on prod: 77 deployed, 1 component error(s), "
                   "0 test error(s)\n")
    assert "Picklist value: Done not found" in err


def test_warnings_never_reach_stdout_under_json(org, capsys, repo_root, tmp_path):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True, details=WARNING)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--json"))
    assert code == 0
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert out.count("\n") == 1
    assert doc["warnings"] == ["ApexClass ReservationSelector: Variable is never used: unused"]
    assert "warning: ApexClass ReservationSelector: Variable is never used: unused" in err


def test_no_test_run_to_production_is_refused_with_what_to_do(org, capsys, repo_root):
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--test-level", "NoTestRun"))
    assert code == 2
    assert out == ""
    assert err == (
        "error: prod is a production org, where Salesforce requires Apex tests for a deploy: --test-level NoTestRun "
        "is refused. Run the project's tests (leave out --test-level, or use RunSpecifiedTests or RunLocalTests); "
        "to keep the release window short, validate first with 'sfsync deploy --check-only --target-org prod' "
        "and then release the validated job with 'sfsync deploy quick JOB_ID --target-org prod'.\n")
    assert soap_ops(org) == []


def test_no_test_run_to_a_sandbox_is_sent(org, capsys, repo_root):
    org.replace(responses.GET, QUERY_URL, json=organization(True, "Enterprise Edition"))
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, _, err = run_cli(capsys, *deploy_args(repo_root, "--test-level", "NoTestRun"))
    assert code == 0, err
    options = soap_ops(org)[0].find(f"{{{MD}}}DeployOptions")
    assert options.findtext(f"{{{MD}}}testLevel") == "NoTestRun"
    assert options.findall(f"{{{MD}}}runTests") == []


def test_default_runs_the_projects_test_classes(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True, check_only=True)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--check-only"))
    assert code == 0, err
    options = soap_ops(org)[0].find(f"{{{MD}}}DeployOptions")
    assert options.findtext(f"{{{MD}}}checkOnly") == "true"
    assert options.findtext(f"{{{MD}}}testLevel") == "RunSpecifiedTests"
    # TestDataFactory is @IsTest but holds no test method: not a test class to run
    assert [e.text for e in options.findall(f"{{{MD}}}runTests")] == deploy_module.project_test_classes(repo_root)
    assert "TestDataFactory" not in deploy_module.project_test_classes(repo_root)
    assert f"sfsync deploy quick {JOB} --target-org prod" in err


def test_401_on_the_metadata_api_refreshes_once_then_fails_cleanly(org, capsys, repo_root):
    fault = (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAPENV}" '
             f'xmlns:sf="{MD}"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode>'
             "<faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session"
             "</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>")
    org.add(responses.POST, SOAP_URL, body=fault, status=500, content_type="text/xml")
    code, out, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 1
    assert out == ""
    assert err == ("error: INVALID_SESSION_ID: Metadata deploy: Invalid Session ID found in "
                   "SessionHeader: Illegal Session (again after logging in anew)\n")
    logins = [c for c in org.calls if c.request.url == TOKEN_URL]
    assert len(logins) == 2 and len(soap_ops(org)) == 2
    assert PASSWORD not in err


def test_no_literal_none_in_any_request_body_when_options_are_unset(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, _, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 0, err
    assert len(org.calls) == 4  # login, Organization query, deploy, one poll
    for call in org.calls:
        body = call.request.body or b""
        body = body.encode() if isinstance(body, str) else body
        assert b"None" not in body, call.request.url
        assert b"None" not in call.request.url.encode()
    options = soap_ops(org)[0].find(f"{{{MD}}}DeployOptions")
    assert [etree.QName(c).localname for c in options][:7] == [
        "allowMissingFiles", "autoUpdatePackage", "checkOnly", "ignoreWarnings", "performRetrieve", "purgeOnDelete",
        "rollbackOnError"]


def test_unreadable_poll_answer_is_asked_again(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, body="<html><body>502 Bad Gateway</body>", status=200,
            content_type="text/html")
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 0, err
    assert [etree.QName(op).localname for op in soap_ops(org)] == ["deploy", "checkDeployStatus", "checkDeployStatus"]


def test_unknown_status_is_an_error_not_a_reason_to_poll(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Exploded", done=False, success=False)))
    code, _, err = run_cli(capsys, *deploy_args(repo_root))
    assert code == 1
    assert err.splitlines()[-1] == f"error: deploy {JOB} reports an unknown status 'Exploded'"
    assert len(soap_ops(org)) == 2


def _sent_zip(rsps) -> zipfile.ZipFile:
    op = soap_ops(rsps)[0]
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(op.findtext(f"{{{MD}}}ZipFile"))))


def test_zip_is_byte_exact_with_japanese_and_non_ascii_names_without_tests(org, capsys, tmp_path):
    project = tmp_path / "proj"
    labels = ('<?xml version="1.0" encoding="UTF-8"?>\n<CustomLabels xmlns="http://soap.sforce.com/2006/04/metadata">'
              "\n    <labels>\n        <fullName>Overdue_Title</fullName>\n        <language>ja</language>\n"
              "        <protected>false</protected>\n        <shortDescription>未処理通知</shortDescription>\n"
              "        <value>試乗予約が未処理です</value>\n    </labels>\n</CustomLabels>\n").encode("utf-8")
    bundle = project / "metadata/main/default/lwc/testDriveBoard"
    (project / "metadata/main/default/labels").mkdir(parents=True)
    (bundle / "__tests__").mkdir(parents=True)
    (project / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "metadata", "default": true}]}')
    (project / "metadata/main/default/labels/CustomLabels.labels-meta.xml").write_bytes(labels)
    # deploy refuses a tree validate rejects: the label needs its English text, too
    (project / "metadata/main/default/translations").mkdir()
    (project / "metadata/main/default/translations/en_US.translation-meta.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Translations xmlns="http://soap.sforce.com/2006/04/metadata">\n'
        "    <customLabels>\n        <label>Test drive overdue</label>\n        <name>Overdue_Title</name>\n"
        "    </customLabels>\n</Translations>\n", encoding="utf-8")
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><title>試乗</title></svg>\n'.encode("utf-8")
    (bundle / "試乗アイコン.svg").write_bytes(svg)
    (bundle / "testDriveBoard.js").write_bytes(b"import { LightningElement } from 'lwc';\n"
                                               b"export default class TestDriveBoard extends LightningElement {}\n")
    (bundle / "testDriveBoard.js-meta.xml").write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<LightningComponentBundle '
        b'xmlns="http://soap.sforce.com/2006/04/metadata">\n    <apiVersion>66.0</apiVersion>\n'
        b"    <isExposed>false</isExposed>\n</LightningComponentBundle>\n")
    (bundle / "__tests__" / "testDriveBoard.test.js").write_bytes(b"describe('x', () => {});\n")
    org.replace(responses.GET, QUERY_URL, json=organization(True, "Enterprise Edition"))
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, _, err = run_cli(capsys, "deploy", "--target-org", "prod", "--project", str(project))
    assert code == 0, err
    sent = _sent_zip(org)
    assert sorted(sent.namelist()) == ["labels/CustomLabels.labels", "lwc/testDriveBoard/testDriveBoard.js",
                                       "lwc/testDriveBoard/testDriveBoard.js-meta.xml",
                                       "lwc/testDriveBoard/試乗アイコン.svg", "package.xml",
                                       "translations/en_US.translation"]
    assert sent.read("labels/CustomLabels.labels") == labels
    assert sent.read("lwc/testDriveBoard/試乗アイコン.svg") == svg
    assert sent.getinfo("lwc/testDriveBoard/試乗アイコン.svg").flag_bits & 0x800  # name stored as UTF-8
    package = etree.fromstring(sent.read("package.xml"))
    assert [(t.findtext(f"{{{MD}}}name"), [m.text for m in t.findall(f"{{{MD}}}members")])
            for t in package.findall(f"{{{MD}}}types")] == [
        ("CustomLabels", ["CustomLabels"]), ("LightningComponentBundle", ["testDriveBoard"]),
        ("Translations", ["en_US"])]


def test_report_prints_the_state_once_and_writes_junit(org, capsys, tmp_path):
    tests = ("<runTestResult><numFailures>1</numFailures><numTestsRun>2</numTestsRun><successes>"
             "<id>01p5g000001AbCdAAK</id><methodName>acceptsFreeSlot</methodName><name>ReservationGuardServiceTest</name>"
             "<time>35.0</time></successes><failures><id>01p5g000001AbCdAAK</id>"
             "<message>System.AssertException: Assertion Failed: overlap must be refused</message>"
             "<methodName>refusesOverlap</methodName><name>ReservationGuardServiceTest</name>"
             "<stackTrace>Class.ReservationGuardServiceTest.refusesOverlap: line 42, column 1</stackTrace>"
             "<time>40.0</time></failures><totalTime>75.0</totalTime></runTestResult>")
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Failed", done=True, success=False, details=tests)))
    junit = tmp_path / "out" / "junit.xml"
    code, out, err = run_cli(capsys, "deploy", "report", JOB, "--target-org", "prod", "--junit", str(junit))
    assert code == 1
    assert out == f"deploy {JOB} Failed on prod: 0 component error(s), 0 test error(s)\n"
    assert "ReservationGuardServiceTest  refusesOverlap  System.AssertException: Assertion Failed" in err
    suite = etree.parse(str(junit)).getroot()[0]
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("time")) == (
        "force.apex", "2", "1", "0.075")
    cases = [(c.get("classname"), c.get("name"), c.get("time"), c.find("failure") is not None)
             for c in suite.findall("testcase")]
    assert cases == [("ReservationGuardServiceTest", "acceptsFreeSlot", "0.035", False),
                     ("ReservationGuardServiceTest", "refusesOverlap", "0.040", True)]
    assert [etree.QName(op).localname for op in soap_ops(org)] == ["checkDeployStatus"]


def test_quick_deploy_sends_the_validation_id_and_follows_the_new_job(org, capsys):
    quick_job = "0Af5g00000KdPyTCAV"
    org.add(responses.POST, SOAP_URL, **soap(
        f"<deployRecentValidationResponse><result>{quick_job}</result></deployRecentValidationResponse>"))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True, job=quick_job)))
    code, out, err = run_cli(capsys, "deploy", "quick", JOB, "--target-org", "prod")
    assert code == 0, err
    assert out == f"deployed 78 components to prod (job {quick_job})\n"
    ops = soap_ops(org)
    assert [etree.QName(op).localname for op in ops] == ["deployRecentValidation", "checkDeployStatus"]
    assert ops[0].findtext(f"{{{MD}}}validationId") == JOB
    assert ops[1].findtext(f"{{{MD}}}asyncProcessId") == quick_job


def test_resume_follows_a_running_job_to_its_end(org, capsys):
    org.add(responses.POST, SOAP_URL, **soap(check_answer("InProgress", done=False, success=False)))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, out, err = run_cli(capsys, "deploy", "resume", JOB, "--target-org", "prod", "--json")
    assert code == 0, err
    assert json.loads(out)["result"]["status"] == "Succeeded"
    assert f"deploy {JOB}: InProgress - components 78/78 (0 error(s)), tests 0/0 (0 error(s))" in err


def test_cancel(org, capsys):
    org.add(responses.POST, SOAP_URL, **soap(
        f"<cancelDeployResponse><result><done>false</done><id>{JOB}</id></result></cancelDeployResponse>"))
    code, out, _ = run_cli(capsys, "deploy", "cancel", JOB, "--target-org", "prod")
    assert (code, out) == (0, f"deploy {JOB} is being canceled on prod\n")
    assert soap_ops(org)[0].findtext(f"{{{MD}}}String") == JOB


def test_json_error_is_json_on_stdout(tmp_path, monkeypatch, capsys, repo_root):
    (tmp_path / "none.toml").write_text("", encoding="utf-8")  # a config naming no org
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "none.toml"))
    code, out, err = run_cli(capsys, "deploy", "--target-org", "nowhere", "--project", str(repo_root), "--json")
    assert code == 2
    assert json.loads(out) == {"status": 2, "name": "ConfigError", "message": (
        f"unknown org 'nowhere' (known: local); define it under [orgs.nowhere] in {tmp_path / 'none.toml'}")}
    assert err.startswith("error: unknown org 'nowhere'")


def test_org_check_prints_id_user_version_and_production(org, capsys):
    code, out, _ = run_cli(capsys, "org", "check", "prod", "--json")
    assert code == 0
    assert json.loads(out) == {"name": "prod", "org_id": "00D5g000004XyZ1EAK", "org_name": "Dealer Group",
                               "user": "release@dealer.example", "instance_url": INSTANCE, "api_version": "66.0",
                               "edition": "Enterprise Edition", "is_sandbox": False, "is_production": True}
    query = [c for c in org.calls if c.request.url.startswith(QUERY_URL)][0]
    assert parse_qs(query.request.url.split("?", 1)[1])["q"] == [
        "SELECT Id, Name, IsSandbox, OrganizationType FROM Organization"]


def test_org_list_shows_methods_without_secrets(org, capsys):
    code, out, _ = run_cli(capsys, "org", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("local            local org     state_dir=")
    assert lines[1] == (f"prod             password      instance_url={INSTANCE}, username=release@dealer.example, "
                        "api_version=66.0, password=(set)")
    assert PASSWORD not in out


@pytest.mark.parametrize("command", [["deploy", "report"], ["deploy", "resume"], ["deploy", "quick"],
                                     ["deploy", "cancel"], ["plan"], ["org", "list"], ["org", "check"]])
def test_new_commands_have_help_with_an_example(capsys, command):
    code, out, _ = run_cli(capsys, *command, "--help")
    assert code == 0 and "Example:" in out and f"sfsync {' '.join(command)}" in out


# ---------------------------------------------------------------- checks before anything is sent
def _bad_project(tmp_path):
    project = tmp_path / "bad"
    fields = project / "metadata/main/default/objects/Car__c/fields"
    fields.mkdir(parents=True)
    (project / "sfdx-project.json").write_text('{"packageDirectories": [{"path": "metadata", "default": true}]}')
    (fields / "A__c.field-meta.xml").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<CustomField xmlns="{MD}">\n    <fullName>A__c</fullName>\n'
        "    <label>A</label>\n    <type>Text</type>\n</CustomField>\n", encoding="utf-8")
    return project


NO_LENGTH = ("metadata/main/default/objects/Car__c/fields/A__c.field-meta.xml:5: Text field A__c has no <length>: "
             "add <length> with the maximum number of characters")


@pytest.mark.parametrize("more", [[], ["--check-only"]])
def test_deploy_refuses_a_tree_validate_rejects_and_sends_nothing(org, capsys, tmp_path, more):
    code, out, err = run_cli(capsys, *deploy_args(_bad_project(tmp_path), *more))
    assert (code, out, err) == (1, NO_LENGTH + "\n", "error: 1 problem(s) in metadata\n")
    assert len(org.calls) == 0  # not even the login


def test_deploy_json_refusal_keeps_stdout_one_json_object(org, capsys, tmp_path):
    code, out, err = run_cli(capsys, *deploy_args(_bad_project(tmp_path), "--json"))
    assert code == 1
    assert json.loads(out) == {"status": 1, "name": "MetadataInvalid", "message": "1 problem(s) in metadata"}
    assert err == NO_LENGTH + "\nerror: 1 problem(s) in metadata\n"
    assert len(org.calls) == 0


def test_plan_refuses_a_tree_validate_rejects_before_connecting(org, capsys, tmp_path):
    code, out, err = run_cli(capsys, "plan", "--target-org", "prod", "--project", str(_bad_project(tmp_path)))
    assert (code, out, err) == (1, NO_LENGTH + "\n", "error: 1 problem(s) in metadata\n")
    assert len(org.calls) == 0


def test_unwritable_junit_is_refused_before_the_deploy_starts(org, capsys, repo_root, tmp_path):
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--junit", "/proc/junit.xml"))
    assert (code, out) == (2, "")
    assert err == "error: cannot write JUnit report /proc/junit.xml: No such file or directory\n"
    assert soap_ops(org) == []


@pytest.mark.parametrize("command", ["quick", "report", "resume", "cancel"])
@pytest.mark.parametrize("job", ["garbage", "0Af5g00000KdPx", "0Af5g00000KdPxSCA", "a015g00000KdPxSCAV", "0Af5g00000Kd-xS"])
def test_a_job_id_that_is_not_a_deploy_id_is_a_usage_error_before_any_call(org, capsys, command, job):
    code, out, err = run_cli(capsys, "deploy", command, job, "--target-org", "prod")
    assert (code, out) == (2, "")
    assert err == (f"error: '{job}' is not a deploy job id: expected 15 or 18 letters and digits starting with 0Af "
                   "(as printed by 'sfsync deploy')\n")
    assert len(org.calls) == 0


def test_fifteen_character_job_ids_are_accepted(org, capsys):
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, out, _ = run_cli(capsys, "deploy", "report", JOB[:15], "--target-org", "prod")
    assert (code, out) == (0, f"deployed 78 components to prod (job {JOB})\n")


def test_wait_zero_returns_right_after_the_start_with_69_and_the_job_id(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer()))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("InProgress", done=False, success=False)))
    code, out, err = run_cli(capsys, *deploy_args(repo_root, "--wait", "0"))
    assert (code, out) == (69, f"deploy {JOB} still Pending on prod\n")
    assert (f"deploy {JOB} is still Pending after 0 minute(s); follow it with 'sfsync deploy resume {JOB} "
            "--target-org prod' or 'sfsync deploy report " + JOB + " ...'") in err
    assert [etree.QName(op).localname for op in soap_ops(org)] == ["deploy"]


def test_wait_zero_with_a_deploy_already_done_reports_its_result(org, capsys, repo_root):
    org.add(responses.POST, SOAP_URL, **soap(deploy_answer().replace("<done>false</done>", "<done>true</done>")))
    org.add(responses.POST, SOAP_URL, **soap(check_answer("Succeeded", done=True, success=True)))
    code, out, _ = run_cli(capsys, *deploy_args(repo_root, "--wait", "0"))
    assert (code, out) == (0, f"deployed 78 components to prod (job {JOB})\n")
    assert [etree.QName(op).localname for op in soap_ops(org)] == ["deploy", "checkDeployStatus"]
