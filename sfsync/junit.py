"""A deploy's outcome as a JUnit XML report, for CI servers that display test results.

Two suites: the Apex test run (one testcase per test method, as the sf CLI's JUnit reporter
writes it) and the deployed components' failures (one failing testcase each), so that a deploy
that fails before any test runs still shows why in the CI's test view.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lxml import etree

from sfsync.deploy import DeployStatus

logger = logging.getLogger(__name__)


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.3f}"


def junit_xml(status: DeployStatus) -> bytes:
    root = etree.Element("testsuites")
    tests = etree.SubElement(root, "testsuite", name="force.apex",
                             tests=str(len(status.test_successes) + len(status.test_failures)),
                             failures=str(len(status.test_failures)), errors="0", skipped="0",
                             time=_seconds(status.tests_total_time_ms))
    props = etree.SubElement(tests, "properties")
    for name, value in (("deployId", status.id), ("status", status.status),
                        ("checkOnly", "true" if status.check_only else "false")):
        etree.SubElement(props, "property", name=name, value=value)
    cases = [(s.class_name, s.method_name, s.time_ms, None) for s in status.test_successes]
    cases += [(f.class_name, f.method_name, f.time_ms, f) for f in status.test_failures]
    for class_name, method, time_ms, failure in sorted(cases, key=lambda c: (c[0], c[1])):
        case = etree.SubElement(tests, "testcase", classname=class_name, name=method, time=_seconds(time_ms))
        if failure is not None:
            el = etree.SubElement(case, "failure", message=failure.message, type="AssertionError")
            el.text = failure.stack_trace or failure.message
    components = etree.SubElement(root, "testsuite", name="sfsync.deploy.components",
                                  tests=str(len(status.component_failures)),
                                  failures=str(len(status.component_failures)), errors="0", skipped="0", time="0.000")
    for f in status.component_failures:
        where = f.file_name + (f":{f.line}" if f.line else "") + (f":{f.column}" if f.column else "")
        case = etree.SubElement(components, "testcase", classname=f.component_type or "Component",
                                name=f.full_name or f.file_name, time="0.000")
        el = etree.SubElement(case, "failure", message=f.problem, type=f.problem_type)
        el.text = f"{where}: {f.problem}"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_junit(status: DeployStatus, path: Path) -> None:
    """Write the report through a temporary file and a rename; an unwritable path is a
    UsageError naming it (the CLI checks the path before the deploy, too)."""
    from sfsync.packaging import write_file_atomically

    path = Path(path)
    write_file_atomically(path, junit_xml(status), what="JUnit report")
    logger.info("wrote JUnit report %s", path)
