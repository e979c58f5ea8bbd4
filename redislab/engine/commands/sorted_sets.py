"""Sorted set commands (t_zset.c): scores, ranks, score and lex ranges, pops, set algebra.

A sorted set is a :class:`ZSetValue`: a dict from member to score plus a sorted list of
``(score, member)`` pairs, ordered as Redis orders them (by score, then by the member's bytes).
Its ``encoding`` is ``listpack`` while it holds at most ``zset-max-listpack-entries`` members
none longer than ``zset-max-listpack-value`` bytes, and ``skiplist`` for good once an insert
would break either limit. Commands that store a new sorted set (ZRANGESTORE, ZUNIONSTORE ...)
pick the compact encoding again whenever the result fits.

The pop logic is shared with the blocking variants: :func:`_zpop_generic` (ZPOPMIN, ZPOPMAX,
ZMPOP; BZPOPMIN/BZPOPMAX pass one ready key) and :func:`_zmpop_parse` /
:func:`_zmpop_generic` (ZMPOP; BZMPOP parses from the index after its timeout).
"""

from __future__ import annotations

import math
import random
import re
from typing import TYPE_CHECKING, Any, Iterable

from sortedcontainers import SortedList

from ...protocol.reply import NULL_ARRAY, Double, ErrorReply
from .. import errors
from ..args import LLONG_MAX, OUT_OF_RANGE, SYNTAX, parse_float, parse_int, to_int
from ..events import EncodingChanged
from ..keyspace import WRONGTYPE
from ..values import SetValue, ZSetValue
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NOT_FLOAT = ErrorReply(errors.NOT_FLOAT)
MIN_MAX_NOT_FLOAT = ErrorReply(errors.MIN_MAX_NOT_FLOAT)
MIN_MAX_NOT_STRING = ErrorReply(errors.MIN_MAX_NOT_STRING)
NAN_SCORE = ErrorReply("ERR resulting score is not a number (NaN)")
XX_AND_NX = ErrorReply("ERR XX and NX options at the same time are not compatible")
GT_LT_NX = ErrorReply("ERR GT, LT, and/or NX options at the same time are not compatible")
INCR_SINGLE = ErrorReply("ERR INCR option supports a single increment-element pair")
LIMIT_NEEDS_BY = ErrorReply("ERR syntax error, LIMIT is only supported in combination with "
                            "either BYSCORE or BYLEX")
WITHSCORES_BYLEX = ErrorReply("ERR syntax error, WITHSCORES not supported in combination "
                              "with BYLEX")
WEIGHT_NOT_FLOAT = ErrorReply("ERR weight value is not a float")
NUMKEYS = ErrorReply("ERR numkeys should be greater than 0")
COUNT_POSITIVE = ErrorReply(errors.COUNT_POSITIVE)
LIMIT_NEGATIVE = ErrorReply("ERR LIMIT can't be negative")
RANGE = ErrorReply("ERR value is out of range")
RANGE_LONG = ErrorReply("ERR value is out of range, value must between "
                        "-9223372036854775807 and 9223372036854775807")

_INF = math.inf
_LONG_MAX_HALF = LLONG_MAX // 2

# ZADD flags (t_zset.c ZADD_IN_* / ZADD_OUT_*).
_NX, _XX, _GT, _LT, _INCR = 1, 2, 4, 8, 16
_OUT_NOP, _OUT_ADDED, _OUT_UPDATED = 1, 2, 4

# Range kinds and directions of zrangeGenericCommand.
_AUTO, _RANK, _SCORE, _LEX = 0, 1, 2, 3
_FORWARD, _REVERSE = 1, 2

_UNION, _INTER, _DIFF = 0, 1, 2
_SUM, _MIN, _MAX = 0, 1, 2

# ZRANDMEMBER's picks have nothing to do with the engine's determinism (Redis seeds its
# generator from the clock and pid), so a private generator keeps them off the global one.
_rng = random.Random()


def _positive_long(data: bytes) -> int:
    """getPositiveLongFromObjectOrReply: junk and negatives get the same complaint."""
    v = parse_int(data)
    if v is None or v < 0:
        raise OUT_OF_RANGE
    return v


# ---------------------------------------------------------------------------------------------
# Parsing numbers and ranges

def _score_arg(data: bytes) -> float | None:
    """getDoubleFromObject: a strict double; NaN, overflow and underflow to zero refused."""
    if data.isdigit() and len(data) < 300:
        return float(data)
    try:
        v = parse_float(data)
    except OverflowError:  # a hex float beyond the double range: strtod's ERANGE
        return None
    if v is None:
        return None
    if v == _INF or v == -_INF:
        if data.lstrip(b"+-")[:3].lower() != b"inf":
            return None  # strtod overflowed (ERANGE)
    elif v == 0.0 and _nonzero_mantissa(data):
        return None  # strtod underflowed to zero (ERANGE)
    return v


def _nonzero_mantissa(data: bytes) -> bool:
    body = data.lstrip(b"+-")
    if body[:2].lower() == b"0x":
        mantissa = body[2:].lower().split(b"p", 1)[0]
        return any(ch not in b"0." for ch in mantissa)
    mantissa = body.lower().split(b"e", 1)[0]
    return any(ch not in b"0." for ch in mantissa)


# strtod's grammar, as far as zslParseRange relies on it: leading spaces, then a decimal,
# hex, inf or nan number. Whatever follows must be the end of the string (or a NUL byte).
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:inf(?:inity)?|nan(?:\([0-9a-z_]*\))?"
    rb"|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?))", re.IGNORECASE)


def _strtod_bound(data: bytes) -> float | None:
    """One end of a score range: strtod, then nothing but the end of the C string."""
    m = _STRTOD.match(data)
    if m is None:
        # No conversion: strtod gives 0 and points at the start of the string.
        return 0.0 if not data or data[0] == 0 else None
    end = m.end()
    if end < len(data) and data[end] != 0:
        return None
    text = m.group(1)
    body = text.lstrip(b"+-")
    if body[:2].lower() == b"0x":
        s = text.decode()
        try:
            v = float.fromhex(s if "p" in s.lower() else s + "p0")
        except OverflowError:
            v = -_INF if s[0] == "-" else _INF
    elif body[:3].lower() == b"nan":
        return None
    else:
        v = float(text)
    return v


def _parse_score_range(lo: bytes, hi: bytes) -> tuple[float, bool, float, bool]:
    """zslParseRange: ``(`` makes an end exclusive; NaN or junk is an error."""
    out: list[Any] = []
    for arg in (lo, hi):
        ex = arg[:1] == b"("
        v = _strtod_bound(arg[1:] if ex else arg)
        if v is None:
            raise MIN_MAX_NOT_FLOAT
        out += (v, ex)
    return out[0], out[1], out[2], out[3]


def _score_span(z: ZSetValue, mn: float, mnex: bool, mx: float, mxex: bool) -> tuple[int, int]:
    """Indices [lo, hi) of the members whose score is inside the range."""
    if mn > mx or (mn == mx and (mnex or mxex)):
        return 0, 0
    order = z.order
    if mnex:
        if mn == _INF:
            return 0, 0
        lo = order.bisect_left((math.nextafter(mn, _INF), b""))
    else:
        lo = order.bisect_left((mn, b""))
    if mxex:
        hi = order.bisect_left((mx, b""))
    elif mx == _INF:
        hi = len(order)
    else:
        hi = order.bisect_left((math.nextafter(mx, _INF), b""))
    return lo, max(lo, hi)


# A lex bound is (kind, value, exclusive): kind -1 is "-", 1 is "+", 0 a real string.
LexBound = tuple[int, bytes, bool]


def _lex_item(arg: bytes) -> LexBound:
    """zslParseLexRangeItem."""
    c = arg[:1]
    if c == b"+" or c == b"-":
        if len(arg) > 1 and arg[1] != 0:
            raise MIN_MAX_NOT_STRING
        return (1 if c == b"+" else -1), b"", True
    if c == b"(":
        return 0, arg[1:], True
    if c == b"[":
        return 0, arg[1:], False
    raise MIN_MAX_NOT_STRING


def _parse_lex_range(lo: bytes, hi: bytes) -> tuple[LexBound, LexBound]:
    return _lex_item(lo), _lex_item(hi)


def _cmp_member(member: bytes, bound: LexBound) -> int:
    kind = bound[0]
    if kind:
        return -kind
    b = bound[1]
    return (member > b) - (member < b)


def _gte_min(member: bytes, mn: LexBound) -> bool:
    c = _cmp_member(member, mn)
    return c > 0 if mn[2] else c >= 0


def _lte_max(member: bytes, mx: LexBound) -> bool:
    c = _cmp_member(member, mx)
    return c < 0 if mx[2] else c <= 0


def _lex_empty(mn: LexBound, mx: LexBound) -> bool:
    """sdscmplex(min, max) > 0, or equal with an exclusive end."""
    if mn[0] and mn[0] == mx[0]:
        cmp = 0
    elif mn[0] == -1 or mx[0] == 1:
        cmp = -1
    elif mn[0] == 1 or mx[0] == -1:
        cmp = 1
    else:
        cmp = (mn[1] > mx[1]) - (mn[1] < mx[1])
    return cmp > 0 or (cmp == 0 and (mn[2] or mx[2]))


def _lex_in_range(z: ZSetValue, mn: LexBound, mx: LexBound) -> bool:
    """zzlIsInLexRange / zslIsInLexRange: the quick tests on both ends."""
    if _lex_empty(mn, mx) or not z.scores:
        return False
    order = z.order
    return _gte_min(order[-1][1], mn) and _lte_max(order[0][1], mx)


def _lex_first(z: ZSetValue, mn: LexBound, mx: LexBound) -> int | None:
    """Index of the first member in the lex range (zzlFirstInLexRange)."""
    if not _lex_in_range(z, mn, mx):
        return None
    order = z.order
    if z.encoding == "listpack":
        # A listpack is scanned from its head, so sets whose scores differ (where lex order
        # is not the set's order) give exactly Redis's answer.
        for i, (_, m) in enumerate(order):
            if _gte_min(m, mn):
                return i if _lte_max(m, mx) else None
        return None
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if _gte_min(order[mid][1], mn):
            hi = mid
        else:
            lo = mid + 1
    if lo == len(order) or not _lte_max(order[lo][1], mx):
        return None
    return lo


def _lex_last(z: ZSetValue, mn: LexBound, mx: LexBound) -> int | None:
    """Index of the last member in the lex range (zzlLastInLexRange)."""
    if not _lex_in_range(z, mn, mx):
        return None
    order = z.order
    if z.encoding == "listpack":
        for i in range(len(order) - 1, -1, -1):
            m = order[i][1]
            if _lte_max(m, mx):
                return i if _gte_min(m, mn) else None
        return None
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if _lte_max(order[mid][1], mx):
            lo = mid + 1
        else:
            hi = mid
    last = lo - 1
    if last < 0 or not _gte_min(order[last][1], mn):
        return None
    return last


def _lex_forward(z: ZSetValue, mn: LexBound, mx: LexBound, offset: int = 0,
                 limit: int = -1) -> list[tuple[float, bytes]]:
    """From the first member in range, skip ``offset``, then take while <= max."""
    first = _lex_first(z, mn, mx)
    if first is None or offset < 0:
        return []
    out = []
    for item in z.order.islice(first + offset):
        if not limit:
            break
        if not _lte_max(item[1], mx):
            break
        out.append(item)
        limit -= 1
    return out


def _lex_backward(z: ZSetValue, mn: LexBound, mx: LexBound, offset: int = 0,
                  limit: int = -1) -> list[tuple[float, bytes]]:
    last = _lex_last(z, mn, mx)
    if last is None or offset < 0 or offset > last:
        return []
    out = []
    for item in z.order.islice(0, last - offset + 1, reverse=True):
        if not limit:
            break
        if not _gte_min(item[1], mn):
            break
        out.append(item)
        limit -= 1
    return out


def _rank_span(n: int, start: int, end: int) -> tuple[int, int] | None:
    """Redis's index sanitising for rank ranges: (start, end) inclusive, or None if empty."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end


# ---------------------------------------------------------------------------------------------
# Lookups, encoding, storing

def _lookup_read(db: "Database", key: bytes) -> ZSetValue | None:
    v = db.get(key)
    if v is not None and type(v) is not ZSetValue:
        raise WRONGTYPE
    return v


def _lookup_write(db: "Database", key: bytes) -> ZSetValue | None:
    v = db.get_for_write(key)
    if v is not None and type(v) is not ZSetValue:
        raise WRONGTYPE
    return v


def _notify_del(c: "Session", key: bytes) -> None:
    eng = c.engine
    if eng.notify_mask:
        eng.notify(c.db.id, "g", "del", key)


def _new_zset(c: "Session", first_member: bytes) -> ZSetValue:
    """zsetTypeCreate as ZADD calls it: a skiplist at once if the first member is too long."""
    z = ZSetValue()
    cfg = c.engine.config
    if cfg["zset-max-listpack-entries"] == 0 or \
            len(first_member) > cfg["zset-max-listpack-value"]:
        z.encoding = "skiplist"
    return z


def _convert(c: "Session", key: bytes, z: ZSetValue, reason: str) -> None:
    z.encoding = "skiplist"
    bus = c.engine.bus
    if bus.active:
        bus.publish(EncodingChanged(c.db.id, key, "listpack", "skiplist", reason))


def _zset_add(c: "Session", key: bytes, z: ZSetValue, score: float, member: bytes,
              flags: int) -> tuple[int, float]:
    """zsetAdd: returns (outcome flags, resulting score); raises on a NaN result."""
    scores = z.scores
    cur = scores.get(member)
    if cur is not None:
        if flags & _NX:
            return _OUT_NOP, cur
        if flags & _INCR:
            score += cur
            if score != score:
                raise NAN_SCORE
        if (flags & _LT and score >= cur) or (flags & _GT and score <= cur):
            return _OUT_NOP, cur
        if score != cur:
            stored = score
            if stored == 0.0 and z.encoding == "listpack":
                stored = 0.0  # a listpack keeps integral scores as integers: -0 becomes 0
            order = z.order
            order.remove((cur, member))
            scores[member] = stored
            order.add((stored, member))
            return _OUT_UPDATED, score
        return 0, score
    if flags & _XX:
        return _OUT_NOP, score
    if z.encoding == "listpack":
        cfg = c.engine.config
        entries = cfg["zset-max-listpack-entries"]
        value = cfg["zset-max-listpack-value"]
        if len(scores) + 1 > entries:
            _convert(c, key, z, f"more than zset-max-listpack-entries ({entries}) members")
        elif len(member) > value:
            _convert(c, key, z, f"a member longer than zset-max-listpack-value ({value} bytes)")
    stored = score
    if stored == 0.0 and z.encoding == "listpack":
        stored = 0.0
    scores[member] = stored
    z.order.add((stored, member))
    return _OUT_ADDED, score


def _fresh_zset(c: "Session", items: list[tuple[float, bytes]]) -> ZSetValue:
    """A new sorted set holding ``items``, with the encoding a freshly built one gets."""
    z = ZSetValue()
    cfg = c.engine.config
    if len(items) > cfg["zset-max-listpack-entries"]:
        z.encoding = "skiplist"
    else:
        limit = cfg["zset-max-listpack-value"]
        for _, m in items:
            if len(m) > limit:
                z.encoding = "skiplist"
                break
        else:
            # Integral scores are stored as integers in a listpack, so -0 reads back as 0.
            items = [(0.0, m) if s == 0.0 else (s, m) for s, m in items]
    z.scores = {m: s for s, m in items}
    z.order = SortedList(items)
    return z


def _store(c: "Session", dst: bytes, items: list[tuple[float, bytes]], event: str) -> int:
    """Store a result (setKey), or delete the destination when the result is empty."""
    db = c.db
    if not items:
        if db.delete(dst):
            db.changed(dst, "del", "g")
        return 0
    db.set(dst, _fresh_zset(c, items))
    db.changed(dst, event, "z")
    db.signal_ready(dst)
    return len(items)


def _reply_items(c: "Session", items: Iterable[tuple[float, bytes]], withscores: bool) -> list:
    """Members, or members and scores: flat in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return [m for _, m in items]
    if c.resp > 2:
        return [[m, Double(s)] for s, m in items]
    out: list[Any] = []
    for s, m in items:
        out.append(m)
        out.append(Double(s))
    return out


def _delete_span(z: ZSetValue, lo: int, hi: int) -> int:
    order = z.order
    removed = order[lo:hi]
    del order[lo:hi]
    scores = z.scores
    for _, m in removed:
        del scores[m]
    return len(removed)


# ---------------------------------------------------------------------------------------------
# ZADD / ZINCRBY

def _zadd_generic(c: "Session", argv: list[bytes], flags: int) -> Any:
    n = len(argv)
    i = 2
    ch = False
    while i < n:
        opt = argv[i].upper()
        if opt == b"NX":
            flags |= _NX
        elif opt == b"XX":
            flags |= _XX
        elif opt == b"CH":
            ch = True
        elif opt == b"INCR":
            flags |= _INCR
        elif opt == b"GT":
            flags |= _GT
        elif opt == b"LT":
            flags |= _LT
        else:
            break
        i += 1
    elements = n - i
    if elements % 2 or not elements:
        raise SYNTAX
    elements //= 2
    if flags & _NX and flags & _XX:
        raise XX_AND_NX
    if (flags & _GT and flags & (_NX | _LT)) or (flags & _LT and flags & _NX):
        raise GT_LT_NX
    incr = flags & _INCR
    if incr and elements > 1:
        raise INCR_SINGLE
    scores = []
    for j in range(i, n, 2):
        s = _score_arg(argv[j])
        if s is None:
            raise NOT_FLOAT
        scores.append(s)
    db = c.db
    key = argv[1]
    z = _lookup_write(db, key)
    added = updated = processed = 0
    score = 0.0
    if z is None:
        if flags & _XX:
            return None if incr else 0
        z = _new_zset(c, argv[i + 1])
        db.add(key, z)
    try:
        for k in range(elements):
            out, score = _zset_add(c, key, z, scores[k], argv[i + 1 + 2 * k], flags)
            if out & _OUT_ADDED:
                added += 1
            elif out & _OUT_UPDATED:
                updated += 1
            if not out & _OUT_NOP:
                processed += 1
    finally:
        c.work += elements
        if added or updated:
            db.changed(key, "zincr" if incr else "zadd", "z", dirty=added + updated)
            db.signal_ready(key)
    if incr:
        return Double(score) if processed else None
    return added + updated if ch else added


def zadd_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 4:
        # The common "ZADD key score member": a number cannot be an option word.
        score = _score_arg(argv[2])
        if score is not None:
            db = c.db
            key = argv[1]
            z = db.get_for_write(key)
            if z is None:
                z = _new_zset(c, argv[3])
                db.add(key, z)
            elif type(z) is not ZSetValue:
                raise WRONGTYPE
            c.work += 1
            out = _zset_add(c, key, z, score, argv[3], 0)[0]
            if out & (_OUT_ADDED | _OUT_UPDATED):
                db.changed(key, "zadd", "z")
                db.signal_ready(key)
            return 1 if out & _OUT_ADDED else 0
    return _zadd_generic(c, argv, 0)


def zincrby_command(c: "Session", argv: list[bytes]) -> Any:
    return _zadd_generic(c, argv, _INCR)


# ---------------------------------------------------------------------------------------------
# Reading single members

def zcard_command(c: "Session", argv: list[bytes]) -> Any:
    z = _lookup_read(c.db, argv[1])
    return 0 if z is None else len(z.scores)


def zscore_command(c: "Session", argv: list[bytes]) -> Any:
    z = _lookup_read(c.db, argv[1])
    if z is None:
        return None
    s = z.scores.get(argv[2])
    return None if s is None else Double(s)


def zmscore_command(c: "Session", argv: list[bytes]) -> Any:
    z = _lookup_read(c.db, argv[1])
    c.work += len(argv) - 2
    if z is None:
        return [None] * (len(argv) - 2)
    get = z.scores.get
    out: list[Any] = []
    for m in argv[2:]:
        s = get(m)
        out.append(None if s is None else Double(s))
    return out


def _zrank_generic(c: "Session", argv: list[bytes], reverse: bool) -> Any:
    z = _lookup_read(c.db, argv[1])
    if z is None:
        return None
    rank = z.rank(argv[2])
    if rank is None:
        return None
    return len(z.scores) - 1 - rank if reverse else rank


def zrank_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrank_generic(c, argv, False)


def zrevrank_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrank_generic(c, argv, True)


def zcount_command(c: "Session", argv: list[bytes]) -> Any:
    mn, mnex, mx, mxex = _parse_score_range(argv[2], argv[3])
    z = _lookup_read(c.db, argv[1])
    if z is None:
        return 0
    lo, hi = _score_span(z, mn, mnex, mx, mxex)
    return hi - lo


def zlexcount_command(c: "Session", argv: list[bytes]) -> Any:
    mn, mx = _parse_lex_range(argv[2], argv[3])
    z = _lookup_read(c.db, argv[1])
    if z is None:
        return 0
    if z.encoding == "listpack":
        items = _lex_forward(z, mn, mx)
        c.work += len(items)
        return len(items)
    first = _lex_first(z, mn, mx)
    if first is None:
        return 0
    count = len(z.scores) - first
    last = _lex_last(z, mn, mx)
    if last is not None:
        count -= len(z.scores) - 1 - last
    return count


# ---------------------------------------------------------------------------------------------
# ZRANGE and its family (zrangeGenericCommand)

def _zrange_generic(c: "Session", argv: list[bytes], start: int, store: bool, rangetype: int,
                    direction: int) -> Any:
    key = argv[start]
    minidx, maxidx = start + 1, start + 2
    withscores = False
    offset, limit = 0, -1
    n = len(argv)
    j = start + 3
    while j < n:
        opt = argv[j].upper()
        if not store and opt == b"WITHSCORES":
            withscores = True
        elif opt == b"LIMIT" and n - j - 1 >= 2:
            offset = to_int(argv[j + 1])
            limit = to_int(argv[j + 2])
            j += 2
        elif direction == _AUTO and opt == b"REV":
            direction = _REVERSE
        elif rangetype == _AUTO and opt == b"BYLEX":
            rangetype = _LEX
        elif rangetype == _AUTO and opt == b"BYSCORE":
            rangetype = _SCORE
        else:
            raise SYNTAX
        j += 1
    if direction == _AUTO:
        direction = _FORWARD
    if rangetype == _AUTO:
        rangetype = _RANK
    if limit != -1 and rangetype == _RANK:
        raise LIMIT_NEEDS_BY
    if withscores and rangetype == _LEX:
        raise WITHSCORES_BYLEX
    reverse = direction == _REVERSE
    if reverse and rangetype != _RANK:
        minidx, maxidx = maxidx, minidx
    if rangetype == _RANK:
        rstart = to_int(argv[minidx])
        rend = to_int(argv[maxidx])
    elif rangetype == _SCORE:
        srange = _parse_score_range(argv[minidx], argv[maxidx])
    else:
        lrange = _parse_lex_range(argv[minidx], argv[maxidx])
    z = c.db.get(key)
    if z is None:
        return _store(c, argv[1], [], "zrangestore") if store else []
    if type(z) is not ZSetValue:
        raise WRONGTYPE
    items: list[tuple[float, bytes]]
    if rangetype == _RANK:
        size = len(z.scores)
        span = _rank_span(size, rstart, rend)
        if span is None:
            items = []
        elif reverse:
            items = list(z.order.islice(size - 1 - span[1], size - span[0], reverse=True))
        else:
            items = list(z.order.islice(span[0], span[1] + 1))
    elif rangetype == _SCORE:
        lo, hi = _score_span(z, *srange)
        if offset < 0:
            items = []
        elif reverse:
            top = hi - offset
            bottom = lo if limit < 0 else max(lo, top - limit)
            items = list(z.order.islice(bottom, top, reverse=True)) if bottom < top else []
        else:
            first = lo + offset
            end = hi if limit < 0 else min(hi, first + limit)
            items = list(z.order.islice(first, end)) if first < end else []
    elif reverse:
        items = _lex_backward(z, lrange[0], lrange[1], offset, limit)
    else:
        items = _lex_forward(z, lrange[0], lrange[1], offset, limit)
    c.work += len(items)
    if store:
        return _store(c, argv[1], items, "zrangestore")
    return _reply_items(c, items, withscores)


def zrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _AUTO, _AUTO)


def zrangestore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 2, True, _AUTO, _AUTO)


def zrevrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _RANK, _REVERSE)


def zrangebyscore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _SCORE, _FORWARD)


def zrevrangebyscore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _SCORE, _REVERSE)


def zrangebylex_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _LEX, _FORWARD)


def zrevrangebylex_command(c: "Session", argv: list[bytes]) -> Any:
    return _zrange_generic(c, argv, 1, False, _LEX, _REVERSE)


# ---------------------------------------------------------------------------------------------
# Removing

def zrem_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    z = _lookup_write(db, key)
    if z is None:
        return 0
    deleted = 0
    removed_key = False
    for m in argv[2:]:
        if z.discard(m):
            deleted += 1
            if not z.scores:
                db.delete(key)
                removed_key = True
                break
    c.work += len(argv) - 2
    if deleted:
        db.changed(key, "zrem", "z", dirty=deleted)
        if removed_key:
            _notify_del(c, key)
    return deleted


def _zremrange_generic(c: "Session", argv: list[bytes], rangetype: int) -> Any:
    if rangetype == _RANK:
        rstart = to_int(argv[2])
        rend = to_int(argv[3])
    elif rangetype == _SCORE:
        srange = _parse_score_range(argv[2], argv[3])
    else:
        lrange = _parse_lex_range(argv[2], argv[3])
    db = c.db
    key = argv[1]
    z = _lookup_write(db, key)
    if z is None:
        return 0
    if rangetype == _RANK:
        span = _rank_span(len(z.scores), rstart, rend)
        if span is None:
            return 0
        deleted = _delete_span(z, span[0], span[1] + 1)
        event = "zremrangebyrank"
    elif rangetype == _SCORE:
        lo, hi = _score_span(z, *srange)
        deleted = _delete_span(z, lo, hi)
        event = "zremrangebyscore"
    else:
        first = _lex_first(z, *lrange)
        deleted = 0
        if first is not None:
            hi = first
            for _, m in z.order.islice(first):
                if not _lte_max(m, lrange[1]):
                    break
                hi += 1
            deleted = _delete_span(z, first, hi)
        event = "zremrangebylex"
    c.work += deleted
    if deleted:
        db.changed(key, event, "z", dirty=deleted)
        if not z.scores:
            db.delete(key)
            _notify_del(c, key)
    return deleted


def zremrangebyrank_command(c: "Session", argv: list[bytes]) -> Any:
    return _zremrange_generic(c, argv, _RANK)


def zremrangebyscore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zremrange_generic(c, argv, _SCORE)


def zremrangebylex_command(c: "Session", argv: list[bytes]) -> Any:
    return _zremrange_generic(c, argv, _LEX)


# ---------------------------------------------------------------------------------------------
# Popping (shared with BZPOPMIN, BZPOPMAX and BZMPOP)

def _zpop_generic(c: "Session", keys: list[bytes], where_max: bool, count: int,
                  emit_key: bool, nested: bool,
                  nil_when_empty: bool) -> tuple[Any, bytes | None]:
    """genericZpopCommand: pop from the first of ``keys`` that exists.

    ``count`` -1 means a plain single pop (no COUNT given). ``emit_key`` puts the key in the
    reply (BZPOP*, ZMPOP); ``nested`` gives [member, score] pairs (RESP3 with a count, and
    ZMPOP always). Returns the reply and the key popped from (None if nothing was).
    """
    db = c.db
    key = None
    z = None
    for k in keys:
        v = db.get_for_write(k)
        if v is None:
            continue
        if type(v) is not ZSetValue:
            raise WRONGTYPE
        key, z = k, v
        break
    if z is None or key is None:
        return (NULL_ARRAY if nil_when_empty else []), None
    if count == 0:
        return [], None
    if count == -1:
        count = 1
    order = z.order
    size = len(order)
    n = count if count < size else size
    if where_max:
        popped = list(order.islice(size - n, size, reverse=True))
        del order[size - n:]
    else:
        popped = list(order.islice(0, n))
        del order[:n]
    scores = z.scores
    for _, m in popped:
        del scores[m]
    c.work += n
    db.changed(key, "zpopmax" if where_max else "zpopmin", "z", dirty=n)
    if not scores:
        db.delete(key)
        _notify_del(c, key)
    body: list[Any]
    if nested:
        body = [[m, Double(s)] for s, m in popped]
    else:
        body = []
        for s, m in popped:
            body.append(m)
            body.append(Double(s))
    if not emit_key:
        return body, key
    if nested:
        return [key, body], key
    return [key] + body, key


def _zpop_minmax(c: "Session", argv: list[bytes], where_max: bool) -> Any:
    if len(argv) > 3:
        raise SYNTAX
    count = -1
    if len(argv) == 3:
        count = _positive_long(argv[2])
    reply, _ = _zpop_generic(c, [argv[1]], where_max, count, False,
                             c.resp > 2 and count != -1, False)
    return reply


def zpopmin_command(c: "Session", argv: list[bytes]) -> Any:
    return _zpop_minmax(c, argv, False)


def zpopmax_command(c: "Session", argv: list[bytes]) -> Any:
    return _zpop_minmax(c, argv, True)


def _zmpop_parse(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], bool, int]:
    """ZMPOP/BZMPOP arguments from ``numkeys``: (keys, pop the maximum?, count)."""
    numkeys = parse_int(argv[numkeys_idx])
    if numkeys is None or numkeys < 1:
        raise NUMKEYS
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise SYNTAX
    where = argv[where_idx].upper()
    if where == b"MIN":
        where_max = False
    elif where == b"MAX":
        where_max = True
    else:
        raise SYNTAX
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].upper() == b"COUNT" and j + 1 < n:
            j += 1
            v = parse_int(argv[j])
            if v is None or v < 1:
                raise COUNT_POSITIVE
            count = v
        else:
            raise SYNTAX
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1:where_idx], where_max, count


def _zmpop_generic(c: "Session", argv: list[bytes], numkeys_idx: int) -> tuple[Any, bytes | None]:
    """ZMPOP's whole logic; BZMPOP calls it with ``numkeys_idx`` 2."""
    keys, where_max, count = _zmpop_parse(argv, numkeys_idx)
    reply, key = _zpop_generic(c, keys, where_max, count, True, True, True)
    if key is not None:
        rewrite(c, [b"ZPOPMAX" if where_max else b"ZPOPMIN", key, b"%d" % count])
    return reply, key


def zmpop_command(c: "Session", argv: list[bytes]) -> Any:
    return _zmpop_generic(c, argv, 1)[0]


# ---------------------------------------------------------------------------------------------
# ZRANDMEMBER

def zrandmember_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) >= 3:
        return _zrandmember_with_count(c, argv)
    z = _lookup_read(c.db, argv[1])
    if z is None:
        return None
    return z.order[_rng.randrange(len(z.order))][1]


def _zrandmember_with_count(c: "Session", argv: list[bytes]) -> Any:
    n = to_int(argv[2])
    if n < -LLONG_MAX:
        raise RANGE_LONG
    if len(argv) > 4 or (len(argv) == 4 and argv[3].upper() != b"WITHSCORES"):
        raise SYNTAX
    withscores = len(argv) == 4
    if withscores and (n < -_LONG_MAX_HALF or n > _LONG_MAX_HALF):
        raise RANGE
    z = _lookup_read(c.db, argv[1])
    if z is None or n == 0:
        return []
    order = z.order
    size = len(order)
    if n < 0 or n == 1:
        count = -n if n < 0 else 1
        c.work += count
        picks = [order[_rng.randrange(size)] for _ in range(count)]
        return _reply_items(c, picks, withscores)
    if n >= size:
        # The whole set, listed from the highest rank down.
        c.work += size
        return _reply_items(c, order.islice(0, size, reverse=True), withscores)
    c.work += n
    picks = [order[i] for i in _rng.sample(range(size), n)]
    return _reply_items(c, picks, withscores)


# ---------------------------------------------------------------------------------------------
# ZUNION / ZINTER / ZDIFF (zunionInterDiffGenericCommand)

def _source_items(src: Any) -> Iterable[tuple[bytes, float]]:
    if type(src) is ZSetValue:
        return src.scores.items()
    return ((m, 1.0) for m in src)


def _source_find(src: Any, member: bytes) -> float | None:
    if type(src) is ZSetValue:
        return src.scores.get(member)
    return 1.0 if member in src else None


def _aggregate(target: float, value: float, how: int) -> float:
    if how == _SUM:
        target = target + value
        # inf + -inf is NaN; Redis settles on 0.
        return 0.0 if target != target else target
    if how == _MIN:
        return value if value < target else target
    return value if value > target else target


def _zsetop_generic(c: "Session", argv: list[bytes], numkeys_idx: int, dst: bytes | None,
                    op: int, cardinality_only: bool = False) -> Any:
    setnum = to_int(argv[numkeys_idx])
    if setnum < 1:
        raise ErrorReply("ERR at least 1 input key is needed for '%s' command"
                         % argv[0].decode("latin-1").lower())
    if setnum > len(argv) - (numkeys_idx + 1):
        raise SYNTAX
    db = c.db
    get = db.get_for_write if dst is not None else db.get
    j = numkeys_idx + 1
    srcs: list[Any] = []
    for key in argv[j:j + setnum]:
        v = get(key)
        if v is not None and type(v) is not ZSetValue and type(v) is not SetValue:
            raise WRONGTYPE
        srcs.append(v)
    j += setnum
    weights = [1.0] * setnum
    how = _SUM
    withscores = False
    limit = 0
    n = len(argv)
    while j < n:
        remaining = n - j
        opt = argv[j].upper()
        if op != _DIFF and not cardinality_only and remaining >= setnum + 1 \
                and opt == b"WEIGHTS":
            j += 1
            for i in range(setnum):
                w = _score_arg(argv[j])
                if w is None:
                    raise WEIGHT_NOT_FLOAT
                weights[i] = w
                j += 1
        elif op != _DIFF and not cardinality_only and remaining >= 2 and opt == b"AGGREGATE":
            agg = argv[j + 1].upper()
            if agg == b"SUM":
                how = _SUM
            elif agg == b"MIN":
                how = _MIN
            elif agg == b"MAX":
                how = _MAX
            else:
                raise SYNTAX
            j += 2
        elif dst is None and not cardinality_only and opt == b"WITHSCORES":
            withscores = True
            j += 1
        elif cardinality_only and remaining >= 2 and opt == b"LIMIT":
            v = parse_int(argv[j + 1])
            if v is None or v < 0:
                raise LIMIT_NEGATIVE
            limit = v
            j += 2
        else:
            raise SYNTAX
    sources = [(0 if s is None else len(s), weights[i], s) for i, s in enumerate(srcs)]
    if op != _DIFF:
        sources.sort(key=lambda t: t[0])  # stable, like glibc's merge-sort qsort
    result: dict[bytes, float] = {}
    if op == _INTER:
        size0, w0, first = sources[0]
        count = 0
        if size0:
            rest = sources[1:]
            c.work += size0
            for m, sc in _source_items(first):
                score = w0 * sc
                if score != score:
                    score = 0.0
                for _, w, src in rest:
                    if src is first:
                        value = sc * w
                    else:
                        found = _source_find(src, m)
                        if found is None:
                            break
                        value = found * w
                    score = _aggregate(score, value, how)
                else:
                    if cardinality_only:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[m] = score
        if cardinality_only:
            return count
    elif op == _UNION:
        for size, w, src in sources:
            if not size:
                continue
            c.work += size
            for m, sc in _source_items(src):
                score = w * sc
                if score != score:
                    score = 0.0
                old = result.get(m)
                result[m] = score if old is None else _aggregate(old, score, how)
    else:
        size0, _, first = sources[0]
        if size0:
            others = [s for size, _, s in sources[1:] if size]
            c.work += size0
            for m, sc in _source_items(first):
                for o in others:
                    if m in o if type(o) is SetValue else m in o.scores:
                        break
                else:
                    result[m] = sc
    items = sorted((s, m) for m, s in result.items())
    if dst is not None:
        event = ("zunionstore", "zinterstore", "zdiffstore")[op]
        return _store(c, dst, items, event)
    return _reply_items(c, items, withscores)


def zunion_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 1, None, _UNION)


def zunionstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 2, argv[1], _UNION)


def zinter_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 1, None, _INTER)


def zinterstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 2, argv[1], _INTER)


def zintercard_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 1, None, _INTER, True)


def zdiff_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 1, None, _DIFF)


def zdiffstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _zsetop_generic(c, argv, 2, argv[1], _DIFF)

