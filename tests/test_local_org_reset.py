"""Wiping a local org: library function and `sfsync local-org reset`."""

from __future__ import annotations

import io
import json
import os

import pytest

from sfsync.cli import main
from sfsync.errors import LocalOrgError
from sfsync.local_org import LocalOrgServer
from sfsync.local_org.reset import reset_state_dir


def run_cli(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def state(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        pass
    (path / "settings.json").write_text('{"time_zone": "UTC"}')
    return path


def test_reset_removes_the_orgs_files_and_keeps_the_users(state):
    result = reset_state_dir(state)
    assert result.removed[0] == "credentials.json"
    assert {"org.sqlite3", "ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "control-token"} <= set(result.removed)
    assert result.kept == ["settings.json"]
    assert sorted(p.name for p in state.iterdir()) == ["settings.json"]
    # A new org starts in the same folder, with the kept settings.
    with LocalOrgServer(state) as srv:
        assert str(srv.org.time_zone()) == "UTC"


def test_reset_refuses_a_folder_that_is_not_a_local_org(tmp_path):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(LocalOrgError) as err:
        reset_state_dir(foreign)
    assert str(err.value) == f"{foreign}: not a local org state folder (no credentials.json); nothing deleted"
    assert (foreign / "thesis.tex").read_text() == "precious"
    with pytest.raises(LocalOrgError) as err:
        reset_state_dir(tmp_path / "absent")
    assert str(err.value) == f"{tmp_path / 'absent'}: no local org there (no such folder)"


def test_reset_refuses_foreign_credentials_and_extra_files(state):
    (state / "notes.txt").write_text("mine")
    with pytest.raises(LocalOrgError) as err:
        reset_state_dir(state)
    assert str(err.value) == (f"{state}: holds files the local org did not create (notes.txt); "
                              "nothing deleted — move them away first")
    (state / "notes.txt").unlink()
    (state / "credentials.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(LocalOrgError) as err:
        reset_state_dir(state)
    assert str(err.value) == f"{state / 'credentials.json'}: not a local org credentials file (unknown format)"
    assert (state / "org.sqlite3").exists()


def test_reset_refuses_a_served_org(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        # The server's lock decides (it names the serving pid), even with server.json gone.
        (path / "server.json").unlink()
        with pytest.raises(LocalOrgError) as err:
            reset_state_dir(path)
        assert str(err.value) == f"{path}: the local org is being served (pid {os.getpid()}); stop it first"
        assert (path / "credentials.json").exists()


def test_stale_server_json_of_a_killed_server_does_not_block_reset(state):
    # A killed server leaves server.json (and its lock file) behind, but its lock died with it.
    (state / "server.json").write_text(json.dumps({"pid": os.getppid(), "port": 1, "instance_url": "https://x"}))
    (state / "server.lock").write_text(f"{os.getppid()}\n")
    result = reset_state_dir(state)
    assert "server.json" in result.removed
    assert sorted(p.name for p in state.iterdir()) == ["settings.json"]


def test_cli_reset_asks_first(capsys, monkeypatch, state):
    code, out, err = run_cli(capsys, monkeypatch, "local-org", "reset", "--state", str(state), stdin="n\n")
    assert code == 1
    assert out == f"Delete the local org in {state} (all its records)? [y/N]: "
    assert err == "aborted\n"
    assert (state / "credentials.json").exists()
    code, out, _ = run_cli(capsys, monkeypatch, "local-org", "reset", "--state", str(state), stdin="y\n")
    assert code == 0
    assert (state / "credentials.json").exists() is False
    assert out.splitlines()[-1] == "kept settings.json"


def test_cli_reset_yes_does_not_ask(capsys, monkeypatch, state):
    code, out, _ = run_cli(capsys, monkeypatch, "local-org", "reset", "--state", str(state), "--yes")
    assert code == 0
    assert out.startswith(f"reset {state}: removed credentials.json, org.sqlite3, ")
    assert sorted(p.name for p in state.iterdir()) == ["settings.json"]


def test_cli_reset_refusal_is_one_line(capsys, monkeypatch, tmp_path):
    (tmp_path / "x").mkdir()
    code, out, err = run_cli(capsys, monkeypatch, "local-org", "reset", "--state", str(tmp_path / "x"), "--yes")
    assert (code, out) == (1, "")
    assert err == f"error: {tmp_path / 'x'}: not a local org state folder (no credentials.json); nothing deleted\n"
