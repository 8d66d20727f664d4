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
        "stack_trace": "Class.ReservationGuardTest.refusesOverlap: line 42, column 1",
    }]


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
