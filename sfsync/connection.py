"""Opening a connection to a named org for the length of one command.

``local`` needs no set-up: if the local org of the state folder is serving, we use it; if not,
we serve it ourselves for the duration of the command and stop it afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfsync.config import LOCAL_ORG_NAME, OrgCredentials, default_state_dir, resolve_org
from sfsync.errors import LocalOrgError

logger = logging.getLogger(__name__)

# A server that holds the lock is creating the org (certificates) or opening it: wait that long.
STARTUP_WAIT_SECONDS = 30.0


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
    from sfsync.local_org.lock import AlreadyServedError

    state_dir = state_dir or default_state_dir()
    for attempt in range(3):
        url = _served_url(state_dir)
        if url is not None:
            logger.info("using the local org serving at %s", url)
            info = local_org_info(state_dir).model_copy(update={"instance_url": url})
            yield OrgClient.connect(local_credentials(info))
            return
        # Not served (absent, new, just reset or left by a killed server): serve it, creating it if need be.
        server = LocalOrgServer(state_dir)
        try:
            server.start()
        except AlreadyServedError:
            if attempt == 2:
                raise
            continue  # another process started serving it meanwhile: use that one
        logger.info("started the local org in %s for this command", state_dir)
        try:
            yield OrgClient.connect(local_credentials(local_org_info(state_dir)))
        finally:
            logger.debug("stopping the local org at %s", server.instance_url)
            server.stop()
        return


def _served_url(state_dir: Path) -> str | None:
    """The URL of the server holding ``state_dir``'s lock (waiting while it starts), or None."""
    from sfsync.local_org.lock import serving

    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        who = serving(state_dir)
        if who is None:
            return None
        if who.instance_url is not None:
            return who.instance_url
        if time.monotonic() > deadline:
            raise LocalOrgError(
                f"{state_dir}: the local org is locked by pid {who.pid} but does not listen; is that process stuck?"
            )
        time.sleep(0.05)
