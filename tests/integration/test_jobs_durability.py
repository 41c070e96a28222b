"""Durability of INSERT jobs against crashes, with the real cordond and its
own chunk servers:

- kill -9 of a chunk server (a cordon-chunkd child of cordond, found by pid
  among cordond's descendants) while a big INSERT OVERWRITE ... SELECT runs,
  either while its nodes compute or once every node is done (the commit);
- kill -9 of cordond while an INSERT's nodes run (and once they are done),
  then a restart on the same data dir.

Afterwards the table holds exactly the old version or exactly the new one,
never a mix (checked with exact aggregates of both versions), and after the
restart nothing of the old run is left: no node process (by pid and start
time), no process in the old overlay's network namespaces, no owner record
of the old overlay, no sandbox cgroup named after the old cordond."""
import os
import signal
import time

import pytest

from cordon_api import Cordond
from procs import stat_of, descendants, cmdline

OLD_ROWS = 500
SRC_ROWS = 4000
KEYS = 400           # the self-join makes SRC_ROWS * SRC_ROWS / KEYS new rows
PAD = "p" * 200
BATCH = 1000

HOLD = r"""import sys, time
rows = [line for line in sys.stdin]
time.sleep(600)  # cordond is killed while this runs
sys.stdout.write("".join(rows))
"""


# ---- processes, namespaces, cgroups seen from the host ----------------------
def netns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def host_netns():
    return netns(1)


def pids_in_netns(inodes):
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and netns(pid) in inodes:
            out.append(int(pid))
    return out


def sandbox_cgroup_dirs(pid):
    """The sandbox's cgroup dirs of caller pid (docs/sandbox.md: cordon-sbx/
    <caller pid>-<start time>-<n> inside the caller's own cgroup, v1 or v2)."""
    out = []
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        for ctrl in (ctrls.split(",") if ctrls else ["unified"]):
            if ctrl.startswith("name="):
                continue
            base = f"/sys/fs/cgroup/{ctrl}{path.rstrip('/')}/cordon-sbx"
            if not os.path.isdir(base):
                continue
            out += [f"{base}/{d}" for d in os.listdir(base) if d.startswith(f"{pid}-")]
    return out


def node_pids(srv):
    return [p for p in descendants(srv.proc.pid) if "cordon-chunkd" not in cmdline(p)]


def chunk_servers(srv):
    """(pid, server id) of cordond's live chunk servers: from the storage
    status, each confirmed as a cordon-chunkd descendant of cordond."""
    st, body = srv.call("GET", "/v1/admin/storage")
    assert st == 200, body
    kids = set(descendants(srv.proc.pid))
    out = [(s["pid"], s["id"]) for s in body["servers"]
           if s.get("pid") in kids and "cordon-chunkd" in cmdline(s["pid"])]
    assert out, body
    return out


# ---- data ------------------------------------------------------------------
def ok(srv, sql, keys=None):
    st, body = srv.job("dur", sql, keys=keys or srv.acme)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql[:200], body)
    return body


def summary(srv):
    body = ok(srv, "SET cordon.nodes=2; SELECT COUNT(*), SUM(id), MIN(tag), MAX(tag), "
                   "SUM(length(pad)) FROM dst;")
    return tuple(body["rows"][0])


OLD = (OLD_ROWS, sum(range(OLD_ROWS)), "old", "old", OLD_ROWS * len(PAD))


def new_summary():
    per_key = {}
    for i in range(SRC_ROWS):
        per_key.setdefault(i % KEYS, []).append(i)
    n, s = 0, 0
    for ids in per_key.values():
        for a in ids:
            for b in ids:
                n += 1
                s += a * 100000 + b
    return (n, s, "new", "new", n * len(PAD))


NEW_INSERT = ("INSERT OVERWRITE TABLE dst SELECT a.id * 100000 + b.id, 'new', a.pad "
              "FROM src a JOIN src b ON a.k = b.k;")


def start(bin_dir, data_dir, run_dir):
    return Cordond(bin_dir, data_dir, extra=["--overlay-run-dir", str(run_dir)]).start()


@pytest.fixture
def srv(bin_dir, tmp_path):
    run_dir = tmp_path / "ovl"
    run_dir.mkdir()
    s = start(bin_dir, tmp_path / "data", run_dir)
    s.run_dir = run_dir
    s.acme = s.create_account("acme")
    s.create_project("dur", keys=s.acme)
    ok(s, "CREATE TABLE dst (id BIGINT, tag STRING, pad STRING);")
    ok(s, "INSERT INTO dst VALUES " +
       ", ".join(f"({i}, 'old', '{PAD}')" for i in range(OLD_ROWS)) + ";")
    assert summary(s) == OLD
    holder = {"srv": s}
    yield holder
    if holder["srv"].proc is not None:
        holder["srv"].stop()


def load_src(s):
    ok(s, "CREATE TABLE src (id BIGINT, k BIGINT, pad STRING);")
    for i in range(0, SRC_ROWS, BATCH):
        ok(s, "INSERT INTO src VALUES " +
           ", ".join(f"({j}, {j % KEYS}, '{PAD}')" for j in range(i, min(i + BATCH, SRC_ROWS)))
           + ";")


def submit(s, sql):
    st, body = s.call("POST", "/v1/projects/dur/jobs?wait=0", {"sql": sql}, keys=s.acme)
    assert st == 202, body
    return body["id"]


def status(s, jid):
    st, body = s.call("GET", f"/v1/projects/dur/jobs/{jid}", keys=s.acme)
    assert st == 200, body
    return body


def wait_phase(s, jid, phase):
    """Waits until the job's nodes run ("nodes") or every node is done and
    the runner commits ("commit"); returns the status then (or the final
    one when the job ended first)."""
    for _ in range(6000):
        b = status(s, jid)
        if b["status"] not in ("queued", "running"):
            return b
        stages = b.get("stages", [])
        if phase == "nodes" and b["status"] == "running" and node_pids(s):
            return b
        if phase == "commit" and stages and all(x["nodesDone"] == x["nodes"] for x in stages):
            return b
        time.sleep(0.005)
    raise AssertionError(f"job {jid} never reached {phase}: {b}")


def wait_end(s, jid):
    for _ in range(3000):
        b = status(s, jid)
        if b["status"] not in ("queued", "running"):
            return b
        time.sleep(0.05)
    raise AssertionError(f"job {jid} did not end: {b}")


# ---- chunk server killed -------------------------------------------------------
@pytest.mark.parametrize("phase", ["nodes", "commit"])
def test_chunk_server_killed_during_insert(srv, phase):
    s = srv["srv"]
    load_src(s)
    new = new_summary()
    jid = submit(s, "SET cordon.nodes=2; " + NEW_INSERT)
    wait_phase(s, jid, phase)
    pid, server = chunk_servers(s)[0]
    os.kill(pid, signal.SIGKILL)
    end = wait_end(s, jid)
    assert end["status"] in ("succeeded", "failed"), end
    print(f"chunk server {server} killed at {phase}: the job {end['status']}",
          end.get("error", ""))
    got = summary(s)
    if end["status"] == "succeeded":
        assert got == new, (got, end)
    else:
        assert got == OLD, (got, end)
    # the table reads the same again after the replicas are repaired
    st, body = s.call("POST", "/v1/admin/storage/repair", {"timeoutSeconds": 120})
    assert st in (200, 504), body
    assert summary(s) == got
    # and a new INSERT still commits all or nothing
    end2 = ok(s, "INSERT OVERWRITE TABLE dst SELECT id, 'old', pad FROM src WHERE id < 10;")
    assert end2["status"] == "succeeded"
    assert summary(s) == (10, 45, "old", "old", 10 * len(PAD))


# ---- cordond killed and restarted ---------------------------------------------
def snapshot(s):
    """What the running job owns, seen from the host."""
    pids = node_pids(s)
    return {
        "pids": {p: stat_of(p) for p in pids},
        "netns": {netns(p) for p in pids} - {host_netns(), None},
        "cgroups": sandbox_cgroup_dirs(s.proc.pid),
        "records": sorted(os.listdir(s.run_dir)),
    }


def assert_nothing_left(s, snap, old_pid):
    # no node process of the old run (same pid and start time)
    alive = [p for p, st in snap["pids"].items() if st and stat_of(p) == st]
    assert alive == [], [(p, cmdline(p)) for p in alive]
    # nothing lives in the old overlay's namespaces
    assert pids_in_netns(snap["netns"]) == []
    # no owner record or lease of the old overlay
    assert not [r for r in os.listdir(s.run_dir) if r.startswith("job-")], \
        os.listdir(s.run_dir)
    # no sandbox cgroup of the old cordond: removed by the next start of a
    # container (docs/sandbox.md "Cleanup"), so wait for that state
    for _ in range(600):
        left = [d for d in snap["cgroups"] if os.path.exists(d)]
        left += [d for d in sandbox_cgroup_dirs(s.proc.pid) if f"/{old_pid}-" in d]
        if not left:
            break
        ok(s, "SELECT 1 AS one;")
        time.sleep(0.05)
    assert not left, left


@pytest.mark.parametrize("phase", ["nodes", "commit"])
def test_cordond_killed_during_insert_then_restarted(srv, bin_dir, phase):
    s = srv["srv"]
    if phase == "nodes":
        st, body = s.call("PUT", "/v1/projects/dur/resources/hold.py", HOLD.encode(),
                          keys=s.acme)
        assert st in (200, 201), body
        sql = ("SET cordon.nodes=2; INSERT INTO dst SELECT TRANSFORM(id, tag, pad) USING "
               "'/usr/bin/python3 hold.py' RESOURCES 'hold.py' AS (id BIGINT, tag STRING, "
               "pad STRING) FROM dst;")
        new = None  # this INSERT can never finish
    else:
        load_src(s)
        sql = "SET cordon.nodes=2; " + NEW_INSERT
        new = new_summary()
    jid = submit(s, sql)
    wait_phase(s, jid, phase)
    if phase == "nodes":
        for _ in range(2000):
            if len([p for p in node_pids(s) if "hold.py" in cmdline(p)]) == 2:
                break
            time.sleep(0.01)
    snap = snapshot(s)
    if phase == "nodes":
        assert len(snap["pids"]) >= 2 and snap["netns"], snap
        assert snap["cgroups"], "the sandbox cgroups of the running nodes were not found"
        assert any(r.startswith("job-") for r in snap["records"]), snap
    old_pid = s.proc.pid
    s.stop(sig=signal.SIGKILL)

    s2 = start(bin_dir, s.data_dir, s.run_dir)
    s2.run_dir, s2.acme = s.run_dir, s.acme
    srv["srv"] = s2
    got = summary(s2)
    assert got == OLD or (new is not None and got == new), got
    print(f"cordond killed at {phase}: the table holds the", "old" if got == OLD else "new",
          "version")
    # the old run's chunk servers are gone too (only the new cordond's serve the dir)
    mine = set(descendants(s2.proc.pid)) | {s2.proc.pid}
    strays = [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
              if p not in mine and str(s.data_dir) in cmdline(p)]
    assert strays == [], [(p, cmdline(p)) for p in strays]
    # the job of the killed run is not reported as succeeded
    st, body = s2.call("GET", f"/v1/projects/dur/jobs/{jid}", keys=s2.acme)
    assert st == 404 or body.get("status") != "succeeded" or got == new, body
    assert_nothing_left(s2, snap, old_pid)
    # the restarted cordond runs INSERTs again
    ok(s2, "INSERT INTO dst VALUES (-1, 'old', 'x');")
    assert summary(s2)[0] == got[0] + 1
