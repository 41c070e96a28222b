"""The authorization decision table (tests/integration/authz_decision_table.json).

Each case is a short script of statements run as several principals against
a real on-disk catalog through the statement dispatcher (sch_stmt_dispatch,
the same entry point POST /v1/projects/{p}/jobs uses) by the
test_authz_driver tool, and an expected allow/deny with its rule for every
access EXPLAIN PERMISSION reports, or the expected error of a statement.

The cases are data: the same table is meant to be driven through the HTTPS
API once it is in the tree (see docs/security-model.md).
"""
import json
import pathlib
import subprocess

import pytest

from conftest import BUILD

TABLE = json.loads((pathlib.Path(__file__).parent / "authz_decision_table.json").read_text())
DRIVER = BUILD / "tests" / "test_authz_driver"


def _sql_step(st):
    names = TABLE["principals"]
    return {
        "op": "sql",
        "as": names.get(st["as"], st["as"]),
        "super": st["as"] in TABLE["super_admins"],
        "project": st["in"],
        "sql": st["sql"],
        "ip": st.get("ip", "127.0.0.1"),
    }


def _driver_step(st):
    if "sql" in st:
        return _sql_step(st)
    if "project" in st:
        name, owner = st["project"]
        return {"op": "project", "name": name, "owner": owner}
    if "table" in st:
        t = st["table"]
        return {"op": "table", "project": t[0], "name": t[1], "creator": t[2],
                "columns": t[3], "view": len(t) > 4 and t[4]}
    if "drop" in st:
        p, ty, n = st["drop"]
        return {"op": "drop", "project": p, "type": ty, "name": n}
    if "recreate_project" in st:
        name, owner = st["recreate_project"]
        return {"op": "recreate_project", "name": name, "owner": owner}
    if "clock_days" in st:
        return {"op": "clock", "days": st["clock_days"]}
    raise AssertionError(f"unknown step {st}")


def _run(steps, tmp_path):
    script = {"steps": [_driver_step(s) for s in steps]}
    proc = subprocess.run([str(DRIVER), str(tmp_path / "catalog.db")],
                          input=json.dumps(script), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _check(st, res):
    where = f"{st.get('as')}@{st.get('in')}: {st.get('sql')!r}"
    exp = st.get("expect")
    if isinstance(exp, str) and exp.startswith("error:"):
        assert not res["ok"], f"{where}: expected {exp}, got {res}"
        assert res["code"] == exp[len("error:"):], f"{where}: {res}"
        if "message" in st:
            assert st["message"] in res["message"], f"{where}: {res['message']}"
        changes = [a for a in res.get("audit", []) if a.get("decision") is None]
        assert not changes, f"{where}: rolled-back changes were audited: {changes}"
        if res["code"] == "permission_denied" and "audit" in res:
            denies = [a for a in res["audit"] if a.get("decision") == "deny"]
            assert denies, f"{where}: denial not audited: {res['audit']}"
            assert denies[-1]["reason"] == res["message"]
        return
    assert res["ok"], f"{where}: {res.get('message')}"
    rows = res["result"]["rows"] if res.get("result") else []
    if isinstance(exp, list):
        got = [f"{r[3]}:{r[4]}" for r in rows]
        assert got == exp, f"{where}: decisions {got}, expected {exp}"
        if "audit" in res:
            audited = [a for a in res["audit"] if a["event"] == "Authorize"]
            assert len(audited) == len(rows), f"{where}: every decision is audited"
    if "audit_event" in st and "audit" in res:
        events = [a["event"] for a in res["audit"]]
        assert st["audit_event"] in events, f"{where}: {events}"
    if "rows" in st:
        assert len(rows) == st["rows"], f"{where}: {rows}"
    if "message" in st and not isinstance(exp, str):
        cells = [str(c) for r in rows for c in r]
        assert st["message"] in json.dumps(rows) or st["message"] in cells, f"{where}: {rows}"


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_decision_table(case, tmp_path):
    assert DRIVER.exists(), f"{DRIVER} is not built (run make build)"
    steps = TABLE["base"] + case["steps"]
    results = _run(steps, tmp_path)
    assert len(results) == len(steps)
    for st, res in zip(steps, results):
        if "sql" in st:
            _check(st, res)
        else:
            assert res["ok"], f"{st}: {res}"


def test_table_is_large_enough():
    assert len(TABLE["cases"]) >= 80
