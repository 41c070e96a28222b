"""Network links end to end, through the real API and the job runner:

- an operator creates a link to one TCP destination and allows a project;
- a job with `SET odps.session.networklink=<link>` runs a Lua UDF whose
  net.connect reaches exactly that destination from a sandboxed node on the
  job's overlay (cordond --netlink-gateway: a gateway netns this test made);
- an unpermitted link (not allowed to the project, unknown, or not granted
  to the user) is refused with 403 naming the rule before any node starts;
- without a link nothing outside the job is reachable (no `net` at all).

The gateway G and the external host E (198.51.100.7, TCP servers on 8080
and 8081) are namespaces made here (unshare) and removed at the end;
cordond's overlays live in their own namespaces and its grants put objects
only into G.
"""
import os
import sys
import time

import pytest

from cordon_api import Cordond

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security", "netprobe"))
import ovlnet  # noqa: E402
from ovlnet import Netns  # noqa: E402

PROBE_LUA = r"""
local M = {}
function M.probe(host, port)
  if net == nil then return "no net" end
  local c, e = net.connect(host, port)
  if not c then return "fail " .. e end
  local got = c:receive(100)
  c:close()
  return "ok " .. tostring(got)
end
return M
"""


@pytest.fixture(scope="module")
def world():
    ovlnet.need_root()
    made = []
    try:
        for name in ("gateway", "external"):
            made.append(Netns(name))
        gw, ext = made
        ovlnet.link_pair(gw, "g-ext", "198.51.100.1/24", ext, "e-ext", "198.51.100.7/24")
        gw.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        servers = [ovlnet.Server(ext.path, "0.0.0.0", 8080, "granted"),
                   ovlnet.Server(ext.path, "0.0.0.0", 8081, "other-port"),
                   ovlnet.Server(gw.path, "0.0.0.0", 8080, "gateway")]
        yield gw, ext
        for s in servers:
            s.close()
    finally:
        for ns in made:
            ns.close()


def put_resource(srv, project, name, text, keys):
    st, body = srv.call("PUT", f"/v1/projects/{project}/resources/{name}", text.encode(),
                        keys=keys)
    assert st in (200, 201), body


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory, world):
    gw, _ = world
    s = Cordond(bin_dir, tmp_path_factory.mktemp("netlink-jobs") / "data",
                extra=["--chunkservers", "0", "--netlink-gateway", gw.path]).start()
    try:
        s.acme = s.create_account("acme")
        s.create_project("nlp", keys=s.acme)
        st, body = s.job("nlp", "SELECT 1 AS x", keys=s.acme)
        if st == 501:
            pytest.skip(f"the job runner is not in this build: {body}")
        assert st == 200, body
        put_resource(s, "nlp", "probe.lua", PROBE_LUA, s.acme)
        st, body = s.job("nlp", "CREATE FUNCTION probe AS 'probe.probe' USING 'probe.lua'",
                         keys=s.acme)
        assert st == 200, body
        st, body = s.job("nlp", "CREATE NETWORKLINK echo ALLOW '198.51.100.7:8080';"
                         " ALLOW PROJECT nlp TO USE NETWORKLINK echo;"
                         " CREATE NETWORKLINK other ALLOW '198.51.100.7:8081'")
        assert st == 200, body
        yield s
    finally:
        s.stop()


def _ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cordon_nodes(srv):
    """cordon-node processes descending from this test's cordond (other
    tests on the machine may run nodes of their own at the same time)."""
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not os.readlink(f"/proc/{pid}/exe").endswith("/cordon-node"):
                continue
            p = int(pid)
            while p > 1 and p != srv.proc.pid:
                p = _ppid(p)
            n += p == srv.proc.pid
        except (OSError, ValueError, IndexError):
            pass
    return n


def rows_of(srv, sql):
    st, body = srv.job("nlp", sql, keys=srv.acme)
    assert st == 200 and body.get("status") == "succeeded", body
    return body["rows"]


def test_job_with_link_reaches_exactly_its_destination(srv):
    sql = ("SET odps.session.networklink=echo;"
           " SELECT probe('198.51.100.7', 8080) AS a, probe('198.51.100.7', 8081) AS b,"
           " probe('198.51.100.1', 8080) AS c, probe('198.51.100.8', 8080) AS d")
    [[a, b, c, d]] = rows_of(srv, sql)
    assert a == "ok granted"
    assert b.startswith("fail") and b.endswith("connection timed out"), b
    assert c.startswith("fail") and d.startswith("fail"), (c, d)


def test_job_without_link_reaches_nothing(srv):
    [[a]] = rows_of(srv, "SELECT probe('198.51.100.7', 8080) AS a")
    assert a == "no net"


@pytest.mark.parametrize("link,rule", [("other", "networklink_not_allowed"),
                                       ("nosuch", "networklink_not_found")])
def test_unpermitted_link_refused_before_any_node_starts(srv, link, rule):
    before = cordon_nodes(srv)
    st, body = srv.job("nlp", f"SET odps.session.networklink={link};"
                       " SELECT probe('198.51.100.7', 8081) AS a", keys=srv.acme)
    assert st == 403, body
    assert rule in body["message"], body
    assert f"networklinks/{link}" in body["message"], body
    assert "id" not in body, body  # no job was created, so nothing ran
    assert cordon_nodes(srv) <= before
    denied = [e for e in srv.audit() if e.get("eventName") == "Authorize"
              and e.get("decision") == "deny" and f"networklinks/{link}" in e.get("resource", "")]
    assert denied, "the denial is audited"


def test_member_without_use_refused(srv):
    st, body = srv.call("POST", "/v1/accounts/acme/users", {"name": "bob"}, keys=srv.acme)
    assert st == 201, body
    st, body = srv.call("POST", "/v1/accounts/acme/keys", {"user": "bob"}, keys=srv.acme)
    assert st == 201, body
    bob = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    st, body = srv.job("nlp", "ADD USER RAM$acme:bob; GRANT Execute ON FUNCTION probe TO USER"
                       " RAM$acme:bob; GRANT Read ON RESOURCE `probe.lua` TO USER RAM$acme:bob",
                       keys=srv.acme)
    assert st == 200, body
    sql = "SET odps.session.networklink=echo; SELECT probe('198.51.100.7', 8080) AS a"
    st, body = srv.job("nlp", sql, keys=bob)
    assert st == 403 and "no_privilege" in body["message"], body
    st, body = srv.job("nlp", "GRANT Use ON NETWORKLINK echo TO USER RAM$acme:bob",
                       keys=srv.acme)
    assert st == 200, body
    st, body = srv.job("nlp", sql, keys=bob)
    assert st == 200 and body["rows"] == [["ok granted"]], body


def test_disallowed_link_refused_and_grant_removed(srv):
    st, body = srv.job("nlp", "CREATE NETWORKLINK gone ALLOW '198.51.100.7:8080';"
                       " ALLOW PROJECT nlp TO USE NETWORKLINK gone")
    assert st == 200, body
    [[a]] = rows_of(srv, "SET odps.session.networklink=gone;"
                    " SELECT probe('198.51.100.7', 8080) AS a")
    assert a == "ok granted"
    st, body = srv.job("nlp", "DISALLOW PROJECT nlp TO USE NETWORKLINK gone")
    assert st == 200, body
    st, body = srv.job("nlp", "SET odps.session.networklink=gone;"
                       " SELECT probe('198.51.100.7', 8080) AS a", keys=srv.acme)
    assert st == 403 and "networklink_not_allowed" in body["message"], body
    # the gateway keeps no object of finished jobs (the table goes at once)
    for _ in range(400):
        tables = ovlnet.ns_run(srv_gateway(srv), ["nft", "list", "tables"]).stdout
        if "cordon_" not in tables:
            break
        time.sleep(0.05)
    assert "cordon_" not in tables, tables


def srv_gateway(srv):
    return srv.extra[srv.extra.index("--netlink-gateway") + 1]
