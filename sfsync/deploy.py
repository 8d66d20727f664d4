"""Deploying a Metadata API zip and following the job to its end.

We write the SOAP bodies ourselves instead of calling simple-salesforce's ``deploy``: its
template writes the literal text ``None`` into the request when ``testLevel`` is unset and it
knows no quick deploy or cancel. The transport (session, refresh, retries) is ``OrgClient``'s.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from enum import Enum

from lxml import etree
from pydantic import BaseModel

from sfsync.errors import DeployFailed, SalesforceApiError

logger = logging.getLogger(__name__)

MD_NS = "http://soap.sforce.com/2006/04/metadata"
_NS = {"m": MD_NS}

# The states a DeployResult can be in (DeployStatus in the WSDL). Anything else is an error:
# polling on an unknown state could go on forever.
FINAL_STATES = {"Succeeded", "SucceededPartial", "Failed", "Canceled", "FinalizingFailed"}
RUNNING_STATES = {"Pending", "InProgress", "Finalizing", "Canceling"}


class TestLevel(str, Enum):
    NO_TEST_RUN = "NoTestRun"
    RUN_SPECIFIED_TESTS = "RunSpecifiedTests"
    RUN_LOCAL_TESTS = "RunLocalTests"
    RUN_ALL_TESTS_IN_ORG = "RunAllTestsInOrg"


class DeployOptions(BaseModel):
    check_only: bool = False
    test_level: TestLevel | None = None
    run_tests: list[str] = []
    rollback_on_error: bool = True
    ignore_warnings: bool = False


class ComponentFailure(BaseModel):
    component_type: str
    full_name: str
    file_name: str
    line: int | None = None
    column: int | None = None
    problem: str
    problem_type: str


class TestFailure(BaseModel):
    class_name: str
    method_name: str
    message: str
    stack_trace: str | None = None


class DeployStatus(BaseModel):
    id: str
    status: str
    done: bool
    success: bool
    check_only: bool
    state_detail: str | None = None
    error_message: str | None = None
    components_total: int = 0
    components_deployed: int = 0
    component_errors: int = 0
    tests_total: int = 0
    tests_completed: int = 0
    test_errors: int = 0
    component_failures: list[ComponentFailure] = []
    test_failures: list[TestFailure] = []


def _sub(parent: etree._Element, name: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{MD_NS}}}{name}")
    el.text = text
    return el


def _bool(value: bool) -> str:
    return "true" if value else "false"


def deploy_request_xml(zip_bytes: bytes, options: DeployOptions) -> bytes:
    """The body of a ``deploy`` call. Elements follow DeployOptions' xsd:sequence; unset options
    are left out rather than written as empty or 'None'."""
    deploy = etree.Element(f"{{{MD_NS}}}deploy", nsmap={None: MD_NS})
    _sub(deploy, "ZipFile", base64.b64encode(zip_bytes).decode("ascii"))
    opts = etree.SubElement(deploy, f"{{{MD_NS}}}DeployOptions")
    _sub(opts, "allowMissingFiles", "false")
    _sub(opts, "autoUpdatePackage", "false")
    _sub(opts, "checkOnly", _bool(options.check_only))
    _sub(opts, "ignoreWarnings", _bool(options.ignore_warnings))
    _sub(opts, "performRetrieve", "false")
    _sub(opts, "purgeOnDelete", "false")
    _sub(opts, "rollbackOnError", _bool(options.rollback_on_error))
    if options.test_level == TestLevel.RUN_SPECIFIED_TESTS:
        for name in options.run_tests:
            _sub(opts, "runTests", name)
    _sub(opts, "singlePackage", "true")
    if options.test_level is not None:
        _sub(opts, "testLevel", options.test_level.value)
    return etree.tostring(deploy, encoding="UTF-8")


def check_status_request_xml(job_id: str) -> bytes:
    check = etree.Element(f"{{{MD_NS}}}checkDeployStatus", nsmap={None: MD_NS})
    _sub(check, "asyncProcessId", job_id)
    _sub(check, "includeDetails", "true")
    return etree.tostring(check, encoding="UTF-8")


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path, _NS)
    return found.text if found is not None and found.text is not None else None


def _int(el: etree._Element, path: str) -> int:
    value = _text(el, path)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _opt_int(el: etree._Element, path: str) -> int | None:
    value = _text(el, path)
    return int(value) if value and value.lstrip("-").isdigit() else None


def parse_deploy_result(result: etree._Element) -> DeployStatus:
    """Turn a checkDeployStatus ``result`` element into a DeployStatus."""
    status = _text(result, "m:status")
    job_id = _text(result, "m:id")
    if not status or not job_id:
        raise SalesforceApiError("checkDeployStatus answer has no id or status")
    if status not in FINAL_STATES | RUNNING_STATES:
        raise SalesforceApiError(f"deploy {job_id} reports an unknown status '{status}'")
    failures = [
        ComponentFailure(
            component_type=_text(f, "m:componentType") or "",
            full_name=_text(f, "m:fullName") or "",
            file_name=_text(f, "m:fileName") or "",
            line=_opt_int(f, "m:lineNumber"),
            column=_opt_int(f, "m:columnNumber"),
            problem=_text(f, "m:problem") or "",
            problem_type=_text(f, "m:problemType") or "Error",
        )
        for f in result.findall("m:details/m:componentFailures", _NS)
    ]
    test_failures = [
        TestFailure(
            class_name=_text(f, "m:name") or "",
            method_name=_text(f, "m:methodName") or "",
            message=_text(f, "m:message") or "",
            stack_trace=_text(f, "m:stackTrace"),
        )
        for f in result.findall("m:details/m:runTestResult/m:failures", _NS)
    ]
    return DeployStatus(
        id=job_id,
        status=status,
        done=_text(result, "m:done") == "true",
        success=_text(result, "m:success") == "true",
        check_only=_text(result, "m:checkOnly") == "true",
        state_detail=_text(result, "m:stateDetail"),
        error_message=_text(result, "m:errorMessage"),
        components_total=_int(result, "m:numberComponentsTotal"),
        components_deployed=_int(result, "m:numberComponentsDeployed"),
        component_errors=_int(result, "m:numberComponentErrors"),
        tests_total=_int(result, "m:numberTestsTotal"),
        tests_completed=_int(result, "m:numberTestsCompleted"),
        test_errors=_int(result, "m:numberTestErrors"),
        component_failures=failures,
        test_failures=test_failures,
    )


def start_deploy(client, zip_bytes: bytes, options: DeployOptions) -> str:
    """Send the zip; returns the deploy job id (0Af...)."""
    body = client.soap_metadata(deploy_request_xml(zip_bytes, options), "deploy")
    job_id = _text(body, "m:result/m:id")
    if not job_id:
        raise SalesforceApiError("deploy answer has no job id")
    logger.info("deploy job %s started (check_only=%s)", job_id, options.check_only)
    return job_id


def check_deploy(client, job_id: str) -> DeployStatus:
    body = client.soap_metadata(check_status_request_xml(job_id), "checkDeployStatus")
    result = body.find("m:result", _NS)
    if result is None:
        raise SalesforceApiError("checkDeployStatus answer has no result")
    return parse_deploy_result(result)


def wait_for_deploy(
    client,
    job_id: str,
    *,
    wait_seconds: float,
    poll_seconds: float = 1.0,
    on_progress: Callable[[DeployStatus], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployStatus:
    """Poll until the job is done or ``wait_seconds`` have passed; returns the last status.

    The caller decides what a not-done status at the limit means (the sf CLI exits 69)."""
    deadline = clock() + wait_seconds
    while True:
        status = check_deploy(client, job_id)
        if on_progress:
            on_progress(status)
        if status.done:
            if status.status not in FINAL_STATES:
                raise DeployFailed(f"deploy {job_id} says done but its status is '{status.status}'")
            return status
        if clock() >= deadline:
            return status
        sleep(min(poll_seconds, max(0.0, deadline - clock())))
