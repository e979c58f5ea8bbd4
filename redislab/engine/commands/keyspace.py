"""Generic keyspace commands (db.c, expire.c, object.c): DEL, EXISTS, TYPE, TTLs, KEYS,
RANDOMKEY, RENAME, COPY, MOVE, TOUCH, OBJECT and WAIT.

Lookups follow Redis's flags: TYPE, EXISTS, the TTL family and OBJECT read without touching
the key's access time but still count keyspace hits and misses; TOUCH reads normally; KEYS and
RANDOMKEY only check expiry. Every modification goes through ``db.changed`` (or, for the
commands that touch two keys, ``signal_modified`` plus one dirty increment, as Redis counts).
"""

from __future__ import annotations

import copy
import random
from itertools import islice
from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from .. import errors
from ..args import LLONG_MAX, LLONG_MIN, SYNTAX, to_int
from ..engine import LRU_CLOCK_MAX
from ..glob import compile_glob
from ..values import (HashValue, ListValue, MutableString, SetValue, ZSetValue,
                      string_encoding, type_name)
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NO_SUCH_KEY = ErrorReply(errors.NO_SUCH_KEY)
SAME_OBJECT = ErrorReply(errors.SAME_OBJECT)
INVALID_DB = ErrorReply(errors.INVALID_DB)
NOT_INTEGER = ErrorReply(errors.NOT_INTEGER)
NX_INCOMPATIBLE = ErrorReply("ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT_INCOMPATIBLE = ErrorReply("ERR GT and LT options at the same time are not compatible")
NO_LFU = ErrorReply(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust.")
LFU_SELECTED = ErrorReply(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust.")

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
SHARED_INTEGERS = 10000
SHARED_REFCOUNT = 2147483647
LFU_POLICIES = ("volatile-lfu", "allkeys-lfu")
NO_SHARED_POLICIES = ("volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu")

_rng = random.Random()


# ---------------------------------------------------------------------------------------------
# Lookups


def lookup_notouch(c: "Session", db: "Database", key: bytes, notify: bool = True) -> Any:
    """lookupKeyReadWithFlags(LOOKUP_NOTOUCH): lazy expiry and statistics, access time kept."""
    v = db.peek(key)
    if v is None:
        if notify:
            db.missed(key)
        else:
            c.engine.stats.keyspace_misses += 1
    else:
        c.engine.stats.keyspace_hits += 1
    return v


INT_RANGE = ErrorReply(
    "ERR value is out of range, value must between -2147483648 and 2147483647")


def get_int32(arg: bytes, error: ErrorReply | None = None) -> int:
    """getIntFromObjectOrReply: a 64-bit integer that also fits a C int.

    With ``error`` given, that one text answers both kinds of bad input, as in Redis.
    """
    v = to_int(arg, error or NOT_INTEGER)
    if v < INT_MIN or v > INT_MAX:
        raise error or INT_RANGE
    return v


def db_by_index(c: "Session", arg: bytes) -> "Database":
    index = get_int32(arg)
    dbs = c.engine.dbs
    if index < 0 or index >= len(dbs):
        raise INVALID_DB
    return dbs[index]


# ---------------------------------------------------------------------------------------------
# DEL, UNLINK, EXISTS, TYPE, TOUCH


def _delete_keys(c: "Session", argv: list[bytes]) -> int:
    db = c.db
    deleted = 0
    for key in argv[1:]:
        if db.delete(key):
            db.changed(key, "del", "g")
            deleted += 1
    c.work += len(argv) - 1
    return deleted


def del_command(c: "Session", argv: list[bytes]) -> Any:
    return _delete_keys(c, argv)


def unlink_command(c: "Session", argv: list[bytes]) -> Any:
    return _delete_keys(c, argv)


def exists_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    count = 0
    for key in argv[1:]:
        if lookup_notouch(c, db, key) is not None:
            count += 1
    c.work += len(argv) - 1
    return count


def type_command(c: "Session", argv: list[bytes]) -> Any:
    return Status(type_name(lookup_notouch(c, c.db, argv[1])))


def touch_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    touched = 0
    for key in argv[1:]:
        if db.get(key) is not None:
            touched += 1
    c.work += len(argv) - 1
    return touched


# ---------------------------------------------------------------------------------------------
# Expire times

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_FLAGS = {b"NX": _NX, b"XX": _XX, b"GT": _GT, b"LT": _LT}


def _expire_flags(argv: list[bytes]) -> int:
    """parseExtendedExpireArgumentsOrReply."""
    flags = 0
    for arg in argv[3:]:
        bit = _EXPIRE_FLAGS.get(arg.upper())
        if bit is None:
            shown = arg.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            raise ErrorReply("ERR Unsupported option "
                             + shown.replace("\r", " ").replace("\n", " "))
        flags |= bit
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise NX_INCOMPATIBLE
    if flags & _GT and flags & _LT:
        raise GT_LT_INCOMPATIBLE
    return flags


def _expire_generic(c: "Session", argv: list[bytes], basetime: int, seconds: bool,
                    name: str) -> Any:
    """expireGenericCommand: EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT."""
    flags = _expire_flags(argv) if len(argv) > 3 else 0
    when = to_int(argv[2])
    if seconds:
        # C's division truncates toward zero.
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            raise errors.invalid_expire(name)
        when *= 1000
    if when > LLONG_MAX - basetime:
        raise errors.invalid_expire(name)
    when += basetime
    db = c.db
    key = argv[1]
    if db.get_for_write(key) is None:
        return 0
    if flags:
        current = db.expires.get(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        # A key without a TTL counts as living forever: GT never beats it, LT always does.
        if flags & _GT and (current is None or when <= current):
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    eng = c.engine
    if when <= eng.now_ms() and not eng.loading and not eng.is_replica:
        db.delete(key)
        db.changed(key, "del", "g")
        rewrite(c, [b"UNLINK" if eng.config["lazyfree-lazy-expire"] else b"DEL", key])
        return 1
    db.set_expire(key, when)
    db.changed(key, "expire", "g")
    if name != "pexpireat" or basetime:
        rewrite(c, [b"PEXPIREAT", key, b"%d" % when] + argv[3:])
    return 1


def expire_command(c: "Session", argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, c.engine.now_ms(), True, "expire")


def pexpire_command(c: "Session", argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, c.engine.now_ms(), False, "pexpire")


def expireat_command(c: "Session", argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, 0, True, "expireat")


def pexpireat_command(c: "Session", argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, 0, False, "pexpireat")


def _ttl_generic(c: "Session", argv: list[bytes], ms: bool, absolute: bool) -> int:
    db = c.db
    key = argv[1]
    if lookup_notouch(c, db, key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    ttl = when if absolute else when - c.engine.now_ms()
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


def ttl_command(c: "Session", argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv, False, False)


def pttl_command(c: "Session", argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv, True, False)


def expiretime_command(c: "Session", argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv, False, True)


def pexpiretime_command(c: "Session", argv: list[bytes]) -> Any:
    return _ttl_generic(c, argv, True, True)


def persist_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    if db.get_for_write(key) is None:
        return 0
    if not db.persist(key):
        return 0
    db.changed(key, "persist", "g")
    return 1


# ---------------------------------------------------------------------------------------------
# KEYS, RANDOMKEY


def keys_command(c: "Session", argv: list[bytes]) -> Any:
    pattern = argv[1]
    db = c.db
    data = db.data
    expires = db.expires
    match = None if pattern == b"*" else compile_glob(pattern)
    out = []
    for key in data:
        if match is None or match(key):
            # KEYS filters expired keys out but leaves deleting them to others.
            if expires and key in expires and db.expired(key):
                continue
            out.append(key)
    c.work += len(data)
    return out


def random_key(db: "Database") -> bytes:
    """Any key of a non-empty database, uniformly."""
    data = db.data
    index = db.scan_index
    if index is not None and index.valid:
        # With the scan index in place a draw costs O(log N) instead of a walk of the dict.
        order = index.sync(data)
        if len(order) == len(data):
            return order[_rng.randrange(len(order))]  # type: ignore[no-any-return]
    return next(islice(data, _rng.randrange(len(data)), None))


def randomkey_command(c: "Session", argv: list[bytes]) -> Any:
    """dbRandomKey: draw again while the drawn key turns out to be expired."""
    db = c.db
    all_volatile = len(db.data) == len(db.expires)
    replica = c.engine.is_replica
    tries = 100
    while db.data:
        key = random_key(db)
        c.work += 1
        if db.expires and key in db.expires:
            if all_volatile and replica:
                # Every key may be logically expired on a replica; don't loop forever.
                tries -= 1
                if tries == 0:
                    return key
            if db.expire_if_needed(key):
                continue
        return key
    return None


# ---------------------------------------------------------------------------------------------
# RENAME, MOVE, COPY


def _rename(c: "Session", argv: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    value = db.get_for_write(src)
    if value is None:
        raise NO_SUCH_KEY
    if src == dst:
        return 0 if nx else OK
    expire = db.expires.get(src)
    lru = db.lru.get(src)
    if db.get_for_write(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.add(dst, value)
    if expire is not None:
        db.set_expire(dst, expire)
    if lru is not None:
        db.lru[dst] = lru
    db.delete(src)
    db.changed(src, "rename_from", "g", dirty=0)
    db.changed(dst, "rename_to", "g")
    return 1 if nx else OK


def rename_command(c: "Session", argv: list[bytes]) -> Any:
    return _rename(c, argv, False)


def renamenx_command(c: "Session", argv: list[bytes]) -> Any:
    return _rename(c, argv, True)


def move_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if eng.config["cluster-enabled"]:
        raise ErrorReply("ERR MOVE is not allowed in cluster mode")
    src = c.db
    dst = db_by_index(c, argv[2])
    if src is dst:
        raise SAME_OBJECT
    key = argv[1]
    value = src.get_for_write(key)
    if value is None:
        return 0
    expire = src.expires.get(key)
    lru = src.lru.get(key)
    if dst.get_for_write(key) is not None:
        return 0
    dst.add(key, value)
    if expire is not None:
        dst.set_expire(key, expire)
    if lru is not None:
        dst.lru[key] = lru
    src.delete(key)
    src.changed(key, "move_from", "g", dirty=0)
    dst.changed(key, "move_to", "g")
    return 1


def duplicate(value: Any) -> Any:
    """A deep copy that keeps the encoding, as COPY's per-type dup functions do."""
    t = type(value)
    if t is bytes:
        return value
    if t is MutableString:
        return MutableString(value.buf)
    if t is HashValue:
        h = HashValue(value)
        h.encoding = value.encoding
        return h
    if t is SetValue:
        s = SetValue(value)
        s.encoding = value.encoding
        return s
    if t is ZSetValue:
        z = ZSetValue()
        z.scores = dict(value.scores)
        z.order = value.order.copy()
        z.encoding = value.encoding
        return z
    if t is ListValue:
        return ListValue(value)
    dup = getattr(value, "dup", None)
    if dup is not None:
        return dup()
    return copy.deepcopy(value)


def copy_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    src = dst = c.db
    replace = False
    j, n = 3, len(argv)
    while j < n:
        opt = argv[j].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and j + 1 < n:
            dst = db_by_index(c, argv[j + 1])
            j += 1
        else:
            raise SYNTAX
        j += 1
    if eng.config["cluster-enabled"] and (src.id != 0 or dst.id != 0):
        raise ErrorReply("ERR Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise SAME_OBJECT
    value = src.get(key)
    if value is None:
        return 0
    expire = src.expires.get(key)
    exists = dst.get_for_write(newkey) is not None
    if exists and not replace:
        return 0
    newvalue = duplicate(value)
    try:
        c.work += len(value)
    except TypeError:
        c.work += 1
    if exists:
        dst.delete(newkey)
    dst.add(newkey, newvalue)
    if expire is not None:
        dst.set_expire(newkey, expire)
    dst.changed(newkey, "copy_to", "g")
    return 1


# ---------------------------------------------------------------------------------------------
# OBJECT


def _object_lookup(c: "Session", key: bytes) -> Any:
    return lookup_notouch(c, c.db, key, notify=False)


def object_encoding_command(c: "Session", argv: list[bytes]) -> Any:
    from ..values import encoding_of

    value = _object_lookup(c, argv[2])
    return None if value is None else encoding_of(value).encode()


def object_refcount_command(c: "Session", argv: list[bytes]) -> Any:
    value = _object_lookup(c, argv[2])
    if value is None:
        return None
    if type(value) is bytes and string_encoding(value) == "int" \
            and 0 <= int(value) < SHARED_INTEGERS:
        config = c.engine.config
        if not (config["maxmemory"] and config["maxmemory-policy"] in NO_SHARED_POLICIES):
            return SHARED_REFCOUNT
    return 1


def object_idletime_command(c: "Session", argv: list[bytes]) -> Any:
    key = argv[2]
    value = _object_lookup(c, key)
    if value is None:
        return None
    eng = c.engine
    if eng.config["maxmemory-policy"] in LFU_POLICIES:
        raise LFU_SELECTED
    clock = eng.lru_clock
    stamp = c.db.lru.get(key, clock)
    if clock >= stamp:
        return clock - stamp
    return clock + (LRU_CLOCK_MAX - stamp)


def object_freq_command(c: "Session", argv: list[bytes]) -> Any:
    key = argv[2]
    value = _object_lookup(c, key)
    if value is None:
        return None
    eng = c.engine
    if eng.config["maxmemory-policy"] not in LFU_POLICIES:
        raise NO_LFU
    freq = eng.extensions.get("object_freq")
    if freq is not None:
        return freq(c.db, key)
    # robj.lru under LFU: 16 bits of minutes since the epoch (mod 2**16), then an 8-bit
    # logarithmic counter that loses one per lfu-decay-time minutes without access.
    data = c.db.lru.get(key, 0)
    last, counter = data >> 8, data & 255
    now = (eng.clock.time_ms() // 60000) & 65535
    elapsed = now - last if now >= last else 65535 - last + now
    decay = eng.config["lfu-decay-time"]
    periods = elapsed // decay if decay else 0
    return max(0, counter - periods)


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Show which internal representation holds the value stored at <key>",
    "    (int, embstr, raw, listpack, quicklist, intset, hashtable, skiplist ...).",
    "FREQ <key>",
    "    Show the logarithmic access-frequency counter of <key>. It is only kept",
    "    while an LFU maxmemory policy is selected.",
    "IDLETIME <key>",
    "    Show about how many seconds went by since <key> was last read or written.",
    "    It is not kept while an LFU maxmemory policy is selected.",
    "REFCOUNT <key>",
    "    Show how many references point to the value at <key>; the shared small",
    "    integers report a huge count.",
    "HELP",
    "    Prints this help.",
]


def object_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in _OBJECT_HELP]


# ---------------------------------------------------------------------------------------------
# WAIT


def wait_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if eng.is_replica:
        raise ErrorReply(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis "
            "4.0 if a replica is configured to be writable (which is not the default) writes "
            "to replicas are just local and are not propagated.")
    numreplicas = to_int(argv[1])
    timeout = to_int(argv[2], ErrorReply("ERR timeout is not an integer or out of range"))
    if timeout < 0:
        raise ErrorReply("ERR timeout is negative")
    wait = eng.extensions.get("wait")
    if wait is not None:
        return wait(c, numreplicas, timeout)
    # Without replicas nobody can acknowledge anything.
    return 0
