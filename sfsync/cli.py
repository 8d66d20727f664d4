"""The ``sfsync`` command line: parse options, call the library, print, exit.

This is the only module that prints, sets up logging handlers or exits. ``main`` is the one
exception boundary: sfsync's own errors become one line on stderr and their exit code; anything
else is an internal error whose traceback only ``--debug`` shows.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from sfsync import __version__
from sfsync.config import DEFAULT_TIME_ZONE, LOCAL_ORG_NAME, default_state_dir
from sfsync.errors import SfsyncError, UsageError

logger = logging.getLogger(__name__)

# Commands run by cron or a scheduler promise operators these codes: 0 all done, 1 could not
# run, 2 some items failed, 3 API limit reached. A usage error there is "could not run".
WORKER_COMMANDS = {"notify-overdue"}


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

    \b
    Example:
      sfsync package --out build/sfsync.zip
    """
    from sfsync.packaging import write_package

    result = write_package(_resolve_project(project), out)
    click.echo(f"wrote {out}: {len(result.components)} components in {result.file_count} files")
    return 0


def _print_component_failures(status) -> None:
    rows = [("TYPE", "NAME", "LINE", "PROBLEM")] + [
        (f.component_type, f.full_name or f.file_name, str(f.line or ""), f.problem) for f in status.component_failures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        _err("  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])


@cli.command()
@click.option("--target-org", "target_org", required=True, help="Org name from sfsync.toml, or 'local'.")
@_project_option
@_state_option
@click.option("--wait", "wait_minutes", type=click.FloatRange(min=0.05), default=33.0, show_default=True,
              help="Minutes to wait for the deploy to finish.")
def deploy(target_org: str, project: Path | None, state_dir: Path | None, wait_minutes: float) -> int:
    """Package metadata/ and deploy it through the Metadata API.

    \b
    Example:
      sfsync deploy --target-org local
    Exit codes: 0 succeeded, 1 failed, 69 still running when --wait ran out.
    """
    from sfsync.connection import open_org
    from sfsync.deploy import DeployOptions, start_deploy, wait_for_deploy
    from sfsync.packaging import build_package

    package_result = build_package(_resolve_project(project))
    with open_org(target_org, state_dir=state_dir) as client:
        job_id = start_deploy(client, package_result.zip_bytes, DeployOptions())
        _err(f"deploy {job_id}: {len(package_result.components)} components")

        def progress(status) -> None:
            _err(f"deploy {job_id}: {status.status} {status.components_deployed}/{status.components_total} components")

        status = wait_for_deploy(client, job_id, wait_seconds=wait_minutes * 60, on_progress=progress)
    if not status.done:
        _err(f"deploy {job_id} is still {status.status} after {wait_minutes:g} minute(s)")
        return 69
    if status.success:
        click.echo(f"deployed {status.components_deployed} components to {target_org} (job {job_id})")
        return 0
    _err(f"deploy {job_id} {status.status}: {status.component_errors} component error(s)")
    if status.error_message:
        _err(status.error_message)
    _print_component_failures(status)
    return 1


@cli.command("notify-overdue")
@click.option("--target-org", "target_org", required=True, help="Org name from sfsync.toml, or 'local'.")
@_state_option
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 date-time (with offset).")
@click.option("--days", type=click.IntRange(min=1, max=3650), default=10, show_default=True,
              help="A reservation is overdue this many calendar days after its scheduled start.")
@click.option("--time-zone", default=DEFAULT_TIME_ZONE, show_default=True, help="Zone whose calendar days count.")
@click.option("--dry-run", is_flag=True, help="Find and count, but send and stamp nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object on stdout.")
def notify_overdue_cmd(target_org: str, state_dir: Path | None, now_text: str | None, days: int, time_zone: str,
                       dry_run: bool, as_json: bool) -> int:
    """Notify the responsible staff of reservations left unprocessed for --days days (F6).

    \b
    Example:
      sfsync notify-overdue --target-org local --now 2026-12-03T09:00:00+09:00 --json
    Exit codes: 0 all done, 1 could not run, 2 some items failed, 3 API limit reached.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sfsync.connection import open_org
    from sfsync.worker import WorkerOptions, notify_overdue

    now = parse_now(now_text)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--time-zone '{time_zone}' is not a known IANA time zone (e.g. Asia/Tokyo)") from None
    with open_org(target_org, state_dir=state_dir) as client:
        result = notify_overdue(client, WorkerOptions(now=now, days=days, dry_run=dry_run, time_zone=time_zone))
    if as_json:
        click.echo(result.model_dump_json())
    else:
        _print_worker_result(result, dry_run)
    return 2 if result.failed else 0


def _print_worker_result(result, dry_run: bool) -> None:
    verb = "would notify" if dry_run else "notified"
    click.echo(f"checked {result.checked} reservation(s): {result.overdue} overdue, {verb} {result.notified}, "
               f"{result.failed} failed, {result.api_calls} API call(s)")
    for recipient in result.recipients:
        click.echo(f"  {recipient.user_name} ({recipient.user_id}): {len(recipient.reservation_ids)} reservation(s)")
    for failure in result.failures:
        _err(f"  failed {failure.id}: {failure.error_code}: {failure.message}")


@cli.command()
@_project_option
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Demo org state folder (default: ~/.local/share/sfsync/demo-org). Wiped at each run.")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO-8601 date-time (with offset).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated dealer data.")
def demo(project: Path | None, state_dir: Path | None, now_text: str | None, seed: int) -> int:
    """Run the whole job on a fresh local org: deploy, load dealer data, notify overdue.

    \b
    Example:
      sfsync demo
    """
    from sfsync.demo import run_demo

    state_dir = state_dir or default_state_dir().parent / "demo-org"
    result = run_demo(_resolve_project(project), state_dir, parse_now(now_text), seed=seed,
                      progress=lambda message: _err(f"demo: {message}"))
    w = result.worker
    click.echo("")
    click.echo(f"Deployed {result.deploy.components_deployed} components; loaded {result.dataset.reservations} "
               f"reservations for {result.dataset.opportunities} opportunities ({result.load_api_calls} API calls).")
    click.echo(f"Overdue reservations (not completed or cancelled 10+ days after their start): {w.overdue}")
    click.echo(f"Notified {w.notified} reservation(s) to {len(w.recipients)} staff member(s), "
               f"{w.failed} failed, using {w.api_calls} API call(s):")
    for recipient in sorted(w.recipients, key=lambda r: -len(r.reservation_ids)):
        click.echo(f"  {recipient.user_name}: {len(recipient.reservation_ids)} reservation(s), "
                   f"e.g. {', '.join(recipient.reservation_ids[:3])}")
    state_arg = f" --state {result.state_dir}"
    click.echo("")
    click.echo("Look at the notifications:")
    click.echo(f"  sfsync local-org notifications{state_arg}")
    click.echo("Serve the org to explore it with any REST client (credentials from 'local-org info'):")
    click.echo(f"  sfsync local-org serve{state_arg}")
    click.echo(f"  sfsync local-org info{state_arg}")
    click.echo("Run the worker again (it sends nothing twice):")
    click.echo(f"  SFSYNC_STATE_DIR={result.state_dir} sfsync notify-overdue --target-org local")
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
      sfsync local-org notifications --state ~/.local/share/sfsync/demo-org
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


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="sfsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort:
        _err("aborted")
        code = 1
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
    except Exception as exc:  # the last line of defence: one line, no traceback unless --debug
        if _Run.debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _invoked_command(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)
