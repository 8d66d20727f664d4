"""The overdue worker as a process (`sfsync notify-overdue`) against a local org: two at once,
SIGKILL at each step then a rerun, SIGTERM between batches. Helpers and the org template come
from test_worker_faults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from test_worker_faults import (
    ACTION,
    COLLECTION,
    NOW,
    REPO,
    V,
    Dealer,
    deployed_template,
    lease_rows,
    notified_counts,
    serve_copy,
    stamped,
)

from sfsync.domain import api_datetime
from sfsync.local_org import LocalOrgServer
from sfsync.local_org.faults import FaultRule
from sfsync.local_org.values import now_ms

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return deployed_template(tmp_path_factory.mktemp("worker-process-org") / "template")


@pytest.fixture
def served(template, tmp_path):
    with serve_copy(template, tmp_path / "org") as srv:
        yield srv


def cli(srv: LocalOrgServer, *args: str) -> list[str]:
    return [sys.executable, "-m", "sfsync", "notify-overdue", "--target-org", "local", "--state", str(srv.state_dir),
            "--now", NOW.isoformat(), "--json", "--min-api-remaining", "0", *args]


def env() -> dict:
    return {**os.environ, "SFSYNC_RETRY_MAX_WAIT": "0", "PYTHONPATH": str(REPO)}


def test_two_workers_started_together_never_notify_a_reservation_twice(served):
    ids = Dealer(served).overdue(30)
    # Slow notification calls keep the first run going while the second one starts.
    served.faults.add(FaultRule(method="POST", path=ACTION, times=None, delay_seconds=0.4))
    procs = [subprocess.Popen(cli(served, "--worker-id", name, "--lease-settle-seconds", "1", "--batch-size", "5"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True)
             for name in ("host-a", "host-b")]
    outs = [p.communicate(timeout=60) for p in procs]
    codes = sorted(p.returncode for p in procs)

    assert notified_counts(served) == Counter({rid: 1 for rid in ids})
    assert codes == [0, 1], outs
    loser_out, loser_err = outs[[p.returncode for p in procs].index(1)]
    assert loser_out == ""  # it sent nothing, so it has no summary to print
    assert loser_err.strip().splitlines()[-1].startswith("error: another worker (host-")
    assert "worker lease" in loser_err
    assert lease_rows(served) == []


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the worker")
        time.sleep(0.02)


# Where the worker is when it is killed: a slow request of that kind is in flight (the org still
# completes it after the client is gone, as Salesforce would). Last column: the duplicates the
# rerun sends (a notify call completed but never recorded: the one-batch window).
KILL_POINTS = {
    "probe": ("GET", r"/services/data/v\d+\.\d+/query", 1, 0),
    "lease": ("PATCH", COLLECTION, 1, 0),
    "first page": ("GET", r"/services/data/v\d+\.\d+/query", 3, 0),
    "notify batch 2": ("POST", ACTION, 2, 2),
    "stamp batch 2": ("PATCH", COLLECTION, 3, 0),
    "notify last batch": ("POST", ACTION, 3, 2),
    "release": ("PATCH", COLLECTION, 4, 0),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_at_each_step_then_rerun_loses_nothing(served, point):
    method, path, nth, duplicates = KILL_POINTS[point]
    ids = Dealer(served).overdue(6)
    key = {"GET": f"GET {V}/query", "PATCH": f"PATCH {V}/composite/sobjects",
           "POST": f"POST {V}/actions/standard/customNotificationAction"}[method]
    served.faults.add(FaultRule(method=method, path=path, nth=nth, delay_seconds=0.6))
    served.faults.reset_counters()
    proc = subprocess.Popen(cli(served, "--worker-id", "cron-1", "--lease-settle-seconds", "0", "--batch-size", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    _wait_for(lambda: served.counters().get(key, 0) >= nth)
    proc.kill()
    proc.wait(timeout=10)
    time.sleep(0.8)  # the org finishes the request in flight
    served.faults.clear()

    rerun = subprocess.run(cli(served, "--worker-id", "cron-1", "--lease-settle-seconds", "0", "--batch-size", "2"),
                           capture_output=True, text=True, env=env(), timeout=60)

    assert rerun.returncode == 0, rerun.stderr
    counts = notified_counts(served)
    assert set(counts) == set(ids)  # no notice lost
    assert sum(counts.values()) - len(ids) == duplicates  # only the batch whose record was cut off
    assert stamped(served) == set(ids)
    assert lease_rows(served) == []


def test_sigterm_finishes_the_current_batch_and_exits_cleanly(served):
    ids = Dealer(served).overdue(6)
    served.faults.add(FaultRule(method="POST", path=ACTION, nth=2, delay_seconds=1.0))
    proc = subprocess.Popen(cli(served, "--worker-id", "svc", "--lease-settle-seconds", "0", "--batch-size", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
                            text=True)
    _wait_for(lambda: served.counters().get(f"POST {V}/actions/standard/customNotificationAction", 0) >= 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert (summary["outcome"], summary["notified_ids"], summary["exit_code"]) == ("stopped", ids[1:5], 0)
    lines = [json.loads(line) for line in err.splitlines()]
    assert [line["event"] for line in lines if "event" in line] == ["lease", "batch", "batch", "summary"]
    assert stamped(served) == set(ids[1:5]) and lease_rows(served) == []


def test_long_running_worker_logs_json_lines_writes_metrics_and_stops_on_sigterm(served, tmp_path):
    ids = Dealer(served).overdue(3)
    metrics = tmp_path / "sfsync.prom"
    args = cli(served, "--worker-id", "svc", "--lease-settle-seconds", "0", "--metrics-file", str(metrics))
    args[args.index("notify-overdue")] = "worker"
    args[args.index("--json")] = "--every=1h"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True)
    _wait_for(lambda: metrics.exists())
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines()]
    summary = lines[-1]
    assert {k: summary[k] for k in ("event", "org", "outcome", "exit_code", "checked", "notified", "failed")} == {
        "event": "summary", "org": "local", "outcome": "done", "exit_code": 0, "checked": 3, "notified": 3, "failed": 0}
    assert [line["event"] for line in lines] == ["lease", "batch", "summary"]
    assert lines[1]["notified_ids"] == ids[1:] + ids[:1]
    # Reservation ids only: no customer, staff or reservation names, no e-mail addresses.
    assert "田中" not in err and "佐藤" not in err and "@" not in err
    figures = dict(line.rsplit(" ", 1) for line in metrics.read_text().splitlines() if not line.startswith("#"))
    assert {k: figures[k] for k in ('sfsync_overdue_checked{org="local"}', 'sfsync_overdue_notified{org="local"}',
                                    'sfsync_overdue_exit_code{org="local"}')} == {
        'sfsync_overdue_checked{org="local"}': "3", 'sfsync_overdue_notified{org="local"}': "3",
        'sfsync_overdue_exit_code{org="local"}': "0"}
    assert out.startswith("checked 3 reservation(s): 3 overdue, notified 3, escalated 0, 0 failed")
    assert stamped(served) == set(ids)


def test_refusing_to_start_below_the_api_reserve_exits_3(served):
    Dealer(served).overdue(1)
    run = subprocess.run(cli(served, "--worker-id", "svc", "--lease-settle-seconds", "0", "--min-api-remaining",
                             "99999"), capture_output=True, text=True, env=env(), timeout=60)
    assert run.returncode == 3, run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        "error: API_ALLOWANCE_RESERVE: refusing to start: 14999 daily API request(s) left, below the reserve of 99999 "
        "(--min-api-remaining)")
    assert run.stdout == "" and notified_counts(served) == Counter()


def test_long_running_worker_logs_a_run_that_could_not_start_and_keeps_going(served):
    d = Dealer(served)
    ids = d.overdue(2)
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    with served.org.store.transaction() as tx:
        served.org.writer.update(tx, served.org.catalog.get("Test_Drive_Reservation__c"), ids[1], {
            "Notice_Claim__c": "OVERDUE_WORKER_LEASE", "Notice_Claimed_By__c": "other-host/0123456789ab",
            "Notice_Claimed_Until__c": api_datetime(until)}, now_ms())
    args = cli(served, "--worker-id", "svc", "--lease-settle-seconds", "0")
    args[args.index("notify-overdue")] = "worker"
    args[args.index("--json")] = "--every=1h"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True)
    # probe, notification type, then the lease holder's read after DUPLICATE_VALUE
    _wait_for(lambda: served.counters().get(f"GET {V}/query", 0) >= 3)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 1, err
    line = json.loads(err.strip().splitlines()[-1])
    assert {k: line[k] for k in ("level", "event", "org", "exit_code")} == {
        "level": "error", "event": "run_failed", "org": "local", "exit_code": 1}
    assert line["error"] == (f"another worker (other-host/0123456789ab) holds the worker lease until "
                             f"{api_datetime(until)}; nothing was sent")
    assert out == "" and notified_counts(served) == Counter()
