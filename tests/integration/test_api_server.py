"""cordond start-up, files it creates, /healthz, SIGTERM drain, restart and
SIGKILL survival of accounts, keys, projects and whitelists."""
import os
import signal
import ssl
import stat
import subprocess

import pytest

from cordon_api import Cordond


@pytest.fixture
def server(bin_dir, tmp_path):
    s = Cordond(bin_dir, tmp_path / "data").start()
    yield s
    s.stop()


def test_first_start_creates_state(server):
    d = server.data_dir
    for f in ("keys/root.key", "catalog.db", "tls/cert.pem", "tls/key.pem", "admin.credentials",
              "audit/audit.pub", "keys/audit.key"):
        assert (d / f).exists(), f
    for f in ("keys/root.key", "admin.credentials", "tls/key.pem", "keys/audit.key"):
        assert stat.S_IMODE(os.stat(d / f).st_mode) == 0o600, f
    creds = (d / "admin.credentials").read_text()
    assert "[default]" in creds and "aws_access_key_id = CDK" in creds
    assert "aws_secret_access_key = " in creds
    # The secret is not stored in the catalog in plaintext.
    _, sk = server.admin_keys()
    for f in ("catalog.db", "catalog.db-wal"):
        p = d / f
        if p.exists():
            assert sk.encode() not in p.read_bytes()
    assert sk not in server.log()


def test_certificate_names(server):
    out = subprocess.run(["openssl", "x509", "-in", server.ca, "-noout", "-ext",
                          "subjectAltName"], capture_output=True, text=True).stdout
    assert "DNS:localhost" in out and "IP Address:127.0.0.1" in out
    # Verifies as localhost and as 127.0.0.1 with the cert as the only CA.
    for host in ("localhost", "127.0.0.1"):
        r = subprocess.run(["curl", "-s", "--cacert", server.ca,
                            f"https://{host}:{server.port}/healthz"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and '"ok"' in r.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_only_and_min_version(server):
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    import socket
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname="localhost")
    # Plain HTTP gets no HTTP answer.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")


def test_healthz_no_auth(server):
    st, body = server.send("GET", "/healthz", {})[:2]
    assert st == 200 and body == {"status": "ok"}


def test_sigterm_exits_cleanly_and_signs_checkpoint(server):
    server.call("GET", "/v1/whoami")
    assert server.stop(signal.SIGTERM) == 0
    assert "stopped cleanly" in server.log()
    lines = [l for p in sorted((server.data_dir / "audit").glob("*.jsonl"))
             for l in p.read_text().splitlines()]
    assert '"AuditCheckpoint"' in lines[-1]


def _populate(s):
    keys = s.create_account("acme")
    assert s.call("POST", "/v1/accounts/acme/users", {"name": "alice"}, keys=keys)[0] == 201
    st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": "alice"}, keys=keys)
    assert st == 201
    alice = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    st, body = s.call("POST", "/v1/accounts/acme/keys", {}, keys=keys)
    disabled = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    assert s.call("POST", f"/v1/accounts/acme/keys/{disabled[0]}/disable", keys=keys)[0] == 200
    s.create_project("sales", keys=keys)
    st, body = s.job("sales", "SETPROJECT odps.security.ip.whitelist=127.0.0.2;", keys=keys)
    assert st == 200, body
    return keys, alice, disabled


def _check(s, keys, alice, disabled):
    st, body = s.call("GET", "/v1/whoami", keys=alice)
    assert st == 200 and body["principal"] == "RAM$acme:alice"
    st, body = s.call("GET", "/v1/whoami", keys=disabled)
    assert st == 403 and body["code"] == "AccessKeyDisabled"
    st, body = s.call("GET", "/v1/projects/sales", keys=keys)
    assert st == 200 and body["owner"] == "ALIYUN$acme"
    assert body["ipWhitelist"] == "127.0.0.2"
    st, body = s.job("sales", "WHOAMI;", keys=keys)
    assert st == 403 and body["code"] == "IpNotInWhitelist"
    st, body = s.job("sales", "WHOAMI;", keys=keys, source="127.0.0.2")
    assert st == 200 and body["rows"] == [["ALIYUN$acme", "acme", "account"]]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_state_survives_restart(bin_dir, tmp_path, sig):
    s = Cordond(bin_dir, tmp_path / "data").start()
    admin = s.admin_keys()
    state = _populate(s)
    s.stop(sig)
    s2 = Cordond(bin_dir, tmp_path / "data").start()
    try:
        assert s2.admin_keys() == admin
        _check(s2, *state)
        # Every acknowledged change's audit record survived, and the chain is
        # still whole after the restart.
        names = [e["eventName"] for e in s2.audit(limit=10000)]
        for n in ("CreateAccount", "AddUser", "CreateAccessKey", "DisableAccessKey",
                  "CreateProject", "SetProjectIpWhitelist"):
            assert n in names, n
        r = s2.cli("audit", "verify", str(tmp_path / "data" / "audit"))
        assert r.returncode == 0, r.stderr
    finally:
        s2.stop()


def test_bad_command_line(bin_dir, tmp_path):
    r = subprocess.run([bin_dir / "cordond"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([bin_dir / "cordond", "--data-dir", tmp_path, "--listen", "nonsense"],
                       capture_output=True, text=True)
    assert r.returncode == 2


def test_metrics(server):
    server.call("GET", "/v1/whoami")
    server.send("GET", "/v1/whoami", {})
    acme = server.create_account("m")
    server.create_project("mp", keys=acme)
    server.job("mp", "WHOAMI;", keys=acme)
    server.job("mp", "NOPE;", keys=acme)
    st, text, headers = server.send("GET", "/metrics", {})
    assert st == 200 and headers["Content-Type"].startswith("text/plain")
    lines = text.splitlines()
    assert "# TYPE cordon_http_requests_total counter" in lines
    assert any(l.startswith('cordon_http_requests_total{code="200"} ') for l in lines)
    assert 'cordon_http_request_duration_seconds_bucket{le="+Inf"}' in text
    assert 'cordon_auth_failures_total{code="MissingAuthenticationToken"} 1' in lines
    assert 'cordon_jobs_total{state="succeeded"} 1' in lines
    assert 'cordon_jobs_total{state="failed"} 1' in lines
    count = [l for l in lines if l.startswith("cordon_http_request_duration_seconds_count")]
    assert int(count[0].split()[1]) >= 6


def test_port_in_use_is_refused(server, bin_dir, tmp_path):
    r = subprocess.run([bin_dir / "cordond", "--data-dir", tmp_path / "other", "--listen",
                        f"127.0.0.1:{server.port}"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "bind" in r.stderr
    assert server.call("GET", "/v1/whoami")[0] == 200


def test_keep_alive(server):
    """Several signed requests on one HTTP/1.1 connection."""
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.ssl_context())
    socks = set()
    for _ in range(5):
        m, p, h, b = server.signed("GET", "/v1/whoami")
        conn.request(m, p, headers=h)
        resp = conn.getresponse()
        assert resp.status == 200 and b"ALIYUN$admin" in resp.read()
        socks.add(id(conn.sock))
    assert len(socks) == 1
    conn.close()


def test_certificate_follows_listen_address(bin_dir, tmp_path):
    s = Cordond(bin_dir, tmp_path / "data").start()
    first = open(s.ca).read()
    s.stop()
    s = Cordond(bin_dir, tmp_path / "data").start()  # same address: reused
    assert open(s.ca).read() == first
    s.stop()
    s = Cordond(bin_dir, tmp_path / "data", listen="127.0.0.9:0").start()
    try:
        out = subprocess.run(["openssl", "x509", "-in", s.ca, "-noout", "-ext",
                              "subjectAltName"], capture_output=True, text=True).stdout
        assert "IP Address:127.0.0.9" in out
        r = subprocess.run(["curl", "-s", "--cacert", s.ca, f"https://127.0.0.9:{s.port}/healthz"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and '"ok"' in r.stdout
    finally:
        s.stop()


def test_operator_supplied_certificate(bin_dir, tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=ops",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = Cordond(bin_dir, tmp_path / "data", extra=["--tls-cert", str(cert), "--tls-key",
                                                   str(key)]).start()
    try:
        assert not (tmp_path / "data" / "tls" / "cert.pem").exists()
        r = subprocess.run(["curl", "-s", "--cacert", cert, f"{s.url}/healthz"],
                           capture_output=True, text=True)
        assert r.returncode == 0 and '"ok"' in r.stdout
    finally:
        s.stop()
