"""net.connect from a Lua UDF in a real node container on a job overlay that
holds a network-link grant — the path a job with
`SET odps.session.networklink=<link>` takes:

  catalog link -> sch_netlinks_apply (ovl_grant through a gateway netns)
  -> cordon-node stage (plan limits.network = true) in a udf-profile
  container joined to the node's netns -> the UDF calls net.connect.

build/tests/cordon-netlink-stage does the runner's part; this file makes the
world: an outer netns the overlay lives in, a gateway netns G (forwarding
on, as a host would be) and an external netns E with two hosts
198.51.100.7 and .8 and TCP echo servers on ports 8080 and 8081. All of them
are namespaces this test made (unshare), removed at the end; no traffic
leaves them.

Granted: 198.51.100.7:8080. The UDF reaches exactly that; another port of
the same host, another host of the same network, the gateway itself (the
host, in production) and the overlay's hub all fail; a node whose plan does
not enable the network has no `net` at all; a link on a server without a
gateway is the runner's clear error.
"""
import json
import os
import sys

import pytest

import rowfmt
from conftest import BUILD, run
from stage_util import stage_plan

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security", "netprobe"))
import ovlnet  # noqa: E402
from ovlnet import Netns  # noqa: E402

HELPER = BUILD / "tests" / "cordon-netlink-stage"

PROBE_LUA = r"""
local M = {}
-- connect, say hello, return what the peer answered (or why it failed)
function M.probe(host, port)
  if net == nil then return "no net" end
  local c, e = net.connect(host, port)
  if not c then return "fail " .. e end
  c:send("hello\n")
  local got = c:receive(100)
  c:close()
  return "ok " .. tostring(got)
end
return M
"""

F_PROBE = {"name": "probe", "kind": "scalar", "script": "probe.lua", "entry": "probe"}
IN_COLS = [("host", "STRING"), ("port", "BIGINT")]


@pytest.fixture
def world():
    """outer O (where the overlay is made), gateway G, external E."""
    ovlnet.need_root()
    made = []
    try:
        for name in ("outer", "gateway", "external"):
            made.append(Netns(name))
        outer, gw, ext = made
        ovlnet.link_pair(gw, "g-ext", "198.51.100.1/24", ext, "e-ext", "198.51.100.7/24")
        ext.run(["ip", "addr", "add", "198.51.100.8/24", "dev", "e-ext"])
        gw.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        servers = [ovlnet.Server(ext.path, "0.0.0.0", 8080, "granted"),
                   ovlnet.Server(ext.path, "0.0.0.0", 8081, "other-port"),
                   ovlnet.Server(gw.path, "0.0.0.0", 8080, "gateway")]
        yield outer, gw, ext
        for s in servers:
            s.close()
    finally:
        for ns in made:
            ns.close()


def run_stage(tmp_path, outer, targets, links=(), gateway=None, network=True):
    """Runs probe(host, port) for each target in one node; returns
    (process, {(host, port): answer})."""
    if not HELPER.exists():
        pytest.fail(f"{HELPER} is not built (run make build)")
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "in").write_bytes(rowfmt.encode_stream(IN_COLS, targets))
    (data / "probe.lua").write_text(PROBE_LUA)
    plan = stage_plan("SELECT host, port, probe(host, port) FROM in0",
                      [("in0", IN_COLS, {"fd": 5})],
                      [("host", "STRING"), ("port", "BIGINT"), ("r", "STRING")],
                      functions=[F_PROBE], limits={"network": network})
    plan["scripts"] = [{"name": "probe.lua", "fd": 6}]
    plan["output"]["sink"] = {"fd": 4}
    (data / "plan.json").write_text(json.dumps(plan))
    args = [str(HELPER), "--run-dir", str(tmp_path / "run")]
    for d in links:
        args += ["--link", d]
    if gateway:
        args += ["--gateway", gateway]
    args += [str(BUILD / "bin" / "cordon-node"), f"3={data / 'plan.json'}",
             f"4={data / 'sink'},w", f"5={data / 'in'}", f"6={data / 'probe.lua'}"]
    proc = run(["nsenter", f"--net={outer.path}", *args], timeout=180)
    answers = {}
    if (data / "sink").exists():
        _, rows, ended = rowfmt.decode_stream((data / "sink").read_bytes())
        if ended:
            answers = {(h, p): r for h, p, r in rows}
    # the overlay is gone with its run dir's leases
    assert not os.path.exists(tmp_path / "run") or os.listdir(tmp_path / "run") == []
    return proc, answers


def test_udf_reaches_exactly_the_granted_destination(world, tmp_path):
    outer, gw, _ = world
    targets = [("198.51.100.7", 8080), ("198.51.100.7", 8081), ("198.51.100.8", 8080),
               ("198.51.100.1", 8080), ("127.0.0.1", 8080)]
    proc, got = run_stage(tmp_path, outer, targets, links=["198.51.100.7:8080"],
                          gateway=gw.path)
    assert proc.returncode == 0, proc.stderr
    assert got[("198.51.100.7", 8080)] == "ok granted", got
    # same host, another port: dropped by the grant's forward chain
    assert got[("198.51.100.7", 8081)].endswith("connection timed out"), got
    # another host of the same network and the gateway (the host, in
    # production): the node has a route to the granted prefix only
    for t in targets[2:4]:
        assert got[t].endswith("Network is unreachable"), (t, got)
    # the node's own loopback holds nothing
    assert got[("127.0.0.1", 8080)].endswith("Connection refused"), got


def test_udf_port_range_and_prefix(world, tmp_path):
    outer, gw, _ = world
    targets = [("198.51.100.8", 8080), ("198.51.100.7", 8081), ("198.51.100.1", 8080)]
    proc, got = run_stage(tmp_path, outer, targets, links=["198.51.100.0/24:8080-8081"],
                          gateway=gw.path)
    assert proc.returncode == 0, proc.stderr
    assert got[("198.51.100.8", 8080)] == "ok granted", got
    assert got[("198.51.100.7", 8081)] == "ok other-port", got
    # the gateway's own address inside the granted prefix stays unreachable
    assert got[("198.51.100.1", 8080)].startswith("fail"), got


def test_without_a_link_nothing_outside_is_reachable(world, tmp_path):
    outer, gw, _ = world
    proc, got = run_stage(tmp_path, outer, [("198.51.100.7", 8080), ("198.51.100.1", 8080)],
                          gateway=gw.path)
    assert proc.returncode == 0, proc.stderr
    assert all(v.endswith("Network is unreachable") for v in got.values()), got


def test_plan_without_network_has_no_net(world, tmp_path):
    outer, gw, _ = world
    proc, got = run_stage(tmp_path, outer, [("198.51.100.7", 8080)],
                          links=["198.51.100.7:8080"], gateway=gw.path, network=False)
    assert proc.returncode == 0, proc.stderr
    assert got == {("198.51.100.7", 8080): "no net"}


def test_link_without_gateway_is_a_clear_error(world, tmp_path):
    outer, _, _ = world
    proc, got = run_stage(tmp_path, outer, [("198.51.100.7", 8080)],
                          links=["198.51.100.7:8080"])
    assert proc.returncode == 126, proc.stderr
    assert "network links are not configured on this server" in proc.stderr
    assert got == {}


def test_plan_network_field_is_a_boolean(bin_dir):
    """limits.network is true or false; anything else is a plan error (the
    node never guesses whether a job may use the network)."""
    from stage_util import run_stage as run_plain
    for bad in (1, "true", None):
        plan = stage_plan("SELECT 1", [], [("x", "BIGINT")], limits={"network": bad})
        r = run_plain(bin_dir, plan)
        assert r.rc == 1, r.stderr
        assert "limits.network must be true or false" in r.stderr, r.stderr
