"""Bulk table data through the real API: PUT/GET /v1/projects/{p}/tables/{t}/data
on a real cordond with its embedded chunk servers (every row encrypted on 3
replicas). Round trips of CSV and JSON lines (NULLs, quotes, newlines in
fields, unicode, BINARY, DATETIME), append and overwrite, partitions, the
refusals (no privilege, a label above the reader's level, the Download
privilege, the IP whitelist, bad input that must change nothing), signed by
botocore, curl --aws-sigv4 and the `cordon table` CLI; DROP TABLE
crypto-shreds."""
import json
import subprocess
import urllib.parse

import pytest

from cordon_api import Cordond, REGION, SERVICE


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("tabledata") / "data",
                extra=["--chunkservers", "3", "--racks", "3"]).start()
    s.acme = s.create_account("acme")
    s.create_project("sales", keys=s.acme)
    s.users = {}
    for u in ("bob", "carol"):
        st, body = s.call("POST", "/v1/accounts/acme/users", {"name": u}, keys=s.acme)
        assert st == 201, body
        st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": u}, keys=s.acme)
        assert st == 201, body
        s.users[u] = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
        ok(s, f"ADD USER RAM$acme:{u};")
    yield s
    s.stop()


def ok(s, sql, keys=None, project="sales"):
    st, body = s.job(project, sql, keys=keys or s.acme)
    assert st == 200, (sql, body)
    return body


def path(table, project="sales", **query):
    q = urllib.parse.urlencode(query)
    return f"/v1/projects/{project}/tables/{table}/data" + (f"?{q}" if q else "")


def upload(s, table, body, keys=None, ctype="text/csv", project="sales", source=None, **query):
    data = body if isinstance(body, bytes) else body.encode()
    m, p, h, b = s.signed("PUT", path(table, project, **query), data, keys or s.acme,
                          {"Content-Type": ctype})
    st, parsed, _ = s.send(m, p, h, b, source=source)
    return st, parsed


def download(s, table, keys=None, csv=False, project="sales", **query):
    headers = {"Accept": "text/csv"} if csv else {}
    m, p, h, b = s.signed("GET", path(table, project, **query), None, keys or s.acme, headers)
    st, parsed, hdrs = s.send(m, p, h, b)
    return st, parsed, hdrs


def rows_of(s, table, **query):
    st, text, hdrs = download(s, table, **query)
    assert st == 200, text
    assert hdrs["Content-Type"] == "application/x-ndjson"
    if not isinstance(text, str):  # a single line parses as JSON
        return [text]
    return [json.loads(line) for line in text.splitlines()]


CSV = ('id,name,score,ok,at,raw\n'
       '1,"plain",1.5,true,2024-02-29 23:59:58.5,AAEC/w==\n'
       '2,"say ""hi""",,false,,\n'
       '3,"two\nlines, and a comma",-0.25,,1970-01-01 00:00:00,""\n'
       '4,"",1e3,TRUE,2000-01-01,\n'
       '5,ünïcødé 🚀,,,,\n')

EXPECTED = [
    {"id": 1, "name": "plain", "score": 1.5, "ok": True, "at": "2024-02-29 23:59:58.500",
     "raw": "AAEC/w=="},
    {"id": 2, "name": 'say "hi"', "score": None, "ok": False, "at": None, "raw": None},
    {"id": 3, "name": "two\nlines, and a comma", "score": -0.25, "ok": None,
     "at": "1970-01-01 00:00:00.000", "raw": ""},
    {"id": 4, "name": "", "score": 1000.0, "ok": True, "at": "2000-01-01 00:00:00.000",
     "raw": None},
    {"id": 5, "name": "ünïcødé 🚀", "score": None, "ok": None, "at": None, "raw": None},
]

TYPES = "(id BIGINT, name STRING, score DOUBLE, ok BOOLEAN, at DATETIME, raw BINARY)"


def test_csv_round_trip(srv):
    ok(srv, f"CREATE TABLE rt {TYPES};")
    st, body = upload(srv, "rt", CSV)
    assert st == 200, body
    assert body["rows"] == 5 and body["mode"] == "append"
    assert rows_of(srv, "rt") == EXPECTED
    # CSV out, and back in: the same rows
    st, text, hdrs = download(srv, "rt", csv=True)
    assert st == 200 and hdrs["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0] == "id,name,score,ok,at,raw"
    assert '"say ""hi"""' in text and '"two\nlines, and a comma"' in text
    st, body = upload(srv, "rt", text, mode="overwrite")
    assert st == 200, body
    assert rows_of(srv, "rt") == EXPECTED


def test_jsonl_round_trip(srv):
    ok(srv, f"CREATE TABLE rj {TYPES};")
    lines = [json.dumps(r, ensure_ascii=False) for r in EXPECTED]
    lines[4] = '{"id": 5, "name": "ünïcødé 🚀"}'  # missing keys are NULL
    st, body = upload(srv, "rj", "\n".join(lines) + "\n", ctype="application/x-ndjson")
    assert st == 200, body
    assert rows_of(srv, "rj") == EXPECTED
    assert rows_of(srv, "rj", limit=2) == EXPECTED[:2]
    assert rows_of(srv, "rj", columns="name,id", limit=1) == [{"name": "plain", "id": 1}]
    st, body, _ = download(srv, "rj", columns="id,name,ID")
    assert st == 400 and "named twice" in body["message"], body


def test_append_and_overwrite(srv):
    ok(srv, "CREATE TABLE ao (id BIGINT, v STRING);")
    assert upload(srv, "ao", "id,v\n1,a\n2,b\n")[0] == 200
    assert upload(srv, "ao", "v,id\nc,3\n")[0] == 200  # header order is free
    assert [r["id"] for r in rows_of(srv, "ao")] == [1, 2, 3]
    st, body = upload(srv, "ao", "id,v\n9,z\n", mode="overwrite")
    assert st == 200 and body["rows"] == 1
    assert rows_of(srv, "ao") == [{"id": 9, "v": "z"}]
    # an empty overwrite empties the table
    assert upload(srv, "ao", "id,v\n", mode="overwrite")[0] == 200
    st, text, _ = download(srv, "ao")
    assert st == 200 and text == ""


def test_partitions(srv):
    ok(srv, "CREATE TABLE logs (msg STRING) PARTITIONED BY (ds STRING, hr BIGINT);")
    assert upload(srv, "logs", "msg\na1\na2\n", partition="ds=a/hr=1")[0] == 200
    assert upload(srv, "logs", "msg\nb1\n", partition="hr=2/ds=b")[0] == 200
    got = rows_of(srv, "logs")
    assert sorted((r["msg"], r["ds"], r["hr"]) for r in got) == [
        ("a1", "a", 1), ("a2", "a", 1), ("b1", "b", 2)]
    assert [r["msg"] for r in rows_of(srv, "logs", partition="ds=a")] == ["a1", "a2"]
    assert [r["msg"] for r in rows_of(srv, "logs", partition="hr=02")] == ["b1"]
    # overwriting one partition keeps the others
    assert upload(srv, "logs", "msg\nA\n", partition="ds=a/hr=1", mode="overwrite")[0] == 200
    assert sorted(r["msg"] for r in rows_of(srv, "logs")) == ["A", "b1"]
    parts = ok(srv, "SHOW PARTITIONS logs;")["rows"]
    assert parts == [["ds=a/hr=1"], ["ds=b/hr=2"]]
    for bad in (None, "ds=a", "ds=a/hr=x", "ds=a/hr=1/zz=3"):
        q = {"partition": bad} if bad else {}
        st, body = upload(srv, "logs", "msg\nnope\n", **q)
        assert st == 400, (bad, body)
    st, body = upload(srv, "logs", "msg,ds\nx,a\n", partition="ds=a/hr=1")
    assert st == 400 and "?partition=" in body["message"]
    assert sorted(r["msg"] for r in rows_of(srv, "logs")) == ["A", "b1"]
    # DROP PARTITION takes the rows with it
    st, body = srv.job("sales", "ALTER TABLE logs DROP PARTITION (ds='a', hr='1');",
                       keys=srv.users["bob"])
    assert st == 403 and "odps:Alter" in body["message"], body
    ok(srv, "ALTER TABLE logs DROP PARTITION (ds='a', hr='1');")
    assert [r["msg"] for r in rows_of(srv, "logs")] == ["b1"]
    assert ok(srv, "SHOW PARTITIONS logs;")["rows"] == [["ds=b/hr=2"]]
    st, body = srv.job("sales", "ALTER TABLE logs DROP PARTITION (ds='a', hr='1');",
                       keys=srv.acme)
    assert st == 404, body
    ok(srv, "ALTER TABLE logs DROP IF EXISTS PARTITION (ds='a', hr='1');")
    ok(srv, "ALTER TABLE logs ADD PARTITION (ds='c', hr='3');")
    ok(srv, "ALTER TABLE logs DROP PARTITION (ds='c', hr='3');")
    assert [r["msg"] for r in rows_of(srv, "logs")] == ["b1"]


BAD = [
    ("id,name,score,ok,at,raw\n1,a,,,,\n2,b,x,,,\n", "text/csv", "line 3, column 'score'"),
    ("id,name,score,ok,at,raw\n1,a,,,,\n99999999999999999999,b,,,,\n", "text/csv",
     "line 3, column 'id'"),
    ("id,name,score,ok,at,raw\n1,\"open,,,,\n2,b,,,,\n", "text/csv", "line 2"),
    ("id,name,score,ok,at,raw\n1,a,,,\n", "text/csv", "line 2: 5 fields"),
    ("id,name,score,ok,at,raw\n1,a,,,,,\n", "text/csv", "line 2"),
    ("id,name\n1,a\n", "text/csv", "line 1: column 'score' missing"),
    ("id,name,score,ok,at,raw,secret\n", "text/csv", "'secret'"),
    (b"id,name,score,ok,at,raw\n1,\xff\xfe,,,,\n", "text/csv", "UTF-8"),
    ("id,name,score,ok,at,raw\n1,a,,maybe,,\n", "text/csv", "column 'ok'"),
    ("id,name,score,ok,at,raw\n1,a,,,2023-02-30,\n", "text/csv", "column 'at'"),
    ("id,name,score,ok,at,raw\n1,a,,,,not base64!\n", "text/csv", "column 'raw'"),
    ('{"id": 1}\n{"id": "2"}\n', "application/x-ndjson", "line 2, column 'id'"),
    ('{"id": 1}\n{"id": 2\n', "application/x-ndjson", "line 2"),
    ('{"id": 1}\n[1, 2]\n', "application/x-ndjson", "line 2"),
    ('{"id": 1, "nope": 2}\n', "application/x-ndjson", "'nope'"),
    ('{"id": 1, "id": 2}\n', "application/x-ndjson", "line 1"),
]


@pytest.mark.parametrize("body,ctype,fragment", BAD)
def test_bad_input_is_400_and_changes_nothing(srv, body, ctype, fragment):
    if not any(r[0] == "bad" for r in ok(srv, "SHOW TABLES;")["rows"]):
        ok(srv, f"CREATE TABLE bad {TYPES};")
        assert upload(srv, "bad", "id,name,score,ok,at,raw\n7,seven,,,,\n")[0] == 200
    st, resp = upload(srv, "bad", body, ctype=ctype)
    assert st == 400, resp
    assert resp["code"] == "InvalidData"
    assert fragment in resp["message"], resp["message"]
    assert rows_of(srv, "bad") == [{"id": 7, "name": "seven", "score": None, "ok": None,
                                    "at": None, "raw": None}]


def test_huge_row_refused_big_upload_accepted(srv):
    ok(srv, "CREATE TABLE big (id BIGINT, s STRING);")
    st, body = upload(srv, "big", "id,s\n1," + "x" * (1 << 20 + 1) + "\n")
    assert st == 400 and "line 2" in body["message"] and "larger" in body["message"]
    # more than the 1 MiB every other route allows, in many rows
    csv = "id,s\n" + "".join(f"{i},{'y' * 200}\n" for i in range(12000))
    assert len(csv) > 2 << 20
    st, body = upload(srv, "big", csv)
    assert st == 200 and body["rows"] == 12000, body
    assert len(rows_of(srv, "big", limit=5)) == 5
    # other routes keep their 1 MiB cap
    st, body = srv.call("POST", "/v1/projects/sales/jobs", {"sql": "SELECT 1; --" + "z" * (1 << 20)})
    assert st == 413, body


def test_unauthorized_user_refused_with_rule(srv):
    bob = srv.users["bob"]
    ok(srv, "CREATE TABLE secret (id BIGINT, name STRING);")
    assert upload(srv, "secret", "id,name\n1,a\n")[0] == 200
    st, body = upload(srv, "secret", "id,name\n2,b\n", keys=bob)
    assert st == 403, body
    assert "odps:Update" in body["message"] and "rule" in body["message"]
    st, body, _ = download(srv, "secret", keys=bob)
    assert st == 403 and "odps:Select" in body["message"], body
    ok(srv, "GRANT Update ON TABLE secret TO USER RAM$acme:bob;")
    assert upload(srv, "secret", "id,name\n2,b\n", keys=bob)[0] == 200
    ok(srv, "GRANT Select ON TABLE secret (id) TO USER RAM$acme:bob;")
    st, body, _ = download(srv, "secret", keys=bob)
    assert st == 403 and "columns/name" in body["message"], body
    assert rows_of(srv, "secret") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    st, text, _ = download(srv, "secret", keys=bob, columns="id")
    assert st == 200 and [json.loads(x)["id"] for x in text.splitlines()] == [1, 2]
    # an outsider's account is not even a member
    other = srv.create_account("outsider")
    st, body = upload(srv, "secret", "id,name\n3,c\n", keys=other)
    assert st == 403, body


def test_label_read_up_refused(srv):
    carol = srv.users["carol"]
    ok(srv, "CREATE TABLE people (id BIGINT, email STRING);")
    assert upload(srv, "people", "id,email\n1,a@x\n")[0] == 200
    ok(srv, "GRANT Select ON TABLE people TO USER RAM$acme:carol;")
    ok(srv, "SET LabelSecurity=true;")
    try:
        ok(srv, "SET LABEL 3 TO TABLE people(email);")
        st, body, _ = download(srv, "people", keys=carol)
        assert st == 403, body
        assert "columns/email" in body["message"] and "label" in body["message"], body
        st, text, _ = download(srv, "people", keys=carol, columns="id")
        assert st == 200, text
        ok(srv, "SET LABEL 3 TO USER RAM$acme:carol;")
        st, text, _ = download(srv, "people", keys=carol)
        assert st == 200 and "a@x" in str(text)
    finally:
        ok(srv, "SET LabelSecurity=false;")


def test_download_privilege(srv):
    carol = srv.users["carol"]
    ok(srv, "CREATE TABLE dl (id BIGINT);")
    assert upload(srv, "dl", "id\n1\n")[0] == 200
    ok(srv, "GRANT Select ON TABLE dl TO USER RAM$acme:carol;")
    assert download(srv, "dl", keys=carol)[0] == 200
    # only the owner switches it on
    st, body = srv.job("sales", "SETPROJECT odps.security.enabledownloadprivilege=true;",
                       keys=carol)
    assert st == 403, body
    ok(srv, "SETPROJECT odps.security.enabledownloadprivilege=true;")
    try:
        st, body, _ = download(srv, "dl", keys=carol)
        assert st == 403 and "odps:Download" in body["message"], body
        assert download(srv, "dl")[0] == 200  # the owner
        ok(srv, "GRANT Download ON TABLE dl TO USER RAM$acme:carol;")
        assert download(srv, "dl", keys=carol)[0] == 200
    finally:
        ok(srv, "SETPROJECT odps.security.enabledownloadprivilege=false;")


def test_whitelist_applies(srv):
    ok(srv, "CREATE TABLE wl (id BIGINT);")
    ok(srv, "SETPROJECT odps.security.ip.whitelist=127.0.0.2;")
    try:
        st, body = upload(srv, "wl", "id\n1\n")
        assert st == 403 and body["code"] == "IpNotInWhitelist", body
        st, body = upload(srv, "wl", "id\n1\n", source="127.0.0.2")
        assert st == 200, body
    finally:
        st, body = srv.call("POST", "/v1/projects/sales/jobs",
                            {"sql": "SETPROJECT odps.security.ip.whitelist=;"},
                            keys=srv.acme, source="127.0.0.2")
        assert st == 200, body
    assert rows_of(srv, "wl") == [{"id": 1}]


def test_audited(srv):
    ok(srv, "CREATE TABLE au (id BIGINT);")
    assert upload(srv, "au", "id\n1\n")[0] == 200
    assert download(srv, "au", keys=srv.users["bob"])[0] == 403
    events = srv.audit(project="sales")
    res = "acs:odps:*:projects/sales/tables/au"
    up = [e for e in events if e["eventName"] == "UploadTableData" and e["resource"] == res]
    down = [e for e in events if e["eventName"] == "DownloadTableData" and e["resource"] == res]
    assert up and up[-1]["decision"] == "allow"
    assert down and down[-1]["decision"] == "deny"
    assert any(e["eventName"] == "Authorize" and e["decision"] == "deny" and
               e["resource"].startswith(res + "/columns/") for e in events)


def test_curl_sigv4_upload(srv, tmp_path):
    ok(srv, "CREATE TABLE viacurl (id BIGINT, name STRING);")
    f = tmp_path / "rows.csv"
    f.write_text('id,name\n1,"x, y"\n2,\n')
    ak, sk = srv.acme
    r = subprocess.run(["curl", "-s", "-S", "--cacert", srv.ca, "--aws-sigv4",
                        f"aws:amz:{REGION}:{SERVICE}", "--user", f"{ak}:{sk}", "-X", "PUT",
                        "-H", "Content-Type: text/csv", "--data-binary", f"@{f}",
                        "-w", "\n%{http_code}", srv.url + path("viacurl")],
                       capture_output=True, text=True, timeout=30)
    body, code = r.stdout.rsplit("\n", 1)
    assert code == "200", body
    assert rows_of(srv, "viacurl") == [{"id": 1, "name": "x, y"}, {"id": 2, "name": None}]
    # curl's helper sends application/json: JSON lines
    code, body = srv.curl(path("viacurl"), method="PUT", data='{"id": 3, "name": "z"}')
    assert code == 200 and body["rows"] == 1, body
    st, body = upload(srv, "viacurl", "\x89PNG", ctype="image/png")
    assert st == 400 and "Content-Type" in body["message"], body
    assert len(rows_of(srv, "viacurl")) == 3
    code, body = srv.curl(path("viacurl"), extra=["--get", "--data-urlencode", "limit=2"])
    assert code == 200 and body == '{"id":1,"name":"x, y"}\n{"id":2,"name":null}\n', body


def test_cli_upload_download(srv, tmp_path):
    ok(srv, "CREATE TABLE viacli (id BIGINT, name STRING) PARTITIONED BY (ds STRING);")
    f = tmp_path / "in.jsonl"
    f.write_text('{"id": 1, "name": "ä"}\n{"id": 2, "name": null}\n')
    r = srv.cli("table", "upload", "sales", "viacli", str(f), "--partition", "ds=x",
                keys=srv.acme)
    assert r.returncode == 0, r.stderr
    assert "2 rows" in r.stdout
    r = srv.cli("table", "download", "sales", "viacli", "--format", "csv", keys=srv.acme)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "id,name,ds\n1,ä,x\n2,,x\n"
    out = tmp_path / "out.jsonl"
    r = srv.cli("table", "download", "sales", "viacli", "--limit", "1", "--output", str(out),
                keys=srv.acme)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == {"id": 1, "name": "ä", "ds": "x"}
    csv = tmp_path / "in.csv"
    csv.write_text("id,name\n3,c\n")
    r = srv.cli("table", "upload", "sales", "viacli", str(csv), "--partition", "ds=x",
                "--overwrite", keys=srv.acme)
    assert r.returncode == 0, r.stderr
    r = srv.cli("table", "download", "sales", "viacli", keys=srv.acme)
    assert [json.loads(x) for x in r.stdout.splitlines()] == [{"id": 3, "name": "c", "ds": "x"}]
    # refused: exit code 3 and the server's message
    r = srv.cli("table", "upload", "sales", "viacli", str(csv), "--partition", "ds=x",
                keys=srv.users["bob"])
    assert r.returncode == 3 and "AccessDenied" in r.stderr
    r = srv.cli("table", "upload", "--help")
    assert r.returncode == 0 and "--partition" in r.stdout


def test_drop_table_shreds_and_forgets(srv):
    ok(srv, "CREATE TABLE gone (id BIGINT);")
    assert upload(srv, "gone", "id\n1\n2\n")[0] == 200
    st, body = srv.job("sales", "DROP TABLE gone;", keys=srv.users["bob"])
    assert st == 403 and "odps:Drop" in body["message"], body
    ok(srv, "DROP TABLE gone;")
    assert "gone" not in [r[0] for r in ok(srv, "SHOW TABLES;")["rows"]]
    st, body, _ = download(srv, "gone")
    assert st == 404, body
    ok(srv, "DROP TABLE IF EXISTS gone;")
    st, body = srv.job("sales", "DROP TABLE gone;", keys=srv.acme)
    assert st == 404, body
    ok(srv, "CREATE TABLE gone (id BIGINT);")
    st, text, _ = download(srv, "gone")
    assert st == 200 and text == ""
    events = srv.audit(project="sales", event="DropTable")
    assert events and events[-1]["resource"] == "acs:odps:*:projects/sales/tables/gone"


def test_jobs_read_uploads_and_inserts_download(srv):
    """The job runner reads what an upload wrote and an INSERT's rows come
    back through a download: one table format for both."""
    ok(srv, "CREATE TABLE src (id BIGINT, name STRING) PARTITIONED BY (ds STRING);")
    assert upload(srv, "src", "id,name\n1,a\n2,\"b,\nc\"\n3,\n", partition="ds=x")[0] == 200
    st, body = srv.job("sales", "SELECT id, name, ds FROM src WHERE id >= 2 ORDER BY id;",
                       keys=srv.acme)
    assert st == 200 and body.get("status") == "succeeded", body
    assert body["rows"] == [[2, "b,\nc", "x"], [3, None, "x"]]
    ok(srv, "CREATE TABLE dst (id BIGINT, name STRING);")
    st, body = srv.job("sales", "INSERT INTO dst SELECT id * 10, name FROM src;", keys=srv.acme)
    assert st == 200 and body.get("status") == "succeeded", body
    assert sorted(r["id"] for r in rows_of(srv, "dst")) == [10, 20, 30]
    # an upload appends to what the job wrote
    assert upload(srv, "dst", "id,name\n40,d\n")[0] == 200
    st, body = srv.job("sales", "SELECT COUNT(*) AS n FROM dst;", keys=srv.acme)
    assert st == 200 and body["rows"] == [[4]], body


def test_max_upload_caps_only_this_route(bin_dir, tmp_path):
    with Cordond(bin_dir, tmp_path / "data",
                 extra=["--chunkservers", "3", "--racks", "3", "--max-upload", "2M"]) as s:
        acme = s.create_account("acme")
        s.create_project("p", keys=acme)
        ok(s, "CREATE TABLE t (id BIGINT, s STRING);", keys=acme, project="p")
        rows = "".join(f"{i},{'v' * 100}\n" for i in range(14000))  # ~1.5 MiB
        st, body = upload(s, "t", "id,s\n" + rows, keys=acme, project="p")
        assert st == 200 and body["rows"] == 14000, body
        st, body = upload(s, "t", "id,s\n" + rows + rows, keys=acme, project="p")
        assert st == 413 and body["code"] == "EntityTooLarge", body
        st, row, _ = download(s, "t", keys=acme, project="p", limit=1)
        assert st == 200 and row["id"] == 0, row
    r = subprocess.run([bin_dir / "cordond", "--data-dir", tmp_path / "x", "--max-upload", "1K"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--max-upload" in r.stderr
