"""The local org's state folder: credentials, certificates and the SQLite database.

Layout (folder 0700, files 0600): ``credentials.json``, ``org.sqlite3``, ``ca.pem`` (+ key),
``server.pem`` (+ key), and ``server.json`` and ``server.lock`` while a server runs. A folder that exists but does
not look like ours raises LocalOrgError: resetting it silently could destroy someone's data.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sfsync.errors import LocalOrgError
from sfsync.local_org.certs import CertFiles, create_certificates
from sfsync.local_org.ids import make_id
from sfsync.local_org.standard_objects import ORG_KEY_PREFIX, USER_KEY_PREFIX

logger = logging.getLogger(__name__)

CREDENTIALS_FILE = "credentials.json"
DB_FILE = "org.sqlite3"
SERVER_FILE = "server.json"
LOCK_FILE = "server.lock"  # flock-ed by the serving process (see lock.py)
FAULTS_FILE = "faults.json"
SETTINGS_FILE = "settings.json"
CONTROL_TOKEN_FILE = "control-token"
# Files a user may put in a new state folder before the first start.
_USER_FILES = (SERVER_FILE, LOCK_FILE, FAULTS_FILE, SETTINGS_FILE, CONTROL_TOKEN_FILE)
CREDENTIALS_FORMAT = "sfsync-local-org-credentials/1"
DEFAULT_USERNAME = "admin@local.sfsync"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    org_id: str
    user_id: str

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(username={self.username!r}, org_id={self.org_id!r})"


def write_private_file(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` with mode 0600 (atomic replace)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class StateDir:
    """Paths inside one state folder, and its creation and checks."""

    def __init__(self, path: Path):
        self.path = Path(path).expanduser().absolute()
        self.certs = CertFiles.in_dir(self.path)

    @property
    def credentials_file(self) -> Path:
        return self.path / CREDENTIALS_FILE

    @property
    def db_file(self) -> Path:
        return self.path / DB_FILE

    @property
    def server_file(self) -> Path:
        return self.path / SERVER_FILE

    @property
    def faults_file(self) -> Path:
        return self.path / FAULTS_FILE

    @property
    def settings_file(self) -> Path:
        return self.path / SETTINGS_FILE

    @property
    def control_token_file(self) -> Path:
        return self.path / CONTROL_TOKEN_FILE

    def control_token(self) -> str:
        """The control endpoint's token (created 0600 on first use)."""
        f = self.control_token_file
        if not f.exists():
            write_private_file(f, secrets.token_urlsafe(32) + "\n")
        try:
            token = f.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise LocalOrgError(f"{f}: cannot read the control token ({exc})") from None
        if len(token) < 16:
            raise LocalOrgError(f"{f}: the control token is too short (16 characters at least)")
        return token

    def is_initialized(self) -> bool:
        return self.credentials_file.exists()

    def check_usable(self) -> None:
        """Raise unless the path is absent, a local org state folder, or a folder that may become one."""
        if self.path.exists() and not self.path.is_dir():
            raise LocalOrgError(f"{self.path}: state folder path exists and is not a folder")
        if not self.path.exists() or self.credentials_file.exists():
            return
        leftovers = [p.name for p in self.path.iterdir() if p.name not in _USER_FILES]
        if leftovers:
            raise LocalOrgError(
                f"{self.path}: not a local org state folder (no {CREDENTIALS_FILE}, "
                f"but it holds {', '.join(sorted(leftovers)[:5])}); use an empty or new folder"
            )

    def ensure(self, init_db: Callable[[Credentials], None]) -> Credentials:
        """Create the folder on first use (``init_db`` builds the database); check it on later uses."""
        self.check_usable()
        if not self.path.exists():
            self.path.mkdir(mode=0o700, parents=True)
        self.path.chmod(0o700)
        if not self.credentials_file.exists():
            return self._create(init_db)
        creds = self.load_credentials()
        if not self.certs.all_exist():
            raise LocalOrgError(f"{self.path}: certificate files are missing (ca.pem, server.pem and their keys)")
        if not self.db_file.exists():
            raise LocalOrgError(f"{self.path}: database {DB_FILE} is missing")
        return creds

    def _create(self, init_db: Callable[[Credentials], None]) -> Credentials:
        creds = Credentials(
            username=DEFAULT_USERNAME,
            password=secrets.token_urlsafe(18),
            org_id=make_id(ORG_KEY_PREFIX, 1),
            user_id=make_id(USER_KEY_PREFIX, 1),
        )
        create_certificates(self.certs, DEFAULT_USERNAME)
        init_db(creds)
        payload = {
            "format": CREDENTIALS_FORMAT,
            "username": creds.username,
            "password": creds.password,
            "org_id": creds.org_id,
            "user_id": creds.user_id,
        }
        # Written last: its presence marks a complete state folder.
        write_private_file(self.credentials_file, json.dumps(payload, indent=2) + "\n")
        logger.info("created local org state folder %s", self.path)
        return creds

    def load_credentials(self) -> Credentials:
        try:
            data = json.loads(self.credentials_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
            raise LocalOrgError(f"{self.credentials_file}: cannot read local org credentials ({reason})") from None
        if not isinstance(data, dict) or data.get("format") != CREDENTIALS_FORMAT:
            raise LocalOrgError(f"{self.credentials_file}: not a local org credentials file (unknown format)")
        try:
            return Credentials(
                username=str(data["username"]),
                password=str(data["password"]),
                org_id=str(data["org_id"]),
                user_id=str(data["user_id"]),
            )
        except KeyError as exc:
            raise LocalOrgError(f"{self.credentials_file}: credentials file lacks {exc.args[0]!r}") from None

    def check_permissions(self) -> list[str]:
        """Names of files readable by group/others (should be empty)."""
        bad = []
        for p in [self.path, *self.path.iterdir()]:
            if stat.S_IMODE(p.stat().st_mode) & 0o077:
                bad.append(p.name)
        return bad
