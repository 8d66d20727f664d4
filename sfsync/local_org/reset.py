"""Wiping a local org (``sfsync local-org reset``): only a folder that is one, and only its own files.

The org's data, credentials, certificates and control token go; the user's own ``settings.json``
and ``faults.json`` stay (they configure the next org). A folder that is not a local org state
folder, holds files the local org did not make, or is being served is refused: nothing is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sfsync.errors import LocalOrgError
from sfsync.local_org.lock import AlreadyServedError, Serving, StateLock, serving
from sfsync.local_org.state import (
    CONTROL_TOKEN_FILE,
    CREDENTIALS_FILE,
    DB_FILE,
    FAULTS_FILE,
    LOCK_FILE,
    SERVER_FILE,
    SETTINGS_FILE,
    StateDir,
)

logger = logging.getLogger(__name__)

_CERT_FILES = ("ca.pem", "ca-key.pem", "server.pem", "server-key.pem")
# SQLite's companions of the database (WAL mode), and a half-written file of write_private_file.
_DB_COMPANIONS = (f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal")
OWN_FILES = (CREDENTIALS_FILE, DB_FILE, *_DB_COMPANIONS, *_CERT_FILES, CONTROL_TOKEN_FILE, SERVER_FILE, LOCK_FILE)
KEPT_FILES = (SETTINGS_FILE, FAULTS_FILE)


@dataclass(frozen=True)
class ResetResult:
    state_dir: Path
    removed: list[str]
    kept: list[str]


def _refuse_served(state: StateDir, who: Serving) -> LocalOrgError:
    pid = who.pid if who.pid is not None else "unknown"
    return LocalOrgError(f"{state.path}: the local org is being served (pid {pid}); stop it first")


def check_resettable(state_dir: Path) -> StateDir:
    """The state folder if it may be wiped; LocalOrgError saying why not otherwise."""
    state = StateDir(state_dir)
    if not state.path.is_dir():
        raise LocalOrgError(f"{state.path}: no local org there (no such folder)")
    if not state.credentials_file.exists():
        raise LocalOrgError(f"{state.path}: not a local org state folder (no {CREDENTIALS_FILE}); nothing deleted")
    state.load_credentials()  # raises unless it is our credentials file
    foreign = sorted(p.name for p in state.path.iterdir()
                     if p.name not in OWN_FILES and p.name not in KEPT_FILES and not p.name.endswith(".tmp"))
    if foreign:
        raise LocalOrgError(
            f"{state.path}: holds files the local org did not create ({', '.join(foreign[:5])}); "
            "nothing deleted — move them away first"
        )
    who = serving(state.path)
    if who is not None:
        raise _refuse_served(state, who)
    return state


def reset_state_dir(state_dir: Path) -> ResetResult:
    """Delete the local org in ``state_dir`` (see the module docstring); the folder itself stays."""
    state = check_resettable(state_dir)
    # The server's lock, held while wiping: no server can start (or be running) meanwhile.
    lock = StateLock(state.path)
    try:
        lock.acquire()
    except AlreadyServedError as exc:
        raise _refuse_served(state, exc.serving) from None
    removed = []
    try:
        # The credentials file marks a complete org: it goes first, so an interrupted reset leaves a
        # folder that the next start refuses instead of half-trusting.
        for name in (CREDENTIALS_FILE, *[n for n in OWN_FILES if n not in (CREDENTIALS_FILE, LOCK_FILE)]):
            path = state.path / name
            if path.exists():
                path.unlink()
                removed.append(name)
        for path in state.path.glob("*.tmp"):
            path.unlink()
            removed.append(path.name)
    finally:
        lock.release()  # deletes the lock file too
    kept = sorted(p.name for p in state.path.iterdir())
    logger.info("local org in %s reset", state.path)
    return ResetResult(state.path, removed, kept)


__all__ = ["ResetResult", "check_resettable", "reset_state_dir"]
