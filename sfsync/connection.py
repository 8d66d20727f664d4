"""Opening a connection to a named org for the length of one command.

``local`` needs no set-up: if the local org of the state folder is serving, we use it; if not,
we serve it ourselves for the duration of the command and stop it afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfsync.config import LOCAL_ORG_NAME, OrgCredentials, default_state_dir, resolve_org

logger = logging.getLogger(__name__)


def local_credentials(info) -> OrgCredentials:
    return OrgCredentials(
        name=LOCAL_ORG_NAME,
        instance_url=info.instance_url,
        username=info.username,
        password=info.password,
        ca_file=info.ca_file,
    )


@contextmanager
def open_org(name: str, *, state_dir: Path | None = None, config_path: Path | None = None) -> Iterator:
    """Yield a logged-in OrgClient for ``name``."""
    from sfsync.client import OrgClient

    if name != LOCAL_ORG_NAME:
        yield OrgClient.connect(resolve_org(name, config_path))
        return

    from sfsync.local_org import LocalOrgServer, local_org_info

    state_dir = state_dir or default_state_dir()
    info = local_org_info(state_dir) if state_dir.exists() else None
    if info is not None and info.running:
        logger.info("using the local org serving at %s", info.instance_url)
        yield OrgClient.connect(local_credentials(info))
        return
    logger.info("starting the local org in %s for this command", state_dir)
    with LocalOrgServer(state_dir) as server:
        yield OrgClient.connect(local_credentials(local_org_info(state_dir)))
        logger.debug("stopping the local org at %s", server.instance_url)
