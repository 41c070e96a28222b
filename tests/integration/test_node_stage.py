"""cordon-node stage run directly, with real fds: SQL over input streams,
built-ins, Lua UDFs of every kind, partial/final aggregation, TRANSFORM,
and hostile plans and streams (docs/stage-plan.md, docs/node.md)."""
import math
import random
import sqlite3
import struct

import pytest

import rowfmt
from stage_util import STATS_LUA, run_stage, stage_plan

COLS = [("id", "BIGINT"), ("email", "STRING"), ("country", "STRING"), ("score", "DOUBLE"),
        ("active", "BOOLEAN"), ("note", "STRING")]
COUNTRIES = ["de", "fr", "cn", "us", "br", "jp"]


def make_rows(n, seed=7):
    rnd = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        note = None if i % 7 == 0 else rnd.choice(["a b c", "tab\there", "new\nline", "x\\y", "é ü"])
        rows.append((i, f"user{i}@example{i % 5}.com", rnd.choice(COUNTRIES),
                     round(rnd.uniform(0.5, 100.0), 3) if i % 11 else None, i % 3 == 0, note))
    return rows


ROWS = make_rows(3000)
F_MASK = {"name": "mask_email", "kind": "scalar", "script": "stats.lua", "entry": "mask_email"}
F_GEO = {"name": "geomean", "kind": "aggregate", "script": "stats.lua", "entry": "geomean"}
F_WORDS = {"name": "words", "kind": "table", "script": "stats.lua", "entry": "words",
           "columns": ["word"]}
F_PAIRS = {"name": "pairs2", "kind": "table", "script": "stats.lua", "entry": "pairs2",
           "columns": ["i", "sq"]}


def reference(sql, rows=ROWS):
    """The same SQL run by Python's sqlite3 on the same rows (the oracle)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE in0(id INTEGER, email TEXT, country TEXT, score REAL, "
               "active INTEGER, note TEXT)")
    db.executemany("INSERT INTO in0 VALUES (?,?,?,?,?,?)",
                   [(a, b, c, d, int(e), f) for a, b, c, d, e, f in rows])

    def mask(s):
        if s is None:
            return None
        user, _, host = s.partition("@")
        return user[:1] + "*" * (len(user) - 1) + "@" + host

    class Geo:
        def __init__(self):
            self.n, self.s = 0, 0.0

        def step(self, x):
            if x is not None and x > 0:
                self.n += 1
                self.s += math.log(x)

        def finalize(self):
            return math.exp(self.s / self.n) if self.n else None

    db.create_function("mask_email", 1, mask)
    db.create_aggregate("geomean", 1, Geo)
    return db.execute(sql).fetchall()


def run_sql(bin_dir, sql, out_cols, functions=(), rows=ROWS, **kw):
    plan = stage_plan(sql, [("in0", COLS, {"fd": None})], out_cols, functions=functions, **kw)
    return run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, rows, 500)},
                     scripts={"stats.lua": STATS_LUA} if functions else None)


def ok(r):
    assert r.rc == 0, r.stderr
    assert r.ended, "no end frame"
    return r.rows


def close_rows(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            if isinstance(u, float) or isinstance(v, float):
                assert u == pytest.approx(v, rel=1e-9), (x, y)
            else:
                assert u == v, (x, y)


QUERIES = [
    ("SELECT id, email FROM in0 WHERE id % 3 = 1", [("id", "BIGINT"), ("email", "STRING")]),
    ("SELECT country, count(*), sum(score), min(score), max(score) FROM in0 GROUP BY country "
     "HAVING count(*) > 10 ORDER BY country",
     [("c", "STRING"), ("n", "BIGINT"), ("s", "DOUBLE"), ("mi", "DOUBLE"), ("ma", "DOUBLE")]),
    ("SELECT upper(country), length(note), substr(email, 1, 5), coalesce(score, -1.0) FROM in0 "
     "WHERE note LIKE '%a%' OR note IS NULL ORDER BY id",
     [("u", "STRING"), ("l", "BIGINT"), ("s", "STRING"), ("c", "DOUBLE")]),
    ("SELECT DISTINCT country FROM in0 ORDER BY 1", [("c", "STRING")]),
    ("SELECT id, CASE WHEN score > 50 THEN 'hi' WHEN score IS NULL THEN NULL ELSE 'lo' END, "
     "CAST(score AS INTEGER), active FROM in0 WHERE country IN ('de', 'jp') ORDER BY id LIMIT 100",
     [("id", "BIGINT"), ("c", "STRING"), ("i", "BIGINT"), ("a", "BOOLEAN")]),
    ("SELECT count(*), count(score), avg(score), total(score), group_concat(DISTINCT country) "
     "FROM (SELECT * FROM in0 ORDER BY country)",
     [("n", "BIGINT"), ("ns", "BIGINT"), ("a", "DOUBLE"), ("t", "DOUBLE"), ("g", "STRING")]),
    ("SELECT a.id, b.id FROM in0 a JOIN in0 b ON a.id = b.id * 2 WHERE b.id < 50 ORDER BY 1",
     [("a", "BIGINT"), ("b", "BIGINT")]),
    # statements that scan their input more than once (vtab_stream.c must keep frames)
    ("SELECT id FROM in0 WHERE id < 5 UNION ALL SELECT id FROM in0 WHERE id > 2995",
     [("id", "BIGINT")]),
    ("SELECT id, (SELECT count(*) FROM in0 x WHERE x.country = in0.country AND x.id < in0.id) "
     "FROM in0 WHERE id % 100 = 0 ORDER BY id", [("id", "BIGINT"), ("n", "BIGINT")]),
    ("SELECT id FROM in0 WHERE country IN (SELECT country FROM in0 WHERE id = 17) AND id < 200 "
     "ORDER BY id", [("id", "BIGINT")]),
    ("SELECT count(*) FROM in0 a WHERE EXISTS (SELECT 1 FROM in0 b WHERE b.id = a.id + 1000)",
     [("n", "BIGINT")]),
    ("SELECT country, n FROM (SELECT country, count(*) AS n FROM in0 GROUP BY country) "
     "WHERE n > (SELECT count(*) / 10 FROM in0) ORDER BY country",
     [("c", "STRING"), ("n", "BIGINT")]),
]


@pytest.mark.parametrize("sql,out", QUERIES)
def test_builtins_match_sqlite(bin_dir, sql, out):
    rows = ok(run_sql(bin_dir, sql, out))
    want = reference(sql)
    if out[-1][1] == "BOOLEAN":
        want = [tuple(w[:-1]) + (bool(w[-1]),) for w in want]
    close_rows(rows, want)
    assert len(rows) > 0


def test_two_inputs_join(bin_dir):
    """Two fd inputs; the inner side of the join is scanned once per outer row."""
    cols1 = [("country", "STRING"), ("name", "STRING")]
    rows1 = [(c, c.upper() + "-land") for c in COUNTRIES[:4]] + [(None, "nowhere")]
    sql = ("SELECT a.id, b.name FROM in0 a LEFT JOIN in1 b ON a.country = b.country "
           "WHERE a.id % 50 = 0 ORDER BY a.id")
    plan = stage_plan(sql, [("in0", COLS, {"fd": None}), ("in1", cols1, {"fd": None})],
                      [("id", "BIGINT"), ("name", "STRING")])
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS, 100),
                                         "in1": rowfmt.encode_stream(cols1, rows1, 2)})
    names = dict(rows1[:4])
    assert ok(r) == [(row[0], names.get(row[2])) for row in ROWS if row[0] % 50 == 0]
    assert r.summary["rows_in"] == len(ROWS) + len(rows1)


# the inner side of an equality join is looked up (runtime/vtab_index.c),
# never with fewer rows than SQLite's own `=` matches: keys of two numeric
# types, NULLs, text against numbers (affinity), a collation bytes cannot
# serve, duplicates; each against sqlite3 over real tables of the same types
K_COLS = [("k", "BIGINT"), ("d", "DOUBLE"), ("s", "STRING"), ("b", "BOOLEAN"), ("v", "STRING")]
K_ROWS = [(i % 7 if i % 9 else None, (i % 7) / 1.0 if i % 4 else (i % 7) + 0.5,
           ["a", "A", "b", "1", "2", None][i % 6], i % 2 == 0, f"v{i}") for i in range(120)]


@pytest.mark.parametrize("on", [
    "a.k = b.k", "a.k = b.d", "a.d = b.k", "a.s = b.s", "a.s = b.s COLLATE NOCASE",
    "a.s = b.k", "a.k = b.s", "a.b = b.b", "a.k = b.k AND a.s = b.s", "a.k = b.k + 0",
])
@pytest.mark.parametrize("join", ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
def test_equality_lookups_match_sqlite(bin_dir, on, join):
    sql = f"SELECT a.v, b.v FROM in0 a {join} in1 b ON {on}"
    plan = stage_plan(sql, [("in0", K_COLS, {"fd": None}), ("in1", K_COLS, {"fd": None})],
                      [("x", "STRING"), ("y", "STRING")])
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(K_COLS, K_ROWS, 17),
                                         "in1": rowfmt.encode_stream(K_COLS, K_ROWS[::-1], 13)})
    db = sqlite3.connect(":memory:")
    for t, rows in (("in0", K_ROWS), ("in1", K_ROWS[::-1])):
        db.execute(f"CREATE TABLE {t}(k INTEGER, d REAL, s TEXT, b INTEGER, v TEXT)")
        db.executemany(f"INSERT INTO {t} VALUES (?,?,?,?,?)",
                       [(k, d, s_, int(b_), v) for k, d, s_, b_, v in rows])
    want = db.execute(sql).fetchall()
    assert len(want) > 0
    assert sorted(ok(r), key=repr) == sorted(want, key=repr)


# GROUP BY and DISTINCT read their input in group order (runtime/vtab_group.c)
# instead of sorting it; groups must be exactly SQLite's: BIGINTs that one
# double cannot tell apart (2^53, 2^53 + 1), -0.0 and 0.0, NULLs, '' against
# NULL, case, multi-column keys; a GROUP BY with the same ORDER BY must stay
# sorted. Each against sqlite3 over a real table of the same types.
G_COLS = [("k", "BIGINT"), ("d", "DOUBLE"), ("s", "STRING"), ("b", "BOOLEAN"), ("x", "DOUBLE")]
_BIG = 2 ** 53
G_ROWS = [([_BIG, _BIG + 1, -3, 0, None, _BIG][i % 6],
           [0.0, -0.0, 1.5, None, 2.0 ** 60, 1.5][i % 6 if i % 5 else (i + 1) % 6],
           ["", "a", "A", None, "a\x00b", "ab"][i % 6 if i % 4 else (i + 2) % 6],
           i % 3 == 0, float(i)) for i in range(600)]


@pytest.mark.parametrize("sql", [
    "SELECT k, count(*), sum(x), min(x), max(x) FROM in0 GROUP BY k",
    "SELECT d, count(*), sum(x) FROM in0 GROUP BY d",
    "SELECT s, count(*), avg(x) FROM in0 GROUP BY s",
    "SELECT b, s, k, count(*) FROM in0 GROUP BY b, s, k",
    "SELECT k, d, count(*) FROM in0 WHERE x > 100 GROUP BY k, d HAVING count(*) > 3",
    "SELECT DISTINCT s, b FROM in0",
    "SELECT count(DISTINCT k), count(DISTINCT s) FROM in0",
    "SELECT k, count(*) FROM in0 GROUP BY k ORDER BY k",
    "SELECT s, count(*) FROM in0 GROUP BY s ORDER BY s DESC",
])
def test_grouped_scans_match_sqlite(bin_dir, sql):
    out = [(f"c{i}", "STRING") for i in range(6)]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE in0(k INTEGER, d REAL, s TEXT, b INTEGER, x REAL)")
    db.executemany("INSERT INTO in0 VALUES (?,?,?,?,?)",
                   [(k, d, s_, int(b_), x) for k, d, s_, b_, x in G_ROWS])
    want = db.execute(sql).fetchall()
    types = {int: "BIGINT", float: "DOUBLE", str: "STRING"}
    out = [(f"c{i}", next((types[type(r[i])] for r in want if r[i] is not None), "STRING"))
           for i in range(len(want[0]))]
    plan = stage_plan(sql, [("in0", G_COLS, {"fd": None})], out)
    got = ok(run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(G_COLS, G_ROWS, 37)}))
    assert len(want) >= 1
    if "ORDER BY" in sql:
        assert [r[0] for r in got] == [r[0] for r in want]
    key = lambda r: repr([(v is None, v) for v in r])  # noqa: E731
    close_rows(sorted(got, key=key), sorted(want, key=key))


def test_grouped_scan_of_an_empty_input(bin_dir):
    for sql, out in (("SELECT k, count(*) FROM in0 GROUP BY k", [("k", "BIGINT"), ("n", "BIGINT")]),
                     ("SELECT DISTINCT s FROM in0", [("s", "STRING")])):
        plan = stage_plan(sql, [("in0", G_COLS, {"fd": None})], out)
        empty = {"in0": rowfmt.encode_stream(G_COLS, [], 37)}
        assert ok(run_stage(bin_dir, plan, inputs=empty)) == []


def test_summary_counts(bin_dir):
    r = run_sql(bin_dir, "SELECT id FROM in0 WHERE id <= 10", [("id", "BIGINT")])
    assert ok(r) == [(i,) for i in range(1, 11)]
    assert r.summary["rows_in"] == len(ROWS)
    assert r.summary["rows_out"] == 10
    assert r.summary["bytes_out"] > 0 and r.summary["udf_calls"] == 0


def test_crypto_functions_registered(bin_dir):
    sql = ("SELECT id, SYM_DECRYPT(SYM_ENCRYPT(email, x'" + "11" * 32 + "'), x'" + "11" * 32 +
           "') FROM in0 WHERE id <= 5")
    rows = ok(run_sql(bin_dir, sql, [("id", "BIGINT"), ("e", "BINARY")]))
    assert rows == [(i, f"user{i}@example{i % 5}.com".encode()) for i in range(1, 6)]


def test_scalar_udf(bin_dir):
    sql = "SELECT id, mask_email(email) FROM in0 WHERE id % 10 = 0 ORDER BY id"
    r = run_sql(bin_dir, sql, [("id", "BIGINT"), ("m", "STRING")], functions=[F_MASK])
    assert ok(r) == reference(sql)
    assert r.summary["udf_calls"] == len(r.rows)


def test_aggregate_udf_whole(bin_dir):
    sql = "SELECT country, geomean(score) FROM in0 GROUP BY country ORDER BY country"
    rows = ok(run_sql(bin_dir, sql, [("c", "STRING"), ("g", "DOUBLE")], functions=[F_GEO]))
    close_rows(rows, reference(sql))


def test_aggregate_udf_no_rows(bin_dir):
    rows = ok(run_sql(bin_dir, "SELECT geomean(score) FROM in0 WHERE id < 0", [("g", "DOUBLE")],
                      functions=[F_GEO]))
    assert rows == [(None,)]


def test_table_udf_lateral(bin_dir):
    sql = ("SELECT t.id, w.word FROM in0 t, words(t.note) w WHERE t.id <= 40 "
           "ORDER BY t.id, w.rowid")
    rows = ok(run_sql(bin_dir, sql, [("id", "BIGINT"), ("w", "STRING")], functions=[F_WORDS]))
    want = [(i, w) for i, _, _, _, _, note in ROWS[:40] for w in (note or "").split()]
    assert rows == want


def test_table_udf_two_columns(bin_dir):
    sql = "SELECT i, sq FROM pairs2(4)"
    rows = ok(run_sql(bin_dir, sql, [("i", "BIGINT"), ("sq", "BIGINT")], functions=[F_PAIRS]))
    assert rows == [(1, 1), (2, 4), (3, 9), (4, 16)]


def test_partial_on_two_maps_final_on_one_reduce(bin_dir):
    whole_sql = "SELECT country, geomean(score), count(*) FROM in0 GROUP BY country ORDER BY 1"
    out = [("country", "STRING"), ("g", "DOUBLE"), ("n", "BIGINT")]
    whole = ok(run_sql(bin_dir, whole_sql, out, functions=[F_GEO]))
    part_cols = [("country", "STRING"), ("p", "BINARY"), ("n", "BIGINT")]
    part_sql = "SELECT country, geomean__partial(score), count(*) FROM in0 GROUP BY country"
    halves = [ROWS[: len(ROWS) // 3], ROWS[len(ROWS) // 3:]]
    partials = []
    for i, half in enumerate(halves):
        r = run_sql(bin_dir, part_sql, part_cols, functions=[F_GEO], rows=half,
                    node_index=i, node_count=2)
        partials += ok(r)
    assert all(isinstance(p[1], bytes) for p in partials)
    plan = stage_plan("SELECT country, geomean__final(p), sum(n) FROM up GROUP BY country "
                      "ORDER BY 1", [("up", part_cols, {"fd": None})], out, functions=[F_GEO],
                      stage="reduce", stage_index=1)
    r = run_stage(bin_dir, plan, inputs={"up": rowfmt.encode_stream(part_cols, partials)},
                  scripts={"stats.lua": STATS_LUA})
    close_rows(ok(r), whole)


def test_udf_resource(bin_dir):
    f = {"name": "greet", "kind": "scalar", "script": "stats.lua", "entry": "greet"}
    plan = stage_plan("SELECT greet(country) FROM in0 WHERE id = 1", [("in0", COLS, {"fd": None})],
                      [("g", "STRING")], functions=[f])
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS[:5])},
                  scripts={"stats.lua": STATS_LUA}, resources={"greeting.txt": "hello "})
    assert ok(r) == [("hello " + ROWS[0][2],)]


UPPER_LUA = r"""
local unmap = { t = "\t", n = "\n", r = "\r", ["\\"] = "\\" }
local map = { ["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n", ["\r"] = "\\r" }
for line in io.lines() do
  local id, note = line:match("^([^\t]*)\t(.*)$")
  if note ~= "\\N" then
    note = note:gsub("\\(.)", unmap):upper():gsub("[\\\t\n\r]", map)
  end
  io.write(id * 2, "\t", note, "\n")
end
"""


def test_transform_lua_script(bin_dir):
    plan = stage_plan("SELECT id, note FROM in0 WHERE id <= 300 ORDER BY id",
                      [("in0", COLS, {"fd": None})], [("id", "BIGINT"), ("n", "STRING")],
                      transform={"argv": ["/usr/bin/lua5.4", "upper.lua"],
                                 "columns": [{"name": "id", "type": "BIGINT"},
                                             {"name": "n", "type": "STRING"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                  scripts={"upper.lua": UPPER_LUA})
    ascii_upper = lambda s: "".join(c.upper() if c.isascii() else c for c in s)
    want = [(row[0] * 2, None if row[5] is None else ascii_upper(row[5])) for row in ROWS[:300]]
    assert ok(r) == want


def test_transform_cat_round_trip(bin_dir):
    out = [("id", "BIGINT"), ("note", "STRING"), ("score", "DOUBLE"), ("active", "BOOLEAN")]
    plan = stage_plan("SELECT id, note, score, active FROM in0 ORDER BY id",
                      [("in0", COLS, {"fd": None})], out,
                      transform={"argv": ["/bin/cat"],
                                 "columns": [{"name": n, "type": t} for n, t in out]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)})
    want = [(a, f, d, e) for a, b, c, d, e, f in ROWS]
    assert ok(r) == want
    assert r.summary["rows_out"] == len(ROWS)


AMPLIFY_LUA = r"""
for line in io.lines() do
  for i = 1, 200 do io.write(line, "\t", i, "\n") end
end
"""


def test_transform_output_larger_than_pipes_no_deadlock(bin_dir):
    """200 output lines per input line: the node must read while it writes."""
    out = [("id", "BIGINT"), ("email", "STRING"), ("k", "BIGINT")]
    plan = stage_plan("SELECT id, email FROM in0 WHERE id <= 500 ORDER BY id",
                      [("in0", COLS, {"fd": None})], out,
                      transform={"argv": ["/usr/bin/lua5.4", "amp.lua"],
                                 "columns": [{"name": n, "type": t} for n, t in out]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                  scripts={"amp.lua": AMPLIFY_LUA})
    rows = ok(r)
    assert len(rows) == 500 * 200
    assert rows[0] == (1, ROWS[0][1], 1) and rows[-1] == (500, ROWS[499][1], 200)


def test_transform_that_stops_reading_early(bin_dir):
    """head exits after 5 lines: the rest of the input is not an error."""
    out = [("id", "BIGINT")]
    plan = stage_plan("SELECT id FROM in0", [("in0", COLS, {"fd": None})], out,
                      transform={"argv": ["/usr/bin/head", "-n", "5"],
                                 "columns": [{"name": "id", "type": "BIGINT"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS * 30)})
    assert ok(r) == [(i,) for i in range(1, 6)]


def transform_lines(bin_dir, argv, resources=None):
    plan = stage_plan("SELECT id FROM in0 WHERE id = 1", [("in0", COLS, {"fd": None})],
                      [("x", "STRING")],
                      transform={"argv": argv, "columns": [{"name": "x", "type": "STRING"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                  resources=resources)
    return [x for (x,) in ok(r)]


def test_transform_sees_resources_as_files(bin_dir):
    assert transform_lines(bin_dir, ["/bin/cat", "stop.txt", "-"],
                           {"stop.txt": "the\nand\n"}) == ["the", "and", "1"]


def test_transform_inherits_no_other_fds(bin_dir):
    """Input, sink, script and plan fds of the node never reach the command."""
    fds = transform_lines(bin_dir, ["/bin/sh", "-c", "ls /proc/$$/fd"], {"r.txt": "x"})
    assert sorted(int(f) for f in fds) == [0, 1, 2]


def test_transform_environment_is_fixed(bin_dir):
    assert transform_lines(bin_dir, ["/usr/bin/env"]) == [
        "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/nonexistent"]


def test_transform_failing_command(bin_dir):
    out = [("id", "BIGINT")]
    plan = stage_plan("SELECT id FROM in0", [("in0", COLS, {"fd": None})], out,
                      transform={"argv": ["/bin/false"], "columns": [{"name": "id", "type": "BIGINT"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)})
    assert r.rc == 1 and "exited with status 1" in r.stderr
    assert not r.ended


def test_transform_bad_output(bin_dir):
    plan = stage_plan("SELECT email FROM in0", [("in0", COLS, {"fd": None})], [("id", "BIGINT")],
                      transform={"argv": ["/bin/cat"], "columns": [{"name": "id", "type": "BIGINT"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)})
    assert r.rc == 1 and "transform output line 1" in r.stderr
    assert not r.ended


def test_transform_no_shell(bin_dir):
    """argv runs directly: shell syntax is just an argument."""
    plan = stage_plan("SELECT id FROM in0 WHERE id = 1", [("in0", COLS, {"fd": None})],
                      [("x", "STRING")],
                      transform={"argv": ["/bin/echo", "$(id); echo pwned"],
                                 "columns": [{"name": "x", "type": "STRING"}]})
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)})
    assert ok(r) == [("$(id); echo pwned",)]


# ---- hostile inputs ------------------------------------------------------------------------


def test_udf_error_names_script_line(bin_dir):
    f = {"name": "boom", "kind": "scalar", "script": "stats.lua", "entry": "boom"}
    r = run_sql(bin_dir, "SELECT boom(id) FROM in0", [("b", "BIGINT")], functions=[f])
    assert r.rc == 1
    line = STATS_LUA.splitlines().index('  if x == 13 then error("unlucky " .. x) end') + 1
    assert f"cordon-node: stats.lua:{line}: unlucky 13" in r.stderr
    assert not r.ended
    assert r.summary is not None


def test_udf_instruction_limit(bin_dir):
    f = {"name": "spin", "kind": "scalar", "script": "stats.lua", "entry": "spin"}
    r = run_sql(bin_dir, "SELECT spin(id) FROM in0", [("b", "BIGINT")], functions=[f],
                limits={"udf_instructions": 100000})
    assert r.rc == 3, r.stderr
    assert "cordon-node: limit exceeded: instructions" in r.stderr
    assert not r.ended


def test_udf_cpu_limit(bin_dir):
    f = {"name": "spin", "kind": "scalar", "script": "stats.lua", "entry": "spin"}
    r = run_sql(bin_dir, "SELECT spin(id) FROM in0", [("b", "BIGINT")], functions=[f],
                limits={"udf_instructions": 1 << 45, "udf_cpu_ms": 50})
    assert r.rc == 3, r.stderr
    assert "limit exceeded: cpu" in r.stderr
    assert not r.ended


def test_cpu_budget_is_per_udf_call_not_per_stage(bin_dir):
    """Heavy SQL work between UDF calls never counts against the UDF budget."""
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
           "SELECT mask_email('ab@c'), (SELECT sum(x) FROM c)")
    r = run_sql(bin_dir, sql, [("m", "STRING"), ("s", "BIGINT")], functions=[F_MASK],
                limits={"udf_cpu_ms": 1})
    assert ok(r) == [("a*@c", 3000000 * 3000001 // 2)]


def test_output_limit(bin_dir):
    r = run_sql(bin_dir, "SELECT email FROM in0", [("e", "STRING")],
                limits={"output_bytes": 1000})
    assert r.rc == 3 and "limit exceeded: output" in r.stderr


def test_truncated_stream_fails(bin_dir):
    """No end frame: a failure, never a short result."""
    data = rowfmt.encode_stream(COLS, ROWS, 500, end=False)
    plan = stage_plan("SELECT count(*) FROM in0", [("in0", COLS, {"fd": None})], [("n", "BIGINT")])
    r = run_stage(bin_dir, plan, inputs={"in0": data})
    assert r.rc == 1 and "without its end frame" in r.stderr
    assert r.rows == [] and not r.ended


def test_stream_cut_inside_frame(bin_dir):
    data = rowfmt.encode_stream(COLS, ROWS, 500)
    plan = stage_plan("SELECT count(*) FROM in0", [("in0", COLS, {"fd": None})], [("n", "BIGINT")])
    r = run_stage(bin_dir, plan, inputs={"in0": data[: len(data) // 2]})
    assert r.rc == 1 and "truncated" in r.stderr
    assert not r.ended


def test_oversized_frame(bin_dir):
    data = struct.pack("<I", (16 << 20) + 1) + b"x" * 100
    plan = stage_plan("SELECT count(*) FROM in0", [("in0", COLS, {"fd": None})], [("n", "BIGINT")])
    r = run_stage(bin_dir, plan, inputs={"in0": data})
    assert r.rc == 1 and "frame of 16777217 bytes" in r.stderr


@pytest.mark.parametrize("mangle", ["magic", "bool", "trailing", "utf8", "schema", "short"])
def test_malformed_batch(bin_dir, mangle):
    batch = bytearray(rowfmt.encode_batch(COLS, ROWS[:3]))
    if mangle == "magic":
        batch[0:4] = b"XRB1"
    elif mangle == "bool":
        batch = bytearray(rowfmt.encode_batch([("b", "BOOLEAN")] + COLS[1:], [(True,) + r[1:] for r in ROWS[:1]]))
    elif mangle == "trailing":
        batch += b"\0"
    elif mangle == "utf8":
        i = batch.index(b"user1@")
        batch[i] = 0xff
    elif mangle == "schema":
        batch = bytearray(rowfmt.encode_batch([("id", "DOUBLE")] + COLS[1:], [(1.0,) + ROWS[0][1:]]))
    elif mangle == "short":
        batch = batch[:-3]
    data = rowfmt.frame(bytes(batch)) + rowfmt.END
    plan = stage_plan("SELECT count(*) FROM in0", [("in0", COLS, {"fd": None})], [("n", "BIGINT")])
    r = run_stage(bin_dir, plan, inputs={"in0": data})
    assert r.rc == 1, r.stderr
    assert "input in0" in r.stderr
    assert not r.ended


def test_wrong_output_type(bin_dir):
    r = run_sql(bin_dir, "SELECT email FROM in0", [("e", "BIGINT")])
    assert r.rc == 1 and "is not BIGINT" in r.stderr


def test_sql_error(bin_dir):
    r = run_sql(bin_dir, "SELECT nosuch FROM in0", [("e", "BIGINT")])
    assert r.rc == 1 and "no such column" in r.stderr


@pytest.mark.parametrize("sql", ["ATTACH '/tmp/x.db' AS x", "SELECT 1; SELECT 2",
                                 "PRAGMA table_info(in0)", "CREATE TABLE t(x)",
                                 "SELECT load_extension('/tmp/x.so')"])
def test_sql_cannot_escape(bin_dir, sql):
    r = run_sql(bin_dir, sql, [("e", "BIGINT")])
    assert r.rc == 1, r.stderr


def base_plan():
    return stage_plan("SELECT id FROM in0", [("in0", COLS, {"fd": 3})], [("id", "BIGINT")])


def bad_plans():
    import copy
    cases = []

    def case(name, f):
        p = copy.deepcopy(base_plan())
        p["output"]["sink"] = {"fd": 4}
        f(p)
        cases.append((name, p))

    case("unknown_top", lambda p: p.update(extra=1))
    case("unknown_input", lambda p: p["inputs"][0].update(x=1))
    case("bad_version", lambda p: p.update(version=2))
    case("bad_type", lambda p: p["inputs"][0]["columns"][0].update(type="INT"))
    case("std_fd", lambda p: p["inputs"][0]["source"].update(fd=1))
    case("dup_fd", lambda p: p["output"]["sink"].update(fd=3))
    case("bad_table", lambda p: p["inputs"][0].update(table="in0; DROP"))
    case("neg_index", lambda p: p.update(node_index=-1))
    case("index_range", lambda p: p.update(node_index=5))
    case("bad_stage", lambda p: p.update(stage="shuffle"))
    case("no_sql", lambda p: p.pop("sql"))
    case("sql_type", lambda p: p.update(sql=5))
    case("both_sources", lambda p: p["inputs"][0]["source"].update(upstream=2))
    case("upstream_no_listen", lambda p: p["inputs"][0].update(source={"upstream": 2}))
    case("listen_no_upstream", lambda p: p.update(listen="127.0.0.1:7000"))
    case("bad_listen", lambda p: p.update(listen="localhost:7000"))
    case("fn_no_script", lambda p: p.update(functions=[F_MASK]))
    case("fn_kind", lambda p: p.update(functions=[dict(F_MASK, kind="window")]))
    case("table_no_cols", lambda p: p.update(functions=[dict(F_WORDS, columns=None)]))
    case("too_many_inputs", lambda p: p.update(inputs=p["inputs"] * 257))
    # an input is an SQLite table: its column names are unique (a query's
    # output may repeat a name, SELECT a.id, b.id)
    case("dup_col", lambda p: p["inputs"][0].update(columns=[{"name": "a", "type": "BIGINT"}] * 2))
    case("bad_key", lambda p: p["output"].update(sink={"partition": {"keys": [3], "peers": ["127.0.0.1:1"], "input": 0}}))
    case("no_peers", lambda p: p["output"].update(sink={"partition": {"keys": [0], "peers": [], "input": 0}}))
    case("limits_neg", lambda p: p.update(limits={"udf_memory": -1}))
    case("limits_unknown", lambda p: p.update(limits={"udf_stack": 1}))
    case("transform_shell", lambda p: p.update(transform={"argv": [], "columns": []}))
    case("transform_cols", lambda p: p.update(transform={"argv": ["/bin/cat"], "columns": [
        {"name": "a", "type": "BIGINT"}, {"name": "b", "type": "BIGINT"}]}))
    case("resource_path", lambda p: p.update(resources=[{"name": "../etc/passwd", "fd": 9}]))
    return cases


@pytest.mark.parametrize("name,plan", bad_plans())
def test_bad_plan_rejected(bin_dir, name, plan):
    import json
    r = run_stage(bin_dir, {"inputs": [], "output": {}}, plan_text=json.dumps(plan), sink=None)
    assert r.rc == 1, (name, r.stderr)
    assert r.stderr.startswith("cordon-node: plan"), r.stderr


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '{"version": 1, "version": 1}',
                                  "{\"version\": 1}\n{}", "\xff"])
def test_malformed_plan_json(bin_dir, text):
    r = run_stage(bin_dir, {"inputs": [], "output": {}}, plan_text=text, sink=None)
    assert r.rc == 1 and "cordon-node: plan" in r.stderr


def test_oversized_plan(bin_dir):
    r = run_stage(bin_dir, {"inputs": [], "output": {}}, plan_text=" " * (17 << 20), sink=None)
    assert r.rc == 1 and "cordon-node:" in r.stderr


def test_no_inputs_values(bin_dir):
    plan = stage_plan("VALUES (1, 'a'), (2, NULL)", [], [("n", "BIGINT"), ("s", "STRING")],
                      stage="final")
    assert ok(run_stage(bin_dir, plan)) == [(1, "a"), (2, None)]
