"""The local org's state folder: creation, permissions, corruption checks, persistence."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
import zipfile

import pytest
import requests

from sfsync.errors import LocalOrgError
from sfsync.local_org import LocalOrgServer, list_notifications, local_org_info

V = "/services/data/v66.0"




def _login(srv, state_dir) -> requests.Session:
    info = local_org_info(state_dir)
    s = requests.Session()
    s.verify = str(info.ca_file)
    token = s.post(f"{srv.instance_url}/services/oauth2/token", data={
        "grant_type": "password", "username": info.username, "password": info.password.get_secret_value(),
    }).json()["access_token"]
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_folder_is_private(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        names = sorted(p.name for p in state.iterdir() if not p.name.startswith("org.sqlite3-"))
        assert names == ["ca-key.pem", "ca.pem", "control-token", "credentials.json", "org.sqlite3", "server-key.pem",
                         "server.json", "server.lock", "server.pem"]
        assert _mode(state) == 0o700
        for path in state.iterdir():  # SQLite's -wal/-shm files included
            assert _mode(path) == 0o600, path.name


def test_credentials_and_info(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as srv:
        creds = json.loads((state / "credentials.json").read_text())
        assert creds["username"] == "admin@local.sfsync"
        assert creds["org_id"] == "00D000000000001EAA"
        assert len(creds["password"]) >= 20
        info = local_org_info(state)
        assert (info.instance_url, info.running, info.username, info.ca_file, info.state_dir) == (
            srv.instance_url, True, "admin@local.sfsync", state / "ca.pem", state
        )
        assert info.password.get_secret_value() == creds["password"]
        assert creds["password"] not in repr(info)
        server = json.loads((state / "server.json").read_text())
        assert server == {"pid": os.getpid(), "port": int(srv.instance_url.rsplit(":", 1)[1]),
                          "instance_url": srv.instance_url}
    assert not (state / "server.json").exists()
    info = local_org_info(state)
    assert (info.instance_url, info.running) == (None, False)


def test_two_folders_get_different_passwords(tmp_path):
    with LocalOrgServer(tmp_path / "a"), LocalOrgServer(tmp_path / "b"):
        a = local_org_info(tmp_path / "a").password.get_secret_value()
        b = local_org_info(tmp_path / "b").password.get_secret_value()
        assert a != b


def test_data_and_schema_survive_restart(tmp_path):
    state = tmp_path / "org"
    obj = b"""<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields><fullName>Code__c</fullName><label>Code</label><type>Text</type><length>20</length></fields>
    <label>Store</label><nameField><label>Store Name</label><type>Text</type></nameField><pluralLabel>Stores</pluralLabel>
</CustomObject>"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("package.xml", b'<Package xmlns="http://soap.sforce.com/2006/04/metadata"><version>66.0</version></Package>')
        z.writestr("objects/Store__c.object", obj)
    with LocalOrgServer(state) as srv:
        from simple_salesforce import Salesforce

        s = _login(srv, state)
        sf = Salesforce(instance_url=srv.instance_url, session_id=s.headers["Authorization"][7:], session=s, version="66.0")
        job = sf.deploy(buf, sandbox=False)["asyncId"]
        srv.app.metadata.wait_idle()
        assert sf.checkDeployStatus(job)["state"] == "Succeeded"
        store_id = sf.Store__c.create({"Name": "Shibuya", "Code__c": "S1"})["id"]
        account_id = sf.Account.create({"Name": "Acme"})["id"]
    with LocalOrgServer(state) as srv:
        s = _login(srv, state)
        assert s.get(f"{srv.instance_url}{V}/sobjects/Store__c/{store_id}").json()["Code__c"] == "S1"
        assert s.get(f"{srv.instance_url}{V}/sobjects/Account/{account_id}").json()["Name"] == "Acme"
        # New ids keep counting after the old ones (keyset paging relies on it).
        assert s.post(f"{srv.instance_url}{V}/sobjects/Account", json={"Name": "B"}).json()["id"] == "001000000000002AAA"


def test_old_token_is_refused_after_restart(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as srv:
        s = _login(srv, state)
    with LocalOrgServer(state) as srv:
        r = requests.get(f"{srv.instance_url}{V}/limits", headers={"Authorization": s.headers["Authorization"]}, verify=s.verify)
        assert r.status_code == 401


def test_unreadable_credentials_raise(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        pass
    (state / "credentials.json").write_text("{not json")
    with pytest.raises(LocalOrgError, match=r"credentials.json: cannot read local org credentials \(not valid JSON\)"):
        LocalOrgServer(state).start()
    assert (state / "credentials.json").read_text() == "{not json"  # never reset


def test_foreign_credentials_format_raises(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        pass
    (state / "credentials.json").write_text(json.dumps({"username": "x"}))
    with pytest.raises(LocalOrgError, match="not a local org credentials file"):
        LocalOrgServer(state).start()


def test_foreign_database_raises(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        pass
    (state / "org.sqlite3").unlink()
    for suffix in ("-wal", "-shm"):
        (state / f"org.sqlite3{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(state / "org.sqlite3")
    conn.execute("CREATE TABLE other (x)")
    conn.close()
    with pytest.raises(LocalOrgError, match=r"org.sqlite3: not a local org database"):
        LocalOrgServer(state).start()


def test_newer_database_version_raises(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        pass
    conn = sqlite3.connect(state / "org.sqlite3")
    conn.execute("UPDATE _sfsync_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(LocalOrgError, match=r"local org database version '99' is not supported \(expected 1\)"):
        LocalOrgServer(state).start()


def test_garbage_database_raises(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state):
        pass
    for suffix in ("-wal", "-shm"):
        (state / f"org.sqlite3{suffix}").unlink(missing_ok=True)
    (state / "org.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LocalOrgError, match="not a local org database"):
        LocalOrgServer(state).start()


def test_folder_with_other_files_is_not_taken_over(tmp_path):
    state = tmp_path / "org"
    state.mkdir()
    (state / "notes.txt").write_text("mine")
    with pytest.raises(LocalOrgError, match=r"not a local org state folder \(no credentials.json, but it holds notes.txt\)"):
        LocalOrgServer(state).start()


def test_info_of_missing_folder_raises(tmp_path):
    with pytest.raises(LocalOrgError, match="no local org here yet"):
        local_org_info(tmp_path / "none")


def test_list_notifications_of_new_org_is_empty(tmp_path):
    with LocalOrgServer(tmp_path / "org"):
        assert list_notifications(tmp_path / "org") == []


def test_serve_forever_returns_on_stop(tmp_path):
    import threading

    srv = LocalOrgServer(tmp_path / "org")
    thread = threading.Thread(target=srv.serve_forever)
    thread.start()
    # Wait until it serves (server.json is written once listening).
    for _ in range(2000):
        if (tmp_path / "org" / "server.json").exists():
            break
        threading.Event().wait(0.005)
    assert local_org_info(tmp_path / "org").running is True
    srv.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert not (tmp_path / "org" / "server.json").exists()


def test_request_threads_do_not_keep_database_connections(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as srv:
        s = _login(srv, state)
        for i in range(30):
            assert s.post(f"{srv.instance_url}{V}/sobjects/Account", json={"Name": f"A{i}"}).status_code == 201
        assert srv.org.store.open_connections == 0


# -- safety -----------------------------------------------------------------------------------
def test_binds_loopback_only(tmp_path):
    with LocalOrgServer(tmp_path / "org") as srv:
        assert srv._httpd.server_address[0] == "127.0.0.1"
        assert srv.instance_url.startswith("https://127.0.0.1:")


@pytest.mark.parametrize("method, path", [
    ("GET", "/query?q=SELECT+Id+FROM+Account"), ("GET", "/query/01g000000000001AAA-2000"),
    ("GET", "/sobjects"), ("GET", "/sobjects/Account/describe"), ("GET", "/sobjects/Account/001000000000001AAA"),
    ("POST", "/sobjects/Account"), ("PATCH", "/composite/sobjects"), ("POST", "/composite"),
    ("POST", "/composite/tree/Account"), ("POST", "/actions/standard/customNotificationAction"), ("GET", "/limits"),
])
def test_every_data_request_needs_a_valid_token(tmp_path, method, path):
    with LocalOrgServer(tmp_path / "org") as srv:
        ca = str(local_org_info(tmp_path / "org").ca_file)
        for headers in ({}, {"Authorization": "Bearer 00D000000000001EAA!forged"}):
            r = requests.request(method, srv.instance_url + V + path, json={}, headers=headers, verify=ca)
            assert (r.status_code, r.json()) == (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])


def test_soap_needs_a_valid_session(tmp_path):
    with LocalOrgServer(tmp_path / "org") as srv:
        ca = str(local_org_info(tmp_path / "org").ca_file)
        envelope = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                    'xmlns="http://soap.sforce.com/2006/04/metadata"><soapenv:Header><SessionHeader>'
                    '<sessionId>forged</sessionId></SessionHeader></soapenv:Header><soapenv:Body>'
                    '<checkDeployStatus><asyncProcessId>0Af000000000001AAA</asyncProcessId></checkDeployStatus>'
                    '</soapenv:Body></soapenv:Envelope>')
        r = requests.post(srv.instance_url + "/services/Soap/m/66.0", data=envelope,
                          headers={"Content-Type": "text/xml", "SOAPAction": "checkDeployStatus"}, verify=ca)
        assert r.status_code == 500
        assert "<faultcode>sf:INVALID_SESSION_ID</faultcode>" in r.text
