"""Accounts, RAM users, roles and access keys, and projects through the
admin API (operators) and an account's own API, with the permission
boundaries between tenants."""
import pytest

from cordon_api import Cordond


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("admin") / "data").start()
    s.acme = s.create_account("acme")
    s.globex = s.create_account("globex")
    yield s
    s.stop()


def key_of(body):
    return body["accessKey"]["accessKeyId"], body["accessKey"]["secretAccessKey"]


def test_operator_only_account_admin(srv):
    st, body = srv.call("GET", "/v1/admin/accounts", keys=srv.acme)
    assert st == 403 and body["code"] == "AccessDenied"
    st, body = srv.call("POST", "/v1/admin/accounts", {"name": "x"}, keys=srv.acme)
    assert st == 403
    st, body = srv.call("GET", "/v1/admin/accounts")
    assert {"acme", "globex", "admin"} <= {a["name"] for a in body["accounts"]}
    st, body = srv.call("POST", "/v1/admin/accounts", {"name": "acme"})
    assert st == 409
    st, body = srv.call("DELETE", "/v1/admin/accounts/admin")
    assert st == 403


def test_users_keys_lifecycle(srv):
    assert srv.call("POST", "/v1/accounts/acme/users", {"name": "carol"}, keys=srv.acme)[0] == 201
    st, body = srv.call("GET", "/v1/accounts/acme/users", keys=srv.acme)
    assert [u["name"] for u in body["users"]] == ["carol"]
    st, body = srv.call("POST", "/v1/accounts/acme/keys", {"user": "carol"}, keys=srv.acme)
    carol = key_of(body)
    st, body = srv.call("GET", "/v1/whoami", keys=carol)
    assert body["principal"] == "RAM$acme:carol" and body["type"] == "user"
    # The list never shows secrets.
    st, body = srv.call("GET", "/v1/accounts/acme/keys?user=carol", keys=srv.acme)
    assert [k["accessKeyId"] for k in body["accessKeys"]] == [carol[0]]
    assert carol[1] not in str(body)
    # Rotation: a new key, the old one disabled.
    st, body = srv.call("POST", f"/v1/accounts/acme/keys/{carol[0]}/rotate", keys=srv.acme)
    assert st == 201
    new = key_of(body)
    assert srv.call("GET", "/v1/whoami", keys=new)[1]["principal"] == "RAM$acme:carol"
    assert srv.call("GET", "/v1/whoami", keys=carol)[1]["code"] == "AccessKeyDisabled"
    # A RAM user cannot manage the account.
    st, body = srv.call("POST", "/v1/accounts/acme/users", {"name": "eve"}, keys=new)
    assert st == 403
    # Removing the user removes its keys.
    assert srv.call("DELETE", "/v1/accounts/acme/users/carol", keys=srv.acme)[0] == 200
    assert srv.call("GET", "/v1/whoami", keys=new)[1]["code"] == "InvalidAccessKeyId"
    st, body = srv.call("POST", "/v1/accounts/acme/keys", {"user": "nobody"}, keys=srv.acme)
    assert st == 404


def test_tenants_are_separated(srv):
    for method, path, body in (("GET", "/v1/accounts/acme/users", None),
                               ("POST", "/v1/accounts/acme/keys", {}),
                               ("GET", "/v1/accounts/acme/keys", None)):
        st, resp = srv.call(method, path, body, keys=srv.globex)
        assert st == 403 and resp["code"] == "AccessDenied", (path, resp)
    st, body = srv.call("GET", "/v1/accounts/acme/keys", keys=srv.acme)
    ids = [k["accessKeyId"] for k in body["accessKeys"]]
    st, resp = srv.call("POST", f"/v1/accounts/globex/keys/{ids[0]}/disable", keys=srv.globex)
    assert st == 404  # another account's key is not found in this one
    # Operators may manage any account.
    assert srv.call("GET", "/v1/accounts/acme/users")[0] == 200


def test_roles_assume(srv):
    assert srv.call("POST", "/v1/accounts/acme/roles", {"name": "etl"}, keys=srv.acme)[0] == 201
    assert srv.call("POST", "/v1/accounts/acme/users", {"name": "dave"}, keys=srv.acme)[0] == 201
    dave = key_of(srv.call("POST", "/v1/accounts/acme/keys", {"user": "dave"}, keys=srv.acme)[1])
    st, body = srv.call("POST", "/v1/accounts/acme/roles/etl/assume", keys=dave)
    assert st == 201 and body["principal"] == "RAM$acme:role/etl"
    role = key_of(body)
    st, body = srv.call("GET", "/v1/whoami", keys=role)
    assert body == {"principal": "RAM$acme:role/etl", "account": "acme", "type": "role",
                    "operator": False, "requestId": body["requestId"]}
    # Users of another account cannot assume it; a role cannot chain.
    st, body = srv.call("POST", "/v1/accounts/acme/roles/etl/assume", keys=srv.globex)
    assert st == 403
    st, body = srv.call("POST", "/v1/accounts/acme/roles/etl/assume", keys=role)
    assert st == 403
    st, body = srv.call("POST", "/v1/accounts/acme/roles/nope/assume", keys=dave)
    assert st == 404
    # Dropping the role revokes its keys.
    assert srv.call("DELETE", "/v1/accounts/acme/roles/etl", keys=srv.acme)[0] == 200
    assert srv.call("GET", "/v1/whoami", keys=role)[1]["code"] == "InvalidAccessKeyId"


def test_projects(srv):
    st, body = srv.call("POST", "/v1/projects", {"name": "acme_dw"}, keys=srv.acme)
    assert st == 201 and body["owner"] == "ALIYUN$acme"
    st, body = srv.call("POST", "/v1/projects", {"name": "acme_dw"}, keys=srv.globex)
    assert st == 409
    st, body = srv.call("POST", "/v1/projects", {"name": "x", "owner": "ALIYUN$acme"},
                        keys=srv.globex)
    assert st == 403
    st, body = srv.call("POST", "/v1/projects", {"name": "ops_made", "owner": "ALIYUN$globex"})
    assert st == 201 and body["owner"] == "ALIYUN$globex"
    st, body = srv.call("POST", "/v1/projects", {"name": "ghost", "owner": "ALIYUN$nobody"})
    assert st == 404
    names = lambda k: {p["name"] for p in srv.call("GET", "/v1/projects", keys=k)[1]["projects"]}
    assert "acme_dw" in names(srv.acme) and "acme_dw" not in names(srv.globex)
    assert {"acme_dw", "ops_made"} <= names(None)
    st, body = srv.call("GET", "/v1/projects/acme_dw", keys=srv.globex)
    assert st == 403
    st, body = srv.call("DELETE", "/v1/projects/acme_dw", keys=srv.globex)
    assert st == 403
    st, body = srv.call("GET", "/v1/projects/nope", keys=srv.acme)
    assert st == 404 and body["code"] == "NoSuchProject"
    st, body = srv.call("POST", "/v1/projects/nope/jobs", {"sql": "WHOAMI;"}, keys=srv.acme)
    assert st == 404
    assert srv.call("DELETE", "/v1/projects/acme_dw", keys=srv.acme)[0] == 200
    assert srv.call("GET", "/v1/projects/acme_dw", keys=srv.acme)[0] == 404
    for bad in ("Upper", "1abc", "a-b", "", "a" * 65):
        st, body = srv.call("POST", "/v1/projects", {"name": bad}, keys=srv.acme)
        assert st == 400, bad


def test_jobs_whoami_for_each_principal_type(srv):
    srv.call("POST", "/v1/projects", {"name": "shared"}, keys=srv.acme)
    st, body = srv.job("shared", "  whoami ;  ", keys=srv.acme)
    assert st == 200 and body["columns"] == ["principal", "account", "type"]
    # a job may hold several statements (SQL.md); the last one's rows come back
    st, body = srv.job("shared", "WHOAMI; WHOAMI;", keys=srv.acme)
    assert st == 200 and body["rows"] == [["ALIYUN$acme", "acme", "account"]]


def test_account_delete_cascades(srv):
    k = srv.create_account("tmpco")
    srv.create_project("tmpco_p", keys=k)
    st, body = srv.call("DELETE", "/v1/admin/accounts/tmpco")
    assert st == 409 and "owns projects" in body["message"]
    assert srv.call("DELETE", "/v1/projects/tmpco_p", keys=k)[0] == 200
    assert srv.call("GET", "/v1/whoami", keys=k)[0] == 200
    assert srv.call("DELETE", "/v1/admin/accounts/tmpco")[0] == 200
    assert srv.call("GET", "/v1/whoami", keys=k)[1]["code"] == "InvalidAccessKeyId"
    assert srv.call("DELETE", "/v1/admin/accounts/tmpco")[0] == 404
