"""cordon-node stage with computed columns (docs/stage-plan.md "Computed
columns"): a scalar UDF evaluated with rt_udf_call_batch over blocks of the
input's rows, read by the SQL as a column. Real node, real fds; sqlite3 with
a Python equivalent is the reference."""
import json

import rowfmt
from stage_util import STATS_LUA, run_stage, stage_plan

from test_node_stage import COLS, F_MASK, ROWS, reference

F_BOOM = {"name": "boom", "kind": "scalar", "script": "stats.lua", "entry": "boom"}
F_SPIN = {"name": "spin", "kind": "scalar", "script": "stats.lua", "entry": "spin"}


def run(bin_dir, sql, out_cols, computed, functions=(F_MASK,), limits=None, rows=ROWS):
    plan = stage_plan(sql, [("in0", COLS, {"fd": None})], out_cols, functions=functions,
                      limits=limits)
    plan["inputs"][0]["computed"] = computed
    return run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, rows, 500)},
                     scripts={"stats.lua": STATS_LUA})


def ok(r):
    assert r.rc == 0, r.stderr
    assert r.ended, "no end frame"
    return r.rows


def test_computed_column_equals_the_call_and_evaluates_every_row(bin_dir):
    r = run(bin_dir, 'SELECT id, "_u0" FROM in0 WHERE id % 10 = 0 ORDER BY id',
            [("id", "BIGINT"), ("m", "STRING")],
            [{"name": "_u0", "function": "mask_email", "args": [{"col": 1}]}])
    assert ok(r) == reference("SELECT id, mask_email(email) FROM in0 WHERE id % 10 = 0 "
                              "ORDER BY id")
    # every row of the input was evaluated (the per-row path: only the 300 kept)
    assert r.summary["udf_calls"] == len(ROWS)


def test_literals_nulls_and_a_column_read_twice(bin_dir):
    r = run(bin_dir, 'SELECT id, "_u0", "_u1", "_u0", "_u2" FROM in0 ORDER BY id',
            [("id", "BIGINT"), ("a", "STRING"), ("b", "STRING"), ("c", "STRING"),
             ("d", "STRING")],
            [{"name": "_u0", "function": "mask_email", "args": [{"col": 1}]},
             {"name": "_u1", "function": "mask_email", "args": [{"lit": "ab@c.d"}]},
             {"name": "_u2", "function": "mask_email", "args": [{"lit": None}]}])
    want = reference("SELECT id, mask_email(email), mask_email('ab@c.d'), mask_email(email), "
                     "mask_email(NULL) FROM in0 ORDER BY id")
    assert ok(r) == want


def test_no_arguments(bin_dir):
    r = run(bin_dir, 'SELECT id, "_u0" FROM in0 ORDER BY id', [("id", "BIGINT"), ("m", "STRING")],
            [{"name": "_u0", "function": "mask_email", "args": []}])
    assert ok(r) == [(row[0], None) for row in ROWS]


def test_error_on_a_dropped_row_is_not_an_error(bin_dir):
    # boom(13) raises; the WHERE drops row 13 before the column is read
    r = run(bin_dir, 'SELECT id, "_u0" FROM in0 WHERE id <> 13 ORDER BY id',
            [("id", "BIGINT"), ("b", "BIGINT")],
            [{"name": "_u0", "function": "boom", "args": [{"col": 0}]}], functions=(F_BOOM,))
    rows = ok(r)
    assert len(rows) == len(ROWS) - 1 and all(a == b for a, b in rows)


def test_error_on_a_used_row_fails_with_script_line(bin_dir):
    r = run(bin_dir, 'SELECT id, "_u0" FROM in0',
            [("id", "BIGINT"), ("b", "BIGINT")],
            [{"name": "_u0", "function": "boom", "args": [{"col": 0}]}], functions=(F_BOOM,))
    assert r.rc == 1, r.stderr
    assert "cordon-node: stats.lua:" in r.stderr and "unlucky 13" in r.stderr, r.stderr


def test_limit_in_a_batch_is_fatal_and_named(bin_dir):
    r = run(bin_dir, 'SELECT id FROM in0 WHERE id = 1 AND "_u0" IS NOT NULL',
            [("id", "BIGINT")],
            [{"name": "_u0", "function": "spin", "args": [{"col": 0}]}], functions=(F_SPIN,),
            limits={"udf_instructions": 100000})
    assert r.rc == 3, r.stderr
    assert "limit exceeded: instructions" in r.stderr, r.stderr


def test_malformed_computed_refused(bin_dir):
    for computed, fragment in (
            ([{"name": "_u0", "function": "mask_email", "args": [{"col": 6}]}],
             "col must be a column index in 0..5"),
            ([{"name": "_u0", "function": "nosuch", "args": []}], "unknown function"),
            ([{"name": "email", "function": "mask_email", "args": []}],
             "the input has a column of that name"),
            ("x", "'computed' must be an array")):
        plan = stage_plan("SELECT 1", [("in0", COLS, {"fd": 9})], [("x", "BIGINT")],
                          functions=[F_MASK])
        plan["inputs"][0]["computed"] = computed
        plan["scripts"] = [{"name": "stats.lua", "fd": 10}]
        plan["output"]["sink"] = {"fd": 11}
        r = run_stage(bin_dir, {"inputs": [], "output": {}}, plan_text=json.dumps(plan),
                      sink=None)
        assert r.rc == 1, (computed, r.stderr)
        assert r.stderr.startswith("cordon-node: plan") and fragment in r.stderr, r.stderr
