"""Running the overdue worker unattended: stop on SIGTERM between batches, repeat on an interval,
JSON-lines logs on stderr.

The CLI wires these up; the worker itself only polls ``StopFlag.is_set``.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from sfsync.errors import UsageError

logger = logging.getLogger(__name__)

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """'1h', '30m', '90s', '1d' or a number of seconds -> seconds (at least 1)."""
    match = _INTERVAL_RE.match(text or "")
    if not match:
        raise UsageError(f"--every '{text}' is not an interval such as 1h, 30m or 90s")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds < 1:
        raise UsageError(f"--every '{text}' is shorter than one second")
    return seconds


class StopFlag:
    """Set by SIGTERM/SIGINT: the worker finishes its current batch and stops.

    A second signal while stopping raises KeyboardInterrupt, for an operator who cannot wait.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous: dict[int, object] = {}

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a stop was requested meanwhile."""
        return self._event.wait(seconds)

    def _handle(self, signum, _frame) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt()
        logger.info("signal %s: finishing the current batch, then stopping", signal.Signals(signum).name)
        self._event.set()

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def run_every(interval: float, run_once: Callable[[], int], stop: StopFlag,
              monotonic: Callable[[], float] = time.monotonic) -> int:
    """Call ``run_once`` now and then every ``interval`` seconds (start to start) until ``stop``.

    Returns the exit code of the last run. A run that overruns the interval is followed by the
    next one at once, never by two.
    """
    code = 0
    while not stop.is_set():
        started = monotonic()
        code = run_once()
        if stop.is_set():
            break
        if stop.wait(max(0.0, interval - (monotonic() - started))):
            break
    return code


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: worker events (``extra={'event': {...}}``) as they are, other
    records as {ts, level, logger, message}."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = getattr(record, "event", None)
        if isinstance(event, dict):
            data = {"ts": ts, "level": record.levelname.lower(), **event}
        else:
            data = {"ts": ts, "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
            if record.exc_info:
                data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
