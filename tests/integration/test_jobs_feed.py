"""The scan feed of a job (scheduler/job_run.c, docs/jobs.md "Feeding"): a
MAP stage of N nodes is fed by min(N, 8) workers in cordond, worker k reading
slice k of the table's chunks (across every segment) and dealing its batches
out to all N nodes. Against the real cordond with three chunk servers:

- a table's big row groups are stored as one chunk per column, and a query
  fetches only the chunks of the columns it reads;
- every chunk is read exactly once, whatever the node count: the same rows,
  and the same bytes fed, for 1 to 9 nodes over a table of several chunks and
  several segments;
- a LIMIT on many nodes (nodes close their inputs early) ends well;
- a chunk lost on every replica fails the job with the storage's reason,
  not a worker's "stopped", for any node count, and cordond keeps serving."""
import pathlib
import sqlite3
import urllib.parse

import pytest

from cordon_api import Cordond
from procs import cmdline, descendants

PAD = "p" * 180
ROWS = 60000  # ~13 MB of rows: four 4 MiB chunks


def rows_csv(n, start=0):
    return "id,s\n" + "".join(f"{i},{PAD}{i}\n" for i in range(start, start + n))


def ok(s, sql):
    st, body = s.job("fp", sql, keys=s.acme, wait=300)
    assert st == 200 and body.get("status") in ("success", "succeeded"), (sql, body)
    return body


def upload(s, table, text, partition=None):
    q = "?" + urllib.parse.urlencode({"partition": partition}) if partition else ""
    m, p, h, b = s.signed("PUT", f"/v1/projects/fp/tables/{table}/data{q}", text.encode(),
                          s.acme, {"Content-Type": "text/csv"})
    st, body, _ = s.send(m, p, h, b)
    assert st == 200, body


def chunks_of(s, table):
    """(version, seq, chunk id, row group, column) of every stored chunk of a job table."""
    db = sqlite3.connect(f"file:{s.data_dir}/catalog.db?mode=ro", uri=True, timeout=10)
    try:
        sid = db.execute("SELECT storage_id FROM job_table_storage WHERE project = 'fp' "
                         "AND name = ?", (table,)).fetchone()[0]
        return db.execute("SELECT version, seq, chunk_id, rg, col FROM stor_chunks WHERE table_id = ? "
                          "ORDER BY version, seq", (sid,)).fetchall()
    finally:
        db.close()


def nodes_running(s):
    return [p for p in descendants(s.proc.pid) if "cordon-chunkd" not in cmdline(p)]


@pytest.fixture(scope="module")
def srv(bin_dir, tmp_path_factory):
    s = Cordond(bin_dir, tmp_path_factory.mktemp("jobsfeed") / "data",
                extra=["--chunkservers", "3", "--racks", "3", "--scrub-rate", "0"]).start()
    try:  # a failed setup stops cordond too
        s.acme = s.create_account("acme")
        s.create_project("fp", keys=s.acme)
        ok(s, "CREATE TABLE big (id BIGINT, s STRING)")
        upload(s, "big", rows_csv(ROWS))
        # two appended segments: slices number chunks across segments
        upload(s, "big", rows_csv(10, ROWS))
        ok(s, f"INSERT INTO big SELECT id + {ROWS + 10}, s FROM big WHERE id < 5")
        yield s
    finally:
        s.stop()


EXPECT = ROWS + 15
EXPECT_SUM = sum(range(ROWS + 10)) + sum(range(ROWS + 10, ROWS + 15))


def test_the_table_has_several_chunks_and_segments(srv):
    c = chunks_of(srv, "big")
    versions = sorted({v for v, *_ in c})
    assert len(versions) == 3, c
    first = [(rg, col) for v, _, _, rg, col in c if v == versions[0]]
    # the big segment: >= 3 row groups, each a chunk per column
    assert len({rg for rg, _ in first}) >= 3, c
    assert sorted(first) == [(rg, col) for rg in sorted({rg for rg, _ in first})
                             for col in (0, 1)], c
    # the two small ones: a chunk of whole rows each
    assert [col for v, *_, col in c if v != versions[0]] == [-1, -1], c


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 9])
def test_every_chunk_is_fed_once_for_any_node_count(srv, nodes):
    body = ok(srv, f"SET cordon.nodes={nodes}; SELECT count(*) AS n, sum(id) AS s, "
                   "count(DISTINCT id) AS d, sum(length(s)) AS l FROM big")
    assert body["rows"] == [[EXPECT, EXPECT_SUM, EXPECT,
                             EXPECT * len(PAD) + sum(len(str(i)) for i in range(ROWS + 10))
                             + sum(len(str(i)) for i in range(5))]]
    st, status = srv.call("GET", f"/v1/projects/fp/jobs/{body['id']}", keys=srv.acme)
    assert st == 200
    assert status["stages"][0]["nodes"] == nodes
    # the same bytes whatever the split: no batch twice, none dropped
    if nodes == 1:
        srv.bytes_one = status["usage"]["bytesRead"]
        assert srv.bytes_one > ROWS * len(PAD)
    else:
        assert status["usage"]["bytesRead"] == srv.bytes_one


def chunks_read(s):
    st, body = s.call("GET", "/v1/admin/storage")  # the operator's view, read now
    assert st == 200, body
    return body["metrics"]["chunks_read"]


@pytest.mark.parametrize("nodes", [1, 2])
def test_a_query_of_one_column_fetches_only_its_chunks(srv, nodes):
    c = chunks_of(srv, "big")
    col0 = sum(1 for *_, col in c if col in (-1, 0))
    before = chunks_read(srv)
    body = ok(srv, f"SET cordon.nodes={nodes}; SELECT sum(id) AS s, count(*) AS n FROM big")
    assert body["rows"] == [[EXPECT_SUM, EXPECT]]
    # column id's chunks and the two row chunks; never column s's
    assert chunks_read(srv) - before == col0 < len(c), c
    before = chunks_read(srv)
    ok(srv, f"SET cordon.nodes={nodes}; SELECT max(s) AS m, min(id) AS i FROM big")
    assert chunks_read(srv) - before == len(c)


def test_columns_come_back_in_the_order_asked(srv):
    body = ok(srv, "SELECT s, id, s AS t FROM big WHERE id IN (3, 60012) ORDER BY id")
    assert body["rows"] == [[f"{PAD}3", 3, f"{PAD}3"], [f"{PAD}2", ROWS + 12, f"{PAD}2"]]


def test_rows_kept_by_a_partition_overwrite_come_back_whole(srv):
    """A partition overwrite rewrites the other partitions' rows, read back
    from their column chunks (every column, zipped) and stored again."""
    ok(srv, "CREATE TABLE pt (id BIGINT, s STRING) PARTITIONED BY (p STRING)")
    upload(srv, "pt", rows_csv(3000), partition="p=a")
    upload(srv, "pt", rows_csv(3000, 10000), partition="p=b")
    before = chunks_of(srv, "pt")
    assert {col for *_, col in before} == {0, 1, 2}, before  # id, s and p
    ok(srv, "INSERT OVERWRITE TABLE pt PARTITION (p='b') SELECT id + 1, s FROM pt "
            "WHERE p = 'a' AND id < 10")
    after = chunks_of(srv, "pt")
    assert {v for v, *_ in after}.isdisjoint({v for v, *_ in before}), after
    assert {col for *_, col in after} >= {0, 1, 2}, after
    body = ok(srv, "SELECT p, count(*) AS n, sum(id) AS i, sum(length(s)) AS l, min(s) AS m "
                   "FROM pt GROUP BY p ORDER BY p")
    assert body["rows"] == [
        ["a", 3000, sum(range(3000)), 3000 * len(PAD) + sum(len(str(i)) for i in range(3000)),
         f"{PAD}0"],
        ["b", 10, sum(range(1, 11)), 10 * len(PAD) + 10, f"{PAD}0"]]


@pytest.mark.parametrize("nodes", [2, 4])
def test_a_limit_on_many_nodes_ends_well(srv, nodes):
    body = ok(srv, f"SET cordon.nodes={nodes}; SELECT id FROM big LIMIT 7")
    assert len(body["rows"]) == 7
    assert len({r[0] for r in body["rows"]}) == 7
    assert not nodes_running(srv)


def test_a_chunk_lost_on_every_replica_fails_the_job_with_its_reason(srv):
    ok(srv, "CREATE TABLE lost (id BIGINT, s STRING)")
    upload(srv, "lost", rows_csv(ROWS))
    c = chunks_of(srv, "lost")
    groups = sorted({rg for _, _, _, rg, _ in c})
    assert len(groups) >= 3, c
    # column s of the second row group: in the second worker's slice on 2 nodes
    victim = [cid for _, _, cid, rg, col in c if rg == groups[1] and col == 1][0]
    files = sorted(pathlib.Path(srv.data_dir, "storage").glob(f"chunk-*/chunks/*/{victim}"))
    assert len(files) == 3, files
    for f in files:
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))
    for nodes in (1, 2, 4):
        st, body = srv.job("fp", f"SET cordon.nodes={nodes}; SELECT count(s) AS n FROM lost",
                           keys=srv.acme, wait=120)
        assert st == 200 and body["status"] == "failed", body
        msg = body["error"]["message"]
        # the first read drops the three bad replicas; later ones find none left
        assert f"chunk {victim}: no good replica among 3" in msg if nodes == 1 else \
            f"chunk {victim}: no replica left" in msg, msg
        assert "stopped" not in msg, msg
        assert "rows" not in body
    assert not nodes_running(srv)
    # a query that does not read column s never fetches the lost chunk
    assert ok(srv, "SET cordon.nodes=2; SELECT count(id) AS n FROM lost")["rows"] == [[ROWS]]
    # cordond keeps serving, and the other table is whole
    assert ok(srv, "SET cordon.nodes=2; SELECT count(*) AS n FROM big")["rows"] == [[EXPECT]]
