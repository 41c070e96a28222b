"""cordon-node stage inside the real container, with the node binary
read-only bound from the build dir, two ways:
- `cordon sandbox run`, which passes only stdio: a /bin/sh inside (profile
  transform, which may execve) opens the plan, input and script files as the
  fds the plan names and hands the container's stdout to the node as its
  sink; the node's own stdout (the summary) goes to stderr;
- cordon-stage-spawn (tests/unit/runtime/stage_spawn.c), which calls
  sbx_spawn with the fds the way cordond does, in the udf profile for SQL
  and UDFs and the transform profile for TRANSFORM."""
import json
import os
import subprocess

import pytest

import rowfmt
from conftest import BUILD, run, sanitized
from stage_util import STATS_LUA, stage_plan
from test_node_stage import COLS, F_GEO, F_MASK, ROWS, UPPER_LUA, close_rows, reference


def sandbox_available(bin_dir):
    proc = run([str(bin_dir / "cordon"), "sandbox", "run", "--help"])
    return proc.returncode == 0


@pytest.fixture
def sbx(bin_dir):
    if not sandbox_available(bin_dir):
        pytest.skip("cordon sandbox run is not in this tree yet")
    return bin_dir


def run_in_container(bin_dir, tmp_path, plan, inputs, scripts, profile="transform"):
    fds = {}
    nxt = 5
    for inp in plan["inputs"]:
        path = tmp_path / ("in-" + inp["table"])
        path.write_bytes(inputs[inp["table"]])
        inp["source"] = {"fd": nxt}
        fds[nxt] = "/data/" + path.name
        nxt += 1
    plan["scripts"] = []
    for name, text in scripts.items():
        path = tmp_path / ("s-" + name)
        path.write_text(text)
        plan["scripts"].append({"name": name, "fd": nxt})
        fds[nxt] = "/data/" + path.name
        nxt += 1
    plan["output"]["sink"] = {"fd": 4}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    os.chmod(tmp_path, 0o755)
    redirs = " ".join(f"{fd}<{p}" for fd, p in fds.items())
    script = f"exec /node stage --plan-fd 3 3</data/plan.json {redirs} 4>&1 1>&2"
    proc = subprocess.run([str(bin_dir / "cordon"), "sandbox", "run", "--profile", profile,
                           "--env", "TMPDIR=/work",
                           "--ro-bind", f"{bin_dir / 'cordon-node'}:/node",
                           "--ro-bind", f"{tmp_path}:/data", "--", "/bin/sh", "-c", script],
                          capture_output=True, timeout=120)
    cols, rows, ended = rowfmt.decode_stream(proc.stdout) if proc.stdout else (None, [], False)
    return proc, rows, ended


def test_udf_stage_in_container(sbx, tmp_path):
    sql = "SELECT country, geomean(score), count(*) FROM in0 GROUP BY country ORDER BY 1"
    plan = stage_plan(sql, [("in0", COLS, None)],
                      [("c", "STRING"), ("g", "DOUBLE"), ("n", "BIGINT")], functions=[F_GEO])
    proc, rows, ended = run_in_container(sbx, tmp_path, plan,
                                         {"in0": rowfmt.encode_stream(COLS, ROWS)},
                                         {"stats.lua": STATS_LUA})
    assert proc.returncode == 0, proc.stderr
    assert ended
    close_rows(rows, reference(sql))
    summary = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert summary["rows_in"] == len(ROWS)


def test_scalar_udf_error_in_container(sbx, tmp_path):
    f = {"name": "boom", "kind": "scalar", "script": "stats.lua", "entry": "boom"}
    plan = stage_plan("SELECT boom(id) FROM in0", [("in0", COLS, None)], [("b", "BIGINT")],
                      functions=[f, F_MASK])
    proc, rows, ended = run_in_container(sbx, tmp_path, plan,
                                         {"in0": rowfmt.encode_stream(COLS, ROWS)},
                                         {"stats.lua": STATS_LUA})
    assert proc.returncode == 1
    assert b"stats.lua:" in proc.stderr and b"unlucky 13" in proc.stderr
    assert not ended


def test_transform_in_container(sbx, tmp_path):
    plan = stage_plan("SELECT id, note FROM in0 WHERE id <= 200 ORDER BY id",
                      [("in0", COLS, None)], [("id", "BIGINT"), ("n", "STRING")],
                      transform={"argv": ["/usr/bin/lua5.4", "upper.lua"],
                                 "columns": [{"name": "id", "type": "BIGINT"},
                                             {"name": "n", "type": "STRING"}]})
    proc, rows, ended = run_in_container(sbx, tmp_path, plan,
                                         {"in0": rowfmt.encode_stream(COLS, ROWS)},
                                         {"upper.lua": UPPER_LUA})
    assert proc.returncode == 0, proc.stderr
    assert ended
    ascii_upper = lambda s: "".join(c.upper() if c.isascii() else c for c in s)
    assert rows == [(r[0] * 2, None if r[5] is None else ascii_upper(r[5])) for r in ROWS[:200]]


# ---- the way cordond starts nodes: sbx_spawn with fds (tests/unit/runtime/stage_spawn.c) ----

SPAWN = BUILD / "tests" / "cordon-stage-spawn"


def spawn_stage(bin_dir, tmp_path, profile, plan, inputs, scripts):
    """Plan at fd 3, sink at fd 4, inputs and scripts from fd 5 on."""
    args, nxt = [], 5
    for inp in plan["inputs"]:
        path = tmp_path / ("in-" + inp["table"])
        path.write_bytes(inputs[inp["table"]])
        inp["source"] = {"fd": nxt}
        args.append(f"{nxt}={path}")
        nxt += 1
    plan["scripts"] = []
    for name, text in scripts.items():
        path = tmp_path / ("s-" + name)
        path.write_text(text)
        plan["scripts"].append({"name": name, "fd": nxt})
        args.append(f"{nxt}={path}")
        nxt += 1
    plan["output"]["sink"] = {"fd": 4}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    sink = tmp_path / "sink"
    proc = run([str(SPAWN), profile, str(bin_dir / "cordon-node"), f"3={tmp_path / 'plan.json'}",
                f"4={sink},w", *args], timeout=120)
    cols, rows, ended = rowfmt.decode_stream(sink.read_bytes()) if sink.exists() else (None, [], False)
    return proc, rows, ended


def test_udf_profile_runs_a_udf_stage(sbx, tmp_path):
    sql = "SELECT id, mask_email(email) FROM in0 WHERE id % 10 = 0 ORDER BY id"
    plan = stage_plan(sql, [("in0", COLS, None)], [("id", "BIGINT"), ("m", "STRING")],
                      functions=[F_MASK, F_GEO])
    proc, rows, ended = spawn_stage(sbx, tmp_path, "udf", plan,
                                    {"in0": rowfmt.encode_stream(COLS, ROWS)},
                                    {"stats.lua": STATS_LUA})
    assert proc.returncode == 0, proc.stderr
    assert ended and rows == reference(sql)
    assert json.loads(proc.stdout.strip().splitlines()[-1])["udf_calls"] == len(rows)


def test_udf_profile_forbids_transform(sbx, tmp_path):
    """TRANSFORM needs fork/execve: in the udf profile the container kills the node."""
    plan = stage_plan("SELECT id FROM in0", [("in0", COLS, None)], [("id", "BIGINT")],
                      transform={"argv": ["/bin/cat"], "columns": [{"name": "id", "type": "BIGINT"}]})
    proc, rows, ended = spawn_stage(sbx, tmp_path, "udf", plan,
                                    {"in0": rowfmt.encode_stream(COLS, ROWS)}, {})
    assert proc.returncode == 125, proc.stderr
    assert "not allowed" in proc.stderr
    assert not ended


def test_transform_profile_runs_transform(sbx, tmp_path):
    out = [("id", "BIGINT"), ("note", "STRING")]
    plan = stage_plan("SELECT id, note FROM in0 ORDER BY id", [("in0", COLS, None)], out,
                      transform={"argv": ["/bin/cat"],
                                 "columns": [{"name": n, "type": t} for n, t in out]})
    proc, rows, ended = spawn_stage(sbx, tmp_path, "transform", plan,
                                    {"in0": rowfmt.encode_stream(COLS, ROWS)}, {})
    assert proc.returncode == 0, proc.stderr
    assert ended and rows == [(r[0], r[5]) for r in ROWS]


def test_udf_limit_in_container(sbx, tmp_path):
    f = {"name": "spin", "kind": "scalar", "script": "stats.lua", "entry": "spin"}
    plan = stage_plan("SELECT spin(id) FROM in0", [("in0", COLS, None)], [("b", "BIGINT")],
                      functions=[f], limits={"udf_instructions": 100000})
    proc, rows, ended = spawn_stage(sbx, tmp_path, "udf", plan,
                                    {"in0": rowfmt.encode_stream(COLS, ROWS)},
                                    {"stats.lua": STATS_LUA})
    assert proc.returncode == 3, proc.stderr
    assert "cordon-node: limit exceeded: instructions" in proc.stderr
    assert not ended


def test_single_scan_streams_under_a_memory_limit(sbx, tmp_path):
    """A MAP statement that scans its input once frees each frame as it goes:
    ~100 MB of input passes through a container limited to 64 MB. The same
    input through a statement that scans it twice (frames kept) is ended by
    the memory limit — so the first result is not luck."""
    if sanitized():
        pytest.skip("ASan's shadow memory does not fit the 64 MB container")
    big = [(i, "x" * 2000, "de", 1.0, True, None) for i in range(50000)]
    data = rowfmt.encode_stream(COLS, big, 500)
    assert len(data) > 100_000_000
    plan = stage_plan("SELECT count(*), sum(length(email)) FROM in0", [("in0", COLS, None)],
                      [("n", "BIGINT"), ("s", "BIGINT")])
    proc, rows, ended = spawn_stage(sbx, tmp_path, "udf:67108864", plan, {"in0": data}, {})
    assert proc.returncode == 0, proc.stderr
    assert rows == [(50000, 50000 * 2000)]
    plan = stage_plan("SELECT count(*) FROM (SELECT email FROM in0 UNION ALL SELECT email FROM in0)",
                      [("in0", COLS, None)], [("n", "BIGINT")])
    proc, rows, ended = spawn_stage(sbx, tmp_path, "udf:67108864", plan, {"in0": data}, {})
    assert proc.returncode == 125 and "memory" in proc.stderr, proc.stderr
    assert not ended
