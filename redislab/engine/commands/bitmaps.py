"""Bitmap commands (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD(_RO).

A bitmap is a string; bit 0 is the most significant bit of the first byte. Writes grow the
string with zero bytes, in place, as a raw string with sds's greedy preallocation, and only
count as a modification (dirty counter, WATCH, the ``setbit`` event) when the string grew or a
bit really changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import ErrorReply
from ..args import SYNTAX, parse_int, to_int
from ..keyspace import WRONGTYPE
from ..values import MutableString

if TYPE_CHECKING:
    from ..session import Session

BAD_OFFSET = ErrorReply("ERR bit offset is not an integer or out of range")
BAD_BIT = ErrorReply("ERR bit is not an integer or out of range")
BAD_TYPE = ErrorReply("ERR Invalid bitfield type. Use something like i16 u8. "
                      "Note that u64 is not supported but i64 is.")
BAD_OVERFLOW = ErrorReply("ERR Invalid OVERFLOW type specified")
RO_ONLY_GET = ErrorReply("ERR BITFIELD_RO only supports the GET subcommand")
NOT_SINGLE = ErrorReply("ERR BITOP NOT must be called with a single source key.")
BIT_ARG = ErrorReply("ERR The bit argument must be 1 or 0.")

_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1
_INVERT = bytes(255 - i for i in range(256))


def _s64(v: int) -> int:
    """Wrap to a signed 64-bit integer, as C arithmetic does."""
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def _bit_offset(c: "Session", arg: bytes, bits: int = 0) -> int:
    """getBitOffsetFromArgument: a bit offset, ``#n`` meaning n fields of ``bits`` when given.

    The offset must address a byte below proto-max-bulk-len.
    """
    hashed = bits > 0 and arg[:1] == b"#"
    value = parse_int(arg[1:] if hashed else arg)
    if value is None:
        raise BAD_OFFSET
    if hashed:
        value = _s64(value * bits)
    if value < 0 or value >> 3 >= c.engine.config["proto-max-bulk-len"]:
        raise BAD_OFFSET
    return value


def _string_for_write(c: "Session", key: bytes, maxbit: int) -> tuple[MutableString, bool]:
    """lookupStringForBitCommand: the string at ``key`` grown to hold bit ``maxbit``.

    Returns the string and whether it was created or grew.
    """
    db = c.db
    need = (maxbit >> 3) + 1
    v = db.get_for_write(key)
    if v is None:
        ms = MutableString(bytes(need))
        db.add(key, ms)
        return ms, True
    t = type(v)
    if t is bytes:
        ms = MutableString(v)
        db.data[key] = ms
    elif t is MutableString:
        ms = v
        if ms.embstr:
            ms = MutableString(ms.buf)
            db.data[key] = ms
    else:
        raise WRONGTYPE
    buf = ms.buf
    if len(buf) < need:
        ms.reserve(need)
        buf.extend(bytes(need - len(buf)))
        return ms, True
    return ms, False


def _read_string(c: "Session", key: bytes) -> bytes | bytearray | None:
    """A string value's bytes for reading (no copy of a raw string), None if missing."""
    v = c.db.get(key)
    if v is None:
        return None
    t = type(v)
    if t is bytes:
        return v
    if t is MutableString:
        return v.buf
    raise WRONGTYPE


# ---------------------------------------------------------------------------------------------
# SETBIT / GETBIT

def setbit_command(c: "Session", argv: list[bytes]) -> Any:
    offset = _bit_offset(c, argv[2])
    on = parse_int(argv[3])
    if on is None or on & ~1:
        raise BAD_BIT
    key = argv[1]
    ms, grew = _string_for_write(c, key, offset)
    buf = ms.buf
    byte = offset >> 3
    shift = 7 - (offset & 7)
    value = buf[byte]
    old = (value >> shift) & 1
    if grew or old != on:
        buf[byte] = (value & ~(1 << shift)) | (on << shift)
        c.db.changed(key, "setbit", "$")
    return old


def getbit_command(c: "Session", argv: list[bytes]) -> Any:
    offset = _bit_offset(c, argv[2])
    data = _read_string(c, argv[1])
    if data is None:
        return 0
    byte = offset >> 3
    if byte >= len(data):
        return 0
    return (data[byte] >> (7 - (offset & 7))) & 1


# ---------------------------------------------------------------------------------------------
# BITCOUNT / BITPOS

def _unit(arg: bytes) -> bool:
    """BYTE or BIT: True for BIT."""
    u = arg.upper()
    if u == b"BIT":
        return True
    if u == b"BYTE":
        return False
    raise SYNTAX


def _clamp(start: int, end: int, total: int) -> tuple[int, int]:
    if start < 0:
        start += total
    if end < 0:
        end += total
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= total:
        end = total - 1
    return start, end


def bitcount_command(c: "Session", argv: list[bytes]) -> Any:
    data = _read_string(c, argv[1])
    if data is None:
        return 0
    n = len(argv)
    length = len(data)
    if n == 2:
        return int.from_bytes(data, "big").bit_count()
    if n != 4 and n != 5:
        raise SYNTAX
    start = to_int(argv[2])
    end = to_int(argv[3])
    isbit = n == 5 and _unit(argv[4])
    total = length * 8 if isbit else length
    if start < 0 and end < 0 and start > end:
        return 0
    start, end = _clamp(start, end, total)
    if start > end:
        return 0
    c.work += end - start + 1
    if not isbit:
        return int.from_bytes(data[start:end + 1], "big").bit_count()
    first, last = start >> 3, end >> 3
    chunk = int.from_bytes(data[first:last + 1], "big")
    width = (last - first + 1) * 8
    skip_tail = 7 - (end & 7)
    keep = width - (start & 7) - skip_tail
    return ((chunk >> skip_tail) & ((1 << keep) - 1)).bit_count()


def _first_bit(data: bytes | bytearray, lo: int, hi: int, bit: int) -> int:
    """Position of the first bit equal to ``bit`` in bit range [lo, hi], or -1."""
    if lo > hi:
        return -1
    first, last = lo >> 3, hi >> 3
    chunk = bytes(data[first:last + 1])
    width = len(chunk) * 8
    value = int.from_bytes(chunk, "big")
    lead = lo & 7
    span = hi - lo + 1
    # Keep the span's bits only, as an integer whose top bit is bit ``lo``.
    value = (value >> (width - lead - span)) & ((1 << span) - 1)
    if bit == 0:
        value ^= (1 << span) - 1
    if value == 0:
        return -1
    return lo + span - value.bit_length()


def bitpos_command(c: "Session", argv: list[bytes]) -> Any:
    bit = to_int(argv[2])
    if bit != 0 and bit != 1:
        raise BIT_ARG
    data = _read_string(c, argv[1])
    if data is None:
        return -1 if bit else 0
    n = len(argv)
    length = len(data)
    end_given = False
    isbit = False
    if n == 3:
        start, end = 0, length - 1
    elif n <= 6:
        start = to_int(argv[3])
        if n == 6:
            isbit = _unit(argv[5])
        if n >= 5:
            end = to_int(argv[4])
            end_given = True
        else:
            end = length - 1
        start, end = _clamp(start, end, length * 8 if isbit else length)
    else:
        raise SYNTAX
    if start > end:
        return -1
    lo, hi = (start, end) if isbit else (start * 8, end * 8 + 7)
    c.work += (hi - lo) // 8 + 1
    pos = _first_bit(data, lo, hi, bit)
    if pos >= 0 or bit == 1 or end_given:
        return pos
    # Looking for a clear bit without an explicit end: the string is taken as padded with
    # zero bits on the right, so the answer is the first bit past the range.
    return hi + 1


# ---------------------------------------------------------------------------------------------
# BITOP

def bitop_command(c: "Session", argv: list[bytes]) -> Any:
    op = argv[1].split(b"\x00", 1)[0].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise SYNTAX
    if op == b"not" and len(argv) != 4:
        raise NOT_SINGLE
    db = c.db
    sources: list[bytes | bytearray | None] = []
    maxlen = 0
    for key in argv[3:]:
        data = _read_string(c, key)
        sources.append(data)
        if data is not None and len(data) > maxlen:
            maxlen = len(data)
    dest = argv[2]
    c.work += len(sources) * (maxlen + 1)
    if not maxlen:
        if db.delete(dest):
            db.changed(dest, "del", "g")
        return 0
    if op == b"not":
        src = sources[0]
        assert src is not None
        result = bytes(src).translate(_INVERT)
    else:
        acc: int | None = None
        for data in sources:
            value = int.from_bytes(data, "big") << (8 * (maxlen - len(data))) if data else 0
            if acc is None:
                acc = value
            elif op == b"and":
                acc &= value
            elif op == b"or":
                acc |= value
            else:
                acc ^= value
        assert acc is not None
        result = acc.to_bytes(maxlen, "big")
    db.set(dest, MutableString(result))
    db.changed(dest, "set", "$")
    return maxlen


# ---------------------------------------------------------------------------------------------
# BITFIELD

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2


def _field_type(arg: bytes) -> tuple[bool, int]:
    """getBitfieldTypeFromArgument: (signed, bits) from i1..i64 or u1..u63."""
    sign = arg[:1]
    if sign == b"i":
        signed = True
    elif sign == b"u":
        signed = False
    else:
        raise BAD_TYPE
    # The width is read as a C string: it ends at the first NUL byte.
    bits = parse_int(arg[1:].split(b"\x00", 1)[0])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise BAD_TYPE
    return signed, bits


def _get_field(data: bytes | bytearray, offset: int, bits: int) -> int:
    """The unsigned value of ``bits`` bits at bit ``offset``; bits past the end read as 0."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    chunk = data[first:last + 1]
    width = (last - first + 1) * 8
    value = int.from_bytes(chunk, "big") << (width - len(chunk) * 8)
    return (value >> (width - (offset & 7) - bits)) & ((1 << bits) - 1)


def _set_field(buf: bytearray, offset: int, bits: int, value: int) -> None:
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    width = (last - first + 1) * 8
    shift = width - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    chunk = int.from_bytes(buf[first:last + 1], "big")
    chunk = (chunk & ~mask) | ((value << shift) & mask)
    buf[first:last + 1] = chunk.to_bytes(last - first + 1, "big")


def _signed(value: int, bits: int) -> int:
    if value >> (bits - 1) & 1:
        return value - (1 << bits)
    return value


def _signed_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """checkSignedBitfieldOverflow: (overflowed, value to store for WRAP/SAT).

    The limits are computed with C's wrapping 64-bit arithmetic, quirks included.
    """
    hi = _I64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    lo = -hi - 1
    maxincr = _s64(hi - value)
    minincr = _s64(lo - value)
    if value > hi or (bits != 64 and incr > maxincr) or \
            (value >= 0 and incr > 0 and incr > maxincr):
        limit = hi
    elif value < lo or (bits != 64 and incr < minincr) or \
            (value < 0 and incr < 0 and incr < minincr):
        limit = lo
    else:
        return False, 0
    if mode == _WRAP:
        return True, _signed((value + incr) & ((1 << bits) - 1), bits)
    return True, limit


def _unsigned_overflow(value: int, incr: int, bits: int, mode: int) -> tuple[bool, int]:
    """checkUnsignedBitfieldOverflow for a value taken as unsigned 64-bit."""
    hi = (1 << bits) - 1
    maxincr = _s64(hi - value)
    minincr = _s64(-value)
    if value > hi or (incr > 0 and incr > maxincr):
        limit = hi
    elif incr < 0 and incr < minincr:
        limit = 0
    else:
        return False, 0
    if mode == _WRAP:
        return True, (value + incr) & hi
    return True, limit


def _bitfield(c: "Session", argv: list[bytes], readonly_command: bool) -> Any:
    ops: list[tuple[int, bool, int, int, int, int]] = []
    mode = _WRAP
    writes = False
    highest = 0
    n = len(argv)
    j = 2
    while j < n:
        remaining = n - j - 1
        name = argv[j].split(b"\x00", 1)[0].lower()
        if name == b"get" and remaining >= 2:
            opcode = _GET
        elif name == b"set" and remaining >= 3:
            opcode = _SET
        elif name == b"incrby" and remaining >= 3:
            opcode = _INCRBY
        elif name == b"overflow" and remaining >= 1:
            kind = argv[j + 1].split(b"\x00", 1)[0].lower()
            if kind == b"wrap":
                mode = _WRAP
            elif kind == b"sat":
                mode = _SAT
            elif kind == b"fail":
                mode = _FAIL
            else:
                raise BAD_OVERFLOW
            j += 2
            continue
        else:
            raise SYNTAX
        signed, bits = _field_type(argv[j + 1])
        offset = _bit_offset(c, argv[j + 2], bits)
        arg = 0
        if opcode != _GET:
            writes = True
            if offset + bits - 1 > highest:
                highest = offset + bits - 1
            arg = to_int(argv[j + 3])
            j += 4
        else:
            j += 3
        ops.append((opcode, signed, bits, offset, arg, mode))
    key = argv[1]
    data: bytes | bytearray | None
    grew = False
    if not writes:
        data = _read_string(c, key)
        buf = None
    elif readonly_command:
        raise RO_ONLY_GET
    else:
        ms, grew = _string_for_write(c, key, highest)
        data = buf = ms.buf
    out: list[Any] = []
    changes = 0
    for opcode, signed, bits, offset, arg, mode in ops:
        if opcode == _GET:
            if data is None:
                out.append(0)
                continue
            raw = _get_field(data, offset, bits)
            out.append(_signed(raw, bits) if signed else raw)
            continue
        assert buf is not None
        raw = _get_field(buf, offset, bits)
        if signed:
            old = _signed(raw, bits)
            if opcode == _INCRBY:
                over, limit = _signed_overflow(old, arg, bits, mode)
                new = limit if over else old + arg
                reply = new
            else:
                over, limit = _signed_overflow(arg, 0, bits, mode)
                new = limit if over else arg
                reply = old
        else:
            old = raw
            if opcode == _INCRBY:
                over, limit = _unsigned_overflow(old, arg, bits, mode)
                new = limit if over else old + arg
                reply = new
            else:
                value = arg & _U64
                over, limit = _unsigned_overflow(value, 0, bits, mode)
                new = limit if over else value
                reply = old
        if over and mode == _FAIL:
            out.append(None)
            continue
        out.append(reply)
        _set_field(buf, offset, bits, new & ((1 << bits) - 1))
        if grew or new != old:
            changes += 1
    if changes:
        c.db.changed(key, "setbit", "$", dirty=changes)
    c.work += len(ops)
    return out


def bitfield_command(c: "Session", argv: list[bytes]) -> Any:
    return _bitfield(c, argv, False)


def bitfield_ro_command(c: "Session", argv: list[bytes]) -> Any:
    return _bitfield(c, argv, True)
