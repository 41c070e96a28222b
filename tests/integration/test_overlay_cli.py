"""`cordon overlay run` / `cordon overlay gc`: the CLI end to end, in an
outer network namespace the test makes (the CLI creates its overlay in the
netns it runs in)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security", "netprobe"))
import ovlnet  # noqa: E402
from ovlnet import Netns  # noqa: E402


@pytest.fixture
def outer():
    ovlnet.need_root()
    ns = Netns("outer")
    yield ns
    ns.close()


def cordon(bin_dir, outer, *args, timeout=120):
    return ovlnet.ns_run(outer.path, [str(bin_dir / "cordon"), "overlay", *args], timeout=timeout)


def containers_available(bin_dir, outer, tmp_path):
    r = cordon(bin_dir, outer, "run", "--nodes", "1", "--run-dir", str(tmp_path / "probe"),
               "--", "/bin/true")
    return "not available in this build" not in r.stderr


def test_help_and_usage_errors(bin_dir, outer, tmp_path):
    r = cordon(bin_dir, outer, "--help")
    assert r.returncode == 0 and "overlay run --nodes N" in r.stdout
    run_dir = str(tmp_path / "run")
    for args, msg in [(["run", "--", "/bin/true"], "--nodes is required"),
                      (["run", "--nodes", "2"], "no command"),
                      (["run", "--nodes", "0", "--", "/bin/true"], "--nodes must be"),
                      (["run", "--nodes", "2", "--grant", "198.51.100.7:80", "--",
                        "/bin/true"], "needs --gateway-netns"),
                      (["run", "--nodes", "2", "--grant", "198.51.100.7", "--", "/bin/true"],
                       "not CIDR:PORT"),
                      (["run", "--nodes", "2", "--env", "NOEQUALS", "--", "/bin/true"],
                       "K=V"),
                      (["frobnicate"], "unknown subcommand")]:
        r = cordon(bin_dir, outer, *args[:1], "--run-dir", run_dir, *args[1:]) \
            if args[0] == "run" else cordon(bin_dir, outer, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
    assert not os.path.exists(run_dir) or os.listdir(run_dir) == []


def test_prints_subnet_and_cleans_up_when_nodes_fail(bin_dir, outer, tmp_path):
    run_dir = tmp_path / "run"
    r = cordon(bin_dir, outer, "run", "--nodes", "3", "--job", "clijob", "--run-dir",
               str(run_dir), "--", "/nonexistent/command")
    assert r.returncode == 1
    assert "overlay clijob: subnet 10.0.0.0/24" in r.stderr
    assert "overlay clijob: node 2 10.0.0.4" in r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(l.startswith(f"node {i} 10.0.0.{i + 2} ")
                                   for i, l in enumerate(lines))
    assert not any(l.endswith(" exit 0") for l in lines)
    assert os.listdir(run_dir) == []


NODE_SCRIPT = r"""
import os, socket, sys
i = int(os.environ["CORDON_NODE_INDEX"]); me = os.environ["CORDON_NODE_ADDR"]
peers = os.environ["CORDON_PEERS"].split(",")
if i == 0:
    s = socket.socket(); s.bind((me, 7000)); s.listen(8)
    for _ in peers:
        c, _ = s.accept(); c.sendall(b"from0"); c.close()
else:
    for _ in range(2000):
        try:
            c = socket.create_connection((peers[0], 7000), timeout=5); break
        except ConnectionRefusedError:
            import time; time.sleep(0.01)
    assert c.recv(10) == b"from0"
print("node", i, me, "peers", ",".join(peers), os.environ.get("EXTRA"), flush=True)
"""


def test_nodes_run_in_containers_and_talk(bin_dir, outer, tmp_path):
    if not containers_available(bin_dir, outer, tmp_path):
        pytest.skip("containers are not available in this build")
    run_dir = tmp_path / "run"
    r = cordon(bin_dir, outer, "run", "--nodes", "3", "--job", "talk", "--run-dir",
               str(run_dir), "--env", "EXTRA=yes", "--", "/usr/bin/python3", "-c", NODE_SCRIPT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "node 1 10.0.0.3 peers 10.0.0.2,10.0.0.4 yes" in r.stdout
    assert "node 0 10.0.0.2 peers 10.0.0.3,10.0.0.4 yes" in r.stdout
    for i in range(3):
        assert f"node {i} 10.0.0.{i + 2} exit 0" in r.stdout
    assert os.listdir(run_dir) == []


def test_a_failing_node_fails_the_run(bin_dir, outer, tmp_path):
    if not containers_available(bin_dir, outer, tmp_path):
        pytest.skip("containers are not available in this build")
    script = 'import os,sys; sys.exit(3 if os.environ["CORDON_NODE_INDEX"] == "1" else 0)'
    r = cordon(bin_dir, outer, "run", "--nodes", "2", "--run-dir", str(tmp_path / "run"),
               "--", "/usr/bin/python3", "-c", script)
    assert r.returncode == 1
    assert "node 0 10.0.0.2 exit 0" in r.stdout and "node 1 10.0.0.3 exit 3" in r.stdout


def test_gc_command(bin_dir, outer, tmp_path):
    r = cordon(bin_dir, outer, "gc", "--run-dir", str(tmp_path / "none"))
    assert r.returncode == 0
    assert r.stdout.strip() == "removed 0 overlays, killed 0 processes, removed 0 gateway objects"


GRANT_SCRIPT = r"""
import socket
for port in (8080, 8081):
    try:
        c = socket.create_connection(("198.51.100.7", port), timeout=1)
        print(port, "ok", c.recv(20).decode(), flush=True)
    except OSError as e:
        print(port, "fail", type(e).__name__, flush=True)
"""


def test_grant_through_the_cli(bin_dir, outer, tmp_path):
    if not containers_available(bin_dir, outer, tmp_path):
        pytest.skip("containers are not available in this build")
    gw, ext = Netns("gateway"), Netns("external")
    servers = []
    try:
        ovlnet.link_pair(gw, "g-ext", "198.51.100.1/24", ext, "e-ext", "198.51.100.7/24")
        gw.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        servers = [ovlnet.Server(ext.path, "0.0.0.0", 8080, "granted"),
                   ovlnet.Server(ext.path, "0.0.0.0", 8081, "other")]
        run_dir = tmp_path / "run"
        r = cordon(bin_dir, outer, "run", "--nodes", "2", "--run-dir", str(run_dir),
                   "--grant", "198.51.100.7:8080", "--gateway-netns", gw.path, "--",
                   "/usr/bin/python3", "-c", GRANT_SCRIPT)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.count("8080 ok granted") == 2
        assert r.stdout.count("8081 fail") == 2
        assert os.listdir(run_dir) == []
        assert "cordon" not in gw.run(["nft", "list", "tables"]).stdout
        ovlnet.wait_until(lambda: not ovlnet.gateway_links(gw), "uplink removed")
    finally:
        for s in servers:
            s.close()
        gw.close()
        ext.close()
