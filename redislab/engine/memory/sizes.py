"""What one value costs, part by part, as Redis 7.0 lays it out in memory (object.c).

Two figures exist for every value. *Usage* is what ``MEMORY USAGE`` reports
(objectComputeSize): allocator size classes where Redis asks the allocator, raw ``sizeof``
where it adds struct sizes. *Allocation* is what the value really adds to ``used_memory``:
every block at its size class (a 24-byte dictEntry occupies 32), shared integers nothing.

The helpers here work on one value at a time and walk it; :mod:`.model` decides when a walk
is affordable and keeps the results.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable
from zlib import crc32

from ..structures.listpack import backlen_size, lp_int_size, lp_str_size
from ..values import MutableString, is_canonical_int
from .alloc import (DICT, DICT_ENTRY, INTSET_HEADER, QUICKLIST, QUICKLIST_NODE,
                    ROBJ, SKIPLIST_HEADER, STREAM, STREAM_CG, STREAM_CONSUMER, STREAM_NACK,
                    ZSET, ZSKIPLIST, ZSKIPLIST_LEVEL, ZSKIPLIST_NODE, embstr_alloc, je,
                    raw_value_alloc, rax_estimate, sds_alloc, sds_capacity_alloc)

LISTPACK_EMPTY = 7                      # header 6 + terminator 1
DICT_ENTRY_ALLOC = je(DICT_ENTRY)       # 32: the size class a dictEntry really takes
DICT_ALLOC = je(DICT)
QUICKLIST_ALLOC = je(QUICKLIST)
QUICKLIST_NODE_ALLOC = je(QUICKLIST_NODE)
SKIPLIST_FIXED_ALLOC = je(ZSET) + je(ZSKIPLIST) + DICT_ALLOC + SKIPLIST_HEADER
SKIPLIST_FIXED_USAGE = ZSET + ZSKIPLIST + DICT + SKIPLIST_HEADER

# quicklist.c: fill limits for negative list-max-listpack-size, the safety cap for positive
# ones, the per-insert overestimate, and elements that get a node of their own.
_FILL_BYTES = (4096, 8192, 16384, 32768, 65536)
SIZE_SAFETY_LIMIT = 8192
SIZE_ESTIMATE_OVERHEAD = 8
PACKED_THRESHOLD = 1 << 30

_DIGITS = frozenset(b"-0123456789")
# Exact-fit sds sizes for the lengths that dominate real data, looked up instead of computed.
_SDS = tuple(sds_alloc(n) for n in range(4096))


def sds(n: int) -> int:
    """zmalloc_size of an exact-fit sds of length ``n``."""
    return _SDS[n] if n < 4096 else sds_alloc(n)


def lp_entry(data: bytes) -> int:
    """Bytes one string takes as a listpack entry (integer-looking strings become integers)."""
    n = len(data)
    if n and n <= 20 and data[0] in _DIGITS:
        return lp_str_size(data)
    if n < 64:
        return n + 2
    if n < 4096:
        return n + 2 + backlen_size(n + 2)
    return n + 5 + backlen_size(n + 5)


def score_entry(score: float) -> int:
    """Bytes a score takes in a zset listpack: d2string's text, stored as an integer if it
    reads as one (integral values within +-2^62 print as integers)."""
    if -4611686018427387904.0 <= score <= 4611686018427387904.0 and score == int(score):
        return lp_int_size(int(score))
    if score != score:
        return 5
    if score in (float("inf"), float("-inf")):
        return 5 if score > 0 else 6
    return lp_entry(b"%.17g" % score)


# ---------------------------------------------------------------------------------------------
# Strings

def shared_integer(value: bytes, shared_ok: bool) -> bool:
    """Is this string stored as one of the preallocated integers 0..9999?"""
    return shared_ok and len(value) <= 4 and value.isdigit() and (
        value == b"0" or value[0] != 0x30)


def string_usage(value: Any) -> int:
    """objectComputeSize for a string (the robj included)."""
    if type(value) is bytes:
        n = len(value)
        if n <= 20 and is_canonical_int(value):
            return ROBJ
        if n <= 44:
            return embstr_alloc(n)
        return ROBJ + raw_value_alloc(n)
    if value.embstr:
        return embstr_alloc(len(value.buf))
    return ROBJ + sds_capacity_alloc(value.alloc)


_EMBSTR = tuple(embstr_alloc(n) for n in range(45))


def string_alloc(value: Any, shared_ok: bool) -> int:
    """Bytes a string value adds to used_memory."""
    if type(value) is bytes:
        n = len(value)
        if n <= 20 and n and value[0] in _DIGITS and is_canonical_int(value):
            return 0 if shared_integer(value, shared_ok) else ROBJ
        if n <= 44:
            return _EMBSTR[n]
        return ROBJ + raw_value_alloc(n)
    if value.embstr:
        return _EMBSTR[len(value.buf)]
    return ROBJ + sds_capacity_alloc(value.alloc)


def is_string(value: Any) -> bool:
    t = type(value)
    return t is bytes or t is MutableString


# ---------------------------------------------------------------------------------------------
# Compact encodings

def hash_listpack_bytes(h: dict[bytes, bytes]) -> int:
    total = LISTPACK_EMPTY
    for f, v in h.items():
        total += lp_entry(f) + lp_entry(v)
    return total


def zset_listpack_bytes(z: Any) -> int:
    total = LISTPACK_EMPTY
    for member, score in z.scores.items():
        total += lp_entry(member) + score_entry(score)
    return total


def intset_width(members: Iterable[bytes]) -> int:
    """Element width of an intset holding ``members`` (the widest one decides)."""
    width = 2
    for m in members:
        if len(m) <= 4:
            continue
        v = int(m)
        if v < -2147483648 or v > 2147483647:
            return 8
        if v < -32768 or v > 32767:
            width = 4
    return width


def intset_alloc(s: Any) -> int:
    return je(INTSET_HEADER + len(s) * max(intset_width(s), s.width))


# ---------------------------------------------------------------------------------------------
# Per-element costs of the general encodings, in (usage, allocation) pairs of sums

def set_elements(members: Iterable[bytes]) -> tuple[int, int]:
    """Sum over members of dictEntry + member sds: (as MEMORY USAGE counts, as allocated)."""
    n = 0
    total = 0
    table = _SDS
    for m in members:
        ln = len(m)
        total += table[ln] if ln < 4096 else sds_alloc(ln)
        n += 1
    return total + n * DICT_ENTRY, total + n * DICT_ENTRY_ALLOC


def hash_elements(items: Iterable[tuple[bytes, bytes]]) -> tuple[int, int]:
    n = 0
    total = 0
    table = _SDS
    for f, v in items:
        lf, lv = len(f), len(v)
        total += (table[lf] if lf < 4096 else sds_alloc(lf)) + \
            (table[lv] if lv < 4096 else sds_alloc(lv))
        n += 1
    return total + n * DICT_ENTRY, total + n * DICT_ENTRY_ALLOC


_MIX = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1
_NODE_BY_LEVEL = tuple(je(ZSKIPLIST_NODE + ZSKIPLIST_LEVEL * level) for level in range(34))


def zsl_level(member: bytes) -> int:
    """A skiplist level for ``member``: 1, then +1 with probability 1/4 each (t_zset.c).

    Redis draws it from random(); here it comes from a hash of the member, so a member's
    size is stable between computations and the same on every run, with Redis's
    distribution.
    """
    x = (((crc32(member) ^ 0x5BD1E995) * _MIX) & _M64) >> 32
    level = 1
    while not x & 3 and level < 16:
        level += 1
        x >>= 2
    return level


def zset_elements(members: Iterable[bytes]) -> tuple[int, int]:
    """Sum over members of member sds + dictEntry + skiplist node."""
    n = 0
    total = 0
    table = _SDS
    nodes = _NODE_BY_LEVEL
    for m in members:
        ln = len(m)
        total += (table[ln] if ln < 4096 else sds_alloc(ln)) + nodes[zsl_level(m)]
        n += 1
    return total + n * DICT_ENTRY, total + n * DICT_ENTRY_ALLOC


# ---------------------------------------------------------------------------------------------
# Quicklist nodes

def fill_limit(fill: int) -> int:
    """Byte limit of a node for a negative fill (list-max-listpack-size -1 .. -5)."""
    return _FILL_BYTES[min(-fill, 5) - 1]


def allow_insert(node_bytes: int, count: int, length: int, fill: int) -> bool:
    """_quicklistNodeAllowInsert: may an element of ``length`` bytes join this node?"""
    if length >= PACKED_THRESHOLD:
        return False
    new = node_bytes + length + SIZE_ESTIMATE_OVERHEAD
    if fill < 0:
        return new <= fill_limit(fill)
    return new <= SIZE_SAFETY_LIMIT and count < fill


def layout(items: Iterable[bytes], fill: int) -> list[list[Any]]:
    """Nodes as pushing ``items`` one by one at the tail lays them out.

    Each node is ``[count, listpack bytes, entry sizes or None]``; entry sizes are kept for
    the first and last node only (the ends where pops happen).
    """
    nodes: list[list[Any]] = []
    count = 0
    lpb = 0
    sizes: deque[int] = deque()
    started = False
    for item in items:
        ln = len(item)
        es = lp_entry(item)
        if started and allow_insert(lpb, count, ln, fill):
            count += 1
            lpb += es
            sizes.append(es)
            continue
        if started:
            nodes.append([count, lpb, sizes])
        started = True
        count, lpb, sizes = 1, LISTPACK_EMPTY + es, deque((es,))
    if started:
        nodes.append([count, lpb, sizes])
    for node in nodes[1:-1]:
        node[2] = None
    return nodes


# ---------------------------------------------------------------------------------------------
# Streams

def stream_listpack_allocs(s: Any, prealloc: int) -> list[int]:
    """zmalloc_size of each node's listpack: exact fit, except the tail, which XADD
    created with room for ``prealloc`` bytes and which is only shrunk when the next node
    opens."""
    nodes = s.nodes
    out = [je(node.lp_bytes()) for node in nodes]
    if out and prealloc:
        last = nodes[-1].lp_bytes()
        out[-1] = je(max(last, prealloc))
    return out


def stream_usage(s: Any, samples: int, prealloc: int, rax_nodes: int | None = None) -> int:
    """objectComputeSize for a stream."""
    from ..structures.stream import count_rax_nodes

    size = ROBJ + STREAM
    nodes = s.nodes
    numele = len(nodes)
    size += rax_estimate(numele, s.rax_nodes() if rax_nodes is None else rax_nodes)
    if numele:
        allocs = stream_listpack_allocs(s, prealloc)
        taken = min(samples, numele)
        lpsize = sum(allocs[:taken])
        if numele <= taken:
            size += lpsize
        else:
            size += (lpsize // taken) * (numele - 1) + allocs[-1]
    for group in s.groups.values():
        pel = group.pel
        size += STREAM_CG + rax_estimate(len(pel), _pel_nodes(pel, count_rax_nodes))
        size += STREAM_NACK * len(pel)
        for consumer in group.consumers.values():
            cpel = consumer.pel
            size += STREAM_CONSUMER + len(consumer.name)
            size += rax_estimate(len(cpel), _pel_nodes(cpel, count_rax_nodes))
    return size


def _pel_nodes(pel: Any, counter: Any) -> int:
    if not pel:
        return 1
    return counter([ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in pel.keys()])


# ---------------------------------------------------------------------------------------------
# Sampled sums, with objectComputeSize's double arithmetic

def extrapolate(base: int, sampled: int, samples: int, count: int) -> int:
    """``asize += (double)elesize/samples*count``, truncated back to an integer."""
    if not samples:
        return base
    return int(base + sampled / samples * count)

