"""Deploy request bodies and DeployResult parsing, pinned to the WSDL's DeployOptions/DeployResult."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from sfsync.deploy import (
    DeployOptions,
    check_status_request_xml,
    deploy_request_xml,
    parse_deploy_result,
    wait_for_deploy,
)
from sfsync import deploy as deploy_module
from sfsync.errors import DeployFailed, SalesforceApiError

M = "{http://soap.sforce.com/2006/04/metadata}"


def _children(xml: bytes, path: str) -> list[tuple[str, str]]:
    root = etree.fromstring(xml)
    node = root.find(path)
    return [(child.tag.replace(M, ""), child.text) for child in node]


def test_deploy_body_follows_deploy_options_sequence_and_omits_unset_test_level():
    body = deploy_request_xml(b"PK\x05\x06" + b"\0" * 18, DeployOptions())
    assert b"None" not in body
    assert _children(body, f"{M}DeployOptions") == [
        ("allowMissingFiles", "false"), ("autoUpdatePackage", "false"), ("checkOnly", "false"),
        ("ignoreWarnings", "false"), ("performRetrieve", "false"), ("purgeOnDelete", "false"),
        ("rollbackOnError", "true"), ("singlePackage", "true"),
    ]
    zip_text = etree.fromstring(body).findtext(f"{M}ZipFile")
    assert base64.b64decode(zip_text) == b"PK\x05\x06" + b"\0" * 18


def test_deploy_body_with_specified_tests_puts_run_tests_before_single_package():
    options = DeployOptions(check_only=True, test_level=deploy_module.TestLevel.RUN_SPECIFIED_TESTS,
                            run_tests=["ReservationGuardTest", "TestDriveBoardControllerTest"])
    assert _children(deploy_request_xml(b"zip", options), f"{M}DeployOptions") == [
        ("allowMissingFiles", "false"), ("autoUpdatePackage", "false"), ("checkOnly", "true"),
        ("ignoreWarnings", "false"), ("performRetrieve", "false"), ("purgeOnDelete", "false"),
        ("rollbackOnError", "true"), ("runTests", "ReservationGuardTest"),
        ("runTests", "TestDriveBoardControllerTest"), ("singlePackage", "true"), ("testLevel", "RunSpecifiedTests"),
    ]


def test_check_status_body():
    assert _children(check_status_request_xml("0Af000000000001AAA"), ".") == [
        ("asyncProcessId", "0Af000000000001AAA"), ("includeDetails", "true"),
    ]


FAILED_RESULT = """<result xmlns="http://soap.sforce.com/2006/04/metadata">
  <checkOnly>false</checkOnly>
  <completedDate>2026-12-03T03:00:05.000Z</completedDate>
  <createdBy>005000000000001AAA</createdBy>
  <createdByName>Admin</createdByName>
  <createdDate>2026-12-03T03:00:00.000Z</createdDate>
  <details>
    <componentFailures>
      <changed>false</changed>
      <columnNumber>13</columnNumber>
      <componentType>CustomField</componentType>
      <created>false</created>
      <createdDate>2026-12-03T03:00:04.000Z</createdDate>
      <deleted>false</deleted>
      <fileName>objects/Test_Drive_Reservation__c.object</fileName>
      <fullName>Test_Drive_Reservation__c.Status__c</fullName>
      <lineNumber>120</lineNumber>
      <problem>Picklist value: Done not found</problem>
      <problemType>Error</problemType>
      <success>false</success>
    </componentFailures>
    <runTestResult>
      <numFailures>1</numFailures>
      <numTestsRun>3</numTestsRun>
      <totalTime>120.0</totalTime>
      <failures>
        <id>01p000000000001AAA</id>
        <message>System.AssertException: Assertion Failed: overlap must be refused</message>
        <methodName>refusesOverlap</methodName>
        <name>ReservationGuardTest</name>
        <stackTrace>Class.ReservationGuardTest.refusesOverlap: line 42, column 1</stackTrace>
        <time>40.0</time>
      </failures>
    </runTestResult>
  </details>
  <done>true</done>
  <id>0Af000000000001AAA</id>
  <ignoreWarnings>false</ignoreWarnings>
  <numberComponentErrors>1</numberComponentErrors>
  <numberComponentsDeployed>11</numberComponentsDeployed>
  <numberComponentsTotal>12</numberComponentsTotal>
  <numberTestErrors>1</numberTestErrors>
  <numberTestsCompleted>2</numberTestsCompleted>
  <numberTestsTotal>3</numberTestsTotal>
  <rollbackOnError>true</rollbackOnError>
  <runTestsEnabled>true</runTestsEnabled>
  <status>Failed</status>
  <success>false</success>
</result>"""


def test_parse_failed_result_keeps_every_failure():
    status = parse_deploy_result(etree.fromstring(FAILED_RESULT))
    assert (status.id, status.status, status.done, status.success) == ("0Af000000000001AAA", "Failed", True, False)
    assert (status.components_total, status.components_deployed, status.component_errors) == (12, 11, 1)
    assert (status.tests_total, status.tests_completed, status.test_errors) == (3, 2, 1)
    assert [f.model_dump() for f in status.component_failures] == [{
        "component_type": "CustomField", "full_name": "Test_Drive_Reservation__c.Status__c",
        "file_name": "objects/Test_Drive_Reservation__c.object", "line": 120, "column": 13,
        "problem": "Picklist value: Done not found", "problem_type": "Error",
    }]
    assert [f.model_dump() for f in status.test_failures] == [{
        "class_name": "ReservationGuardTest", "method_name": "refusesOverlap",
        "message": "System.AssertException: Assertion Failed: overlap must be refused",
        "stack_trace": "Class.ReservationGuardTest.refusesOverlap: line 42, column 1", "time_ms": 40.0,
    }]
    assert (status.tests_run, status.tests_total_time_ms, status.component_warnings) == (3, 120.0, [])


def test_unknown_status_is_an_error_not_a_reason_to_poll():
    xml = FAILED_RESULT.replace("<status>Failed</status>", "<status>Exploded</status>")
    with pytest.raises(SalesforceApiError, match="unknown status 'Exploded'"):
        parse_deploy_result(etree.fromstring(xml))


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class ScriptedMetadataClient:
    """Answers checkDeployStatus with the given statuses in turn (the Metadata API's own XML)."""

    def __init__(self, statuses: list[tuple[str, bool]]):
        self.statuses = statuses
        self.calls = 0

    def soap_metadata(self, body_xml: bytes, soap_action: str):
        status, done = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        xml = (FAILED_RESULT.replace("<status>Failed</status>", f"<status>{status}</status>")
               .replace("<done>true</done>", f"<done>{'true' if done else 'false'}</done>"))
        body = etree.fromstring(f'<checkDeployStatusResponse xmlns="http://soap.sforce.com/2006/04/metadata">{xml}'
                                f"</checkDeployStatusResponse>")
        return body


def test_wait_stops_at_the_limit_with_the_running_status():
    client = ScriptedMetadataClient([("InProgress", False)])
    clock = FakeClock()
    status = wait_for_deploy(client, "0Af000000000001AAA", wait_seconds=30, poll_seconds=10, clock=clock.now,
                             sleep=clock.sleep)
    assert (status.status, status.done) == ("InProgress", False)
    assert (client.calls, clock.t) == (4, 30)  # polled at 0, 10, 20 and 30 seconds


def test_wait_returns_the_final_status_and_reports_progress():
    client = ScriptedMetadataClient([("Pending", False), ("InProgress", False), ("Failed", True)])
    seen = []
    status = wait_for_deploy(client, "0Af000000000001AAA", wait_seconds=60, on_progress=lambda s: seen.append(s.status),
                             sleep=lambda s: None)
    assert seen == ["Pending", "InProgress", "Failed"]
    assert (status.status, status.success) == ("Failed", False)


def test_done_with_a_running_status_is_refused():
    client = ScriptedMetadataClient([("InProgress", True)])
    with pytest.raises(DeployFailed, match="says done but its status is 'InProgress'"):
        wait_for_deploy(client, "0Af000000000001AAA", wait_seconds=60, sleep=lambda s: None)


# ---------------------------------------------------------------- tests, production, exit codes, JUnit

@pytest.mark.parametrize("is_sandbox, edition, production", [
    (False, "Enterprise Edition", True), (False, "Unlimited Edition", True), (True, "Enterprise Edition", False),
    (False, "Developer Edition", False),
])
def test_production_is_a_non_sandbox_that_is_not_a_developer_edition(is_sandbox, edition, production):
    assert deploy_module.is_production(is_sandbox, edition) is production


def test_resolve_tests_defaults_and_refusals():
    resolve = deploy_module.resolve_tests
    level = deploy_module.TestLevel
    project = ["ReservationGuardServiceTest"]
    assert resolve(None, production=True, org_name="p", project_tests=project) == (level.RUN_SPECIFIED_TESTS, project)
    assert resolve(None, production=False, org_name="s", project_tests=[]) == (None, [])
    assert resolve(level.RUN_LOCAL_TESTS, production=True, org_name="p", project_tests=project) == (
        level.RUN_LOCAL_TESTS, [])
    assert resolve(None, production=False, org_name="s", project_tests=project, run_tests=["OtherTest"]) == (
        level.RUN_SPECIFIED_TESTS, ["OtherTest"])
    assert resolve(level.NO_TEST_RUN, production=False, org_name="s", project_tests=project) == (level.NO_TEST_RUN, [])
    with pytest.raises(deploy_module.UsageError, match="^p is a production org"):
        resolve(level.NO_TEST_RUN, production=True, org_name="p", project_tests=project)
    with pytest.raises(deploy_module.UsageError, match="needs test classes: the project has none"):
        resolve(level.RUN_SPECIFIED_TESTS, production=False, org_name="s", project_tests=[])
    with pytest.raises(deploy_module.UsageError, match="only applies to --test-level RunSpecifiedTests"):
        resolve(level.RUN_LOCAL_TESTS, production=False, org_name="s", project_tests=[], run_tests=["X"])


@pytest.mark.parametrize("status, done, code", [
    ("Succeeded", True, 0), ("Failed", True, 1), ("Canceled", True, 1), ("SucceededPartial", True, 68),
    ("InProgress", False, 69), ("Pending", False, 69), ("Canceling", False, 69), ("Finalizing", False, 69),
])
def test_exit_codes_follow_the_sf_cli(status, done, code):
    xml = (FAILED_RESULT.replace("<status>Failed</status>", f"<status>{status}</status>")
           .replace("<done>true</done>", f"<done>{'true' if done else 'false'}</done>"))
    assert deploy_module.exit_code(parse_deploy_result(etree.fromstring(xml))) == code


def test_junit_has_a_suite_for_tests_and_one_for_component_failures():
    from sfsync.junit import junit_xml

    root = etree.fromstring(junit_xml(parse_deploy_result(etree.fromstring(FAILED_RESULT))))
    tests, components = root.findall("testsuite")
    assert [(c.get("classname"), c.get("name"), c.find("failure").get("message")) for c in tests.findall("testcase")] == [
        ("ReservationGuardTest", "refusesOverlap", "System.AssertException: Assertion Failed: overlap must be refused")]
    assert (components.get("name"), components.get("failures")) == ("sfsync.deploy.components", "1")
    failure = components.find("testcase/failure")
    assert (failure.get("message"), failure.text) == (
        "Picklist value: Done not found", "objects/Test_Drive_Reservation__c.object:120:13: Picklist value: Done not found")


def test_quick_deploy_and_cancel_bodies():
    assert _children(deploy_module.quick_deploy_request_xml("0Af000000000001AAA"), ".") == [
        ("validationId", "0Af000000000001AAA")]
    assert _children(deploy_module.cancel_request_xml("0Af000000000001AAA"), ".") == [("String", "0Af000000000001AAA")]


def test_destructive_changes_are_added_beside_package_xml():
    import io
    import zipfile

    from sfsync.packaging import build_package
    from pathlib import Path

    package = build_package(Path(__file__).resolve().parents[1])
    out = deploy_module.with_destructive_changes(package.zip_bytes, [("CustomField", "Test_Drive_Reservation__c.Old__c")],
                                                 "66.0")
    archive = zipfile.ZipFile(io.BytesIO(out))
    original = zipfile.ZipFile(io.BytesIO(package.zip_bytes))
    assert archive.namelist() == original.namelist() + ["destructiveChangesPost.xml"]
    assert all(archive.read(n) == original.read(n) for n in original.namelist())
    manifest = etree.fromstring(archive.read("destructiveChangesPost.xml"))
    assert [(c.tag.replace(M, ""), c.text) for c in manifest.iter() if c.text and c.text.strip()] == [
        ("members", "Test_Drive_Reservation__c.Old__c"), ("name", "CustomField"), ("version", "66.0")]
    assert deploy_module.with_destructive_changes(package.zip_bytes, [], "66.0") == package.zip_bytes


def test_wait_zero_checks_once_and_never_sleeps():
    client = ScriptedMetadataClient([("InProgress", False), ("Succeeded", True)])
    slept = []
    status = wait_for_deploy(client, "0Af000000000001AAA", wait_seconds=0, sleep=slept.append)
    assert (status.status, status.done, client.calls, slept) == ("InProgress", False, 1, [])


def test_a_slow_poll_never_makes_the_wait_sleep_past_the_limit():
    clock = FakeClock()
    client = ScriptedMetadataClient([("InProgress", False)])
    real = client.soap_metadata

    def slow(body_xml, soap_action):  # each answer takes 7 s of the fake clock
        clock.t += 7
        return real(body_xml, soap_action)

    client.soap_metadata = slow
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock.t += seconds

    status = wait_for_deploy(client, "0Af000000000001AAA", wait_seconds=10, poll_seconds=5, clock=clock.now,
                             sleep=sleep)
    assert (status.done, client.calls, slept, clock.t) == (False, 2, [3], 17)


@pytest.mark.parametrize("job", ["0Af5g00000KdPxS", "0Af5g00000KdPxSCAV"])
def test_check_job_id_accepts_15_and_18_character_deploy_ids(job):
    from sfsync.deploy import check_job_id

    assert check_job_id(job) == job


def test_start_deploy_job_tells_a_job_not_done_as_pending():
    from sfsync.deploy import DeployOptions, start_deploy_job

    class Client:
        def soap_metadata(self, body_xml, soap_action):
            return etree.fromstring('<deployResponse xmlns="http://soap.sforce.com/2006/04/metadata"><result>'
                                    "<done>false</done><id>0Af5g00000KdPxSCAV</id><state>Queued</state></result>"
                                    "</deployResponse>")

    status = start_deploy_job(Client(), b"PK", DeployOptions(check_only=True))
    assert status.model_dump(include={"id", "status", "done", "success", "check_only"}) == {
        "id": "0Af5g00000KdPxSCAV", "status": "Pending", "done": False, "success": False, "check_only": True}


def test_write_junit_to_an_unwritable_path_is_a_usage_error_naming_it(tmp_path):
    from sfsync.errors import UsageError
    from sfsync.junit import write_junit

    status = ScriptedMetadataClient([("Failed", True)])
    result = wait_for_deploy(status, "0Af000000000001AAA", wait_seconds=0)
    with pytest.raises(UsageError) as info:
        write_junit(result, "/proc/junit.xml")
    assert str(info.value) == "cannot write JUnit report /proc/junit.xml: No such file or directory"
