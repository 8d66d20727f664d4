"""One server per state folder: an OS-level exclusive lock held for the server's whole lifetime.

``server.lock`` (0600) in the state folder is ``flock``-ed by the serving process and names its pid.
The kernel drops the lock when the process dies, so a killed server never blocks the next one
(a stale ``server.json`` means nothing unless the lock is held). ``reset`` takes the same lock, so
it cannot wipe an org that is being served, and no server can start while it wipes.

The lock file may be deleted by its holder (stop, reset); an acquirer therefore checks, once it
holds the lock, that the path still names the file it locked, and starts over if not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sfsync.errors import LocalOrgError
from sfsync.local_org.state import LOCK_FILE, SERVER_FILE

logger = logging.getLogger(__name__)

_PROBE_RETRIES = 5
_PROBE_WAIT = 0.01


@dataclass(frozen=True)
class Serving:
    """Who holds the lock: its pid (None if not yet written) and URL (None while it starts)."""

    pid: int | None
    instance_url: str | None


class AlreadyServedError(LocalOrgError):
    """The state folder is locked by another server (or a reset)."""

    def __init__(self, state_dir: Path, serving: Serving):
        self.state_dir = state_dir
        self.serving = serving
        pid = serving.pid if serving.pid is not None else "unknown"
        where = serving.instance_url or "not listening yet"
        super().__init__(
            f"{state_dir}: this local org is already being served (pid {pid}, {where}); "
            "use that server or stop it first"
        )


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _server_url(state_dir: Path, pid: int | None) -> str | None:
    try:
        data = json.loads((state_dir / SERVER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or (pid is not None and data.get("pid") != pid):
        return None  # a stale file of an earlier server
    url = data.get("instance_url")
    return url if isinstance(url, str) else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class StateLock:
    """The exclusive lock of one state folder; ``acquire()`` raises AlreadyServedError if it is held."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "StateLock":
        if self._fd is not None:
            raise LocalOrgError(f"{self.path}: lock already held")
        busy = 0
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise LocalOrgError(f"{self.path}: cannot open the lock file ({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise LocalOrgError(f"{self.path}: cannot lock ({exc.strerror})") from None
                pid = _read_pid(fd)
                os.close(fd)
                busy += 1
                if busy < _PROBE_RETRIES:
                    # serving() holds a shared lock for an instant: only a lasting lock is a server.
                    time.sleep(_PROBE_WAIT)
                    continue
                raise AlreadyServedError(self.state_dir, Serving(pid, _server_url(self.state_dir, pid))) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # its holder deleted it before we got it: lock the current file instead
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self, *, delete: bool = True) -> None:
        """Unlock; ``delete`` removes the file first (safe: acquirers re-check the path)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if delete:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
        finally:
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> "StateLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def serving(state_dir: Path) -> Serving | None:
    """Who serves ``state_dir`` now, or None (never creates anything)."""
    path = Path(state_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise LocalOrgError(f"{path}: cannot open the lock file ({exc.strerror})") from None
    try:
        try:
            # A shared probe: it conflicts with the server's exclusive lock only.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LocalOrgError(f"{path}: cannot test the lock ({exc.strerror})") from None
            pid = _read_pid(fd)
            return Serving(pid, _server_url(Path(state_dir), pid))
        return None
    finally:
        os.close(fd)


__all__ = ["LOCK_FILE", "AlreadyServedError", "Serving", "StateLock", "serving"]
