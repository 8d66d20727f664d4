"""Settings of one local org: ``LocalOrgServer(...)`` keyword arguments over ``settings.json`` over defaults.

``settings.json`` (optional, in the state folder) is a JSON object with any of these keys::

    {"time_zone": "Asia/Tokyo", "daily_api_limit": 15000,
     "query_locator_expiry_seconds": 900, "token_lifetime_seconds": 7200}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sfsync.errors import LocalOrgError

logger = logging.getLogger(__name__)

DEFAULT_TIME_ZONE = "Asia/Tokyo"
DEFAULT_DAILY_API_LIMIT = 15000  # a Developer Edition org's daily allocation
# Salesforce drops a query cursor after 15 minutes without a queryMore.
DEFAULT_LOCATOR_EXPIRY = 900
# Salesforce's default session timeout is two hours.
DEFAULT_TOKEN_LIFETIME = 7200


class LocalOrgSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = DEFAULT_TIME_ZONE
    daily_api_limit: int = Field(DEFAULT_DAILY_API_LIMIT, ge=0)
    query_locator_expiry_seconds: float = Field(DEFAULT_LOCATOR_EXPIRY, ge=0)
    token_lifetime_seconds: float = Field(DEFAULT_TOKEN_LIFETIME, gt=0)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def load_settings(path: Path, overrides: dict[str, Any] | None = None) -> LocalOrgSettings:
    """Settings from ``path`` (if it exists) with ``overrides`` (keyword arguments; None = not given) on top."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LocalOrgError(f"{path}: cannot read the local org settings ({exc})") from None
        if not isinstance(data, dict):
            raise LocalOrgError(f"{path}: the local org settings must be a JSON object")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return LocalOrgSettings(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise LocalOrgError(f"{path}: invalid local org settings ({problems})") from None


__all__ = ["LocalOrgSettings", "load_settings"]
