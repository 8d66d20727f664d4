"""One server per state folder (lock.py), and what info, reset and open_org("local") make of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sfsync.connection import open_org
from sfsync.errors import LocalOrgError
from sfsync.local_org import LocalOrgServer, local_org_info
from sfsync.local_org.lock import AlreadyServedError, Serving, serving
from sfsync.local_org.reset import reset_state_dir


def test_a_second_server_on_a_served_folder_is_refused_and_the_first_keeps_its_org(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path) as first:
        with pytest.raises(AlreadyServedError) as err:
            LocalOrgServer(path).start()
        assert str(err.value) == (f"{path}: this local org is already being served (pid {os.getpid()}, "
                                  f"{first.instance_url}); use that server or stop it first")
        assert isinstance(err.value, LocalOrgError)
        # The refused server did not unlist the first one: reset still sees it served.
        assert json.loads((path / "server.json").read_text())["instance_url"] == first.instance_url
        assert serving(path) == Serving(os.getpid(), first.instance_url)
        with pytest.raises(LocalOrgError, match="being served"):
            reset_state_dir(path)
        assert local_org_info(path).instance_url == first.instance_url
    assert serving(path) is None
    assert not (path / "server.lock").exists()


def test_the_lock_file_is_private(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        assert oct((path / "server.lock").stat().st_mode & 0o777) == "0o600"
        assert (path / "server.lock").read_text() == f"{os.getpid()}\n"


def test_a_killed_holder_does_not_block_and_its_server_json_means_nothing(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(path / 'server.lock')!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "os.write(fd, str(os.getpid()).encode())\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        (path / "server.json").write_text(json.dumps({"pid": holder.pid, "port": 1, "instance_url": "https://127.0.0.1:1"}))
        assert local_org_info(path).running is True
        with pytest.raises(AlreadyServedError, match=f"pid {holder.pid}, https://127.0.0.1:1"):
            LocalOrgServer(path).start()
    finally:
        holder.kill()
        holder.wait()
    # The lock died with the process; the stale server.json does not make it "running".
    info = local_org_info(path)
    assert (info.running, info.instance_url) == (False, None)
    with LocalOrgServer(path) as srv:
        assert local_org_info(path).instance_url == srv.instance_url


def test_info_refuses_a_foreign_folder_as_serve_does(tmp_path):
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "x").write_text("mine")
    expected = f"{foreign}: not a local org state folder (no credentials.json, but it holds x); use an empty or new folder"
    with pytest.raises(LocalOrgError) as served:
        LocalOrgServer(foreign).start()
    with pytest.raises(LocalOrgError) as info:
        local_org_info(foreign)
    assert str(served.value) == str(info.value) == expected
    assert sorted(p.name for p in foreign.iterdir()) == ["x"]  # no lock file left in someone's folder


def test_open_org_local_uses_the_running_server(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path) as srv:
        srv.faults.reset_counters()
        with open_org("local", state_dir=path) as client:
            assert client.instance_url == srv.instance_url
        assert srv.counters().get("POST /services/oauth2/token") == 1
        assert serving(path) == Serving(os.getpid(), srv.instance_url)  # still served by srv


def test_open_org_local_creates_the_org_again_after_a_reset(tmp_path):
    path = tmp_path / "org"
    with LocalOrgServer(path):
        pass
    (path / "settings.json").write_text('{"time_zone": "UTC"}')
    reset_state_dir(path)
    with open_org("local", state_dir=path) as client:
        rows = [r for page in client.query_pages("SELECT TimeZoneSidKey FROM Organization") for r in page]
        assert [r["TimeZoneSidKey"] for r in rows] == ["UTC"]
    assert (path / "credentials.json").exists()
    assert serving(path) is None


def test_cli_serve_and_info_refuse_in_one_line(tmp_path, capsys):
    from sfsync.cli import main

    path = tmp_path / "org"
    with LocalOrgServer(path) as srv:
        with pytest.raises(SystemExit) as exit_info:
            main(["local-org", "serve", "--state", str(path)])
        out, err = capsys.readouterr()
        assert (exit_info.value.code, out) == (1, "")
        assert err == (f"error: {path}: this local org is already being served (pid {os.getpid()}, "
                       f"{srv.instance_url}); use that server or stop it first\n")
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "x").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        main(["local-org", "info", "--state", str(foreign)])
    assert capsys.readouterr().err == (f"error: {foreign}: not a local org state folder (no credentials.json, "
                                       "but it holds x); use an empty or new folder\n")
