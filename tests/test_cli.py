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
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "absent.toml"))
    code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "prod-eu")
    assert code == 1
    assert out == ""
    assert err == (
        f"error: unknown org 'prod-eu' (known: local); define it under [orgs.prod-eu] in {tmp_path / 'absent.toml'}\n"
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
