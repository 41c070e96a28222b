"""The udfs/ library, each function run as a job node runs it (see
udf_runner.py): expected outputs, NULL handling, bad input, and aggregates
merged across two buffers."""
import math
import random
import statistics

import pytest

from udf_runner import UDFS, outputs, run_udf

CASES = [
    ("mask.lua", "mask_email", [["john@example.com"], [None], ["nope"], ["a@b.c"]],
     ["j***@example.com", None, "nope", "a@b.c"]),
    ("mask.lua", "mask_phone", [["+1 (415) 555-0134"], ["12"], [None]],
     ["+* (***) ***-0134", "12", None]),
    ("mask.lua", "mask_keep_last", [["4111111111111111", 4], ["äöüß", 1], ["ab", 5], [None, 1]],
     ["************1111", "***ß", "ab", None]),
    ("text.lua", "tokens", [["Hello, World!  Ünïcode-ok 42"], [""], [None]],
     ["hello world Ünïcode ok 42", "", None]),  # ASCII case folding
    ("text.lua", "token_count", [["a b,c"], [None]], [3, None]),
    ("json.lua", "json_extract",
     [['{"a":{"b":[10,{"c":"x\\ny"}]}}', "$.a.b[1].c"],
      ['{"a":{"b":[10,{"c":"x"}]}}', "$.a.b[0]"],
      ['{"a":{"b":[10,{"c":"x"}]}}', "$.a.b"],
      ['{"k y":true}', "$['k y']"],
      ['{"a":null}', "$.a"],
      ['{"a":1}', "$.missing"],
      ['{"u":"\\u00e9\\ud83d\\ude00"}', "$.u"],
      [None, "$.a"]],
     ["x\ny", "10", '[10,{"c":"x"}]', "true", None, None, "é😀", None]),
    ("json.lua", "json_valid", [['{"a":[1,2,{"b":null}]}'], ['{"a":'], ["[1,]"], ["1 2"], [None]],
     [True, False, False, False, None]),
    ("url.lua", "url_part",
     [["https://user@Example.COM:8443/a/b?x=1#top", "host"],
      ["https://user@Example.COM:8443/a/b?x=1#top", "port"],
      ["https://user@Example.COM:8443/a/b?x=1#top", "path"],
      ["https://user@Example.COM:8443/a/b?x=1#top", "fragment"],
      ["https://user@Example.COM:8443/a/b?x=1#top", "user"],
      ["mailto:x@y", "scheme"],
      ["http://[::1]:80/", "host"],
      ["/relative/only", "host"]],
     ["example.com", "8443", "/a/b", "top", "user", "mailto", "[::1]", None]),
    ("url.lua", "url_query",
     [["http://h/p?a=1&b=x%20y+z&a=2", "b"], ["http://h/p?a=1", "a"], ["http://h/p", "a"]],
     ["x y z", "1", None]),
    ("geo.lua", "ipv4_in_cidr",
     [["10.1.2.3", "10.0.0.0/8"], ["11.0.0.1", "10.0.0.0/8"], ["192.168.1.1", "0.0.0.0/0"],
      ["192.168.1.1", "192.168.1.1/32"], ["999.1.1.1", "10.0.0.0/8"], [None, "10.0.0.0/8"]],
     [True, False, True, True, False, None]),
    ("geo.lua", "ipv4_to_int", [["1.2.3.4"], ["255.255.255.255"], ["1.2.3"]],
     [16909060, 4294967295, None]),
    ("dates.lua", "date_format", [["2026-11-27 18:05:09", "%Y-%m-%dT%H:%M:%S"], [1700000000, "%Y"]],
     ["2026-11-27T18:05:09", "2023"]),
    ("dates.lua", "date_trunc",
     [["2026-11-27 18:05:09", "month"], ["2026-11-27 18:05:09", "day"],
      ["2026-11-27 18:05:09", "hour"], ["2024-02-29 23:59:59", "year"]],
     ["2026-11-01 00:00:00", "2026-11-27 00:00:00", "2026-11-27 18:00:00",
      "2024-01-01 00:00:00"]),
    ("dates.lua", "days_between",
     [["2026-01-01 23:00:00", "2026-03-01 01:00:00"], ["2026-03-01 00:00:00", "2026-01-01 00:00:00"]],
     [59, -59]),
    ("dates.lua", "day_of_week", [["2026-11-27 12:00:00"], ["2026-11-29 00:00:00"]], [5, 7]),
    ("dates.lua", "add_months",
     [["2026-01-31 10:00:00", 1], ["2024-01-31 10:00:00", 1], ["2026-11-15 00:00:00", -12]],
     ["2026-02-28 10:00:00", "2024-02-29 10:00:00", "2025-11-15 00:00:00"]),
]


@pytest.mark.parametrize("script,function,lines,expected", CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_scalar(bin_dir, script, function, lines, expected):
    assert outputs(run_udf(bin_dir, UDFS / script, function, lines)) == expected


def test_haversine(bin_dir):
    out = outputs(run_udf(bin_dir, UDFS / "geo.lua", "haversine_km",
                          [[51.5007, -0.1246, 40.6892, -74.0445], [0, 0, 0, 0], [None, 0, 0, 0]]))
    assert abs(out[0] - 5574.8) < 1.0  # Big Ben to the Statue of Liberty
    assert out[1] == 0.0 and out[2] is None
    bad = run_udf(bin_dir, UDFS / "geo.lua", "haversine_km", [[91, 0, 0, 0]])
    assert bad.returncode == 1 and "latitude outside" in bad.stderr


def test_bad_arguments_name_the_argument(bin_dir):
    r = run_udf(bin_dir, UDFS / "mask.lua", "mask_keep_last", [["x", "four"]])
    assert r.returncode == 1
    assert "argument 2: expected bigint, got string" in r.stderr
    r = run_udf(bin_dir, UDFS / "geo.lua", "ipv4_in_cidr", [["1.2.3.4", "10.0.0.0/33"]])
    assert r.returncode == 1 and "bad CIDR" in r.stderr


def test_json_limits(bin_dir):
    deep = "[" * 100 + "]" * 100
    r = run_udf(bin_dir, UDFS / "json.lua", "json_extract", [[deep, "$"]])
    assert r.returncode == 1 and "nested deeper than 64" in r.stderr
    big = '"' + "x" * (1 << 20) + '"'
    r = run_udf(bin_dir, UDFS / "json.lua", "json_extract", [[big, "$"]])
    assert r.returncode == 1 and "larger than 1 MiB" in r.stderr


def test_table_functions(bin_dir):
    assert outputs(run_udf(bin_dir, UDFS / "text.lua", "words", [["a  b c"], [None], ["d"]])) == \
        [["a"], ["b"], ["c"], ["d"]]
    assert outputs(run_udf(bin_dir, UDFS / "text.lua", "split", [["a,,b", ","], [None, ","]])) == \
        [["a", 1], ["", 2], ["b", 3]]
    assert outputs(run_udf(bin_dir, UDFS / "text.lua", "split", [["", ","]])) == [["", 1]]
    assert outputs(run_udf(bin_dir, UDFS / "json.lua", "json_array_elements",
                           [['{"xs":[1,"two",[3],null]}', "$.xs"], ['{"xs":5}', "$.xs"]])) == \
        [["1"], ["two"], ["[3]"], [None]]
    many = outputs(run_udf(bin_dir, UDFS / "text.lua", "split", [[",".join(["w"] * 5000), ","]]))
    assert len(many) == 5000 and many[-1] == ["w", 5000]


def agg(bin_dir, function, values, extra_args=()):
    lines = [[v, *extra_args] for v in values]
    out = outputs(run_udf(bin_dir, UDFS / "agg.lua", function, lines))
    assert len(out) == 1
    return out[0]


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_aggregates_match_python(bin_dir, n):
    rng = random.Random(n)
    values = [rng.uniform(-50, 150) for _ in range(n)]
    with_nulls = values + [None] * 3
    if n == 0:
        for f in ("median", "geomean", "stddev_pop", "stddev_samp"):
            assert agg(bin_dir, f, with_nulls) is None
        return
    assert math.isclose(agg(bin_dir, "median", with_nulls), statistics.median(values))
    assert math.isclose(agg(bin_dir, "stddev_pop", with_nulls), statistics.pstdev(values),
                        rel_tol=1e-9, abs_tol=1e-9)
    if n >= 2:
        assert math.isclose(agg(bin_dir, "stddev_samp", with_nulls), statistics.stdev(values),
                            rel_tol=1e-9)
    pos = [v for v in values if v > 0]
    if pos:
        assert math.isclose(agg(bin_dir, "geomean", with_nulls), statistics.geometric_mean(pos),
                            rel_tol=1e-9)


def test_approx_percentile_error_bound(bin_dir):
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.5) for _ in range(3000)] + [0.0] * 10 + \
             [-rng.uniform(1, 100) for _ in range(200)]
    ordered = sorted(values)
    for p in (0.0, 0.05, 0.5, 0.9, 0.99, 1.0):
        got = agg(bin_dir, "approx_percentile", values, (p,))
        exact = ordered[int(p * (len(ordered) - 1))]
        assert abs(got - exact) <= 0.0101 * abs(exact) + 1e-12, (p, got, exact)
    r = run_udf(bin_dir, UDFS / "agg.lua", "approx_percentile", [[1.0, 2.0]])
    assert r.returncode == 1 and "p must be in [0, 1]" in r.stderr


SQL_MD_EXAMPLE = """\
local M = {}
function M.mask_email(s)                     -- scalar
  if s == nil then return nil end
  local user, host = s:match("^([^@]*)@(.+)$")
  if not user then return s end
  return user:sub(1, 1) .. string.rep("*", #user - 1) .. "@" .. host
end
M.geomean = {                                -- aggregate
  signature = "double->double",
  new_buffer = function() return { n = 0, s = 0.0 } end,
  iterate = function(b, x) if x and x > 0 then b.n = b.n + 1; b.s = b.s + math.log(x) end end,
  merge = function(b, o) b.n = b.n + o.n; b.s = b.s + o.s end,
  terminate = function(b) if b.n == 0 then return nil end return math.exp(b.s / b.n) end,
}
M.words = {                                  -- table function
  signature = "string->string",
  process = function(ctx, s) for w in (s or ""):gmatch("%S+") do ctx.forward(w) end end,
}
return M
"""


def test_sql_md_example_verbatim(bin_dir, tmp_path):
    """SQL.md's example script, as printed there, runs unchanged."""
    script = tmp_path / "sqlmd.lua"
    script.write_text(SQL_MD_EXAMPLE)
    assert outputs(run_udf(bin_dir, script, "mask_email", [["ab@c.d"], [None]])) == ["a*@c.d", None]
    assert math.isclose(outputs(run_udf(bin_dir, script, "geomean", [[2], [8], [-1]]))[0], 4.0)
    assert outputs(run_udf(bin_dir, script, "words", [["x y"]])) == [["x"], ["y"]]
