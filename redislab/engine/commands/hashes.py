"""Hash commands (t_hash.c): fields and values, counters, HGETALL and HRANDFIELD.

A hash is a :class:`HashValue` (a dict, which keeps insertion order exactly as a listpack
keeps its entries). Its ``encoding`` starts as ``listpack`` and becomes ``hashtable`` for good
once a field or value is longer than ``hash-max-listpack-value`` (checked before inserting)
or the hash holds more than ``hash-max-listpack-entries`` fields (checked after).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, MapReply
from .. import errors
from ..args import LLONG_MAX, LLONG_MIN, SYNTAX, parse_int, to_int
from ..events import EncodingChanged
from ..keyspace import WRONGTYPE
from ..longdouble import add_ld, format_ld_human, is_finite, parse_ld
from ..values import HashValue
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NOT_FLOAT = ErrorReply(errors.NOT_FLOAT)
OVERFLOW = ErrorReply(errors.OVERFLOW)
HASH_NOT_INTEGER = ErrorReply(errors.HASH_NOT_INTEGER)
HASH_NOT_FLOAT = ErrorReply(errors.HASH_NOT_FLOAT)
NAN_OR_INF = ErrorReply(errors.NAN_OR_INF)
INCR_NAN_OR_INF = ErrorReply("ERR value is NaN or Infinity")
RANGE = ErrorReply("ERR value is out of range")
RANGE_LONG = ErrorReply("ERR value is out of range, value must between "
                        "-9223372036854775807 and 9223372036854775807")

_LONG_MAX_HALF = LLONG_MAX // 2
_ZERO = parse_ld(b"0")

# HRANDFIELD's sampling has nothing to do with the engine's determinism (Redis seeds it from
# the clock and pid), so a private generator keeps it off the global random module.
_rng = random.Random()


def _lookup_write(db: "Database", key: bytes) -> HashValue | None:
    v = db.get_for_write(key)
    if v is not None and type(v) is not HashValue:
        raise WRONGTYPE
    return v


def _lookup_read(db: "Database", key: bytes) -> HashValue | None:
    v = db.get(key)
    if v is not None and type(v) is not HashValue:
        raise WRONGTYPE
    return v


def _lookup_or_create(db: "Database", key: bytes) -> HashValue:
    """hashTypeLookupWriteOrCreate."""
    v = db.get_for_write(key)
    if v is None:
        v = HashValue()
        db.add(key, v)
        return v
    if type(v) is not HashValue:
        raise WRONGTYPE
    return v


# ---------------------------------------------------------------------------------------------
# Encoding

def _convert(c: "Session", key: bytes, h: HashValue, reason: str) -> None:
    h.encoding = "hashtable"
    bus = c.engine.bus
    if bus.active:
        bus.publish(EncodingChanged(c.db.id, key, "listpack", "hashtable", reason))


def _check_lengths(c: "Session", key: bytes, h: HashValue, args: list[bytes],
                   start: int) -> None:
    """hashTypeTryConversion: any field or value too long for a listpack converts the hash."""
    limit = c.engine.config["hash-max-listpack-value"]
    for i in range(start, len(args)):
        size = len(args[i])
        if size > limit:
            what = "field" if (i - start) % 2 == 0 else "value"
            _convert(c, key, h, f"{what} of {size} bytes > hash-max-listpack-value {limit}")
            return


def _check_entries(c: "Session", key: bytes, h: HashValue) -> None:
    limit = c.engine.config["hash-max-listpack-entries"]
    if len(h) > limit:
        _convert(c, key, h, f"{len(h)} fields > hash-max-listpack-entries {limit}")


def _set_one(c: "Session", key: bytes, h: HashValue, field: bytes, value: bytes) -> None:
    """hashTypeSet for the counters: lengths are checked on the final field and value."""
    if h.encoding == "listpack":
        limit = c.engine.config["hash-max-listpack-value"]
        if len(field) > limit or len(value) > limit:
            what, size = (("field", len(field)) if len(field) > limit
                          else ("value", len(value)))
            _convert(c, key, h, f"{what} of {size} bytes > hash-max-listpack-value {limit}")
    h[field] = value
    if h.encoding == "listpack":
        _check_entries(c, key, h)


# ---------------------------------------------------------------------------------------------
# Writes

def _hset_generic(c: "Session", argv: list[bytes]) -> int:
    db = c.db
    key = argv[1]
    h = db.get_for_write(key)
    if h is None:
        h = HashValue()
        db.add(key, h)
    elif type(h) is not HashValue:
        raise WRONGTYPE
    before = len(h)
    if h.encoding == "listpack":
        limits = c.engine.config.values
        if len(argv) == 4:
            limit = limits["hash-max-listpack-value"]
            if len(argv[2]) > limit or len(argv[3]) > limit:
                _check_lengths(c, key, h, argv, 2)
        else:
            _check_lengths(c, key, h, argv, 2)
    if len(argv) == 4:
        h[argv[2]] = argv[3]
    else:
        for i in range(2, len(argv), 2):
            h[argv[i]] = argv[i + 1]
    if h.encoding == "listpack" and len(h) > c.engine.config.values["hash-max-listpack-entries"]:
        _check_entries(c, key, h)
    pairs = (len(argv) - 2) >> 1
    c.work += pairs
    db.changed(key, "hset", "h", pairs)
    return len(h) - before


def hset_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) & 1:
        raise errors.wrong_arity("hset")
    return _hset_generic(c, argv)


def hmset_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) & 1:
        raise errors.wrong_arity("hmset")
    _hset_generic(c, argv)
    return OK


def hsetnx_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key, field = argv[1], argv[2]
    h = _lookup_or_create(db, key)
    if field in h:
        return 0
    if h.encoding == "listpack":
        _check_lengths(c, key, h, argv, 2)
    h[field] = argv[3]
    if h.encoding == "listpack":
        _check_entries(c, key, h)
    db.changed(key, "hset", "h")
    return 1


def hdel_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    h = _lookup_write(db, key)
    if h is None:
        return 0
    deleted = 0
    removed_key = False
    for field in argv[2:]:
        if field in h:
            del h[field]
            deleted += 1
            if not h:
                db.delete(key)
                removed_key = True
                break
    c.work += len(argv) - 2
    if deleted:
        db.changed(key, "hdel", "h", deleted)
        if removed_key:
            db.changed(key, "del", "g", 0)
    return deleted


def hincrby_command(c: "Session", argv: list[bytes]) -> Any:
    incr = to_int(argv[3])
    db = c.db
    key, field = argv[1], argv[2]
    h = _lookup_write(db, key)
    old = 0
    if h is not None:
        current = h.get(field)
        if current is not None:
            v = parse_int(current)
            if v is None:
                raise HASH_NOT_INTEGER
            old = v
    new = old + incr
    if new > LLONG_MAX or new < LLONG_MIN:
        raise OVERFLOW
    if h is None:
        h = HashValue()
        db.add(key, h)
    _set_one(c, key, h, field, b"%d" % new)
    db.changed(key, "hincrby", "h")
    return new


def hincrbyfloat_command(c: "Session", argv: list[bytes]) -> Any:
    incr = parse_ld(argv[3])
    if incr is None:
        raise NOT_FLOAT
    if not is_finite(incr):
        raise INCR_NAN_OR_INF
    db = c.db
    key, field = argv[1], argv[2]
    h = _lookup_write(db, key)
    old = _ZERO
    if h is not None:
        current = h.get(field)
        if current is not None:
            parsed = parse_ld(current)
            if parsed is None:
                raise HASH_NOT_FLOAT
            old = parsed
    new = add_ld(old, incr)
    if not is_finite(new):
        raise NAN_OR_INF
    value = format_ld_human(new)
    if h is None:
        h = HashValue()
        db.add(key, h)
    _set_one(c, key, h, field, value)
    db.changed(key, "hincrbyfloat", "h")
    # Replicas and the AOF get the result, so that float formatting can never diverge.
    rewrite(c, [b"HSET", key, field, value])
    return value


# ---------------------------------------------------------------------------------------------
# Reads

def hget_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    return None if h is None else h.get(argv[2])


def hmget_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    c.work += len(argv) - 2
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


def hlen_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    return 0 if h is None else len(h)


def hstrlen_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


def hexists_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    return 1 if h is not None and argv[2] in h else 0


def hkeys_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    if h is None:
        return []
    c.work += len(h)
    return list(h)


def hvals_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    if h is None:
        return []
    c.work += len(h)
    return list(h.values())


def hgetall_command(c: "Session", argv: list[bytes]) -> Any:
    h = _lookup_read(c.db, argv[1])
    if h is None:
        return MapReply()
    c.work += len(h)
    return MapReply(h.items())


def hrandfield_command(c: "Session", argv: list[bytes]) -> Any:
    n = len(argv)
    if n == 2:
        h = _lookup_read(c.db, argv[1])
        if h is None:
            return None
        c.work += 1
        return _rng.choice(list(h)) if len(h) > 1 else next(iter(h))
    count = to_int(argv[2])
    if count == LLONG_MIN:
        raise RANGE_LONG
    with_values = False
    if n > 4 or (n == 4 and argv[3].upper() != b"WITHVALUES"):
        raise SYNTAX
    if n == 4:
        with_values = True
        if count < -_LONG_MAX_HALF or count > _LONG_MAX_HALF:
            raise RANGE
    h = _lookup_read(c.db, argv[1])
    if h is None or count == 0:
        return []
    size = len(h)
    pairs = c.resp > 2
    if count < 0 or count == 1:
        # Independent draws: fields may repeat.
        k = -count if count < 0 else 1
        fields = list(h)
        picked = _rng.choices(fields, k=k) if size > 1 else fields * k
    elif count >= size:
        picked = list(h)
    else:
        picked = _rng.sample(list(h), count)
    c.work += len(picked)
    if not with_values:
        return picked
    if pairs:
        return [[f, h[f]] for f in picked]
    out: list[bytes] = []
    for f in picked:
        out.append(f)
        out.append(h[f])
    return out
