"""cordond's embedded storage across restarts: clean SIGTERM leaves no chunk
server behind (checked by pid), a restart reuses the same dirs, keys and
servers, secrets still verify, data written before is still readable; a
data dir from before the storage keyring (raw root key, 0x01-wrapped
secrets) is migrated; --chunkservers 0 disables storage."""
import os
import signal
import sqlite3
import subprocess

import pytest

from cordon_api import Cordond
from test_cordond_storage import all_live, alive, status, storage_cli, wait_for


def test_sigterm_restart_reuses_dirs_keys_and_data(bin_dir, tmp_path):
    data_dir = tmp_path / "data"
    cd = Cordond(bin_dir, data_dir).start()
    try:
        first = wait_for(lambda: all_live(cd), what="4 live chunk servers")
        keys = cd.create_account("restarter")
        cd.create_project("rproj", keys=keys)
        data = os.urandom(120_000)
        storage_cli(bin_dir, data_dir, "put", "--project", "rproj", "--table", "5",
                    "--version", "1", data=data)
        cluster_key = (data_dir / "storage" / "cluster.key").read_bytes()
        root_key = (data_dir / "keys" / "root.key").read_bytes()
    finally:
        cd.stop()  # SIGTERM: asserts exit 0 and no sanitizer report
    pids = [s["pid"] for s in first["servers"]]
    assert pids and not any(alive(p) for p in pids)

    cd = Cordond(bin_dir, data_dir).start()
    try:
        again = wait_for(lambda: all_live(cd), what="4 live chunk servers after restart")
        assert sorted((s["id"], s["addr"], s["rack"]) for s in again["servers"]) == \
            sorted((s["id"], s["addr"], s["rack"]) for s in first["servers"])
        assert (data_dir / "storage" / "cluster.key").read_bytes() == cluster_key
        assert (data_dir / "keys" / "root.key").read_bytes() == root_key
        st, who = cd.call("GET", "/v1/whoami", keys=keys)
        assert st == 200 and who["account"] == "restarter", who
        st, who = cd.call("GET", "/v1/whoami")
        assert st == 200 and who["account"] == "admin", who
        assert storage_cli(bin_dir, data_dir, "get", "--table", "5", "--version", "1") == data
        st, k = cd.call("GET", "/v1/admin/projects/rproj/key")
        assert st == 200 and k["keyVersion"] == 1
        pids = [s["pid"] for s in again["servers"]]
    finally:
        cd.stop()
    assert not any(alive(p) for p in pids)


def test_sigkill_of_cordond_takes_its_chunk_servers_down(bin_dir, tmp_path):
    cd = Cordond(bin_dir, tmp_path / "data", extra=["--chunkservers", "3", "--racks", "3"])
    cd.start()
    s = wait_for(lambda: all_live(cd, 3), what="3 live chunk servers")
    pids = [x["pid"] for x in s["servers"]]
    cd.stop(signal.SIGKILL)
    # PR_SET_PDEATHSIG: orphans get SIGTERM; they are reparented, not ours to reap
    wait_for(lambda: not any(alive(p) for p in pids), what="chunk servers to exit")


def test_chunkservers_zero_disables_storage(bin_dir, tmp_path):
    with Cordond(bin_dir, tmp_path / "data", extra=["--chunkservers", "0"]) as cd:
        s = status(cd)
        assert s["enabled"] is False and s["state"] == "disabled" and s["servers"] == []
        st, resp = cd.call("POST", "/v1/admin/storage/scrub")
        assert st == 503 and resp["code"] == "StorageUnavailable", resp
        assert not (tmp_path / "data" / "storage").exists()
        # the keyring still works: project keys and wrapped secrets
        cd.create_project("nostor")
        st, k = cd.call("POST", "/v1/admin/projects/nostor/key", {"rotate": True})
        assert st == 200 and k["keyVersion"] == 2, k
    r = subprocess.run([bin_dir / "cordond", "--data-dir", str(tmp_path / "x"),
                        "--chunkservers", "65"], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "--chunkservers" in r.stderr


def test_data_dir_from_before_the_keyring_is_migrated(bin_dir, tmp_path):
    """Rebuilds the original layout: root.key as 32 raw bytes and every
    access-key secret in keywrap's original 0x01 format, then restarts."""
    aead = pytest.importorskip("cryptography.hazmat.primitives.ciphers.aead")
    data_dir = tmp_path / "data"
    with Cordond(bin_dir, data_dir, extra=["--chunkservers", "0"]) as cd:
        keys = cd.create_account("legacy")
        admin = cd.admin_keys()
    root = bytes.fromhex((data_dir / "keys" / "root.key").read_text().strip())
    db = sqlite3.connect(data_dir / "catalog.db")
    secrets = {keys[0]: keys[1], admin[0]: admin[1]}
    for kid, secret in secrets.items():
        nonce = os.urandom(12)
        ct = aead.AESGCM(root).encrypt(nonce, secret.encode(), f"access-key:{kid}".encode())
        db.execute("UPDATE access_keys SET secret_wrapped = ? WHERE id = ?",
                   (b"\x01" + nonce + ct, kid))
    db.commit()
    db.close()
    raw = data_dir / "keys" / "root.key"
    raw.write_bytes(root)
    os.chmod(raw, 0o600)

    with Cordond(bin_dir, data_dir, extra=["--chunkservers", "0"]) as cd:
        st, who = cd.call("GET", "/v1/whoami", keys=keys)
        assert st == 200 and who["account"] == "legacy", who
        st, who = cd.call("GET", "/v1/whoami")
        assert st == 200, who
        assert "rewrapped 2 access-key secrets" in cd.log()
    assert bytes.fromhex(raw.read_text().strip()) == root  # same key, hex form
    db = sqlite3.connect(data_dir / "catalog.db")
    rows = db.execute("SELECT secret_wrapped FROM access_keys").fetchall()
    db.close()
    assert rows and all(r[0][0] == 2 for r in rows)
    # a tampered wrapped secret does not verify
    db = sqlite3.connect(data_dir / "catalog.db")
    w = db.execute("SELECT secret_wrapped FROM access_keys WHERE id = ?", (keys[0],)).fetchone()
    db.execute("UPDATE access_keys SET secret_wrapped = ? WHERE id = ?",
               (w[0][:-1] + bytes([w[0][-1] ^ 1]), keys[0]))
    db.commit()
    db.close()
    with Cordond(bin_dir, data_dir, extra=["--chunkservers", "0"]) as cd:
        st, resp = cd.call("GET", "/v1/whoami", keys=keys)
        assert st == 500 and resp["code"] == "InternalError", resp  # logged, not served
        st, _ = cd.call("GET", "/v1/whoami")
        assert st == 200
