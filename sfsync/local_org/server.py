"""LocalOrgServer: HTTPS on 127.0.0.1 (stdlib ThreadingHTTPServer + ssl) in front of LocalOrgApp."""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sfsync.errors import LocalOrgError
from sfsync.local_org.app import LocalOrgApp
from sfsync.local_org.control import ControlApi
from sfsync.local_org.faults import FaultInjector, FaultRule
from sfsync.local_org.lock import StateLock
from sfsync.local_org.messages import Request
from sfsync.local_org.org import LocalOrg
from sfsync.local_org.settings import LocalOrgSettings, load_settings
from sfsync.local_org.state import StateDir, write_private_file

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
POLL_INTERVAL = 0.05  # how fast stop() is noticed
MAX_BODY = 400 * 1024 * 1024  # Metadata API zips are capped at 400 MB
# Reasons Salesforce's front server gives (seen in real answers: "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>").
_FRONT_REASONS = {414: "URI Too Long", 431: "Request Header Fields Too Large"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sfsync-local-org"
    sys_version = ""

    def _serve(self) -> None:
        app: LocalOrgApp = self.server.app  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        path, _, qs = self.path.partition("?")
        req = Request(self.command, path, qs, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            resp = app.handle(req)
        finally:
            app.org.store.release()
        if resp.drop_connection:
            # Fault injection: the client sees the connection close with no answer.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Refusals before the app sees the request (URI or headers too long, bad request line, body
        too big): Salesforce's front server (Jetty) answers these with its short HTML page, not with a
        REST error body, so clients meet the same shape here."""
        reason = _FRONT_REASONS.get(code) or message or self.responses.get(code, ("Error",))[0]
        body = f"<h1>Bad Message {code}</h1><pre>reason: {html.escape(reason, quote=False)}</pre>".encode("latin-1", "replace")
        self.log_error("refused: %d %s", code, reason)
        self.send_response(code, reason)
        self.send_header("Content-Type", "text/html;charset=iso-8859-1")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        # Request lines only (no headers, so no tokens) at debug level.
        logger.debug("%s %s", self.address_string(), format % args)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ssl_context: ssl.SSLContext, app: LocalOrgApp):
        super().__init__(addr, _Handler)
        self.app = app
        self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            logger.debug("TLS handshake failed from %s: %s", client_address, exc)
            return
        super().finish_request(request, client_address)


class LocalOrgServer:
    """The local org on 127.0.0.1:``port`` (0 = a free port). Creates the state folder on first use."""

    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        *,
        time_zone: str | None = None,
        daily_api_limit: int | None = None,
        query_locator_expiry_seconds: float | None = None,
        token_lifetime_seconds: float | None = None,
    ):
        """Keyword arguments left at None come from ``settings.json`` in the state folder, else defaults."""
        self.state_dir = Path(state_dir)
        self.port = port
        self._overrides = {
            "time_zone": time_zone, "daily_api_limit": daily_api_limit,
            "query_locator_expiry_seconds": query_locator_expiry_seconds,
            "token_lifetime_seconds": token_lifetime_seconds,
        }
        self.settings: LocalOrgSettings | None = None
        self.org: LocalOrg | None = None
        self.app: LocalOrgApp | None = None
        self._httpd: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self.faults = FaultInjector()
        self._lock = StateLock(self.state_dir)

    def counters(self) -> dict[str, int]:
        """Requests seen per endpoint: {"GET /services/data/v66.0/query": n, ...}."""
        return self.faults.counters()

    @property
    def instance_url(self) -> str:
        if self._httpd is None:
            raise LocalOrgError("the local org server is not running")
        return f"https://{HOST}:{self._httpd.server_address[1]}"

    def _open(self) -> None:
        if self._httpd is not None:
            raise LocalOrgError("the local org server is already running")
        state = StateDir(self.state_dir)
        state.check_usable()  # before the lock file is made: a foreign folder gets nothing of ours
        state.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One server per folder for its whole life: a second one would share (and on stop, unlist) the org.
        self._lock = StateLock(state.path).acquire()
        try:
            self._open_locked(state)
        except BaseException:
            self._lock.release()
            raise

    def _open_locked(self, state: StateDir) -> None:
        self.settings = load_settings(state.settings_file, self._overrides)
        self.org = LocalOrg(self.state_dir, self.settings)
        self.app = LocalOrgApp(self.org, lambda: self.instance_url)
        try:
            self.faults.set_file_rules(load_fault_file(self.org.state.faults_file))
            self.app.control = ControlApi(self.faults, self.org.state.control_token())
        except LocalOrgError:
            self.org.close()
            raise
        self.app.fault_hook = self.faults.intercept
        certs = self.org.state.certs
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(certs.server_cert, certs.server_key)
        except (ssl.SSLError, OSError) as exc:
            self.org.close()
            raise LocalOrgError(f"{certs.server_cert}: cannot load the server certificate ({exc})") from None
        try:
            self._httpd = _TLSServer((HOST, self.port), ctx, self.app)
        except OSError as exc:
            self.org.close()
            raise LocalOrgError(f"cannot listen on {HOST}:{self.port}: {exc.strerror}") from None
        write_private_file(
            self.org.state.server_file,
            json.dumps({"pid": os.getpid(), "port": self._httpd.server_address[1], "instance_url": self.instance_url}) + "\n",
        )
        logger.info("local org serving at %s", self.instance_url)

    def start(self) -> "LocalOrgServer":
        self._open()
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(POLL_INTERVAL,), name="local-org", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() (from another thread) or KeyboardInterrupt."""
        self._open()
        try:
            self._httpd.serve_forever(POLL_INTERVAL)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._close()

    def _close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.server_close()
        if self.app is not None:
            self.app.metadata.wait_idle()
        try:
            if self.org is not None:
                try:
                    self.org.state.server_file.unlink(missing_ok=True)
                finally:
                    self.org.close()
        finally:
            self._lock.release()  # last: until here no other server or reset may touch the folder

    def __enter__(self) -> "LocalOrgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def load_fault_file(path: Path) -> list[FaultRule]:
    """Rules of ``faults.json`` (a JSON list of rule objects); none if the file is absent."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LocalOrgError(f"{path}: cannot read the fault rules ({exc})") from None
    if not isinstance(data, list):
        raise LocalOrgError(f"{path}: the fault rule file must hold a JSON list of rules")
    rules = []
    for i, item in enumerate(data):
        try:
            rules.append(FaultRule.from_json(item))
        except (TypeError, ValueError, re.error) as exc:
            raise LocalOrgError(f"{path}: rule {i + 1}: {exc}") from None
    return rules
