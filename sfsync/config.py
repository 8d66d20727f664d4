"""Where sfsync finds the orgs it talks to.

``--target-org local`` needs no set-up: it names the local org of the default state folder.
Other names come from ``sfsync.toml`` (current directory, or ``$SFSYNC_CONFIG``), each table
``[orgs.NAME]`` using one login method (see :data:`AUTH_METHODS`), with any field overridable by
an environment variable ``SFSYNC_ORG_<NAME>_<FIELD>`` (so that schedulers inject secrets
without writing them into a file).
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from sfsync.errors import ConfigError

logger = logging.getLogger(__name__)

LOCAL_ORG_NAME = "local"
DEFAULT_TIME_ZONE = "Asia/Tokyo"

AuthMethod = Literal["password", "jwt", "sfdx_url", "access_token", "sf_alias"]

# What each login method needs; a missing one is reported by field name, never by value.
AUTH_METHODS: dict[str, tuple[str, ...]] = {
    "password": ("instance_url", "username", "password"),
    "jwt": ("username", "client_id", "private_key_file"),
    "sfdx_url": ("sfdx_auth_url",),
    "access_token": ("instance_url", "access_token"),
    "sf_alias": ("sf_alias",),
}
SECRET_FIELDS = ("password", "security_token", "access_token", "client_secret", "sfdx_auth_url")


class OrgCredentials(BaseModel):
    """How to reach one org. Secrets are SecretStr so that repr() and logs never show them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    # Set explicitly, or inferred from the fields given (see ``method``).
    auth: AuthMethod | None = None
    # Empty for methods that learn it at login (SFDX auth URL, sf CLI alias, JWT via login_url).
    instance_url: str = ""
    # Where the OAuth token request goes: https://login.salesforce.com (production),
    # https://test.salesforce.com (sandbox) or the My Domain URL; default: instance_url.
    login_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    # Appended to the password when the org asks for one (login from an untrusted IP range).
    security_token: SecretStr | None = None
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    private_key_file: Path | None = None
    sfdx_auth_url: SecretStr | None = None
    sf_alias: str | None = None
    # CA bundle to trust for this org (the local org's own CA); None means the system store.
    ca_file: Path | None = None
    api_version: str = "66.0"

    @property
    def method(self) -> str | None:
        """The login method: ``auth`` if set, else the first one whose distinctive field is given."""
        if self.auth:
            return self.auth
        if self.sfdx_auth_url:
            return "sfdx_url"
        if self.private_key_file:
            return "jwt"
        if self.sf_alias:
            return "sf_alias"
        if self.username and self.password:
            return "password"
        if self.access_token:
            return "access_token"
        return None

    def missing_fields(self) -> list[str]:
        method = self.method
        if method is None:
            # Nothing says which method: the historical minimum (password flow) is what is missing.
            return [f for f in AUTH_METHODS["password"] if not getattr(self, f)]
        missing = [f for f in AUTH_METHODS[method] if not getattr(self, f)]
        if method == "jwt" and not (self.instance_url or self.login_url):
            missing.append("login_url")
        return missing

    def token_url(self) -> str:
        base = (self.login_url or self.instance_url).rstrip("/")
        return f"{base}/services/oauth2/token"

    def public_view(self) -> dict[str, str]:
        """What ``sfsync org list`` may show: every non-secret field that is set, secrets as 'set'."""
        view: dict[str, str] = {"name": self.name, "method": self.method or "(incomplete)"}
        for field in ("instance_url", "login_url", "username", "client_id", "private_key_file", "sf_alias",
                      "ca_file", "api_version"):
            value = getattr(self, field)
            if value:
                view[field] = str(value)
        for field in SECRET_FIELDS:
            if getattr(self, field) is not None:
                view[field] = "(set)"
        return view


def default_config_path() -> Path:
    return Path(os.environ.get("SFSYNC_CONFIG", "sfsync.toml"))


def default_state_dir() -> Path:
    """The local org's state folder: $SFSYNC_STATE_DIR, else $XDG_DATA_HOME/sfsync/local-org."""
    explicit = os.environ.get("SFSYNC_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "sfsync" / "local-org"


def load_config(path: Path | None = None) -> dict:
    """Parse sfsync.toml; a missing file is an empty config, a broken one a ConfigError."""
    path = path or default_config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


ENV_PREFIX = "SFSYNC_ORG_"
ENV_FIELDS = ("instance_url", "username", "password", "access_token", "client_id", "client_secret", "ca_file",
              "api_version", "auth", "login_url", "security_token", "private_key_file", "sfdx_auth_url", "sf_alias")


def _env_key(org: str, field: str) -> str:
    return ENV_PREFIX + "".join(c if c.isalnum() else "_" for c in org).upper() + "_" + field.upper()


def _env_entry(name: str) -> dict:
    """Fields of org ``name`` given as environment variables (SFSYNC_ORG_<NAME>_<FIELD>), so that
    schedulers can inject secrets without writing them into a file."""
    return {f: os.environ[_env_key(name, f)] for f in ENV_FIELDS if _env_key(name, f) in os.environ}


# Fields whose variable alone can define an org (one per login method).
_DEFINING_ENV_FIELDS = ("instance_url", "sfdx_auth_url", "sf_alias", "private_key_file")


def _env_org_names() -> list[str]:
    names = set()
    for key in os.environ:
        if not key.startswith(ENV_PREFIX):
            continue
        for field in _DEFINING_ENV_FIELDS:
            suffix = "_" + field.upper()
            if key.endswith(suffix) and len(key) > len(ENV_PREFIX) + len(suffix):
                names.add(key[len(ENV_PREFIX):-len(suffix)].lower())
    return sorted(names)


def configured_org_names(config: dict) -> list[str]:
    orgs = config.get("orgs", {})
    names = set(orgs) if isinstance(orgs, dict) else set()
    return sorted(names | set(_env_org_names()))


def resolve_org(name: str, config_path: Path | None = None) -> OrgCredentials:
    """Credentials for ``name``: the [orgs.NAME] table of sfsync.toml, overridden field by field
    by SFSYNC_ORG_<NAME>_<FIELD> environment variables."""
    config = load_config(config_path)
    orgs = config.get("orgs", {})
    entry = orgs.get(name) if isinstance(orgs, dict) else None
    if entry is not None and not isinstance(entry, dict):
        raise ConfigError(f"[orgs.{name}] must be a table")
    merged = {**(entry or {}), **_env_entry(name)}
    if not merged:
        known = ", ".join([LOCAL_ORG_NAME, *configured_org_names(config)])
        raise ConfigError(f"unknown org '{name}' (known: {known}); define it under [orgs.{name}] in "
                          f"{config_path or default_config_path()}")
    try:
        creds = OrgCredentials(name=name, **merged)
    except Exception as exc:  # pydantic ValidationError: name the fields, never the values
        fields = ", ".join(str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])() if e.get("loc")) or "entries"
        raise ConfigError(f"org '{name}' has invalid or missing {fields}") from None
    missing = creds.missing_fields()
    if missing:
        method = f" for login method '{creds.auth}'" if creds.auth else ""
        raise ConfigError(f"org '{name}' has invalid or missing {', '.join(missing)}{method}")
    return creds


def list_orgs(config_path: Path | None = None) -> list[OrgCredentials | ConfigError]:
    """Every configured org (the local one aside), or the error that makes it unusable, by name."""
    config = load_config(config_path)
    out: list[OrgCredentials | ConfigError] = []
    for name in configured_org_names(config):
        try:
            out.append(resolve_org(name, config_path))
        except ConfigError as exc:
            exc.org_name = name  # type: ignore[attr-defined]
            out.append(exc)
    return out
