"""Resources and functions through a real cordond: the resource API (round
trips, the content rules, the size caps, authorization and ACL grants on
RESOURCE, audit), `cordon resource`, CREATE FUNCTION described in the
container from every script of udfs/ (kind and signature), scripts that fail
while being described, DROP FUNCTION, and functions of another project —
directly and through a package — resolved and authorized end to end
(EXPLAIN PERMISSION)."""
import hashlib
import pathlib
import ssl
import subprocess

import pytest

from cordon_api import Cordond

UDFS = pathlib.Path(__file__).resolve().parent.parent.parent / "udfs"


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("resfn") / "data",
                extra=["--chunkservers", "0"]).start()
    s.acme = s.create_account("acme")
    s.beta = s.create_account("beta")
    for p in ("sales", "lib"):
        s.create_project(p, keys=s.acme)
    s.create_project("mkt", keys=s.beta)
    s.bob = user_keys(s, "acme", "bob", s.acme)
    s.carol = user_keys(s, "beta", "carol", s.beta)
    ok(s, "sales", "ADD USER RAM$acme:bob;")
    yield s
    s.stop()


def user_keys(s, account, user, keys):
    st, body = s.call("POST", f"/v1/accounts/{account}/users", {"name": user}, keys=keys)
    assert st == 201, body
    st, body = s.call("POST", f"/v1/accounts/{account}/keys", {"user": user}, keys=keys)
    assert st == 201, body
    return body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"]


def ok(s, project, sql, keys=None):
    st, body = s.job(project, sql, keys=keys or s.acme)
    assert st == 200, (sql, body)
    return body


def get(s, project, name, keys):
    m, p, h, b = s.signed("GET", f"/v1/projects/{project}/resources/{name}", keys=keys)
    st, body, _ = s.send(m, p, h, b)
    return st, body


def functions(s, project, keys=None):
    return {r[0]: r for r in ok(s, project, "SHOW FUNCTIONS;", keys)["rows"]}


# ---- the resource API --------------------------------------------------------------

def test_round_trip_replace_list_delete(srv):
    script = (UDFS / "mask.lua").read_bytes()
    st, body = srv.put_resource("sales", "mask.lua", script, keys=srv.acme)
    assert st == 201 and body["replaced"] is False, body
    assert body["sha256"] == hashlib.sha256(script).hexdigest()
    assert body["size"] == len(script) and body["owner"] == "ALIYUN$acme"
    # the exact bytes come back
    m, p, h, b = srv.signed("GET", "/v1/projects/sales/resources/mask.lua", keys=srv.acme)
    st, text, headers = srv.send(m, p, h, b)
    assert st == 200 and text.encode() == script
    assert headers["Content-Type"] == "application/octet-stream"
    # a data file may hold any bytes
    data = bytes(range(256)) * 3
    st, body = srv.put_resource("sales", "table.bin", data, keys=srv.acme)
    assert st == 201, body
    st, body = srv.call("GET", "/v1/projects/sales/resources", keys=srv.acme)
    assert st == 200
    rows = {r["name"]: r for r in body["resources"]}
    assert rows["table.bin"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert rows["table.bin"]["size"] == 768 and rows["table.bin"]["created"] > 0
    assert set(rows["mask.lua"]) == {"name", "size", "sha256", "owner", "created"}
    # replace: 200, new content
    st, body = srv.put_resource("sales", "table.bin", b"v2", keys=srv.acme)
    assert st == 200 and body["replaced"] is True and body["size"] == 2, body
    # delete, then it is gone
    st, body = srv.call("DELETE", "/v1/projects/sales/resources/table.bin", keys=srv.acme)
    assert st == 200 and body["deleted"] == "table.bin", body
    st, body = srv.call("GET", "/v1/projects/sales/resources/table.bin", keys=srv.acme)
    assert st == 404 and body["code"] == "NoSuchResource", body
    st, body = srv.call("DELETE", "/v1/projects/sales/resources/table.bin", keys=srv.acme)
    assert st == 404, body
    st, body = srv.call("GET", "/v1/projects/nosuch/resources", keys=srv.acme)
    assert st == 404 and body["code"] == "NoSuchProject", body


def test_curl_sigv4_upload(srv, tmp_path):
    f = tmp_path / "words.txt"
    f.write_text("alpha\nbeta\n")
    st, body = srv.curl("/v1/projects/sales/resources/words.txt", keys=srv.acme, method="PUT",
                        extra=["--data-binary", f"@{f}"])
    assert st == 201 and body["size"] == 11, body
    st, text = get(srv, "sales", "words.txt", srv.acme)
    assert st == 200 and text == "alpha\nbeta\n"


def test_binary_chunk_refused(srv, tmp_path):
    # a real precompiled chunk, as luac and string.dump make it
    chunk = subprocess.run(["lua5.4", "-e", "io.write(string.dump(function() return 1 end))"],
                           capture_output=True, check=True).stdout
    assert chunk.startswith(b"\x1bLua")
    st, body = srv.put_resource("sales", "evil.lua", chunk, keys=srv.acme)
    assert st == 400 and body["code"] == "InvalidResource", body
    assert "precompiled Lua chunk" in body["message"], body
    assert "source text" in body["message"]
    assert get(srv, "sales", "evil.lua", srv.acme)[0] == 404  # nothing stored
    # and not under another case either (names compare without case)
    st, body = srv.put_resource("sales", "EVIL.LUA", chunk, keys=srv.acme)
    assert st == 400, body
    # a script must be UTF-8 text
    st, body = srv.put_resource("sales", "latin1.lua", b"return '\xe9t\xe9'", keys=srv.acme)
    assert st == 400 and "UTF-8" in body["message"], body
    st, body = srv.put_resource("sales", "nul.lua", b"return 1\x00", keys=srv.acme)
    assert st == 400 and "NUL" in body["message"], body
    # the same bytes are fine as data
    st, body = srv.put_resource("sales", "chunk.bin", chunk, keys=srv.acme)
    assert st == 201, body


@pytest.mark.parametrize("name", [".hidden", "-rf", "a%2Fb", "a%20b", "x" * 129])
def test_bad_names_refused(srv, name):
    st, body = srv.put_resource("sales", name, b"x", keys=srv.acme)
    assert st in (400, 404), body  # 404: the router refuses dot and encoded segments first
    st, body = srv.call("GET", "/v1/projects/sales/resources", keys=srv.acme)
    assert name not in {r["name"] for r in body["resources"]}


def test_size_caps(srv):
    # this route takes more than the 1 MiB of the other routes ...
    big = b"y" * (2 << 20)
    st, body = srv.put_resource("sales", "big.txt", big, keys=srv.acme)
    assert st == 201 and body["size"] == len(big), body
    m, p, h, b = srv.signed("POST", "/v1/projects", big, keys=srv.acme)
    st, body, _ = srv.send(m, p, h, b)
    assert st == 413 and body["code"] == "EntityTooLarge", body
    # ... up to 64 MiB: one byte more is refused (a 413, or the connection
    # closed by the HTTP layer before the body is read), nothing stored
    m, p, h, b = srv.signed("PUT", "/v1/projects/sales/resources/huge.txt",
                            b"z" * ((64 << 20) + 1), keys=srv.acme)
    try:
        st = srv.send(m, p, h, b)[0]
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        st = None
    assert st in (None, 413), st
    assert get(srv, "sales", "huge.txt", srv.acme)[0] == 404
    srv.call("DELETE", "/v1/projects/sales/resources/big.txt", keys=srv.acme)


# ---- authorization ---------------------------------------------------------------------

def test_unauthorized_is_403_with_the_rule(srv):
    srv.put_resource("sales", "secret.txt", b"s3cr3t", keys=srv.acme)
    # bob is a member without grants
    st, body = get(srv, "sales", "secret.txt", srv.bob)
    assert st == 403, body
    st, body = srv.call("GET", "/v1/projects/sales/resources/secret.txt", keys=srv.bob)
    assert body["code"] == "AccessDenied"
    assert "odps:Read" in body["message"] and "[4011]" in body["message"], body
    assert "projects/sales/resources/secret.txt" in body["message"]
    st, body = srv.put_resource("sales", "new.txt", b"x", keys=srv.bob)
    assert st == 403 and "odps:CreateResource" in body["message"], body
    st, body = srv.put_resource("sales", "secret.txt", b"overwritten", keys=srv.bob)
    assert st == 403 and "odps:Write" in body["message"], body
    st, body = srv.call("DELETE", "/v1/projects/sales/resources/secret.txt", keys=srv.bob)
    assert st == 403 and "odps:Delete" in body["message"], body
    st, body = srv.call("GET", "/v1/projects/sales/resources", keys=srv.bob)
    assert st == 403 and "odps:List" in body["message"], body
    # not a member at all
    st, body = srv.call("GET", "/v1/projects/sales/resources/secret.txt", keys=srv.beta)
    assert st == 403 and "[4002]" in body["message"], body
    # an unknown name is decided first: no probing of what exists
    st, body = srv.call("GET", "/v1/projects/sales/resources/nothere.txt", keys=srv.bob)
    assert st == 403, body
    # nothing changed
    st, text = get(srv, "sales", "secret.txt", srv.acme)
    assert st == 200 and text == "s3cr3t"


def test_acl_grant_on_resource(srv):
    srv.put_resource("sales", "shared.txt", b"v1", keys=srv.acme)
    ok(srv, "sales", "GRANT Read ON RESOURCE `shared.txt` TO USER RAM$acme:bob;")
    st, text = get(srv, "sales", "shared.txt", srv.bob)
    assert st == 200 and text == "v1"
    # Read is not Write nor Delete
    st, body = srv.put_resource("sales", "shared.txt", b"bob's", keys=srv.bob)
    assert st == 403 and "odps:Write" in body["message"], body
    ok(srv, "sales", "GRANT Write ON RESOURCE `shared.txt` TO USER RAM$acme:bob;")
    st, body = srv.put_resource("sales", "shared.txt", b"v2", keys=srv.bob)
    assert st == 200 and body["replaced"] is True, body
    st, body = srv.call("DELETE", "/v1/projects/sales/resources/shared.txt", keys=srv.bob)
    assert st == 403, body
    rows = ok(srv, "sales", "SHOW ACL FOR `shared.txt` ON TYPE RESOURCE;")["rows"]
    assert any("RAM$acme:bob" in " ".join(map(str, r)) for r in rows), rows
    # ACLs go with the object: deleted and put again, bob's grants are gone
    st, body = srv.call("DELETE", "/v1/projects/sales/resources/shared.txt", keys=srv.acme)
    assert st == 200, body
    srv.put_resource("sales", "shared.txt", b"v3", keys=srv.acme)
    st, body = get(srv, "sales", "shared.txt", srv.bob)
    assert st == 403, body
    # CreateResource on the project lets bob add his own
    ok(srv, "sales", "GRANT CreateResource ON PROJECT sales TO USER RAM$acme:bob;")
    st, body = srv.put_resource("sales", "bobs.txt", b"mine", keys=srv.bob)
    assert st == 201 and body["owner"] == "RAM$acme:bob", body


def test_audited(srv):
    srv.put_resource("sales", "audited.txt", b"a", keys=srv.acme)
    get(srv, "sales", "audited.txt", srv.acme)
    get(srv, "sales", "audited.txt", srv.bob)  # denied
    srv.call("DELETE", "/v1/projects/sales/resources/audited.txt", keys=srv.acme)
    events = srv.audit(project="sales")
    mine = [e for e in events if (e.get("resource") or "").endswith("/resources/audited.txt")]
    names = [(e["eventName"], e.get("decision"), e.get("principal")) for e in mine]
    assert ("PutResource", "allow", "ALIYUN$acme") in names, names
    assert ("GetResource", "allow", "ALIYUN$acme") in names, names
    assert ("GetResource", "deny", "RAM$acme:bob") in names, names
    assert ("DeleteResource", "allow", "ALIYUN$acme") in names, names
    decided = [e for e in mine if e["eventName"] == "Authorize" and e.get("decision") == "deny"]
    assert decided and "odps:Read" in decided[-1]["reason"], decided


# ---- the CLI -----------------------------------------------------------------------------

def test_cli_put_get_rm_ls(srv, tmp_path):
    r = srv.cli("resource", "put", str(UDFS / "text.lua"), keys=srv.acme, project="lib")
    assert r.returncode == 0 and r.stdout.startswith("created text.lua:"), r.stderr
    r = srv.cli("resource", "put", str(UDFS / "text.lua"), keys=srv.acme, project="lib")
    assert r.returncode == 0 and r.stdout.startswith("replaced text.lua:"), r.stderr
    r = subprocess.run([srv.bin_dir / "cordon", "resource", "put", "-", "--name", "in.txt"],
                       input="from stdin", capture_output=True, text=True,
                       env=srv.cli_env(srv.acme, "lib"), timeout=30)
    assert r.returncode == 0, r.stderr
    r = srv.cli("resource", "ls", keys=srv.acme, project="lib")
    assert r.returncode == 0 and "text.lua" in r.stdout and "in.txt" in r.stdout, r.stdout
    assert hashlib.sha256((UDFS / "text.lua").read_bytes()).hexdigest() in r.stdout
    out = tmp_path / "back.lua"
    r = srv.cli("resource", "get", "text.lua", "-o", str(out), keys=srv.acme, project="lib")
    assert r.returncode == 0 and out.read_bytes() == (UDFS / "text.lua").read_bytes()
    r = srv.cli("resource", "get", "in.txt", keys=srv.acme, project="lib")
    assert r.returncode == 0 and r.stdout == "from stdin"
    r = srv.cli("resource", "rm", "in.txt", keys=srv.acme, project="lib")
    assert r.returncode == 0 and r.stdout == "deleted in.txt\n"
    r = srv.cli("resource", "get", "in.txt", keys=srv.acme, project="lib")
    assert r.returncode == 1 and "NoSuchResource" in r.stderr
    # denied: exit 3 with the rule
    r = srv.cli("resource", "get", "secret.txt", keys=srv.bob, project="sales")
    assert r.returncode == 3 and "odps:Read" in r.stderr, r.stderr
    # usage
    assert srv.cli("resource", "--help").returncode == 0
    assert srv.cli("resource", "put", "-", keys=srv.acme, project="lib").returncode == 2
    assert srv.cli("resource", "frob", keys=srv.acme, project="lib").returncode == 2
    r = srv.cli("resource", "put", str(tmp_path / "missing.lua"), keys=srv.acme, project="lib")
    assert r.returncode == 1 and "missing.lua" in r.stderr


# ---- CREATE FUNCTION ---------------------------------------------------------------------

AGGREGATES = {"median", "approx_percentile", "geomean", "stddev_pop", "stddev_samp"}
TABLE_FUNCTIONS = {"words": 1, "split": 2, "json_array_elements": 1}
SIGNATURES = {  # as the scripts declare them (split's columns share STRING in the catalog)
    "geomean": "double->double", "approx_percentile": "double,double->double",
    "mask_keep_last": "string,bigint->string", "mask_phone": "string->string",
    "haversine_km": "double,double,double,double->double", "ipv4_in_cidr": "string,string->boolean",
    "days_between": "datetime,datetime->bigint", "add_months": "datetime,bigint->datetime",
    "token_count": "string->bigint", "json_valid": "string->boolean",
    "words": "string->string", "split": "string,string->string", "url_query": "string,string->string",
    "mask_email": None,
}


def test_create_every_udf_of_the_library(srv):
    ok(srv, "mkt", "SHOW FUNCTIONS;", keys=srv.beta)
    created = srv.install_udfs("mkt", keys=srv.beta)
    readme = (UDFS / "README.md").read_text()
    assert len(created) >= 25
    for name in created:
        assert name in readme, name  # every function the library documents, no helper
    fns = functions(srv, "mkt", srv.beta)
    assert set(fns) == set(created)
    for name, row in fns.items():
        kind = ("aggregate" if name in AGGREGATES else
                "table" if name in TABLE_FUNCTIONS else "scalar")
        assert row[1] == kind, row
        assert row[2].endswith("." + name), row
        assert row[4] == created[name][2], row  # USING: the script itself
        if name in SIGNATURES:
            assert row[3] == SIGNATURES[name], row
    for name, ncols in TABLE_FUNCTIONS.items():
        assert len(created[name][4]) == ncols, created[name]
    assert created["split"][1] == "table"
    # a function in a query resolves with the described signature
    st, body = srv.job("mkt", "EXPLAIN SELECT mask_keep_last('4111', 2);", keys=srv.beta)
    assert st == 200, body
    st, body = srv.job("mkt", "EXPLAIN SELECT mask_keep_last('4111', 'x');", keys=srv.beta)
    assert st == 400 and "mask_keep_last" in body["message"], body
    st, body = srv.job("mkt", "CREATE FUNCTION geomean AS 'agg.geomean' USING 'agg.lua';",
                       keys=srv.beta)
    assert st == 409, body


@pytest.mark.parametrize("name,script,fragment", [
    ("f_err", "local M = {}\nerror('boom at load')\nreturn M\n", "bad1.lua:2: boom at load"),
    ("f_nil", "return { other = function() end }\n", "no function 'f_nil'"),
    ("f_num", "return { f_num = 42 }\n", "f_num"),
    ("f_os", "os.execute('id')\nreturn {}\n", "execute"),
    ("f_io", "local f = io.open('/etc/passwd')\nreturn {}\n", "io"),
    ("f_loop", "while true do end\n", "limit exceeded"),
    ("f_syntax", "return { f_syntax = function( }\n", "bad7.lua"),
])
def test_script_failing_while_described_is_a_clear_400(srv, name, script, fragment):
    i = ["f_err", "f_nil", "f_num", "f_os", "f_io", "f_loop", "f_syntax"].index(name) + 1
    st, body = srv.put_resource("sales", f"bad{i}.lua", script, keys=srv.acme)
    assert st in (200, 201), body
    st, body = srv.job("sales", f"CREATE FUNCTION {name} AS 'bad{i}.{name}' USING 'bad{i}.lua';",
                       keys=srv.acme)
    assert st == 400 and body["code"] == "InvalidStatement", body
    assert fragment in body["message"], body
    assert f"CREATE FUNCTION {name}" in body["message"], body
    assert name not in functions(srv, "sales")
    assert srv.proc.poll() is None  # cordond serves on


def test_script_must_be_among_using(srv):
    srv.put_resource("sales", "mask.lua", (UDFS / "mask.lua").read_bytes(), keys=srv.acme)
    st, body = srv.job("sales", "CREATE FUNCTION m1 AS 'other.mask_email' USING 'mask.lua';",
                       keys=srv.acme)
    assert st == 400 and "not among the USING resources" in body["message"], body
    st, body = srv.job("sales", "CREATE FUNCTION m2 AS 'gone.f' USING 'gone.lua';",
                       keys=srv.acme)
    assert st == 404 and "gone.lua" in body["message"], body
    # the script is named with or without .lua; a data resource goes along
    srv.put_resource("sales", "stop.txt", b"the\na\n", keys=srv.acme)
    srv.put_resource("sales", "reader.lua",
                     "local stop = resource.read('stop.txt')\n"
                     "return { n_stop = { signature = '->bigint', evaluate = function()"
                     " local n = 0 for _ in stop:gmatch('[^\\n]+') do n = n + 1 end"
                     " return n end } }\n", keys=srv.acme)
    body = ok(srv, "sales", "CREATE FUNCTION n_stop AS 'reader.lua.n_stop' "
                            "USING 'reader.lua, stop.txt';")
    assert body["rows"][0][1:4] == ["scalar", "reader.lua", "->bigint"], body
    assert functions(srv, "sales")["n_stop"][4] == "reader.lua,stop.txt"


def test_create_function_authorization(srv):
    st, body = srv.job("sales", "CREATE FUNCTION bm AS 'mask.mask_email' USING 'mask.lua';",
                       keys=srv.bob)
    assert st == 403 and "odps:CreateFunction" in body["message"], body
    ok(srv, "sales", "GRANT CreateFunction ON PROJECT sales TO USER RAM$acme:bob;")
    st, body = srv.job("sales", "CREATE FUNCTION bm AS 'mask.mask_email' USING 'mask.lua';",
                       keys=srv.bob)
    assert st == 403 and "odps:Read" in body["message"], body
    assert "resources/mask.lua" in body["message"], body
    ok(srv, "sales", "GRANT Read ON RESOURCE `mask.lua` TO USER RAM$acme:bob;")
    body = ok(srv, "sales", "CREATE FUNCTION bm AS 'mask.mask_email' USING 'mask.lua';",
              keys=srv.bob)
    assert body["rows"][0][:2] == ["bm", "scalar"]
    # bob created it: DROP is his (creator), not carol's, and not bob's for
    # a function of the owner's
    ok(srv, "sales", "CREATE FUNCTION om AS 'mask.mask_email' USING 'mask.lua';")
    st, body = srv.job("sales", "DROP FUNCTION om;", keys=srv.bob)
    assert st == 403 and "odps:Delete" in body["message"], body
    assert "om" in functions(srv, "sales")


def test_drop_function(srv):
    ok(srv, "sales", "CREATE FUNCTION tmp_fn AS 'mask.mask_phone' USING 'mask.lua';")
    ok(srv, "sales", "GRANT Execute ON FUNCTION tmp_fn TO USER RAM$acme:bob;")
    assert functions(srv, "sales")["tmp_fn"][3] == "string->string"
    ok(srv, "sales", "DROP FUNCTION tmp_fn;")
    assert "tmp_fn" not in functions(srv, "sales")
    st, body = srv.job("sales", "EXPLAIN SELECT tmp_fn('1');", keys=srv.acme)
    assert st == 404 and "tmp_fn" in body["message"], body
    st, body = srv.job("sales", "DROP FUNCTION tmp_fn;", keys=srv.acme)
    assert st == 404, body
    ok(srv, "sales", "DROP FUNCTION IF EXISTS tmp_fn;")
    # the ACL went with it: re-created, bob has no Execute
    ok(srv, "sales", "CREATE FUNCTION tmp_fn AS 'mask.mask_phone' USING 'mask.lua';")
    rows = ok(srv, "sales", "EXPLAIN PERMISSION SELECT tmp_fn('1');", keys=srv.bob)["rows"]
    execute = [r for r in rows if r[1] == "odps:Execute"]
    assert execute and execute[0][3] == "deny", rows
    events = srv.audit(project="sales", event="DropFunction")
    assert events and events[-1]["resource"].endswith("/functions/tmp_fn"), events


# ---- functions of another project ---------------------------------------------------------

def decisions(rows):
    return {(r[1], r[2].split("projects/", 1)[1]): (r[3], r[4]) for r in rows}


def test_cross_project_function(srv):
    srv.put_resource("lib", "mask.lua", (UDFS / "mask.lua").read_bytes(), keys=srv.acme)
    ok(srv, "lib", "CREATE FUNCTION mask_email AS 'mask.mask_email' USING 'mask.lua';")
    q = "EXPLAIN PERMISSION SELECT lib:mask_email('a@b.c');"
    d = decisions(ok(srv, "sales", q, keys=srv.bob)["rows"])
    assert d[("odps:Execute", "lib/functions/mask_email")] == ("deny", "not_member"), d
    st, body = srv.job("sales", "SELECT lib:mask_email('a@b.c');", keys=srv.bob)
    assert st == 403 and "[4002]" in body["message"], body
    ok(srv, "lib", "ADD USER RAM$acme:bob;")
    ok(srv, "lib", "GRANT Execute ON FUNCTION mask_email TO USER RAM$acme:bob;")
    d = decisions(ok(srv, "sales", q, keys=srv.bob)["rows"])
    assert d[("odps:Execute", "lib/functions/mask_email")] == ("allow", "acl"), d
    assert d[("odps:Read", "lib/resources/mask.lua")][0] == "deny", d
    ok(srv, "lib", "GRANT Read ON RESOURCE `mask.lua` TO USER RAM$acme:bob;")
    d = decisions(ok(srv, "sales", q, keys=srv.bob)["rows"])
    assert d[("odps:Read", "lib/resources/mask.lua")] == ("allow", "acl"), d
    # authorized, the job goes on to plan (and to run, once the runner is in)
    st, body = srv.job("sales", "SELECT lib:mask_email('a@b.c');", keys=srv.bob)
    assert st in (200, 501), body
    st, body = srv.job("sales", "EXPLAIN SELECT lib:mask_email('a@b.c');", keys=srv.bob)
    assert st == 200 and any("lib__mask_email" in r[0] for r in body["rows"]), body


def test_function_shared_through_a_package(srv):
    srv.put_resource("lib", "mask.lua", (UDFS / "mask.lua").read_bytes(), keys=srv.acme)
    if "mask_keep_last" not in functions(srv, "lib"):
        ok(srv, "lib", "CREATE FUNCTION mask_keep_last AS 'mask.mask_keep_last' "
                       "USING 'mask.lua';")
    ok(srv, "lib", "CREATE PACKAGE masking;")
    ok(srv, "lib", "ADD FUNCTION mask_keep_last TO PACKAGE masking;")
    ok(srv, "lib", "ADD RESOURCE `mask.lua` TO PACKAGE masking;")
    q = "EXPLAIN PERMISSION SELECT lib:mask_keep_last('4111', 2);"
    # mkt (another tenant) has not installed it: not a member of lib
    ok(srv, "mkt", "ADD USER RAM$beta:carol;", keys=srv.beta)
    d = decisions(ok(srv, "mkt", q, keys=srv.carol)["rows"])
    assert d[("odps:Execute", "lib/functions/mask_keep_last")][0] == "deny", d
    ok(srv, "lib", "ALLOW PROJECT mkt TO INSTALL PACKAGE masking;")
    ok(srv, "mkt", "INSTALL PACKAGE lib.masking;", keys=srv.beta)
    # installed, but carol holds no Read on the package in mkt
    d = decisions(ok(srv, "mkt", q, keys=srv.carol)["rows"])
    assert d[("odps:Execute", "lib/functions/mask_keep_last")][0] == "deny", d
    ok(srv, "mkt", "GRANT READ ON PACKAGE lib.masking TO USER RAM$beta:carol;", keys=srv.beta)
    d = decisions(ok(srv, "mkt", q, keys=srv.carol)["rows"])
    assert d[("odps:Execute", "lib/functions/mask_keep_last")] == ("allow", "package"), d
    assert d[("odps:Read", "lib/resources/mask.lua")] == ("allow", "package"), d
    st, body = srv.job("mkt", "SELECT lib:mask_keep_last('4111', 2);", keys=srv.carol)
    assert st in (200, 501), body
    # the package shares Read/Execute only: dropping is still lib's business
    st, body = srv.job("mkt", "DROP FUNCTION lib.mask_keep_last;", keys=srv.carol)
    assert st == 403, body
    # dropped in lib, the function is gone for mkt too
    ok(srv, "lib", "DROP FUNCTION mask_keep_last;")
    st, body = srv.job("mkt", "SELECT lib:mask_keep_last('4111', 2);", keys=srv.carol)
    assert st == 404 and "mask_keep_last" in body["message"], body


# ---- functions in jobs (the runner) ----------------------------------------------------

def test_created_functions_run_in_jobs(srv):
    """What CREATE FUNCTION registered is what a job's nodes run: a scalar UDF,
    a UDAF across a UNION ALL, table functions (AS and LATERAL VIEW) and a
    function that reads a data resource."""
    srv.create_project("runp", keys=srv.acme)
    srv.install_udfs("runp", keys=srv.acme)

    def rows(sql):
        body = ok(srv, "runp", sql)
        assert body.get("status") in ("succeeded", "success"), body
        return body["rows"]

    assert rows("SELECT mask_email('john@example.com') AS m, "
                "mask_keep_last('4111111111111111', 4) AS k") == [
        ["j***@example.com", "************1111"]]
    assert rows("SELECT geomean(x) AS g FROM (SELECT 2.0 AS x UNION ALL SELECT 8.0 AS x) t"
                ) == [[4.0]]
    assert rows("SELECT words(s) AS (w) FROM (SELECT 'a bb c' AS s) t") == [
        ["a"], ["bb"], ["c"]]
    assert rows("SELECT t.id, w.word FROM (SELECT 7 AS id, 'p q' AS s) t "
                "LATERAL VIEW words(t.s) w AS word") == [[7, "p"], [7, "q"]]
    # columns of different types are STRING in the catalog (docs/udf.md)
    assert rows("SELECT split(s, ',') AS (tok, pos) FROM (SELECT 'x,y' AS s) t") == [
        ["x", "1"], ["y", "2"]]
    srv.put_resource("runp", "stop.txt", b"the\na\nof\n", keys=srv.acme)
    srv.put_resource("runp", "stops.lua",
                     "local stop = {}\n"
                     "for w in resource.read('stop.txt'):gmatch('[^\\n]+') do stop[w] = true end\n"
                     "return { is_stop = { signature = 'string->boolean',"
                     " evaluate = function(w) return stop[w] == true end } }\n", keys=srv.acme)
    ok(srv, "runp", "CREATE FUNCTION is_stop AS 'stops.is_stop' USING 'stops.lua, stop.txt';")
    assert rows("SELECT is_stop('of') AS a, is_stop('cat') AS b") == [[True, False]]


def test_two_projects_scripts_of_the_same_name_in_one_job(srv):
    """sales' mask.lua and lib's mask.lua are different scripts: a job
    calling a function of each runs each project's own code."""
    srv.put_resource("lib", "mask.lua", (UDFS / "mask.lua").read_bytes(), keys=srv.acme)
    srv.job("lib", "CREATE FUNCTION mask_email AS 'mask.mask_email' USING 'mask.lua';",
            keys=srv.acme)  # an earlier test may have made it
    srv.put_resource("sales", "mask.lua",
                     b"local M = {}\nfunction M.mask_email(s) return 'SALES:' .. s end\n"
                     b"return M\n", keys=srv.acme)
    ok(srv, "sales", "CREATE FUNCTION my_mask AS 'mask.mask_email' USING 'mask.lua';")
    st, body = srv.job("sales", "SELECT my_mask('a@b.c') AS mine, "
                       "lib:mask_email('alice@example.com') AS theirs", keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    mine, theirs = body["rows"][0]
    assert mine == "SALES:a@b.c"
    assert theirs != mine and not theirs.startswith("SALES:") and "@" in theirs, theirs


def test_two_projects_resources_of_the_same_name_are_refused(srv):
    """lib's words.txt and sales' words.txt cannot both be a node's
    words.txt: the job fails before any node starts, naming both projects."""
    lua = (b"local M = {}\nfunction M.first(s) return (resource.read('words.txt')"
           b":match('%S+')) end\nreturn M\n")
    srv.put_resource("lib", "dictl.lua", lua, keys=srv.acme)
    srv.put_resource("lib", "words.txt", b"LIB words\n", keys=srv.acme)
    srv.job("lib", "CREATE FUNCTION first_word AS 'dictl.first' USING 'dictl.lua,words.txt';",
            keys=srv.acme)
    srv.put_resource("sales", "dicts.lua", lua, keys=srv.acme)
    srv.put_resource("sales", "words.txt", b"SALES words\n", keys=srv.acme)
    ok(srv, "sales", "CREATE FUNCTION my_first AS 'dicts.first' USING 'dicts.lua,words.txt';")
    st, body = srv.job("sales", "SELECT my_first('x') AS mine", keys=srv.acme)
    assert st == 200 and body["rows"] == [["SALES"]], body
    st, body = srv.job("sales", "SELECT my_first('x') AS mine, lib:first_word('x') AS theirs",
                       keys=srv.acme)
    assert st == 200 and body["status"] == "failed", body
    assert "resource named 'words.txt'" in body["error"]["message"], body
    assert "sales" in body["error"]["message"] and "lib" in body["error"]["message"], body
