"""SORT and SORT_RO (sort.c): sort a list, set or sorted set, by itself or by external keys."""

from __future__ import annotations

import math
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from ...protocol.reply import ErrorReply
from ..args import SYNTAX, to_int
from ..keyspace import WRONGTYPE
from ..values import HashValue, ListValue, MutableString, SetValue, ZSetValue, as_bytes

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

BAD_SCORE = ErrorReply("ERR One or more scores can't be converted into double")


def _by_pattern(db: "Database", pattern: bytes, element: bytes) -> bytes | None:
    """lookupKeyByPattern: ``#`` is the element itself; ``*`` is replaced by it, and
    ``key->field`` reads a hash field."""
    if pattern == b"#":
        return element
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        key = pattern[:star] + element + pattern[star + 1:arrow]
    else:
        key = pattern[:star] + element + pattern[star + 1:]
    value = db.get(key)
    if value is None:
        return None
    if field is not None:
        if type(value) is not HashValue:
            return None
        return value.get(field)
    if type(value) is bytes or type(value) is MutableString:
        return as_bytes(value)
    return None


def _strtod(text: bytes) -> float | None:
    """strtod as SORT uses it: leading spaces allowed, the whole rest must be a number."""
    t = text.lstrip(b" \t\n\r\v\f")
    if not t:
        return None
    try:
        if t.lower().lstrip(b"+-").startswith(b"0x"):
            s = t.decode()
            v = float.fromhex(s if "p" in s.lower() else s + "p0")
        else:
            v = float(t)
    except ValueError:
        return None
    if math.isnan(v):
        return None
    if math.isinf(v) and t.lower().lstrip(b"+-") not in (b"inf", b"infinity"):
        return None  # ERANGE overflow
    return v


def _sort_generic(c: "Session", argv: list[bytes], readonly: bool) -> Any:
    db = c.db
    key = argv[1]
    desc = alpha = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    dontsort = False
    getops: list[bytes] = []
    store: bytes | None = None
    j = 2
    n = len(argv)
    while j < n:
        opt = argv[j].upper()
        left = n - j - 1
        if opt == b"ASC":
            desc = False
        elif opt == b"DESC":
            desc = True
        elif opt == b"ALPHA":
            alpha = True
        elif opt == b"LIMIT" and left >= 2:
            limit_start = to_int(argv[j + 1])
            limit_count = to_int(argv[j + 2])
            j += 2
        elif opt == b"STORE" and left >= 1 and not readonly:
            store = argv[j + 1]
            j += 1
        elif opt == b"BY" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in sortby:
                dontsort = True
            j += 1
        elif opt == b"GET" and left >= 1:
            getops.append(argv[j + 1])
            j += 1
        else:
            raise SYNTAX
        j += 1

    value = db.get(key) if store is None else db.get_for_write(key)
    if value is not None and type(value) not in (ListValue, SetValue, ZSetValue):
        raise WRONGTYPE
    # A set has no order of its own: when its result is stored (or replicated from a script)
    # Redis sorts it alphabetically so that replicas agree.
    if type(value) is SetValue and (store is not None or c.in_script):
        dontsort = False
        alpha = True
        sortby = None

    if value is None:
        elements: list[bytes] = []
    elif type(value) is ListValue:
        elements = list(value)
    elif type(value) is SetValue:
        elements = list(value)
        if value.encoding == "intset":
            elements.sort(key=int)
    else:
        elements = [m for _, m in value.order]

    count = len(elements)
    start = 0 if limit_start < 0 else limit_start
    end = count - 1 if limit_count < 0 else start + limit_count - 1
    if start >= count:
        start = count - 1
        end = count - 2
    if end >= count:
        end = count - 1

    if dontsort and type(value) is ZSetValue and desc:
        elements.reverse()

    if not dontsort:
        weights: list[Any] = []
        for el in elements:
            if sortby is not None:
                w = _by_pattern(db, sortby, el)
            else:
                w = el
            if alpha:
                weights.append(w)
            else:
                if w is None:
                    weights.append(0.0)
                else:
                    score = _strtod(w)
                    if score is None:
                        raise BAD_SCORE
                    weights.append(score)
        pairs = list(zip(weights, elements))
        by_pattern = sortby is not None

        def compare(a: tuple[Any, bytes], b: tuple[Any, bytes]) -> int:
            wa, wb = a[0], b[0]
            if not alpha:
                if wa > wb:
                    r = 1
                elif wa < wb:
                    r = -1
                else:
                    r = (a[1] > b[1]) - (a[1] < b[1])
            elif by_pattern:
                if wa is None or wb is None:
                    r = 0 if wa is wb else (-1 if wa is None else 1)
                else:
                    r = (wa > wb) - (wa < wb)
            else:
                r = (a[1] > b[1]) - (a[1] < b[1])
            return -r if desc else r

        pairs.sort(key=cmp_to_key(compare))
        elements = [e for _, e in pairs]
        c.work += count * max(1, count.bit_length())
    else:
        c.work += count

    window = elements[start:end + 1] if count and end >= start else []
    if not getops:
        result: list[Any] = list(window)
    else:
        result = []
        for el in window:
            for pattern in getops:
                result.append(_by_pattern(db, pattern, el))

    if store is None:
        return result
    if result:
        stored = ListValue(b"" if v is None else v for v in result)
        db.set(store, stored)
        db.signal_ready(store)
        db.changed(store, "sortstore", "l", dirty=len(stored))
    elif db.delete(store):
        db.changed(store, "del", "g")
    return len(result)


def sort_command(c: "Session", argv: list[bytes]) -> Any:
    return _sort_generic(c, argv, readonly=False)


def sort_ro_command(c: "Session", argv: list[bytes]) -> Any:
    return _sort_generic(c, argv, readonly=True)
