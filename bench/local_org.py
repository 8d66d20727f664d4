"""Local org benchmark: 100k reservations and 10k opportunities (run on demand, not in CI).

    /work/main/.venv/bin/python bench/local_org.py [--reservations N] [--opportunities N] [--state DIR]

1. Creates a local org in a temporary folder (or --state, which must be new), deploys this
   project's metadata/ in-process, and loads the data straight into the store (bulk INSERTs of
   valid rows, no API calls, no per-record checks: loading through the API is not what is measured).
2. Starts the server in a child process and, over HTTPS like any client, times:
   - the first 2,000-row page of the worker's overdue query (sfsync.worker.overdue_soql),
   - a later 2,000-row page of it (queryMore),
   - a 200-record composite/sobjects PATCH stamping Overdue_Notified_At__c,
   each three times (all figures and the median printed).
3. Prints the server process's peak resident memory (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sfsync.local_org import LocalOrgServer, local_org_info  # noqa: E402
from sfsync.local_org.deployer import Deployer, apply_plan  # noqa: E402
from sfsync.local_org.org import LocalOrg  # noqa: E402
from sfsync.local_org.store import storage_default  # noqa: E402
from sfsync.packaging import build_package  # noqa: E402
from sfsync.worker import overdue_soql  # noqa: E402

V = "/services/data/v66.0"
RES = "Test_Drive_Reservation__c"
DAY_MS = 86_400_000


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _load(org: LocalOrg, tx, name: str, rows: list[dict], now: int, admin: str) -> list[str]:
    """Bulk-insert ``rows`` of object ``name`` with Ids, system stamps, owners and checkbox defaults."""
    obj = org.catalog.get(name)
    ids = org.store.reserve_ids(tx, obj.key_prefix, len(rows))
    extra = {"CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now,
             "CreatedById": admin, "LastModifiedById": admin}
    if obj.field("OwnerId") is not None:
        extra["OwnerId"] = admin
    for fdef in obj.fields.values():
        if fdef.type == "boolean" and fdef.column not in rows[0]:
            extra[fdef.column] = storage_default(fdef)
    columns = ["Id", *extra, *[c for c in rows[0] if c not in extra]]
    org.store.insert_many(tx, obj, columns, [
        (rid, *[row.get(c, extra.get(c)) for c in columns[1:]]) for rid, row in zip(ids, rows)
    ])
    return ids


def seed(state: Path, reservations: int, opportunities: int, now: dt.datetime) -> dict[str, int]:
    org = LocalOrg(state)
    try:
        plan = Deployer(org.catalog).plan(build_package(REPO).zip_bytes)
        problems = [m.problem for m in plan.messages if m.problem]
        if plan.error_message or problems:
            raise SystemExit(f"metadata deploy failed: {plan.error_message or problems[:3]}")
        org.publish_catalog(apply_plan(org, plan))
        rng = random.Random(7)
        admin = org.credentials.user_id
        now_ms = _ms(now)
        with org.store.transaction() as tx:
            users = _load(org, tx, "User", [{
                "Username": f"rep{i}@bench.local", "FirstName": "Rep", "LastName": f"{i:03d}", "Name": f"Rep {i:03d}",
                "Email": f"rep{i}@bench.local", "Alias": f"rep{i}", "IsActive": 1, "LanguageLocaleKey": "ja",
                "TimeZoneSidKey": "Asia/Tokyo", "LocaleSidKey": "ja_JP", "EmailEncodingKey": "UTF-8",
            } for i in range(50)], now_ms, admin)
            stores = _load(org, tx, "Dealer_Store__c", [{
                "Name": f"Store {i:02d}", "Store_Code__c": f"S{i:03d}", "Manager__c": users[i],
                "Time_Zone__c": "Asia/Tokyo",
            } for i in range(20)], now_ms, admin)
            vehicles = _load(org, tx, "Test_Drive_Vehicle__c", [{
                "Name": f"Demo car {i:03d}", "Brand__c": "Brand", "Model__c": f"Model {i % 12}",
                "Powertrain__c": "Hybrid", "Store__c": stores[i % len(stores)], "Active__c": 1,
                "Plate_Number__c": f"P-{i:04d}",
            } for i in range(300)], now_ms, admin)
            opps = _load(org, tx, "Opportunity", [{
                "Name": f"Deal {i:05d}", "StageName": "Prospecting", "CloseDate": "2027-03-31",
                "OwnerId": users[rng.randrange(len(users))],
            } for i in range(opportunities)], now_ms, admin)
            rows = []
            for i in range(reservations):
                start = now_ms + rng.randrange(-200 * DAY_MS, 30 * DAY_MS)
                roll = rng.random()
                status = "Completed" if roll < 0.6 else "Cancelled" if roll < 0.7 else "Scheduled"
                rows.append({
                    "Name": f"R-{i:06d}", "Opportunity__c": opps[rng.randrange(len(opps))],
                    "Vehicle__c": vehicles[rng.randrange(len(vehicles))], "Model__c": "Model",
                    "Powertrain__c": "Hybrid", "Location__c": "Showroom", "Status__c": status,
                    "Scheduled_Start__c": start, "Scheduled_End__c": start + 3_600_000,
                    "Overdue_Notified_At__c": None,
                })
            _load(org, tx, RES, rows, now_ms, admin)
        org.store.conn().execute("ANALYZE")
        return {"User": len(users) + 1, "Dealer_Store__c": len(stores), "Test_Drive_Vehicle__c": len(vehicles),
                "Opportunity": len(opps), RES: reservations}
    finally:
        org.close()


def _serve(state: str, conn) -> None:
    with LocalOrgServer(Path(state)) as srv:
        conn.send(srv.instance_url)
        conn.recv()  # until the parent is done


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def _timed(fn) -> tuple[float, requests.Response]:
    t0 = time.perf_counter()
    r = fn()
    _ = r.content  # the whole body is received
    return time.perf_counter() - t0, r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reservations", type=int, default=100_000)
    ap.add_argument("--opportunities", type=int, default=10_000)
    ap.add_argument("--state", type=Path, help="new folder for the org (default: a temporary folder)")
    args = ap.parse_args(argv)
    tmp = None
    if args.state is None:
        tmp = tempfile.TemporaryDirectory(prefix="sfsync-bench-")
        args.state = Path(tmp.name) / "org"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    t0 = time.perf_counter()
    counts = seed(args.state, args.reservations, args.opportunities, now)
    print(f"seeded in {time.perf_counter() - t0:.1f} s (straight into the store): "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(str(args.state), child), daemon=True)
    proc.start()
    try:
        instance_url = parent.recv()
        info = local_org_info(args.state)
        s = requests.Session()
        s.trust_env = False
        s.verify = str(info.ca_file)
        token = s.post(f"{instance_url}/services/oauth2/token", data={
            "grant_type": "password", "username": info.username, "password": info.password.get_secret_value()}).json()
        s.headers["Authorization"] = f"Bearer {token['access_token']}"
        print(f"server pid {proc.pid}, after start: peak RSS {_peak_rss_mb(proc.pid):.0f} MB")

        cutoff = now - dt.timedelta(days=10)
        soql = overdue_soql(cutoff, now - dt.timedelta(days=20))
        first, more, update = [], [], []
        pages = []
        for _ in range(3):
            secs, r = _timed(lambda: s.get(f"{instance_url}{V}/query", params={"q": soql}))
            body = r.json()
            assert r.status_code == 200 and len(body["records"]) == 2000, (r.status_code, r.text[:300])
            first.append(secs)
            secs, r = _timed(lambda: s.get(instance_url + body["nextRecordsUrl"]))
            page = r.json()
            assert r.status_code == 200 and len(page["records"]) == 2000, r.text[:300]
            more.append(secs)
            pages.append(page)
        query_peak = _peak_rss_mb(proc.pid)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        for page in pages:
            ids = [rec["Id"] for rec in page["records"][:200]]
            secs, r = _timed(lambda: s.patch(f"{instance_url}{V}/composite/sobjects", json={"allOrNone": False, "records": [
                {"attributes": {"type": RES}, "Id": i, "Overdue_Notified_At__c": stamp} for i in ids]}))
            assert r.status_code == 200 and all(x["success"] for x in r.json()), r.text[:300]
            update.append(secs)
        print(f"worker query: {body['totalSize']:,} matching rows")

        def fmt(xs: list[float]) -> str:
            return f"median {statistics.median(xs) * 1000:.0f} ms (runs: {', '.join(f'{x * 1000:.0f}' for x in xs)} ms)"

        print(f"first 2,000-row page of the worker query (incl. snapshot of all matching Ids): {fmt(first)}")
        print(f"next 2,000-row page (queryMore):                                         {fmt(more)}")
        print(f"200-record composite/sobjects PATCH:                                     {fmt(update)}")
        print(f"server peak RSS (VmHWM): {query_peak:.0f} MB after the queries, "
              f"{_peak_rss_mb(proc.pid):.0f} MB after the updates too")
    finally:
        parent.send("stop")
        proc.join(30)
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
