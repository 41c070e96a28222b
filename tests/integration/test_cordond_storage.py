"""cordond with its embedded storage (scheduler/storage_glue.[ch]): real
cordond, real cordon-chunkd children, real clients (botocore SigV4, the
cordon CLI). Data is written next to the running cordond with the CLI's
direct mode on cordond's data dir (the same storage code cordond links).

Waits are bounded polls (the supervisor restarts a dead server within about
a second); no assertion is about speed."""
import os
import pathlib
import signal
import subprocess
import time

import pytest

from cordon_api import Cordond


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def status(cd, keys=None):
    st, body = cd.call("GET", "/v1/admin/storage", keys=keys)
    assert st == 200, body
    return body


def all_live(cd, n=4):
    s = status(cd)
    return s if s["live"] == n and all(x["state"] == "live" for x in s["servers"]) else None


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def storage_cli(bin_dir, data_dir, *args, data=None):
    r = subprocess.run([bin_dir / "cordon", "admin", "storage", *args, "--data-dir",
                        str(data_dir)], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def chunk_files(data_dir):
    return sorted(p for p in (pathlib.Path(data_dir) / "storage").glob("chunk-*/chunks/*/*")
                  if p.is_file())


@pytest.fixture(scope="module")
def cd(bin_dir, tmp_path_factory):
    # the background scrub at 20 chunks/s (cordond's default is 1/s), so
    # that the background repair tests see it within their bounded waits
    c = Cordond(bin_dir, tmp_path_factory.mktemp("cdstor") / "data",
                extra=("--scrub-rate", "1200"))
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def tenant(cd):
    return cd.create_account("stortenant")


def test_starts_chunk_servers_and_reports_them_live(cd):
    s = wait_for(lambda: all_live(cd), what="4 live chunk servers")
    assert s["enabled"] is True and s["state"] == "healthy"
    assert s["racks"] == 3 and len(s["servers"]) == 4
    assert sorted(x["rack"] for x in s["servers"]) == ["rack-0", "rack-0", "rack-1", "rack-2"]
    assert s["capacityFreeBytes"] > 0 and s["underReplicated"] == 0
    for x in s["servers"]:
        # children of this cordond, each on its own data dir under --data-dir
        assert ppid(x["pid"]) == cd.proc.pid
        cmdline = pathlib.Path(f"/proc/{x['pid']}/cmdline").read_bytes().split(b"\0")
        assert cmdline[cmdline.index(b"--data-dir") + 1].startswith(
            str(cd.data_dir / "storage" / "chunk-").encode())
    key = cd.data_dir / "storage" / "cluster.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (cd.data_dir / "keys" / "root.key").read_text().strip().isalnum()


def test_storage_endpoints_are_for_operators_only(cd, tenant):
    cd.create_project("tenantproj", keys=tenant)
    for method, path, body in [("GET", "/v1/admin/storage", None),
                               ("POST", "/v1/admin/storage/scrub", None),
                               ("POST", "/v1/admin/storage/repair", None),
                               ("GET", "/v1/admin/projects/tenantproj/key", None),
                               ("POST", "/v1/admin/projects/tenantproj/key", {"rotate": True})]:
        st, resp = cd.call(method, path, body, keys=tenant)
        assert st == 403 and resp["code"] == "AccessDenied", (path, resp)
    # the owner's own project key stays untouched by the refused rotation
    st, resp = cd.call("GET", "/v1/admin/projects/tenantproj/key")
    assert st == 200 and resp["keyVersion"] == 1
    denied = [e for e in cd.audit(event="ScrubStorage") if e["errorCode"] == "AccessDenied"]
    assert denied and denied[-1]["principal"] == "ALIYUN$stortenant"
    # the CLI through the API, refused the same way
    r = cd.cli("admin", "storage", "scrub", keys=tenant)
    assert r.returncode != 0 and "AccessDenied" in r.stderr


def test_sigkill_chunk_server_is_restarted(cd):
    before = wait_for(lambda: all_live(cd), what="4 live chunk servers")
    victim = before["servers"][1]
    os.kill(victim["pid"], signal.SIGKILL)

    def restarted():
        s = all_live(cd)
        if not s:
            return None
        srv = next(x for x in s["servers"] if x["id"] == victim["id"])
        return s if srv["pid"] != victim["pid"] and alive(srv["pid"]) else None

    after = wait_for(restarted, what="the killed chunk server to be restarted and live")
    srv = next(x for x in after["servers"] if x["id"] == victim["id"])
    assert srv["addr"] == victim["addr"] and ppid(srv["pid"]) == cd.proc.pid
    assert not alive(victim["pid"])
    metrics = cd.send("GET", "/metrics", {})[1]
    assert "cordon_storage_chunkserver_restarts_total" in metrics
    assert any(e["eventName"] == "StorageEvent" and "restarted" in (e["reason"] or "")
               for e in cd.audit(principal="system:storage"))


def test_sigkilled_server_that_lost_its_disk_is_repaired_in_the_background(cd, bin_dir):
    """No API call: the supervisor restarts the server, the master's
    background scrub finds its replicas gone and re-replicates them."""
    data = os.urandom(150_000)
    storage_cli(bin_dir, cd.data_dir, "put", "--project", "bgproj", "--table", "43",
                "--version", "1", data=data)
    s = wait_for(lambda: all_live(cd), what="4 live chunk servers")
    repairs0 = s["metrics"]["repairs"]
    by_id = {x["id"]: x for x in s["servers"]}
    srv_dir = next(d for d in sorted((cd.data_dir / "storage").glob("chunk-*"))
                   if d.is_dir() and any(p.is_file() for p in d.glob("chunks/*/*")))
    holder = by_id[(srv_dir / "server-id").read_text().strip()]
    held = [p for p in srv_dir.glob("chunks/*/*") if p.is_file()]
    os.kill(holder["pid"], signal.SIGKILL)
    wait_for(lambda: not alive(holder["pid"]), what="the server to die")
    for p in held:
        p.unlink()

    def repaired():
        st = all_live(cd)
        return st if st and st["underReplicated"] == 0 and \
            st["metrics"]["repairs"] >= repairs0 + len(held) else None

    after = wait_for(repaired, timeout=60, what="background repair of the lost replicas")
    assert after["state"] == "healthy"
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "43", "--version", "1") == data
    wait_for(lambda: metric(cd, "cordon_storage_repairs_total") >= repairs0 + len(held),
             what="repairs in /metrics")


def metric(cd, name):
    for line in cd.send("GET", "/metrics", {})[1].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_scrub_and_repair_through_the_api(cd, bin_dir, tmp_path):
    data = os.urandom(200_000) + b"scrub-marker"
    before = {f.name for f in chunk_files(cd.data_dir)}
    storage_cli(bin_dir, cd.data_dir, "put", "--project", "scrubproj", "--table", "41",
                "--version", "1", data=data)
    files = [f for f in chunk_files(cd.data_dir) if f.name not in before]
    assert len(files) >= 3
    repairs0 = metric(cd, "cordon_storage_repairs_total")
    # flip a byte in one replica, delete another (different servers). The
    # background scrub may get there first; either way the end is the same.
    chunk = files[0].name
    replicas = [f for f in files if f.name == chunk]
    assert len(replicas) == 3
    raw = bytearray(replicas[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    replicas[0].write_bytes(bytes(raw))
    replicas[1].unlink()

    st, s = cd.call("POST", "/v1/admin/storage/scrub")
    assert st == 200, s
    assert s["underReplicated"] == 0 and s["state"] == "healthy"
    assert s["metrics"]["corrupt_replicas"] >= 2 and s["metrics"]["repairs"] >= 2
    assert len([f for f in chunk_files(cd.data_dir) if f.name == chunk]) == 3
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "41", "--version", "1") == data
    wait_for(lambda: metric(cd, "cordon_storage_repairs_total") >= repairs0 + 2,
             what="repairs in /metrics")
    assert any(e["eventName"] == "StorageRepair" for e in cd.audit(event="StorageRepair"))
    assert any(e["eventName"] == "StorageReplicaBad" for e in cd.audit(event="StorageReplicaBad"))
    assert cd.audit(event="ScrubStorage")[-1]["principal"] == "ALIYUN$admin"

    st, s = cd.call("POST", "/v1/admin/storage/repair", {"timeoutSeconds": 10})
    assert st == 200 and s["underReplicated"] == 0, s
    for bad in ({"timeoutSeconds": 0}, {"timeoutSeconds": "x"}, {"timeoutSeconds": 10**6}):
        st, resp = cd.call("POST", "/v1/admin/storage/repair", bad)
        assert st == 400 and resp["code"] == "InvalidArgument", resp
    st, resp = cd.call("POST", "/v1/admin/storage/repair", b"{not json")
    assert st == 400
    # the CLI through the API
    r = cd.cli("admin", "storage", "repair", "--timeout", "5s")
    assert r.returncode == 0 and '"underReplicated": 0' in r.stdout, r.stderr
    r = cd.cli("admin", "storage", "status")
    assert r.returncode == 0 and '"live": 4' in r.stdout, r.stderr


def test_project_key_rotation_and_byok_through_the_api(cd, bin_dir):
    cd.create_project("keyproj")
    st, k = cd.call("GET", "/v1/admin/projects/keyproj/key")
    assert st == 200 and k["keyVersion"] == 1, k  # created with the project
    data = os.urandom(50_000)
    storage_cli(bin_dir, cd.data_dir, "put", "--project", "keyproj", "--table", "42",
                "--version", "1", data=data)
    st, k = cd.call("POST", "/v1/admin/projects/keyproj/key", {"rotate": True})
    assert st == 200 and k["keyVersion"] == 2 and k["origin"] == "generated", k
    import base64
    byok = base64.b64encode(os.urandom(32)).decode()
    st, k = cd.call("POST", "/v1/admin/projects/keyproj/key", {"byok": byok})
    assert st == 200 and k["keyVersion"] == 3 and k["origin"] == "byok", k
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "42", "--version", "1") == data
    # the imported key is never echoed or logged
    assert byok not in cd.log()
    assert all(byok not in str(e) for e in cd.audit(event="ImportProjectKey"))
    for bad in ({"byok": base64.b64encode(os.urandom(16)).decode()}, {"byok": "!!"},
                {"rotate": False}, {}, {"rotate": True, "byok": byok}):
        st, resp = cd.call("POST", "/v1/admin/projects/keyproj/key", bad)
        assert st == 400 and resp["code"] == "InvalidArgument", (bad, resp)
    st, resp = cd.call("POST", "/v1/admin/projects/nosuchproj/key", {"rotate": True})
    assert st == 404, resp
    hexkey = cd.data_dir.parent / "byok.hex"
    hexkey.write_text(os.urandom(32).hex() + "\n")
    r = cd.cli("admin", "storage", "key-rotate", "--project", "keyproj", "--import", str(hexkey))
    assert r.returncode == 0 and '"keyVersion": 4' in r.stdout, r.stderr
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "42", "--version", "1") == data


def test_no_plaintext_secret_in_the_catalog(cd):
    ak, sk = cd.create_account("plainchk")
    st, who = cd.call("GET", "/v1/whoami", keys=(ak, sk))
    assert st == 200 and who["account"] == "plainchk"
    for f in cd.data_dir.glob("catalog.db*"):
        assert sk.encode() not in f.read_bytes(), f
    # wrapped through the storage keyring (format 0x02)
    import sqlite3
    db = sqlite3.connect(f"file:{cd.data_dir / 'catalog.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT secret_wrapped FROM access_keys").fetchall()
    db.close()
    assert rows and all(r[0][0] == 2 for r in rows)


def test_project_delete_crypto_shreds_its_data(cd, bin_dir, tenant):
    """DELETE /v1/projects/P destroys P's key (every version) and its tables'
    data keys, and deletes their replicas: chunk files and catalog rows put
    back from a copy stay unreadable, also after the name is reused. Other
    projects keep their data."""
    import sqlite3
    cd.create_project("shredproj", keys=tenant)
    cd.create_project("keptproj", keys=tenant)
    data = {61: os.urandom(300_000) + b"shred-1", 62: os.urandom(90_000) + b"shred-2"}
    before = {f for f in chunk_files(cd.data_dir)}
    for t, d in data.items():
        storage_cli(bin_dir, cd.data_dir, "put", "--project", "shredproj", "--table", str(t),
                    "--version", "1", data=d)
    shred_files = {f: f.read_bytes() for f in chunk_files(cd.data_dir) if f not in before}
    assert len(shred_files) >= 6
    kept = os.urandom(70_000)
    storage_cli(bin_dir, cd.data_dir, "put", "--project", "keptproj", "--table", "63",
                "--version", "1", data=kept)
    st, k = cd.call("POST", "/v1/admin/projects/shredproj/key", {"rotate": True})
    assert st == 200 and k["keyVersion"] == 2, k
    cat = cd.data_dir / "catalog.db"
    with sqlite3.connect(cat, timeout=30) as db:
        wrapped = [r[0] for r in db.execute(
            "SELECT wrapped FROM stor_table_keys WHERE project = 'shredproj' UNION ALL "
            "SELECT wrapped FROM stor_project_keys WHERE project = 'shredproj' AND "
            "wrapped IS NOT NULL")]
        chunks = db.execute("SELECT * FROM stor_chunks WHERE table_id IN (61, 62)").fetchall()
        reps = db.execute("SELECT r.* FROM stor_replicas r JOIN stor_chunks c USING (chunk_id) "
                          "WHERE c.table_id IN (61, 62)").fetchall()
    assert len(wrapped) == 3 and chunks and reps  # 2 data keys, project key v2

    # not the owner: refused, nothing destroyed
    other = cd.create_account("shredother")
    st, body = cd.call("DELETE", "/v1/projects/shredproj", keys=other)
    assert st == 403, body
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "61", "--version", "1") == data[61]

    st, body = cd.call("DELETE", "/v1/projects/shredproj", keys=tenant)
    assert st == 200, body
    assert cd.call("GET", "/v1/projects/shredproj", keys=tenant)[0] == 404
    # every replica is gone, and the keys are gone from the catalog files
    # (WAL included: secure_delete + checkpoint)
    assert not any(f.exists() for f in shred_files)
    with sqlite3.connect(cat, timeout=30) as db:
        assert db.execute("SELECT count(*) FROM stor_project_keys WHERE project = "
                          "'shredproj'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM stor_table_keys WHERE table_id IN "
                          "(61, 62)").fetchone()[0] == 0
    for f in cd.data_dir.glob("catalog.db*"):
        raw = f.read_bytes()
        assert not any(w in raw for w in wrapped), f
    import json
    assert any("project shredproj: keys destroyed, 2 tables dropped" in json.dumps(e)
               for e in cd.audit(event="StorageDropProject"))

    # an attacker puts the chunk files and their catalog rows back, and the
    # project name is taken again (a new key): still nothing readable
    cd.create_project("shredproj", keys=tenant)
    for f, content in shred_files.items():
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content)
    with sqlite3.connect(cat, timeout=30) as db:
        db.executemany("INSERT OR IGNORE INTO stor_chunks VALUES (%s)" %
                       ",".join("?" * len(chunks[0])), chunks)
        db.executemany("INSERT OR IGNORE INTO stor_replicas VALUES (?, ?)", reps)
    for t in data:
        r = subprocess.run([bin_dir / "cordon", "admin", "storage", "get", "--table", str(t),
                            "--version", "1", "--data-dir", str(cd.data_dir)],
                           capture_output=True, timeout=60)
        assert r.returncode != 0 and not r.stdout, r
        assert b"no data key" in r.stderr, r.stderr
    for f in shred_files:
        for d in data.values():
            assert d[-7:] not in f.read_bytes()
    # the other project is untouched
    assert storage_cli(bin_dir, cd.data_dir, "get", "--table", "63", "--version", "1") == kept
    # the attacker's rows go again so the module's later tests see a clean catalog
    with sqlite3.connect(cat, timeout=30) as db:
        db.execute("DELETE FROM stor_replicas WHERE chunk_id IN (SELECT chunk_id FROM "
                   "stor_chunks WHERE table_id IN (61, 62))")
        db.execute("DELETE FROM stor_chunks WHERE table_id IN (61, 62)")
    for f in shred_files:
        f.unlink()


@pytest.mark.parametrize("bad", ["-1", "x", "60001", ""])
def test_scrub_rate_rejects_bad_values(bin_dir, tmp_path, bad):
    r = subprocess.run([bin_dir / "cordond", "--data-dir", tmp_path / "x", "--scrub-rate", bad],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--scrub-rate" in r.stderr, r.stderr


def test_scrub_rate_zero_turns_the_background_scrub_off(bin_dir, tmp_path):
    """--scrub-rate 0: nothing is verified in the background; an API scrub
    still verifies every replica."""
    c = Cordond(bin_dir, tmp_path / "d", extra=("--scrub-rate", "0")).start()
    try:
        storage_cli(bin_dir, c.data_dir, "put", "--project", "p0", "--table", "7",
                    "--version", "1", data=os.urandom(50_000))
        time.sleep(2)  # what a background scrub at any rate would have used
        assert status(c)["metrics"]["scrubbed_replicas"] == 0
        st, s = c.call("POST", "/v1/admin/storage/scrub")
        assert st == 200 and s["metrics"]["scrubbed_replicas"] >= 3, s
    finally:
        c.stop()
