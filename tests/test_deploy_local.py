"""Release commands end to end against a served local org: plan, check-only + quick deploy,
destructive changes, retrieve and listMetadata (issue 5, items 3, 4 and 6)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from sfsync.cli import main
from sfsync.client import OrgClient
from sfsync.connection import local_credentials
from sfsync.errors import SalesforceApiError
from sfsync.local_org import LocalOrgServer, local_org_info
from sfsync.plan import list_metadata, retrieve

pytestmark = pytest.mark.e2e

FIELD = "metadata/main/default/objects/Test_Drive_Reservation__c/fields/Variation__c.field-meta.xml"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture
def project(tmp_path, repo_root):
    copy = tmp_path / "project"
    shutil.copytree(repo_root / "metadata", copy / "metadata")
    shutil.copy(repo_root / "sfdx-project.json", copy / "sfdx-project.json")
    return copy


@pytest.fixture
def org(tmp_path):
    state = tmp_path / "org"
    with LocalOrgServer(state) as server:
        yield state, server


def plan(capsys, state, project) -> list[dict]:
    code, out, err = run_cli(capsys, "plan", "--target-org", "local", "--state", str(state), "--project", str(project),
                             "--json", "--diff")
    assert code == 0, err
    return json.loads(out)["result"]["changes"]


def states(changes: list[dict]) -> set[str]:
    return {c["state"] for c in changes}


def test_plan_deploy_plan_change_one_label_plan(org, project, capsys):
    state, _ = org
    first = plan(capsys, state, project)
    assert states(first) == {"new"} and len(first) > 50

    code, out, err = run_cli(capsys, "deploy", "--target-org", "local", "--state", str(state), "--project", str(project))
    assert code == 0, err

    second = plan(capsys, state, project)
    assert [c for c in second if c["state"] != "unchanged"] == []
    assert len(second) == len(first)

    path = project / FIELD
    text = path.read_text(encoding="utf-8")
    assert "<label>Variation</label>" in text
    path.write_text(text.replace("<label>Variation</label>", "<label>Trim Variation</label>"), encoding="utf-8")

    third = plan(capsys, state, project)
    changed = [c for c in third if c["state"] != "unchanged"]
    assert [(c["state"], c["type"], c["full_name"]) for c in changed] == [
        ("changed", "CustomField", "Test_Drive_Reservation__c.Variation__c")]
    diff = changed[0]["diff"]
    assert "-    <label>Variation</label>\n+    <label>Trim Variation</label>\n" in diff


def test_check_only_then_quick_deploy_once(org, project, capsys):
    state, _ = org
    common = ["--target-org", "local", "--state", str(state)]
    code, out, err = run_cli(capsys, "deploy", *common, "--project", str(project), "--check-only", "--json")
    assert code == 0, err
    validation = json.loads(out)["result"]
    assert (validation["check_only"], validation["status"]) == (True, "Succeeded")
    # a validation changes nothing: the org still has none of the package
    assert states(plan(capsys, state, project)) == {"new"}

    code, out, err = run_cli(capsys, "deploy", "quick", validation["id"], *common, "--json")
    assert code == 0, err
    quick = json.loads(out)["result"]
    assert quick["id"] != validation["id"] and (quick["check_only"], quick["status"]) == (False, "Succeeded")
    assert states(plan(capsys, state, project)) == {"unchanged"}

    code, out, err = run_cli(capsys, "deploy", "quick", validation["id"], *common)
    assert code == 1
    assert err == "error: INVALID_ID_FIELD: Metadata deployRecentValidation: This validation can " \
                  "no longer be deployed\n"


def test_delete_removed_deletes_only_what_plan_lists(org, project, capsys):
    state, _ = org
    common = ["--target-org", "local", "--state", str(state), "--project", str(project)]
    assert run_cli(capsys, "deploy", *common)[0] == 0
    # a field only permission sets and its translation name, so the tree stays valid without it
    # (deploy refuses a tree that validate rejects)
    obj = project / "metadata/main/default/objects/Test_Drive_Reservation__c"
    (obj / "fields/Notice_Claim__c.field-meta.xml").unlink()
    (project / "metadata/main/default/objectTranslations/Test_Drive_Reservation__c-ja/"
               "Notice_Claim__c.fieldTranslation-meta.xml").unlink()
    for path in (project / "metadata/main/default/permissionsets").glob("*-meta.xml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\s*<fieldPermissions>(?:(?!</fieldPermissions>).)*\.Notice_Claim__c<.*?</fieldPermissions>",
                      "", text, flags=re.DOTALL)
        path.write_text(text, encoding="utf-8")
    removed = [c for c in plan(capsys, state, project) if c["state"] == "removed"]
    assert [(c["type"], c["full_name"]) for c in removed] == [
        ("CustomField", "Test_Drive_Reservation__c.Notice_Claim__c")]

    code, out, err = run_cli(capsys, "deploy", *common, "--delete-removed", "--json")
    assert code == 0, err
    assert err.splitlines()[0] == ("will delete CustomField Test_Drive_Reservation__c.Notice_Claim__c (in local, no "
                                   "longer in metadata/)")
    assert json.loads(out)["result"]["deleted"] == ["CustomField Test_Drive_Reservation__c.Notice_Claim__c"]
    assert [c for c in plan(capsys, state, project) if c["state"] != "unchanged"] == []

    client = OrgClient.connect(local_credentials(local_org_info(state)))
    with pytest.raises(SalesforceApiError) as info:
        list(client.query_pages("SELECT Notice_Claim__c FROM Test_Drive_Reservation__c"))
    assert info.value.error_code == "INVALID_FIELD"


def test_retrieve_reports_missing_components_and_list_metadata_lists_fields(org, project, capsys):
    state, _ = org
    assert run_cli(capsys, "deploy", "--target-org", "local", "--state", str(state), "--project", str(project))[0] == 0
    client = OrgClient.connect(local_credentials(local_org_info(state)))
    status = retrieve(client, [("ApexClass", "ReservationSelector"), ("ApexClass", "NoSuchClass")])
    assert status.messages == ["package.xml: Entity of type 'ApexClass' named 'NoSuchClass' cannot be found"]
    found = list_metadata(client, ["CustomField", "ApexClass"])
    names = {(f.type, f.full_name) for f in found}
    assert ("CustomField", "Test_Drive_Reservation__c.Variation__c") in names
    assert ("ApexClass", "ReservationSelector") in names
    assert all(f.manageable_state == "unmanaged" for f in found)


def test_cancel_of_a_finished_deploy_is_refused(org, project, capsys):
    state, _ = org
    common = ["--target-org", "local", "--state", str(state)]
    code, out, _ = run_cli(capsys, "deploy", *common, "--project", str(project), "--json")
    job = json.loads(out)["result"]["id"]
    code, out, err = run_cli(capsys, "deploy", "cancel", job, *common)
    assert code == 1
    assert err == ("error: INVALID_ID_FIELD: Metadata cancelDeploy: Deployment already completed\n")


def test_jobs_outlive_the_local_org_process_for_report_and_quick(tmp_path, project, capsys):
    """Without `local-org serve`, each command starts and stops the org: the validated job must
    still be there for `deploy report` and `deploy quick` of the next command."""
    common = ["--target-org", "local", "--state", str(tmp_path / "cold")]
    code, out, err = run_cli(capsys, "deploy", *common, "--project", str(project), "--check-only", "--json")
    assert code == 0, err
    validation = json.loads(out)["result"]
    code, out, err = run_cli(capsys, "deploy", "report", validation["id"], *common, "--json")
    assert code == 0, err
    report = json.loads(out)["result"]
    assert (report["id"], report["status"], report["check_only"], report["components_deployed"]) == (
        validation["id"], "Succeeded", True, validation["components_deployed"])
    code, out, err = run_cli(capsys, "deploy", "quick", validation["id"], *common)
    assert code == 0, err
    assert out.startswith("deployed ")
    code, _, err = run_cli(capsys, "deploy", "cancel", validation["id"], *common)
    assert (code, err) == (1, "error: INVALID_ID_FIELD: Metadata cancelDeploy: Deployment already "
                              "completed\n")
