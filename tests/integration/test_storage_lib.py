"""Helpers for the storage tests (no tests here): start/stop real
cordon-chunkd processes, and a small Python speaker of the chunkd protocol
used to send exact and hostile messages."""
import hashlib
import hmac
import os
import pathlib
import signal
import socket
import struct
import subprocess
import time

PUT, GET, DELETE, LIST, STAT, COPY, VERIFY, SCRUB, RESP = 16, 17, 18, 19, 20, 21, 22, 23, 64
HELLO, AUTH, AUTH_OK = 1, 2, 3
LABEL_C = b"cordon-chunkd-v1 client proof"
LABEL_S = b"cordon-chunkd-v1 server proof"


def write_key(path, data=None):
    path = pathlib.Path(path)
    path.write_bytes(data if data is not None else os.urandom(32).hex().encode())
    path.chmod(0o600)
    return path


class Chunkd:
    """One cordon-chunkd process on 127.0.0.1 with a free port."""

    def __init__(self, bin_dir, data_dir, key_file, rack="r1", port=0, extra=()):
        self.bin_dir, self.data_dir, self.key_file, self.rack = bin_dir, data_dir, key_file, rack
        self.port, self.extra, self.proc = port, extra, None

    def start(self):
        pf = pathlib.Path(str(self.data_dir) + ".port")
        if pf.exists():
            pf.unlink()
        self.log = open(str(self.data_dir) + ".log", "ab")
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "cordon-chunkd"), "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", "--rack", self.rack,
             "--cluster-key-file", str(self.key_file), "--port-file", str(pf), *self.extra],
            stdout=self.log, stderr=self.log)
        for _ in range(600):
            if pf.exists():
                self.port = int(pf.read_text())
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"chunkd exited {self.proc.returncode}: " + self.logtext())
            time.sleep(0.05)
        raise RuntimeError("chunkd did not start")

    def logtext(self):
        return pathlib.Path(str(self.data_dir) + ".log").read_text(errors="replace")

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def chunk_files(self):
        root = pathlib.Path(self.data_dir) / "chunks"
        return sorted(p for p in root.glob("*/*") if p.is_file())


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        got = s.recv(n - len(buf))
        if not got:
            raise ConnectionError("closed")
        buf += got
    return buf


def frame(t, payload=b""):
    return struct.pack(">IB", 1 + len(payload), t) + payload


def recv_frame(s):
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    t = recv_exact(s, 1)[0]
    return t, recv_exact(s, n - 1)


class Client:
    """Speaks the protocol over one connection."""

    def __init__(self, port, key=None, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if key is not None:
            self.auth(key)

    def auth(self, key):
        t, hello = recv_frame(self.s)
        assert t == HELLO and hello[:4] == b"CHKD"
        snonce, cnonce = hello[5:], os.urandom(32)
        mac = hmac.new(key, LABEL_C + snonce + cnonce, hashlib.sha256).digest()
        self.s.sendall(frame(AUTH, cnonce + mac))
        t, proof = recv_frame(self.s)
        assert t == AUTH_OK
        assert hmac.compare_digest(proof, hmac.new(key, LABEL_S + cnonce + snonce,
                                                   hashlib.sha256).digest())

    def call(self, t, payload=b""):
        self.s.sendall(frame(t, payload))
        rt, body = recv_frame(self.s)
        assert rt == RESP
        return body[0], body[1:]

    def close(self):
        self.s.close()


def new_id():
    return os.urandom(16).hex().encode()


class Cluster:
    """A storage dir driven through `cordon admin storage` (direct mode) and
    N real cordon-chunkd processes on loopback."""

    RACKS = ["rack-0", "rack-1", "rack-2", "rack-0"]

    def __init__(self, bin_dir, root, n=4, racks=None, init_extra=()):
        self.bin_dir, self.root = bin_dir, pathlib.Path(root)
        self.dir = self.root / "st"
        r = subprocess.run([str(bin_dir / "cordon"), "admin", "storage", "init", "--data-dir",
                            str(self.dir), *init_extra], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        self.key = self.dir / "cluster.key"
        racks = racks or self.RACKS
        self.servers = [Chunkd(bin_dir, self.root / f"d{i}", self.key, rack=racks[i % len(racks)])
                        for i in range(n)]
        for s in self.servers:
            s.start()
        self.cordon_ok("server-add", *[s.addr for s in self.servers], *init_extra)

    def cordon(self, *args, timeout=300, input=None):
        return subprocess.run([str(self.bin_dir / "cordon"), "admin", "storage", args[0],
                               "--data-dir", str(self.dir), *args[1:]],
                              capture_output=True, timeout=timeout, input=input)

    def cordon_ok(self, *args, **kw):
        r = self.cordon(*args, **kw)
        assert r.returncode == 0, (args, r.stderr.decode(errors="replace"))
        return r

    def put(self, table, version, data, project="p1", extra=()):
        f = self.root / f"in-{table}-{version}.bin"
        f.write_bytes(data)
        r = self.cordon("put", "--project", project, "--table", str(table), "--version",
                        str(version), "--in", str(f), *extra)
        f.unlink()
        return r

    def get(self, table, version, extra=()):
        out = self.root / f"out-{table}-{version}.bin"
        r = self.cordon("get", "--table", str(table), "--version", str(version), "--out",
                        str(out), *extra)
        data = out.read_bytes() if out.exists() else None
        if out.exists():
            out.unlink()
        return r, data

    def db(self):
        import sqlite3
        return sqlite3.connect(f"file:{self.dir / 'storage.db'}?mode=ro", uri=True, timeout=30)

    def chunks(self, table=None, version=None):
        """[(chunk_id, [server ids])] in order."""
        with self.db() as db:
            q = "SELECT chunk_id FROM stor_chunks"
            args = ()
            if table is not None:
                q += " WHERE table_id = ? AND version = ?"
                args = (table, version)
            ids = [r[0] for r in db.execute(q + " ORDER BY table_id, version, seq", args)]
            return [(cid, [r[0] for r in db.execute(
                "SELECT server_id FROM stor_replicas WHERE chunk_id = ? ORDER BY server_id",
                (cid,))])
                    for cid in ids]

    def server_ids(self):
        return {s: (pathlib.Path(s.data_dir) / "server-id").read_text().strip()
                for s in self.servers}

    def by_id(self, sid):
        for s, i in self.server_ids().items():
            if i == sid:
                return s
        return None

    def chunk_file(self, server, cid):
        return pathlib.Path(server.data_dir) / "chunks" / cid[:2] / cid

    def stop(self, remove=True):
        for s in self.servers:
            if s.alive():
                s.stop()
            elif s.proc and not s.log.closed:
                s.log.close()
        if remove:  # replicas of 100 MiB writes add up: leave no data behind
            import shutil
            for s in self.servers:
                shutil.rmtree(s.data_dir, ignore_errors=True)
