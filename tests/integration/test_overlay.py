"""netoverlay/ through its test driver: topology, reachability, isolation,
grants, cleanup, gc after a crash.

Each test makes its own outer network namespace and runs the library in it;
gateway and "external" namespaces are made by the test too. The only
addresses used are the overlays' own, 192.0.2.0/24 inside the outer netns
and 198.51.100.0/24 inside the external netns.
"""
import fcntl
import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security", "netprobe"))
import ovlnet  # noqa: E402
from ovlnet import Netns, Overlay, Server, probe, tcp_ok  # noqa: E402

NS_GET_USERNS = 0xB701


@pytest.fixture
def outer():
    ovlnet.need_root()
    ns = Netns("outer")
    yield ns
    ns.close()


@pytest.fixture
def made(build_dir, outer, tmp_path):
    """Factory of overlays in `outer`; destroys what the test left."""
    run_dir = tmp_path / "run"
    overlays = []

    def make(job, nodes, *extra):
        ov = Overlay(build_dir, outer, run_dir, job, nodes, extra)
        overlays.append(ov)
        return ov

    make.run_dir = run_dir
    yield make
    for ov in overlays:
        ov.kill()


@pytest.fixture
def servers():
    started = []

    def start(*args, **kw):
        s = Server(*args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


@pytest.fixture
def granted_world(outer):
    """gateway G (forwarding on, as a host would be) and external E with two
    hosts 198.51.100.7 and .8, joined by a veth on 198.51.100.0/24."""
    gw, ext = Netns("gateway"), Netns("external")
    try:
        ovlnet.link_pair(gw, "g-ext", "198.51.100.1/24", ext, "e-ext", "198.51.100.7/24")
        ext.run(["ip", "addr", "add", "198.51.100.8/24", "dev", "e-ext"])
        gw.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        yield gw, ext
    finally:
        gw.close()
        ext.close()


def links(ns):
    return sorted(l.split(":")[1].strip().split("@")[0]
                  for l in ns.run(["ip", "-o", "link"]).stdout.splitlines())


def read_sysctl(path, key):
    return ovlnet.ns_run(path, ["cat", "/proc/sys/" + key], check=True).stdout.strip()


def test_topology_and_settings(made, outer):
    before = links(outer)
    ov = made("topo", 3)
    assert ov.subnet.endswith(".0/24")
    net = ov.subnet.rsplit(".", 1)[0]
    assert [n["addr"] for n in ov.nodes] == [f"{net}.{i}" for i in (2, 3, 4)]
    for n in ov.nodes:
        routes = ovlnet.ns_run(n["ns"], ["ip", "-4", "route", "show", "table", "all"],
                               check=True).stdout
        assert "default" not in routes
        main = ovlnet.ns_run(n["ns"], ["ip", "-4", "route"], check=True).stdout.splitlines()
        assert main == [f"{ov.subnet} dev eth0 proto kernel scope link src {n['addr']} "]
        assert read_sysctl(n["ns"], "net/ipv6/conf/all/disable_ipv6") == "1"
        assert read_sysctl(n["ns"], "net/ipv6/conf/eth0/disable_ipv6") == "1"
        assert read_sysctl(n["ns"], "net/ipv4/ip_forward") == "0"
        # Jumbo MTU on the overlay: it never leaves the machine.
        eth0 = ovlnet.ns_run(n["ns"], ["ip", "-o", "link", "show", "eth0"], check=True).stdout
        assert " mtu 65535 " in eth0, eth0
        # Owned by the creator's user namespace (the initial one for cordond), not a child.
        fd = os.open(n["ns"], os.O_RDONLY)
        try:
            userns = fcntl.ioctl(fd, NS_GET_USERNS)
            assert os.fstat(userns).st_ino == os.stat("/proc/self/ns/user").st_ino
            os.close(userns)
        finally:
            os.close(fd)
    assert read_sysctl(ov.hub, "net/bridge/bridge-nf-call-iptables") == "0"
    assert read_sysctl(ov.hub, "net/ipv6/conf/all/disable_ipv6") == "1"
    assert read_sysctl(ov.hub, "net/ipv4/ip_forward") == "0"
    hub_addrs = ovlnet.ns_run(ov.hub, ["ip", "-4", "-o", "addr"], check=True).stdout
    assert [l.split()[1] for l in hub_addrs.strip().splitlines()] == ["lo"]
    # The namespace the library ran in got no device.
    assert links(outer) == before


def test_nodes_reach_each_other_tcp_and_udp(made, servers):
    ov = made("reach", 3)
    servers(ov.nodes[1]["ns"], "0.0.0.0", 7000, "node1")
    for src in (0, 2):
        assert probe(ov.nodes[src]["ns"], "tcp-connect", ov.nodes[1]["addr"], 7000, 5) == \
            "ok node1"
        assert probe(ov.nodes[src]["ns"], "udp-ask", ov.nodes[1]["addr"], 7000, 5, "hi") == \
            "ok node1"


def test_node_reaches_nothing_else(made, outer, servers):
    outer.run(["ip", "link", "add", "d0", "type", "bridge"])
    outer.run(["ip", "addr", "add", "192.0.2.1/24", "dev", "d0"])
    outer.run(["ip", "link", "set", "d0", "up"])
    servers(outer.path, "0.0.0.0", 7001, "outer")  # incl. 127.0.0.1
    a = made("joba", 2)
    b = made("jobb", 2)
    assert a.subnet != b.subnet
    servers(b.nodes[0]["ns"], "0.0.0.0", 7003, "jobb")
    servers(a.hub, "0.0.0.0", 7002, "hub")
    # Controls: the servers answer where they should.
    assert probe(b.nodes[1]["ns"], "tcp-connect", b.nodes[0]["addr"], 7003, 5) == "ok jobb"
    assert probe(outer.path, "tcp-connect", "127.0.0.1", 7001, 5) == "ok outer"
    net = a.subnet.rsplit(".", 1)[0]
    src = a.nodes[0]["ns"]
    for addr, port in [("127.0.0.1", 7001), ("192.0.2.1", 7001), (b.nodes[0]["addr"], 7003),
                       (f"{net}.1", 7002), (f"{net}.254", 7002), ("198.51.100.7", 80),
                       ("10.255.255.1", 80)]:
        out = probe(src, "tcp-connect", addr, port, 1)
        assert out.startswith("fail"), (addr, port, out)
        out = probe(src, "udp-ask", addr, port, 1, "x")
        assert out.startswith("fail"), (addr, port, out)


def test_destroy_leaves_nothing(made, outer):
    mounts = ovlnet.nsfs_mounts()
    before = links(outer)
    ov = made("gone", 4)
    assert sorted(os.listdir(made.run_dir)) == ["job-gone", "subnet-" + ov.subnet[:-3]]
    assert ov.destroy() == 0
    assert os.listdir(made.run_dir) == []
    assert ovlnet.netns_users(ov.ns_inodes) == []
    assert ovlnet.nsfs_mounts() == mounts
    assert links(outer) == before


def test_ipam_never_shares_a_live_subnet(made, build_dir, outer):
    a = made("one", 1)
    b = made("two", 1)
    assert a.subnet != b.subnet
    # A fixed subnet already leased is refused; the same job id twice too.
    with pytest.raises(ovlnet.OverlayError, match="leased to a live job"):
        made("three", 1, "--subnet", a.subnet)
    with pytest.raises(ovlnet.OverlayError, match="already has a live overlay"):
        made("one", 1)
    # Released on destroy: the next job may get it.
    a.destroy()
    c = made("four", 1, "--subnet", a.subnet)
    assert c.subnet == a.subnet


def test_ipam_avoids_the_hosts_routes(made, outer):
    outer.run(["ip", "link", "add", "d0", "type", "bridge"])
    outer.run(["ip", "addr", "add", "10.0.0.1/23", "dev", "d0"])
    outer.run(["ip", "link", "set", "d0", "up"])
    ov = made("avoid", 1)
    assert ov.subnet == "10.0.2.0/24"
    with pytest.raises(ovlnet.OverlayError, match="overlaps a route"):
        made("fixed", 1, "--subnet", "10.0.1.0/24")


def gw_objects(gw):
    tables = gw.run(["nft", "list", "tables"]).stdout
    return [l for l in links(gw) if l.startswith("cdn-")], \
        [l for l in tables.splitlines() if "cordon" in l]


def test_grant_allows_exactly_the_destination(made, granted_world, servers):
    gw, ext = granted_world
    servers(ext.path, "0.0.0.0", 8080, "granted")
    servers(ext.path, "0.0.0.0", 8081, "other")
    servers(gw.path, "0.0.0.0", 8080, "gateway")
    plain = made("plain", 1)
    ov = made("grant", 2, "--grant", "198.51.100.7/32:8080", "--gateway", gw.path)
    hub_server = servers(ov.hub, "0.0.0.0", 8080, "hub")
    net = ov.subnet.rsplit(".", 1)[0]
    n0 = ov.nodes[0]["ns"]
    assert probe(n0, "tcp-connect", "198.51.100.7", 8080, 5) == "ok granted"
    assert probe(ov.nodes[1]["ns"], "tcp-connect", "198.51.100.7", 8080, 5) == "ok granted"
    for addr, port in [("198.51.100.7", 8081), ("198.51.100.8", 8080), ("198.51.100.1", 8080),
                       (f"{net}.1", 8080), (f"{net}.254", 8080), (f"{net}.253", 8080)]:
        out = probe(n0, "tcp-connect", addr, port, 1)
        assert out.startswith("fail"), (addr, port, out)
    # UDP to the granted host and port is not granted (grants are TCP).
    assert probe(n0, "udp-ask", "198.51.100.7", 8080, 1, "x").startswith("fail")
    # Without the grant nothing connects.
    assert probe(plain.nodes[0]["ns"], "tcp-connect", "198.51.100.7", 8080, 1).startswith("fail")
    # Nodes got a route to the granted prefix only, still no default route.
    routes = ovlnet.ns_run(n0, ["ip", "-4", "route"], check=True).stdout
    assert "default" not in routes and "198.51.100.7 via" in routes
    assert gw_objects(gw) == (["cdn-grant"], ["table ip cordon_grant"])
    hub_server.close()  # it would keep the hub netns (and so the uplink) alive
    ov.destroy()
    # The table goes at once; the uplink with the hub netns, asynchronously.
    assert gw_objects(gw)[1] == []
    ovlnet.wait_until(lambda: links(gw) == ["g-ext", "lo"], "uplink removed")


def test_bulk_transfers_node_to_node_and_through_a_grant(made, granted_world):
    """4 MiB node to node (jumbo MTU end to end) and through a grant, whose
    uplink has MTU 1500: the node's route to the granted prefix carries that
    MTU, so the first segments are already the right size (path MTU
    discovery alone, through the hub's ICMP, also works: checked by hand)."""
    gw, ext = granted_world
    ov = made("bulk", 2, "--grant", "198.51.100.7/32:8090", "--gateway", gw.path)
    routes = ovlnet.ns_run(ov.nodes[0]["ns"], ["ip", "-4", "route"], check=True).stdout
    assert "198.51.100.7 via" in routes and "mtu 1500" in routes, routes
    size = 4 << 20
    for dst_ns, addr in [(ov.nodes[1]["ns"], ov.nodes[1]["addr"]), (ext.path, "198.51.100.7")]:
        sink = ovlnet.Probe(dst_ns, "tcp-sink", "0.0.0.0", 8090)
        try:
            assert probe(ov.nodes[0]["ns"], "tcp-send", addr, 8090, size, 10) == f"ok sent {size}"
            assert sink.result().strip() == str(size)
        finally:
            sink.close()


def test_grant_port_range_and_prefix(made, granted_world, servers):
    gw, ext = granted_world
    servers(ext.path, "0.0.0.0", 8080, "a")
    servers(ext.path, "0.0.0.0", 8081, "b")
    servers(ext.path, "0.0.0.0", 8082, "c")
    ov = made("range", 1, "--grant", "198.51.100.0/24:8080-8081", "--gateway", gw.path)
    n0 = ov.nodes[0]["ns"]
    assert probe(n0, "tcp-connect", "198.51.100.8", 8081, 5) == "ok b"
    assert probe(n0, "tcp-connect", "198.51.100.7", 8080, 5) == "ok a"
    assert probe(n0, "tcp-connect", "198.51.100.7", 8082, 1).startswith("fail")
    # The gateway's own address inside the granted prefix stays unreachable.
    servers(gw.path, "0.0.0.0", 8081, "gateway")
    assert probe(n0, "tcp-connect", "198.51.100.1", 8081, 1).startswith("fail")


def test_grant_rejects_bad_destinations(made, granted_world):
    gw, _ = granted_world
    for bad in ["198.51.100.7/32", "198.51.100.7/33:80", "198.51.100.7/24:80",
                "198.51.100.7:0", "198.51.100.7:90-80", "nohost:80", "198.51.100.7:65536"]:
        with pytest.raises(ovlnet.OverlayError):
            made("bad", 1, "--grant", bad, "--gateway", gw.path)
    with pytest.raises(ovlnet.OverlayError, match="overlaps the job subnet"):
        made("bad", 1, "--subnet", "10.9.9.0/24", "--grant", "10.9.0.0/16:80", "--gateway",
             gw.path)
    with pytest.raises(ovlnet.OverlayError, match="not a network namespace|namespace file"):
        made("bad", 1, "--grant", "198.51.100.7:80", "--gateway", "/proc/self/ns/user")
    assert gw_objects(gw) == ([], [])


def test_gc_after_owner_sigkill(build_dir, made, outer, granted_world):
    gw, _ = granted_world
    mounts = ovlnet.nsfs_mounts()
    ov = made("crash", 2, "--grant", "198.51.100.7:8080", "--gateway", gw.path)
    # A process left in a node netns keeps it alive after the owner dies.
    straggler = subprocess.Popen(["nsenter", f"--net={ov.nodes[0]['ns']}", "sleep", "1000"])
    try:
        while os.readlink(f"/proc/{straggler.pid}/ns/net") != f"net:[{ov.ns_inodes[0]}]":
            os.sched_yield()
        os.kill(ov.pid, signal.SIGKILL)
        ov.proc.wait()
        assert gw_objects(gw)[1] == ["table ip cordon_crash"]
        # A table of a job nobody owns, as a crashed owner's lost record would leave.
        gw.run(["nft", "add", "table", "ip", "cordon_lost"])
        r = ovlnet.ns_run(outer.path, [str(ov.exe), "--gc", "--run-dir", str(made.run_dir),
                                       "--gateway", gw.path], check=True)
        assert r.stdout.strip() == '{"overlays": 1, "processes": 1, "gw_objects": 2}'
        assert straggler.wait(timeout=10) == -signal.SIGKILL
    finally:
        if straggler.poll() is None:
            straggler.kill()
            straggler.wait()
    assert gw_objects(gw) == ([], [])
    assert os.listdir(made.run_dir) == []
    assert ovlnet.netns_users(ov.ns_inodes) == []
    assert ovlnet.nsfs_mounts() == mounts


def test_gc_leaves_live_overlays_alone(build_dir, made, outer, granted_world, servers):
    gw, ext = granted_world
    servers(ext.path, "0.0.0.0", 8080, "granted")
    ov = made("alive", 1, "--grant", "198.51.100.7:8080", "--gateway", gw.path)
    r = ovlnet.ns_run(outer.path, [str(ov.exe), "--gc", "--run-dir", str(made.run_dir),
                                   "--gateway", gw.path], check=True)
    assert r.stdout.strip() == '{"overlays": 0, "processes": 0, "gw_objects": 0}'
    assert probe(ov.nodes[0]["ns"], "tcp-connect", "198.51.100.7", 8080, 5) == "ok granted"


def test_hundred_cycles_leak_nothing(build_dir, outer, granted_world, tmp_path):
    gw, _ = granted_world
    mounts = ovlnet.nsfs_mounts()
    run_dir = tmp_path / "run"
    exe = build_dir / "tests" / "netprobe" / "ovl_hold"
    before = links(outer)
    r = ovlnet.ns_run(outer.path, [str(exe), "--job", "cyc", "--nodes", "2", "--run-dir",
                                   str(run_dir), "--cycles", "100", "--grant",
                                   "198.51.100.7:8080", "--gateway", gw.path], timeout=120)
    assert r.returncode == 0, r.stderr
    import json
    counts = json.loads(r.stdout)
    assert counts["fds_after"] == counts["fds_before"]
    assert os.listdir(run_dir) == []
    assert gw_objects(gw)[1] == []
    ovlnet.wait_until(lambda: gw_objects(gw) == ([], []), "uplinks removed")
    assert links(outer) == before
    assert ovlnet.nsfs_mounts() == mounts


def test_same_job_granted_again_right_after_destroy(made, granted_world, servers):
    gw, ext = granted_world
    servers(ext.path, "0.0.0.0", 8080, "granted")
    for _ in range(3):
        ov = made("again", 1, "--grant", "198.51.100.7:8080", "--gateway", gw.path)
        assert probe(ov.nodes[0]["ns"], "tcp-connect", "198.51.100.7", 8080, 5) == "ok granted"
        ov.destroy()
    ovlnet.wait_until(lambda: gw_objects(gw) == ([], []), "uplink removed")
