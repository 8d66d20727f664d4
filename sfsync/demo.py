"""``sfsync demo``: the whole job on a fresh local org.

Serve a new local org, deploy ``metadata/`` through the Metadata API, load the dealer dataset
through the REST API, then run the overdue worker as an operator's cron would. Every step goes
over HTTPS to the local org, exactly as it would to a real one.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from sfsync.config import DEFAULT_TIME_ZONE
from sfsync.dataset import DemoShape, build_demo_dataset, dataset_shape, load_dataset
from sfsync.deploy import DeployOptions, DeployStatus, start_deploy, wait_for_deploy
from sfsync.errors import DeployFailed, UsageError

logger = logging.getLogger(__name__)

DEMO_MARKER = ".sfsync-demo"


class DemoResult(BaseModel):
    demo_dir: Path
    state_dir: Path
    deploy: DeployStatus
    dataset: DemoShape
    load_api_calls: int
    worker: object  # sfsync.worker.WorkerResult (kept loose to avoid an import cycle at module load)


def prepare_demo_dir(demo_dir: Path) -> Path:
    """A demo always starts from an empty org, kept in ``demo_dir/org``. We only wipe folders the
    demo made itself (marker file beside the org), so a mistyped folder never erases a real org."""
    if demo_dir.exists() and any(demo_dir.iterdir()):
        if not (demo_dir / DEMO_MARKER).exists():
            raise UsageError(f"{demo_dir} is not empty and was not made by 'sfsync demo'; choose another folder")
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (demo_dir / DEMO_MARKER).write_text(json.dumps({"purpose": "sfsync demo"}))
    return demo_dir / "org"


def run_demo(
    project_root: Path,
    demo_dir: Path,
    now: datetime,
    *,
    seed: int = 7,
    time_zone: str = DEFAULT_TIME_ZONE,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoResult:
    from sfsync.client import OrgClient
    from sfsync.connection import local_credentials
    from sfsync.local_org import LocalOrgServer, local_org_info
    from sfsync.packaging import build_package
    from sfsync.worker import WorkerOptions, notify_overdue

    if now.tzinfo is None:
        raise UsageError("the demo's 'now' must carry a time zone")
    package = build_package(project_root)
    state_dir = prepare_demo_dir(demo_dir)
    with LocalOrgServer(state_dir) as server:
        progress(f"local org serving at {server.instance_url} (state in {state_dir})")
        client = OrgClient.connect(local_credentials(local_org_info(state_dir)))

        progress(f"deploying {project_root / 'metadata'} through the Metadata API")
        job_id = start_deploy(client, package.zip_bytes, DeployOptions())
        status = wait_for_deploy(client, job_id, wait_seconds=300, poll_seconds=0.2)
        if not status.success:
            problems = "; ".join(f"{f.file_name}: {f.problem}" for f in status.component_failures[:3])
            raise DeployFailed(f"deploy {job_id} ended {status.status}: {problems or status.error_message}")

        dataset = build_demo_dataset(now, seed=seed, time_zone=time_zone)
        shape = dataset_shape(dataset)
        progress(
            f"loading {shape.users} staff, {shape.stores} stores, {shape.vehicles} demo cars, "
            f"{shape.opportunities} opportunities, {shape.reservations} reservations"
        )
        loaded = load_dataset(client, dataset)

        progress("running the overdue worker")
        # A connection of its own, as a scheduled worker has, so its API calls are its own.
        # The demo's org is private to this process: no other worker can race for the lease,
        # so there is nothing to wait out before trusting it.
        worker_client = OrgClient.connect(local_credentials(local_org_info(state_dir)))
        worker = notify_overdue(worker_client, WorkerOptions(now=now, time_zone=time_zone, lease_settle_seconds=0))
    return DemoResult(demo_dir=demo_dir, state_dir=state_dir, deploy=status, dataset=shape, load_api_calls=loaded.api_calls, worker=worker)
