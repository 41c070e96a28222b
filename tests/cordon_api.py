"""Test helpers for cordond's API: start/stop a real cordond in a temporary
data dir, and talk to it with real clients — botocore's SigV4Auth over
http.client (optionally from another loopback address), curl --aws-sigv4,
and raw TLS sockets for malformed input. No hand-rolled signer."""
import configparser
import json
import os
import pathlib
import select
import signal
import socket
import ssl
import subprocess
import http.client
import time
import types
import urllib.parse
import datetime as _dt
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "local"
SERVICE = "cordon"


# Every started cordond until it is stopped (conftest reaps leftovers).
RUNNING = set()


class Cordond:
    http_timeout = 30  # seconds per request (benchmarks raise it)

    def __init__(self, bin_dir, data_dir, extra=(), listen="127.0.0.1:0"):
        self.bin_dir = pathlib.Path(bin_dir)
        self.data_dir = pathlib.Path(data_dir)
        self.extra = list(extra)
        self.listen = listen
        self.proc = None
        self.url = None

    # -- lifecycle ---------------------------------------------------------
    def start(self, timeout=20):
        self.stderr = open(self.data_dir.parent / (self.data_dir.name + ".stderr"), "ab")
        self.proc = subprocess.Popen(
            [self.bin_dir / "cordond", "--data-dir", self.data_dir, "--listen", self.listen]
            + self.extra,
            stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        RUNNING.add(self)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("cordond did not start: " + self.log())
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    raise RuntimeError("cordond exited: " + self.log())
                line += ch
        text = line.decode()
        assert text.startswith("cordond: serving https://"), text
        self.url = text.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def log(self):
        try:
            return (self.data_dir.parent / (self.data_dir.name + ".stderr")).read_text()
        except OSError:
            return ""

    def reap(self):
        """Stops a cordond that nobody stopped (a fixture whose setup failed
        between start() and yield); conftest calls it after each module. No
        checks: whatever went wrong was reported where it happened."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        self.proc = None
        RUNNING.discard(self)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.stderr.close()
        self.proc = None
        RUNNING.discard(self)
        log = self.log()
        # Every test checks that cordond drained cleanly and that ASan,
        # LSan and UBSan (make sanitize) found nothing.
        for bad in ("Sanitizer", "runtime error:"):
            assert bad not in log, log
        if sig == signal.SIGTERM:
            assert rc == 0, f"cordond exited {rc}: {log}"
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- files -------------------------------------------------------------
    @property
    def ca(self):
        return str(self.data_dir / "tls" / "cert.pem")

    def admin_keys(self):
        cp = configparser.ConfigParser()
        cp.read(self.data_dir / "admin.credentials")
        return cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]

    # -- clients -----------------------------------------------------------
    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx

    def signed(self, method, path, body=None, keys=None, headers=None, region=REGION,
               service=SERVICE, host=None, skew=0):
        """A botocore-signed request: (method, path, headers dict, body bytes).
        skew shifts the signer's clock by that many seconds."""
        ak, sk = keys or self.admin_keys()
        data = b"" if body is None else (body if isinstance(body, bytes) else
                                         json.dumps(body).encode())
        url = (host or self.url) + path
        req = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
        if skew:
            class _Shifted(_dt.datetime):
                @classmethod
                def utcnow(cls):
                    return _dt.datetime.utcnow() + _dt.timedelta(seconds=skew)
            shim = types.SimpleNamespace(datetime=_Shifted, timedelta=_dt.timedelta)
            with mock.patch("botocore.auth.datetime", shim):
                SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
        else:
            SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
        p = req.prepare()
        return method, p.url[len(host or self.url):], dict(p.headers), data

    def send(self, method, path, headers, body=b"", source=None, raw_headers=None):
        """Sends as given; returns (status, parsed JSON or text, headers)."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(),
                                           source_address=(source, 0) if source else None,
                                           timeout=self.http_timeout)
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if not any(k.lower() == "host" for k in headers):
            conn.putheader("Host", f"127.0.0.1:{self.port}")
        for k, v in headers.items():
            conn.putheader(k, v)
        for k, v in raw_headers or []:
            conn.putheader(k, v)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        conn.close()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return resp.status, parsed, dict(resp.getheaders())

    def call(self, method, path, body=None, keys=None, source=None, headers=None):
        m, p, h, b = self.signed(method, path, body, keys, headers)
        return self.send(m, p, h, b, source=source)[:2]

    def curl(self, path, keys=None, method="GET", data=None, interface=None, extra=()):
        ak, sk = keys or self.admin_keys()
        args = ["curl", "-s", "-S", "--cacert", self.ca, "--aws-sigv4",
                f"aws:amz:{REGION}:{SERVICE}", "--user", f"{ak}:{sk}", "-X", method,
                "-w", "\n%{http_code}"]
        if data is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", data]
        if interface:
            args += ["--interface", interface]
        r = subprocess.run(args + list(extra) + [self.url + path], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        body, code = r.stdout.rsplit("\n", 1)
        try:
            body = json.loads(body)
        except ValueError:
            pass
        return int(code), body

    def cli_env(self, keys=None, project=None):
        ak, sk = keys or self.admin_keys()
        env = dict(os.environ, CORDON_ENDPOINT=self.url, CORDON_CA_FILE=self.ca,
                   CORDON_ACCESS_KEY_ID=ak, CORDON_SECRET_ACCESS_KEY=sk,
                   HOME=str(self.data_dir.parent))
        if project:
            env["CORDON_PROJECT"] = project
        return env

    def cli(self, *args, keys=None, project=None, env=None, timeout=30):
        return subprocess.run([self.bin_dir / "cordon", *args], capture_output=True, text=True,
                              timeout=timeout, env=env or self.cli_env(keys, project))

    # -- admin shortcuts ---------------------------------------------------
    def create_account(self, name):
        st, body = self.call("POST", "/v1/admin/accounts", {"name": name})
        assert st == 201, body
        k = body["accessKey"]
        return k["accessKeyId"], k["secretAccessKey"]

    def create_project(self, name, keys=None):
        st, body = self.call("POST", "/v1/projects", {"name": name}, keys=keys)
        assert st == 201, body
        return body

    def job(self, project, sql, keys=None, source=None, wait=120):
        """POSTs a job; with wait (seconds) a query's answer comes back
        synchronously (status 200 with columns/rows) when it finished."""
        q = f"?wait={wait}" if wait else ""
        return self.call("POST", f"/v1/projects/{project}/jobs{q}", {"sql": sql}, keys=keys,
                         source=source)

    # -- resources and functions (scheduler/api_resources.c, functions_stmt.c)
    def put_resource(self, project, name, data, keys=None):
        """PUT /v1/projects/{project}/resources/{name} with data (bytes or
        str) as the body; returns (status, parsed body)."""
        if isinstance(data, str):
            data = data.encode()
        m, p, h, b = self.signed("PUT", f"/v1/projects/{project}/resources/{name}", data,
                                 keys=keys)
        return self.send(m, p, h, b)[:2]

    def install_udfs(self, project, keys=None, udfs_dir=None):
        """Uploads every udfs/*.lua of the repository as a resource of project
        and creates one function per UDF each script returns (the entry's
        own name: CREATE FUNCTION median AS 'agg.median' USING 'agg.lua').
        Returns {function: row of the CREATE FUNCTION result} (name, kind,
        script, signature, columns)."""
        import re
        udfs = pathlib.Path(udfs_dir or pathlib.Path(__file__).resolve().parent.parent / "udfs")
        created = {}
        for script in sorted(udfs.glob("*.lua")):
            st, body = self.put_resource(project, script.name, script.read_bytes(), keys=keys)
            assert st in (200, 201), (script.name, body)
            text = script.read_text()
            entries = re.findall(r"^(?:M\.(\w+)\s*=|function M\.(\w+)\s*\()", text, re.M)
            for name in sorted({a or b for a, b in entries}):
                st, body = self.job(project, f"CREATE FUNCTION {name} AS "
                                             f"'{script.stem}.{name}' USING '{script.name}';",
                                    keys=keys)
                assert st == 200, (name, body)
                created[name] = body["rows"][0]
        return created

    def audit(self, **query):
        q = urllib.parse.urlencode(query)
        st, body = self.call("GET", "/v1/audit" + (f"?{q}" if q else ""))
        assert st == 200, body
        return body["events"]


def tls_socket(port, source=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                 source_address=(source, 0) if source else None)
    return ctx.wrap_socket(s, server_hostname="localhost")


def raw_exchange(port, data, source=None):
    """Sends raw bytes over TLS, returns everything the server answers
    before closing (or b'' if it just closes)."""
    s = tls_socket(port, source)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ssl.SSLError, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Connection: close" not in out and \
                    b"Content-Length" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            return out
        return out
    finally:
        s.close()
