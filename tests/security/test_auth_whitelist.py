"""Project IP whitelists (SETPROJECT odps.security.ip.whitelist=...): real
clients bound to different loopback addresses (127.0.0.x; ::1 for IPv6)
are allowed or refused with 403 IpNotInWhitelist before any statement
runs; X-Forwarded-For counts only from configured proxies."""
import http.client
import json
import ssl

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("wl") / "data",
                extra=["--trusted-proxies", "127.0.0.5"]).start()
    s.acme = s.create_account("acme")
    s.create_project("wl", keys=s.acme)
    yield s
    s.stop()


def set_wl(srv, value):
    st, body = srv.job("wl", f"SETPROJECT odps.security.ip.whitelist={value};", keys=srv.acme,
                       source="127.0.0.1")
    assert st == 200, body


def allowed(srv, source, headers=None):
    st, body = srv.call("POST", "/v1/projects/wl/jobs", {"sql": "WHOAMI;"}, keys=srv.acme,
                        source=source, headers=headers)
    if st == 200:
        assert body["rows"] == [["ALIYUN$acme", "acme", "account"]]
        return True
    assert st == 403 and body["code"] == "IpNotInWhitelist", body
    return False


@pytest.fixture(autouse=True)
def reset(srv):
    yield
    st, body = srv.call("PUT", "/v1/projects/wl/whitelist", {"whitelist": ""})
    assert st == 200, body


@pytest.mark.parametrize("entry,ok,bad", [
    ("127.0.0.1,127.0.0.2", ["127.0.0.2"], ["127.0.0.3", "127.0.0.9"]),
    ("127.0.0.1, 127.0.0.0/30", ["127.0.0.2", "127.0.0.3"], ["127.0.0.4", "127.0.1.1"]),
    ("127.0.0.1,127.0.0.10-127.0.0.20", ["127.0.0.10", "127.0.0.15", "127.0.0.20"],
     ["127.0.0.9", "127.0.0.21"]),
])
def test_ipv4_entries(srv, entry, ok, bad):
    set_wl(srv, entry)
    for a in ok:
        assert allowed(srv, a), a
    for a in bad:
        assert not allowed(srv, a), a


def test_empty_disables_and_takes_effect_immediately(srv):
    assert allowed(srv, "127.0.0.7")
    set_wl(srv, "127.0.0.1")
    assert not allowed(srv, "127.0.0.7")
    set_wl(srv, "")
    assert allowed(srv, "127.0.0.7")


def test_locked_out_owner_and_operator_reset(srv):
    set_wl(srv, "127.0.0.2")
    # The owner from 127.0.0.1 can no longer even change the whitelist.
    st, body = srv.job("wl", "SETPROJECT odps.security.ip.whitelist=;", keys=srv.acme)
    assert st == 403 and body["code"] == "IpNotInWhitelist"
    # Only operators may reset through the API.
    st, body = srv.call("PUT", "/v1/projects/wl/whitelist", {"whitelist": ""}, keys=srv.acme)
    assert st == 403 and body["code"] == "AccessDenied"
    st, body = srv.call("PUT", "/v1/projects/wl/whitelist", {"whitelist": ""})
    assert st == 200
    assert allowed(srv, "127.0.0.1")


def test_refused_before_statement_runs_and_audited(srv):
    set_wl(srv, "127.0.0.1")
    # From outside, even a statement that would change the whitelist never runs.
    st, body = srv.job("wl", "SETPROJECT odps.security.ip.whitelist=;", keys=srv.acme,
                       source="127.0.0.3")
    assert st == 403 and body["code"] == "IpNotInWhitelist"
    assert srv.call("GET", "/v1/projects/wl", keys=srv.acme)[1]["ipWhitelist"] == "127.0.0.1"
    ev = [e for e in srv.audit(project="wl") if e["requestId"] == body["requestId"]]
    assert ev and ev[0]["errorCode"] == "IpNotInWhitelist"
    assert ev[0]["sourceIpAddress"] == "127.0.0.3" and ev[0]["decision"] == "deny"


def test_invalid_whitelist_and_non_owner(srv):
    st, body = srv.job("wl", "SETPROJECT odps.security.ip.whitelist=10.0.0.0/33;",
                       keys=srv.acme)
    assert st == 400 and "10.0.0.0/33" in body["message"]
    other = srv.create_account("other")
    st, body = srv.job("wl", "SETPROJECT odps.security.ip.whitelist=127.0.0.9;", keys=other)
    assert st == 403 and body["code"] == "AccessDenied"


def test_x_forwarded_for_only_from_trusted_proxy(srv):
    set_wl(srv, "10.1.2.3")
    xff = {"X-Forwarded-For": "10.1.2.3"}
    # From the configured proxy (127.0.0.5): the forwarded client counts.
    assert allowed(srv, "127.0.0.5", xff)
    # From anyone else the header is ignored: the peer is what counts.
    assert not allowed(srv, "127.0.0.1", xff)
    assert not allowed(srv, "127.0.0.6", xff)
    # A client cannot smuggle an address through the proxy: the rightmost
    # address the proxy did not add is the client.
    assert allowed(srv, "127.0.0.5", {"X-Forwarded-For": "6.6.6.6, 10.1.2.3"})
    assert not allowed(srv, "127.0.0.5", {"X-Forwarded-For": "10.1.2.3, 6.6.6.6"})
    # Through two trusted hops.
    assert allowed(srv, "127.0.0.5", {"X-Forwarded-For": "10.1.2.3, 127.0.0.5"})


def ipv6_loopback():
    import socket
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this host")
def test_ipv6_entries(bin_dir, tmp_path):
    s = Cordond(bin_dir, tmp_path / "data", listen="[::1]:0").start()
    try:
        def call(method, path, body, keys=None):
            ak, sk = keys or s.admin_keys()
            data = json.dumps(body).encode() if body is not None else b""
            req = AWSRequest(method=method, url=f"https://[::1]:{s.port}{path}", data=data)
            SigV4Auth(Credentials(ak, sk), "cordon", "local").add_auth(req)
            p = req.prepare()
            conn = http.client.HTTPSConnection("::1", s.port,
                                               context=ssl.create_default_context(cafile=s.ca))
            conn.request(method, path, body=data or None, headers=dict(p.headers))
            r = conn.getresponse()
            out = json.loads(r.read())
            conn.close()
            return r.status, out

        st, body = call("POST", "/v1/admin/accounts", {"name": "v6"})
        acme = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
        assert call("POST", "/v1/projects", {"name": "six"}, acme)[0] == 201
        for entry, ok in [("::1", True), ("::1/128", True), ("::-::5", True),
                          ("2001:db8::/32", False), ("::2-::5", False), ("127.0.0.1", False),
                          ("0:0:0:0:0:0:0:1", True)]:
            st, _ = call("PUT", "/v1/projects/six/whitelist", {"whitelist": entry})
            assert st == 200
            st, body = call("POST", "/v1/projects/six/jobs", {"sql": "WHOAMI;"}, acme)
            assert (st == 200) == ok, (entry, st, body)
            if not ok:
                assert body["code"] == "IpNotInWhitelist"
    finally:
        s.stop()
