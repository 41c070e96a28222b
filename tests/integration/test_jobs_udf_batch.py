"""Scalar UDFs of SQL jobs evaluated in batches (docs/stage-plan.md
"Computed columns", docs/jobs.md "Scalar UDFs in batches"): the planner
turns a call over bare input columns and literals into a computed column of
the MAP's input, and the node evaluates it with rt_udf_call_batch frame by
frame. Through the real API and real nodes, compared with sqlite3 running
the same queries with Python equivalents of the UDFs; plus what must stay
as it was: a row that a WHERE drops never fails the job, a row that is
used fails it with SCRIPT:LINE, a limit is fatal and named, and calls that
SQLite could skip (CASE, AND, OR, ...) stay per row."""
import random
import sqlite3

import pytest

from conftest import sanitized
from cordon_api import Cordond

N = 1500
NODES = (3,) if sanitized() else (1, 3)

# line numbers matter: the error tests look for "bt.lua:4:"
BT_LUA = """local M = {}
M.chk = { signature = "bigint->bigint", evaluate = function(x)
  if x ~= nil and x < 0 then
    error("negative id " .. x)
  end
  if x == nil then return nil end
  return x * 2 + 1
end }
M.tag = { signature = "string,string->string", evaluate = function(s, pre)
  if s == nil then return pre .. "<nil>" end
  return pre .. s
end }
M.absent = { signature = "string->boolean", evaluate = function(s) return s == nil end }
M.half = { signature = "double->double", evaluate = function(x)
  if x == nil then return nil end
  return x / 2
end }
M.spin = function(x)
  if x == 7 then while true do end end
  return x
end
M.big = function(x) return string.rep("b", 200000) .. tostring(x) end
M.burn = function(x)
  local t = os.clock()
  while os.clock() - t < 0.001 do end
  return x
end
return M
"""


def py_check(x):
    if x is not None and x < 0:
        raise ValueError("negative id")
    return None if x is None else x * 2 + 1


def py_tag(s, pre):
    return pre + ("<nil>" if s is None else s)


def gen_rows():
    rng = random.Random(4242)
    rows = []
    for i in range(N):
        ident = i - 40 if i % 37 else -i - 1  # negative ids spread over every chunk
        if i % 101 == 0:
            ident = None
        s = None if i % 13 == 0 else rng.choice(["ab", "cd", "ef", "Ärger", "x'y", ""])
        d = None if i % 17 == 0 else round(rng.uniform(-100, 100), 3)
        rows.append((ident, rng.choice(["red", "green", "blue"]), s, d))
    return rows


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def ok(srv, sql):
    st, body = srv.job("ub", sql, keys=srv.acme)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql[:200], body)
    return body


def failed(srv, sql, code="JobFailed"):
    st, body = srv.job("ub", sql, keys=srv.acme)
    assert st == 200 and body.get("status") == "failed", (sql[:200], body)
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


@pytest.fixture(scope="module")
def env(bin_dir, tmp_path_factory):
    srv = Cordond(bin_dir, tmp_path_factory.mktemp("udfbatch") / "data").start()
    try:
        srv.acme = srv.create_account("acme")
        srv.create_project("ub", keys=srv.acme)
        st, body = srv.put_resource("ub", "bt.lua", BT_LUA, keys=srv.acme)
        assert st in (200, 201), body
        for fn in ("chk", "tag", "absent", "half", "spin", "big", "burn"):
            ok(srv, f"CREATE FUNCTION {fn} AS 'bt.{fn}' USING 'bt.lua';")
        ok(srv, "CREATE TABLE t (id BIGINT, cat STRING, s STRING, d DOUBLE);")
        rows = gen_rows()
        for i in range(0, len(rows), 500):  # several chunks: every MAP node gets some
            ok(srv, "INSERT INTO t VALUES " + ", ".join(
                "(" + ", ".join(lit(v) for v in r) + ")" for r in rows[i:i + 500]) + ";")
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (id, cat, s, d)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        db.create_function("chk", 1, py_check, deterministic=True)
        db.create_function("tag", 2, py_tag, deterministic=True)
        db.create_function("absent", 1, lambda s: int(s is None), deterministic=True)
        db.create_function("half", 1, lambda x: None if x is None else x / 2,
                           deterministic=True)
        yield srv, db
    finally:
        srv.stop()


def norm(rows):
    out = []
    for r in rows:
        out.append(tuple(int(v) if isinstance(v, bool) else
                         round(v, 9) if isinstance(v, float) else v for v in r))
    return sorted(out, key=lambda r: [(v is None, str(type(v)), v if v is not None else 0)
                                      for v in r])


QUERIES = {
    # the UDF errors on negative ids; the WHERE drops them before they are used
    "where_drops_failing_rows": "SELECT id, chk(id) AS c FROM t WHERE id >= 0",
    "aggregate_over_kept_rows": "SELECT SUM(chk(id)) AS s, COUNT(*) AS n FROM t "
                                "WHERE id >= 0",
    "group_by_udf": "SELECT tag(cat, 'c-') AS k, COUNT(*) AS n FROM t "
                    "GROUP BY tag(cat, 'c-')",
    "same_call_twice": "SELECT id, tag(s, 'x') AS a, tag(s, 'x') AS b FROM t",
    "literal_and_null_args": "SELECT id, tag(s, 'p') AS a, tag(NULL, 'z') AS z, "
                             "chk(NULL) AS n FROM t",
    "result_types": "SELECT id, chk(id) AS b, half(d) AS h, absent(s) AS f, "
                    "tag(s, '') AS s2 FROM t WHERE id >= 0",
    "order_by_udf": "SELECT id FROM t WHERE id >= 0 ORDER BY chk(id) DESC LIMIT 7",
    "udf_under_and_stays_per_row": "SELECT id FROM t WHERE id >= 0 AND chk(id) > 900",
    "udf_under_case": "SELECT id, CASE WHEN id >= 0 THEN chk(id) END AS c FROM t",
}


@pytest.mark.parametrize("nodes", NODES)
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_matches_sqlite(env, name, nodes):
    srv, db = env
    sql = QUERIES[name]
    body = ok(srv, f"SET cordon.nodes={nodes}; {sql};")
    want = db.execute(sql).fetchall()
    if name == "order_by_udf":
        assert [tuple(r) for r in body["rows"]] == want
    else:
        assert norm(body["rows"]) == norm(want)


def explain(srv, sql):
    return [r[0] for r in ok(srv, f"EXPLAIN {sql};")["rows"]]


def test_explain_shows_one_computed_column_per_distinct_call(env):
    srv, _ = env
    lines = explain(srv, "SELECT id, tag(s, 'x') AS a, tag(s, 'x') AS b, chk(id) AS c "
                         "FROM t WHERE id >= 0")
    computed = [ln for ln in lines if ln.strip().startswith("computed ")]
    assert len(computed) == 2, lines
    assert any("in0._u0 = tag(s, 'x')" in ln for ln in computed), computed
    assert any("in0._u1 = chk(id)" in ln for ln in computed), computed
    sql = next(ln for ln in lines if ln.strip().startswith("sql:") and "in0" in ln)
    assert '"_u0"' in sql and '"_u1"' in sql and '"tag"(' not in sql, sql


def test_explain_keeps_skippable_calls_per_row(env):
    srv, _ = env
    for q in ("SELECT CASE WHEN id > 0 THEN chk(id) END FROM t",
              "SELECT id FROM t WHERE id > 0 AND chk(id) > 3",
              "SELECT id FROM t WHERE id < 0 OR chk(id) > 3",
              "SELECT coalesce(s, tag(s, 'a')) FROM t",
              "SELECT id FROM t WHERE id IN (1, chk(id))",
              "SELECT id FROM t WHERE id BETWEEN 1 AND chk(id)",
              "SELECT tag(cat, s || 'x') FROM t"):
        lines = explain(srv, q)
        assert not any(ln.strip().startswith("computed ") for ln in lines), (q, lines)
    # a call over another call: the inner one is batched, the outer stays per row
    lines = explain(srv, "SELECT chk(chk(id)) FROM t WHERE id > 0")
    computed = [ln for ln in lines if ln.strip().startswith("computed ")]
    assert len(computed) == 1 and "in0._u0 = chk(id)" in computed[0], lines
    assert any('"chk"("t"."_u0")' in ln for ln in lines), lines


@pytest.mark.parametrize("sql", [
    "SELECT id, chk(id) AS c FROM t",
    "SELECT id FROM t WHERE chk(id) > 100",
    "SELECT cat, SUM(chk(id)) FROM t GROUP BY cat",
])
def test_used_failing_row_fails_with_script_line(env, sql):
    srv, _ = env
    msg = failed(srv, f"SET cordon.nodes=2; {sql};")
    assert "bt.lua:4: negative id -" in msg, msg


def test_instruction_limit_in_a_batch_is_fatal_and_named(env):
    srv, _ = env
    # row 7 never ends; the WHERE would drop it, but a computed column is
    # evaluated for every row, and a limit is fatal (docs/jobs.md)
    msg = failed(srv, "SET cordon.nodes=2; SET cordon.udf.instructions=200000; "
                      "SELECT id, spin(id) AS x FROM t WHERE id <> 7;", "LimitExceeded")
    assert "limit exceeded: instructions" in msg, msg
    # under AND the call stays per row: row 7 is never evaluated
    body = ok(srv, "SET cordon.udf.instructions=200000; SELECT COUNT(*) FROM t "
                   "WHERE id <> 7 AND spin(id) IS NOT NULL;")
    assert body["rows"][0][0] > 0


def test_big_results_do_not_trip_memory_in_a_batch(env):
    srv, _ = env
    # 200 KB per row: a batch of 128 results alive at once is 25 MB, above a
    # 16M memory limit; rows one by one stay under it and so must the job
    body = ok(srv, "SET cordon.udf.memory=16M; SELECT SUM(length(big(id))) FROM t "
                   "WHERE id >= 0;")
    assert body["rows"][0][0] > 200000


def test_cpu_budget_bounds_a_row_not_a_whole_batch(env):
    srv, db = env
    # 1 ms of CPU per row (every row of the input: a computed column), 100 ms
    # per call: a batch of hundreds of rows passes the budget, its rows one
    # by one never do; the job succeeds
    sql = "SELECT COUNT(burn(id)) FROM t WHERE id >= 0 AND id < 300"
    body = ok(srv, f"SET cordon.nodes=2; SET cordon.udf.cpu=100ms; {sql};")
    want = db.execute(sql.replace("burn(id)", "id")).fetchone()[0]
    assert body["rows"][0][0] == want > 200
