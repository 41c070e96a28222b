"""Old table versions leave storage: an append publishes a segment of its
own rows (the table is then its versions, in order), every other write a
whole new version; the versions it replaced are deleted once nobody reads
them (a job that
was reading it when the write landed keeps its rows and finishes), a write
that fails to publish leaves nothing, and a restart sweeps what a crash
left. Real cordond, real chunk servers, chunk files counted on disk."""
import pathlib
import threading
import time

import pytest

from cordon_api import Cordond
from procs import descendants


def chunk_files(data_dir):
    return sorted(p for p in (pathlib.Path(data_dir) / "storage").glob("chunk-*/chunks/*/*")
                  if p.is_file())


def ok(s, sql):
    st, body = s.job("vp", sql, keys=s.acme, wait=120)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql, body)
    return body


def upload(s, table, text, mode=None):
    q = f"?mode={mode}" if mode else ""
    m, p, h, b = s.signed("PUT", f"/v1/projects/vp/tables/{table}/data{q}", text.encode(),
                          s.acme, {"Content-Type": "text/csv"})
    st, body, _ = s.send(m, p, h, b)
    assert st == 200, body
    return body


def stored_versions(s, table):
    """Distinct versions with chunks in storage's catalog for a job table."""
    import sqlite3
    db = sqlite3.connect(f"file:{s.data_dir}/catalog.db?mode=ro", uri=True, timeout=10)
    try:
        sid = db.execute("SELECT storage_id FROM job_table_storage WHERE project = 'vp' "
                         "AND name = ?", (table,)).fetchone()[0]
        return [r[0] for r in db.execute("SELECT DISTINCT version FROM stor_chunks WHERE "
                                         "table_id = ? ORDER BY version", (sid,))]
    finally:
        db.close()


def rows_csv(n, start=0):
    return "id,s\n" + "".join(f"{i},row-{i:08d}-{'x' * 20}\n" for i in range(start, start + n))


@pytest.fixture
def srv(bin_dir, tmp_path):
    s = Cordond(bin_dir, tmp_path / "data",
                extra=["--chunkservers", "3", "--racks", "3", "--scrub-rate", "0"]).start()
    s.acme = s.create_account("acme")
    s.create_project("vp", keys=s.acme)
    yield s
    s.stop()


def test_a_replaced_version_is_deleted(srv):
    ok(srv, "CREATE TABLE t (id BIGINT, s STRING)")
    upload(srv, "t", rows_csv(2000))
    assert len(stored_versions(srv, "t")) == 1
    files = len(chunk_files(srv.data_dir))
    assert files >= 3
    upload(srv, "t", rows_csv(100, 5000))  # append: a segment of its 100 rows only
    assert len(stored_versions(srv, "t")) == 2
    assert len(chunk_files(srv.data_dir)) == files + 3  # one small chunk on 3 replicas
    assert ok(srv, "SELECT count(*) AS n, sum(id) AS s FROM t")["rows"] == \
        [[2100, sum(range(2000)) + sum(range(5000, 5100))]]
    upload(srv, "t", rows_csv(10, 9000), mode="overwrite")  # both segments go
    assert len(stored_versions(srv, "t")) == 1
    ok(srv, "INSERT INTO t SELECT id + 1, s FROM t")
    assert len(stored_versions(srv, "t")) == 2
    assert ok(srv, "SELECT count(*) AS n FROM t")["rows"] == [[20]]
    ok(srv, "INSERT OVERWRITE TABLE t SELECT id, s FROM t")
    assert len(stored_versions(srv, "t")) == 1
    assert len(chunk_files(srv.data_dir)) == files  # one small version on 3 replicas
    assert ok(srv, "SELECT count(*) AS n FROM t")["rows"] == [[20]]


def test_a_version_being_read_stays_until_its_reader_is_done(srv):
    """A job reading version 1 while an overwrite publishes version 2:
    the job gets every row of version 1, and version 1 goes afterwards."""
    ok(srv, "CREATE TABLE big (id BIGINT, s STRING)")
    upload(srv, "big", rows_csv(150_000))  # ~6 MB: more than the pipes hold
    slow = ("local t = os.clock() while os.clock() - t < 3 do end\n"
            "local n = 0 for _ in io.lines() do n = n + 1 end io.write(n, '\\n')\n")
    st, body = srv.call("PUT", "/v1/projects/vp/resources/slow.lua", slow.encode(),
                        keys=srv.acme)
    assert st in (200, 201), body
    result = {}

    def reader():
        result["body"] = ok(srv, "SET cordon.nodes=1; SELECT TRANSFORM(id, s) USING "
                            "'/usr/bin/lua5.4 slow.lua' RESOURCES 'slow.lua' AS (n BIGINT) "
                            "FROM big")

    th = threading.Thread(target=reader)
    th.start()
    deadline = time.monotonic() + 30
    while not descendants(srv.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the feeder is blocked on the full pipe, holding version 1
    upload(srv, "big", rows_csv(5), mode="overwrite")
    assert len(stored_versions(srv, "big")) == 2  # version 1 is still read
    th.join(timeout=120)
    assert result["body"]["rows"] == [[150_000]]
    assert len(stored_versions(srv, "big")) == 1
    assert ok(srv, "SELECT count(*) AS n FROM big")["rows"] == [[5]]


def test_a_restart_sweeps_versions_a_crash_left(srv, bin_dir):
    """Versions nobody published (a write killed before its publish, a
    replaced version whose drop never ran) go at the next start."""
    import signal
    import sqlite3
    ok(srv, "CREATE TABLE c (id BIGINT, s STRING)")
    upload(srv, "c", rows_csv(500))
    keep = stored_versions(srv, "c")
    srv.stop(sig=signal.SIGKILL)
    # a second version written behind the catalog's back (what an interrupted
    # write leaves): its chunk rows point at files that are not published
    db = sqlite3.connect(f"{srv.data_dir}/catalog.db", timeout=10)
    sid = db.execute("SELECT storage_id FROM job_table_storage WHERE name = 'c'").fetchone()[0]
    db.execute("INSERT INTO stor_chunks SELECT chunk_id || 'x', table_id, version + 7, seq, "
               "size, key_version, sha256, created_at, rg, col FROM stor_chunks WHERE table_id = ?",
               (sid,))
    db.commit()
    db.close()
    assert len(stored_versions(srv, "c")) == 2
    srv.start()
    assert stored_versions(srv, "c") == keep
    assert ok(srv, "SELECT count(*) AS n FROM c")["rows"] == [[500]]


def test_segments_survive_a_restart_and_compact(srv):
    """The start-up sweep keeps every version a table lists; the 17th
    append rewrites the 16 segments as one version."""
    ok(srv, "CREATE TABLE a (id BIGINT, s STRING)")
    for i in range(3):
        upload(srv, "a", rows_csv(10, i * 10))
    assert len(stored_versions(srv, "a")) == 3
    srv.stop()
    srv.start()
    assert len(stored_versions(srv, "a")) == 3
    assert ok(srv, "SELECT count(*) AS n, sum(id) AS s FROM a")["rows"] == [[30, sum(range(30))]]
    for i in range(3, 17):
        upload(srv, "a", rows_csv(10, i * 10))
    assert len(stored_versions(srv, "a")) == 1  # the 17th append compacted
    assert ok(srv, "SET cordon.nodes=3; SELECT count(*) AS n, sum(id) AS s FROM a")["rows"] == \
        [[170, sum(range(170))]]


def test_a_reused_project_name_starts_empty(srv):
    """DELETE /v1/projects/P removes P's tables, views and functions from
    the catalog: a tenant who later creates a project of the same name sees
    none of them (names, columns, labels) and can create its own."""
    srv.create_project("gone", keys=srv.acme)
    for sql in ("CREATE TABLE secret_tbl (ssn STRING, salary DOUBLE)",
                "CREATE VIEW secret_view AS SELECT ssn FROM secret_tbl"):
        st, body = srv.job("gone", sql, keys=srv.acme)
        assert st == 200, body
    st, body = srv.call("PUT", "/v1/projects/gone/resources/f.lua",
                        b"return {scalar = {f = function(x) return x end}}", keys=srv.acme)
    assert st in (200, 201), body
    st, body = srv.job("gone", "CREATE FUNCTION secret_fn AS 'f.f' USING 'f.lua'",
                       keys=srv.acme)
    st, body = srv.call("DELETE", "/v1/projects/gone", keys=srv.acme)
    assert st in (200, 204), body
    other = srv.create_account("newcomer")
    srv.create_project("gone", keys=other)
    st, body = srv.job("gone", "SHOW TABLES", keys=other)
    assert st == 200 and body["rows"] == [], body
    st, body = srv.job("gone", "SHOW FUNCTIONS", keys=other)
    assert st == 200 and body["rows"] == [], body
    st, body = srv.job("gone", "DESC secret_tbl", keys=other)
    assert st in (400, 404), body
    st, body = srv.job("gone", "CREATE TABLE secret_tbl (id BIGINT)", keys=other)
    assert st == 200, body
    st, body = srv.job("gone", "DESC secret_tbl", keys=other)
    assert st == 200 and "ssn" not in str(body), body


def test_a_limit_that_stops_the_nodes_early_is_no_failure(srv):
    """Nodes that reached a LIMIT close their input while cordond still
    feeds them rows (a table larger than the pipes hold): the feeder's
    broken pipe is no failure; the job returns its rows. It once failed
    the job with 'read table ... write: Broken pipe'."""
    ok(srv, "CREATE TABLE wide (id BIGINT, s STRING)")
    pad = "p" * 200
    for part in range(4):  # four appends, ~1.7 MB each
        upload(srv, "wide", "id,s\n" + "".join(f"{part * 8000 + i},{pad}\n"
                                                for i in range(8000)))
    for nodes in (1, 2):
        for _ in range(3):
            body = ok(srv, f"SET cordon.nodes={nodes}; SELECT id FROM wide LIMIT 5")
            assert len(body["rows"]) == 5
    assert ok(srv, "SELECT count(*) AS n FROM wide")["rows"] == [[32000]]
