"""The whole job against a real local org server: deploy, load, notify twice.

The dataset's overdue set is known exactly. ``--now`` is 23:59 JST so that "exactly 10 days
ago" and "9 days 23 hours 59 minutes ago" fall on different calendar days in Tokyo.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sfsync.cli import main
from sfsync.client import OrgClient
from sfsync.connection import local_credentials
from sfsync.dataset import Dataset, Ref, load_dataset
from sfsync.local_org import LocalOrgServer, list_notifications, local_org_info

pytestmark = pytest.mark.e2e

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 3, 23, 59, tzinfo=JST)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def small_dataset() -> Dataset:
    ds = Dataset()
    ds.add("u1", "User", Username="kenta.sato@e2e.example", LastName="佐藤", FirstName="健太",
           Email="kenta.sato@e2e.example", Alias="ksato", TimeZoneSidKey="Asia/Tokyo", LocaleSidKey="ja_JP",
           EmailEncodingKey="UTF-8", LanguageLocaleKey="ja", IsActive=True)
    ds.add("u2", "User", Username="ai.mori@e2e.example", LastName="森", FirstName="愛",
           Email="ai.mori@e2e.example", Alias="amori", TimeZoneSidKey="Asia/Tokyo", LocaleSidKey="ja_JP",
           EmailEncodingKey="UTF-8", LanguageLocaleKey="en_US", IsActive=True)
    ds.add("acc", "Account", Name="田中 一郎")
    ds.add("opp1", "Opportunity", Name="田中様 Breeze 商談", AccountId=Ref("acc"), OwnerId=Ref("u1"),
           StageName="Prospecting", CloseDate=NOW.date() + timedelta(days=30))
    ds.add("opp2", "Opportunity", Name="O'Brien様 Luna 商談", AccountId=Ref("acc"), OwnerId=Ref("u2"),
           StageName="Qualification", CloseDate=NOW.date() + timedelta(days=30))

    def booking(key, opp, name, start, status="Scheduled", **extra):
        ds.add(key, "Test_Drive_Reservation__c", Name=name, Opportunity__c=Ref(opp), Model__c="Breeze",
               Variation__c="G", Powertrain__c="Hybrid", Scheduled_Start__c=start,
               Scheduled_End__c=start + timedelta(hours=1), Location__c="Showroom", Status__c=status, **extra)

    booking("exactly_10_days", "opp1", "田中様Breezeモデル試乗", NOW - timedelta(days=10))
    booking("just_under_10_days", "opp1", "田中様Breeze再試乗", NOW - timedelta(days=9, hours=23, minutes=59))
    booking("cancelled", "opp1", "田中様キャンセル", NOW - timedelta(days=20), status="Cancelled")
    # The org's validation rules (Actual_Times_Required) want the actual times of a completed drive.
    booking("completed", "opp1", "田中様完了", NOW - timedelta(days=20), status="Completed",
            Actual_Start__c=NOW - timedelta(days=20), Actual_End__c=NOW - timedelta(days=20) + timedelta(minutes=50))
    booking("already_notified", "opp1", "田中様通知済", NOW - timedelta(days=15),
            Overdue_Notified_At__c=NOW - timedelta(days=4))
    booking("apostrophe", "opp2", "O'Brien様'Luna'モデル試乗", NOW - timedelta(days=12))
    booking("future", "opp2", "O'Brien様未来", NOW + timedelta(days=3))
    return ds


@pytest.fixture
def served_org(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as server:
        yield state, server


def test_deploy_load_and_notify_twice(served_org, capsys, repo_root):
    state, _server = served_org
    code, out, err = run_cli(capsys, "deploy", "--target-org", "local", "--state", str(state),
                             "--project", str(repo_root))
    assert code == 0, err
    assert "deployed" in out

    client = OrgClient.connect(local_credentials(local_org_info(state)))
    loaded = load_dataset(client, small_dataset())
    ids = loaded.ids

    code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "local", "--state", str(state),
                             "--now", NOW.isoformat(), "--json")
    assert code == 0, err
    first = json.loads(out)
    assert sorted(first["notified_ids"]) == sorted([ids["exactly_10_days"], ids["apostrophe"]])
    assert (first["notified"], first["failed"]) == (2, 0)

    notes = list_notifications(state)
    assert sorted((n.target_id, n.recipient_id) for n in notes) == sorted([
        (ids["exactly_10_days"], ids["u1"]), (ids["apostrophe"], ids["u2"]),
    ])

    rows = list(client.query_pages(
        "SELECT Id, Overdue_Notified_At__c FROM Test_Drive_Reservation__c WHERE Overdue_Notified_At__c != null ORDER BY Id"))
    stamped = {r["Id"]: r["Overdue_Notified_At__c"] for page in [rows] for p in page for r in p}
    assert set(stamped) == {ids["exactly_10_days"], ids["apostrophe"], ids["already_notified"]}
    assert stamped[ids["exactly_10_days"]] == NOW.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "local", "--state", str(state),
                             "--now", NOW.isoformat(), "--json")
    assert code == 0, err
    second = json.loads(out)
    assert (second["notified"], second["notified_ids"], second["failed"]) == (0, [], 0)
    assert len(list_notifications(state)) == 2


def test_deploy_starts_and_stops_the_local_org_when_not_serving(tmp_path, capsys, repo_root):
    state = tmp_path / "cold"
    code, out, err = run_cli(capsys, "deploy", "--target-org", "local", "--state", str(state),
                             "--project", str(repo_root))
    assert code == 0, err
    info = local_org_info(state)
    assert info.running is False
    assert not (state / "server.json").exists()


def test_wrong_password_is_one_line_without_secret(served_org, capsys, tmp_path):
    state, server = served_org
    info = local_org_info(state)
    config = tmp_path / "sfsync.toml"
    config.write_text(
        f'[orgs.staging]\ninstance_url = "{server.instance_url}"\nusername = "{info.username}"\n'
        f'password = "wrong-Pa55word"\nca_file = "{info.ca_file}"\n'
    )
    import os
    os.environ["SFSYNC_CONFIG"] = str(config)
    try:
        code, out, err = run_cli(capsys, "notify-overdue", "--target-org", "staging")
    finally:
        del os.environ["SFSYNC_CONFIG"]
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    assert "authentication failure" in err
    assert "wrong-Pa55word" not in err and info.password.get_secret_value() not in err
