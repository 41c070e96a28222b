"""Network links in the decision-table style (netlink_decision_table.json),
driven twice, like the authorization table:

- through sch_stmt_dispatch in one process (build/tests/test_authz_driver,
  which registers the authz and the network-link handlers as cordond does),
  on a fresh on-disk catalog per case;
- through the real HTTPS API: every statement a job (POST
  /v1/projects/{p}/jobs) signed with botocore's SigV4 by the principal it
  runs as, operators with cordond's operator credentials.

What the table pins down (docs/security-model.md "Network links"): the
operator statements are for system administrators only (403 otherwise,
audited); odps:Use on a link needs the link ALLOWed to the job's project by
an operator AND the caller's own permission in the project (owner, ACL,
policy); a dropped link or a disallowed project is a denial naming its rule
(networklink_not_found, networklink_not_allowed), for owners and operators
too; DISALLOW and DROP take the grants with them.

Link names are global (operator objects), so every case uses its own.
"""
import json
import pathlib
import subprocess

import pytest

from test_authz_decisions import _check, DRIVER

TABLE = json.loads((pathlib.Path(__file__).parent / "netlink_decision_table.json").read_text())

cordon_api = pytest.importorskip("cordon_api", reason="the HTTPS API is not in this tree")


def _driver_step(st):
    if "sql" in st:
        return {"op": "sql", "as": TABLE["principals"][st["as"]],
                "super": st["as"] in TABLE["super_admins"], "project": st["in"],
                "sql": st["sql"], "ip": "127.0.0.1"}
    if "project" in st:
        name, owner = st["project"]
        return {"op": "project", "name": name, "owner": owner}
    if "recreate_project" in st:
        name, owner = st["recreate_project"]
        return {"op": "recreate_project", "name": name, "owner": owner}
    raise AssertionError(f"unknown step {st}")


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_netlink_table_dispatch(case, tmp_path):
    assert DRIVER.exists(), f"{DRIVER} is not built (run make build)"
    steps = [s for s in TABLE["base"] + case["steps"] if s.get("driver", True)]
    proc = subprocess.run([str(DRIVER), str(tmp_path / "catalog.db")],
                          input=json.dumps({"steps": [_driver_step(s) for s in steps]}),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == len(steps)
    for st, res in zip(steps, results):
        if "sql" in st:
            _check(st, res)
        else:
            assert res["ok"], f"{st}: {res}"


CODES = {"InvalidStatement": "invalid_argument", "InvalidArgument": "invalid_argument",
         "NotFound": "not_found", "AlreadyExists": "already_exists",
         "AccessDenied": "permission_denied"}


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = cordon_api.Cordond(bin_dir, tmp_path_factory.mktemp("netlink-api") / "data").start()
    s.keys = {"root": None}
    for a in ("owner1", "owner2", "acme"):
        s.keys[a] = s.create_account(a)
    for u in ("bob", "carol", "dave"):
        st, body = s.call("POST", "/v1/accounts/acme/users", {"name": u}, keys=s.keys["acme"])
        assert st == 201, body
        st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": u}, keys=s.keys["acme"])
        assert st == 201, body
        s.keys[u] = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    yield s
    s.stop()


def _renamer(idx):
    import re

    def ren(text):
        return re.sub(r"\bp([12])\b", lambda m: f"n{idx}p{m.group(1)}", text)
    return ren


@pytest.mark.parametrize("idx,case", list(enumerate(TABLE["cases"])),
                         ids=[c["name"] for c in TABLE["cases"]])
def test_netlink_table_via_api(srv, idx, case):
    ren = _renamer(idx)
    srv.create_project(ren("p1"), keys=srv.keys["owner1"])
    srv.create_project(ren("p2"), keys=srv.keys["owner2"])
    for st in TABLE["base"] + case["steps"]:
        if "project" in st:
            continue  # made through the API above
        if "recreate_project" in st:
            name, owner = st["recreate_project"]
            keys = srv.keys[owner.split("$", 1)[1]]
            status, body = srv.call("DELETE", f"/v1/projects/{ren(name)}", keys=keys)
            assert status == 200, body
            srv.create_project(ren(name), keys=keys)
            continue
        status, body = srv.job(ren(st["in"]), ren(st["sql"]), keys=srv.keys[st["as"]])
        res = ({"ok": True, "result": body} if status == 200 else
               {"ok": False, "code": CODES.get(body.get("code"), body.get("code")),
                "message": body.get("message", "")})
        st = dict(st, sql=ren(st["sql"]))
        if "message" in st:
            st["message"] = ren(st["message"])
        _check(st, res)


def test_operator_statements_audited(srv):
    """Every decision (allow and deny) and every change is in the audit log."""
    srv.create_project("nl_audit", keys=srv.keys["owner1"])
    st, body = srv.job("nl_audit", "CREATE NETWORKLINK nl_audited ALLOW '192.0.2.9:443'",
                       keys=srv.keys["owner1"])
    assert st == 403 and "operator_only" in body["message"], body
    st, body = srv.job("nl_audit", "CREATE NETWORKLINK nl_audited ALLOW '192.0.2.9:443';"
                       " ALLOW PROJECT nl_audit TO USE NETWORKLINK nl_audited")
    assert st == 200, body
    events = srv.audit()
    denied = [e for e in events if e.get("eventName") == "Authorize" and e.get("decision") == "deny"
              and "networklinks/nl_audited" in (e.get("resource") or "")]
    assert denied and denied[-1]["principal"] == "ALIYUN$owner1", denied
    names = [e.get("eventName") for e in events
             if "networklinks/nl_audited" in (e.get("resource") or "")]
    assert "CreateNetworkLink" in names and "AllowNetworkLink" in names, names
    created = [e for e in events if e.get("eventName") == "CreateNetworkLink"
               and "nl_audited" in e.get("resource", "")]
    assert "192.0.2.9:443" in created[-1]["reason"], created


def test_job_with_unpermitted_link_refused_before_running(srv):
    """A job that sets a link it may not use is a 403 naming the rule, from
    the compile step (nothing is planned or started)."""
    srv.create_project("nl_job", keys=srv.keys["owner1"])
    st, body = srv.job("nl_job", "CREATE NETWORKLINK nl_jobl ALLOW '192.0.2.9:443'")
    assert st == 200, body
    sql = "SET odps.session.networklink=nl_jobl; SELECT 1"
    st, body = srv.job("nl_job", sql, keys=srv.keys["owner1"])
    assert st == 403, body
    assert "networklink_not_allowed" in body["message"], body
    assert "acs:odps:*:projects/nl_job/networklinks/nl_jobl" in body["message"], body
    st, body = srv.job("nl_job", "SET odps.session.networklink=nl_gone; SELECT 1",
                       keys=srv.keys["owner1"])
    assert st == 403 and "networklink_not_found" in body["message"], body
    st, body = srv.job("nl_job", "ALLOW PROJECT nl_job TO USE NETWORKLINK nl_jobl")
    assert st == 200, body
    st, body = srv.job("nl_job", sql, keys=srv.keys["owner1"])
    assert st != 403, body  # authorized: what runs it is the job runner's
