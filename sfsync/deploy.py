"""Deploying a Metadata API zip and following the job to its end.

We write the SOAP bodies ourselves instead of calling simple-salesforce's ``deploy``: its
template writes the literal text ``None`` into the request when ``testLevel`` is unset and it
knows no quick deploy or cancel. The transport (session, refresh, retries) is ``OrgClient``'s.

Also here: which tests a deploy runs (the project's Apex tests by default; NoTestRun refused for
production), whether an org is production, the sf CLI's exit codes for a deploy's final state,
quick deploys of a validated job, cancelling, and adding destructive changes to a zip.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import time
import zipfile
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TypeVar

from lxml import etree
from pydantic import BaseModel
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from sfsync.errors import DeployFailed, SalesforceApiError, UsageError

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
    time_ms: float | None = None


class TestSuccess(BaseModel):
    class_name: str
    method_name: str
    time_ms: float | None = None


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
    # DeployMessages that succeeded but carry a problem (problemType Warning/Info).
    component_warnings: list[ComponentFailure] = []
    test_failures: list[TestFailure] = []
    test_successes: list[TestSuccess] = []
    tests_run: int = 0
    tests_total_time_ms: float | None = None


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


def _opt_float(el: etree._Element, path: str) -> float | None:
    value = _text(el, path)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _component_message(f: etree._Element) -> ComponentFailure:
    return ComponentFailure(
        component_type=_text(f, "m:componentType") or "",
        full_name=_text(f, "m:fullName") or "",
        file_name=_text(f, "m:fileName") or "",
        line=_opt_int(f, "m:lineNumber"),
        column=_opt_int(f, "m:columnNumber"),
        problem=_text(f, "m:problem") or "",
        problem_type=_text(f, "m:problemType") or "Error",
    )


def parse_deploy_result(result: etree._Element) -> DeployStatus:
    """Turn a checkDeployStatus ``result`` element into a DeployStatus."""
    status = _text(result, "m:status")
    job_id = _text(result, "m:id")
    if not status or not job_id:
        raise SalesforceApiError("checkDeployStatus answer has no id or status")
    if status not in FINAL_STATES | RUNNING_STATES:
        raise SalesforceApiError(f"deploy {job_id} reports an unknown status '{status}'")
    failures = [_component_message(f) for f in result.findall("m:details/m:componentFailures", _NS)]
    warnings = [_component_message(f) for f in result.findall("m:details/m:componentSuccesses", _NS)
                if _text(f, "m:problem")]
    test_failures = [
        TestFailure(
            class_name=_text(f, "m:name") or "",
            method_name=_text(f, "m:methodName") or "",
            message=_text(f, "m:message") or "",
            stack_trace=_text(f, "m:stackTrace"),
            time_ms=_opt_float(f, "m:time"),
        )
        for f in result.findall("m:details/m:runTestResult/m:failures", _NS)
    ]
    test_successes = [
        TestSuccess(class_name=_text(f, "m:name") or "", method_name=_text(f, "m:methodName") or "",
                    time_ms=_opt_float(f, "m:time"))
        for f in result.findall("m:details/m:runTestResult/m:successes", _NS)
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
        component_warnings=warnings,
        test_failures=test_failures,
        test_successes=test_successes,
        tests_run=_int(result, "m:details/m:runTestResult/m:numTestsRun"),
        tests_total_time_ms=_opt_float(result, "m:details/m:runTestResult/m:totalTime"),
    )


def start_deploy(client, zip_bytes: bytes, options: DeployOptions) -> str:
    """Send the zip; returns the deploy job id (0Af...)."""
    return start_deploy_job(client, zip_bytes, options).id


def start_deploy_job(client, zip_bytes: bytes, options: DeployOptions) -> DeployStatus:
    """Send the zip; returns what the deploy answer (an AsyncResult) tells: the job id and whether
    it is done already. A job not done is ``Pending`` (the answer carries no DeployResult yet)."""
    body = client.soap_metadata(deploy_request_xml(zip_bytes, options), "deploy")
    job_id = _text(body, "m:result/m:id")
    if not job_id:
        raise SalesforceApiError("deploy answer has no job id")
    logger.info("deploy job %s started (check_only=%s)", job_id, options.check_only)
    done = _text(body, "m:result/m:done") == "true"
    return DeployStatus(id=job_id, status="Pending", done=done, success=False, check_only=options.check_only)


# A poll answer that is not a SOAP envelope (a proxy's HTML page, a cut-off body) says nothing
# about the job: ask again, a few times, before giving up.
POLL_ATTEMPTS = 4


# How OrgClient.soap_metadata reports a 2xx answer it could not read as SOAP (client.py).
_GARBLED = ("without a SOAP envelope", "empty SOAP body")


def _garbled_answer(exc: BaseException) -> bool:
    return (isinstance(exc, SalesforceApiError) and exc.error_code is None
            and (exc.status is None or exc.status < 300) and str(exc).endswith(_GARBLED))


def poll_once(fn: Callable[[], T], what: str, *, attempts: int = POLL_ATTEMPTS, max_wait: float = 4.0) -> T:
    """Run one status poll; an unreadable answer is asked again, up to ``attempts`` in all."""
    retryer = Retrying(stop=stop_after_attempt(attempts), wait=wait_random_exponential(multiplier=0.5, max=max_wait),
                       retry=retry_if_exception(_garbled_answer), reraise=True,
                       before_sleep=lambda state: logger.info("%s: unreadable status answer (%s); asking again",
                                                              what, state.outcome.exception()))
    return retryer(fn)


def check_deploy(client, job_id: str) -> DeployStatus:
    """One checkDeployStatus (with details)."""

    def once() -> DeployStatus:
        body = client.soap_metadata(check_status_request_xml(job_id), "checkDeployStatus")
        result = body.find("m:result", _NS)
        if result is None:
            raise SalesforceApiError("checkDeployStatus answer has no result")
        return parse_deploy_result(result)

    return poll_once(once, f"deploy {job_id}")


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

    ``wait_seconds`` 0 means do not wait: one status check, right after the start. The limit is
    checked before every sleep and a sleep never goes past it; one poll already under way when
    it passes still ends, so the limit can be overrun by at most one poll (the client's HTTP
    timeout, plus poll_once's few retries of an unreadable answer).
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
        remaining = deadline - clock()
        if wait_seconds <= 0 or remaining <= 0:
            return status
        sleep(min(poll_seconds, remaining))


# --------------------------------------------------------------------------- exit codes

# The sf CLI's codes for a deploy's state (plugin-deploy-retrieve DEPLOY_STATUS_CODES): CI
# scripts written for `sf project deploy start` read ours the same way.
EXIT_CODES = {"Succeeded": 0, "Canceled": 1, "Failed": 1, "FinalizingFailed": 1, "SucceededPartial": 68,
              "InProgress": 69, "Pending": 69, "Canceling": 69, "Finalizing": 69}


def exit_code(status: DeployStatus) -> int:
    """0 succeeded, 1 failed or canceled, 68 partly succeeded, 69 still running."""
    if not status.done:
        return 69
    return EXIT_CODES.get(status.status, 1)


# --------------------------------------------------------------------------- production and tests


class OrgInfo(BaseModel):
    org_id: str
    name: str
    is_sandbox: bool
    organization_type: str
    is_production: bool


# Editions where Salesforce runs no tests and accepts NoTestRun although IsSandbox is false.
NON_PRODUCTION_EDITIONS = {"Developer Edition"}


def is_production(is_sandbox: bool, organization_type: str) -> bool:
    return not is_sandbox and organization_type not in NON_PRODUCTION_EDITIONS


def org_info(client) -> OrgInfo:
    """The Organization row: id, name, sandbox flag and edition."""
    rows = [r for page in client.query_pages("SELECT Id, Name, IsSandbox, OrganizationType FROM Organization")
            for r in page]
    if not rows:
        raise SalesforceApiError("the org returned no Organization row")
    row = rows[0]
    sandbox = bool(row.get("IsSandbox"))
    edition = str(row.get("OrganizationType") or "")
    return OrgInfo(org_id=str(row.get("Id") or ""), name=str(row.get("Name") or ""), is_sandbox=sandbox,
                   organization_type=edition, is_production=is_production(sandbox, edition))


_IS_TEST_RE = re.compile(r"@\s*istest\b|\btestmethod\b", re.IGNORECASE)


def project_test_classes(project_root: Path) -> list[str]:
    """Apex classes of the project that hold test methods (a test utility class such as a data
    factory is @IsTest too, but has no test method, so it is left out)."""
    from sfsync.packaging import package_directories

    names = []
    for package_dir in package_directories(Path(project_root)):
        for path in sorted(package_dir.rglob("*.cls")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(_IS_TEST_RE.findall(text)) >= 2:
                names.append(path.stem)
    return sorted(set(names))


NO_TEST_RUN_IN_PRODUCTION = (
    "{org} is a production org, where Salesforce requires Apex tests for a deploy: --test-level NoTestRun "
    "is refused. Run the project's tests (leave out --test-level, or use RunSpecifiedTests or RunLocalTests); "
    "to keep the release window short, validate first with 'sfsync deploy --check-only --target-org {org}' "
    "and then release the validated job with 'sfsync deploy quick JOB_ID --target-org {org}'."
)


def resolve_tests(level: TestLevel | None, *, production: bool, org_name: str, project_tests: list[str],
                  run_tests: list[str] | None = None) -> tuple[TestLevel | None, list[str]]:
    """The test level and classes a deploy sends.

    Default: RunSpecifiedTests with the project's own test classes (none in the project: the
    org's default). NoTestRun is refused for production orgs."""
    if level == TestLevel.NO_TEST_RUN and production:
        raise UsageError(NO_TEST_RUN_IN_PRODUCTION.format(org=org_name))
    if level is None:
        if run_tests:
            return TestLevel.RUN_SPECIFIED_TESTS, list(run_tests)
        return (TestLevel.RUN_SPECIFIED_TESTS, list(project_tests)) if project_tests else (None, [])
    if level == TestLevel.RUN_SPECIFIED_TESTS:
        tests = list(run_tests or project_tests)
        if not tests:
            raise UsageError("--test-level RunSpecifiedTests needs test classes: the project has none; "
                             "name them with --tests or choose another test level")
        return level, tests
    if run_tests:
        raise UsageError(f"--tests only applies to --test-level RunSpecifiedTests, not {level.value}")
    return level, []


# --------------------------------------------------------------------------- quick deploy, cancel


def quick_deploy_request_xml(validation_id: str) -> bytes:
    op = etree.Element(f"{{{MD_NS}}}deployRecentValidation", nsmap={None: MD_NS})
    _sub(op, "validationId", validation_id)
    return etree.tostring(op, encoding="UTF-8")


def start_quick_deploy(client, validation_id: str) -> str:
    """Deploy a successful check-only job without running its tests again; returns the new job id."""
    body = client.soap_metadata(quick_deploy_request_xml(validation_id), "deployRecentValidation")
    job_id = (_text(body, "m:result") or "").strip()
    if not job_id:
        raise SalesforceApiError("deployRecentValidation answer has no job id")
    logger.info("quick deploy %s of validation %s started", job_id, validation_id)
    return job_id


_JOB_ID_RE = re.compile(r"0Af[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


def check_job_id(job_id: str) -> str:
    """A deploy job id is a 15- or 18-character record id with the 0Af (DeployRequest) prefix;
    anything else is refused before a call to the org."""
    if not _JOB_ID_RE.fullmatch(job_id or ""):
        raise UsageError(f"'{job_id}' is not a deploy job id: expected 15 or 18 letters and digits starting "
                         "with 0Af (as printed by 'sfsync deploy')")
    return job_id


def cancel_request_xml(job_id: str) -> bytes:
    op = etree.Element(f"{{{MD_NS}}}cancelDeploy", nsmap={None: MD_NS})
    _sub(op, "String", job_id)
    return etree.tostring(op, encoding="UTF-8")


def cancel_deploy(client, job_id: str) -> bool:
    """Ask the org to cancel ``job_id``; True when the cancel is already done (else it is Canceling)."""
    body = client.soap_metadata(cancel_request_xml(job_id), "cancelDeploy")
    return _text(body, "m:result/m:done") == "true"


# --------------------------------------------------------------------------- destructive changes

DESTRUCTIVE_POST = "destructiveChangesPost.xml"


def with_destructive_changes(zip_bytes: bytes, components: list[tuple[str, str]], version: str) -> bytes:
    """The zip plus a destructiveChangesPost.xml naming ``components`` (type, fullName).

    Post: the org deletes them after the new versions of the other components are in place,
    so a layout that stops using a field is updated before the field goes."""
    from sfsync.packaging import package_xml

    if not components:
        return zip_bytes
    source = zipfile.ZipFile(io.BytesIO(zip_bytes))
    if DESTRUCTIVE_POST in source.namelist():
        raise UsageError(f"the package already has a {DESTRUCTIVE_POST}")
    manifest = package_xml(sorted(components), version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info, source.read(info.filename))
        entry = zipfile.ZipInfo(DESTRUCTIVE_POST, date_time=(1980, 1, 1, 0, 0, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry.create_system = 3
        entry.external_attr = 0o100644 << 16
        out.writestr(entry, manifest)
    return buf.getvalue()
