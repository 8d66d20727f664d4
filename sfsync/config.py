"""Where sfsync finds the orgs it talks to.

``--target-org local`` needs no set-up: it names the local org of the default state folder.
Other names come from ``sfsync.toml`` (current directory, or ``$SFSYNC_CONFIG``).
"""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from sfsync.errors import ConfigError

logger = logging.getLogger(__name__)

LOCAL_ORG_NAME = "local"
DEFAULT_TIME_ZONE = "Asia/Tokyo"


class OrgCredentials(BaseModel):
    """How to reach one org. Secrets are SecretStr so that repr() and logs never show them."""

    model_config = ConfigDict(frozen=True)

    name: str
    instance_url: str
    username: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # CA bundle to trust for this org (the local org's own CA); None means the system store.
    ca_file: Path | None = None
    api_version: str = "66.0"


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
              "api_version")


def _env_key(org: str, field: str) -> str:
    return ENV_PREFIX + "".join(c if c.isalnum() else "_" for c in org).upper() + "_" + field.upper()


def _env_entry(name: str) -> dict:
    """Fields of org ``name`` given as environment variables (SFSYNC_ORG_<NAME>_<FIELD>), so that
    schedulers can inject secrets without writing them into a file."""
    return {f: os.environ[_env_key(name, f)] for f in ENV_FIELDS if _env_key(name, f) in os.environ}


def _env_org_names() -> list[str]:
    suffix = "_INSTANCE_URL"
    return [k[len(ENV_PREFIX):-len(suffix)].lower() for k in os.environ if k.startswith(ENV_PREFIX) and k.endswith(suffix)]


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
        return OrgCredentials(name=name, **merged)
    except Exception as exc:  # pydantic ValidationError: name the fields, never the values
        fields = ", ".join(str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])()) or "entries"
        raise ConfigError(f"org '{name}' has invalid or missing {fields}") from None
