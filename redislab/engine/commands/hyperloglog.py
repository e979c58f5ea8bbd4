"""HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

A HyperLogLog is a string value; every command first checks that the string really is one.
Writing commands turn the value into a growable raw string (as dbUnshareStringValue does), so
that GET returns the same bytes Redis holds.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from ..keyspace import WRONGTYPE
from ..structures import hyperloglog as hll
from ..values import MutableString

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NOT_HLL = ErrorReply("WRONGTYPE Key is not a valid HyperLogLog string value.")
CORRUPT = ErrorReply("INVALIDOBJ Corrupted HLL object detected")


def _check(v: Any) -> bytes | bytearray:
    """isHLLObjectOrReply: the value's bytes if it is a HyperLogLog string."""
    t = type(v)
    if t is bytes:
        data: bytes | bytearray = v
    elif t is MutableString:
        data = v.buf
    else:
        raise WRONGTYPE
    if not hll.is_hll(data):
        raise NOT_HLL
    return data


def _unshare(db: "Database", key: bytes, v: Any) -> MutableString:
    """dbUnshareStringValue: make the stored value a raw string we may edit in place."""
    if type(v) is MutableString:
        if not v.embstr:
            return v
        v = bytes(v.buf)
    ms = MutableString(v)
    db.data[key] = ms
    return ms


def pfadd_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    v = db.get_for_write(key)
    updated = 0
    if v is None:
        ms = MutableString(hll.EMPTY_SPARSE)
        db.add(key, ms)
        updated = 1
    else:
        _check(v)
        ms = _unshare(db, key, v)
    elements = argv[2:]
    c.work += len(elements)
    if elements:
        editor = hll.Editor(ms, c.engine.config["hll-sparse-max-bytes"])
        try:
            updated += editor.add_many(elements)
        except hll.Corrupt:
            raise CORRUPT from None
        finally:
            editor.finish()
    if updated:
        hll.invalidate(ms.buf)
        db.changed(key, "pfadd", "$", dirty=updated)
        return 1
    return 0


def pfcount_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    if len(argv) > 2:
        # The union of several: merged into a scratch register array, keys left untouched.
        regs: bytes | bytearray = bytes(hll.REGISTERS)
        for key in argv[1:]:
            v = db.get(key)
            if v is None:
                continue
            data = _check(v)
            try:
                regs = hll.merge_max(regs, hll.registers(data))
            except hll.Corrupt:
                raise CORRUPT from None
        c.work += len(argv) - 1
        return hll.to_signed(hll.estimate(hll.histogram_of(regs)))
    key = argv[1]
    v = db.get(key)
    if v is None:
        return 0
    _check(v)
    ms = _unshare(db, key, v)
    buf = ms.buf
    card = hll.cached_cardinality(buf)
    if card is None:
        try:
            card = hll.count(buf)
        except hll.Corrupt:
            raise CORRUPT from None
        hll.store_cardinality(buf, card)
        # Refreshing the cache rewrites the string: a write for WATCH, dirty and propagation,
        # though no keyspace event is sent.
        db.signal_modified(key)
        c.engine.dirty += 1
        c.work += 1
    return hll.to_signed(card)


def pfmerge_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    regs: bytes | bytearray = bytes(hll.REGISTERS)
    use_dense = False
    for key in argv[1:]:
        v = db.get(key)
        if v is None:
            continue
        data = _check(v)
        if data[4] == hll.DENSE:
            use_dense = True
        try:
            regs = hll.merge_max(regs, hll.registers(data))
        except hll.Corrupt:
            raise CORRUPT from None
    c.work += len(argv) - 1
    dest = argv[1]
    v = db.get_for_write(dest)
    if v is None:
        ms = MutableString(hll.EMPTY_SPARSE)
        db.add(dest, ms)
    else:
        ms = _unshare(db, dest, v)
    editor = hll.Editor(ms, c.engine.config["hll-sparse-max-bytes"])
    try:
        if use_dense:
            editor.to_dense()
        editor.merge_registers(regs)
    except hll.Corrupt:
        raise CORRUPT from None
    finally:
        editor.finish()
    hll.invalidate(ms.buf)
    # Redis reports a merge as a mass PFADD.
    db.changed(dest, "pfadd", "$")
    return OK


def pfdebug_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    sub, key = argv[1], argv[2]
    v = db.get_for_write(key)
    if v is None:
        raise ErrorReply("ERR The specified key does not exist")
    _check(v)
    ms = _unshare(db, key, v)
    name = sub.split(b"\x00", 1)[0].lower()
    if name == b"getreg":
        if ms.buf[4] == hll.SPARSE:
            _to_dense(c, ms)
        return list(hll.unpack_dense(ms.buf[hll.HDR_SIZE:]))
    if name == b"decode":
        if ms.buf[4] != hll.SPARSE:
            raise ErrorReply("ERR HLL encoding is not sparse")
        return _decode(ms.buf)
    if name == b"encoding":
        return Status("dense" if ms.buf[4] == hll.DENSE else "sparse")
    if name == b"todense":
        if ms.buf[4] == hll.SPARSE:
            _to_dense(c, ms)
            return 1
        return 0
    text = sub.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
    text = text.replace("\r", " ").replace("\n", " ")
    raise ErrorReply(f"ERR Unknown PFDEBUG subcommand '{text}'")


def _to_dense(c: "Session", ms: MutableString) -> None:
    editor = hll.Editor(ms, c.engine.config["hll-sparse-max-bytes"])
    try:
        editor.to_dense()
    except hll.Corrupt:
        raise CORRUPT from None
    # Changing the layout is propagated so replicas convert too (no keyspace event).
    c.engine.dirty += 1


def _decode(buf: bytearray) -> bytes:
    """PFDEBUG DECODE: the sparse opcodes as text (z: short zero run, Z: long, v:value,run)."""
    out: list[str] = []
    body = buf[hll.HDR_SIZE:]
    n = len(body)
    pos = 0
    while pos < n:
        b = body[pos]
        if b < 0x40:
            out.append("z:%d" % (b + 1))
            pos += 1
        elif b < 0x80:
            lo = body[pos + 1] if pos + 1 < n else 0
            out.append("Z:%d" % (((b & 0x3F) << 8 | lo) + 1))
            pos += 2
        else:
            out.append("v:%d,%d" % (((b >> 2) & 0x1F) + 1, (b & 3) + 1))
            pos += 1
    return " ".join(out).encode()


def pfselftest_command(c: "Session", argv: list[bytes]) -> Any:
    """Check the register packing and the estimator; replies OK or a TESTFAILED error."""
    rng = random.Random(0)
    regs = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    if hll.unpack_dense(hll.pack_dense(regs)) != regs:
        raise ErrorReply("TESTFAILED Register error")
    sparse = MutableString(hll.EMPTY_SPARSE)
    dense = MutableString(hll.EMPTY_SPARSE)
    hll.Editor(dense, 0).to_dense()
    relerr = 1.04 / (hll.REGISTERS ** 0.5)
    added = 0
    for checkpoint in (1, 10, 100, 1000, 10000, 20000):
        batch = [b"%d" % rng.getrandbits(64) for _ in range(checkpoint - added)]
        added = checkpoint
        for value in (sparse, dense):
            editor = hll.Editor(value, 3000)
            editor.add_many(batch)
            editor.finish()
        s = hll.count(sparse.buf)
        d = hll.count(dense.buf)
        if s != d:
            raise ErrorReply("TESTFAILED sparse and dense disagree (%d vs %d)" % (s, d))
        allowed = 6 * relerr * checkpoint if checkpoint >= 100 else 1 + checkpoint * 0.1
        if abs(d - checkpoint) > allowed:
            raise ErrorReply("TESTFAILED Too big error. card:%d abserr:%d"
                             % (checkpoint, abs(d - checkpoint)))
    c.work += 20000
    return OK
