"""cordon-chunkd on its own: the protocol, authentication, durability layout,
checksums, copy-from-peer, and hostile input. Real processes on loopback."""
import hashlib
import os
import socket
import struct

import pytest

from test_storage_lib import (COPY, DELETE, GET, LIST, PUT, SCRUB, STAT, VERIFY, Chunkd,
                              Client, frame, new_id, recv_frame, write_key)

EINVAL, ENOTFOUND, ELIMIT, EIO, EPROTO = 2, 3, 7, 8, 13


@pytest.fixture
def key(tmp_path):
    return write_key(tmp_path / "cluster.key")


@pytest.fixture
def server(bin_dir, tmp_path, key):
    s = Chunkd(bin_dir, tmp_path / "d1", key, rack="rack-a").start()
    yield s
    assert s.stop() == 0, s.logtext()


def kb(key):
    return key.read_bytes()


def test_put_get_stat_list_delete(server, key):
    c = Client(server.port, kb(key))
    blobs = {new_id(): os.urandom(n) for n in (0, 1, 4096, 4 << 20)}
    for cid, data in blobs.items():
        st, sha = c.call(PUT, cid + data)
        assert st == 0 and sha == hashlib.sha256(data).digest()
    for cid, data in blobs.items():
        st, body = c.call(GET, cid)
        assert st == 0 and body[:32] == hashlib.sha256(data).digest() and body[32:] == data
        st, body = c.call(VERIFY, cid)
        assert st == 0 and struct.unpack(">Q", body[32:])[0] == len(data)
    st, body = c.call(STAT)
    assert st == 0
    count = struct.unpack(">Q", body[48:56])[0]
    racklen = struct.unpack(">H", body[64:66])[0]
    assert count == 4 and body[66:66 + racklen] == b"rack-a"
    st, body = c.call(LIST, struct.pack(">I", 1000))
    n = struct.unpack(">I", body[:4])[0]
    ids = [body[4 + 32 * i:36 + 32 * i] for i in range(n)]
    assert sorted(ids) == sorted(blobs) and ids == sorted(ids)
    first = sorted(blobs)[0]
    st, body = c.call(LIST, struct.pack(">I", 1000) + first)
    assert struct.unpack(">I", body[:4])[0] == 3
    assert c.call(DELETE, first)[0] == 0
    assert c.call(GET, first)[0] == ENOTFOUND
    assert c.call(DELETE, first)[0] == ENOTFOUND
    # layout: every chunk file is header + data, nothing left in tmp/
    assert len(server.chunk_files()) == 3
    assert list((server.data_dir / "tmp").iterdir()) == []
    c.close()


def test_wrong_key_gets_nothing(server, key):
    with pytest.raises((AssertionError, ConnectionError, OSError)):
        Client(server.port, b"x" * 32)
    # no auth at all: a GET before AUTH closes the connection
    c = Client(server.port)
    recv_frame(c.s)
    c.s.sendall(frame(GET, new_id()))
    with pytest.raises((ConnectionError, OSError)):
        recv_frame(c.s)
    c.close()
    assert "wrong cluster key proof" in server.logtext() or "expected AUTH" in server.logtext()


def test_cluster_key_must_be_private(bin_dir, tmp_path):
    k = write_key(tmp_path / "k")
    k.chmod(0o644)
    s = Chunkd(bin_dir, tmp_path / "d", k)
    with pytest.raises(RuntimeError, match="mode 0600"):
        s.start()
    short = write_key(tmp_path / "short", b"tooshort")
    with pytest.raises(RuntimeError, match="need >= 32"):
        Chunkd(bin_dir, tmp_path / "d2", short).start()


def test_one_server_per_data_dir(server, bin_dir, key):
    with pytest.raises(RuntimeError, match="in use"):
        Chunkd(bin_dir, server.data_dir, key).start()


def test_corruption_found_by_get_verify_scrub(server, key):
    c = Client(server.port, kb(key))
    good, bad, short = new_id(), new_id(), new_id()
    for cid in (good, bad, short):
        assert c.call(PUT, cid + os.urandom(10000))[0] == 0
    f = server.data_dir / "chunks" / bad[:2].decode() / bad.decode()
    raw = bytearray(f.read_bytes())
    raw[5000] ^= 1
    f.write_bytes(bytes(raw))
    f2 = server.data_dir / "chunks" / short[:2].decode() / short.decode()
    f2.write_bytes(f2.read_bytes()[:-1])
    st, msg = c.call(GET, bad)
    assert st == EIO and b"checksum mismatch" in msg
    assert c.call(VERIFY, bad)[0] == EIO
    st, msg = c.call(GET, short)
    assert st == EIO and b"corrupt" in msg
    st, body = c.call(SCRUB)
    checked, nbad = struct.unpack(">QI", body[:12])
    assert checked == 3 and nbad == 2
    assert sorted(body[12 + 32 * i:44 + 32 * i] for i in range(nbad)) == sorted([bad, short])
    assert c.call(GET, good)[0] == 0
    c.close()


def test_copy_from_peer(server, bin_dir, tmp_path, key):
    other = Chunkd(bin_dir, tmp_path / "d2", key, rack="rack-b").start()
    try:
        a, b = Client(server.port, kb(key)), Client(other.port, kb(key))
        cid, data = new_id(), os.urandom(300000)
        assert a.call(PUT, cid + data)[0] == 0
        peer = server.addr.encode()
        st, sha = b.call(COPY, cid + struct.pack(">H", len(peer)) + peer)
        assert st == 0 and sha == hashlib.sha256(data).digest()
        assert b.call(GET, cid)[1][32:] == data
        # a copy of a chunk the peer lacks fails and stores nothing
        missing = new_id()
        st, msg = b.call(COPY, missing + struct.pack(">H", len(peer)) + peer)
        assert st == ENOTFOUND
        assert b.call(GET, missing)[0] == ENOTFOUND
        # names are refused: numeric addresses only
        st, msg = b.call(COPY, cid + struct.pack(">H", 14) + b"localhost:9999")
        assert st != 0
        a.close()
        b.close()
    finally:
        assert other.stop() == 0


HOSTILE_IDS = [b"../../../../../../etc/passwd....", b"/" * 32, b"A" * 32, b"0" * 31,
               b"0" * 33, b"0" * 30 + b"\x00a", b"..", b""]


def test_hostile_ids_never_escape(server, key, tmp_path):
    c = Client(server.port, kb(key))
    for hid in HOSTILE_IDS:
        # a PUT's id is its first 32 bytes, so only 32-byte ids are hostile there
        for t in (PUT, GET, DELETE, VERIFY) if len(hid) == 32 else (GET, DELETE, VERIFY):
            st, _ = c.call(t, hid + (b"data" if t == PUT else b""))
            assert st == EINVAL, (t, hid)
    c.close()
    outside = [p for p in tmp_path.rglob("*") if server.data_dir not in p.parents
               and p != server.data_dir]
    names = {p.name for p in outside}
    assert names <= {"cluster.key", "d1.port", "d1.log"}, names
    assert server.chunk_files() == []


def test_hostile_frames_do_not_hurt(server, key):
    k = kb(key)
    attacks = [
        struct.pack(">I", 0),                       # zero length
        struct.pack(">I", 0xFFFFFFFF) + b"\x10",   # 4 GiB claimed
        struct.pack(">I", (8 << 20) + 4097 + 1) + b"\x10",  # just over the limit
        b"\x00\x00",                                # half a length
        struct.pack(">I", 100) + b"\x10" + b"x" * 10,       # half a message
        os.urandom(4096),                           # garbage
        frame(99, b"zz"),                           # unknown type
        frame(LIST, b"\x00"),                       # short LIST
        frame(LIST, struct.pack(">I", 0)),          # max 0
        frame(LIST, struct.pack(">I", 1 << 30)),    # max too large
        frame(STAT, b"extra"),                      # STAT with arguments
        frame(COPY, new_id() + struct.pack(">H", 500) + b"1.2.3.4:5"),  # length lies
        frame(PUT, new_id() + b"x" * ((8 << 20) + 1)),  # chunk over 8 MiB
    ]
    for a in attacks:
        c = Client(server.port, k)
        try:
            try:  # the server may hang up before all of it is sent
                c.s.sendall(a)
                c.s.shutdown(socket.SHUT_WR)
                while c.s.recv(65536):
                    pass
            except OSError:
                pass
        finally:
            c.close()
        assert server.alive(), server.logtext()
    # still serving, and none of it left a file
    c = Client(server.port, k)
    cid = new_id()
    assert c.call(PUT, cid + b"still fine")[0] == 0
    assert c.call(GET, cid)[1][32:] == b"still fine"
    c.close()
    assert len(server.chunk_files()) == 1


def test_unauthenticated_garbage_and_silence(server, key):
    # garbage instead of AUTH, and a peer that connects and says nothing
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    recv_frame(s)
    s.sendall(os.urandom(2000))
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        with pytest.raises((ConnectionError, OSError)):
            while True:
                recv_frame(s)
        # the silent one is dropped after the 5 s handshake limit
        recv_frame(silent)
        assert silent.recv(10) == b""
    finally:
        s.close()
        silent.close()
    c = Client(server.port, kb(key))
    assert c.call(STAT)[0] == 0
    c.close()
