"""Shared fixtures. Reference payloads come from ../shared/reference (real Salesforce bodies)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def load_reference(name: str):
    """A reference REST payload by file name, e.g. 'query-last-page.json'."""
    path = REFERENCE_DIR / "rest" / name
    if not path.exists():
        pytest.fail(f"reference payload {path} is missing: the tests need ../shared/reference beside the checkout")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def reference_payload():
    return load_reference


@pytest.fixture(autouse=True)
def _trust_only_the_local_ca(monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify; the tests trust
    # the local org's own ca.pem only, as a client configured with ca_file does.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def login_local_org(instance_url: str, state_dir: Path):
    """(requests session with the bearer token set, token) for a serving local org, logged in
    through its OAuth username-password flow and trusting only its CA."""
    import requests

    from sfsync.local_org import local_org_info

    info = local_org_info(state_dir)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(info.ca_file)
    answer = session.post(
        f"{instance_url}/services/oauth2/token",
        data={"grant_type": "password", "username": info.username, "password": info.password.get_secret_value()},
    )
    token = answer.json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session, token


@pytest.fixture
def org(tmp_path: Path):
    """A serving local org: (server, logged-in requests session, simple-salesforce client)."""
    from simple_salesforce import Salesforce

    from sfsync.local_org import LocalOrgServer

    with LocalOrgServer(tmp_path / "org") as srv:
        session, token = login_local_org(srv.instance_url, tmp_path / "org")
        yield srv, session, Salesforce(instance_url=srv.instance_url, session_id=token, session=session, version="66.0")
