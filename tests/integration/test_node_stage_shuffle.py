"""MAP -> REDUCE over TCP on 127.0.0.1: partitioned senders, hello lines,
end frames, and senders that misbehave (docs/stage-plan.md)."""
import json
import socket
import struct
import time

import pytest

import rowfmt
from stage_util import STATS_LUA, finish, run_stage, stage_plan
from test_node_stage import COLS, F_GEO, ROWS, close_rows, ok

PART_COLS = [("country", "STRING"), ("p", "BINARY"), ("n", "BIGINT"), ("s", "DOUBLE")]
OUT = [("country", "STRING"), ("g", "DOUBLE"), ("n", "BIGINT"), ("s", "DOUBLE")]
MAP_SQL = ("SELECT country, geomean__partial(score), count(*), total(score) FROM in0 "
           "GROUP BY country")
REDUCE_SQL = ("SELECT country, geomean__final(p), sum(n), sum(s) FROM up GROUP BY country "
              "ORDER BY country")
WHOLE_SQL = ("SELECT country, geomean(score), count(*), total(score) FROM in0 GROUP BY country "
             "ORDER BY country")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fnv_partition(country, n):
    """The contract's hash for one STRING key, in Python."""
    h = 0xcbf29ce484222325
    for b in bytes([4]) + country.encode() + b"\xff":
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % n


def start_reducer(bin_dir, port, senders, job="j-shuf", limits=None):
    plan = stage_plan(REDUCE_SQL, [("up", PART_COLS, {"upstream": senders})], OUT,
                      functions=[F_GEO], job=job, stage="reduce", stage_index=1,
                      limits=limits)
    plan["listen"] = f"127.0.0.1:{port}"
    return run_stage(bin_dir, plan, scripts={"stats.lua": STATS_LUA}, wait=False)


def run_mapper(bin_dir, rows, index, count, peers, job="j-shuf"):
    plan = stage_plan(MAP_SQL, [("in0", COLS, {"fd": None})], PART_COLS, functions=[F_GEO],
                      job=job, node_index=index, node_count=count)
    plan["output"]["sink"] = {"partition": {"keys": [0], "peers": peers, "input": 0}}
    return run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, rows, 300)},
                     scripts={"stats.lua": STATS_LUA}, sink=None)


def whole(bin_dir):
    plan = stage_plan(WHOLE_SQL, [("in0", COLS, {"fd": None})], OUT, functions=[F_GEO])
    return ok(run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS)},
                        scripts={"stats.lua": STATS_LUA}))


def test_two_maps_two_reduces_equal_one_node(bin_dir):
    ports = [free_port(), free_port()]
    peers = [f"127.0.0.1:{p}" for p in ports]
    reducers = [start_reducer(bin_dir, p, 2) for p in ports]
    half = len(ROWS) // 2
    maps = [run_mapper(bin_dir, ROWS[:half], 0, 2, peers),
            run_mapper(bin_dir, ROWS[half:], 1, 2, peers)]
    for m in maps:
        assert m.rc == 0, m.stderr
        assert m.summary["rows_in"] in (half, len(ROWS) - half)
    results = [finish(*r) for r in reducers]
    combined = []
    for i, r in enumerate(results):
        rows = ok(r)
        for row in rows:
            assert fnv_partition(row[0], 2) == i, "row at the wrong reducer"
        combined += rows
    assert all(r.rows for r in results), "a reducer got nothing: the hash does not spread"
    assert sum(r.summary["rows_in"] for r in results) == sum(m.summary["rows_out"] for m in maps)
    close_rows(sorted(combined), whole(bin_dir))


def connect(port, hello=None):
    """Connects once the node listens (it may still be starting)."""
    for _ in range(600):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    else:
        raise AssertionError(f"nobody listens on {port}")
    if hello is not None:
        s.sendall((json.dumps(hello) + "\n").encode())
    return s


def partial_stream(rows):
    """What a mapper would send: computed by a real node into a file."""
    plan = stage_plan(MAP_SQL, [("in0", COLS, {"fd": None})], PART_COLS, functions=[F_GEO])
    r = run_stage(bin_dir_global, plan, inputs={"in0": rowfmt.encode_stream(COLS, rows)},
                  scripts={"stats.lua": STATS_LUA})
    return ok(r)


bin_dir_global = None


@pytest.fixture(autouse=True)
def _bin(bin_dir):
    global bin_dir_global
    bin_dir_global = bin_dir


def send_partials(sock, rows, end=True):
    sock.sendall(rowfmt.encode_stream(PART_COLS, rows, 2, end=end))


def hello(sender, job="j-shuf", stage_index=0, inp=0):
    return {"job": job, "stage_index": stage_index, "input": inp, "sender": sender}


def wait_closed(sock):
    """Blocks until the node has closed sock (EOF or reset)."""
    sock.settimeout(60)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass


def reduce_with_strangers(bin_dir, strangers):
    """One reducer, one honest sender, plus whatever strangers() does first."""
    port = free_port()
    red = start_reducer(bin_dir, port, 1, limits={"hello_timeout_ms": 300})
    parts = partial_stream(ROWS)
    honest = connect(port, hello(0))
    send_partials(honest, parts[:1], end=False)
    extra = strangers(port)
    for x in extra:
        wait_closed(x)
    send_partials(honest, parts[1:])
    r = finish(*red)
    honest.close()
    return r, extra, parts


def test_sender_that_never_says_hello_is_dropped(bin_dir):
    def silent(port):
        return [connect(port)]

    r, socks, parts = reduce_with_strangers(bin_dir, silent)
    close_rows(ok(r), whole(bin_dir))
    assert "no hello in time" in r.stderr
    socks[0].close()


@pytest.mark.parametrize("bad", [hello(0, job="j-other"), hello(0, stage_index=1),
                                 hello(5), hello(0, inp=3), {"job": "j-shuf"}, "garbage"])
def test_bad_hello_is_dropped(bin_dir, bad):
    def stranger(port):
        s = connect(port)
        s.sendall(((json.dumps(bad) if isinstance(bad, dict) else bad) + "\n").encode())
        # what a stranger sends after a bad hello is never read as rows
        s.sendall(rowfmt.encode_stream(PART_COLS, [("zz", b"x", 1, 1.0)]))
        return [s]

    r, socks, parts = reduce_with_strangers(bin_dir, stranger)
    close_rows(ok(r), whole(bin_dir))
    assert "dropped connection" in r.stderr
    socks[0].close()


def test_second_hello_of_a_sender_is_dropped(bin_dir):
    port = free_port()
    red = start_reducer(bin_dir, port, 1)
    parts = partial_stream(ROWS)
    first = connect(port, hello(0))
    send_partials(first, parts[:2], end=False)
    dup = connect(port, hello(0))
    send_partials(dup, [("zz", b"x", 1, 1.0)])
    wait_closed(dup)
    send_partials(first, parts[2:])
    r = finish(*red)
    first.close()
    dup.close()
    close_rows(ok(r), whole(bin_dir))
    assert "second hello" in r.stderr


def test_sender_closing_without_end_frame_fails_the_stage(bin_dir):
    port = free_port()
    red = start_reducer(bin_dir, port, 2)
    parts = partial_stream(ROWS)
    a = connect(port, hello(0))
    send_partials(a, parts)
    b = connect(port, hello(1))
    send_partials(b, parts[:1], end=False)
    b.close()
    r = finish(*red)
    a.close()
    assert r.rc == 1
    assert "sender 1 closed its stream without the end frame" in r.stderr
    assert not r.ended and r.rows == []


def test_sender_with_oversized_frame_fails_the_stage(bin_dir):
    port = free_port()
    red = start_reducer(bin_dir, port, 1)
    s = connect(port, hello(0))
    s.sendall(struct.pack("<I", 0xFFFFFFF0))
    r = finish(*red)
    s.close()
    assert r.rc == 1 and "frame of 4294967280 bytes" in r.stderr


def test_sender_with_malformed_batch_fails_the_stage(bin_dir):
    port = free_port()
    red = start_reducer(bin_dir, port, 1)
    s = connect(port, hello(0))
    s.sendall(rowfmt.frame(b"CRB1\x01\x00\x09\x01\x00a\x00\x00\x00\x00") + rowfmt.END)
    r = finish(*red)
    s.close()
    assert r.rc == 1 and "malformed batch" in r.stderr


def test_mapper_fails_when_peer_goes_away(bin_dir):
    port = free_port()
    plan = stage_plan("SELECT country, x'00', id, score FROM in0", [("in0", COLS, {"fd": None})],
                      PART_COLS, job="j-shuf")
    plan["output"]["sink"] = {"partition": {"keys": [0], "peers": [f"127.0.0.1:{port}"],
                                            "input": 0}}
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen(1)  # accepts, reads the hello, then closes: writes fail with EPIPE/ECONNRESET
    p = run_stage(bin_dir, plan, inputs={"in0": rowfmt.encode_stream(COLS, ROWS * 100, 3000)},
                  sink=None, wait=False)
    conn, _ = srv.accept()
    conn.recv(100)
    conn.close()
    srv.close()
    r = finish(*p)
    assert r.rc == 1, r.stderr


KV = [("k", "BIGINT"), ("v", "STRING")]


def start_two_input_node(bin_dir, port, sql, out):
    plan = stage_plan(sql, [("a", KV, {"upstream": 2}), ("b", KV, {"upstream": 2})], out,
                      job="j-shuf", stage="reduce", stage_index=1)
    plan["listen"] = f"127.0.0.1:{port}"
    return run_stage(bin_dir, plan, wait=False)


def send_input(port, inp, sender, rows, end=True):
    s = connect(port, hello(sender, inp=inp))
    s.sendall(rowfmt.encode_stream(KV, rows, 50, end=end))
    return s


def test_two_upstream_inputs_joined(bin_dir):
    """Frames of both inputs arrive interleaved while the join scans them;
    each input's senders are read whether or not its scan is running."""
    port = free_port()
    a = [(i, f"a{i}") for i in range(2000)]
    b = [(i * 3, f"b{i}") for i in range(1000)]
    node = start_two_input_node(bin_dir, port,
                                "SELECT a.k, a.v, b.v FROM a JOIN b ON a.k = b.k ORDER BY a.k",
                                [("k", "BIGINT"), ("av", "STRING"), ("bv", "STRING")])
    socks = [send_input(port, 1, 0, b[:500]), send_input(port, 0, 1, a[1000:]),
             send_input(port, 1, 1, b[500:]), send_input(port, 0, 0, a[:1000])]
    r = finish(*node)
    for s in socks:
        s.close()
    bv = dict(b)
    assert ok(r) == [(k, v, bv[k]) for k, v in a if k in bv]
    assert r.summary["rows_in"] == len(a) + len(b)


def test_unread_upstream_input_is_still_checked(bin_dir):
    sql, out = "SELECT count(*) FROM a", [("n", "BIGINT")]
    port = free_port()
    node = start_two_input_node(bin_dir, port, sql, out)
    socks = [send_input(port, 0, 0, [(1, "x")]), send_input(port, 0, 1, [(2, "y")]),
             send_input(port, 1, 0, [(3, "z")]), send_input(port, 1, 1, [(4, "w")])]
    r = finish(*node)
    assert ok(r) == [(2,)]
    for s in socks:
        s.close()
    port = free_port()
    node = start_two_input_node(bin_dir, port, sql, out)
    socks = [send_input(port, 0, 0, [(1, "x")]), send_input(port, 0, 1, [(2, "y")]),
             send_input(port, 1, 0, [(3, "z")]), send_input(port, 1, 1, [(4, "w")], end=False)]
    socks[-1].close()
    r = finish(*node)
    assert r.rc == 1 and "input 1: sender 1 closed its stream without the end frame" in r.stderr
    assert not r.ended
    for s in socks:
        s.close()


def test_many_senders_at_once(bin_dir):
    """60 senders connected at the same time, all of them before any ends."""
    port = free_port()
    plan = stage_plan("SELECT count(*), sum(k) FROM a", [("a", KV, {"upstream": 60})],
                      [("n", "BIGINT"), ("s", "BIGINT")], job="j-shuf", stage="reduce",
                      stage_index=1)
    plan["listen"] = f"127.0.0.1:{port}"
    node = run_stage(bin_dir, plan, wait=False)
    socks = [connect(port, hello(j)) for j in range(60)]
    for j, s in enumerate(socks):
        s.sendall(rowfmt.encode_stream(KV, [(j, "x")] * 10))
    r = finish(*node)
    for s in socks:
        s.close()
    assert ok(r) == [(600, 10 * sum(range(60)))]


def test_keys_empty_to_one_final_peer(bin_dir):
    """A stage feeding a 1-node FINAL: "keys": [] and one peer."""
    port = free_port()
    plan = stage_plan("SELECT k, v FROM up ORDER BY k", [("up", KV, {"upstream": 2})], KV,
                      job="j-shuf", stage="final", stage_index=1)
    plan["listen"] = f"127.0.0.1:{port}"
    final = run_stage(bin_dir, plan, wait=False)
    for j in range(2):
        m = stage_plan("SELECT id, email FROM in0 WHERE id % 2 = ?".replace("?", str(j)),
                       [("in0", COLS, {"fd": None})], KV, job="j-shuf", node_index=j,
                       node_count=2)
        m["output"]["sink"] = {"partition": {"keys": [], "peers": [f"127.0.0.1:{port}"],
                                             "input": 0}}
        r = run_stage(bin_dir, m, inputs={"in0": rowfmt.encode_stream(COLS, ROWS[:100])},
                      sink=None)
        assert r.rc == 0, r.stderr
    assert ok(finish(*final)) == [(row[0], row[1]) for row in ROWS[:100]]
