"""Set commands (t_set.c): membership, random picks and pops, moves, and set algebra.

A set is a :class:`SetValue` (a Python set of bytes). Its ``encoding`` is ``intset`` while
every member is a canonical 64-bit integer and there are at most ``set-max-intset-entries``
of them; the first non-integer member or one member too many turns it into a ``hashtable``
for good. An intset is a sorted array, so Redis walks it in numeric order: every reply that
iterates an intset lists the members sorted by value, and so do we. A hashtable's order
depends on Redis's random hash seed, so for those no order is promised.

Commands that build a new set (SINTERSTORE, SUNION, SDIFF ...) start from an empty intset
and add members one by one, exactly as Redis does, so their result may be compact again.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Iterable

from ...protocol.reply import ErrorReply, SetReply
from ..args import LLONG_MAX, OUT_OF_RANGE, SYNTAX, parse_int, to_int
from ..events import EncodingChanged
from ..keyspace import WRONGTYPE
from ..values import SetValue
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

RANGE_LONG = ErrorReply("ERR value is out of range, value must between "
                        "-9223372036854775807 and 9223372036854775807")
NUMKEYS = ErrorReply("ERR numkeys should be greater than 0")
TOO_MANY_KEYS = ErrorReply("ERR Number of keys can't be greater than number of args")
LIMIT_NEGATIVE = ErrorReply("ERR LIMIT can't be negative")

# Redis caps the intset length at 2^30 whatever the configuration says (intset internals).
_INTSET_HARD_LIMIT = 1 << 30
# SPOP with a count propagates its removals as SREM commands of at most this many members.
_SPOP_BATCH = 1024
# SPOP rebuilds the set from its survivors once they are at most a fifth of what is popped
# (t_set.c SPOP_MOVE_STRATEGY_MUL).
_SPOP_MOVE_MUL = 5

# Random picks have nothing to do with the engine's determinism (Redis seeds its generator
# from the clock and pid), so a private generator keeps them off the global random module.
_rng = random.Random()

_UNION, _DIFF, _INTER = 0, 1, 2


def _lookup_read(db: "Database", key: bytes) -> SetValue | None:
    v = db.get(key)
    if v is not None and type(v) is not SetValue:
        raise WRONGTYPE
    return v


def _lookup_write(db: "Database", key: bytes) -> SetValue | None:
    v = db.get_for_write(key)
    if v is not None and type(v) is not SetValue:
        raise WRONGTYPE
    return v


def _intset_limit(c: "Session") -> int:
    limit = c.engine.config["set-max-intset-entries"]
    return limit if limit < _INTSET_HARD_LIMIT else _INTSET_HARD_LIMIT


def _notify_del(c: "Session", key: bytes) -> None:
    eng = c.engine
    if eng.notify_mask:
        eng.notify(c.db.id, "g", "del", key)


def _positive_long(data: bytes) -> int:
    """getPositiveLongFromObjectOrReply: junk and negatives get the same complaint."""
    v = parse_int(data)
    if v is None or v < 0:
        raise OUT_OF_RANGE
    return v


# ---------------------------------------------------------------------------------------------
# Encoding

def _convert(c: "Session", key: bytes | None, s: SetValue, reason: str) -> None:
    """setTypeConvert: intset -> hashtable, never back."""
    s.encoding = "hashtable"
    bus = c.engine.bus
    if key is not None and bus.active:
        bus.publish(EncodingChanged(c.db.id, key, "intset", "hashtable", reason))


def _new_set(first: bytes) -> SetValue:
    """setTypeCreate: an intset if the first member is an integer, else a hashtable."""
    s = SetValue()
    if parse_int(first) is None:
        s.encoding = "hashtable"
    return s


def _add_members(c: "Session", key: bytes | None, s: SetValue, members: Iterable[bytes]) -> int:
    """setTypeAdd for each member; returns how many were new. Converts as Redis does."""
    added = 0
    if s.encoding != "intset":
        before = len(s)
        s.update(members)
        return len(s) - before
    limit = _intset_limit(c)
    for m in members:
        if m in s:
            continue
        s.add(m)
        added += 1
        if s.encoding == "intset":
            v = parse_int(m)
            if v is None:
                _convert(c, key, s, f"member {_show(m)} is not an integer")
            elif len(s) > limit:
                _convert(c, key, s, f"more than set-max-intset-entries ({limit}) members")
            elif not -32768 <= v <= 32767:
                w = 4 if -2147483648 <= v <= 2147483647 else 8
                if w > s.width:
                    s.width = w
    return added


def _fresh_encoding(c: "Session", members: Iterable[bytes], size: int) -> str:
    """The encoding a set built by adding ``members`` to an empty intset ends up with."""
    if size > _intset_limit(c):
        return "hashtable"
    for m in members:
        if parse_int(m) is None:
            return "hashtable"
    return "intset"


def _build(c: "Session", members: set[bytes], encoding: str) -> SetValue:
    s = SetValue(members)
    s.encoding = encoding
    return s


def _show(member: bytes) -> str:
    text = member[:40].decode("utf-8", "backslashreplace")
    return repr(text + ("..." if len(member) > 40 else ""))


def _ordered(s: set[bytes], encoding: str) -> list[bytes]:
    """Members in the order Redis walks them: numeric for an intset."""
    if encoding == "intset":
        return sorted(s, key=int)
    return list(s)


# ---------------------------------------------------------------------------------------------
# Single-set commands

def sadd_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = _lookup_write(db, key)
    if s is None:
        s = _new_set(argv[2])
        db.add(key, s)
    added = _add_members(c, key, s, argv[2:])
    c.work += len(argv) - 2
    if added:
        db.changed(key, "sadd", "s", dirty=added)
    return added


def srem_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = _lookup_write(db, key)
    if s is None:
        return 0
    deleted = 0
    removed_key = False
    for m in argv[2:]:
        if m in s:
            s.discard(m)
            deleted += 1
            if not s:
                db.delete(key)
                removed_key = True
                break
    c.work += len(argv) - 2
    if deleted:
        db.changed(key, "srem", "s", dirty=deleted)
        if removed_key:
            _notify_del(c, key)
    return deleted


def smembers_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup_read(c.db, argv[1])
    if s is None:
        return SetReply()
    c.work += len(s)
    return SetReply(_ordered(s, s.encoding))


def sismember_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup_read(c.db, argv[1])
    return 1 if s is not None and argv[2] in s else 0


def smismember_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup_read(c.db, argv[1])
    c.work += len(argv) - 2
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


def scard_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup_read(c.db, argv[1])
    return 0 if s is None else len(s)


def smove_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = db.get_for_write(src_key)
    dst = db.get_for_write(dst_key)
    # A missing source answers 0 before the destination's type is even looked at.
    if src is None:
        return 0
    if type(src) is not SetValue or (dst is not None and type(dst) is not SetValue):
        raise WRONGTYPE
    if src is dst:
        return 1 if member in src else 0
    if member not in src:
        return 0
    src.discard(member)
    db.changed(src_key, "srem", "s")
    if not src:
        db.delete(src_key)
        _notify_del(c, src_key)
    if dst is None:
        dst = _new_set(member)
        db.add(dst_key, dst)
    if _add_members(c, dst_key, dst, (member,)):
        db.changed(dst_key, "sadd", "s")
    return 1


# ---------------------------------------------------------------------------------------------
# Random members

def spop_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _spop_with_count(c, argv)
    if len(argv) > 3:
        raise SYNTAX
    db = c.db
    key = argv[1]
    s = _lookup_write(db, key)
    if s is None:
        return None
    member = _rng.choice(tuple(s)) if len(s) > 1 else next(iter(s))
    s.discard(member)
    c.work += 1
    db.changed(key, "spop", "s")
    rewrite(c, [b"SREM", key, member])
    if not s:
        db.delete(key)
        _notify_del(c, key)
    return member


def _spop_with_count(c: "Session", argv: list[bytes]) -> Any:
    count = _positive_long(argv[2])
    db = c.db
    key = argv[1]
    s = _lookup_write(db, key)
    if s is None or count == 0:
        return SetReply()
    size = len(s)
    db.changed(key, "spop", "s", dirty=min(count, size))
    if count >= size:
        # The whole set goes, listed as SUNION would list it (a fresh set built from it).
        members = _ordered(s, _fresh_encoding(c, s, size))
        c.work += size
        db.delete(key)
        _notify_del(c, key)
        rewrite(c, [b"DEL", key])
        return SetReply(members)
    remaining = size - count
    if remaining * _SPOP_MOVE_MUL <= count:
        # Few members stay: Redis picks the survivors and rebuilds the set from them, so the
        # new value gets its encoding afresh (a hashtable may come back as an intset).
        keep = _rng.sample(tuple(s), remaining)
        old_encoding = s.encoding
        popped = s.difference(keep)
        reply = _ordered(popped, old_encoding)
        s.clear()
        s.update(keep)
        s.width = 2
        new_encoding = _fresh_encoding(c, keep, remaining)
        s.encoding = new_encoding
        if new_encoding != old_encoding and c.engine.bus.active:
            c.engine.bus.publish(EncodingChanged(
                db.id, key, old_encoding, new_encoding,
                "SPOP rebuilt the set from the members that remain"))
    else:
        reply = _rng.sample(tuple(s), count)
        s.difference_update(reply)
    c.work += count
    if c.engine.propagate_hooks:
        rewrite(c, *([b"SREM", key] + reply[i:i + _SPOP_BATCH]
                     for i in range(0, len(reply), _SPOP_BATCH)))
    return SetReply(reply)


def srandmember_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 3:
        return _srandmember_with_count(c, argv)
    if len(argv) > 3:
        raise SYNTAX
    s = _lookup_read(c.db, argv[1])
    if s is None:
        return None
    return _rng.choice(tuple(s)) if len(s) > 1 else next(iter(s))


def _srandmember_with_count(c: "Session", argv: list[bytes]) -> Any:
    n = to_int(argv[2])
    if n < -LLONG_MAX:
        raise RANGE_LONG
    s = _lookup_read(c.db, argv[1])
    if s is None or n == 0:
        return []
    size = len(s)
    if n < 0 or n == 1:
        # Negative count: independent picks, repeats allowed.
        count = -n if n < 0 else 1
        pool = tuple(s)
        c.work += count
        return [pool[i] for i in (_rng.randrange(size) for _ in range(count))] \
            if size > 1 else [pool[0]] * count
    if n >= size:
        c.work += size
        return _ordered(s, s.encoding)
    c.work += n
    return _rng.sample(tuple(s), n)


# ---------------------------------------------------------------------------------------------
# Set algebra

def _load_sets(c: "Session", keys: list[bytes], for_write: bool) -> list[SetValue | None]:
    """Look every key up (all are type-checked, a missing key is an empty set)."""
    db = c.db
    get = db.get_for_write if for_write else db.get
    out: list[SetValue | None] = []
    for key in keys:
        v = get(key)
        if v is not None and type(v) is not SetValue:
            raise WRONGTYPE
        out.append(v)
    return out


def _inter_generic(c: "Session", keys: list[bytes], dst: bytes | None,
                   cardinality_only: bool = False, limit: int = 0) -> Any:
    """sinterGenericCommand: SINTER, SINTERSTORE, SINTERCARD and SMEMBERS' shape."""
    sets = _load_sets(c, keys, dst is not None)
    db = c.db
    if any(s is None for s in sets):
        if dst is not None:
            if db.delete(dst):
                db.changed(dst, "del", "g")
            return 0
        return 0 if cardinality_only else SetReply()
    # Smallest first (a stable sort, like glibc's merge-sort qsort).
    ordered: list[SetValue] = sorted(sets, key=len)  # type: ignore[arg-type]
    first = ordered[0]
    others = [s for s in ordered[1:] if s is not first]
    c.work += len(first)
    if cardinality_only:
        count = 0
        for m in first:
            for o in others:
                if m not in o:
                    break
            else:
                count += 1
                if limit and count >= limit:
                    break
        return count
    if others:
        result = [m for m in _ordered(first, first.encoding) if all(m in o for o in others)]
    else:
        result = _ordered(first, first.encoding)
    if dst is None:
        return SetReply(result)
    if not result:
        if db.delete(dst):
            db.changed(dst, "del", "g")
        return 0
    members = set(result)
    db.set(dst, _build(c, members, _fresh_encoding(c, members, len(members))))
    db.changed(dst, "sinterstore", "s")
    return len(members)


def _union_diff_generic(c: "Session", keys: list[bytes], dst: bytes | None, op: int) -> Any:
    """sunionDiffGenericCommand: SUNION, SDIFF and their STORE variants."""
    sets = _load_sets(c, keys, dst is not None)
    first = sets[0]
    encoding = "intset"
    if op == _UNION:
        result: set[bytes] = set()
        for s in sets:
            if s is not None:
                result |= s
                c.work += len(s)
        encoding = _fresh_encoding(c, result, len(result))
    elif first is None or any(s is first for s in sets[1:]):
        result = set()
    else:
        others = [s for s in sets[1:] if s is not None]
        # Redis picks one of two algorithms by estimated work (missing keys do not count);
        # the second one copies the whole first set before removing, which decides the
        # result's encoding.
        algo_one = len(first) * (len(others) + 1) // 2
        algo_two = len(first) + sum(len(s) for s in others)
        c.work += min(algo_one * 2, algo_two)
        result = set(first)
        for o in others:
            result -= o
        if algo_one <= algo_two:
            encoding = _fresh_encoding(c, result, len(result))
        else:
            encoding = _fresh_encoding(c, first, len(first))
    if dst is None:
        return SetReply(_ordered(result, encoding))
    db = c.db
    if not result:
        if db.delete(dst):
            db.changed(dst, "del", "g")
        return 0
    db.set(dst, _build(c, result, encoding))
    db.changed(dst, "sunionstore" if op == _UNION else "sdiffstore", "s")
    return len(result)


def sinter_command(c: "Session", argv: list[bytes]) -> Any:
    return _inter_generic(c, argv[1:], None)


def sinterstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _inter_generic(c, argv[2:], argv[1])


def sintercard_command(c: "Session", argv: list[bytes]) -> Any:
    numkeys = parse_int(argv[1])
    if numkeys is None or numkeys < 1:
        raise NUMKEYS
    if numkeys > len(argv) - 2:
        raise TOO_MANY_KEYS
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].upper() == b"LIMIT" and j + 1 < len(argv):
            j += 1
            limit = parse_int(argv[j])  # type: ignore[assignment]
            if limit is None or limit < 0:
                raise LIMIT_NEGATIVE
        else:
            raise SYNTAX
        j += 1
    return _inter_generic(c, argv[2:2 + numkeys], None, True, limit)


def sunion_command(c: "Session", argv: list[bytes]) -> Any:
    return _union_diff_generic(c, argv[1:], None, _UNION)


def sunionstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _union_diff_generic(c, argv[2:], argv[1], _UNION)


def sdiff_command(c: "Session", argv: list[bytes]) -> Any:
    return _union_diff_generic(c, argv[1:], None, _DIFF)


def sdiffstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _union_diff_generic(c, argv[2:], argv[1], _DIFF)
