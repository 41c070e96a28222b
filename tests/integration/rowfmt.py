"""Row batches (common/rowfmt.h) and framed streams (docs/stage-plan.md) in
Python, for tests that feed cordon-node and read what it sends.

A batch: b"CRB1" | u16 ncols | ncols x (u8 type, u16 name_len, name)
| u32 nrows | rows; a row is a null bitmap (ceil(ncols/8) bytes, bit set =
NULL) then each non-NULL value: i64 (BIGINT, DATETIME), f64 (DOUBLE), u8
(BOOLEAN), u32 len + bytes (STRING, BINARY). Little-endian throughout.
A stream: frames u32 len | batch, and a frame of length 0 at the end.
"""
import struct

BIGINT, DOUBLE, BOOLEAN, STRING, BINARY, DATETIME = 1, 2, 3, 4, 5, 6
TYPES = {"BIGINT": BIGINT, "DOUBLE": DOUBLE, "BOOLEAN": BOOLEAN,
         "STRING": STRING, "BINARY": BINARY, "DATETIME": DATETIME}


def encode_batch(cols, rows):
    """cols: [(name, TYPE_NAME)], rows: [tuple]; None is NULL."""
    out = bytearray(b"CRB1")
    out += struct.pack("<H", len(cols))
    types = []
    for name, tname in cols:
        t = TYPES[tname]
        types.append(t)
        nb = name.encode()
        out += struct.pack("<BH", t, len(nb)) + nb
    out += struct.pack("<I", len(rows))
    nbytes = (len(cols) + 7) // 8
    for row in rows:
        assert len(row) == len(cols)
        bitmap = bytearray(nbytes)
        vals = bytearray()
        for i, (t, v) in enumerate(zip(types, row)):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
                continue
            if t in (BIGINT, DATETIME):
                vals += struct.pack("<q", v)
            elif t == DOUBLE:
                vals += struct.pack("<d", v)
            elif t == BOOLEAN:
                vals += struct.pack("<B", 1 if v else 0)
            else:
                b = v.encode() if isinstance(v, str) else bytes(v)
                vals += struct.pack("<I", len(b)) + b
        out += bitmap + vals
    return bytes(out)


def decode_batch(data):
    """Returns (cols, rows) with cols [(name, TYPE_NAME)]; strict like the C reader."""
    names = {v: k for k, v in TYPES.items()}
    assert data[:4] == b"CRB1", "bad magic"
    pos = 4
    (ncols,) = struct.unpack_from("<H", data, pos)
    pos += 2
    cols = []
    for _ in range(ncols):
        t, nl = struct.unpack_from("<BH", data, pos)
        pos += 3
        cols.append((data[pos:pos + nl].decode(), names[t]))
        pos += nl
    (nrows,) = struct.unpack_from("<I", data, pos)
    pos += 4
    nbytes = (ncols + 7) // 8
    rows = []
    for _ in range(nrows):
        bitmap = data[pos:pos + nbytes]
        pos += nbytes
        row = []
        for i, (_, tname) in enumerate(cols):
            if bitmap[i // 8] & (1 << (i % 8)):
                row.append(None)
                continue
            t = TYPES[tname]
            if t in (BIGINT, DATETIME):
                row.append(struct.unpack_from("<q", data, pos)[0])
                pos += 8
            elif t == DOUBLE:
                row.append(struct.unpack_from("<d", data, pos)[0])
                pos += 8
            elif t == BOOLEAN:
                b = data[pos]
                assert b in (0, 1)
                row.append(bool(b))
                pos += 1
            else:
                (n,) = struct.unpack_from("<I", data, pos)
                pos += 4
                b = bytes(data[pos:pos + n])
                pos += n
                row.append(b.decode() if t == STRING else b)
        rows.append(tuple(row))
    assert pos == len(data), "trailing bytes"
    return cols, rows


def frame(batch):
    return struct.pack("<I", len(batch)) + batch


END = struct.pack("<I", 0)


def encode_stream(cols, rows, batch_rows=1000, end=True):
    out = bytearray()
    for i in range(0, len(rows), batch_rows):
        out += frame(encode_batch(cols, rows[i:i + batch_rows]))
    if end:
        out += END
    return bytes(out)


def decode_stream(data):
    """Returns (cols, rows, ended)."""
    pos, rows, cols = 0, [], None
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if n == 0:
            assert pos == len(data), "bytes after the end frame"
            return cols, rows, True
        c, r = decode_batch(data[pos:pos + n])
        cols = c
        rows += r
        pos += n
    return cols, rows, False
