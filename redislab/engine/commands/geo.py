"""Geo commands (geo.c): a geo set is a sorted set scored by 52-bit geohashes.

GEOADD is ZADD with encoded scores, as in Redis. Searches scan the centre cell and its eight
neighbours in Redis's order, so unsorted results, distances and coordinates come out exactly
as Redis prints them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ...protocol.reply import NULL_ARRAY, Double, ErrorReply
from ..args import SYNTAX, parse_float, to_int
from ..keyspace import WRONGTYPE
from ..longdouble import format_ld_human
from ..structures import geohash as gh
from ..values import ZSetValue
from .sorted_sets import _store, _zadd_generic

if TYPE_CHECKING:
    from ..session import Session

NOT_FLOAT = ErrorReply("ERR value is not a valid float")
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
BAD_UNIT = ErrorReply("ERR unsupported unit provided. please use M, KM, FT, MI")
BAD_MEMBER = ErrorReply("ERR could not decode requested zset member")


def _zset(c: "Session", key: bytes) -> ZSetValue | None:
    v = c.db.get(key)
    if v is not None and type(v) is not ZSetValue:
        raise WRONGTYPE
    return v


def _double(data: bytes, error: ErrorReply = NOT_FLOAT) -> float:
    v = parse_float(data)
    if v is None:
        raise error
    return v


def _lonlat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    """extractLongLatOrReply."""
    lon, lat = _double(lon_arg), _double(lat_arg)
    if lon < gh.LONG_MIN or lon > gh.LONG_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise ErrorReply("ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(arg: bytes) -> float:
    factor = UNITS.get(arg.lower())
    if factor is None:
        raise BAD_UNIT
    return factor


def _human(value: float) -> bytes:
    """A coordinate as Redis prints it: the double's exact value to 17 decimals, trimmed."""
    return format_ld_human(Fraction(value))


def _coord_reply(value: float) -> Double:
    return Double(value, _human(value))


def _dist_reply(meters: float, factor: float) -> bytes:
    return b"%.4f" % (meters / factor)


# ---------------------------------------------------------------------------------------------
# GEOADD / GEOPOS / GEODIST / GEOHASH

def geoadd_command(c: "Session", argv: list[bytes]) -> Any:
    longidx = 2
    nx = xx = False
    while longidx < len(argv):
        opt = argv[longidx].upper()
        if opt == b"NX":
            nx = True
        elif opt == b"XX":
            xx = True
        elif opt != b"CH":
            break
        longidx += 1
    if (len(argv) - longidx) % 3 or (nx and xx):
        raise SYNTAX
    zargv = [b"zadd"] + argv[1:longidx]
    for i in range(longidx, len(argv), 3):
        lon, lat = _lonlat(argv[i], argv[i + 1])
        score = gh.encode_score(lon, lat)
        assert score is not None
        zargv += [b"%d" % score, argv[i + 2]]
    return _zadd_generic(c, zargv, 0)


def geopos_command(c: "Session", argv: list[bytes]) -> Any:
    z = _zset(c, argv[1])
    out: list[Any] = []
    for member in argv[2:]:
        score = z.scores.get(member) if z is not None else None
        if score is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = gh.decode_score(score)
            out.append([_coord_reply(lon), _coord_reply(lat)])
    return out


def geodist_command(c: "Session", argv: list[bytes]) -> Any:
    factor = 1.0
    if len(argv) == 5:
        factor = _unit(argv[4])
    elif len(argv) > 5:
        raise SYNTAX
    z = _zset(c, argv[1])
    if z is None:
        return None
    s1, s2 = z.scores.get(argv[2]), z.scores.get(argv[3])
    if s1 is None or s2 is None:
        return None
    a, b = gh.decode_score(s1), gh.decode_score(s2)
    return _dist_reply(gh.distance(a[0], a[1], b[0], b[1]), factor)


def geohash_command(c: "Session", argv: list[bytes]) -> Any:
    z = _zset(c, argv[1])
    out: list[Any] = []
    for member in argv[2:]:
        score = z.scores.get(member) if z is not None else None
        out.append(None if score is None else gh.geohash_string(score))
    return out


# ---------------------------------------------------------------------------------------------
# Searches (georadiusGeneric)

_COORDS, _MEMBER, _SEARCH, _SEARCHSTORE, _NOSTORE = 1, 2, 4, 8, 16


def _members_in_cell(z: ZSetValue, cell: gh.HashBits, shape: gh.Shape, found: list[Any],
                     limit: int) -> None:
    lo, hi = gh.cell_range(cell)
    order = z.order
    i = order.bisect_left((float(lo), b""))
    n = len(order)
    while i < n:
        score, member = order[i]
        if score >= hi:
            break
        i += 1
        lon, lat = gh.decode_score(score)
        dist = shape.distance_if_inside(lon, lat)
        if dist is None:
            continue
        found.append((dist, score, member, lon, lat))
        if limit and len(found) >= limit:
            break


def _search(z: ZSetValue, shape: gh.Shape, limit: int) -> list[Any]:
    cells = gh.search_cells(shape)
    found: list[Any] = []
    last = 0
    for i, cell in enumerate(cells):
        if cell.is_zero():
            continue
        # Redis skips a cell equal to the one scanned just before it (huge radii make
        # neighbours coincide); its bookkeeping never compares against the centre cell.
        if last and cell.bits == cells[last].bits and cell.step == cells[last].step:
            continue
        if found and limit and len(found) >= limit:
            break
        _members_in_cell(z, cell, shape, found, limit)
        last = i
    return found


def _georadius_generic(c: "Session", argv: list[bytes], src_index: int, flags: int) -> Any:
    z = _zset(c, argv[src_index])
    store_key: bytes | None = None
    storedist = False
    shape = gh.Shape(0.0, 0.0, 1.0)
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.conversion = _distance_args(argv[4], argv[5])
    elif flags & _MEMBER:
        base = 5
        if z is not None:
            score = z.scores.get(argv[2])
            if score is None:
                raise BAD_MEMBER
            shape.lon, shape.lat = gh.decode_score(score)
            shape.radius, shape.conversion = _distance_args(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            store_key = argv[1]
    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = 0
    anyflag = False
    count = 0
    remaining = len(argv) - base
    i = 0
    while i < remaining:
        arg = argv[base + i].lower()
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            anyflag = True
        elif arg == b"asc":
            sort = 1
        elif arg == b"desc":
            sort = -1
        elif arg == b"count" and i + 1 < remaining:
            count = to_int(argv[base + i + 1])
            if count <= 0:
                raise ErrorReply("ERR COUNT must be > 0")
            i += 1
        elif arg in (b"store", b"storedist") and i + 1 < remaining and \
                not flags & _NOSTORE and not flags & _SEARCH:
            store_key = argv[base + i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and flags & _SEARCH and flags & _SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and i + 1 < remaining and flags & _SEARCH and not fromloc:
            if z is not None:
                score = z.scores.get(argv[base + i + 1])
                if score is None:
                    raise BAD_MEMBER
                shape.lon, shape.lat = gh.decode_score(score)
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and i + 2 < remaining and flags & _SEARCH and \
                not frommember:
            shape.lon, shape.lat = _lonlat(argv[base + i + 1], argv[base + i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and i + 2 < remaining and flags & _SEARCH and not bybox:
            shape.radius, shape.conversion = _distance_args(argv[base + i + 1],
                                                            argv[base + i + 2])
            shape.is_box = False
            byradius = True
            i += 2
        elif arg == b"bybox" and i + 3 < remaining and flags & _SEARCH and not byradius:
            shape.width = _double(argv[base + i + 1], ErrorReply("ERR need numeric width"))
            shape.height = _double(argv[base + i + 2], ErrorReply("ERR need numeric height"))
            if shape.width < 0 or shape.height < 0:
                raise ErrorReply("ERR height or width cannot be negative")
            shape.conversion = _unit(argv[base + i + 3])
            shape.is_box = True
            bybox = True
            i += 3
        else:
            raise SYNTAX
        i += 1
    name = argv[0].decode("utf-8", "replace")
    if store_key is not None and (withdist or withhash or withcoord):
        which = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise ErrorReply(f"ERR {which} is not compatible with WITHDIST, WITHHASH and "
                         "WITHCOORD options")
    if flags & _SEARCH and not (frommember or fromloc):
        raise ErrorReply(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for "
                         f"{name}")
    if flags & _SEARCH and not (byradius or bybox):
        raise ErrorReply(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if anyflag and not count:
        raise ErrorReply("ERR the ANY argument requires COUNT argument")
    db = c.db
    if z is None:
        if store_key is not None:
            if db.delete(store_key):
                db.changed(store_key, "del", "g")
            return 0
        return []
    if count and not sort and not anyflag:
        sort = 1
    found = _search(z, shape, count if anyflag else 0)
    c.work += len(found)
    if not found and store_key is None:
        return []
    if sort:
        found.sort(key=lambda p: p[0], reverse=sort < 0)
    returned = found[:count] if count else found
    if store_key is None:
        out: list[Any] = []
        options = withdist + withcoord + withhash
        for dist, score, member, lon, lat in returned:
            if not options:
                out.append(member)
                continue
            item: list[Any] = [member]
            if withdist:
                item.append(_dist_reply(dist, shape.conversion))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_coord_reply(lon), _coord_reply(lat)])
            out.append(item)
        return out
    items = [((dist / shape.conversion) if storedist else score, member)
             for dist, score, member, _, _ in returned]
    event = "geosearchstore" if flags & _SEARCH else "georadiusstore"
    return _store(c, store_key, items, event)


def _distance_args(value: bytes, unit: bytes) -> tuple[float, float]:
    radius = _double(value, ErrorReply("ERR need numeric radius"))
    if radius < 0:
        raise ErrorReply("ERR radius cannot be negative")
    return radius, _unit(unit)


def georadius_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 1, _COORDS)


def georadius_ro_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 1, _COORDS | _NOSTORE)


def georadiusbymember_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 1, _MEMBER)


def georadiusbymember_ro_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 1, _MEMBER | _NOSTORE)


def geosearch_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 1, _SEARCH)


def geosearchstore_command(c: "Session", argv: list[bytes]) -> Any:
    return _georadius_generic(c, argv, 2, _SEARCH | _SEARCHSTORE)
