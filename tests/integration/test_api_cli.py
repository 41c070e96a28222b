"""The cordon CLI against a real cordond: configuration resolution (flags,
environment, ~/.cordon/config and credentials with profiles), whoami, sql
with its output formats, admin commands and audit, and error reporting."""
import json
import os

import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("cli") / "data").start()
    s.acme = s.create_account("acme")
    s.create_project("cli_p", keys=s.acme)
    yield s
    s.stop()


def clean_env(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORDON_")}
    env["HOME"] = str(home)
    return env


def write_home(home, srv, endpoint=None):
    d = home / ".cordon"
    d.mkdir(parents=True, exist_ok=True)
    ak, sk = srv.admin_keys()
    (d / "config").write_text(
        f"[default]\nendpoint = {endpoint or srv.url}\nca_file = {srv.ca}\n"
        f"[profile acme]\nendpoint = {srv.url}\nca_file = {srv.ca}\nproject = cli_p\n")
    (d / "credentials").write_text(
        f"[default]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n\n"
        f"[acme]\naws_access_key_id = {srv.acme[0]}\naws_secret_access_key = {srv.acme[1]}\n")


def test_config_files_and_profiles(srv, tmp_path):
    write_home(tmp_path, srv)
    env = clean_env(tmp_path)
    r = srv.cli("whoami", env=env)
    assert r.returncode == 0, r.stderr
    assert "principal: ALIYUN$admin" in r.stdout
    r = srv.cli("whoami", "--profile", "acme", "--format", "json", env=env)
    assert json.loads(r.stdout)["principal"] == "ALIYUN$acme"
    r = srv.cli("whoami", env=dict(env, CORDON_PROFILE="acme"))
    assert "ALIYUN$acme" in r.stdout
    # Environment keys beat the files; a --profile flag beats the environment.
    e2 = dict(env, CORDON_ACCESS_KEY_ID=srv.acme[0], CORDON_SECRET_ACCESS_KEY=srv.acme[1])
    assert "ALIYUN$acme" in srv.cli("whoami", env=e2).stdout
    assert "ALIYUN$admin" in srv.cli("whoami", "--profile", "default", env=e2).stdout
    # The project comes from the profile's config.
    r = srv.cli("sql", "--profile", "acme", "WHOAMI;", env=env)
    assert r.returncode == 0 and "ALIYUN$acme" in r.stdout, r.stderr


def test_flag_beats_env_beats_file_for_endpoint(srv, tmp_path):
    write_home(tmp_path, srv, endpoint="https://127.0.0.1:1")
    env = clean_env(tmp_path)
    assert srv.cli("whoami", env=env).returncode != 0
    r = srv.cli("whoami", env=dict(env, CORDON_ENDPOINT=srv.url))
    assert r.returncode == 0, r.stderr
    r = srv.cli("whoami", "--endpoint", srv.url,
                env=dict(env, CORDON_ENDPOINT="https://127.0.0.1:1"))
    assert r.returncode == 0, r.stderr


def test_missing_configuration(srv, tmp_path):
    env = clean_env(tmp_path)
    r = srv.cli("whoami", env=env)
    assert r.returncode == 2 and "no endpoint" in r.stderr
    r = srv.cli("whoami", "--endpoint", srv.url, env=env)
    assert r.returncode == 2 and "no credentials" in r.stderr
    r = srv.cli("whoami", "--endpoint", "http://127.0.0.1:1", env=env)
    assert r.returncode == 2 and "https" in r.stderr


def test_certificate_is_verified(srv, tmp_path):
    env = dict(srv.cli_env(), HOME=str(tmp_path))
    env.pop("CORDON_CA_FILE")
    r = srv.cli("whoami", env=env)  # system store does not trust it
    assert r.returncode != 0 and "TLS" in r.stderr
    if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
        r = srv.cli("whoami", "--ca-file", "/etc/ssl/certs/ca-certificates.crt", env=env)
        assert r.returncode != 0 and "TLS" in r.stderr
    # The certificate names localhost too.
    r = srv.cli("whoami", "--endpoint", srv.url.replace("127.0.0.1", "localhost"))
    assert r.returncode == 0, r.stderr


def test_sql_formats_and_file(srv, tmp_path):
    r = srv.cli("sql", "WHOAMI;", keys=srv.acme, project="cli_p")
    lines = r.stdout.splitlines()
    assert lines[0].split(" | ")[0].strip() == "principal"
    assert set(lines[1]) <= {"-", "+"}
    assert "ALIYUN$acme" in lines[2]
    r = srv.cli("sql", "--format", "json", "WHOAMI;", keys=srv.acme, project="cli_p")
    assert json.loads(r.stdout) == {"columns": ["principal", "account", "type"],
                                    "rows": [["ALIYUN$acme", "acme", "account"]]}
    r = srv.cli("sql", "--format", "csv", "WHOAMI;", keys=srv.acme, project="cli_p")
    assert r.stdout == "principal,account,type\nALIYUN$acme,acme,account\n"
    f = tmp_path / "q.sql"
    f.write_text("SETPROJECT odps.security.ip.whitelist=127.0.0.1;\n")
    r = srv.cli("sql", "-f", str(f), keys=srv.acme, project="cli_p")
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr
    srv.cli("sql", "SETPROJECT odps.security.ip.whitelist=;", keys=srv.acme, project="cli_p")


def test_errors_print_code_and_message(srv):
    r = srv.cli("sql", "SELECT nonsense;", keys=srv.acme, project="cli_p")
    assert r.returncode == 1
    assert "InvalidStatement" in r.stderr and "request" in r.stderr
    assert "1:8: column 'nonsense' does not exist" in r.stderr
    r = srv.cli("whoami", keys=(srv.acme[0], "q" * 40))
    assert r.returncode == 3 and "SignatureDoesNotMatch" in r.stderr
    r = srv.cli("sql", "WHOAMI;", keys=srv.acme, project="nope")
    assert "NoSuchProject" in r.stderr
    r = srv.cli("sql", keys=srv.acme, project="cli_p")
    assert r.returncode == 2


def test_admin_commands(srv):
    r = srv.cli("admin", "account", "create", "initech")
    assert r.returncode == 0, r.stderr
    k = json.loads(r.stdout)["accessKey"]
    ini = (k["accessKeyId"], k["secretAccessKey"])
    assert "initech" in srv.cli("admin", "account", "list").stdout
    assert srv.cli("admin", "user", "create", "peter", keys=ini).returncode == 0
    assert "peter" in srv.cli("admin", "user", "list", keys=ini).stdout
    r = srv.cli("admin", "key", "create", "--user", "peter", keys=ini)
    pk = json.loads(r.stdout)["accessKey"]["accessKeyId"]
    assert srv.cli("admin", "key", "disable", pk, keys=ini).returncode == 0
    assert '"disabled"' in srv.cli("admin", "key", "list", "--user", "peter", keys=ini).stdout
    assert srv.cli("admin", "key", "enable", pk, keys=ini).returncode == 0
    r = srv.cli("admin", "key", "rotate", pk, keys=ini)
    assert r.returncode == 0 and json.loads(r.stdout)["disabled"] == pk
    assert srv.cli("admin", "key", "delete", pk, keys=ini).returncode == 0
    assert srv.cli("admin", "role", "create", "auditor", keys=ini).returncode == 0
    assert "auditor" in srv.cli("admin", "role", "list", "--account", "initech").stdout
    assert srv.cli("admin", "project", "create", "tps", keys=ini).returncode == 0
    r = srv.cli("admin", "project", "describe", "tps", keys=ini)
    assert json.loads(r.stdout)["owner"] == "ALIYUN$initech"
    assert srv.cli("admin", "project", "set-whitelist", "tps", "127.0.0.1").returncode == 0
    r = srv.cli("admin", "project", "set-whitelist", "tps", "", keys=ini)
    assert r.returncode == 3 and "AccessDenied" in r.stderr
    assert "tps" in srv.cli("admin", "project", "list", keys=ini).stdout
    assert srv.cli("admin", "project", "delete", "tps", keys=ini).returncode == 0
    r = srv.cli("admin", "account", "create", "x", keys=ini)
    assert r.returncode == 3 and "AccessDenied" in r.stderr
    assert srv.cli("admin", "account", "delete", "initech").returncode == 0
    assert srv.cli("admin", "bogus", "verb").returncode == 2


def test_audit_list(srv):
    r = srv.cli("audit", "list", "--event", "CreateProject")
    events = [json.loads(l) for l in r.stdout.splitlines()]
    assert events and all(e["eventName"] == "CreateProject" for e in events)
    r = srv.cli("audit", "list", "--project", "cli_p", keys=srv.acme)
    assert r.returncode == 0 and all(json.loads(l)["project"] == "cli_p"
                                     for l in r.stdout.splitlines())
