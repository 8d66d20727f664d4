"""The command line as a user meets it: exit codes, one-line errors, no tracebacks, no secrets."""

from __future__ import annotations

import shutil

import pytest

from sfsync import __version__
from sfsync.cli import main, parse_now
from sfsync.errors import UsageError


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_version(capsys):
    assert run_cli(capsys, "--version") == (0, f"sfsync, version {__version__}\n", "")


@pytest.mark.parametrize("command", [
    ["validate"], ["package"], ["deploy"], ["notify-overdue"], ["demo"],
    ["local-org", "serve"], ["local-org", "info"], ["local-org", "notifications"], ["local-org", "reset"],
    ["worker"], ["plan"], ["org", "list"], ["org", "check"],
    ["deploy", "report"], ["deploy", "resume"], ["deploy", "quick"], ["deploy", "cancel"],
])
def test_every_command_help_shows_an_example(capsys, command):
    code, out, _ = run_cli(capsys, *command, "--help")
    assert code == 0
    assert "Example:" in out
    assert f"sfsync {command[-1]}" in out or f"sfsync {' '.join(command)}" in out


def test_unknown_target_org_is_one_line(capsys, tmp_path, monkeypatch):
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "empty.toml"))
    code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "prod-eu")
    assert code == 1
    assert out == ""
    assert err == (
        f"error: unknown org 'prod-eu' (known: local); define it under [orgs.prod-eu] in {tmp_path / 'empty.toml'}\n"
    )


def test_unreachable_org_is_one_line(capsys, tmp_path, monkeypatch):
    config = tmp_path / "sfsync.toml"
    config.write_text('[orgs.dead]\ninstance_url = "https://127.0.0.1:9"\nusername = "a@b.c"\npassword = "s3cret-pw"\n')
    monkeypatch.setenv("SFSYNC_CONFIG", str(config))
    code, out, err = run_cli(capsys, "deploy", "--target-org", "dead", "--project", str(_repo_root()))
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "127.0.0.1:9" in err
    assert "s3cret-pw" not in err and "Traceback" not in err


@pytest.mark.parametrize("now, message", [
    ("yesterday", "error: --now 'yesterday' is not an ISO-8601 date-time (e.g. 2026-12-03T09:00:00+09:00)\n"),
    ("2026-12-03T09:00:00",
     "error: --now '2026-12-03T09:00:00' has no UTC offset; add one (e.g. 2026-12-03T09:00:00+09:00 or ...Z)\n"),
])
def test_bad_now_is_rejected_before_any_connection(capsys, now, message):
    code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "nowhere", "--now", now)
    assert (code, out, err) == (1, "", message)


def test_parse_now_keeps_the_offset():
    parsed = parse_now("2026-12-03T23:59:00+09:00")
    assert parsed.utcoffset().total_seconds() == 9 * 3600
    with pytest.raises(UsageError):
        parse_now("2026-13-03T00:00:00Z")


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


def test_validate_names_file_and_line_of_a_wrong_element(capsys, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(_repo_root() / "metadata", project / "metadata")
    shutil.copy(_repo_root() / "sfdx-project.json", project / "sfdx-project.json")
    field = project / "metadata/main/default/objects/Test_Drive_Reservation__c/fields/Location__c.field-meta.xml"
    lines = field.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "    <colour>red</colour>")
    field.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, err = run_cli(capsys, "validate", "--project", str(project))
    assert code == 1
    problems = out.splitlines()
    assert len(problems) == 1, out
    assert problems[0].startswith(
        "metadata/main/default/objects/Test_Drive_Reservation__c/fields/Location__c.field-meta.xml:4: ")
    assert "colour" in problems[0]
    assert err.startswith("1 problem(s) in ")


def test_validate_the_shipped_tree_is_clean(capsys):
    code, out, err = run_cli(capsys, "validate", "--project", str(_repo_root()))
    assert (code, out) == (0, "")
    assert err.endswith("file(s) valid\n")


def test_malformed_metadata_file_is_one_line_and_exit_1(capsys, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(_repo_root() / "metadata", project / "metadata")
    shutil.copy(_repo_root() / "sfdx-project.json", project / "sfdx-project.json")
    broken = project / "metadata/main/default/objects/Test_Drive_Vehicle__c/fields/Brand__c.field-meta.xml"
    broken.write_text("<?xml version='1.0'?>\n<CustomField xmlns=\"http://soap.sforce.com/2006/04/metadata\">\n<label>x\n",
                      encoding="utf-8")
    code, out, err = run_cli(capsys, "validate", "--project", str(project))
    assert code == 1
    assert out.startswith("metadata/main/default/objects/Test_Drive_Vehicle__c/fields/Brand__c.field-meta.xml:")
    assert "Traceback" not in out + err


def test_package_writes_a_zip(capsys, tmp_path):
    import zipfile

    out_file = tmp_path / "build" / "sfsync.zip"
    code, out, err = run_cli(capsys, "package", "--project", str(_repo_root()), "--out", str(out_file))
    assert code == 0, err
    with zipfile.ZipFile(out_file) as zf:
        names = zf.namelist()
    assert "package.xml" in names
    assert "objects/Test_Drive_Reservation__c.object" in names
    assert not [n for n in names if "__tests__" in n]


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+09:00", "1970-12-31T23:59:59Z",
                                 "9001-01-01T00:00:00Z"])
def test_parse_now_refuses_years_out_of_range(now):
    with pytest.raises(UsageError) as info:
        parse_now(now)
    assert str(info.value) == f"--now '{now}' is out of range: the year must be 1971 to 9000"


def test_parse_now_accepts_the_edges_of_the_range():
    assert [parse_now(v).year for v in ("1971-01-01T00:00:00+00:00", "9000-12-31T23:59:59-12:00")] == [1971, 9000]


@pytest.mark.parametrize("command, code", [(["demo"], 2), (["notify-overdue", "--target-org", "local"], 1)])
def test_now_out_of_range_is_one_line(capsys, command, code):
    assert run_cli(capsys, *command, "--now", "9999-12-31T23:59:59+00:00") == (code, "", (
        "error: --now '9999-12-31T23:59:59+00:00' is out of range: the year must be 1971 to 9000\n"))


@pytest.mark.parametrize("error, line", [
    (FileNotFoundError(2, "No such file or directory", "/srv/sfsync/state.json"),
     "error: /srv/sfsync/state.json: No such file or directory\n"),
    (NotADirectoryError(20, "Not a directory", "/etc/passwd/x"), "error: /etc/passwd/x: Not a directory\n"),
    (ConnectionResetError(104, "Connection reset by peer"), "error: Connection reset by peer\n"),
])
def test_os_error_is_one_line_exit_1(capsys, monkeypatch, error, line):
    def fail(*_a, **_k):
        raise error

    monkeypatch.setattr("sfsync.config.list_orgs", fail)
    assert run_cli(capsys, "org", "list") == (1, "", line)


def test_ctrl_c_is_interrupted_exit_130(capsys, monkeypatch):
    def interrupted(*_a, **_k):
        raise KeyboardInterrupt()

    monkeypatch.setattr("sfsync.config.list_orgs", interrupted)
    assert run_cli(capsys, "org", "list") == (130, "", "\ninterrupted\n")


def test_ctrl_c_at_a_prompt_is_interrupted_exit_130(capsys, monkeypatch):
    import click

    def prompt(*_a, **_k):
        click.confirm("go on?")

    def ctrl_c(*_a, **_k):
        raise KeyboardInterrupt()

    monkeypatch.setattr("sfsync.config.list_orgs", prompt)
    monkeypatch.setattr("click.termui.visible_prompt_func", ctrl_c)
    code, out, err = run_cli(capsys, "org", "list")
    assert (code, err.splitlines()[-1]) == (130, "interrupted")


def test_sigterm_in_process_is_terminated_exit_143_and_the_handler_is_restored(capsys, monkeypatch):
    import os
    import signal
    import time

    def sigterm(*_a, **_k):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # interrupted by the handler's exception

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr("sfsync.config.list_orgs", sigterm)
    assert run_cli(capsys, "org", "list") == (143, "", "terminated\n")
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_while_waiting_on_an_org_is_terminated_exit_143(tmp_path):
    """A real process blocked on a silent org: SIGTERM gives one line and 143, not a silent death."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    silent = socket.create_server(("127.0.0.1", 0))
    config = tmp_path / "sfsync.toml"
    config.write_text(f'[orgs.silent]\ninstance_url = "https://127.0.0.1:{silent.getsockname()[1]}"\n'
                      'access_token = "00D!t"\n', encoding="utf-8")
    env = {**os.environ, "SFSYNC_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "sfsync", "org", "check", "silent"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        silent.settimeout(30)
        conn, _ = silent.accept()  # the command is now waiting for the TLS handshake
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        conn.close()
    finally:
        proc.kill()
        silent.close()
    assert (proc.returncode, out, err) == (143, "", "terminated\n")


@pytest.mark.parametrize("command, code", [
    (["org", "check", "nosuch"], 2),
    (["deploy", "--target-org", "nosuch"], 2),
    (["plan", "--target-org", "nosuch"], 2),
    (["notify-overdue", "--target-org", "nosuch"], 1),
    (["worker", "--every", "1h", "--target-org", "nosuch"], 1),
])
def test_unknown_org_exit_code_is_2_except_for_worker_commands(capsys, tmp_path, monkeypatch, command, code):
    config = tmp_path / "sfsync.toml"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("SFSYNC_CONFIG", str(config))
    project = ["--project", str(_repo_root())] if command[0] in ("deploy", "plan") else []
    assert run_cli(capsys, *command, *project) == (code, "", (
        f"error: unknown org 'nosuch' (known: local); define it under [orgs.nosuch] in {config}\n"))


@pytest.mark.parametrize("command, code", [(["org", "list"], 2), (["notify-overdue", "--target-org", "prod"], 1)])
def test_missing_explicit_config_file_is_one_line(capsys, tmp_path, monkeypatch, command, code):
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "nonexistent.toml"))
    assert run_cli(capsys, *command) == (code, "", (
        f"error: {tmp_path / 'nonexistent.toml'}: no such file (named by SFSYNC_CONFIG)\n"))
