"""The local org: an HTTPS server on 127.0.0.1 speaking the subset of Salesforce's APIs sfsync uses.

Imports are lazy so that ``sfsync.local_org.catalog`` (used by the SOQL compiler) loads without
pulling in the server and its dependencies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalOrgServer", "local_org_info", "list_notifications", "LocalOrgInfo", "LocalNotification"]


def __getattr__(name: str) -> Any:
    if name == "LocalOrgServer":
        from sfsync.local_org.server import LocalOrgServer

        return LocalOrgServer
    if name in ("local_org_info", "list_notifications", "LocalOrgInfo", "LocalNotification"):
        from sfsync.local_org import info

        return getattr(info, name)
    raise AttributeError(name)
