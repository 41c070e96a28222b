"""Untrusted code in an overlay node's container (cordon overlay run, real
sandbox) tries to reconfigure its network or to step around it. Two layers
answer: the container's seccomp profile (the node ends as "seccomp"), and,
for what reaches the kernel, the node netns belonging to the initial user
namespace (EPERM/EROFS/...). Either is a pass; the attempt succeeding is not.
A control run shows nodes still talk to each other."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "netprobe"))
import ovlnet  # noqa: E402
from ovlnet import Netns  # noqa: E402

PRELUDE = r"""
import errno, socket, subprocess, sys
def sysctl(key, value):
    with open("/proc/sys/" + key, "w") as f:
        f.write(value)
def ip(*args):
    r = subprocess.run(["/usr/sbin/ip", *args], capture_output=True)
    if r.returncode != 0:
        raise OSError(errno.EPERM, r.stderr.decode())
try:
    ATTEMPT
    print("ALLOWED", flush=True)
except OSError as e:
    print("denied", errno.errorcode.get(e.errno, e.errno), flush=True)
"""

ATTEMPTS = {
    "packet-socket": "socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    "raw-socket": "socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)",
    "ipv6-on": "sysctl('net/ipv6/conf/all/disable_ipv6', '0')",
    "forwarding-on": "sysctl('net/ipv4/ip_forward', '1')",
    "default-route": "ip('route', 'add', 'default', 'dev', 'eth0')",
    "change-address": "ip('addr', 'add', '10.0.0.99/24', 'dev', 'eth0')",
    "change-mac": "ip('link', 'set', 'eth0', 'address', '02:00:00:00:00:99')",
    "new-link": "ip('link', 'add', 'x0', 'type', 'bridge')",
    "ipv6-socket": "socket.socket(socket.AF_INET6, socket.SOCK_STREAM)"
                   ".connect(('fe80::1', 9, 0, 2))",
}

CONTROL = r"""
import os, socket, time
peer = os.environ["CORDON_PEERS"].split(",")[0]
if os.environ["CORDON_NODE_INDEX"] == "1":
    s = socket.socket(); s.bind((os.environ["CORDON_NODE_ADDR"], 7000)); s.listen(1)
    c, _ = s.accept(); c.sendall(b"peer-ok"); c.close()
else:
    for _ in range(5000):
        try:
            c = socket.create_connection((peer, 7000), timeout=5); break
        except ConnectionRefusedError:
            time.sleep(0.01)
    print("control", c.recv(10).decode(), flush=True)
"""


@pytest.fixture
def outer():
    ovlnet.need_root()
    ns = Netns("outer")
    yield ns
    ns.close()


def overlay_run(bin_dir, outer, tmp_path, nodes, script):
    r = ovlnet.ns_run(outer.path, [str(bin_dir / "cordon"), "overlay", "run", "--nodes",
                                   str(nodes), "--run-dir", str(tmp_path / "run"), "--",
                                   "/usr/bin/python3", "-c", script], timeout=120)
    if "not available in this build" in r.stderr:
        pytest.skip("containers are not available in this build")
    assert os.listdir(tmp_path / "run") == []
    return r


def test_nodes_talk_in_containers(bin_dir, outer, tmp_path):
    r = overlay_run(bin_dir, outer, tmp_path, 2, CONTROL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "control peer-ok" in r.stdout


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_node_code_cannot_reconfigure_its_network(bin_dir, outer, tmp_path, name):
    r = overlay_run(bin_dir, outer, tmp_path, 1, PRELUDE.replace("ATTEMPT", ATTEMPTS[name]))
    assert "ALLOWED" not in r.stdout, r.stdout
    killed = "node 0 10.0.0.2 seccomp" in r.stdout
    denied = any(l.startswith("denied ") for l in r.stdout.splitlines())
    assert killed or denied, r.stdout + r.stderr
