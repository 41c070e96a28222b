"""Authorization of SQL jobs through the real API: each forbidden access is
refused BEFORE any node starts — a 403 naming the action, the resource and
the deciding rule, no job id in the answer, no job in the registry, no
JobFinished audit record, and the deny audited — while the same job without
the forbidden part (or after the grant) runs, so each refusal is the
decision's and not an accident of the query:

- a column labelled above the user's level (LabelSecurity, No-ReadUp);
- a table the user may not read, reached through a join;
- an INSERT out of a protected project into another one (ProjectProtection);
- a network link the project may not use (SET odps.session.networklink)."""
import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("jobsauthz") / "data").start()
    try:
        s.acme = s.create_account("acme")
        for p in ("lab", "joinp", "prot", "dest", "netp"):
            s.create_project(p, keys=s.acme)
        st, body = s.call("POST", "/v1/accounts/acme/users", {"name": "bob"}, keys=s.acme)
        assert st == 201, body
        st, body = s.call("POST", "/v1/accounts/acme/keys", {"user": "bob"}, keys=s.acme)
        assert st == 201, body
        s.bob = (body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"])
        yield s
    finally:
        s.stop()


def ok(s, project, sql, keys=None):
    st, body = s.job(project, sql, keys=keys or s.acme)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql, body)
    return body


def job_finished(s, project):
    return [e for e in s.audit(project=project, event="JobFinished")]


def assert_refused_before_running(s, project, sql, keys, *fragments):
    """The job is refused with 403 and nothing of it ran."""
    before = len(job_finished(s, project))
    st, body = s.job(project, sql, keys=keys)
    assert st == 403, body
    assert body["code"] == "AccessDenied", body
    for f in fragments:
        assert f in body["message"], (f, body)
    # no job was made: no id, nothing queued or running, no rows
    assert "id" not in body and "rows" not in body and "status" not in body, body
    # the deny was audited under the request, and no job ended
    denies = [e for e in s.audit(project=project)
              if e.get("requestId") == body["requestId"] and e.get("decision") == "deny"]
    assert denies, body
    assert len(job_finished(s, project)) == before
    return body


def test_labelled_column_above_the_users_level(srv):
    p = "lab"
    ok(srv, p, "CREATE TABLE users (id BIGINT, name STRING, email STRING);")
    ok(srv, p, "INSERT INTO users VALUES (1, 'ann', 'ann@x.io'), (2, 'bo', 'bo@y.io');")
    ok(srv, p, "ADD USER RAM$acme:bob;")
    ok(srv, p, "GRANT Select ON TABLE users TO USER RAM$acme:bob;")
    ok(srv, p, "SET LabelSecurity=true;")
    ok(srv, p, "SET LABEL 3 TO TABLE users(email);")
    # bob's level is 0: the email column (3) is above it, even inside an expression
    body = assert_refused_before_running(srv, p, "SELECT id, email FROM users;", srv.bob,
                                         "odps:Select", "projects/lab/tables/users", "email")
    assert "label" in body["message"].lower(), body
    assert_refused_before_running(srv, p, "SELECT COUNT(*) FROM users WHERE email LIKE 'a%';",
                                  srv.bob, "email")
    # the unlabelled columns run
    body = ok(srv, p, "SELECT id, name FROM users;", keys=srv.bob)
    assert sorted(body["rows"]) == [[1, "ann"], [2, "bo"]]
    # and a label grant lets the column through
    ok(srv, p, "GRANT LABEL 3 ON TABLE users(email) TO USER RAM$acme:bob;")
    body = ok(srv, p, "SELECT id, email FROM users;", keys=srv.bob)
    assert sorted(body["rows"]) == [[1, "ann@x.io"], [2, "bo@y.io"]]


def test_unauthorized_table_through_a_join(srv):
    p = "joinp"
    ok(srv, p, "CREATE TABLE users (id BIGINT, name STRING);")
    ok(srv, p, "CREATE TABLE orders (oid BIGINT, user_id BIGINT, amount DOUBLE);")
    ok(srv, p, "INSERT INTO users VALUES (1, 'ann'), (2, 'bo');")
    ok(srv, p, "INSERT INTO orders VALUES (10, 1, 9.5), (11, 2, 1.25), (12, 1, 3.0);")
    ok(srv, p, "ADD USER RAM$acme:bob;")
    ok(srv, p, "GRANT Select ON TABLE users TO USER RAM$acme:bob;")
    sql = ("SELECT u.name, o.amount FROM users u JOIN orders o ON u.id = o.user_id "
           "WHERE o.amount > 1;")
    body = assert_refused_before_running(srv, p, sql, srv.bob, "odps:Select",
                                         "projects/joinp/tables/orders")
    assert "rule" in body["message"], body
    # LEFT JOIN and a subquery reach the same table: refused the same way
    assert_refused_before_running(
        srv, p, "SELECT u.name FROM users u LEFT JOIN orders o ON u.id = o.user_id;",
        srv.bob, "projects/joinp/tables/orders")
    assert_refused_before_running(
        srv, p, "SELECT s.total FROM (SELECT SUM(amount) AS total FROM orders) s;", srv.bob,
        "projects/joinp/tables/orders")
    # the table bob may read runs alone, and the join runs once he may read orders
    assert len(ok(srv, p, "SELECT name FROM users;", keys=srv.bob)["rows"]) == 2
    ok(srv, p, "GRANT Select ON TABLE orders TO USER RAM$acme:bob;")
    body = ok(srv, p, sql, keys=srv.bob)
    assert sorted(body["rows"]) == [["ann", 3.0], ["ann", 9.5], ["bo", 1.25]]


# A query that names no column of a table (COUNT(*), constants) reads its
# first column: deciding nothing would hand out the row count.
@pytest.mark.parametrize("sql", [
    "SELECT COUNT(*) FROM orders;",
    "SELECT s.n FROM (SELECT COUNT(*) AS n FROM orders) s;",
    "SELECT 1 AS one FROM orders;",
])
def test_row_count_of_an_unreadable_table_is_refused(srv, sql):
    p = "joinp"
    ok(srv, p, "CREATE TABLE IF NOT EXISTS hidden (k BIGINT);")
    assert_refused_before_running(srv, p, sql.replace("orders", "hidden"), srv.bob,
                                  "odps:Select", "projects/joinp/tables/hidden")


def test_insert_out_of_a_protected_project(srv):
    ok(srv, "prot", "CREATE TABLE secret (id BIGINT, name STRING);")
    ok(srv, "prot", "INSERT INTO secret VALUES (1, 'classified'), (2, 'topsecret');")
    ok(srv, "dest", "CREATE TABLE sink (id BIGINT, name STRING);")
    sql = "INSERT INTO dest.sink SELECT id, name FROM secret;"
    # unprotected, the owner of both projects may copy
    ok(srv, "prot", sql)
    assert len(ok(srv, "dest", "SELECT * FROM sink;")["rows"]) == 2
    # protected: even the owner may not take the data out
    ok(srv, "prot", "SET ProjectProtection=true;")
    body = assert_refused_before_running(srv, "prot", sql, srv.acme, "odps:Update",
                                         "projects/dest/tables/sink", "rule protection")
    assert_refused_before_running(
        srv, "prot", "INSERT INTO dest.sink SELECT s.id, s.name FROM "
                     "(SELECT id, upper(name) AS name FROM secret) s;", srv.acme,
        "rule protection")
    # the sink is exactly as it was
    assert len(ok(srv, "dest", "SELECT * FROM sink;")["rows"]) == 2
    # writing inside the protected project stays allowed
    ok(srv, "prot", "CREATE TABLE copy (id BIGINT, name STRING);")
    ok(srv, "prot", "INSERT INTO copy SELECT id, name FROM secret;")
    assert len(ok(srv, "prot", "SELECT * FROM copy;")["rows"]) == 2
    assert body


def test_unpermitted_network_link(srv):
    p = "netp"
    ok(srv, p, "CREATE TABLE t (id BIGINT);")
    ok(srv, p, "INSERT INTO t VALUES (1), (2), (3);")
    ok(srv, p, "ADD USER RAM$acme:bob;")
    ok(srv, p, "GRANT Select ON TABLE t TO USER RAM$acme:bob;")
    assert len(ok(srv, p, "SELECT id FROM t;", keys=srv.bob)["rows"]) == 3
    assert_refused_before_running(srv, p, "SET odps.session.networklink=ext; SELECT id FROM t;",
                                  srv.bob, "odps:Use", "networklinks/ext")
    # a job without any table still asks for the link
    assert_refused_before_running(srv, p, "SET odps.session.networklink=ext; SELECT 1 AS one;",
                                  srv.bob, "networklinks/ext")


def test_cordond_still_serves_after_the_refusals(srv):
    body = ok(srv, "netp", "SELECT COUNT(*) FROM t;", keys=srv.bob)
    assert body["rows"] == [[3]]
