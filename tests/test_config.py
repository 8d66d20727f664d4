"""Org resolution: sfsync.toml tables, environment overrides, clear errors without values."""

from __future__ import annotations

import pytest

from sfsync.config import default_state_dir, resolve_org
from sfsync.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "sfsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_org_from_toml(tmp_path):
    path = write(tmp_path, '[orgs.staging]\ninstance_url = "https://x.my.salesforce.com"\n'
                           'username = "int@example.com"\npassword = "pw-1"\n')
    creds = resolve_org("staging", path)
    assert (creds.instance_url, creds.username, creds.password.get_secret_value()) == (
        "https://x.my.salesforce.com", "int@example.com", "pw-1")
    assert "pw-1" not in repr(creds)


def test_environment_overrides_and_defines_orgs(tmp_path, monkeypatch):
    path = write(tmp_path, '[orgs.staging]\ninstance_url = "https://x.my.salesforce.com"\nusername = "a@b.c"\n')
    monkeypatch.setenv("SFSYNC_ORG_STAGING_PASSWORD", "from-env")
    monkeypatch.setenv("SFSYNC_ORG_PROD_EU_INSTANCE_URL", "https://eu.my.salesforce.com")
    monkeypatch.setenv("SFSYNC_ORG_PROD_EU_ACCESS_TOKEN", "00Dtoken")
    assert resolve_org("staging", path).password.get_secret_value() == "from-env"
    prod = resolve_org("prod-eu", path)
    assert (prod.instance_url, prod.access_token.get_secret_value()) == ("https://eu.my.salesforce.com", "00Dtoken")


def test_unknown_org_lists_known_ones(tmp_path):
    path = write(tmp_path, '[orgs.staging]\ninstance_url = "https://x"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == f"unknown org 'prod' (known: local, staging); define it under [orgs.prod] in {path}"


def test_broken_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[orgs.staging\n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid TOML"):
        resolve_org("staging", path)


def test_invalid_entry_names_fields_not_values(tmp_path):
    path = write(tmp_path, '[orgs.staging]\nusername = "a@b.c"\npassword = "hunter2"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("staging", path)
    assert str(info.value) == "org 'staging' has invalid or missing instance_url"
    assert "hunter2" not in str(info.value)


def test_state_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SFSYNC_STATE_DIR", str(tmp_path / "s"))
    assert default_state_dir() == tmp_path / "s"
    monkeypatch.delenv("SFSYNC_STATE_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "sfsync" / "local-org"


def test_each_login_method_is_inferred_from_its_fields(tmp_path):
    path = write(tmp_path, '[orgs.prod]\nlogin_url = "https://login.salesforce.com"\nusername = "ci@x.example"\n'
                           'client_id = "3MVG9"\nprivate_key_file = "keys/server.key"\n'
                           '[orgs.ci]\nsfdx_auth_url = "force://PlatformCLI::5Aep@x.my.salesforce.com"\n'
                           '[orgs.uat]\nsf_alias = "dealer-uat"\n'
                           '[orgs.tok]\ninstance_url = "https://x.my.salesforce.com"\naccess_token = "00D!t"\n')
    assert [resolve_org(n, path).method for n in ("prod", "ci", "uat", "tok")] == [
        "jwt", "sfdx_url", "sf_alias", "access_token"]


def test_missing_field_of_an_explicit_method_is_named(tmp_path):
    path = write(tmp_path, '[orgs.prod]\nauth = "jwt"\nusername = "ci@x.example"\nlogin_url = "https://login.salesforce.com"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == "org 'prod' has invalid or missing client_id, private_key_file for login method 'jwt'"


def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, '[orgs.s]\ninstance_url = "https://x"\naccess_token = "t"\npasword = "oops"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("s", path)
    assert str(info.value) == "org 's' has invalid or missing pasword"
    assert "oops" not in str(info.value)


def test_org_list_shows_no_secret(tmp_path, monkeypatch):
    from sfsync.config import list_orgs

    path = write(tmp_path, '[orgs.staging]\ninstance_url = "https://x.my.salesforce.com"\nusername = "u@x"\n'
                           'password = "pw-secret"\nsecurity_token = "tok-secret"\n[orgs.broken]\nusername = "b@x"\n')
    monkeypatch.setenv("SFSYNC_ORG_CI_SFDX_AUTH_URL", "force://c::refresh-secret@x.my.salesforce.com")
    listed = list_orgs(path)
    assert [o.org_name if isinstance(o, ConfigError) else o.name for o in listed] == ["broken", "ci", "staging"]
    assert str(listed[0]) == "org 'broken' has invalid or missing instance_url, password"
    assert listed[1].public_view() == {"name": "ci", "method": "sfdx_url", "api_version": "66.0",
                                       "sfdx_auth_url": "(set)"}
    assert listed[2].public_view() == {"name": "staging", "method": "password",
                                       "instance_url": "https://x.my.salesforce.com", "username": "u@x",
                                       "api_version": "66.0", "password": "(set)", "security_token": "(set)"}
