"""OAuth 2.0 username-password flow and session checks.

Tokens live in memory only: a restarted server forgets them, and clients log in again after a
401 INVALID_SESSION_ID, as they must with a real org whose session expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from typing import Callable
from urllib.parse import parse_qs

from sfsync.local_org.errors import oauth_error

logger = logging.getLogger(__name__)


class SessionRegistry:
    """Issued access tokens; each is valid for ``lifetime`` seconds after it was issued.

    Salesforce extends a session that is used in the second half of its timeout; here the lifetime
    is fixed from issue, so a test can rely on when a client meets INVALID_SESSION_ID.
    """

    def __init__(self, org_id: str, lifetime: float = 7200.0, clock: Callable[[], float] = time.monotonic):
        self.org_id = org_id
        self.lifetime = lifetime
        self.clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (user id, expiry on self.clock)
        self._lock = threading.Lock()
        self._signing_key = secrets.token_bytes(32)

    def issue(self, user_id: str) -> str:
        # Real access tokens start with the org id and "!", which some clients rely on.
        token = f"{self.org_id}!{secrets.token_urlsafe(48)}"
        with self._lock:
            now = self.clock()
            # Forget expired tokens so a long-running server does not accumulate them.
            for old in [t for t, (_, exp) in self._tokens.items() if exp <= now]:
                del self._tokens[old]
            self._tokens[token] = (user_id, now + self.lifetime)
        return token

    def user_for(self, token: str | None) -> str | None:
        if not token:
            return None
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            if entry[1] <= self.clock():
                del self._tokens[token]
                return None
            return entry[0]

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def token_response(self, body: bytes, username: str, password: str, user_id: str, instance_url: str) -> dict:
        """Answer POST /services/oauth2/token (form-encoded body); raises ApiError with the OAuth shape."""
        try:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise oauth_error("invalid_request", "invalid request body") from None
        grant = form.get("grant_type")
        if not grant:
            raise oauth_error("invalid_request", "grant type not supported")
        if grant != "password":
            raise oauth_error("unsupported_grant_type", "grant type not supported")
        ok = hmac.compare_digest(form.get("username", "").lower().encode(), username.lower().encode()) and \
            hmac.compare_digest(form.get("password", "").encode(), password.encode())
        if not ok:
            logger.info("OAuth password login refused")
            raise oauth_error("invalid_grant", "authentication failure")
        token = self.issue(user_id)
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{user_id}"
        # Salesforce signs id + issued_at with HMAC-SHA256 (keyed by the client secret).
        signature = base64.b64encode(
            hmac.new(self._signing_key, (identity + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
        }


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "oauth"):
        return None
    return value.strip() or None


__all__ = ["SessionRegistry", "bearer_token"]
