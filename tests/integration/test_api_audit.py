"""The audit log: every request (accepted or refused) and admin change is a
hash-chained record in the catalog and DIR/audit/*.jsonl, with Ed25519
checkpoints; GET /v1/audit for operators and project owners; `cordon audit
verify` passes on an untouched log and names the first record that was
changed, removed, reordered or inserted."""
import hashlib
import json
import shutil

import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def logged(bin_dir, tmp_path_factory):
    """A server that did a bit of everything, then stopped (SIGTERM)."""
    base = tmp_path_factory.mktemp("audit")
    s = Cordond(bin_dir, base / "data", extra=["--audit-checkpoint-every", "7"]).start()
    acme = s.create_account("acme")
    s.call("POST", "/v1/accounts/acme/users", {"name": "bob"}, keys=acme)
    st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": "bob"}, keys=acme)
    bob = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    s.create_project("books", keys=acme)
    other = s.create_account("other")
    s.create_project("theirs", keys=other)
    refused = []
    refused.append(s.send("GET", "/v1/whoami", {})[1]["requestId"])
    refused.append(s.call("GET", "/v1/whoami", keys=(acme[0], "z" * 40))[1]["requestId"])
    refused.append(s.call("GET", "/v1/whoami", keys=("CDKZZZZZZZZZZZZZZZZZ", "z" * 40))[1]
                   ["requestId"])
    m, p, h, b = s.signed("GET", "/v1/whoami", keys=acme, skew=-30 * 60)
    refused.append(s.send(m, p, h, b)[1]["requestId"])
    s.job("books", "SETPROJECT odps.security.ip.whitelist=127.0.0.2;", keys=acme)
    refused.append(s.job("books", "WHOAMI;", keys=acme)[1]["requestId"])
    refused.append(s.job("theirs", "SETPROJECT odps.security.ip.whitelist=;", keys=acme)[1]
                   ["requestId"])
    refused.append(s.call("GET", "/v1/admin/accounts", keys=acme)[1]["requestId"])
    s.refused, s.acme, s.other, s.bob, s.secrets = refused, acme, other, bob, [acme[1], bob[1]]
    s.events = s.audit(limit=10000)
    s.owner_view = s.call("GET", "/v1/audit", keys=acme)
    s.other_view = s.call("GET", "/v1/audit?project=books", keys=other)
    s.bob_view = s.call("GET", "/v1/audit", keys=bob)
    assert s.stop() == 0
    return s


def test_every_refused_request_is_recorded(logged):
    by_id = {e["requestId"]: e for e in logged.events if e.get("requestId")}
    codes = []
    for rid in logged.refused:
        assert rid in by_id, rid
        e = by_id[rid]
        assert e["decision"] == "deny" and e["errorCode"] and e["httpStatus"] >= 400
        assert e["sourceIpAddress"] == "127.0.0.1"
        codes.append(e["errorCode"])
    assert codes == ["MissingAuthenticationToken", "SignatureDoesNotMatch", "InvalidAccessKeyId",
                     "RequestExpired", "IpNotInWhitelist", "AccessDenied", "AccessDenied"]


def test_admin_changes_are_recorded(logged):
    names = [e["eventName"] for e in logged.events]
    for n in ("CreateAccount", "AddUser", "CreateAccessKey", "CreateProject",
              "SetProjectIpWhitelist", "InsertJob", "GetCallerIdentity"):
        assert n in names, n
    ok = [e for e in logged.events if e["eventName"] == "AddUser"][0]
    assert ok["principal"] == "ALIYUN$acme" and ok["decision"] == "allow"
    assert "userAgent" in ok and ok["eventId"] and ok["eventTime"].endswith("Z")


def test_no_secret_in_audit(logged):
    text = "".join(p.read_text() for p in (logged.data_dir / "audit").glob("*.jsonl"))
    for sk in logged.secrets:
        assert sk not in text


def test_owner_sees_only_own_projects(logged):
    st, body = logged.owner_view
    assert st == 200
    projects = {e["project"] for e in body["events"]}
    assert projects and projects <= {"books"}
    st, body = logged.other_view
    assert st == 200 and body["events"] == []
    st, body = logged.bob_view
    assert st == 403 and body["code"] == "AccessDenied"


def test_verify_untouched(logged):
    r = logged.cli("audit", "verify", str(logged.data_dir / "audit"))
    assert r.returncode == 0, r.stderr
    assert "audit log OK" in r.stdout
    cps = int(r.stdout.split(" records, ")[1].split()[0])
    assert cps >= 3  # every 7 records and at shutdown


def lines_of(d):
    files = sorted((d / "audit").glob("*.jsonl"))
    assert len(files) == 1
    return files[0], files[0].read_text().splitlines()


def tampered(logged, tmp_path, edit):
    d = tmp_path / "copy"
    shutil.copytree(logged.data_dir, d)
    f, lines = lines_of(d)
    lines = edit(lines)
    f.write_text("".join(l + "\n" for l in lines))
    r = logged.cli("audit", "verify", str(d / "audit"))
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert "FAILED" in r.stderr
    return r.stderr


def seq_line(lines, seq):
    return [i for i, l in enumerate(lines) if json.loads(l)["seq"] == seq][0]


def test_changed_record(logged, tmp_path):
    def edit(lines):
        i = seq_line(lines, 5)
        rec = json.loads(lines[i])
        rec["principal"] = "ALIYUN$mallory"
        lines[i] = json.dumps(rec, separators=(",", ":"))
        return lines
    assert "record seq 5 was changed" in tampered(logged, tmp_path, edit)


def test_removed_record(logged, tmp_path):
    def edit(lines):
        del lines[seq_line(lines, 9)]
        return lines
    assert "record seq 9 was removed" in tampered(logged, tmp_path, edit)


def test_reordered_records(logged, tmp_path):
    def edit(lines):
        i = seq_line(lines, 11)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return lines
    assert "record seq 11 was reordered" in tampered(logged, tmp_path, edit)


def test_inserted_record(logged, tmp_path):
    def edit(lines):
        i = seq_line(lines, 12)
        fake = json.loads(lines[i])
        fake["eventName"] = "DeleteAccount"
        lines.insert(i + 1, json.dumps(fake, separators=(",", ":")))
        return lines
    err = tampered(logged, tmp_path, edit)
    assert "inserted" in err and "seq 12" in err


def test_rewritten_chain_fails_checkpoint(logged, tmp_path):
    """An attacker who recomputes every hash after the change still cannot
    sign the next checkpoint."""
    def edit(lines):
        out, prev = [], "0" * 64
        for l in lines:
            rec = json.loads(l)
            if rec["seq"] == 3:
                rec["principal"] = "ALIYUN$mallory"
            rec["prevHash"] = prev
            text = json.dumps(rec, separators=(",", ":"))
            prev = hashlib.sha256(text.encode()).hexdigest()
            out.append(text)
        return out
    err = tampered(logged, tmp_path, edit)
    assert "checkpoint seq" in err and "signature does not verify" in err


def test_truncated_line(logged, tmp_path):
    def edit(lines):
        i = seq_line(lines, 6)
        lines[i] = lines[i][:40]
        return lines
    assert "not a valid record" in tampered(logged, tmp_path, edit)


def test_query_filters(bin_dir, tmp_path):
    import time
    s = Cordond(bin_dir, tmp_path / "data").start()
    try:
        s.call("GET", "/v1/whoami")
        now = int(time.time())
        assert s.audit(since=now + 3600) == []
        assert s.audit(until=now - 3600) == []
        ev = s.audit(since=now - 60, until=now + 60, event="GetCallerIdentity")
        assert ev and all(e["eventName"] == "GetCallerIdentity" for e in ev)
        assert all(e["principal"] == "ALIYUN$admin"
                   for e in s.audit(principal="ALIYUN$admin"))
        assert len(s.audit(limit=1)) == 1
        st, body = s.call("GET", "/v1/audit?since=yesterday")
        assert st == 400
        st, body = s.call("GET", "/v1/audit?limit=0")
        assert st == 400
    finally:
        s.stop()
