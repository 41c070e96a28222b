"""Jobs through the real API up to the job runner: table metadata
statements run; queries are parsed, resolved and every access is decided
before anything runs (errors with line:col, denials with the rule); EXPLAIN
shows the plan. An authorized query runs (on an empty table here: the
rows of real data are tests/integration/test_jobs_run.py's)."""
import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("jobs") / "data").start()
    s.acme = s.create_account("acme")
    s.create_project("sales", keys=s.acme)
    st, body = s.call("POST", "/v1/accounts/acme/users", {"name": "bob"}, keys=s.acme)
    assert st == 201
    st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": "bob"}, keys=s.acme)
    s.bob = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
    ok(s, "CREATE TABLE users (id BIGINT, email STRING COMMENT 'pii', country STRING, "
          "score DOUBLE) LIFECYCLE 30;")
    ok(s, "ADD USER RAM$acme:bob;")
    yield s
    s.stop()


def ok(s, sql, keys=None):
    st, body = s.job("sales", sql, keys=keys or s.acme)
    assert st == 200, (sql, body)
    return body


def test_table_metadata(srv):
    assert ok(srv, "SHOW TABLES;")["rows"] == [["users", "table", "ALIYUN$acme"]]
    desc = ok(srv, "DESC users;")
    assert [r[0] for r in desc["rows"]] == ["id", "email", "country", "score"]
    assert desc["rows"][1][1:3] == ["STRING", "pii"]
    st, body = srv.job("sales", "CREATE TABLE users (x BIGINT);", keys=srv.acme)
    assert st == 409


def test_explain_shows_stages_and_node_sql(srv):
    rows = [r[0] for r in ok(srv, "SET cordon.nodes=4; EXPLAIN SELECT country, AVG(score) "
                                  "FROM users GROUP BY country ORDER BY country;")["rows"]]
    assert rows[0] == "Stage 0: MAP x4"
    assert any(r.startswith("Stage 1: REDUCE") for r in rows)
    assert any(r.startswith("Stage 2: FINAL x1") for r in rows)
    assert any("sum(" in r and "count(" in r for r in rows)  # AVG split for partials


@pytest.mark.parametrize("sql,status,fragment", [
    ("SELEC 1;", 400, "1:1:"),
    ("SELECT id FROM users WHERE;", 400, "1:27:"),
    ("SELECT * FROM nosuch;", 404, "1:15: table 'nosuch' does not exist"),
    ("SELECT nope FROM users;", 400, "nope"),
    ("SELECT id\nFROM users\nGROUP BY country;", 400, "1:8:"),
])
def test_compile_errors_name_the_position(srv, sql, status, fragment):
    st, body = srv.job("sales", sql, keys=srv.acme)
    assert st == status, body
    assert fragment in body["message"]


def test_denied_before_anything_runs(srv):
    # bob is a member without any grant: the read of a column is refused
    st, body = srv.job("sales", "SELECT email FROM users;", keys=srv.bob)
    assert st == 403, body
    assert "odps:Select" in body["message"]
    assert "projects/sales/tables/users" in body["message"]
    # a column grant lets exactly that column through the decision
    ok(srv, "GRANT Select ON TABLE users (country) TO USER RAM$acme:bob;")
    st, body = srv.job("sales", "SELECT country FROM users;", keys=srv.bob)
    assert st == 200 and body["status"] == "succeeded", body
    st, body = srv.job("sales", "SELECT country, email FROM users;", keys=srv.bob)
    assert st == 403 and "email" in body["message"], body


def test_label_above_level_is_refused(srv):
    ok(srv, "SET LabelSecurity=true;")
    ok(srv, "SET LABEL 3 TO TABLE users(email);")
    ok(srv, "GRANT Select ON TABLE users TO USER RAM$acme:bob;")
    st, body = srv.job("sales", "SELECT email FROM users;", keys=srv.bob)
    assert st == 403 and "label" in body["message"].lower(), body
    st, body = srv.job("sales", "SELECT country FROM users;", keys=srv.bob)
    assert st == 200 and body["status"] == "succeeded", body
    ok(srv, "SET LabelSecurity=false;")


def test_authorized_query_runs_on_an_empty_table(srv):
    st, body = srv.job("sales", "SELECT country, COUNT(*) FROM users GROUP BY country;",
                       keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    assert body["rows"] == [] and body["columns"] == ["country", "_c1"], body
