"""Read-only views of a local org's state folder (no server needed)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, SecretStr

from sfsync.errors import LocalOrgError
from sfsync.local_org.lock import serving
from sfsync.local_org.state import StateDir
from sfsync.local_org.store import Store
from sfsync.local_org.values import ms_to_text


class LocalOrgInfo(BaseModel):
    instance_url: str | None
    username: str
    password: SecretStr
    ca_file: Path
    state_dir: Path
    running: bool


class LocalNotification(BaseModel):
    id: str
    type_developer_name: str | None
    recipient_id: str
    recipient_name: str | None
    title: str
    body: str
    target_id: str
    created_date: str


def local_org_info(state_dir: Path) -> LocalOrgInfo:
    """What a client needs; ``running`` comes from the server's lock (a stale server.json means nothing)."""
    state = StateDir(state_dir)
    if not state.is_initialized():
        state.check_usable()  # a foreign folder is refused as ``serve`` refuses it
        raise LocalOrgError(f"{state.path}: no local org here yet (start it once to create it)")
    creds = state.load_credentials()
    who = serving(state.path)
    return LocalOrgInfo(
        instance_url=who.instance_url if who else None, username=creds.username, password=SecretStr(creds.password),
        ca_file=state.certs.ca_cert, state_dir=state.path, running=who is not None,
    )


def list_notifications(state_dir: Path) -> list[LocalNotification]:
    state = StateDir(state_dir)
    if not state.is_initialized() or not state.db_file.exists():
        raise LocalOrgError(f"{state.path}: no local org here yet (start it once to create it)")
    store = Store(state.db_file)
    try:
        store.check()
        return [
            LocalNotification(
                id=r["id"], type_developer_name=r["type_developer_name"], recipient_id=r["recipient_id"],
                recipient_name=r["recipient_name"], title=r["title"], body=r["body"], target_id=r["target_id"],
                created_date=ms_to_text(r["created_date"]),
            )
            for r in store.notifications()
        ]
    finally:
        store.close()
