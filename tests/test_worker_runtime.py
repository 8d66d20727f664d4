"""sfsync.worker_runtime: intervals, the stop flag, the run loop and the JSON-lines log format."""

from __future__ import annotations

import json
import logging
import os
import signal

import pytest

from sfsync.errors import UsageError
from sfsync.worker_runtime import JsonLinesFormatter, StopFlag, parse_interval, run_every


@pytest.mark.parametrize("text, seconds", [("1h", 3600), ("30m", 1800), ("90s", 90), ("90", 90), ("1d", 86400),
                                           ("1.5h", 5400), (" 2H ", 7200)])
def test_parse_interval(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1w", "-1h", "0.5s", "1h30m"])
def test_parse_interval_refuses_nonsense(text):
    with pytest.raises(UsageError):
        parse_interval(text)


class FakeStop(StopFlag):
    def __init__(self, stop_after_waits: int):
        super().__init__()
        self.waits: list[float] = []
        self.left = stop_after_waits

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.left -= 1
        if self.left <= 0:
            self.set()
        return self.is_set()


def test_run_every_waits_start_to_start_and_returns_the_last_code():
    clock = iter([0.0, 100.0, 3600.0, 7300.0, 7300.0, 7400.0])
    codes = iter([0, 2, 3])
    stop = FakeStop(stop_after_waits=3)

    assert run_every(3600, lambda: next(codes), stop, monotonic=lambda: next(clock)) == 3
    # 100 s run -> wait 3500; a run that overran (3700 s) -> next at once; then stop.
    assert stop.waits == [3500.0, 0.0, 3500.0]


def test_run_every_stops_without_waiting_when_a_run_ends_with_a_stop_request():
    stop = FakeStop(stop_after_waits=99)

    def once() -> int:
        stop.set()
        return 0

    assert run_every(60, once, stop) == 0
    assert stop.waits == []


def test_sigterm_sets_the_flag_and_a_second_one_interrupts():
    stop = StopFlag().install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_json_lines_formatter_renders_events_and_plain_records():
    fmt = JsonLinesFormatter()
    event = logging.LogRecord("sfsync.worker.events", logging.INFO, __file__, 1, "batch", None, None)
    event.created = 1796259600.25
    event.event = {"event": "batch", "batch": 1, "notified_ids": ["a01000000000001AAA"]}
    plain = logging.LogRecord("sfsync.client", logging.WARNING, __file__, 1, "retry %d", (2,), None)
    plain.created = 1796259600.0

    assert json.loads(fmt.format(event)) == {"ts": "2026-12-03T01:00:00.250000Z", "level": "info", "event": "batch",
                                             "batch": 1, "notified_ids": ["a01000000000001AAA"]}
    assert fmt.format(plain) == ('{"ts":"2026-12-03T01:00:00.000000Z","level":"warning","logger":"sfsync.client",'
                                 '"message":"retry 2"}')
