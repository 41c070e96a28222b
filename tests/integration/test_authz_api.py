"""The authorization decision table driven through the real HTTPS API:
every statement is a job, POST /v1/projects/{p}/jobs, signed with botocore's
SigV4 by the principal it runs as (accounts, RAM users and keys made through
the admin API). Tables are created directly in cordond's catalog until
CREATE TABLE exists (with build/tests/test_authz_driver, through the same
registry functions CREATE TABLE will call).

Cases that need a moved clock (expiry) or a source address other than
loopback run only in test_authz_decisions.py, which drives the same table
through sch_stmt_dispatch in one process.
"""
import json
import re
import subprocess

import pytest

from test_authz_decisions import TABLE, _check, DRIVER

cordon_api = pytest.importorskip("cordon_api", reason="the HTTPS API is not in this tree")

ACCOUNTS = ("owner1", "owner2", "owner3", "acme")
RAM_USERS = ("bob", "carol", "dave", "erin")
CODES = {"InvalidStatement": "invalid_argument", "InvalidArgument": "invalid_argument",
         "NotFound": "not_found", "NoSuchProject": "not_found",
         "AlreadyExists": "already_exists", "AccessDenied": "permission_denied"}


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = cordon_api.Cordond(bin_dir, tmp_path_factory.mktemp("authz-api") / "data").start()
    s.keys = {"root": None}
    for a in ACCOUNTS:
        s.keys[a] = s.create_account(a)
    for u in RAM_USERS:
        st, body = s.call("POST", "/v1/accounts/acme/users", {"name": u}, keys=s.keys["acme"])
        assert st == 201, body
        st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": u}, keys=s.keys["acme"])
        assert st == 201, body
        s.keys[u] = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    s.create_project("probe", keys=s.keys["owner1"])
    st, body = s.job("probe", "SHOW SecurityConfiguration", keys=s.keys["owner1"])
    if st != 200:
        s.stop()
        pytest.skip(f"cordond does not run security statements yet: {body}")
    yield s
    s.stop()


def _api_runnable(case):
    if not case.get("api", True):
        return False
    for st in case["steps"]:
        if "clock_days" in st or not st.get("ip", "127.0.0.1").startswith("127."):
            return False
        if st.get("in") == "nosuch":
            return False
    return True


def _renamer(idx):
    def ren(text):
        return re.sub(r"\bp([123])\b", lambda m: f"c{idx}p{m.group(1)}", text)
    return ren


def _catalog_op(srv, st, ren):
    if "table" in st:
        t = st["table"]
        op = {"op": "table", "project": ren(t[0]), "name": t[1], "creator": t[2],
              "columns": t[3], "view": len(t) > 4 and t[4]}
    else:
        p, ty, n = st["drop"]
        op = {"op": "drop", "project": ren(p), "type": ty, "name": n}
    proc = subprocess.run([str(DRIVER), str(srv.data_dir / "catalog.db")],
                          input=json.dumps({"steps": [op]}), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["ok"], proc.stdout


def _job(srv, st, ren):
    status, body = srv.job(ren(st["in"]), ren(st["sql"]), keys=srv.keys[st["as"]])
    if status == 200:
        return {"ok": True, "result": body}
    return {"ok": False, "code": CODES.get(body.get("code"), body.get("code")),
            "message": body.get("message", "")}


CASES = [(i, c) for i, c in enumerate(TABLE["cases"]) if _api_runnable(c)]


@pytest.mark.parametrize("idx,case", CASES, ids=[c["name"] for _, c in CASES])
def test_decision_table_via_api(srv, idx, case):
    ren = _renamer(idx)
    for name in ("p1", "p2", "p3"):
        owner = {"p1": "owner1", "p2": "owner2", "p3": "owner3"}[name]
        srv.create_project(ren(name), keys=srv.keys[owner])
    for st in TABLE["base"] + case["steps"]:
        if "project" in st:
            continue  # made through the API above
        if "table" in st or "drop" in st:
            _catalog_op(srv, st, ren)
            continue
        if "recreate_project" in st:
            name, owner = st["recreate_project"]
            keys = srv.keys[owner.split("$", 1)[1]]
            status, body = srv.call("DELETE", f"/v1/projects/{ren(name)}", keys=keys)
            assert status == 200, body
            srv.create_project(ren(name), keys=keys)
            continue
        res = _job(srv, st, ren)
        st = dict(st, sql=ren(st["sql"]))
        if "message" in st:
            st["message"] = ren(st["message"])
        _check(st, res)


def test_most_cases_run_via_api():
    assert len(CASES) >= 80


def test_cli_sql_and_audit(srv):
    """`cordon sql` runs security statements; allows and denials land in the
    audit log with the deciding rule."""
    srv.create_project("authz_cli", keys=srv.keys["owner1"])
    _catalog_op(srv, {"table": ["authz_cli", "t", "ALIYUN$owner1", [["a", -1], ["b", -1]]]},
                lambda x: x)
    r = srv.cli("sql", "ADD USER RAM$acme:bob; ADD USER RAM$acme:carol;"
                " GRANT Select ON TABLE t (a) TO USER RAM$acme:bob;",
                keys=srv.keys["owner1"], project="authz_cli")
    assert r.returncode == 0, r.stderr
    r = srv.cli("sql", "--format", "json", "EXPLAIN PERMISSION SELECT a, b FROM t;",
                keys=srv.keys["bob"], project="authz_cli")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert [(x[3], x[4]) for x in rows] == [("allow", "acl"), ("deny", "no_privilege")]
    r = srv.cli("sql", "GRANT Select ON TABLE t TO USER RAM$acme:carol;",
                keys=srv.keys["bob"], project="authz_cli")
    assert r.returncode != 0
    assert "AccessDenied" in r.stderr and "[4011]" in r.stderr, r.stderr
    events = srv.audit()
    denied = [e for e in events if e.get("eventName") == "Authorize"
              and e.get("decision") == "deny" and "odps:Grant" in (e.get("reason") or "")]
    assert denied and denied[-1]["principal"] == "RAM$acme:bob", denied
    assert "acs:odps:*:projects/authz_cli/tables/t" in denied[-1]["resource"]
    grants = [e for e in events if e.get("eventName") == "Grant"]
    assert grants and grants[-1]["principal"] == "ALIYUN$owner1", grants
