"""SigV4 authentication attacks against a real cordond: every request is
signed by a real client (botocore's SigV4Auth or curl --aws-sigv4), then
tampered with, and must be refused with 403 and the right AWS error code."""
import json
import subprocess

import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("sigv4") / "data").start()
    s.acme = s.create_account("acme")
    s.create_project("shop", keys=s.acme)
    yield s
    s.stop()


def refused(resp, code):
    st, body = resp[0], resp[1]
    assert st == 403, (st, body)
    assert body["code"] == code, body
    assert body["message"] and body["requestId"]


def test_curl_accepted(srv):
    st, body = srv.curl("/v1/whoami")
    assert st == 200 and body["principal"] == "ALIYUN$admin" and body["type"] == "account"
    st, body = srv.curl("/v1/projects/shop/jobs", keys=srv.acme, method="POST",
                        data='{"sql": "WHOAMI;"}')
    assert st == 200 and body["rows"][0][0] == "ALIYUN$acme", body


def test_botocore_accepted(srv):
    st, body = srv.call("GET", "/v1/whoami", keys=srv.acme)
    assert st == 200 and body == {"principal": "ALIYUN$acme", "account": "acme",
                                  "type": "account", "operator": False,
                                  "requestId": body["requestId"]}
    st, body = srv.call("GET", "/v1/audit?limit=1&project=shop", keys=srv.acme)
    assert st == 200, body


def test_curl_wrong_secret_and_unknown_key(srv):
    ak, sk = srv.acme
    st, body = srv.curl("/v1/whoami", keys=(ak, sk[:-1] + ("A" if sk[-1] != "A" else "B")))
    refused((st, body), "SignatureDoesNotMatch")
    st, body = srv.curl("/v1/whoami", keys=("CDKAAAAAAAAAAAAAAAAA", sk))
    refused((st, body), "InvalidAccessKeyId")
    st, body = srv.curl("/v1/whoami", keys=("AKIDEXAMPLE", sk))
    refused((st, body), "InvalidAccessKeyId")


def test_botocore_wrong_secret(srv):
    ak, sk = srv.acme
    refused(srv.call("GET", "/v1/whoami", keys=(ak, "x" * 40)), "SignatureDoesNotMatch")


def test_disabled_enabled_deleted_key(srv):
    st, body = srv.call("POST", "/v1/accounts/acme/keys", {}, keys=srv.acme)
    k = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    assert srv.call("GET", "/v1/whoami", keys=k)[0] == 200
    assert srv.call("POST", f"/v1/accounts/acme/keys/{k[0]}/disable", keys=srv.acme)[0] == 200
    refused(srv.call("GET", "/v1/whoami", keys=k), "AccessKeyDisabled")
    refused(srv.curl("/v1/whoami", keys=k), "AccessKeyDisabled")
    # Disabled + wrong secret: the signature is checked first.
    refused(srv.call("GET", "/v1/whoami", keys=(k[0], "y" * 40)), "SignatureDoesNotMatch")
    assert srv.call("POST", f"/v1/accounts/acme/keys/{k[0]}/enable", keys=srv.acme)[0] == 200
    assert srv.call("GET", "/v1/whoami", keys=k)[0] == 200
    assert srv.call("DELETE", f"/v1/accounts/acme/keys/{k[0]}", keys=srv.acme)[0] == 200
    refused(srv.call("GET", "/v1/whoami", keys=k), "InvalidAccessKeyId")


def test_altered_path(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme)
    refused(srv.send(m, "/v1/projects", h, b), "SignatureDoesNotMatch")
    refused(srv.send("DELETE", "/v1/whoami", h, b), "SignatureDoesNotMatch")


def test_altered_query(srv):
    m, p, h, b = srv.signed("GET", "/v1/audit?limit=1", keys=srv.acme)
    assert srv.send(m, p, h, b)[0] == 200
    refused(srv.send(m, "/v1/audit?limit=2", h, b), "SignatureDoesNotMatch")
    refused(srv.send(m, "/v1/audit?limit=1&project=shop", h, b), "SignatureDoesNotMatch")


def test_altered_body(srv):
    m, p, h, b = srv.signed("POST", "/v1/projects/shop/jobs", {"sql": "WHOAMI;"},
                            keys=srv.acme)
    assert srv.send(m, p, h, b)[0] == 200
    evil = json.dumps({"sql": "SETPROJECT odps.security.ip.whitelist=10.0.0.1;"}).encode()
    refused(srv.send(m, p, h, evil), "SignatureDoesNotMatch")
    # Claiming the new body's hash does not help: it is signed too.
    import hashlib
    h2 = dict(h, **{"X-Amz-Content-SHA256": hashlib.sha256(evil).hexdigest()})
    refused(srv.send(m, p, h2, evil), "SignatureDoesNotMatch")
    # Claiming the old body's hash while sending a new body is caught.
    h3 = dict(h, **{"X-Amz-Content-SHA256": hashlib.sha256(b).hexdigest()})
    refused(srv.send(m, p, h3, evil), "SignatureDoesNotMatch")


def test_altered_signed_header(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme, headers={"X-Cordon-Note": "a"})
    assert "x-cordon-note" in h["Authorization"]
    assert srv.send(m, p, h, b)[0] == 200
    refused(srv.send(m, p, dict(h, **{"X-Cordon-Note": "b"}), b), "SignatureDoesNotMatch")
    # Dropping a signed header.
    h2 = {k: v for k, v in h.items() if k != "X-Cordon-Note"}
    refused(srv.send(m, p, h2, b), "SignatureDoesNotMatch")
    # Changing X-Amz-Date within the window.
    d = h["X-Amz-Date"]
    newer = d[:-3] + ("%02d" % ((int(d[-3:-1]) + 1) % 60)) + "Z"
    refused(srv.send(m, p, dict(h, **{"X-Amz-Date": newer}), b), "SignatureDoesNotMatch")
    # Another Host.
    refused(srv.send(m, p, dict(h, Host="localhost:1"), b), "SignatureDoesNotMatch")


def test_missing_amz_date(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme)
    h.pop("X-Amz-Date")
    refused(srv.send(m, p, h, b), "IncompleteSignature")


@pytest.mark.parametrize("skew", [-20 * 60, 20 * 60])
def test_date_out_of_window(srv, skew):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme, skew=skew)
    refused(srv.send(m, p, h, b), "RequestExpired")


def test_within_window_accepted(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme, skew=-10 * 60)
    assert srv.send(m, p, h, b)[0] == 200


def test_replay_of_expired_request(srv):
    # A request captured 16 minutes ago (valid signature when it was made).
    m, p, h, b = srv.signed("POST", "/v1/projects/shop/jobs", {"sql": "WHOAMI;"},
                            keys=srv.acme, skew=-16 * 60)
    refused(srv.send(m, p, h, b), "RequestExpired")
    refused(srv.send(m, p, h, b), "RequestExpired")


def test_no_authorization(srv):
    refused(srv.send("GET", "/v1/whoami", {}), "MissingAuthenticationToken")
    r = subprocess.run(["curl", "-s", "--cacert", srv.ca, srv.url + "/v1/whoami"],
                       capture_output=True, text=True)
    assert json.loads(r.stdout)["code"] == "MissingAuthenticationToken"


def test_truncated_authorization(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme)
    a = h["Authorization"]
    for cut in (a[:-10], a[:a.index("Signature=")], a[:40], "AWS4-HMAC-SHA256",
                a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")):
        refused(srv.send(m, p, dict(h, Authorization=cut), b), "IncompleteSignature")


def test_duplicated_authorization(srv):
    m, p, h, b = srv.signed("GET", "/v1/whoami", keys=srv.acme)
    a = h.pop("Authorization")
    refused(srv.send(m, p, h, b, raw_headers=[("Authorization", a), ("Authorization", a)]),
            "IncompleteSignature")


def test_wrong_scope(srv):
    refused(srv.send(*srv.signed("GET", "/v1/whoami", keys=srv.acme, region="us-east-1")),
            "SignatureDoesNotMatch")
    refused(srv.send(*srv.signed("GET", "/v1/whoami", keys=srv.acme, service="s3")),
            "SignatureDoesNotMatch")


def test_refusals_are_counted_in_metrics(srv):
    srv.send("GET", "/v1/whoami", {})
    st, text, _ = srv.send("GET", "/metrics", {})
    assert st == 200
    assert 'cordon_auth_failures_total{code="MissingAuthenticationToken"}' in text
    assert 'cordon_http_requests_total{code="403"}' in text
