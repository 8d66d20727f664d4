"""Logging in to an org, by each method ``sfsync.toml`` can name (see ``config.AUTH_METHODS``).

The HTTP exchange itself is the caller's (``OrgClient`` passes a ``post`` function that already
counts, retries 5xx and dropped connections, and maps transport errors); this module builds the
token requests, reads the answers and turns refusals into ``AuthenticationFailed``. A refusal is
never retried: retrying a wrong password or a revoked token only locks the user out.

Methods:
- ``password``: OAuth 2.0 username-password flow (password + security token, optional
  connected-app client id and secret).
- ``jwt``: OAuth 2.0 JWT bearer flow, the assertion signed RS256 with the connected app's key.
- ``sfdx_url``: an SFDX auth URL ``force://<clientId>:<clientSecret>:<refreshToken>@<instance>``,
  used with the refresh-token grant.
- ``access_token``: a session id / access token and its instance URL, adopted as is.
- ``sf_alias``: an org already authorised in the Salesforce CLI, read with ``sf org display``.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sfsync.config import DEFAULT_LOGIN_URL, OrgCredentials
from sfsync.errors import AuthenticationFailed, ConfigError

logger = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The JWT bearer flow accepts an assertion whose exp is at most 3 minutes ahead.
JWT_LIFETIME_SECONDS = 180
SF_TIMEOUT_SECONDS = 120

# post(url, form) -> response; supplied by the client (retries, counting and TLS live there).
Post = Callable[[str, dict], requests.Response]
# run(argv) -> CompletedProcess; replaceable in tests.
Run = Callable[[list[str]], subprocess.CompletedProcess]


@dataclass(frozen=True)
class LoginResult:
    """An access token and the instance it is valid for."""

    access_token: str = field(repr=False)
    instance_url: str
    username: str | None = None
    user_id: str | None = None  # from the token answer's identity URL (.../id/<orgId>/<userId>)
    # Whether logging in again can give a fresh token (an adopted access token cannot).
    refreshable: bool = True


def can_refresh(creds: OrgCredentials) -> bool:
    return creds.method in ("password", "jwt", "sfdx_url", "sf_alias")


def login(creds: OrgCredentials, post: Post, *, run: Run | None = None, now: Callable[[], float] = time.time
          ) -> LoginResult:
    """Log in with the org's configured method; raises AuthenticationFailed or ConfigError."""
    method = creds.method
    if method == "password":
        return password_login(creds, post)
    if method == "jwt":
        return jwt_login(creds, post, now=now)
    if method == "sfdx_url":
        return sfdx_url_login(creds, post)
    if method == "access_token":
        assert creds.access_token is not None
        return LoginResult(creds.access_token.get_secret_value(), creds.instance_url.rstrip("/"), creds.username,
                           refreshable=False)
    if method == "sf_alias":
        return sf_alias_login(creds, run=run)
    raise AuthenticationFailed(
        f"org '{creds.name}' has neither username+password nor access_token configured "
        "(nor private_key_file for JWT, sfdx_auth_url or sf_alias)"
    )


# --------------------------------------------------------------------------- token endpoint


def _token_answer(response: requests.Response, url: str, who: str) -> dict:
    """The JSON body of a successful token answer; AuthenticationFailed for anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description") if isinstance(body, dict) else None
    detail = f"{error}: {description}" if error and description else error or f"HTTP {response.status_code}"
    raise AuthenticationFailed(f"login to {_safe(url)} as {who} refused ({detail})")


def _user_id(body: dict) -> str | None:
    identity = str(body.get("id") or "")
    tail = identity.rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.startswith("005") else None


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def password_login(creds: OrgCredentials, post: Post) -> LoginResult:
    assert creds.username and creds.password
    url = creds.token_url()
    secret = creds.password.get_secret_value()
    if creds.security_token:
        secret += creds.security_token.get_secret_value()
    data = {"grant_type": "password", "username": creds.username, "password": secret}
    if creds.client_id:
        data["client_id"] = creds.client_id
    if creds.client_secret:
        data["client_secret"] = creds.client_secret.get_secret_value()
    body = _token_answer(post(url, data), url, creds.username)
    instance = body.get("instance_url") or creds.instance_url
    logger.info("logged in to %s as %s (password flow)", instance, creds.username)
    return LoginResult(body["access_token"], instance.rstrip("/"), creds.username, _user_id(body))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(path: Path, org: str) -> rsa.RSAPrivateKey:
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"org '{org}': cannot read private_key_file {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"org '{org}': private_key_file {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"org '{org}': private_key_file {path} is not an RSA key (the JWT flow signs RS256)")
    return key


def jwt_assertion(*, client_id: str, username: str, audience: str, key: rsa.RSAPrivateKey, issued_at: float) -> str:
    """A JWT for Salesforce's bearer flow: iss = connected app's consumer key, sub = username,
    aud = the login host (login/test.salesforce.com or the My Domain), exp a few minutes ahead."""
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iss": client_id, "sub": username, "aud": audience, "exp": int(issued_at) + JWT_LIFETIME_SECONDS}
    signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


def jwt_login(creds: OrgCredentials, post: Post, *, now: Callable[[], float] = time.time) -> LoginResult:
    assert creds.username and creds.client_id and creds.private_key_file
    audience = (creds.login_url or creds.instance_url or DEFAULT_LOGIN_URL).rstrip("/")
    key = load_private_key(creds.private_key_file, creds.name)
    assertion = jwt_assertion(client_id=creds.client_id, username=creds.username, audience=audience, key=key,
                              issued_at=now())
    url = creds.token_url()
    body = _token_answer(post(url, {"grant_type": JWT_GRANT, "assertion": assertion}), url, creds.username)
    instance = body.get("instance_url") or creds.instance_url
    logger.info("logged in to %s as %s (JWT bearer flow)", instance, creds.username)
    return LoginResult(body["access_token"], instance.rstrip("/"), creds.username, _user_id(body))


@dataclass(frozen=True)
class SfdxAuthUrl:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    instance_url: str


def parse_sfdx_auth_url(text: str, org: str) -> SfdxAuthUrl:
    """``force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>``; the secret may be empty
    (the CLI's own connected app has none) and the instance may come without ``https://``."""
    bad = ConfigError(f"org '{org}': sfdx_auth_url is not of the form "
                      "force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>")
    text = text.strip()
    if not text.startswith("force://"):
        raise bad
    credentials, at, host = text[len("force://"):].rpartition("@")
    if not at or not host:
        raise bad
    client_id, sep1, rest = credentials.partition(":")
    client_secret, sep2, refresh_token = rest.partition(":")
    if not (sep1 and sep2 and client_id and refresh_token):
        raise bad
    instance = host if host.startswith(("https://", "http://")) else f"https://{host}"
    return SfdxAuthUrl(client_id, client_secret, refresh_token, instance.rstrip("/"))


def sfdx_url_login(creds: OrgCredentials, post: Post) -> LoginResult:
    assert creds.sfdx_auth_url
    parsed = parse_sfdx_auth_url(creds.sfdx_auth_url.get_secret_value(), creds.name)
    # The token request goes to the instance named in the URL unless login_url says otherwise.
    base = (creds.login_url or parsed.instance_url).rstrip("/")
    url = f"{base}/services/oauth2/token"
    data = {"grant_type": "refresh_token", "refresh_token": parsed.refresh_token, "client_id": parsed.client_id}
    if parsed.client_secret:
        data["client_secret"] = parsed.client_secret
    body = _token_answer(post(url, data), url, f"the refresh token of org '{creds.name}'")
    instance = body.get("instance_url") or parsed.instance_url
    logger.info("logged in to %s with org '%s''s SFDX auth URL", instance, creds.name)
    return LoginResult(body["access_token"], instance.rstrip("/"), creds.username, _user_id(body))


def _run_sf(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=SF_TIMEOUT_SECONDS, check=False)


def _sf_json(argv: list[str], run: Run, alias: str) -> dict:
    try:
        completed = run(argv)
    except subprocess.TimeoutExpired:
        raise AuthenticationFailed(f"'{' '.join(argv[:3])}' for alias '{alias}' did not answer in "
                                   f"{SF_TIMEOUT_SECONDS} s") from None
    except OSError as exc:
        raise AuthenticationFailed(f"cannot run the Salesforce CLI: {exc.strerror or exc}") from None
    try:
        data = json.loads(completed.stdout or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise AuthenticationFailed(f"'{' '.join(argv[:3])}' for alias '{alias}' gave no JSON answer "
                                   f"(exit code {completed.returncode})")
    if data.get("status", 0) != 0 or completed.returncode != 0:
        # The CLI's message names the alias and the problem (e.g. NamedOrgNotFoundError), no secret.
        message = str(data.get("message") or data.get("name") or f"exit code {completed.returncode}")
        raise AuthenticationFailed(f"the Salesforce CLI cannot use alias '{alias}': {message.strip()}")
    return data.get("result") if isinstance(data.get("result"), dict) else {}


def _real_token(token) -> bool:
    """An access token starts with the org id's 00D prefix; anything else is a placeholder."""
    return isinstance(token, str) and token.startswith("00D")


def sf_alias_login(creds: OrgCredentials, *, run: Run | None = None, which: Callable[[str], str | None] = shutil.which
                   ) -> LoginResult:
    """Read the token of an org the Salesforce CLI has authorised; the CLI refreshes it itself."""
    assert creds.sf_alias
    alias = creds.sf_alias
    if run is None:
        if which("sf") is None:
            raise ConfigError(
                f"org '{creds.name}' uses the Salesforce CLI alias '{alias}', but 'sf' is not on PATH: install "
                "the Salesforce CLI (npm install --global @salesforce/cli) and run 'sf org login web --alias "
                f"{alias}', or give this org another login method in sfsync.toml"
            )
        run = _run_sf
    result = _sf_json(["sf", "org", "display", "--target-org", alias, "--json"], run, alias)
    token = result.get("accessToken")
    if not _real_token(token):
        # Since sf 2.136 (May 2026) 'org display' shows a "[REDACTED] ..." placeholder instead of the
        # token; 'org auth show-access-token' (never redacted; --json skips its prompt) has it.
        shown = _sf_json(["sf", "org", "auth", "show-access-token", "--target-org", alias, "--json"], run, alias)
        token = shown.get("accessToken")
        if not _real_token(token):
            token = None
    instance = result.get("instanceUrl")
    if not token or not instance:
        raise AuthenticationFailed(f"the Salesforce CLI gave no access token or instance URL for alias '{alias}'")
    logger.info("using the Salesforce CLI's session for alias %s (%s)", alias, instance)
    return LoginResult(str(token), str(instance).rstrip("/"), result.get("username"))
