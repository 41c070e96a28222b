"""Helpers of the overlay tests: namespaces the test makes, the ovl_hold
driver, and probes run inside namespaces (this file is also the probe
program: `python3 ovlnet.py COMMAND ...` run under nsenter).

Every namespace here is made by the test (unshare) and held by a `sleep`
process the test owns and kills by pid; the library's own namespaces are
reached as /proc/PID/fd/N of the ovl_hold process that holds them. Nothing is
ever created in the namespace pytest runs in, and probes talk only to
addresses inside those namespaces.
"""
import errno
import json
import os
import pathlib
import select
import signal
import socket
import struct
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"


def need_root():
    import pytest

    if os.geteuid() != 0:
        pytest.skip("overlay tests need root (network namespaces)")


# --------------------------------------------------------------------------
# Namespaces the test makes


class Netns:
    """A network namespace made by `unshare --net`, held by a sleep process."""

    def __init__(self, name="ns"):
        self.name = name
        mine = os.readlink("/proc/self/ns/net")
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "1000000"])
        self.path = f"/proc/{self.proc.pid}/ns/net"
        # unshare execs sleep once the netns exists; until then the pid is
        # still in ours. Bounded wait on a state change, not on time.
        for _ in range(100000):
            try:
                if os.readlink(self.path) != mine:
                    break
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("unshare --net failed")
            os.sched_yield()
        else:
            raise RuntimeError("unshare --net did not switch namespaces")
        self.ino = os.stat(self.path).st_ino
        self.run(["ip", "link", "set", "lo", "up"])

    @property
    def pid(self):
        return self.proc.pid

    def run(self, argv, check=True, timeout=30, **kw):
        r = subprocess.run(["nsenter", f"--net={self.path}", *argv], capture_output=True,
                           text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"{argv} in {self.name}: {r.stderr.strip()}")
        return r

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def link_pair(a, a_if, a_addr, b, b_if, b_addr, mtu=None):
    """A veth between two test namespaces (made with ip(8): test-side only),
    at the kernel's default MTU unless mtu is given."""
    m = ["mtu", str(mtu)] if mtu else []
    a.run(["ip", "link", "add", a_if, *m, "type", "veth", "peer", "name", b_if, "netns",
           str(b.pid), *m])
    a.run(["ip", "addr", "add", a_addr, "dev", a_if])
    a.run(["ip", "link", "set", a_if, "up"])
    b.run(["ip", "addr", "add", b_addr, "dev", b_if])
    b.run(["ip", "link", "set", b_if, "up"])


# --------------------------------------------------------------------------
# The library, through the ovl_hold driver


class Overlay:
    """One overlay created by ovl_hold running inside the namespace `outer`."""

    def __init__(self, build_dir, outer, run_dir, job, nodes, extra=()):
        self.exe = pathlib.Path(build_dir) / "tests" / "netprobe" / "ovl_hold"
        argv = ["nsenter", f"--net={outer.path}", str(self.exe), "--job", job, "--nodes",
                str(nodes), "--run-dir", str(run_dir), *extra]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            self.proc.wait()
            raise OverlayError(err.strip())
        self.info = json.loads(line)
        self.pid = self.info["pid"]
        self.nodes = self.info["nodes"]
        self.hub = self.info["hub"]
        self.subnet = self.info["subnet"]
        # Inodes now, while the paths exist, to look for leftovers later.
        self.ns_inodes = [os.stat(n["ns"]).st_ino for n in self.nodes]
        self.ns_inodes.append(os.stat(self.hub).st_ino)

    def node_run(self, i, argv, **kw):
        return ns_run(self.nodes[i]["ns"], argv, **kw)

    def destroy(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("destroy\n")
            self.proc.stdin.flush()
            out = self.proc.stdout.readline()
            self.proc.wait(timeout=30)
            assert out.strip() == "destroyed", out
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class OverlayError(Exception):
    pass


def ns_run(path, argv, check=False, timeout=30, **kw):
    return subprocess.run(["nsenter", f"--net={path}", *argv], capture_output=True, text=True,
                          timeout=timeout, check=check, **kw)


def probe(path, *args, timeout=30):
    """Runs this file's probe COMMAND inside the netns at path; returns stdout."""
    r = ns_run(path, [PYTHON, str(HERE / "ovlnet.py"), *map(str, args)], timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"probe {args} failed: {r.stderr.strip()}")
    return r.stdout.strip()


def tcp_ok(path, addr, port, timeout=1.0):
    """True if a TCP connection from netns path to addr:port gets the server's tag."""
    out = probe(path, "tcp-connect", addr, port, timeout)
    return out.startswith("ok ")


class Probe:
    """A long-running probe inside a netns (a server, a sniffer...), started
    and considered up once it prints "ready"."""

    def __init__(self, path, *args):
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={path}", PYTHON, str(HERE / "ovlnet.py"), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"probe {args} did not start: {self.proc.stderr.read()}")

    def result(self, timeout=30):
        """For probes that end by themselves: waits and returns their output."""
        out, _ = self.proc.communicate(timeout=timeout)
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def Server(path, addr, port, tag):
    """TCP and UDP server on addr:port answering with tag."""
    return Probe(path, "tcp-serve", addr, port, tag)


def netns_users(inodes):
    """Processes in, or holding an fd of, any of these netns inodes."""
    wanted = {f"net:[{i}]" for i in inodes}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/ns/net")]
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
        except OSError:
            continue
        if wanted.intersection(links):
            found.append(int(pid))
    return found


def wait_until(cond, what, tries=400):
    """Waits for the kernel's asynchronous cleanup (namespace teardown) to
    reach a state; bounded, and what decides is the state, not the time."""
    import time

    for _ in range(tries):
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"still not true after the kernel's cleanup: {what}")


def gateway_links(ns):
    return [l for l in ns.run(["ip", "-o", "link"]).stdout.splitlines() if ": cdn-" in l]


def nsfs_mounts():
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if " nsfs " in l]


# --------------------------------------------------------------------------
# Probe programs (run inside a namespace)


def _tcp_serve(addr, port, tag):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, int(port)))
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([s, u], [], [])
        if s in r:
            c, _ = s.accept()
            c.sendall(tag.encode())
            c.close()
        if u in r:
            data, peer = u.recvfrom(2048)
            print("udp", data.decode(errors="replace"), flush=True)
            u.sendto(tag.encode(), peer)


def _tcp6_serve(port, tag):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", int(port)))
    s.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        c.sendall(tag.encode())
        c.close()


def _udp_count(port, count):
    """Counts datagrams on port until `count` arrived or 2 s pass quietly."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", int(port)))
    u.settimeout(2.0)
    print("ready", flush=True)
    n = 0
    while n < int(count):
        try:
            u.recv(65535)
        except socket.timeout:
            break
        n += 1
    print(n, flush=True)


def _tcp_sink(addr, port):
    """Takes one TCP connection, reads it to EOF, prints the byte count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    n = 0
    while True:
        data = c.recv(1 << 20)
        if not data:
            break
        n += len(data)
    print(n, flush=True)


def _tcp_send(addr, port, nbytes, timeout):
    """Sends nbytes to addr:port in one connection and closes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        s.connect((addr, int(port)))
        s.sendall(b"x" * int(nbytes))
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        print("ok sent", nbytes)
    except socket.timeout:
        print("fail timeout")
    except OSError as e:
        print("fail", errno.errorcode.get(e.errno, str(e.errno)))


def _tcp_connect(addr, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    try:
        s.connect((addr, int(port)))
        data = s.recv(100)
        print("ok", data.decode(errors="replace"))
    except socket.timeout:
        print("fail timeout")
    except OSError as e:
        print("fail", errno.errorcode.get(e.errno, str(e.errno)))


def _udp_ask(addr, port, timeout, msg):
    """Sends msg to addr:port and waits for the server's answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(float(timeout))
    try:
        s.sendto(msg.encode(), (addr, int(port)))
        data, _ = s.recvfrom(100)
        print("ok", data.decode(errors="replace"))
    except socket.timeout:
        print("fail timeout")
    except OSError as e:
        print("fail", errno.errorcode.get(e.errno, str(e.errno)))


def _ip6_connect(addr, port, ifname):
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(1.0)
        s.connect((addr, int(port), 0, socket.if_nametoindex(ifname)))
        print("ok", s.recv(100).decode(errors="replace"))
    except socket.timeout:
        print("fail timeout")
    except OSError as e:
        print("fail", errno.errorcode.get(e.errno, str(e.errno)))


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def udp_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    """An Ethernet/IPv4/UDP frame (UDP checksum 0 = none)."""
    udp = struct.pack("!HHHH", int(sport), int(dport), 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x00" + ip + udp


def arp_frame(src_mac, dst_mac, op, sha, spa, tha, tpa):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, int(op), _mac(sha),
                      socket.inet_aton(spa), _mac(tha), socket.inet_aton(tpa))
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x06" + arp + b"\0" * 18


def ip6_frame(src_mac, dst_mac, payload):
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(payload), 17, 64,
                      socket.inet_pton(socket.AF_INET6, "fe80::1"),
                      socket.inet_pton(socket.AF_INET6, "fe80::2")) + payload
    return _mac(dst_mac) + _mac(src_mac) + b"\x86\xdd" + ip6


def _raw_send(ifname, *hexframes):
    """Sends Ethernet frames as given (needs CAP_NET_RAW: test-only helper)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for h in hexframes:
        s.send(bytes.fromhex(h))
    print("sent", len(hexframes))


def _sniff(ifname, count, *markers):
    """Prints which hex markers appear in frames received on ifname. Waits
    until each marker was seen or `count` frames arrived... bounded by a 2 s
    socket timeout per frame (quiet link = nothing more is coming)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((ifname, 0))
    s.settimeout(2.0)
    print("ready", flush=True)
    want = {bytes.fromhex(m) for m in markers}
    seen = set()
    for _ in range(int(count)):
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        for m in want:
            if m in frame:
                seen.add(m)
        if seen == want:
            break
    for m in sorted(seen):
        print("seen", m.hex(), flush=True)


def main(argv):
    cmd, args = argv[0], argv[1:]
    table = {
        "tcp-serve": _tcp_serve,
        "udp-serve": _tcp_serve,
        "tcp-connect": _tcp_connect,
        "tcp-sink": _tcp_sink,
        "tcp-send": _tcp_send,
        "udp-ask": _udp_ask,
        "tcp6-serve": _tcp6_serve,
        "udp-count": _udp_count,
        "ip6-connect": _ip6_connect,
        "raw-send": _raw_send,
        "sniff": _sniff,
    }
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    table[cmd](*args)


if __name__ == "__main__":
    main(sys.argv[1:])
