"""The ``sfsync`` command line: parse options, call the library, print, exit.

This is the only module that prints, sets up logging handlers or exits. ``main`` is the one
exception boundary: sfsync's own errors become one line on stderr and their exit code; anything
else is an internal error whose traceback only ``--debug`` shows.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import click

from sfsync import __version__
from sfsync.config import DEFAULT_TIME_ZONE, LOCAL_ORG_NAME, default_state_dir
from sfsync.errors import SfsyncError, Terminated, UsageError

logger = logging.getLogger(__name__)

# Commands run by cron or a scheduler promise operators these codes: 0 all done, 1 could not
# run, 2 some items failed, 3 API limit reached. A usage error there is "could not run".
WORKER_COMMANDS = {"notify-overdue", "worker"}


class _Run:
    debug = False
    command: str | None = None


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not debug:
        logging.getLogger("sfsync").setLevel(logging.WARNING)


def _err(message: str) -> None:
    click.echo(message, err=True)


def _find_project_root(start: Path) -> Path:
    for candidate in [start, *start.parents]:
        if (candidate / "sfdx-project.json").is_file():
            return candidate
    raise UsageError(f"no sfdx-project.json in {start} or its parents; run from the sfsync checkout or pass --project")


def _project_option(func):
    return click.option(
        "--project",
        "project",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder holding sfdx-project.json (default: the current folder or a parent).",
    )(func)


def _resolve_project(project: Path | None) -> Path:
    if project is None:
        return _find_project_root(Path.cwd())
    if not (project / "sfdx-project.json").is_file():
        raise UsageError(f"{project}: no sfdx-project.json there")
    return project


def _state_option(func):
    return click.option(
        "--state",
        "state_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Local org state folder (default: $SFSYNC_STATE_DIR or ~/.local/share/sfsync/local-org).",
    )(func)


NOW_YEARS = (1971, 9000)


def parse_now(value: str | None) -> datetime:
    """--now: an ISO-8601 date-time with an offset; without one it would silently mean the
    machine's zone, and the 10-day cutoff would move."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now '{value}' is not an ISO-8601 date-time (e.g. 2026-12-03T09:00:00+09:00)") from None
    if parsed.tzinfo is None:
        raise UsageError(f"--now '{value}' has no UTC offset; add one (e.g. 2026-12-03T09:00:00+09:00 or ...Z)")
    # Far years overflow the date arithmetic (offsets, day windows) further on.
    if not NOW_YEARS[0] <= parsed.year <= NOW_YEARS[1]:
        raise UsageError(f"--now '{value}' is out of range: the year must be {NOW_YEARS[0]} to {NOW_YEARS[1]}")
    return parsed


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sfsync")
@click.option("--debug", is_flag=True, help="Log every step and show tracebacks.")
def cli(debug: bool) -> None:
    """Test-drive reservations for car dealers on Salesforce.

    \b
    Example:
      sfsync demo                      # the whole job on a local org
      sfsync deploy --target-org local
      sfsync notify-overdue --target-org local --dry-run
    """
    _Run.debug = debug
    _setup_logging(debug)


@cli.command()
@_project_option
def validate(project: Path | None) -> int:
    """Check every file under metadata/ against the Metadata API schema (offline).

    \b
    Example:
      sfsync validate
    Prints path:line: message per problem and exits 1 if there is any.
    """
    from sfsync.validation import validate_tree

    root = _resolve_project(project)
    report = validate_tree(root)
    for problem in report.problems:
        click.echo(str(problem))
    if report.problems:
        _err(f"{len(report.problems)} problem(s) in {report.files_checked} file(s)")
        return 1
    _err(f"{report.files_checked} file(s) valid")
    return 0


@cli.command()
@_project_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Zip file to write.")
def package(project: Path | None, out: Path) -> int:
    """Build the Metadata API zip (package.xml at its root) from metadata/.

    Runs validate's checks first and writes nothing for a tree with problems; --out replaces
    only an existing zip archive.

    \b
    Example:
      sfsync package --out build/sfsync.zip
    """
    from sfsync.packaging import check_package_out, write_file_atomically

    root = _resolve_project(project)
    check_package_out(root, out)
    result = _checked_package(root)
    write_file_atomically(out, result.zip_bytes, what="zip file")
    click.echo(f"wrote {out}: {len(result.components)} components in {result.file_count} files")
    return 0


def _refuse_invalid_tree(root: Path, *, as_json: bool = False) -> None:
    """Run validate's offline checks; a tree with problems is refused before anything is built
    or sent. The problem lines are printed as validate prints them (on stderr under --json,
    where stdout holds one JSON object)."""
    from sfsync.errors import MetadataInvalid
    from sfsync.validation import validate_tree

    problems = validate_tree(root).lines()
    if problems:
        for line in problems:
            click.echo(line, err=as_json)
        raise MetadataInvalid(problems)


def _checked_package(root: Path, *, as_json: bool = False):
    """The package of a tree that passed validate's checks (see _refuse_invalid_tree)."""
    from sfsync.errors import MetadataInvalid
    from sfsync.packaging import build_package

    _refuse_invalid_tree(root, as_json=as_json)
    try:
        return build_package(root)
    except MetadataInvalid as exc:
        for line in exc.problems:
            click.echo(line, err=as_json)
        raise


# ----------------------------------------------------------------------------- deploy, plan, org
# (issue 5) Deploy results follow the sf CLI: exit 0 succeeded, 1 failed or canceled, 68 partly
# succeeded, 69 still running at --wait's end; under --json stdout holds one JSON object only.

TEST_LEVELS = ["NoTestRun", "RunSpecifiedTests", "RunLocalTests", "RunAllTestsInOrg"]


class _JsonErrors:
    """Under --json, an error still leaves one JSON object on stdout (the one-line message and
    the exit code stay main()'s)."""

    def __init__(self, as_json: bool):
        self.as_json = as_json

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.as_json and isinstance(exc, SfsyncError):
            code = exc.exit_code
            click.echo(json.dumps({"status": code, "name": type(exc).__name__, "message": str(exc)},
                                  ensure_ascii=False))
        return False


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(r[i].ljust(widths[i]) for i in range(len(widths))) + "  " + r[-1] for r in rows]


def _print_component_failures(status) -> None:
    rows = [("TYPE", "NAME", "LINE", "PROBLEM")] + [
        (f.component_type, f.full_name or f.file_name, str(f.line or ""), f.problem) for f in status.component_failures
    ]
    for line in _table(rows):
        _err(line)


def _print_test_failures(status) -> None:
    rows = [("CLASS", "METHOD", "MESSAGE")] + [(f.class_name, f.method_name, f.message) for f in status.test_failures]
    for line in _table(rows):
        _err(line)
    for f in status.test_failures:
        if f.stack_trace:
            _err(f"  {f.class_name}.{f.method_name}: {f.stack_trace}")


def _progress_printer(job_id: str):
    last: list = [None]

    def progress(status) -> None:
        line = (f"deploy {job_id}: {status.status} - components {status.components_deployed}/"
                f"{status.components_total} ({status.component_errors} error(s)), tests {status.tests_completed}/"
                f"{status.tests_total} ({status.test_errors} error(s))")
        if line != last[0]:  # one line per change, not one per poll
            _err(line)
            last[0] = line

    return progress


def _finish_deploy(status, *, target_org: str, as_json: bool, junit: Path | None, wait_minutes: float | None = None,
                   extra: dict | None = None) -> int:
    """Report a deploy's last status (stdout: one summary line or the JSON; details on stderr)."""
    from sfsync.deploy import exit_code

    code = exit_code(status)
    if junit is not None and status.done:
        from sfsync.junit import write_junit

        write_junit(status, junit)
        _err(f"wrote JUnit report {junit}")
    for w in status.component_warnings:
        _err(f"warning: {w.component_type} {w.full_name}: {w.problem}")
    if status.done and not status.success or code == 68:
        if status.error_message:
            _err(status.error_message)
        if status.component_failures:
            _print_component_failures(status)
        if status.test_failures:
            _print_test_failures(status)
    job = status.id
    if code == 69:
        waited = f" after {wait_minutes:g} minute(s)" if wait_minutes is not None else ""
        _err(f"deploy {job} is still {status.status}{waited}; follow it with "
             f"'sfsync deploy resume {job} --target-org {target_org}' or 'sfsync deploy report {job} ...'")
        summary = f"deploy {job} still {status.status} on {target_org}"
    elif code == 0:
        summary = (f"validated {status.components_deployed} components for {target_org} (job {job})" if status.check_only
                   else f"deployed {status.components_deployed} components to {target_org} (job {job})")
        if status.check_only:
            _err(f"release this validation without running the tests again: "
                 f"sfsync deploy quick {job} --target-org {target_org}")
    elif code == 68:
        summary = (f"deploy {job} partly succeeded on {target_org}: {status.components_deployed} deployed, "
                   f"{status.component_errors} component error(s), {status.test_errors} test error(s)")
    else:
        summary = (f"deploy {job} {status.status} on {target_org}: {status.component_errors} component error(s), "
                   f"{status.test_errors} test error(s)")
    if as_json:
        result = {"targetOrg": target_org, **(extra or {}), **status.model_dump(mode="json")}
        warnings = [f"{w.component_type} {w.full_name}: {w.problem}" for w in status.component_warnings]
        click.echo(json.dumps({"status": code, "result": result, "warnings": warnings}, ensure_ascii=False))
    else:
        click.echo(summary)
    return code


def _target_org_option(required: bool = True):
    return click.option("--target-org", "target_org", required=required, help="Org name from sfsync.toml, or 'local'.")


def _wait_option(func):
    return click.option("--wait", "wait_minutes", type=click.FloatRange(min=0.0), default=33.0, show_default=True,
                        help="Minutes to wait for the job; at the limit exit 69 with the job id (0: do not wait). "
                             "One status request under way at the limit still ends (HTTP timeout).")(func)


def _json_option(func):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON object on stdout; progress and warnings go to stderr.")(func)


def _junit_option(func):
    return click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Also write the test and component results as JUnit XML to this file.")(func)


@cli.group("deploy", invoke_without_command=True)
@_target_org_option(required=False)
@_project_option
@_state_option
@_wait_option
@click.option("--check-only", is_flag=True, help="Validate only: run the deploy and its tests, change nothing.")
@click.option("--test-level", type=click.Choice(TEST_LEVELS), default=None,
              help="Apex tests to run (default: RunSpecifiedTests with the project's test classes).")
@click.option("--tests", "tests", multiple=True, help="Test class for RunSpecifiedTests (repeatable).")
@click.option("--delete-removed", is_flag=True,
              help="Also delete what 'sfsync plan' lists as removed (children of the package's objects).")
@click.option("--ignore-warnings", is_flag=True, help="Let warnings not fail the deploy.")
@_junit_option
@_json_option
@click.pass_context
def deploy(ctx, target_org: str | None, project: Path | None, state_dir: Path | None, wait_minutes: float,
           check_only: bool, test_level: str | None, tests: tuple[str, ...], delete_removed: bool,
           ignore_warnings: bool, junit: Path | None, as_json: bool) -> int | None:
    """Package metadata/ and deploy it through the Metadata API (after validate's checks).

    \b
    Example:
      sfsync deploy --target-org local
      sfsync deploy --target-org prod --check-only --junit build/junit.xml
      sfsync deploy quick 0Af5g00000ABCDE --target-org prod
    Exit codes: 0 succeeded, 1 failed or canceled, 68 partly succeeded, 69 still running when
    --wait ran out (the job id is printed; follow it with 'sfsync deploy resume JOB').
    """
    if ctx.invoked_subcommand is not None:
        return None
    if not target_org:
        raise UsageError("Missing option '--target-org' (an org name from sfsync.toml, or 'local')")
    from sfsync.connection import open_org
    from sfsync.deploy import (
        DeployOptions,
        TestLevel,
        org_info,
        project_test_classes,
        resolve_tests,
        start_deploy_job,
        wait_for_deploy,
        with_destructive_changes,
    )
    with _JsonErrors(as_json):
        root = _resolve_project(project)
        if junit is not None:
            _check_junit(junit)
        package_result = _checked_package(root, as_json=as_json)
        with open_org(target_org, state_dir=state_dir) as client:
            info = org_info(client)
            level, run_tests = resolve_tests(TestLevel(test_level) if test_level else None,
                                             production=info.is_production, org_name=target_org,
                                             project_tests=project_test_classes(root), run_tests=list(tests))
            zip_bytes = package_result.zip_bytes
            deleted: list[tuple[str, str]] = []
            if delete_removed:
                from sfsync.plan import make_plan

                deleted = make_plan(client, root, wait_seconds=max(wait_minutes, 1.0) * 60).removed
                for type_name, full_name in deleted:
                    _err(f"will delete {type_name} {full_name} (in {target_org}, no longer in metadata/)")
                zip_bytes = with_destructive_changes(zip_bytes, deleted, client.api_version)
            options = DeployOptions(check_only=check_only, test_level=level, run_tests=run_tests,
                                    ignore_warnings=ignore_warnings)
            started = start_deploy_job(client, zip_bytes, options)
            job_id = started.id
            kind = "production" if info.is_production else ("sandbox" if info.is_sandbox else info.organization_type)
            tests_text = f"{level.value} {', '.join(run_tests)}".strip() if level else "the org's default tests"
            _err(f"deploy {job_id}{' (check only)' if check_only else ''} to {target_org} ({kind}): "
                 f"{len(package_result.components)} components, {len(deleted)} deletion(s), tests: {tests_text}")
            if wait_minutes == 0 and not started.done:
                status = started  # --wait 0: do not wait, not even for one status check
            else:
                status = wait_for_deploy(client, job_id, wait_seconds=wait_minutes * 60,
                                         on_progress=_progress_printer(job_id))
        extra = {"deleted": [f"{t} {n}" for t, n in deleted], "isProduction": info.is_production}
        return _finish_deploy(status, target_org=target_org, as_json=as_json, junit=junit,
                              wait_minutes=wait_minutes, extra=extra)


def _check_junit(junit: Path) -> None:
    """--junit must be writable before the deploy starts, not found out after it ran."""
    from sfsync.packaging import check_output_file

    check_output_file(junit, what="JUnit report")


def _follow(target_org: str, state_dir: Path | None, job_id: str, wait_minutes: float, as_json: bool,
            junit: Path | None, start=None) -> int:
    from sfsync.connection import open_org
    from sfsync.deploy import check_job_id, wait_for_deploy

    with _JsonErrors(as_json):
        check_job_id(job_id)
        if junit is not None:
            _check_junit(junit)
        with open_org(target_org, state_dir=state_dir) as client:
            if start is not None:
                job_id = start(client)
            status = wait_for_deploy(client, job_id, wait_seconds=wait_minutes * 60,
                                     on_progress=_progress_printer(job_id))
        return _finish_deploy(status, target_org=target_org, as_json=as_json, junit=junit, wait_minutes=wait_minutes)


@deploy.command("report")
@click.argument("job_id")
@_target_org_option()
@_state_option
@_junit_option
@_json_option
def deploy_report(job_id: str, target_org: str, state_dir: Path | None, junit: Path | None, as_json: bool) -> int:
    """Show a deploy job's state once, with its failures; exit code as for deploy.

    \b
    Example:
      sfsync deploy report 0Af5g00000ABCDE --target-org prod --json
    """
    return _follow(target_org, state_dir, job_id, 0.0, as_json, junit)


@deploy.command("resume")
@click.argument("job_id")
@_target_org_option()
@_state_option
@_wait_option
@_junit_option
@_json_option
def deploy_resume(job_id: str, target_org: str, state_dir: Path | None, wait_minutes: float, junit: Path | None,
                  as_json: bool) -> int:
    """Follow a running deploy job again until it ends or --wait runs out.

    \b
    Example:
      sfsync deploy resume 0Af5g00000ABCDE --target-org prod --wait 60
    """
    return _follow(target_org, state_dir, job_id, wait_minutes, as_json, junit)


@deploy.command("quick")
@click.argument("job_id")
@_target_org_option()
@_state_option
@_wait_option
@_junit_option
@_json_option
def deploy_quick(job_id: str, target_org: str, state_dir: Path | None, wait_minutes: float, junit: Path | None,
                 as_json: bool) -> int:
    """Release a successful check-only job (validated in the last 10 days) without running its tests again.

    \b
    Example:
      sfsync deploy quick 0Af5g00000ABCDE --target-org prod
    """
    from sfsync.deploy import start_quick_deploy

    def start(client) -> str:
        new_id = start_quick_deploy(client, job_id)
        _err(f"quick deploy {new_id} of validation {job_id} started on {target_org}")
        return new_id

    return _follow(target_org, state_dir, job_id, wait_minutes, as_json, junit, start=start)


@deploy.command("cancel")
@click.argument("job_id")
@_target_org_option()
@_state_option
def deploy_cancel(job_id: str, target_org: str, state_dir: Path | None) -> int:
    """Ask the org to cancel a deploy job that has not finished.

    \b
    Example:
      sfsync deploy cancel 0Af5g00000ABCDE --target-org prod
    """
    from sfsync.connection import open_org
    from sfsync.deploy import cancel_deploy, check_job_id

    check_job_id(job_id)
    with open_org(target_org, state_dir=state_dir) as client:
        done = cancel_deploy(client, job_id)
    click.echo(f"deploy {job_id} {'canceled' if done else 'is being canceled'} on {target_org}")
    return 0


@cli.command("plan")
@_target_org_option()
@_project_option
@_state_option
@click.option("--diff", "with_diff", is_flag=True, help="Show a unified diff (org -> tree) of each changed component.")
@_json_option
def plan_cmd(target_org: str, project: Path | None, state_dir: Path | None, with_diff: bool, as_json: bool) -> int:
    """List the package's components as new, changed or unchanged in the org (Metadata API retrieve).

    \b
    Example:
      sfsync plan --target-org prod --diff
    Components the org has and metadata/ no longer does (children of the package's objects) are
    listed first as 'removed'; 'sfsync deploy --delete-removed' deletes them.
    """
    from sfsync.connection import open_org
    from sfsync.plan import make_plan

    with _JsonErrors(as_json):
        root = _resolve_project(project)
        _refuse_invalid_tree(root, as_json=as_json)
        with open_org(target_org, state_dir=state_dir) as client:
            result = make_plan(client, root, with_diff=with_diff)
    if as_json:
        click.echo(json.dumps({"status": 0, "result": result.model_dump(mode="json")}, ensure_ascii=False))
    else:
        for change in result.changes:
            click.echo(f"{change.state:<9} {change.type} {change.full_name}")
            if change.diff:
                click.echo(change.diff.rstrip("\n"))
    _err(f"{result.count('new')} new, {result.count('changed')} changed, {result.count('unchanged')} unchanged, "
         f"{result.count('removed')} removed in {target_org}")
    return 0


@cli.group("org")
def org_group() -> None:
    """The orgs of sfsync.toml: list them, check a login."""


@org_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def org_list(as_json: bool) -> int:
    """List the configured orgs and their login methods (never their secrets).

    \b
    Example:
      sfsync org list
    """
    from sfsync.config import list_orgs

    rows = [{"name": LOCAL_ORG_NAME, "method": "local org", "state_dir": str(default_state_dir())}]
    for entry in list_orgs():
        if isinstance(entry, SfsyncError):
            rows.append({"name": getattr(entry, "org_name", "?"), "method": "(invalid)", "problem": str(entry)})
        else:
            rows.append(entry.public_view())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        details = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("name", "method"))
        click.echo(f"{row['name']:<16} {row['method']:<13} {details}")
    return 0


@org_group.command("check")
@click.argument("name")
@_state_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def org_check(name: str, state_dir: Path | None, as_json: bool) -> int:
    """Log in to an org and show its id, user, API version and whether it is production.

    \b
    Example:
      sfsync org check prod
    """
    from sfsync.connection import open_org
    from sfsync.deploy import org_info

    with _JsonErrors(as_json):
        with open_org(name, state_dir=state_dir) as client:
            info = org_info(client)
            user = getattr(client, "username", None)
            user_id = getattr(client, "user_id", None)
            if not user and user_id:
                rows = [r for page in client.query_pages(f"SELECT Username FROM User WHERE Id = '{user_id}'")
                        for r in page]
                user = rows[0]["Username"] if rows else None
            user = user or "(not known for an access token login)"
            data = {"name": name, "org_id": info.org_id, "org_name": info.name, "user": user,
                    "instance_url": client.instance_url, "api_version": client.api_version,
                    "edition": info.organization_type, "is_sandbox": info.is_sandbox,
                    "is_production": info.is_production}
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            click.echo(f"{key:<13} {value}")
    return 0


def _worker_options(func):
    """Options shared by `notify-overdue` and `worker`; defaults also come from SFSYNC_WORKER_* variables."""
    options = [
        click.option("--target-org", "target_org", required=True, envvar="SFSYNC_TARGET_ORG",
                     help="Org name from sfsync.toml or SFSYNC_ORG_<NAME>_* variables, or 'local'."),
        _state_option,
        click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 date-time (with offset)."),
        click.option("--days", type=click.IntRange(min=1, max=3650), default=10, show_default=True,
                     envvar="SFSYNC_WORKER_DAYS",
                     help="A reservation is overdue this many calendar days after its scheduled start."),
        click.option("--escalate-after", type=click.IntRange(min=1, max=3650), default=7, show_default=True,
                     envvar="SFSYNC_WORKER_ESCALATE_AFTER",
                     help="Tell the store manager once when still unprocessed this many days after the first notice."),
        click.option("--time-zone", default=DEFAULT_TIME_ZONE, show_default=True, envvar="SFSYNC_WORKER_TIME_ZONE",
                     help="Zone whose calendar days count."),
        click.option("--digest", is_flag=True, envvar="SFSYNC_WORKER_DIGEST",
                     help="One notice per recipient with the count, opening the list view, instead of one per reservation."),
        click.option("--list-view", default="Overdue_Unprocessed", show_default=True,
                     help="List view (API name) the --digest notice opens."),
        click.option("--dry-run", is_flag=True, help="Find and count, but send and stamp nothing."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object on stdout per run."),
        click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     envvar="SFSYNC_WORKER_METRICS_FILE", help="Write the run's figures here (Prometheus text format)."),
        click.option("--min-api-remaining", type=click.IntRange(min=0), default=1000, show_default=True,
                     envvar="SFSYNC_WORKER_MIN_API_REMAINING",
                     help="Refuse to start (exit 3), or stop between batches, below this many daily API requests left."),
        click.option("--worker-id", default=None, envvar="SFSYNC_WORKER_ID",
                     help="Stable name of this worker (default: host name); one run per id at a time."),
        click.option("--lease-seconds", type=click.FloatRange(min=1), default=1800, show_default=True,
                     envvar="SFSYNC_WORKER_LEASE_SECONDS", help="Lifetime of the worker lease, renewed during long runs."),
        click.option("--lease-settle-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
                     envvar="SFSYNC_WORKER_LEASE_SETTLE_SECONDS",
                     help="Wait after taking the lease before trusting it (two workers at once)."),
        click.option("--no-lease", is_flag=True, help="Do not take the worker lease (single-instance schedulers only)."),
        click.option("--batch-size", type=click.IntRange(1, 200), default=200, hidden=True,
                     help="Notices per API call (tests; 200 is the most and the cheapest)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _worker_run_options(p: dict):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sfsync.worker import WorkerOptions

    try:
        ZoneInfo(p["time_zone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--time-zone '{p['time_zone']}' is not a known IANA time zone (e.g. Asia/Tokyo)") from None
    extra = {"worker_id": p["worker_id"]} if p["worker_id"] else {}
    return WorkerOptions(
        now=parse_now(p["now_text"]), days=p["days"], escalate_after=p["escalate_after"], dry_run=p["dry_run"],
        digest=p["digest"], time_zone=p["time_zone"], min_api_remaining=p["min_api_remaining"],
        lease=not p["no_lease"], lease_seconds=p["lease_seconds"], lease_settle_seconds=p["lease_settle_seconds"],
        list_view=p["list_view"], batch_size=p["batch_size"], **extra,
    )


def _worker_json_logs() -> None:
    """Worker commands log JSON lines on stderr: batch lines, a summary, warnings and errors."""
    from sfsync.worker_runtime import JsonLinesFormatter

    for handler in logging.getLogger().handlers:
        handler.setFormatter(JsonLinesFormatter())
    logging.getLogger("sfsync.worker.events").setLevel(logging.DEBUG if _Run.debug else logging.INFO)


def _run_worker_once(p: dict, stop) -> int:
    """One worker run: connect, notify, print the summary, write metrics; returns the exit code."""
    import time as _time

    from sfsync.connection import open_org
    from sfsync.errors import SfsyncError as _SfsyncError
    from sfsync.metrics import render_metrics, write_metrics_file
    from sfsync.worker import notify_overdue, summary_event

    events = logging.getLogger("sfsync.worker.events")
    started = _time.monotonic()
    result = None
    error: _SfsyncError | None = None
    try:
        options = _worker_run_options(p)
        with open_org(p["target_org"], state_dir=p["state_dir"]) as client:
            result = notify_overdue(client, options, should_stop=stop.is_set)
    except _SfsyncError as exc:
        error = exc
    if result is not None:
        code = result.exit_code
        summary = summary_event(result, org=p["target_org"], dry_run=p["dry_run"])
    else:
        code = 1 if isinstance(error, UsageError) else error.exit_code
        summary = {"event": "summary", "org": p["target_org"], "dry_run": p["dry_run"], "outcome": "not_started",
                   "exit_code": code, "error": str(error), "duration_seconds": round(_time.monotonic() - started, 3)}
    if result is not None:
        # A run that could not start is reported by main() as one "error:" line instead.
        events.log(logging.INFO if code in (0, 2) else logging.ERROR, "summary", extra={"event": summary})
    if p["metrics_file"] is not None:
        values = dict(summary, finished_at=round(_time.time(), 3))
        write_metrics_file(p["metrics_file"], render_metrics(values, org=p["target_org"]))
    if result is not None:
        if p["as_json"]:
            click.echo(json.dumps({**result.model_dump(mode="json"), "exit_code": code}, ensure_ascii=False))
        else:
            _print_worker_result(result, p["dry_run"])
    elif error is not None:
        raise error
    return code


@cli.command("notify-overdue")
@_worker_options
def notify_overdue_cmd(**p) -> int:
    """Notify the responsible staff of reservations left unprocessed for --days days (F6), once.

    \b
    Example:
      sfsync notify-overdue --target-org local --now 2026-12-03T09:00:00+09:00 --json
    Exit codes: 0 all done, 1 could not run, 2 some items failed, 3 API limit reached.
    SIGTERM finishes the current batch and exits cleanly.
    """
    from sfsync.worker_runtime import StopFlag

    _worker_json_logs()
    stop = StopFlag().install()
    try:
        return _run_worker_once(p, stop)
    finally:
        stop.uninstall()


@cli.command("worker")
@click.option("--every", "every", required=True, envvar="SFSYNC_WORKER_EVERY",
              help="Run the overdue worker now and then at this interval (1h, 30m, 90s) until SIGTERM.")
@_worker_options
def worker_cmd(every: str, **p) -> int:
    """Run `notify-overdue` repeatedly in one long-running process (systemd, containers).

    \b
    Example:
      sfsync worker --target-org prod --every 1h --metrics-file /var/lib/node_exporter/sfsync.prom
    A run that fails for a passing reason is retried at the next interval; a refused login or a
    configuration error stops the worker (exit 1). SIGTERM finishes the current batch and exits
    with the last run's code.
    """
    from sfsync.errors import AuthenticationFailed, ConfigError
    from sfsync.worker_runtime import StopFlag, parse_interval, run_every

    interval = parse_interval(every)
    _worker_json_logs()
    stop = StopFlag().install()

    def once() -> int:
        try:
            return _run_worker_once(p, stop)
        except (AuthenticationFailed, UsageError):
            raise
        except SfsyncError as exc:
            code = 1 if isinstance(exc, ConfigError) else exc.exit_code
            # Long-running: no "error:" line from main() per run, so the run's failure is a JSON line.
            logging.getLogger("sfsync.worker.events").error("run_failed", extra={"event": {
                "event": "run_failed", "org": p["target_org"], "exit_code": code, "error": str(exc)}})
            return code

    try:
        return run_every(interval, once, stop)
    finally:
        stop.uninstall()


def _print_worker_result(result, dry_run: bool) -> None:
    verb = "would notify" if dry_run else "notified"
    click.echo(f"checked {result.checked} reservation(s): {result.overdue} overdue, {verb} {result.notified}, "
               f"escalated {result.escalated}, {result.failed} failed, {result.api_calls} API call(s)")
    for recipient in result.recipients:
        click.echo(f"  {recipient.user_name} ({recipient.user_id}): {len(recipient.reservation_ids)} reservation(s)"
                   + (f", {len(recipient.escalated_ids)} escalation(s)" if recipient.escalated_ids else ""))
    for failure in result.failures:
        _err(f"  failed {failure.id}: {failure.error_code}: {failure.message}")
    if result.error:
        _err(f"  stopped: {result.error}")


@cli.command()
@_project_option
@click.option("--dir", "demo_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Demo folder (default: ~/.local/share/sfsync/demo). Wiped at each run; the org is in its org/.")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 date-time (with offset).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated dealer data.")
def demo(project: Path | None, demo_dir: Path | None, now_text: str | None, seed: int) -> int:
    """Run the whole job on a fresh local org: deploy, load dealer data, notify overdue.

    \b
    Example:
      sfsync demo
    """
    from sfsync.demo import run_demo

    demo_dir = demo_dir or default_state_dir().parent / "demo"
    root = _resolve_project(project)
    _refuse_invalid_tree(root)
    result = run_demo(root, demo_dir, parse_now(now_text), seed=seed,
                      progress=lambda message: _err(f"demo: {message}"))
    w = result.worker
    click.echo(f"Deployed {result.deploy.components_deployed}/{result.deploy.components_total} components; loaded {result.dataset.reservations} "
               f"reservations for {result.dataset.opportunities} opportunities ({result.load_api_calls} API calls).")
    click.echo(f"Overdue reservations (not completed or cancelled 10+ days after their start): {w.overdue}")
    click.echo(f"Notified {w.notified} reservation(s) and escalated {w.escalated} to store managers "
               f"(still unprocessed 7+ days after their first notice); {w.failed} failed; "
               f"{w.api_calls} API call(s), login included.")
    click.echo("Who was told:")
    for recipient in sorted(w.recipients, key=lambda r: -(len(r.reservation_ids) + len(r.escalated_ids))):
        parts = [f"{len(recipient.reservation_ids)} overdue"] if recipient.reservation_ids else []
        if recipient.escalated_ids:
            parts.append(f"{len(recipient.escalated_ids)} escalated")
        sample = ", ".join((recipient.reservation_ids + recipient.escalated_ids)[:3])
        click.echo(f"  {recipient.user_name}: {' + '.join(parts)} (e.g. {sample})")
    state_arg = f" --state {result.state_dir}"
    click.echo("")
    click.echo("Look at the notifications:")
    click.echo(f"  sfsync local-org notifications{state_arg}")
    click.echo("Serve the org to explore it with any REST client (credentials from 'local-org info'):")
    click.echo(f"  sfsync local-org serve{state_arg}")
    click.echo(f"  sfsync local-org info{state_arg}")
    click.echo("Run the worker again (it sends nothing twice):")
    now_arg = f" --now {now_text}" if now_text else ""
    click.echo(f"  sfsync notify-overdue --target-org local{state_arg}{now_arg}")
    return 2 if w.failed else 0


@cli.group("local-org")
def local_org() -> None:
    """Run and inspect the local org (a stand-in for Salesforce on 127.0.0.1)."""


@local_org.command("serve")
@_state_option
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port (0: any free port).")
def local_org_serve(state_dir: Path | None, port: int) -> int:
    """Serve the local org over HTTPS on 127.0.0.1 until interrupted.

    \b
    Example:
      sfsync local-org serve --port 8443
    """
    from sfsync.local_org import LocalOrgServer

    state_dir = state_dir or default_state_dir()
    server = LocalOrgServer(state_dir, port=port)
    server.start()
    _err(f"local org serving at {server.instance_url} (state in {state_dir}); Ctrl-C stops it")
    _err(f"credentials: sfsync local-org info --state {state_dir}")
    import signal
    import threading

    # SIGTERM (systemd, kill) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        _err("stopping")
    finally:
        server.stop()
    return 0


@local_org.command("info")
@_state_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (includes the password).")
def local_org_info_cmd(state_dir: Path | None, as_json: bool) -> int:
    """Print what a client needs to connect, as 'sf org display' does.

    \b
    Example:
      sfsync local-org info --json
    """
    from sfsync.local_org import local_org_info

    state_dir = state_dir or default_state_dir()
    if not state_dir.exists():
        raise UsageError(f"{state_dir}: no local org there yet; start one with 'sfsync local-org serve --state {state_dir}'")
    info = local_org_info(state_dir)
    data = {
        "instance_url": info.instance_url,
        "username": info.username,
        "password": info.password.get_secret_value(),
        "ca_file": str(info.ca_file),
        "state_dir": str(info.state_dir),
        "running": info.running,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            click.echo(f"{key:<13} {value if value is not None else '(not serving)'}")
    return 0


@local_org.command("notifications")
@_state_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def local_org_notifications(state_dir: Path | None, as_json: bool) -> int:
    """List the custom notifications the org has received.

    \b
    Example:
      sfsync local-org notifications --state ~/.local/share/sfsync/demo/org
    """
    from sfsync.local_org import list_notifications

    state_dir = state_dir or default_state_dir()
    if not state_dir.exists():
        raise UsageError(f"{state_dir}: no local org there")
    notes = list_notifications(state_dir)
    if as_json:
        click.echo(json.dumps([n.model_dump(mode="json") for n in notes], ensure_ascii=False))
        return 0
    for n in notes:
        click.echo(f"{n.created_date}  to {n.recipient_name} ({n.recipient_id})  target {n.target_id}")
        click.echo(f"    {n.title}")
        click.echo(f"    {n.body}")
    _err(f"{len(notes)} notification(s)")
    return 0


@local_org.command("reset")
@_state_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def local_org_reset(state_dir: Path | None, yes: bool) -> int:
    """Delete the local org's data, credentials and certificates (settings.json and faults.json stay).

    Refuses a folder that is not a local org state folder, or one being served.

    \b
    Example:
      sfsync local-org reset --state ~/.local/share/sfsync/demo/org --yes
    """
    from sfsync.local_org.reset import check_resettable, reset_state_dir

    state_dir = state_dir or default_state_dir()
    state = check_resettable(state_dir)
    if not yes and not click.confirm(f"Delete the local org in {state.path} (all its records)?", default=False):
        raise click.Abort()
    result = reset_state_dir(state.path)
    click.echo(f"reset {result.state_dir}: removed {', '.join(result.removed) or 'nothing'}")
    if result.kept:
        click.echo(f"kept {', '.join(result.kept)}")
    return 0


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    # SIGTERM's default kills the process without a word and without cleanup; commands that
    # stop gracefully on it (worker, notify-overdue, local-org serve) install their own handler.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="sfsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort as exc:
        # Click turns Ctrl-C into Abort (from a prompt, or around the whole command).
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _err("interrupted")
            code = 130
        else:
            _err("aborted")
            code = 1
    except Terminated as exc:
        _err("terminated")
        code = exc.exit_code
    except SfsyncError as exc:
        if _Run.debug:
            logger.debug("failure", exc_info=True)
        _err(f"error: {exc}")
        code = exc.exit_code
        if isinstance(exc, UsageError) and _invoked_command(argv) in WORKER_COMMANDS:
            code = 1
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except OSError as exc:  # a file or socket the command could not use: the OS says why
        if _Run.debug:
            logger.debug("failure", exc_info=True)
        where = f"{exc.filename}: " if exc.filename is not None else ""
        _err(f"error: {where}{exc.strerror or exc}")
        code = 1
    except Exception as exc:  # the last line of defence: one line, no traceback unless --debug
        if _Run.debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        code = 1
    return code if isinstance(code, int) else 0


def _invoked_command(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)
