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
import re
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from sfsync.errors import ConfigError

logger = logging.getLogger(__name__)

LOCAL_ORG_NAME = "local"
DEFAULT_TIME_ZONE = "Asia/Tokyo"
# Salesforce's own default for the OAuth token request (production; sandboxes use
# https://test.salesforce.com, My Domain orgs their own host).
DEFAULT_LOGIN_URL = "https://login.salesforce.com"
_ORG_NAME = re.compile(r"[A-Za-z0-9_-]+")
_API_VERSION = re.compile(r"[0-9]{2}\.0")

AuthMethod = Literal["password", "jwt", "sfdx_url", "access_token", "sf_alias"]

# What each login method needs; a missing one is reported by field name, never by value.
AUTH_METHODS: dict[str, tuple[str, ...]] = {
    # The token answer names the instance; the request goes to login_url (default DEFAULT_LOGIN_URL).
    "password": ("username", "password"),
    "jwt": ("username", "client_id", "private_key_file"),
    "sfdx_url": ("sfdx_auth_url",),
    "access_token": ("instance_url", "access_token"),
    "sf_alias": ("sf_alias",),
}
SECRET_FIELDS = ("password", "security_token", "access_token", "client_secret", "sfdx_auth_url")
# The field that gives each login method away; two of them in one org is ambiguous.
_METHOD_FIELDS = {"sfdx_auth_url": "sfdx_url", "private_key_file": "jwt", "sf_alias": "sf_alias",
                  "password": "password", "access_token": "access_token"}


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

    @field_validator("instance_url", "login_url")
    @classmethod
    def _https_url(cls, value: str | None, info) -> str | None:
        if value:
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
                raise ValueError(f"{info.field_name} must be an https URL (e.g. https://mydomain.my.salesforce.com)")
        return value

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not _API_VERSION.fullmatch(value):
            raise ValueError("api_version must look like 66.0 (two digits, '.0')")
        return value

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
        return [f for f in AUTH_METHODS[method] if not getattr(self, f)]

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
    """Parse sfsync.toml; a missing default file is an empty config, a broken one (or one that
    $SFSYNC_CONFIG names but is not there) a ConfigError."""
    if path is None and os.environ.get("SFSYNC_CONFIG"):
        path = default_config_path()
        if not path.exists():
            raise ConfigError(f"{path}: no such file (named by SFSYNC_CONFIG)")
    path = path or default_config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            config = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    _check_orgs_table(config, path)
    return config


def _check_orgs_table(config: dict, path: Path) -> None:
    """The shape of [orgs]: a table of tables named by plain names, 'local' excluded."""
    orgs = config.get("orgs", {})
    if not isinstance(orgs, dict):
        raise ConfigError(f"{path}: 'orgs' must be a table of [orgs.NAME] tables")
    for name, entry in orgs.items():
        if name == LOCAL_ORG_NAME:
            raise ConfigError(f"{path}: [orgs.local]: 'local' is reserved for the local org; choose another name")
        if not _ORG_NAME.fullmatch(name):
            raise ConfigError(f"{path}: org name '{name}' may only hold letters, digits, '-' and '_'")
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: [orgs.{name}] must be a table")


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


# Variables already warned about, so that resolving several orgs warns once per process.
_warned_env: set[str] = set()


def _warn_unknown_env() -> None:
    """A misspelled SFSYNC_ORG_<NAME>_<FIELD> would otherwise be ignored without a word."""
    suffixes = tuple("_" + f.upper() for f in ENV_FIELDS)
    for key in sorted(os.environ):
        if key.startswith(ENV_PREFIX) and key not in _warned_env:
            known = any(key.endswith(s) and len(key) > len(ENV_PREFIX) + len(s) for s in suffixes)
            reserved = any(key == _env_key(LOCAL_ORG_NAME, f) for f in ENV_FIELDS)
            if reserved:
                _warned_env.add(key)
                logger.warning("ignoring %s: 'local' is reserved for the local org", key)
            elif not known:
                _warned_env.add(key)
                logger.warning("ignoring %s: not SFSYNC_ORG_<NAME>_<FIELD> with a known field (%s)", key,
                               ", ".join(f.upper() for f in ENV_FIELDS))


def _env_org_names() -> list[str]:
    names = set()
    for key in os.environ:
        if not key.startswith(ENV_PREFIX):
            continue
        for field in _DEFINING_ENV_FIELDS:
            suffix = "_" + field.upper()
            if key.endswith(suffix) and len(key) > len(ENV_PREFIX) + len(suffix):
                names.add(key[len(ENV_PREFIX):-len(suffix)].lower())
    names.discard(LOCAL_ORG_NAME)
    return sorted(names)


def configured_org_names(config: dict) -> list[str]:
    orgs = config.get("orgs", {})
    names = set(orgs) if isinstance(orgs, dict) else set()
    return sorted(names | set(_env_org_names()))


def resolve_org(name: str, config_path: Path | None = None) -> OrgCredentials:
    """Credentials for ``name``: the [orgs.NAME] table of sfsync.toml, overridden field by field
    by SFSYNC_ORG_<NAME>_<FIELD> environment variables."""
    config = load_config(config_path)
    _warn_unknown_env()
    entry = config.get("orgs", {}).get(name)
    merged = {**(entry or {}), **(_env_entry(name) if name != LOCAL_ORG_NAME else {})}
    if not merged:
        known = ", ".join([LOCAL_ORG_NAME, *configured_org_names(config)])
        raise ConfigError(f"unknown org '{name}' (known: {known}); define it under [orgs.{name}] in "
                          f"{config_path or default_config_path()}")
    known_keys = sorted(f for f in OrgCredentials.model_fields if f != "name")
    for key in merged:
        if key not in known_keys:
            raise ConfigError(f"unknown key '{key}' in [orgs.{name}] (known: {', '.join(known_keys)})")
    given = [(method, field) for field, method in _METHOD_FIELDS.items() if merged.get(field)]
    if merged.get("auth") in AUTH_METHODS and merged["auth"] not in [m for m, _ in given]:
        given.insert(0, (str(merged["auth"]), "auth"))
    if len({m for m, _ in given}) > 1:
        both = " and ".join(f"{m} ({f})" for m, f in given)
        raise ConfigError(f"org '{name}' has more than one login method: {both}; keep one")
    method = given[0][0] if given else None
    if method in ("jwt", "password") and not merged.get("login_url") and not merged.get("instance_url"):
        merged["login_url"] = DEFAULT_LOGIN_URL
    try:
        creds = OrgCredentials(name=name, **merged)
    except ValidationError as exc:  # name the fields and the rule, never the values
        fields, rules = [], []
        for e in exc.errors():
            error = (e.get("ctx") or {}).get("error")
            if e["type"] == "value_error" and error:
                rules.append(str(error))
            else:
                fields.append(str(e["loc"][0]) if e.get("loc") else "entries")
        text = ([f"has invalid or missing {', '.join(fields)}"] if fields else []) + rules
        raise ConfigError(f"org '{name}'{' ' if fields else ': '}{'; '.join(text)}") from None
    missing = creds.missing_fields()
    if missing:
        method = f" for login method '{creds.auth}'" if creds.auth else ""
        raise ConfigError(f"org '{name}' has invalid or missing {', '.join(missing)}{method}")
    return creds


def list_orgs(config_path: Path | None = None) -> list[OrgCredentials | ConfigError]:
    """Every configured org (the local one aside), or the error that makes it unusable, by name."""
    config = load_config(config_path)
    _warn_unknown_env()
    out: list[OrgCredentials | ConfigError] = []
    for name in configured_org_names(config):
        try:
            out.append(resolve_org(name, config_path))
        except ConfigError as exc:
            exc.org_name = name  # type: ignore[attr-defined]
            out.append(exc)
    return out
