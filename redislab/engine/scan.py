"""Cursor iteration for SCAN, HSCAN, SSCAN and ZSCAN, with Redis's guarantee and cursor shape.

Redis walks a hash table's buckets in reverse-binary order (dict.c dictScan), so a cursor stays
meaningful while the table grows or shrinks, and every element present for the whole
iteration is returned at least once. This module reproduces that behaviour without Redis's
table: every element gets a fixed 64-bit position (its hash, shifted to be unsigned), and a
table of ``2**k`` buckets is the top ``k`` bits of that position. Walking positions in
increasing order visits buckets exactly as Redis's reversed cursor does, and the cursor we
return is the next bucket's index with its bits reversed: the numbers a client sees are the
same kind Redis shows (small, bucket-sized), and a cursor from a smaller or larger table lands
on the right position.

Elements are kept ordered by position in an index built on demand:

* the keyspace's index is built by the first SCAN on a database and kept current by
  :class:`~redislab.engine.keyspace.Database` as keys are added and removed (nothing is paid
  before the first SCAN, and little after it: see :class:`KeyIndex`);
* a hash, set or sorted set has no such hooks, so its index is rebuilt when an iteration
  starts (cursor 0) and reused by the calls that follow. Elements added since are not
  required to be returned, and elements removed since are skipped, which is all the
  guarantee asks for.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections import OrderedDict
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from sortedcontainers import SortedKeyList

from ..protocol.reply import ErrorReply

if TYPE_CHECKING:
    from .engine import Engine
    from .keyspace import Database

INVALID_CURSOR = ErrorReply("ERR invalid cursor")
ULONG_MAX = (1 << 64) - 1
# Python's hash of bytes is a signed 64-bit number; adding 2**63 makes it an unsigned position
# with the same order.
_OFFSET = 1 << 63
_SPACES = b" \t\n\v\f\r"
# How many container indexes each engine keeps between calls.
_CACHE_SIZE = 32


def parse_cursor(arg: bytes) -> int:
    """A cursor as Redis reads one (strtoul, base 10), or raise ``ERR invalid cursor``.

    strtoul's leniency shows through: an empty string is cursor 0, a sign is allowed and a
    negative number wraps around, and anything after an embedded NUL byte is ignored.
    """
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    if not arg:
        return 0
    if arg[0] in _SPACES:
        raise INVALID_CURSOR
    negative = False
    body = arg
    if body[0] in b"+-":
        negative = body[0] == 0x2D
        body = body[1:]
    if not body.isdigit():
        raise INVALID_CURSOR
    value = int(body)
    if value > ULONG_MAX:
        raise INVALID_CURSOR
    return (-value) & ULONG_MAX if negative else value


def table_exponent(n: int) -> int:
    """log2 of the size Redis's dict has with ``n`` entries (4 buckets at least)."""
    return max(2, (n - 1).bit_length())


def _reverse(value: int, bits: int) -> int:
    return int(format(value, "0%db" % bits)[::-1], 2)


def walk(iter_from: Callable[[int], Iterator[Any]], cursor: int, count: int, n: int,
         alive: Callable[[Any], bool] | None = None) -> tuple[int, list[Any], int]:
    """One call of the scan loop over ``n`` elements ordered by :func:`hash`.

    ``iter_from(h)`` yields the elements whose hash is ``>= h`` in hash order; those for
    which ``alive`` says False are gone and skipped. Buckets are visited as
    scanGenericCommand does: until ``count`` elements are collected, the table wraps around
    (cursor 0), or ten times ``count`` buckets have been looked at. Returns the next cursor,
    the elements and how many buckets were visited.
    """
    if n == 0:
        return 0, [], 0
    k = table_exponent(n)
    shift = 64 - k
    nbuckets = 1 << k
    b = _reverse(cursor & (nbuckets - 1), k)
    it = iter_from((b << shift) - _OFFSET)
    out: list[Any] = []
    nxt = next(it, None)
    nxt_b = (hash(nxt) + _OFFSET) >> shift if nxt is not None else nbuckets
    maxiter = count * 10
    visited = 0
    while True:
        while nxt_b == b:
            if alive is None or alive(nxt):
                out.append(nxt)
            nxt = next(it, None)
            nxt_b = (hash(nxt) + _OFFSET) >> shift if nxt is not None else nbuckets
        b += 1
        visited += 1
        if b == nbuckets:
            return 0, out, visited
        if maxiter == 0:
            break
        maxiter -= 1
        if len(out) >= count:
            break
        gap = nxt_b - b
        if gap > 0:
            # Empty buckets: each costs one iteration and collects nothing.
            steps = min(gap, maxiter + 1)
            b += steps
            visited += steps
            if b == nbuckets:
                return 0, out, visited
            if steps == maxiter + 1:
                break
            maxiter -= steps
    return _reverse(b, k), out, visited


# ---------------------------------------------------------------------------------------------
# The keyspace


class KeyIndex:
    """A database's keys in scan order, kept by :class:`~redislab.engine.keyspace.Database`.

    Writes stay cheap: a new key is only appended to ``pending`` (sorted in at the next scan)
    and a deleted key is left in place (skipped when met, swept out when too many pile up).
    If keys keep arriving and no scan comes to collect them, the index gives up and is built
    again by the next scan, which is always safe since the order never changes.
    """

    __slots__ = ("order", "pending", "limit", "valid")

    def __init__(self, data: dict[bytes, Any]) -> None:
        self.order = SortedKeyList(data, key=hash)
        self.pending: list[bytes] = []
        self.limit = max(65536, 2 * len(data))
        self.valid = True

    def add(self, key: bytes) -> None:
        pending = self.pending
        pending.append(key)
        if len(pending) > self.limit:
            # Nobody is scanning: let the memory go; the next scan builds afresh.
            self.valid = False
            pending.clear()
            self.order = SortedKeyList(key=hash)
            self.limit = 1 << 62

    def discard(self, key: bytes) -> None:
        """A deleted key stays in the order until swept; scans skip it."""

    def sync(self, data: dict[bytes, Any]) -> SortedKeyList:
        """Fold the pending keys in; returns the ordered keys (possibly with stale ones)."""
        order = self.order
        pending = self.pending
        if len(pending) > 1024 and len(pending) * 8 > len(order):
            # Sorting everything at once beats inserting this many one at a time.
            order = self.order = SortedKeyList(data, key=hash)
            pending.clear()
        elif pending:
            for key in pending:
                if key in data and key not in order:
                    order.add(key)
            pending.clear()
        if len(order) > 2 * len(data) + 1024:
            order = self.order = SortedKeyList(data, key=hash)
        self.limit = max(65536, 2 * len(order))
        return order


def keyspace_order(db: "Database") -> SortedKeyList:
    """The database's keys in scan order, every present key included; built on first use."""
    index = db.scan_index
    if index is None or not index.valid:
        index = db.scan_index = KeyIndex(db.data)
    return index.sync(db.data)


def scan_keyspace(db: "Database", cursor: int, count: int) -> tuple[int, list[bytes], int]:
    order = keyspace_order(db)
    data = db.data
    return walk(lambda h: order.irange_key(min_key=h), cursor, count, len(data),
                data.__contains__)


# ---------------------------------------------------------------------------------------------
# Containers (hashtable-encoded hashes, sets and sorted sets)


class _ContainerIndex:
    __slots__ = ("obj", "order")

    def __init__(self, obj: Any, order: list[bytes]) -> None:
        self.obj = obj
        self.order = order


_caches: "weakref.WeakKeyDictionary[Engine, OrderedDict[int, _ContainerIndex]]" = \
    weakref.WeakKeyDictionary()


def scan_container(engine: "Engine", obj: Any, members: Iterable[bytes], size: int,
                   alive: Callable[[bytes], bool], cursor: int, count: int
                   ) -> tuple[int, list[bytes], int]:
    """One scan call over a container's members (fields, set members, zset members).

    ``obj`` identifies the container, ``members`` iterates its current members, ``alive``
    tells whether a member is still there.
    """
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = OrderedDict()
    entry = cache.get(id(obj))
    if cursor == 0 or entry is None or entry.obj is not obj:
        entry = _ContainerIndex(obj, sorted(members, key=hash))
        cache[id(obj)] = entry
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(id(obj))
    order = entry.order

    def iter_from(h: int) -> Iterator[bytes]:
        return islice(order, bisect_left(order, h, key=hash), None)

    nxt, found, visited = walk(iter_from, cursor, count, size, alive)
    if nxt == 0:
        cache.pop(id(obj), None)
    return nxt, found, visited
