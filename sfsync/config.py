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


def configured_org_names(config: dict) -> list[str]:
    orgs = config.get("orgs", {})
    return sorted(orgs) if isinstance(orgs, dict) else []


def resolve_org(name: str, config_path: Path | None = None) -> OrgCredentials:
    """Credentials for ``name`` from sfsync.toml ([orgs.NAME] tables)."""
    config = load_config(config_path)
    orgs = config.get("orgs", {})
    entry = orgs.get(name) if isinstance(orgs, dict) else None
    if entry is None:
        known = ", ".join([LOCAL_ORG_NAME, *configured_org_names(config)])
        raise ConfigError(f"unknown org '{name}' (known: {known}); define it under [orgs.{name}] in {config_path or default_config_path()}")
    if not isinstance(entry, dict):
        raise ConfigError(f"[orgs.{name}] must be a table")
    try:
        return OrgCredentials(name=name, **entry)
    except Exception as exc:  # pydantic ValidationError: name the fields, never the values
        fields = ", ".join(str(e["loc"][0]) for e in getattr(exc, "errors", lambda: [])()) or "entries"
        raise ConfigError(f"[orgs.{name}] has invalid {fields}") from None
