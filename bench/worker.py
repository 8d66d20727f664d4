"""Benchmark of the overdue worker against a local org (run on demand, not in CI).

    .venv/bin/python bench/worker.py                 # the four cases of issue 6 (a few minutes)
    .venv/bin/python bench/worker.py --cases 10000:1000 --naive-limit 1000

Per case (S reservations seeded, N of them overdue) it seeds a fresh copy of a deployed local org
straight through the org's store (fast; no API calls counted), then runs on identical copies:

* sfsync: ``sfsync notify-overdue`` as a subprocess (its own peak RSS, VmHWM, measured at exit);
* naive: the one-call-per-record baseline below (query every reservation, then one action call
  and one PATCH per overdue row).

It prints API calls (REST calls the org counted, plus the login), the budget of issue 6 item 5,
the naive/sfsync call ratio, wall times and the worker's peak RSS, and the RSS ratio between
S = 100k and S = 10k at the same N. All figures of one output come from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sfsync.client import OrgClient  # noqa: E402
from sfsync.connection import local_credentials  # noqa: E402
from sfsync.deploy import DeployOptions, start_deploy, wait_for_deploy  # noqa: E402
from sfsync.domain import api_datetime, is_overdue, parse_api_datetime  # noqa: E402
from sfsync.local_org import LocalOrgServer, local_org_info  # noqa: E402
from sfsync.local_org.values import now_ms  # noqa: E402
from sfsync.packaging import build_package  # noqa: E402

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
DEFAULT_CASES = ["10000:1000", "10000:10000", "100000:1000", "100000:10000"]
STORES = 50
OWNERS = 200


def deploy_template(state: Path) -> None:
    with LocalOrgServer(state):
        client = OrgClient.connect(local_credentials(local_org_info(state)))
        status = wait_for_deploy(client, start_deploy(client, build_package(REPO).zip_bytes, DeployOptions()),
                                 wait_seconds=300)
        if not status.success:
            raise SystemExit(f"deploy failed: {status.error_message}")


def seed(state: Path, total: int, overdue: int) -> None:
    """``total`` reservations, ``overdue`` of them overdue and unnotified; the rest future or closed."""
    with LocalOrgServer(state) as srv:
        org = srv.org
        cat = org.catalog

        def create(tx, sobject: str, body: dict) -> str:
            body = {k: api_datetime(v) if isinstance(v, datetime) else v for k, v in body.items()}
            return org.writer.create(tx, cat.get(sobject), body, now_ms())

        with org.store.transaction() as tx:
            managers = [create(tx, "User", {"Username": f"m{i}@bench.example", "LastName": f"店長{i}",
                                            "Email": f"m{i}@bench.example", "Alias": f"m{i}"}) for i in range(STORES)]
            stores = [create(tx, "Dealer_Store__c", {"Name": f"店舗{i}", "Store_Code__c": f"B{i:04d}",
                                                      "Manager__c": managers[i]}) for i in range(STORES)]
            vehicles = [create(tx, "Test_Drive_Vehicle__c", {"Name": f"試乗車{i}", "Store__c": stores[i]})
                        for i in range(STORES)]
            owners = [create(tx, "User", {"Username": f"s{i}@bench.example", "LastName": f"営業{i}",
                                          "Email": f"s{i}@bench.example", "Alias": f"s{i}",
                                          "LanguageLocaleKey": "ja" if i % 3 else "en_US"}) for i in range(OWNERS)]
            account = create(tx, "Account", {"Name": "ベンチ顧客"})
            opps = [create(tx, "Opportunity", {"Name": f"商談{i}", "AccountId": account, "OwnerId": owners[i],
                                               "StageName": "Prospecting", "CloseDate": "2027-03-31"})
                    for i in range(OWNERS)]
        past = NOW - timedelta(days=15)
        future = NOW + timedelta(days=5)
        obj = cat.get("Test_Drive_Reservation__c")
        for start in range(0, total, 5000):
            with org.store.transaction() as tx:
                for i in range(start, min(total, start + 5000)):
                    # Spread the overdue rows over the whole Id range.
                    late = (i * overdue) // total != ((i + 1) * overdue) // total
                    when = past if late else future
                    body = {"Name": f"予約{i}", "Opportunity__c": opps[i % OWNERS], "Vehicle__c": vehicles[i % STORES],
                            "Scheduled_Start__c": api_datetime(when),
                            "Scheduled_End__c": api_datetime(when + timedelta(hours=1)), "Status__c": "Scheduled"}
                    org.writer.create(tx, obj, body, now_ms())


_RSS_WRAPPER = (
    "import atexit, sys\n"
    "out = sys.argv.pop(1)\n"
    "def hwm():\n"
    "    with open('/proc/self/status') as fh:\n"
    "        kb = next(line for line in fh if line.startswith('VmHWM:')).split()[1]\n"
    "    with open(out, 'w') as fh:\n"
    "        fh.write(kb)\n"
    "atexit.register(hwm)\n"
    "sys.argv[0] = 'sfsync'\n"
    "from sfsync.cli import main\n"
    "main()\n"
)


def run_sfsync(state: Path) -> dict:
    with LocalOrgServer(state) as srv:
        # The child reports its own high-water RSS (VmHWM): ru_maxrss from wait4 would include the
        # bench's own memory copied at fork, before exec.
        hwm = state / "worker-vmhwm-kb"
        args = [sys.executable, "-c", _RSS_WRAPPER, str(hwm), "notify-overdue", "--target-org", "local", "--state", str(state),
                "--now", NOW.isoformat(), "--json", "--min-api-remaining", "0", "--lease-settle-seconds", "0.5",
                "--worker-id", "bench"]
        started = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ,
                                "PYTHONPATH": str(REPO)})
        out = proc.stdout.read()
        proc.wait()
        wall = time.monotonic() - started
        result = json.loads(out)
        rest = sum(v for k, v in srv.counters().items() if k.split(" ", 1)[1].startswith("/services/data/"))
    return {"calls": rest + 1, "reported_calls": result["api_calls"], "wall": wall, "rss_mb": int(hwm.read_text()) / 1024,
            "checked": result["checked"], "notified": result["notified"], "exit": proc.returncode}


def run_naive(state: Path, limit: int | None) -> dict:
    """One call per record: what a straightforward script does. Stops after ``limit`` notices
    (the rest is extrapolated linearly and marked so) to keep the bench in minutes."""
    with LocalOrgServer(state) as srv:
        client = OrgClient.connect(local_credentials(local_org_info(state)))
        started = time.monotonic()
        type_id = next(iter(client.query_pages(
            "SELECT Id FROM CustomNotificationType WHERE DeveloperName = 'Test_Drive_Overdue'")))[0]["Id"]
        due: list[tuple[str, str]] = []
        for page in client.query_pages("SELECT Id, Name, Status__c, Scheduled_Start__c, Overdue_Notified_At__c, "
                                       "Opportunity__r.OwnerId FROM Test_Drive_Reservation__c"):
            for r in page:
                if r["Overdue_Notified_At__c"] is None and is_overdue(
                        r["Status__c"], parse_api_datetime(r["Scheduled_Start__c"]), now=NOW):
                    due.append((r["Id"], r["Opportunity__r"]["OwnerId"]))
        done = 0
        for rid, owner in due[: limit if limit is not None else len(due)]:
            client.invoke_standard_action("customNotificationAction", [{
                "customNotifTypeId": type_id, "recipientIds": [owner], "title": "未処理の試乗予約",
                "body": "未処理の試乗予約があります。", "targetId": rid}])
            client._rest(f"sobjects/Test_Drive_Reservation__c/{rid}", lambda sf, rid=rid: sf.restful(
                f"sobjects/Test_Drive_Reservation__c/{rid}", method="PATCH",
                json={"Overdue_Notified_At__c": api_datetime(NOW)}))
            done += 1
        wall = time.monotonic() - started
        rest = sum(v for k, v in srv.counters().items() if k.split(" ", 1)[1].startswith("/services/data/"))
    missing = len(due) - done
    per_notice = (wall / done) if done else 0.0
    return {"calls": rest + 1 + 2 * missing, "wall": wall + missing * per_notice, "extrapolated": missing > 0,
            "due": len(due)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="*", default=DEFAULT_CASES, help="S:N pairs (default: the issue's four)")
    parser.add_argument("--naive-limit", type=int, default=None,
                        help="send at most this many naive notices per case and extrapolate the rest")
    parser.add_argument("--keep", action="store_true", help="keep the org folders")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sfsync-bench-"))
    template = work / "template"
    t0 = time.monotonic()
    deploy_template(template)
    rows = []
    for case in args.cases:
        total, overdue = (int(x) for x in case.split(":"))
        seeded = work / f"seed-{total}-{overdue}"
        shutil.copytree(template, seeded)
        t = time.monotonic()
        seed(seeded, total, overdue)
        seed_s = time.monotonic() - t
        for name in ("sfsync", "naive"):
            shutil.copytree(seeded, work / f"{name}-{total}-{overdue}")
        ours = run_sfsync(work / f"sfsync-{total}-{overdue}")
        naive = run_naive(work / f"naive-{total}-{overdue}", args.naive_limit)
        floor = math.ceil(ours["checked"] / 2000) + 2 * math.ceil(overdue / 200) + 3
        rows.append((total, overdue, ours, naive, floor, seed_s))
        print(f"S={total:>6} N={overdue:>5}: sfsync {ours['calls']} calls (budget {floor} + login), "
              f"naive {naive['calls']}{'*' if naive['extrapolated'] else ''}, "
              f"ratio {naive['calls'] / ours['calls']:.1f}, wall sfsync {ours['wall']:.1f}s / naive "
              f"{naive['wall']:.1f}s{'*' if naive['extrapolated'] else ''}, peak RSS {ours['rss_mb']:.1f} MB, "
              f"notified {ours['notified']}, exit {ours['exit']} (seeded in {seed_s:.1f}s)", flush=True)

    print()
    print("| S seeded | N overdue | rows the worker read | sfsync API calls (login incl.) | budget ceil(read/2000)"
          "+2ceil(N/200)+3, +1 login | naive calls | naive/sfsync | sfsync wall s | naive wall s | sfsync peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for total, overdue, ours, naive, floor, _ in rows:
        star = "*" if naive["extrapolated"] else ""
        print(f"| {total} | {overdue} | {ours['checked']} | {ours['calls']} | {floor} + 1 | {naive['calls']}{star} | "
              f"{naive['calls'] / ours['calls']:.1f} | {ours['wall']:.1f} | {naive['wall']:.1f}{star} | "
              f"{ours['rss_mb']:.1f} |")
    by_case = {(t, n): o for t, n, o, *_ in rows}
    for n in sorted({n for _, n, *_ in rows}):
        small, big = by_case.get((10000, n)), by_case.get((100000, n))
        if small and big:
            print(f"RSS ratio S=100k/S=10k at N={n}: {big['rss_mb'] / small['rss_mb']:.2f} (goal <= 1.2)")
    if any(naive["extrapolated"] for *_, naive, _, _ in rows):
        print("* naive figures extrapolated linearly from --naive-limit notices per case")
    print(f"total bench time {time.monotonic() - t0:.0f}s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"org folders kept in {work}")


if __name__ == "__main__":
    main()
