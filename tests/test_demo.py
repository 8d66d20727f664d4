"""`sfsync demo` end to end on a real local org server, checked against the generated data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sfsync.dataset import build_demo_dataset
from sfsync.demo import DEMO_MARKER, run_demo
from sfsync.domain import is_due_for_escalation, is_overdue
from sfsync.errors import UsageError
from sfsync.local_org import list_notifications

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


def expected_overdue_count(now: datetime) -> int:
    """Counted from the generated records with the domain rule, independently of any query."""
    return sum(
        1 for r in build_demo_dataset(now).records
        if r.sobject == "Test_Drive_Reservation__c" and "Overdue_Notified_At__c" not in r.fields
        and is_overdue(r.fields["Status__c"], r.fields["Scheduled_Start__c"], now=now)
    )


def expected_escalation_count(now: datetime) -> int:
    """Notified earlier, still Scheduled, first notice 7+ calendar days ago."""
    return sum(
        1 for r in build_demo_dataset(now).records
        if r.sobject == "Test_Drive_Reservation__c" and r.fields["Status__c"] == "Scheduled"
        and is_due_for_escalation(r.fields.get("Overdue_Notified_At__c"), None, now=now)
    )


def test_demo_runs_the_whole_job(tmp_path, repo_root):
    messages = []
    result = run_demo(repo_root, tmp_path / "demo", NOW, progress=messages.append)

    assert result.deploy.success and result.deploy.status == "Succeeded"
    assert (result.dataset.stores, result.dataset.vehicles, result.dataset.users) == (3, 12, 24)
    assert result.dataset.opportunities >= 500 and result.dataset.reservations >= 3000

    expected = expected_overdue_count(NOW)
    assert expected > 50
    assert (result.worker.overdue, result.worker.notified, result.worker.failed) == (expected, expected, 0)
    assert len(set(result.worker.notified_ids)) == expected
    escalations = expected_escalation_count(NOW)
    assert escalations > 5
    assert (result.worker.escalations_due, result.worker.escalated) == (escalations, escalations)
    notes = list_notifications(result.state_dir)
    assert sorted(n.target_id for n in notes) == sorted(result.worker.notified_ids + result.worker.escalated_ids)
    assert messages[0].startswith("local org serving at https://127.0.0.1:")
    assert result.state_dir == tmp_path / "demo" / "org"


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, repo_root):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="was not made by 'sfsync demo'"):
        run_demo(repo_root, precious, NOW)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_demo_starts_fresh_each_run(tmp_path, repo_root):
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    (demo_dir / DEMO_MARKER).write_text("{}")
    (demo_dir / "stale.txt").write_text("old run")
    result = run_demo(repo_root, demo_dir, NOW)
    assert not (demo_dir / "stale.txt").exists()
    assert result.worker.notified == expected_overdue_count(NOW)
    assert result.worker.escalated == expected_escalation_count(NOW)
