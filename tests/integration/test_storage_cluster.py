"""Replicated encrypted storage end to end: real cordon-chunkd processes,
driven through `cordon admin storage` (the same client and master code that
cordond links). Each test makes its own storage dir and servers."""
import hashlib
import os
import signal
import subprocess
import time

import pytest

from test_storage_lib import Cluster


@pytest.fixture
def cluster(bin_dir, tmp_path):
    c = Cluster(bin_dir, tmp_path)
    yield c
    c.stop()


def blob(n, seed=b"cordon"):
    """n pseudo-random bytes (fast, deterministic)."""
    out, counter = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(8, "little")).digest() * 64
        counter += 1
    return bytes(out[:n])


def assert_placement(cluster, chunks, live_servers):
    ids = cluster.server_ids()
    live_ids = {ids[s] for s in live_servers}
    racks = {ids[s]: s.rack for s in cluster.servers}
    live_racks = {s.rack for s in live_servers}
    for cid, reps in chunks:
        assert len(reps) == 3 and len(set(reps)) == 3, (cid, reps)
        assert set(reps) <= live_ids, (cid, reps)
        if len(live_racks) >= 3:
            assert len({racks[r] for r in reps}) == 3, (cid, [racks[r] for r in reps])
        for r in reps:
            assert cluster.chunk_file(cluster.by_id(r), cid).exists()


MiB = 1 << 20


@pytest.mark.parametrize("size", [0, 1, 4 * MiB, 4 * MiB + 1, 100 * MiB])
def test_round_trip_sizes(cluster, size):
    data = blob(size, seed=str(size).encode())
    r = cluster.put(7, 1, data)
    assert r.returncode == 0, r.stderr
    r, back = cluster.get(7, 1)
    assert r.returncode == 0, r.stderr
    assert back == data
    chunks = cluster.chunks(7, 1)
    assert len(chunks) == max(1, -(-size // (4 * MiB)))
    assert_placement(cluster, chunks, cluster.servers)


def test_version_is_write_once_and_missing_is_not_found(cluster):
    assert cluster.put(1, 1, b"a").returncode == 0
    r = cluster.put(1, 1, b"b")
    assert r.returncode == 1 and b"already exists" in r.stderr
    assert cluster.get(1, 1)[1] == b"a"
    r, data = cluster.get(1, 2)
    assert r.returncode == 1 and b"not_found" in r.stderr and data is None


def test_no_plaintext_at_rest(cluster):
    marker = b"CORDON-PLAINTEXT-MARKER-7f3a9c"
    data = (marker + b" row data ") * 200000  # ~8 MiB, several chunks
    assert cluster.put(3, 1, data).returncode == 0
    assert cluster.get(3, 1)[1] == data
    probes = [marker, marker[:12], b" row data " + marker[:8]]
    seen = 0
    for root in [cluster.dir] + [s.data_dir for s in cluster.servers]:
        for dirpath, _, files in os.walk(root):
            for f in files:
                content = open(os.path.join(dirpath, f), "rb").read()
                seen += len(content)
                for p in probes:
                    assert p not in content, os.path.join(dirpath, f)
    assert seen > 3 * len(data)  # the replicas were really looked at


def test_kill9_after_write_then_repair(cluster):
    datas = {v: blob(5 * MiB + v, seed=b"v%d" % v) for v in (1, 2, 3)}
    for v, d in datas.items():
        assert cluster.put(11, v, d).returncode == 0
    # the victim holds replicas of every version (4 servers, 3 replicas)
    victim = cluster.by_id(cluster.chunks(11, 1)[0][1][0])
    victim.kill9()
    for v, d in datas.items():
        r, back = cluster.get(11, v)
        assert r.returncode == 0, r.stderr
        assert back == d
    r = cluster.cordon("repair", "--lost-timeout", "2s", "--timeout", "90s")
    assert r.returncode == 0, r.stderr
    assert b"storage.server_lost" in r.stderr and b"storage.repair" in r.stderr
    assert b" 0 repaired" not in r.stdout and b" repaired, 0 repairs failed" in r.stdout
    live = [s for s in cluster.servers if s is not victim]
    chunks = cluster.chunks()
    assert len(chunks) == 6
    assert_placement(cluster, chunks, live)
    for v, d in datas.items():
        assert cluster.get(11, v)[1] == d


def test_kill9_during_write(cluster, tmp_path):
    data = blob(120 * MiB, seed=b"mid")
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    victim = cluster.servers[1]
    proc = subprocess.Popen(
        [str(cluster.bin_dir / "cordon"), "admin", "storage", "put", "--data-dir",
         str(cluster.dir), "--project", "p1", "--table", "21", "--version", "1", "--in", str(f)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # kill the victim as soon as the write has reached it
        deadline = time.monotonic() + 120
        while not victim.chunk_files() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.kill9()
        out, errout = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    live = [s for s in cluster.servers if s is not victim]
    print("put exit status", proc.returncode, errout.decode(errors="replace")[-300:])
    if proc.returncode == 0:
        # a success must mean 3 recorded replicas for every chunk
        chunks = cluster.chunks(21, 1)
        assert chunks and all(len(set(reps)) == 3 for _, reps in chunks)
        assert cluster.get(21, 1)[1] == data
    else:
        assert b"replica write" in errout or b"need 3 live" in errout, errout
        r, back = cluster.get(21, 1)
        assert r.returncode == 1 and back is None and b"not_found" in r.stderr
        assert cluster.chunks() == []
        for s in live:  # the replicas that were written are gone
            assert s.chunk_files() == [], s.data_dir
        # what reached the victim is removed once it is back
        victim.start()
        r = cluster.cordon("repair", "--timeout", "60s")
        assert r.returncode == 0, r.stderr
        assert victim.chunk_files() == []
    # and the cluster still takes writes
    assert cluster.put(22, 1, b"after").returncode == 0


def damage(cluster, how, cid, sid):
    f = cluster.chunk_file(cluster.by_id(sid), cid)
    raw = bytearray(f.read_bytes())
    if how == "flip":
        raw[len(raw) // 2] ^= 0x01
        f.write_bytes(bytes(raw))
    elif how == "truncate":
        f.write_bytes(bytes(raw[:len(raw) // 3]))
    else:
        f.unlink()
    return f


def test_damage_is_read_around_reported_and_repaired(cluster):
    data = blob(14 * MiB, seed=b"damage")
    assert cluster.put(31, 1, data).returncode == 0
    chunks = cluster.chunks(31, 1)
    assert len(chunks) == 4
    # each damaged replica is the one the reader tries first or not: damage
    # every replica but one of chunk 0, and one replica of chunks 1-3
    (c0, r0), (c1, r1), (c2, r2), (c3, r3) = chunks
    damage(cluster, "flip", c0, r0[0])
    damage(cluster, "truncate", c0, r0[1])
    damage(cluster, "flip", c1, r1[0])
    damage(cluster, "truncate", c2, r2[1])
    damage(cluster, "delete", c3, r3[2])
    r, back = cluster.get(31, 1)
    assert r.returncode == 0, r.stderr
    assert back == data
    err = r.stderr.decode()
    assert "checksum mismatch" in err and "corrupt" in err
    assert "storage.replica_bad" in err and "storage.repair" in err
    # a replica that the read did not need to touch is found by the scrub
    r = cluster.cordon("scrub")
    assert r.returncode == 0, r.stderr
    r = cluster.cordon("repair", "--timeout", "60s")
    assert r.returncode == 0, r.stderr
    assert_placement(cluster, cluster.chunks(31, 1), cluster.servers)
    r = cluster.cordon("scrub")
    assert r.returncode == 0 and b", 0 bad," in r.stdout, r.stdout
    assert cluster.get(31, 1)[1] == data


def test_scrub_finds_damage_without_reads(cluster):
    data = blob(6 * MiB, seed=b"scrub")
    assert cluster.put(32, 1, data).returncode == 0
    (c0, r0), (c1, r1) = cluster.chunks(32, 1)
    f0 = damage(cluster, "flip", c0, r0[2])
    damage(cluster, "delete", c1, r1[0])
    r = cluster.cordon("scrub")
    assert r.returncode == 0, r.stderr
    assert b"2 bad, 2 repaired" in r.stdout, r.stdout
    assert_placement(cluster, cluster.chunks(32, 1), cluster.servers)
    # the flipped copy is gone or rewritten good
    if f0.exists():
        assert hashlib.sha256(f0.read_bytes()[48:]).digest() == f0.read_bytes()[16:48]


def test_swapped_and_replayed_chunks_never_return_wrong_data(cluster):
    v1, v2 = blob(9 * MiB, seed=b"one"), blob(9 * MiB, seed=b"two")
    assert cluster.put(41, 1, v1).returncode == 0
    assert cluster.put(41, 2, v2).returncode == 0
    (a, ra), (b, rb), _ = cluster.chunks(41, 2)
    # swap on the server the reader tries first for chunk a (replicas are
    # tried in server id order): a's file gets b's bytes, and b's gets a's
    # where that server holds b too
    srv = cluster.by_id(ra[0])
    fa = cluster.chunk_file(srv, a)
    fb = cluster.chunk_file(srv if rb.count(ra[0]) else cluster.by_id(rb[0]), b)
    da, db_ = fa.read_bytes(), fb.read_bytes()
    fa.write_bytes(db_)
    if rb.count(ra[0]):
        fb.write_bytes(da)
    r, back = cluster.get(41, 2)
    assert r.returncode == 0 and back == v2, r.stderr
    assert b"not the one the catalog wrote" in r.stderr
    # replay: every replica of version 2's first chunk replaced by version 1's
    # first chunk (an older, valid, correctly checksummed chunk file)
    (old, rold), _, _ = cluster.chunks(41, 1)
    (new, rnew), _, _ = cluster.chunks(41, 2)
    old_bytes = cluster.chunk_file(cluster.by_id(rold[0]), old).read_bytes()
    for sid in rnew:
        cluster.chunk_file(cluster.by_id(sid), new).write_bytes(old_bytes)
    r, back = cluster.get(41, 2)
    assert r.returncode == 1 and back is None, "wrong data returned"
    assert b"no good replica" in r.stderr
    assert cluster.get(41, 1)[1] == v1


def test_drop_table_crypto_shreds(cluster, tmp_path):
    data = blob(5 * MiB, seed=b"shred")
    assert cluster.put(51, 1, data).returncode == 0
    assert cluster.put(52, 1, b"other table").returncode == 0
    with cluster.db() as db:
        wrapped = db.execute("SELECT wrapped FROM stor_table_keys WHERE table_id = 51").fetchone()[0]
        rows = db.execute("SELECT * FROM stor_chunks WHERE table_id = 51").fetchall()
        reps = db.execute("SELECT r.* FROM stor_replicas r JOIN stor_chunks c USING (chunk_id) "
                          "WHERE c.table_id = 51").fetchall()
    backup = {}
    for s in cluster.servers:
        for f in s.chunk_files():
            backup[f] = f.read_bytes()
    r = cluster.cordon("drop-table", "--table", "51")
    assert r.returncode == 0, r.stderr
    for cid, _ in [(row[0], None) for row in rows]:
        for s in cluster.servers:
            assert not cluster.chunk_file(s, cid).exists()
    # the wrapped data key is gone from the catalog files, WAL included
    for f in cluster.dir.iterdir():
        assert wrapped not in f.read_bytes(), f
    # an attacker restores the chunk files and the catalog's chunk rows
    for f, content in backup.items():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content)
    import sqlite3
    with sqlite3.connect(cluster.dir / "storage.db", timeout=30) as db:
        db.executemany("INSERT OR IGNORE INTO stor_chunks VALUES (%s)" %
                       ",".join("?" * len(rows[0])), rows)
        db.executemany("INSERT OR IGNORE INTO stor_replicas VALUES (?, ?)", reps)
    r, back = cluster.get(51, 1)
    assert r.returncode == 1 and back is None
    assert b"no data key for table 51" in r.stderr
    assert cluster.get(52, 1)[1] == b"other table"


def test_rotation_keeps_tables_readable_and_wrong_root_key_fails(cluster, tmp_path):
    d1, d2 = blob(3 * MiB, seed=b"r1"), blob(5 * MiB, seed=b"r2")
    assert cluster.put(61, 1, d1, project="rot").returncode == 0
    assert cluster.put(62, 1, d2, project="rot").returncode == 0
    chunk_bytes = {f: f.read_bytes() for s in cluster.servers for f in s.chunk_files()}
    r = cluster.cordon_ok("key-rotate", "--project", "rot")
    assert b"key version 2 (generated)" in r.stdout
    byok = tmp_path / "byok.hex"
    byok.write_text(os.urandom(32).hex() + "\n")
    r = cluster.cordon_ok("key-rotate", "--project", "rot", "--import", str(byok))
    assert b"key version 3 (imported)" in r.stdout
    # BYOK from the start: a new project's first key is the operator's
    r = cluster.cordon_ok("key-rotate", "--project", "fresh", "--import", str(byok))
    assert b"project fresh key version 1 (imported)" in r.stdout
    assert cluster.put(63, 1, b"byok data", project="fresh").returncode == 0
    assert cluster.get(63, 1)[1] == b"byok data"
    bad = tmp_path / "bad.hex"
    bad.write_text("abcd\n")
    r = cluster.cordon("key-rotate", "--project", "rot", "--import", str(bad))
    assert r.returncode == 1 and b"256-bit" in r.stderr
    assert cluster.get(61, 1)[1] == d1 and cluster.get(62, 1)[1] == d2
    # rotation rewrapped keys only: chunk files are untouched
    assert {f: f.read_bytes() for f in chunk_bytes} == chunk_bytes
    # the old project key material is gone
    with cluster.db() as db:
        assert db.execute("SELECT count(*) FROM stor_project_keys WHERE project = 'rot' "
                          "AND wrapped IS NOT NULL").fetchone()[0] == 1
    # a wrong root key fails cleanly, and changes nothing
    root = cluster.dir / "root.key"
    good = root.read_bytes()
    root.write_text(os.urandom(32).hex() + "\n")
    r, back = cluster.get(61, 1)
    assert r.returncode == 1 and back is None
    assert b"wrong root key" in r.stderr and b"authentication_failed" in r.stderr.lower() \
        or b"wrong root key" in r.stderr
    root.chmod(0o644)
    root.write_bytes(good)
    r, _ = cluster.get(61, 1)
    assert r.returncode == 1 and b"mode 0600" in r.stderr
    root.chmod(0o600)
    assert cluster.get(61, 1)[1] == d1


def test_kms_command_root_key(bin_dir, tmp_path):
    kms = tmp_path / "kms.key"
    kms.write_text(os.urandom(32).hex() + "\n")
    opts = ("--kms-command", f"/bin/cat {kms}")
    c = Cluster(bin_dir, tmp_path, init_extra=opts)
    try:
        assert c.put(71, 1, b"via kms", extra=opts).returncode == 0
        assert c.get(71, 1, extra=opts)[1] == b"via kms"
        # no root key file was made; a fresh file key is a different key: refused
        assert not (c.dir / "root.key").exists()
        r, _ = c.get(71, 1)
        assert r.returncode == 1 and b"wrong root key" in r.stderr
        r, _ = c.get(71, 1, extra=("--kms-command", "/bin/false"))
        assert r.returncode == 1 and b"KMS command" in r.stderr
    finally:
        c.stop()


def test_status_and_unknown_command(cluster):
    import json
    assert cluster.put(81, 1, b"x").returncode == 0
    st = json.loads(cluster.cordon_ok("status").stdout)
    assert st["chunks"] == 1 and st["replicas"] == 3 and st["under_replicated"] == 0
    assert sorted(s["rack"] for s in st["servers"]) == sorted(Cluster.RACKS)
    assert all(s["state"] == "live" for s in st["servers"])
    r = cluster.cordon("frobnicate")
    assert r.returncode == 2


def test_supervisor_restarts_a_dead_server(bin_dir, tmp_path):
    import json
    sdir = tmp_path / "emb"
    r = subprocess.run([str(bin_dir / "cordon"), "admin", "storage", "init", "--data-dir",
                        str(sdir)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    serve = subprocess.Popen([str(bin_dir / "cordon"), "admin", "storage", "serve", "--data-dir",
                              str(sdir), "--servers", "4", "--racks", "3", "--scrub-rate",
                              "50"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    servers_file = sdir / "servers.json"
    try:
        assert serve.stdout.readline().startswith(b"serving: 4")
        first = json.loads(servers_file.read_text())
        assert len(first) == 4 and all(s["pid"] > 0 for s in first)
        env = ["--data-dir", str(sdir)]
        f = tmp_path / "in"
        f.write_bytes(b"embedded" * 1000)
        cmd = [str(bin_dir / "cordon"), "admin", "storage"]
        r = subprocess.run(cmd + ["put", *env, "--project", "e", "--table", "1", "--version",
                                  "1", "--in", str(f)], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        victim = first[2]
        os.kill(victim["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        now = first
        while time.monotonic() < deadline:
            now = json.loads(servers_file.read_text())
            if now[2]["pid"] != victim["pid"]:
                break
            time.sleep(0.1)
        assert now[2]["pid"] != victim["pid"] and now[2]["addr"] == victim["addr"]
        os.kill(now[2]["pid"], 0)  # alive
        r = subprocess.run(cmd + ["get", *env, "--table", "1", "--version", "1", "--out",
                                  str(tmp_path / "out")], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out").read_bytes() == f.read_bytes()
        # the background scrub of the serving master finds a flipped byte
        # and replaces the replica, with no read and no operator command
        import sqlite3
        with sqlite3.connect(f"file:{sdir / 'storage.db'}?mode=ro", uri=True) as db:
            cid, sid = db.execute("SELECT chunk_id, server_id FROM stor_replicas "
                                  "ORDER BY server_id LIMIT 1").fetchone()
        holder = next(d for d in (sdir / "servers").iterdir()
                      if (d / "server-id").exists() and (d / "server-id").read_text() == sid)
        chunk = holder / "chunks" / cid[:2] / cid
        raw = bytearray(chunk.read_bytes())
        raw[-1] ^= 0xFF
        chunk.write_bytes(bytes(raw))
        deadline, healed = time.monotonic() + 90, False
        while time.monotonic() < deadline and not healed:
            time.sleep(0.2)
            b = chunk.read_bytes() if chunk.exists() else None
            with sqlite3.connect(f"file:{sdir / 'storage.db'}?mode=ro", uri=True,
                                 timeout=30) as db:
                n = db.execute("SELECT count(*) FROM stor_replicas WHERE chunk_id = ?",
                               (cid,)).fetchone()[0]
            healed = n == 3 and (b is None or hashlib.sha256(b[48:]).digest() == b[16:48])
        assert healed, "background scrub did not repair the flipped replica"
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    assert serve.returncode == 0, serve.stderr.read()
    for s in json.loads(servers_file.read_text()):
        with pytest.raises(ProcessLookupError):
            os.kill(s["pid"], 0)


def test_losing_two_servers_loses_no_data(cluster):
    """With 2 of 4 servers gone no chunk can get back to 3 replicas; the
    catalog must keep knowing where the lost copies are, so that nothing is
    forgotten (or garbage-collected) when the servers return."""
    data = blob(10 * MiB, seed=b"two")
    assert cluster.put(91, 1, data).returncode == 0
    (c0, reps), _, _ = cluster.chunks(91, 1)
    victims = [cluster.by_id(reps[0]), cluster.by_id(reps[1])]
    for v in victims:
        v.kill9()
    r, back = cluster.get(91, 1)
    assert r.returncode == 0 and back == data, r.stderr
    r = cluster.cordon("repair", "--lost-timeout", "1s", "--timeout", "4s")
    assert r.returncode == 1 and b"still short" in r.stderr
    assert b"storage.server_lost" in r.stderr
    r = cluster.put(92, 1, b"no room")
    assert r.returncode == 1 and b"need 3 live" in r.stderr
    for v in victims:
        v.start()
    r = cluster.cordon("repair", "--timeout", "60s")
    assert r.returncode == 0, r.stderr
    assert cluster.get(91, 1)[1] == data
    for cid, reps in cluster.chunks(91, 1):
        assert len(set(reps)) >= 3
        for sid in reps:
            assert cluster.chunk_file(cluster.by_id(sid), cid).exists()
    # every chunk is whole on live servers, and nothing was collected that
    # the catalog still counts on
    for cid, reps in cluster.chunks(91, 1):
        assert len([sid for sid in reps if cluster.by_id(sid).alive()]) >= 3
