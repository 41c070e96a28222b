"""Isolation inside SQL jobs, through the real API: user code — a Lua UDF in
the node's Lua sandbox, and a TRANSFORM script (python3 from the host's
read-only /usr, started directly in the node's `transform` container) —
tries to escape, and each attempt fails the intended way:

- host files (/etc/shadow, cordond's root key and catalog, /proc/1/...):
  the UDF has no `io` (a Lua error naming the script and line); the script
  gets ENOENT/EACCES, and /proc shows only its own container;
- the network of the host (cordond's own port on 127.0.0.1, the host's
  addresses): the UDF has no `net` without a link; the script's connects
  fail (the node's netns has only its job's /24);
- a syscall outside the allowlist (ptrace, unshare): the seccomp kill fails
  the job naming the syscall;
- a fork bomb: the pids limit ends it and fails the job naming the limit;
- another tenant's running job: its node addresses (read by the test from
  the host) are unreachable from this job's nodes, and neither job sees the
  other's processes.

After each, cordond keeps serving and no node is left behind."""
import socket
import time

import pytest

from cordon_api import Cordond
from procs import descendants, cmdline


NODE_PORT = 7000

# ---- the attacker's code -----------------------------------------------------
ESCAPE_LUA = r"""local M = {}
M.read_host_file = { signature = "string->string",
  evaluate = function(path) local f = io.open(path, "r") return f:read("a") end }
M.connect_host = { signature = "bigint->string",
  evaluate = function(port) local s = net.connect("127.0.0.1", port) return "connected" end }
M.run_shell = { signature = "string->string",
  evaluate = function(cmd) return tostring(os.execute(cmd)) end }
M.load_module = { signature = "string->string",
  evaluate = function(name) return tostring(require(name)) end }
M.hog_memory = { signature = "bigint->string",
  evaluate = function(n) local t = {} for i = 1, n do t[i] = string.rep("x", 1024) .. i end
                         return "survived" end }
return M
"""

# TSV rows on stdout: what the script tried and what happened
PROBE_FILES = r"""import os, sys
for line in sys.stdin:
    pass
def emit(*f):
    sys.stdout.write("\t".join(str(x) for x in f) + "\n")
for path in sys.argv[1:] + ["/etc/shadow", "/proc/1/root/etc/shadow", "/proc/1/environ",
                            "/proc/1/maps", "/proc/1/mem", "/proc/1/cwd/catalog.db",
                            "/root/.bash_history", "/run/cordon/overlay"]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(16)
        emit("file", path, "READ")
    except OSError as e:
        emit("file", path, "errno:" + str(e.errno))
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError as e:
        cmd = "errno:" + str(e.errno)
    emit("proc", str(pid), cmd)
"""

PROBE_NET = r"""import errno, socket, sys
for line in sys.stdin:
    pass
def emit(*f):
    sys.stdout.write("\t".join(str(x) for x in f) + "\n")
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        emit("net", target, "CONNECTED")
    except socket.timeout:
        emit("net", target, "timeout")
    except OSError as e:
        emit("net", target, errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
for pid in sorted(int(p) for p in __import__("os").listdir("/proc") if p.isdigit()):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError as e:
        cmd = "errno:" + str(e.errno)
    emit("proc", str(pid), cmd)
"""

SYSCALL = r"""import ctypes, sys
for line in sys.stdin:
    pass
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(int(sys.argv[1]), 0, 0, 0, 0)
sys.stdout.write("survived\t%d\t%d\n" % (r, ctypes.get_errno()))
"""

FORK_BOMB = r"""import os, sys
for line in sys.stdin:
    pass
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

HOLD = r"""import sys, time
rows = [line for line in sys.stdin]
time.sleep(600)  # the test cancels this job
sys.stdout.write("".join(rows))
"""


# ---- helpers -----------------------------------------------------------------
def node_addresses(pid):
    """The IPv4 addresses local to the netns of pid (from the host's /proc)."""
    try:
        with open(f"/proc/{pid}/net/fib_trie") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    out, last = set(), None
    for line in lines:
        s = line.strip()
        if s.startswith("|--"):
            last = s[3:].strip()
        elif s.startswith("/32 host LOCAL") and last and not last.startswith("127."):
            out.add(last)
    return out


def host_addresses():
    """The host netns' own non-loopback IPv4 addresses (read only)."""
    out = set()
    try:
        with open("/proc/1/net/fib_trie") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    last = None
    for line in lines:
        s = line.strip()
        if s.startswith("|--"):
            last = s[3:].strip()
        elif s.startswith("/32 host LOCAL") and last and not last.startswith("127."):
            out.add(last)
    return out


def put(s, project, name, text, keys):
    st, body = s.call("PUT", f"/v1/projects/{project}/resources/{name}", text.encode(),
                      keys=keys)
    assert st in (200, 201), body


def ok(s, project, sql, keys):
    st, body = s.job(project, sql, keys=keys)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql, body)
    return body


def failed(s, project, sql, keys, code="JobFailed"):
    st, body = s.job(project, sql, keys=keys)
    assert st == 200 and body.get("status") == "failed", (sql, body)
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


def still_serving(s, project, keys):
    body = ok(s, project, "SELECT COUNT(*) FROM t;", keys)
    assert body["rows"] == [[2]], body
    wait_no_nodes(s)


def wait_no_nodes(s):
    """Every node of finished jobs is gone (chunk servers are cordond's
    other children)."""
    for _ in range(400):
        left = [p for p in descendants(s.proc.pid) if "cordon-chunkd" not in cmdline(p)]
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"left behind: {[(p, cmdline(p)) for p in left]}")


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("jobsiso") / "data").start()
    try:
        s.acme = s.create_account("acme")
        s.evil = s.create_account("evil")
        s.create_project("sales", keys=s.acme)
        s.create_project("evilp", keys=s.evil)
        for p, k in (("sales", s.acme), ("evilp", s.evil)):
            ok(s, p, "CREATE TABLE t (id BIGINT, s STRING);", k)
            ok(s, p, "INSERT INTO t VALUES (1, 'a'), (2, 'b');", k)
        put(s, "sales", "hold.py", HOLD, s.acme)
        for name, text in (("escape.lua", ESCAPE_LUA), ("probe_files.py", PROBE_FILES),
                           ("probe_net.py", PROBE_NET), ("syscall.py", SYSCALL),
                           ("fork_bomb.py", FORK_BOMB)):
            put(s, "evilp", name, text, s.evil)
        for fn in ("read_host_file", "connect_host", "run_shell", "load_module", "hog_memory"):
            ok(s, "evilp", f"CREATE FUNCTION {fn} AS 'escape.{fn}' USING 'escape.lua';", s.evil)
        yield s
    finally:
        s.stop()


def transform(script, *args, cols="(kind STRING, target STRING, result STRING)"):
    argv = " ".join(("/usr/bin/python3", script) + args)
    return (f"SELECT TRANSFORM(id, s) USING '{argv}' RESOURCES '{script}' AS {cols} "
            f"FROM t;")


# ---- the UDF (Lua sandbox) -----------------------------------------------------
@pytest.mark.parametrize("call,fragment", [
    ("read_host_file('/etc/shadow')", "global 'io'"),
    ("connect_host({port})", "global 'net'"),
    ("run_shell('/bin/sh -c id')", "field 'execute'"),
    ("load_module('socket')", "global 'require'"),
])
def test_udf_escape_fails_the_job_with_the_lua_error(srv, call, fragment):
    msg = failed(srv, "evilp", f"SELECT {call.format(port=srv.port)} FROM t;", srv.evil)
    assert "stage 0 (MAP) node" in msg and "escape.lua:" in msg, msg
    assert fragment in msg, msg
    still_serving(srv, "evilp", srv.evil)


def test_udf_memory_bomb_fails_the_job_at_the_limit(srv):
    msg = failed(srv, "evilp", "SELECT hog_memory(10000000) FROM t;", srv.evil,
                 "LimitExceeded")
    assert "stage 0 (MAP) node" in msg and "limit exceeded: memory" in msg, msg
    still_serving(srv, "evilp", srv.evil)


# ---- the TRANSFORM script (transform container) --------------------------------
def test_transform_cannot_read_host_files(srv):
    data = srv.data_dir
    secrets = [str(data / "keys" / "root.key"), str(data / "catalog.db"),
               str(data / "admin.credentials"), f"/proc/{srv.proc.pid}/environ"]
    body = ok(srv, "evilp", transform("probe_files.py", *secrets), srv.evil)
    rows = body["rows"]
    files = {r[1]: r[2] for r in rows if r[0] == "file"}
    assert set(secrets) <= set(files), rows
    assert all(v != "READ" for v in files.values()), files
    # cordond's files are not in the container's root at all
    assert all(files[p] == "errno:2" for p in secrets[:3]), files
    # /proc is the container's own pid namespace: its init (pid 1, which
    # exec'd cordon-reap from an execute-only memfd, so non-dumpable:
    # environ, maps, mem, root and cwd are EACCES below), the node, and the
    # script; nothing of the host's
    procs = {int(r[1]): r[2] for r in rows if r[0] == "proc"}
    assert 0 < len(procs) <= 4, procs
    assert any("cordon-node stage" in c for c in procs.values()), procs
    assert any("probe_files.py" in c for c in procs.values()), procs
    progs = {pid: c.split(" ")[0].rsplit("/", 1)[-1] for pid, c in procs.items()}
    assert progs[1] == "cordon-reap" and set(progs.values()) <= {"cordon-reap", "cordon-node",
                                                                 "python3"}, procs
    assert list(progs.values()).count("cordon-reap") == 1, procs
    for p in ("/proc/1/environ", "/proc/1/maps", "/proc/1/mem", "/proc/1/root/etc/shadow",
              "/proc/1/cwd/catalog.db"):
        assert files[p] == "errno:13", (p, files)
    still_serving(srv, "evilp", srv.evil)


def test_transform_cannot_reach_the_host_network(srv):
    targets = [f"127.0.0.1:{srv.port}"] + [f"{a}:{srv.port}" for a in sorted(host_addresses())]
    # the control: from the test (host netns), cordond's port is open
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10):
        pass
    body = ok(srv, "evilp", transform("probe_net.py", *targets), srv.evil)
    got = {r[1]: r[2] for r in body["rows"] if r[0] == "net"}
    assert set(got) == set(targets), body["rows"]
    assert all(v != "CONNECTED" for v in got.values()), got
    # the node's own loopback answers, but nothing listens there
    assert got[f"127.0.0.1:{srv.port}"] == "ECONNREFUSED", got
    still_serving(srv, "evilp", srv.evil)


@pytest.mark.parametrize("nr,name", [(101, "ptrace"), (272, "unshare")])
def test_transform_forbidden_syscall_is_a_seccomp_kill(srv, nr, name):
    msg = failed(srv, "evilp", transform("syscall.py", str(nr)), srv.evil, "NodeViolation")
    assert f"syscall {name} ({nr}) not allowed" in msg, msg
    assert "ended by the container" in msg, msg
    still_serving(srv, "evilp", srv.evil)


def test_transform_fork_bomb_ends_at_the_pids_limit(srv):
    msg = failed(srv, "evilp", transform("fork_bomb.py"), srv.evil, "LimitExceeded")
    assert "pids limit" in msg and "reached" in msg, msg
    still_serving(srv, "evilp", srv.evil)


# ---- two tenants at once -------------------------------------------------------
def test_concurrent_jobs_of_two_tenants_cannot_see_each_other(srv):
    before = set(descendants(srv.proc.pid))
    # job A (tenant acme) holds its nodes until the test cancels it
    st, a = srv.call("POST", "/v1/projects/sales/jobs?wait=0", {
        "sql": "SET cordon.nodes=2; SET cordon.node.timeout=300s; "
               "SELECT TRANSFORM(id, s) USING '/usr/bin/python3 hold.py' RESOURCES 'hold.py' "
               "AS (id BIGINT, s STRING) FROM t;"}, keys=srv.acme)
    assert st == 202, a
    try:
        # A's nodes, seen from the host: their processes and overlay addresses
        a_addrs, a_cmds = set(), set()
        for _ in range(600):
            st, status = srv.call("GET", f"/v1/projects/sales/jobs/{a['id']}", keys=srv.acme)
            assert status["status"] in ("queued", "running"), status
            pids = [p for p in descendants(srv.proc.pid) if p not in before]
            holds = [p for p in pids if "hold.py" in cmdline(p)]
            if len(holds) == 2:
                for p in holds:
                    a_addrs |= node_addresses(p)
                    a_cmds.add(cmdline(p))
                if len(a_addrs) == 2:
                    break
            time.sleep(0.05)
        assert len(a_addrs) == 2, (a_addrs, status)
        # job B (tenant evil) probes A's nodes, and its own view of processes
        targets = [f"{ip}:{NODE_PORT}" for ip in sorted(a_addrs)]
        for ip in sorted(a_addrs):
            base = ip.rsplit(".", 1)[0]
            targets += [f"{base}.1:{NODE_PORT}", f"{base}.{int(ip.rsplit('.', 1)[1]) + 8}:22"]
        body = ok(srv, "evilp", "SET cordon.nodes=2; " + transform("probe_net.py", *targets),
                  srv.evil)
        rows = body["rows"]
        net = [r for r in rows if r[0] == "net"]
        assert len(net) == 2 * len(targets), rows      # both B nodes probed every target
        assert all(r[2] != "CONNECTED" for r in net), net
        procs = [r[2] for r in rows if r[0] == "proc"]
        assert procs and not any("hold.py" in c for c in procs), procs
        # B's nodes live in another /24 than A's
        b_seen = {r[1] for r in net}
        assert b_seen == set(targets)
        # A was running the whole time, undisturbed
        st, status = srv.call("GET", f"/v1/projects/sales/jobs/{a['id']}", keys=srv.acme)
        assert status["status"] == "running", status
        # and tenant evil cannot see or cancel A through the API
        for path in (f"/v1/projects/sales/jobs/{a['id']}", f"/v1/projects/evilp/jobs/{a['id']}"):
            st, res = srv.call("GET", path, keys=srv.evil)
            assert st in (403, 404), res
        st, res = srv.call("DELETE", f"/v1/projects/sales/jobs/{a['id']}", keys=srv.evil)
        assert st in (403, 404), res
    finally:
        st, res = srv.call("DELETE", f"/v1/projects/sales/jobs/{a['id']}", keys=srv.acme)
    assert st in (200, 202, 204), res
    for _ in range(600):
        st, status = srv.call("GET", f"/v1/projects/sales/jobs/{a['id']}", keys=srv.acme)
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert status["status"] == "cancelled", status
    wait_no_nodes(srv)
    still_serving(srv, "sales", srv.acme)
