"""SCAN, HSCAN, SSCAN and ZSCAN (db.c scanGenericCommand) on top of :mod:`..scan`.

Compact encodings (a listpack hash or sorted set, an intset set) come back whole in one call
with cursor 0, as Redis returns them; hash tables are walked bucket by bucket. Filtering
happens after collection, in Redis's order: MATCH, then TYPE (which looks the key up), then
expiry, so a call may return fewer elements than COUNT, or none, with a non-zero cursor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..args import SYNTAX, format_float, to_int
from ..glob import compile_glob
from ..scan import parse_cursor, scan_container, scan_keyspace
from ..values import HashValue, SetValue, ZSetValue, type_name
from .keyspace import lookup_notouch

if TYPE_CHECKING:
    from ..session import Session

def _options(argv: list[bytes], start: int, keyspace: bool
             ) -> tuple[int, Callable[[bytes], bool] | None, bytes | None]:
    """COUNT, MATCH and (for SCAN) TYPE, each usable several times; the last one wins."""
    count = 10
    pattern: bytes | None = None
    typename: bytes | None = None
    i, n = start, len(argv)
    while i < n:
        opt = argv[i].upper()
        if opt == b"COUNT" and n - i >= 2:
            count = to_int(argv[i + 1])
            if count < 1:
                raise SYNTAX
        elif opt == b"MATCH" and n - i >= 2:
            # A lone "*" matches everything, even the empty string the glob would refuse.
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif opt == b"TYPE" and keyspace and n - i >= 2:
            typename = argv[i + 1].lower()
        else:
            raise SYNTAX
        i += 2
    match = compile_glob(pattern) if pattern is not None else None
    return count, match, typename


def _listpack_score(score: float) -> bytes:
    """A score as a listpack stores it (d2string): integral values in range lose any sign
    of zero, the rest are written with %.17g."""
    if -4503599627370495.0 < score < 4503599627370496.0 and score == int(score):
        return b"%d" % int(score)
    return format_float(score)


def scan_command(c: "Session", argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[1])
    count, match, typename = _options(argv, 2, True)
    db = c.db
    nxt, keys, visited = scan_keyspace(db, cursor, count)
    c.work += visited + len(keys)
    out = []
    expires = db.expires
    for key in keys:
        if match is not None and not match(key):
            continue
        if typename is not None:
            # The type check looks the key up (and may expire it); a missing key is "none".
            kind = type_name(lookup_notouch(c, db, key)).encode()
            if kind != typename:
                continue
        if expires and key in expires and db.expire_if_needed(key):
            continue
        out.append(key)
    return [b"%d" % nxt, out]


def _lookup(c: "Session", argv: list[bytes], cls: type) -> Any:
    return c.db.get_typed(argv[1], cls)


def hscan_command(c: "Session", argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    h = _lookup(c, argv, HashValue)
    if h is None:
        return [b"0", []]
    count, match, _ = _options(argv, 3, False)
    if h.encoding != "hashtable":
        fields: list[bytes] = list(h)
        nxt = 0
        c.work += len(fields)
    else:
        nxt, fields, visited = scan_container(c.engine, h, h, len(h), h.__contains__,
                                              cursor, count)
        c.work += visited + len(fields)
    out: list[bytes] = []
    for f in fields:
        if match is None or match(f):
            out.append(f)
            out.append(h[f])
    return [b"%d" % nxt, out]


def sscan_command(c: "Session", argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    s = _lookup(c, argv, SetValue)
    if s is None:
        return [b"0", []]
    count, match, _ = _options(argv, 3, False)
    if s.encoding == "intset":
        # An intset is a sorted array of integers.
        members: list[bytes] = sorted(s, key=int)
        nxt = 0
        c.work += len(members)
    else:
        nxt, members, visited = scan_container(c.engine, s, s, len(s), s.__contains__,
                                               cursor, count)
        c.work += visited + len(members)
    if match is not None:
        members = [m for m in members if match(m)]
    return [b"%d" % nxt, members]


def zscan_command(c: "Session", argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    z = _lookup(c, argv, ZSetValue)
    if z is None:
        return [b"0", []]
    count, match, _ = _options(argv, 3, False)
    out: list[bytes] = []
    scores = z.scores
    if z.encoding != "skiplist":
        for score, member in z.order:
            if match is None or match(member):
                out.append(member)
                out.append(_listpack_score(score))
        c.work += len(scores)
        return [b"0", out]
    nxt, members, visited = scan_container(c.engine, z, scores, len(scores),
                                           scores.__contains__, cursor, count)
    c.work += visited + len(members)
    for m in members:
        if match is None or match(m):
            out.append(m)
            out.append(format_float(scores[m]))
    return [b"%d" % nxt, out]

