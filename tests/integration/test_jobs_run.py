"""The job runner through the real API: jobs run on sandboxed cordon-node
processes joined to the job's own overlay, answers come back synchronously
(?wait) or through GET .../jobs/{id} and .../result; failures name the stage,
node and reason; a job is invisible to other tenants; nothing is left behind."""
import json
import socket
import time

import pytest

from cordon_api import Cordond, tls_socket
from procs import descendants


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("jobsrun") / "data",
                extra=["--chunkservers", "0"]).start()
    s.acme = s.create_account("acme")
    s.create_project("sales", keys=s.acme)
    s.evil = s.create_account("evil")
    s.create_project("evilp", keys=s.evil)
    yield s
    s.stop()


def test_constant_query_runs_on_a_node(srv):
    st, body = srv.job("sales", "SELECT 1 + 2 AS x, 'a' AS s, NULL AS n, 2.5 AS d",
                       keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    assert body["columns"] == ["x", "s", "n", "d"]
    assert body["rows"] == [[3, "a", None, 2.5]]
    final = body["stages"][-1]
    assert final["kind"] == "FINAL" and final["nodesDone"] == 1 and final["rowsOut"] == 1
    assert final["cpuMs"] >= 0 and final["peakMemoryBytes"] > 0


def test_union_all_runs_three_stages(srv):
    st, body = srv.job("sales", "SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3",
                       keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    assert sorted(r[0] for r in body["rows"]) == [1, 2, 3]
    assert len(body["stages"]) >= 2


def test_without_wait_the_job_is_accepted_then_polled(srv):
    st, body = srv.job("sales", "SELECT 42 AS answer", keys=srv.acme, wait=0)
    assert st == 202 and body["status"] in ("queued", "running"), body
    jid = body["id"]
    for _ in range(200):
        st, status = srv.call("GET", f"/v1/projects/sales/jobs/{jid}", keys=srv.acme)
        assert st == 200, status
        if status["status"] == "succeeded":
            break
        time.sleep(0.05)
    assert status["status"] == "succeeded", status
    assert status["result"]["rows"] == 1
    assert status["result"]["columns"] == [{"name": "answer", "type": "BIGINT"}]
    st, rows = srv.call("GET", f"/v1/projects/sales/jobs/{jid}/result", keys=srv.acme)
    assert st == 200 and rows == [42], rows   # one JSON line
    st, csv_, _ = srv.send(*srv.signed("GET", f"/v1/projects/sales/jobs/{jid}/result", None,
                                      srv.acme, {"Accept": "text/csv"}))
    assert st == 200 and csv_ == "answer\r\n42\r\n", csv_


def test_result_pages(srv):
    sql = " UNION ALL ".join(f"SELECT {i} AS v" for i in range(30))
    st, body = srv.job("sales", sql, keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    jid = body["id"]
    st, text, _ = srv.send(*srv.signed(
        "GET", f"/v1/projects/sales/jobs/{jid}/result?offset=10&limit=5", None, srv.acme))
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5
    allrows = sorted(r[0] for r in body["rows"])
    assert allrows == list(range(30))
    # Bad paging is a 400, and cordond keeps serving: the early error
    # replies once freed a page buffer that was not yet initialized (a
    # crash in Release builds, where the stack held garbage).
    for query in ("limit=100000001", "limit=1000000000", "offset=x", "limit=-1", "offset=1e3"):
        st, body = srv.call("GET", f"/v1/projects/sales/jobs/{jid}/result?{query}",
                            keys=srv.acme)
        assert st == 400, (query, body)
    st, text, _ = srv.send(*srv.signed(
        "GET", f"/v1/projects/sales/jobs/{jid}/result?offset=29&limit=5", None, srv.acme))
    assert st == 200 and isinstance(text, list) and len(text) == 1, text  # one line: one row


def _big_rows_job(srv, tens=2):
    """10 * tens rows of 10^5 characters each (made on the node): 1 MB a ten."""
    big = "'xxxxxxxxxx'"
    for _ in range(4):
        big = f"replace({big}, 'x', 'xxxxxxxxxx')"
    digits = " UNION ALL ".join(f"SELECT {i} AS d" for i in range(10))
    tens_ = " UNION ALL ".join(f"SELECT {i} AS t" for i in range(tens))
    sql = (f"SELECT t * 10 + d AS i, {big} AS s FROM ({digits}) a JOIN ({tens_}) b ON 1 = 1")
    st, body = srv.job("sales", sql, keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    return body["id"]


def test_a_big_result_streams_in_one_reply(srv):
    """A page streams in chunks (api.c): the whole 2 MB result in one GET,
    equal to the same rows paged; CSV too."""
    jid = _big_rows_job(srv)
    path = f"/v1/projects/sales/jobs/{jid}/result?limit=1000"
    st, text, headers = srv.send(*srv.signed("GET", path, None, srv.acme))
    assert st == 200, text
    assert headers.get("Transfer-Encoding") == "chunked", headers
    whole = [json.loads(line) for line in text.splitlines()]
    assert sorted(r[0] for r in whole) == list(range(20))
    assert all(r[1] == "x" * 100000 for r in whole)
    paged = []
    for off in range(0, 20, 3):
        st, part, _ = srv.send(*srv.signed(
            "GET", f"/v1/projects/sales/jobs/{jid}/result?offset={off}&limit=3", None,
            srv.acme))
        assert st == 200
        paged += [json.loads(line) for line in part.splitlines()]
    assert paged == whole
    st, csv_, _ = srv.send(*srv.signed("GET", path, None, srv.acme, {"Accept": "text/csv"}))
    lines = csv_.split("\r\n")
    assert st == 200 and lines[0] == "i,s" and len(lines) == 22 and lines[-1] == ""
    assert [int(x.split(",")[0]) for x in lines[1:-1]] == [r[0] for r in whole]


def test_a_client_that_leaves_mid_stream_costs_nothing(srv):
    """Clients that close the connection after the first bytes of a streamed
    result, again and again: cordond frees each stream, keeps serving, and
    says so in its log."""
    # 10 MB: more than the socket buffers on both sides can take, so no
    # stream can end before its client hung up
    jid = _big_rows_job(srv, 10)
    method, path, headers, _ = srv.signed(
        "GET", f"/v1/projects/sales/jobs/{jid}/result?limit=1000", None, srv.acme)
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = f"127.0.0.1:{srv.port}"
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    for _ in range(10):
        s = tls_socket(srv.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(head.encode())
        got = b""
        while len(got) < 4096:
            chunk = s.recv(4096)
            assert chunk
            got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got[:200]
        s.close()
    deadline = time.monotonic() + 10
    while srv.log().count("the client left before the end of a streamed reply") < 10:
        assert time.monotonic() < deadline, srv.log()[-2000:]
        time.sleep(0.1)
    st, text, _ = srv.send(*srv.signed(
        "GET", f"/v1/projects/sales/jobs/{jid}/result?limit=1000", None, srv.acme))
    assert st == 200 and len(text.splitlines()) == 100


def test_a_failing_node_fails_the_job_with_its_reason(srv):
    st, body = srv.job("sales", "SELECT abs(-9223372036854775807 - 1) AS x", keys=srv.acme)
    assert st == 200 and body["status"] == "failed", body
    assert body["error"]["code"] == "JobFailed"
    assert "stage 0 (FINAL) node 0" in body["error"]["message"]
    assert "integer overflow" in body["error"]["message"]
    assert "rows" not in body
    st, res = srv.call("GET", f"/v1/projects/sales/jobs/{body['id']}/result", keys=srv.acme)
    assert st == 409, res
    # cordond keeps serving
    st, body = srv.job("sales", "SELECT 1 AS one", keys=srv.acme)
    assert st == 200 and body["rows"] == [[1]]


def test_jobs_are_invisible_to_other_tenants(srv):
    st, body = srv.job("sales", "SELECT 'secret' AS s", keys=srv.acme)
    jid = body["id"]
    for path in (f"/v1/projects/sales/jobs/{jid}", f"/v1/projects/sales/jobs/{jid}/result",
                 f"/v1/projects/evilp/jobs/{jid}", f"/v1/projects/evilp/jobs/{jid}/result"):
        st, res = srv.call("GET", path, keys=srv.evil)
        assert st in (403, 404), (path, st, res)
        assert "secret" not in json.dumps(res)
    st, res = srv.call("DELETE", f"/v1/projects/sales/jobs/{jid}", keys=srv.evil)
    assert st in (403, 404), res
    # the operator sees it
    st, res = srv.call("GET", f"/v1/projects/sales/jobs/{jid}")
    assert st == 200 and res["owner"] == "ALIYUN$acme"


def test_bad_requests(srv):
    st, body = srv.call("POST", "/v1/projects/sales/jobs?wait=301", {"sql": "SELECT 1"},
                        keys=srv.acme)
    assert st == 400, body
    st, body = srv.call("POST", "/v1/projects/sales/jobs?wait=abc", {"sql": "SELECT 1"},
                        keys=srv.acme)
    assert st == 400, body
    st, body = srv.call("GET", "/v1/projects/sales/jobs/nosuch", keys=srv.acme)
    assert st == 404 and body["code"] == "NoSuchJob", body
    st, body = srv.call("PUT", "/v1/projects/sales/jobs/nosuch", keys=srv.acme)
    assert st == 405, body
    st, body = srv.call("GET", "/v1/projects/sales/jobs/x/y/z", keys=srv.acme)
    assert st == 404, body
    st, body = srv.job("sales", "SELECT FROM", keys=srv.acme)
    assert st == 400 and body["message"].startswith("1:"), body


def test_cancel_of_a_finished_job_is_a_conflict(srv):
    st, body = srv.job("sales", "SELECT 1 AS x", keys=srv.acme)
    st, res = srv.call("DELETE", f"/v1/projects/sales/jobs/{body['id']}", keys=srv.acme)
    assert st == 409 and res["code"] == "JobFinished", res


def test_job_end_is_audited(srv):
    st, body = srv.job("sales", "SELECT 7 AS seven", keys=srv.acme)
    jid = body["id"]
    events = [e for e in srv.audit(project="sales", event="JobFinished")
              if jid in e.get("resource", "")]
    assert len(events) == 1, events
    assert events[0]["principal"] == "ALIYUN$acme"
    assert "succeeded" in events[0]["reason"]


def test_cli_sql_and_job(srv):
    r = srv.cli("sql", "--project", "sales", "--format", "csv",
                "SELECT 1 AS a, 'x,y' AS b UNION ALL SELECT 2, NULL", keys=srv.acme)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "a,b" and sorted(lines[1:]) == ['1,"x,y"', "2,NULL"], r.stdout
    r = srv.cli("sql", "--project", "sales", "--async", "SELECT 5 AS five", keys=srv.acme)
    assert r.returncode == 0, r.stderr
    jid = r.stdout.strip()
    r = srv.cli("job", "--project", "sales", "wait", jid, keys=srv.acme)
    assert r.returncode == 0 and json.loads(r.stdout)["rows"] == [[5]], r
    r = srv.cli("sql", "--project", "sales", "SELECT abs(-9223372036854775807 - 1)",
                keys=srv.acme)
    assert r.returncode != 0 and "integer overflow" in r.stderr, r


def test_no_node_is_left_behind(srv):
    for _ in range(3):
        srv.job("sales", "SELECT 1 AS a UNION ALL SELECT 2", keys=srv.acme)
    # cordond started no chunk servers here: every child would be a node
    assert descendants(srv.proc.pid) == []


def wait_state(srv, jid, states, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, body = srv.call("GET", f"/v1/projects/sales/jobs/{jid}", keys=srv.acme)
        assert st == 200, body
        if body["status"] in states:
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {jid} never reached {states}: {body}")


def test_cancel_kills_every_node_and_commits_nothing(srv):
    st, body = srv.job("sales", "CREATE TABLE IF NOT EXISTS idle (id BIGINT)", keys=srv.acme)
    assert st == 200, body
    # a TRANSFORM command that outlives any sane wait: only cancel ends it
    st, body = srv.job("sales", "SELECT TRANSFORM(id) USING '/usr/bin/sleep 600' AS (x) "
                       "FROM idle", keys=srv.acme, wait=0)
    assert st == 202, body
    jid = body["id"]
    status = wait_state(srv, jid, ("running",))
    # give the nodes a moment to exist, then cancel
    for _ in range(100):
        if descendants(srv.proc.pid):
            break
        time.sleep(0.05)
    assert descendants(srv.proc.pid), "the job's nodes never started"
    st, res = srv.call("DELETE", f"/v1/projects/sales/jobs/{jid}", keys=srv.acme)
    assert st == 200, res
    status = wait_state(srv, jid, ("cancelled", "failed", "succeeded"))
    assert status["status"] == "cancelled", status
    assert status["error"]["code"] == "Cancelled"
    for _ in range(100):
        if not descendants(srv.proc.pid):
            break
        time.sleep(0.05)
    assert descendants(srv.proc.pid) == []
    st, res = srv.call("GET", f"/v1/projects/sales/jobs/{jid}/result", keys=srv.acme)
    assert st == 409, res


def test_node_timeout_fails_the_job(srv):
    st, body = srv.job("sales", "CREATE TABLE IF NOT EXISTS idle (id BIGINT)", keys=srv.acme)
    st, body = srv.job("sales", "SET cordon.node.timeout=1s; SELECT TRANSFORM(id) USING "
                       "'/usr/bin/sleep 600' AS (x) FROM idle", keys=srv.acme)
    assert st == 200 and body["status"] == "failed", body
    assert body["error"]["code"] == "Timeout", body
    assert "wall" in body["error"]["message"], body


def test_kept_results_are_bounded_all_together(bin_dir, tmp_path):
    """A tenant cannot make cordond hold more results than --results-memory:
    past it the oldest finished job is forgotten (its id is 404)."""
    s = Cordond(bin_dir, tmp_path / "data",
                extra=["--chunkservers", "0", "--results-memory", "150K"]).start()
    try:
        s.create_project("p")
        big = "'xxxxxxxxxx'"
        for _ in range(4):  # 10^5 characters, made on the node
            big = f"replace({big}, 'x', 'xxxxxxxxxx')"
        ids = []
        for _ in range(2):
            st, body = s.job("p", f"SELECT {big} AS s")
            assert st == 200 and body["status"] == "succeeded", body
            assert len(body["rows"][0][0]) == 100000
            ids.append(body["id"])
        st, body = s.call("GET", f"/v1/projects/p/jobs/{ids[0]}")
        assert st == 404 and body["code"] == "NoSuchJob", body
        st, body = s.call("GET", f"/v1/projects/p/jobs/{ids[1]}/result")
        assert st == 200 and len(body[0]) == 100000
    finally:
        s.stop()


def test_union_all_of_bigint_and_double_is_double(srv):
    st, body = srv.job("sales", "SELECT 1 AS a UNION ALL SELECT 2.5 UNION ALL SELECT NULL",
                       keys=srv.acme)
    assert st == 200 and body["status"] == "succeeded", body
    assert sorted(body["rows"], key=repr) == sorted([[1.0], [2.5], [None]], key=repr)
    assert body["result"]["columns"] == [{"name": "a", "type": "DOUBLE"}]
    st, body = srv.job("sales", "SELECT 'x' AS a UNION ALL SELECT 1", keys=srv.acme)
    assert st == 400 and "UNION ALL column 1 is STRING in one branch and BIGINT" in \
        body["message"], body
