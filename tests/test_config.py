"""Org resolution: sfsync.toml tables, environment overrides, clear errors without values."""

from __future__ import annotations

import logging

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
    path = write(tmp_path, '[orgs.staging]\nusername = "a@b.c"\npassword = "hunter2"\nclient_id = 42\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("staging", path)
    assert str(info.value) == "org 'staging' has invalid or missing client_id"
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


KNOWN_KEYS = ("access_token, api_version, auth, ca_file, client_id, client_secret, instance_url, login_url, "
              "password, private_key_file, security_token, sf_alias, sfdx_auth_url, username")


@pytest.mark.parametrize("key", ["pasword", "usernme", "name"])
def test_unknown_key_is_named(tmp_path, key):
    path = write(tmp_path, f'[orgs.s]\ninstance_url = "https://x"\naccess_token = "t"\n{key} = "oops"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("s", path)
    assert str(info.value) == f"unknown key '{key}' in [orgs.s] (known: {KNOWN_KEYS})"
    assert "oops" not in str(info.value)


def test_org_list_shows_no_secret(tmp_path, monkeypatch):
    from sfsync.config import list_orgs

    path = write(tmp_path, '[orgs.staging]\ninstance_url = "https://x.my.salesforce.com"\nusername = "u@x"\n'
                           'password = "pw-secret"\nsecurity_token = "tok-secret"\n[orgs.broken]\nusername = "b@x"\n')
    monkeypatch.setenv("SFSYNC_ORG_CI_SFDX_AUTH_URL", "force://c::refresh-secret@x.my.salesforce.com")
    listed = list_orgs(path)
    assert [o.org_name if isinstance(o, ConfigError) else o.name for o in listed] == ["broken", "ci", "staging"]
    assert str(listed[0]) == "org 'broken' has invalid or missing password"
    assert listed[1].public_view() == {"name": "ci", "method": "sfdx_url", "api_version": "66.0",
                                       "sfdx_auth_url": "(set)"}
    assert listed[2].public_view() == {"name": "staging", "method": "password",
                                       "instance_url": "https://x.my.salesforce.com", "username": "u@x",
                                       "api_version": "66.0", "password": "(set)", "security_token": "(set)"}


@pytest.mark.parametrize("table, both", [
    ('password = "pw"\nsfdx_auth_url = "force://a::b@x.my.salesforce.com"\n',
     "sfdx_url (sfdx_auth_url) and password (password)"),
    ('auth = "jwt"\npassword = "pw"\nclient_id = "3MVG9"\n', "jwt (auth) and password (password)"),
    ('access_token = "00D!t"\nsf_alias = "uat"\n', "sf_alias (sf_alias) and access_token (access_token)"),
])
def test_two_login_methods_in_one_org_are_refused(tmp_path, table, both):
    path = write(tmp_path, f'[orgs.prod]\ninstance_url = "https://x.my.salesforce.com"\nusername = "u@x"\n{table}')
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == f"org 'prod' has more than one login method: {both}; keep one"
    assert "pw" not in str(info.value).replace("password", "")


def test_explicit_config_file_that_is_missing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SFSYNC_CONFIG", str(tmp_path / "nonexistent.toml"))
    with pytest.raises(ConfigError) as info:
        resolve_org("prod")
    assert str(info.value) == f"{tmp_path / 'nonexistent.toml'}: no such file (named by SFSYNC_CONFIG)"


def test_missing_default_config_file_is_an_empty_config(tmp_path, monkeypatch):
    monkeypatch.delenv("SFSYNC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_org("prod")
    assert str(info.value) == "unknown org 'prod' (known: local); define it under [orgs.prod] in sfsync.toml"


@pytest.mark.parametrize("text, message", [
    ("orgs = 5\n", "'orgs' must be a table of [orgs.NAME] tables"),
    ('[orgs.local]\nsf_alias = "x"\n', "[orgs.local]: 'local' is reserved for the local org; choose another name"),
    ('[orgs."prod eu"]\nsf_alias = "x"\n', "org name 'prod eu' may only hold letters, digits, '-' and '_'"),
    ('[orgs."prod.eu"]\nsf_alias = "x"\n', "org name 'prod.eu' may only hold letters, digits, '-' and '_'"),
    ('[orgs]\nprod = 5\n', "[orgs.prod] must be a table"),
])
def test_malformed_orgs_table_is_refused(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == f"{path}: {message}"


def test_non_utf8_config_names_the_file(tmp_path):
    path = tmp_path / "sfsync.toml"
    path.write_bytes('[orgs.prod]\nsf_alias = "bér"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == f"{path}: not valid TOML: the file is not UTF-8 text"


@pytest.mark.parametrize("value", ["abc", "66", "v66.0", "66.5", "166.0"])
def test_api_version_must_look_like_nn_0(tmp_path, monkeypatch, value):
    path = write(tmp_path, '[orgs.uat]\nsf_alias = "dealer-uat"\n')
    monkeypatch.setenv("SFSYNC_ORG_UAT_API_VERSION", value)
    with pytest.raises(ConfigError) as info:
        resolve_org("uat", path)
    assert str(info.value) == "org 'uat': api_version must look like 66.0 (two digits, '.0')"


def test_api_version_from_environment_is_used(tmp_path, monkeypatch):
    path = write(tmp_path, '[orgs.uat]\nsf_alias = "dealer-uat"\n')
    monkeypatch.setenv("SFSYNC_ORG_UAT_API_VERSION", "62.0")
    assert resolve_org("uat", path).api_version == "62.0"


@pytest.mark.parametrize("field, value", [
    ("INSTANCE_URL", "not a url"), ("INSTANCE_URL", "http://x.my.salesforce.com"), ("INSTANCE_URL", "https://"),
    ("LOGIN_URL", "login.salesforce.com"),
])
def test_urls_must_be_https(tmp_path, monkeypatch, field, value):
    monkeypatch.setenv("SFSYNC_CONFIG", str(write(tmp_path, "")))
    monkeypatch.setenv("SFSYNC_ORG_X_ACCESS_TOKEN", "00D!secret")
    monkeypatch.setenv("SFSYNC_ORG_X_INSTANCE_URL", "https://x.my.salesforce.com")
    monkeypatch.setenv(f"SFSYNC_ORG_X_{field}", value)
    with pytest.raises(ConfigError) as info:
        resolve_org("x")
    assert str(info.value) == (
        f"org 'x': {field.lower()} must be an https URL (e.g. https://mydomain.my.salesforce.com)")
    assert "secret" not in str(info.value)


def test_jwt_org_from_environment_alone_logs_in_at_login_salesforce_com(tmp_path, monkeypatch):
    monkeypatch.setenv("SFSYNC_CONFIG", str(write(tmp_path, "")))
    monkeypatch.setenv("SFSYNC_ORG_PROD_AUTH", "jwt")
    monkeypatch.setenv("SFSYNC_ORG_PROD_USERNAME", "release.bot@dealer.example")
    monkeypatch.setenv("SFSYNC_ORG_PROD_CLIENT_ID", "3MVG9")
    monkeypatch.setenv("SFSYNC_ORG_PROD_PRIVATE_KEY_FILE", "/secure/keys/release-bot.key")
    creds = resolve_org("prod")
    assert (creds.method, creds.login_url, creds.instance_url) == ("jwt", "https://login.salesforce.com", "")
    assert creds.token_url() == "https://login.salesforce.com/services/oauth2/token"


def test_password_org_without_urls_logs_in_at_login_salesforce_com(tmp_path):
    path = write(tmp_path, '[orgs.training]\nusername = "admin@dealer.example"\npassword = "pw"\n')
    creds = resolve_org("training", path)
    assert (creds.method, creds.login_url, creds.token_url()) == (
        "password", "https://login.salesforce.com", "https://login.salesforce.com/services/oauth2/token")


def test_password_org_with_instance_url_still_logs_in_there(tmp_path):
    path = write(tmp_path, '[orgs.training]\ninstance_url = "https://dealer--training.sandbox.my.salesforce.com"\n'
                           'username = "admin@dealer.example"\npassword = "pw"\n')
    creds = resolve_org("training", path)
    assert (creds.login_url, creds.token_url()) == (
        None, "https://dealer--training.sandbox.my.salesforce.com/services/oauth2/token")


def test_unknown_org_variable_is_warned_about_by_name(tmp_path, monkeypatch, caplog):
    path = write(tmp_path, '[orgs.uat]\nsf_alias = "dealer-uat"\n')
    monkeypatch.setenv("SFSYNC_ORG_UAT_FOO", "1")
    monkeypatch.setenv("SFSYNC_ORG_LOCAL_INSTANCE_URL", "https://x.my.salesforce.com")
    caplog.set_level(logging.WARNING, logger="sfsync.config")
    monkeypatch.setattr("sfsync.config._warned_env", set())
    resolve_org("uat", path)
    resolve_org("uat", path)
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring SFSYNC_ORG_LOCAL_INSTANCE_URL: 'local' is reserved for the local org",
        "ignoring SFSYNC_ORG_UAT_FOO: not SFSYNC_ORG_<NAME>_<FIELD> with a known field (INSTANCE_URL, USERNAME, "
        "PASSWORD, ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, CA_FILE, API_VERSION, AUTH, LOGIN_URL, SECURITY_TOKEN, "
        "PRIVATE_KEY_FILE, SFDX_AUTH_URL, SF_ALIAS)",
    ]


def test_local_defined_by_environment_is_not_listed_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("SFSYNC_ORG_LOCAL_INSTANCE_URL", "https://x.my.salesforce.com")
    path = write(tmp_path, '[orgs.uat]\nsf_alias = "dealer-uat"\n')
    with pytest.raises(ConfigError) as info:
        resolve_org("prod", path)
    assert str(info.value) == f"unknown org 'prod' (known: local, uat); define it under [orgs.prod] in {path}"
