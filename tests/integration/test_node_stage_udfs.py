"""The udfs/ library run by cordon-node stage the way a job runs it: median
and stddev_samp split over three MAP nodes (f__partial) and merged on a
REDUCE node (f__final) equal Python's statistics on all rows; split() as a
two-column LATERAL VIEW; mask_phone as a scalar."""
import statistics

import pytest

import rowfmt
from conftest import ROOT
from stage_util import run_stage, stage_plan
from test_node_stage import COLS, ROWS, ok

AGG = (ROOT / "udfs" / "agg.lua").read_text()
TEXT = (ROOT / "udfs" / "text.lua").read_text()
MASK = (ROOT / "udfs" / "mask.lua").read_text()


def fn(name, kind, script, **kw):
    return dict({"name": name, "kind": kind, "script": script, "entry": name}, **kw)


AGGS = [fn("median", "aggregate", "agg.lua"), fn("stddev_samp", "aggregate", "agg.lua")]


def test_median_and_stddev_over_three_maps_and_a_reduce(bin_dir):
    part_cols = [("country", "STRING"), ("m", "BINARY"), ("s", "BINARY")]
    partials = []
    thirds = [ROWS[0:1000], ROWS[1000:2000], ROWS[2000:]]
    for i, rows in enumerate(thirds):
        plan = stage_plan("SELECT country, median__partial(score), stddev_samp__partial(score) "
                          "FROM in0 GROUP BY country", [("in0", COLS, {"fd": None})], part_cols,
                          functions=AGGS, node_index=i, node_count=3)
        partials += ok(run_stage(bin_dir, plan,
                                 inputs={"in0": rowfmt.encode_stream(COLS, rows)},
                                 scripts={"agg.lua": AGG}))
    out = [("country", "STRING"), ("median", "DOUBLE"), ("sd", "DOUBLE")]
    plan = stage_plan("SELECT country, median__final(m), stddev_samp__final(s) FROM up "
                      "GROUP BY country ORDER BY country", [("up", part_cols, {"fd": None})],
                      out, functions=AGGS, stage="reduce", stage_index=1)
    got = ok(run_stage(bin_dir, plan, inputs={"up": rowfmt.encode_stream(part_cols, partials)},
                       scripts={"agg.lua": AGG}))
    for country, median, sd in got:
        xs = [r[3] for r in ROWS if r[2] == country and r[3] is not None]
        assert median == pytest.approx(statistics.median(xs), rel=1e-12)
        assert sd == pytest.approx(statistics.stdev(xs), rel=1e-9)
    assert len(got) == len({r[2] for r in ROWS})


def test_split_lateral_view_two_columns(bin_dir):
    f = fn("split", "table", "text.lua", columns=["part", "pos"])
    plan = stage_plan("SELECT t.id, s.part, s.pos FROM in0 t, split(t.email, '@') s "
                      "WHERE t.id <= 20 ORDER BY t.id, s.pos", [("in0", COLS, {"fd": None})],
                      [("id", "BIGINT"), ("part", "STRING"), ("pos", "BIGINT")], functions=[f])
    got = ok(run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                       scripts={"text.lua": TEXT}))
    want = [(r[0], p, i + 1) for r in ROWS[:20] for i, p in enumerate(r[1].split("@"))]
    assert got == want


def test_table_udf_error_fails_the_stage(bin_dir):
    f = fn("split", "table", "text.lua", columns=["part", "pos"])
    plan = stage_plan("SELECT s.part FROM in0 t, split(t.email, '') s",
                      [("in0", COLS, {"fd": None})], [("part", "STRING")], functions=[f])
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                  scripts={"text.lua": TEXT})
    assert r.rc == 1 and "split: the separator must not be empty" in r.stderr
    assert not r.ended


def test_kind_mismatch_is_refused(bin_dir):
    """The plan says scalar, the script says aggregate: refused at setup."""
    f = fn("median", "scalar", "agg.lua")
    plan = stage_plan("SELECT median(score) FROM in0", [("in0", COLS, {"fd": None})],
                      [("m", "DOUBLE")], functions=[f])
    r = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                  scripts={"agg.lua": AGG})
    assert r.rc == 1 and "agg.lua:median is of kind aggregate, the plan says scalar" in r.stderr


def test_mask_phone(bin_dir):
    f = fn("mask_phone", "scalar", "mask.lua")
    plan = stage_plan("SELECT mask_phone('+49 170 1234567'), mask_phone(NULL)", [],
                      [("m", "STRING"), ("n", "STRING")], functions=[f])
    got = ok(run_stage(bin_dir, plan, scripts={"mask.lua": MASK}))
    assert got[0][1] is None
    assert got[0][0].endswith("67") and "1234" not in got[0][0]
