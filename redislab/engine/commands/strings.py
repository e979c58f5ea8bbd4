"""String commands (t_string.c): SET and its family, counters, ranges, APPEND, LCS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, MapReply
from .. import errors
from ..args import LLONG_MAX, LLONG_MIN, NOT_INTEGER, SYNTAX, parse_int, to_int
from ..keyspace import WRONGTYPE
from ..longdouble import add_ld, format_ld_human, is_finite, parse_ld
from ..values import MutableString, as_bytes, is_canonical_int

if TYPE_CHECKING:
    from ..session import Session

NOT_FLOAT = ErrorReply(errors.NOT_FLOAT)
OVERFLOW = ErrorReply(errors.OVERFLOW)
TOO_LONG = ErrorReply(errors.STRING_TOO_LONG)

# Flags of parseExtendedStringArgumentsOrReply.
_NX, _XX, _GET, _KEEPTTL, _PERSIST, _EX, _PX, _EXAT, _PXAT = (1 << i for i in range(9))
_EXPIRE_FLAGS = _EX | _PX | _EXAT | _PXAT


def _parse_extended(argv: list[bytes], start: int, for_set: bool) -> tuple[int, bytes | None]:
    """Parse SET/GETEX options exactly as Redis accepts them; returns flags and expire arg."""
    flags = 0
    expire: bytes | None = None
    j, n = start, len(argv)
    while j < n:
        opt = argv[j].upper()
        nxt = argv[j + 1] if j + 1 < n else None
        if opt == b"NX" and not flags & _XX and for_set:
            flags |= _NX
        elif opt == b"XX" and not flags & _NX and for_set:
            flags |= _XX
        elif opt == b"GET" and for_set:
            flags |= _GET
        elif opt == b"KEEPTTL" and not flags & (_PERSIST | _EXPIRE_FLAGS) and for_set:
            flags |= _KEEPTTL
        elif opt == b"PERSIST" and not for_set and not flags & (_EXPIRE_FLAGS | _KEEPTTL):
            flags |= _PERSIST
        elif opt == b"EX" and not flags & (_KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT) \
                and nxt is not None:
            flags |= _EX
            expire = nxt
            j += 1
        elif opt == b"PX" and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT) \
                and nxt is not None:
            flags |= _PX
            expire = nxt
            j += 1
        elif opt == b"EXAT" and not flags & (_KEEPTTL | _PERSIST | _EX | _PX | _PXAT) \
                and nxt is not None:
            flags |= _EXAT
            expire = nxt
            j += 1
        elif opt == b"PXAT" and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PX) \
                and nxt is not None:
            flags |= _PXAT
            expire = nxt
            j += 1
        else:
            raise SYNTAX
        j += 1
    return flags, expire


def expire_ms(c: "Session", arg: bytes, seconds: bool, relative: bool, command: str) -> int:
    """getExpireMillisecondsOrReply: the absolute expire time in ms, validated as Redis does."""
    value = to_int(arg)
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        raise errors.invalid_expire(command)
    if seconds:
        value *= 1000
    if relative:
        value += c.engine.now_ms()
        if value > LLONG_MAX:
            raise errors.invalid_expire(command)
    return value


def rewrite(c: "Session", *commands: list[bytes]) -> None:
    """Propagate these commands instead of the one that ran (AOF, replicas)."""
    if c.engine.propagate_hooks:
        c.extra["propagate"] = list(commands)


def _string_value(c: "Session", key: bytes) -> bytes | None:
    return c.db.get_string(key)


def _check_length(c: "Session", total: int) -> None:
    if total > c.engine.config["proto-max-bulk-len"]:
        raise TOO_LONG


# ---------------------------------------------------------------------------------------------
# SET family

def _set_generic(c: "Session", flags: int, key: bytes, value: bytes, expire: bytes | None,
                 command: str, ok_reply: Any = OK, abort_reply: Any = None) -> Any:
    """setGenericCommand: SET, SETNX, SETEX, PSETEX and GETSET share this."""
    when = 0
    if expire is not None:
        when = expire_ms(c, expire, bool(flags & (_EX | _EXAT)),
                         bool(flags & (_EX | _PX)), command)
    db = c.db
    old = None
    if flags & _GET:
        old = db.get_string(key)  # raises WRONGTYPE before anything changes
    found = db.get_for_write(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    db.changed(key, "set", "$")
    if expire is not None:
        db.set_expire(key, when)
        if c.engine.notify_mask:
            c.engine.notify(db.id, "g", "expire", key)
        if not flags & _PXAT:
            rewrite(c, [b"SET", key, value, b"PXAT", b"%d" % when])
    return old if flags & _GET else ok_reply


def set_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 3:
        db = c.db
        key = argv[1]
        db.set(key, argv[2])
        db.changed(key, "set", "$")
        return OK
    flags, expire = _parse_extended(argv, 3, True)
    reply = _set_generic(c, flags, argv[1], argv[2], expire, "set", OK, None)
    if flags & _GET and expire is None:
        # Replicas and the AOF need the write, not the read: GET (maybe repeated) goes.
        rewrite(c, argv[:3] + [a for a in argv[3:] if a.lower() != b"get"])
    return reply


def setnx_command(c: "Session", argv: list[bytes]) -> Any:
    return _set_generic(c, _NX, argv[1], argv[2], None, "setnx", 1, 0)


def setex_command(c: "Session", argv: list[bytes]) -> Any:
    return _set_generic(c, _EX, argv[1], argv[3], argv[2], "setex")


def psetex_command(c: "Session", argv: list[bytes]) -> Any:
    return _set_generic(c, _PX, argv[1], argv[3], argv[2], "psetex")


def getset_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = db.get_string(key)
    db.set(key, argv[2])
    db.changed(key, "set", "$")
    rewrite(c, [b"SET", key, argv[2]])
    return old


def get_command(c: "Session", argv: list[bytes]) -> Any:
    # The commonest command: Database.get_string inlined for its usual case (a live string).
    db = c.db
    key = argv[1]
    v = db.data.get(key)
    if type(v) is bytes and not (db.expires and key in db.expires):
        db.lru[key] = db.engine.lru_clock
        db.stats.keyspace_hits += 1
        return v
    return db.get_string(key)


def getdel_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    value = db.get_string(key)
    if value is not None:
        db.delete(key)
        db.changed(key, "del", "g")
        rewrite(c, [b"DEL", key])
    return value


def getex_command(c: "Session", argv: list[bytes]) -> Any:
    flags, expire = _parse_extended(argv, 2, False)
    when = 0
    if expire is not None:
        when = expire_ms(c, expire, bool(flags & (_EX | _EXAT)), bool(flags & (_EX | _PX)),
                         "getex")
    db = c.db
    key = argv[1]
    value = db.get_string(key)
    if value is None:
        return None
    eng = c.engine
    if expire is not None and when <= eng.now_ms() and not eng.loading and not eng.is_replica:
        db.delete(key)
        db.changed(key, "del", "g")
        rewrite(c, [b"DEL", key])
    elif expire is not None:
        db.set_expire(key, when)
        db.changed(key, "expire", "g")
        rewrite(c, [b"PEXPIREAT", key, b"%d" % when])
    elif flags & _PERSIST:
        if db.persist(key):
            db.changed(key, "persist", "g")
            rewrite(c, [b"PERSIST", key])
    return value


def mset_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("mset")
    db = c.db
    for i in range(1, len(argv), 2):
        key = argv[i]
        db.set(key, argv[i + 1])
        db.changed(key, "set", "$", dirty=0)
    c.engine.dirty += (len(argv) - 1) // 2
    return OK


def msetnx_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_arity("msetnx")
    db = c.db
    for i in range(1, len(argv), 2):
        if db.get_for_write(argv[i]) is not None:
            return 0
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
        db.changed(argv[i], "set", "$", dirty=0)
    c.engine.dirty += (len(argv) - 1) // 2
    return 1


def mget_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    out: list[Any] = []
    for key in argv[1:]:
        v = db.get(key)
        t = type(v)
        if t is bytes:
            out.append(v)
        elif t is MutableString:
            out.append(bytes(v.buf))
        else:
            out.append(None)
    c.work += len(argv) - 1
    return out


# ---------------------------------------------------------------------------------------------
# In-place edits

def append_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key, extra = argv[1], argv[2]
    v = db.get_for_write(key)
    if v is None:
        db.add(key, extra)
        db.changed(key, "append", "$")
        return len(extra)
    t = type(v)
    if t is not bytes and t is not MutableString:
        raise WRONGTYPE
    total = len(v) + len(extra)
    _check_length(c, total)
    if t is bytes or v.embstr:
        v = MutableString(as_bytes(v))
        db.data[key] = v
    v.reserve(total)
    v.buf += extra
    db.changed(key, "append", "$")
    return total


def strlen_command(c: "Session", argv: list[bytes]) -> Any:
    v = c.db.get(argv[1])
    if v is None:
        return 0
    t = type(v)
    if t is not bytes and t is not MutableString:
        raise WRONGTYPE
    return len(v)


def getrange_command(c: "Session", argv: list[bytes]) -> Any:
    start = to_int(argv[2])
    end = to_int(argv[3])
    value = c.db.get_string(argv[1])
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return value[start:end + 1]


def substr_command(c: "Session", argv: list[bytes]) -> Any:
    return getrange_command(c, argv)


def setrange_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key, value = argv[1], argv[3]
    offset = to_int(argv[2])
    if offset < 0:
        raise ErrorReply("ERR offset is out of range")
    v = db.get_for_write(key)
    if v is None:
        if not value:
            return 0
        _check_length(c, offset + len(value))
        s = MutableString(bytes(offset) + value)
        db.add(key, s)
        db.changed(key, "setrange", "$")
        return len(s)
    t = type(v)
    if t is not bytes and t is not MutableString:
        raise WRONGTYPE
    if not value:
        return len(v)
    _check_length(c, offset + len(value))
    if t is bytes or v.embstr:
        v = MutableString(as_bytes(v))
        db.data[key] = v
    buf = v.buf
    end = offset + len(value)
    if end > len(buf):
        v.reserve(end)
        buf.extend(bytes(end - len(buf)))
    buf[offset:end] = value
    db.changed(key, "setrange", "$")
    return len(buf)


# ---------------------------------------------------------------------------------------------
# Counters

def _incr_generic(c: "Session", key: bytes, incr: int) -> int:
    db = c.db
    v = db.get_for_write(key)
    if v is None:
        old = 0
    else:
        t = type(v)
        if t is bytes:
            old = parse_int(v)
        elif t is MutableString:
            old = parse_int(bytes(v.buf))
        else:
            raise WRONGTYPE
        if old is None:
            raise NOT_INTEGER
    new = old + incr
    if new > LLONG_MAX or new < LLONG_MIN:
        raise OVERFLOW
    value = b"%d" % new
    if v is None:
        db.add(key, value)
    else:
        db.data[key] = value
    db.changed(key, "incrby", "$")
    return new


def incr_command(c: "Session", argv: list[bytes]) -> Any:
    return _incr_generic(c, argv[1], 1)


def decr_command(c: "Session", argv: list[bytes]) -> Any:
    return _incr_generic(c, argv[1], -1)


def incrby_command(c: "Session", argv: list[bytes]) -> Any:
    return _incr_generic(c, argv[1], to_int(argv[2]))


def decrby_command(c: "Session", argv: list[bytes]) -> Any:
    incr = to_int(argv[2])
    if incr == LLONG_MIN:
        raise ErrorReply("ERR decrement would overflow")
    return _incr_generic(c, argv[1], -incr)


def incrbyfloat_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    v = db.get_for_write(key)
    if v is None:
        old = parse_ld(b"0")
    else:
        t = type(v)
        if t is not bytes and t is not MutableString:
            raise WRONGTYPE
        old = parse_ld(as_bytes(v))
        if old is None:
            raise NOT_FLOAT
    incr = parse_ld(argv[2])
    if incr is None:
        raise NOT_FLOAT
    assert old is not None
    new = add_ld(old, incr)
    if not is_finite(new):
        raise ErrorReply(errors.NAN_OR_INF)
    value = format_ld_human(new)
    # createStringObject: the text is stored as it is, never turned into an int encoding.
    stored: Any = MutableString.embedded(value) if len(value) <= 20 and \
        is_canonical_int(value) else value
    if v is None:
        db.add(key, stored)
    else:
        db.data[key] = stored
    db.changed(key, "incrbyfloat", "$")
    rewrite(c, [b"SET", key, value, b"KEEPTTL"])
    return value


# ---------------------------------------------------------------------------------------------
# LCS

def lcs_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    a_obj = db.get(argv[1])
    b_obj = db.get(argv[2])
    for obj in (a_obj, b_obj):
        if obj is not None and type(obj) is not bytes and type(obj) is not MutableString:
            raise ErrorReply("ERR The specified keys must contain string values")
    a = as_bytes(a_obj) if a_obj is not None else b""
    b = as_bytes(b_obj) if b_obj is not None else b""
    get_len = get_idx = with_len = False
    min_len = 0
    j = 3
    while j < len(argv):
        opt = argv[j].upper()
        more = len(argv) - j - 1
        if opt == b"IDX":
            get_idx = True
        elif opt == b"LEN":
            get_len = True
        elif opt == b"WITHMATCHLEN":
            with_len = True
        elif opt == b"MINMATCHLEN" and more:
            min_len = to_int(argv[j + 1])
            if min_len < 0:
                min_len = 0
            j += 1
        else:
            raise SYNTAX
        j += 1
    if get_len and get_idx:
        raise ErrorReply("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    # Dynamic programming table, row by row (LCS(i, j) for prefixes of length i and j).
    table = [[0] * (blen + 1) for _ in range(alen + 1)]
    for i in range(1, alen + 1):
        ai = a[i - 1]
        row, prev = table[i], table[i - 1]
        for jj in range(1, blen + 1):
            if ai == b[jj - 1]:
                row[jj] = prev[jj - 1] + 1
            else:
                up, left = prev[jj], row[jj - 1]
                row[jj] = up if up > left else left
    c.work += alen * blen
    total = table[alen][blen]
    if get_len:
        return total
    result = bytearray(total)
    matches: list[Any] = []
    idx = total
    i, jj = alen, blen
    a_start = a_end = b_start = b_end = 0
    in_range = False
    while i > 0 and jj > 0:
        emit = False
        if a[i - 1] == b[jj - 1]:
            result[idx - 1] = a[i - 1]
            if not in_range:
                a_start = a_end = i - 1
                b_start = b_end = jj - 1
                in_range = True
            elif a_start == i and b_start == jj:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            jj -= 1
        else:
            if table[i - 1][jj] > table[i][jj - 1]:
                i -= 1
            else:
                jj -= 1
            if in_range:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if min_len == 0 or match_len >= min_len:
                entry: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if with_len:
                    entry.append(match_len)
                matches.append(entry)
            in_range = False
    if get_idx:
        return MapReply([(b"matches", matches), (b"len", total)])
    return bytes(result)
