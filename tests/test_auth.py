"""Every login method of sfsync.auth, through OrgClient.connect against `responses` mocks."""

from __future__ import annotations

import base64
import json
import subprocess
from urllib.parse import parse_qs

import pytest
import requests
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from sfsync import auth
from sfsync.client import OrgClient, RetryPolicy
from sfsync.config import OrgCredentials
from sfsync.errors import AuthenticationFailed, ConfigError

INSTANCE = "https://dealer-test.my.salesforce.com"
LOGIN = "https://test.salesforce.com"
FAST = RetryPolicy(attempts=3, max_wait=0, multiplier=0)
REFRESH = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJDsl4cHjvu_zQH0ZXm7ftg4D3Dd1.BOz9Y8fP6e0Zz4eiwM4n"


def token_body(token: str, instance: str = INSTANCE) -> dict:
    return {"access_token": token, "instance_url": instance, "id": f"{instance}/id/00D000000000001AAA/005000000000001AAA",
            "token_type": "Bearer", "issued_at": "1764753600000", "signature": "c2lnbmF0dXJl"}


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_password_flow_appends_the_security_token(rsps):
    rsps.add(responses.POST, f"{LOGIN}/services/oauth2/token", json=token_body("tok-pw"))
    client = OrgClient.connect(OrgCredentials(
        name="uat", instance_url=INSTANCE, login_url=LOGIN, username="rel@dealer.example",
        password=SecretStr("pw"), security_token=SecretStr("TOKEN123"), client_id="cid",
        client_secret=SecretStr("csecret")), retry=FAST)
    assert form(rsps.calls[0]) == {"grant_type": "password", "username": "rel@dealer.example",
                                   "password": "pwTOKEN123", "client_id": "cid", "client_secret": "csecret"}
    assert (client.instance_url, client.can_refresh) == (INSTANCE, True)


def _key_file(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "server.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key, path


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_jwt_bearer_flow_signs_rs256_claims(rsps, tmp_path):
    key, path = _key_file(tmp_path)
    rsps.add(responses.POST, f"{LOGIN}/services/oauth2/token", json=token_body("tok-jwt"))
    creds = OrgCredentials(name="prod", login_url=LOGIN, username="ci@dealer.example", client_id="3MVG9cid",
                           private_key_file=path)
    result = auth.jwt_login(creds, lambda url, data: requests.post(url, data=data), now=lambda: 1_764_000_000)
    sent = form(rsps.calls[0])
    assert sent["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = sent["assertion"].split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(_b64decode(claims)) == {"iss": "3MVG9cid", "sub": "ci@dealer.example", "aud": LOGIN,
                                              "exp": 1_764_000_180}
    # raises InvalidSignature if the signature is not RS256 over header.claims with this key
    key.public_key().verify(_b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert (result.access_token, result.instance_url) == ("tok-jwt", INSTANCE)


def test_jwt_with_an_unreadable_key_is_a_config_error(tmp_path):
    (tmp_path / "bad.key").write_text("not a key")
    creds = OrgCredentials(name="prod", login_url=LOGIN, username="ci@x", client_id="c",
                           private_key_file=tmp_path / "bad.key")
    with pytest.raises(ConfigError, match="is not an unencrypted PEM private key"):
        auth.jwt_login(creds, lambda url, data: None)


def test_sfdx_auth_url_uses_the_refresh_token_grant(rsps):
    rsps.add(responses.POST, f"{INSTANCE}/services/oauth2/token", json=token_body("tok-rt"))
    url = f"force://PlatformCLI::{REFRESH}@dealer-test.my.salesforce.com"
    client = OrgClient.connect(OrgCredentials(name="ci", sfdx_auth_url=SecretStr(url)), retry=FAST)
    assert form(rsps.calls[0]) == {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": "PlatformCLI"}
    assert client.instance_url == INSTANCE


def test_sfdx_auth_url_with_secret_and_scheme():
    parsed = auth.parse_sfdx_auth_url(f"force://cid:csec:{REFRESH}@https://x.my.salesforce.com/", "ci")
    assert (parsed.client_id, parsed.client_secret, parsed.refresh_token, parsed.instance_url) == (
        "cid", "csec", REFRESH, "https://x.my.salesforce.com")
    assert REFRESH not in repr(parsed)


@pytest.mark.parametrize("text", ["https://x.my.salesforce.com", "force://cid@x.my.salesforce.com",
                                  "force://cid:sec:token", "force://:sec:tok@x"])
def test_malformed_sfdx_auth_url_names_the_form_not_the_value(text):
    with pytest.raises(ConfigError) as info:
        auth.parse_sfdx_auth_url(text, "ci")
    assert str(info.value) == ("org 'ci': sfdx_auth_url is not of the form "
                               "force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>")


def test_revoked_refresh_token_is_refused_once_without_the_token(rsps):
    rsps.add(responses.POST, f"{INSTANCE}/services/oauth2/token", status=400,
             json={"error": "invalid_grant", "error_description": "expired access/refresh token"})
    with pytest.raises(AuthenticationFailed) as info:
        OrgClient.connect(OrgCredentials(name="ci", sfdx_auth_url=SecretStr(f"force://c::{REFRESH}@{INSTANCE}")),
                          retry=FAST)
    assert str(info.value) == (f"login to {INSTANCE}/services/oauth2/token as the refresh token of org 'ci' refused "
                               "(invalid_grant: expired access/refresh token)")
    assert len(rsps.calls) == 1


def test_login_5xx_is_retried_then_succeeds(rsps):
    rsps.add(responses.POST, f"{INSTANCE}/services/oauth2/token", status=503, body="unavailable")
    rsps.add(responses.POST, f"{INSTANCE}/services/oauth2/token", json=token_body("tok-2"))
    client = OrgClient.connect(OrgCredentials(name="s", instance_url=INSTANCE, username="u@x", password=SecretStr("p")),
                               retry=FAST)
    assert client.api_calls == 2


def test_access_token_cannot_refresh(rsps):
    client = OrgClient.connect(OrgCredentials(name="t", instance_url=INSTANCE, access_token=SecretStr("00D!tok")),
                               retry=FAST)
    assert (client.can_refresh, client.api_calls, client.instance_url) == (False, 0, INSTANCE)


def _completed(argv, payload, code=0):
    return subprocess.CompletedProcess(argv, code, stdout=json.dumps(payload), stderr="")


SF_DISPLAY = {"status": 0, "result": {"id": "00D000000000001AAA", "apiVersion": "66.0", "accessToken": "00D!sf-token",
                                      "instanceUrl": INSTANCE, "username": "admin@dealer.example",
                                      "clientId": "PlatformCLI", "connectedStatus": "Connected", "alias": "uat"}}


def test_sf_alias_reads_org_display():
    seen = []

    def run(argv):
        seen.append(argv)
        return _completed(argv, SF_DISPLAY)

    result = auth.sf_alias_login(OrgCredentials(name="uat", sf_alias="uat"), run=run)
    assert seen == [["sf", "org", "display", "--target-org", "uat", "--json"]]
    assert (result.access_token, result.instance_url, result.username) == ("00D!sf-token", INSTANCE,
                                                                          "admin@dealer.example")


def test_sf_alias_with_a_redacted_token_asks_show_access_token():
    display = {"status": 0, "result": {**SF_DISPLAY["result"],
                                       "accessToken": "[REDACTED] Use 'sf org auth show-access-token' to view"}}
    answers = [display, {"status": 0, "result": {"accessToken": "00D!shown", "username": "admin@dealer.example"}}]
    calls = []

    def run(argv):
        calls.append(argv[:4])
        return _completed(argv, answers[len(calls) - 1])

    assert auth.sf_alias_login(OrgCredentials(name="uat", sf_alias="uat"), run=run).access_token == "00D!shown"
    assert calls == [["sf", "org", "display", "--target-org"], ["sf", "org", "auth", "show-access-token"]]


def test_sf_alias_unknown_to_the_cli():
    answer = {"status": 1, "name": "NamedOrgNotFoundError", "message": "No authorization information found for nope."}
    with pytest.raises(AuthenticationFailed) as info:
        auth.sf_alias_login(OrgCredentials(name="x", sf_alias="nope"), run=lambda argv: _completed(argv, answer, 1))
    assert str(info.value) == ("the Salesforce CLI cannot use alias 'nope': "
                               "No authorization information found for nope.")


def test_sf_not_installed_says_what_to_do():
    with pytest.raises(ConfigError) as info:
        auth.sf_alias_login(OrgCredentials(name="uat", sf_alias="uat"), which=lambda name: None)
    assert str(info.value).startswith("org 'uat' uses the Salesforce CLI alias 'uat', but 'sf' is not on PATH: "
                                      "install the Salesforce CLI")


def test_jwt_org_from_environment_alone_logs_in_at_login_salesforce_com(rsps, tmp_path, monkeypatch):
    """The README's operator set-up: SFSYNC_ORG_PROD_AUTH=jwt + USERNAME, CLIENT_ID, PRIVATE_KEY_FILE."""
    from sfsync.config import resolve_org

    _, path = _key_file(tmp_path)
    (tmp_path / "sfsync.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "sfsync.toml"))
    for field, value in (("AUTH", "jwt"), ("USERNAME", "ci@dealer.example"), ("CLIENT_ID", "3MVG9cid"),
                         ("PRIVATE_KEY_FILE", str(path))):
        monkeypatch.setenv(f"SFSYNC_ORG_PROD_{field}", value)
    rsps.add(responses.POST, "https://login.salesforce.com/services/oauth2/token", json=token_body("tok-jwt"))
    result = auth.jwt_login(resolve_org("prod"), lambda url, data: requests.post(url, data=data),
                            now=lambda: 1_764_000_000)
    claims = json.loads(_b64decode(form(rsps.calls[0])["assertion"].split(".")[1]))
    assert claims == {"iss": "3MVG9cid", "sub": "ci@dealer.example", "aud": "https://login.salesforce.com",
                      "exp": 1_764_000_180}
    assert (result.access_token, result.instance_url) == ("tok-jwt", INSTANCE)
