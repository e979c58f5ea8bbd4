"""Allocator and string-header arithmetic: what one allocation really occupies in Redis 7.0.

Redis asks jemalloc for memory and counts the *usable* size of every block (zmalloc.c), so a
request is billed at its size class, not at the bytes asked for. Strings are sds buffers whose
header grows with the length they must describe (sds.h). The constants are the x86_64 struct
sizes that object.c adds up with ``sizeof`` (those are *not* rounded to a size class).
"""

from __future__ import annotations

# sizeof() of the structures MEMORY USAGE adds up (x86_64).
ROBJ = 16
DICT_ENTRY = 24
DICT = 56
QUICKLIST = 40
QUICKLIST_NODE = 40
ZSET = 16
ZSKIPLIST = 32
ZSKIPLIST_NODE = 24
ZSKIPLIST_LEVEL = 16
ZSKIPLIST_MAXLEVEL = 32
STREAM = 80
STREAM_CG = 40
STREAM_CONSUMER = 24
STREAM_NACK = 24
STREAM_ID = 16
RAX_NODE = 4
POINTER = 8
INTSET_HEADER = 8

# Requests above this many bytes are "big arguments": the query buffer itself becomes the
# value, with room for the trailing CRLF (networking.c, PROTO_MBULK_BIG_ARG).
BIG_ARG = 32 * 1024
SDS_MAX_PREALLOC = 1024 * 1024
_TYPE_MAX = {3: 255, 5: 65535, 9: 2**32 - 1, 17: 2**64 - 1}


def je(n: int) -> int:
    """jemalloc's size class for a request of ``n`` bytes (x86_64, 4 classes per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) & -step


def sds_header(length: int) -> int:
    """Header bytes of an sds created for ``length`` bytes (sdsReqType; empty is type 8)."""
    if length < 32:
        return 1 if length else 3
    if length < 256:
        return 3
    if length < 65536:
        return 5
    if length < 2**32:
        return 9
    return 17


def sds_alloc(length: int) -> int:
    """Bytes an exact-fit sds of ``length`` occupies (sdsnewlen): header, data, NUL."""
    return je(sds_header(length) + length + 1)


def sds_usable(length: int) -> int:
    """The capacity sdsnewlen records for ``length`` bytes: the size class's room.

    Type-5 strings (shorter than 32 bytes) have no capacity field, so they report exactly
    their length and any append must reallocate.
    """
    hdr = sds_header(length)
    if hdr == 1:
        return length
    return min(je(hdr + length + 1) - hdr - 1, _TYPE_MAX[hdr])


def sds_grow(needed: int) -> int:
    """The capacity sdsMakeRoomFor gives a string that must hold ``needed`` bytes.

    Greedy: double the need below 1 MiB, else add 1 MiB; never a type-5 header (it could
    not remember the spare room); the capacity is the size class's room, capped by what
    the header type can record.
    """
    newlen = needed * 2 if needed < SDS_MAX_PREALLOC else needed + SDS_MAX_PREALLOC
    hdr = sds_header(newlen)
    if hdr == 1:
        hdr = 3
    return min(je(hdr + newlen + 1) - hdr - 1, _TYPE_MAX[hdr])


def sds_capacity_alloc(capacity: int) -> int:
    """Bytes of an sds whose recorded capacity is ``capacity`` (a grown or edited string)."""
    return je(sds_header(capacity) + capacity + 1)


def embstr_alloc(length: int) -> int:
    """An embstr is the robj and a type-8 sds in one block."""
    return je(ROBJ + 3 + length + 1)


def raw_value_alloc(length: int) -> int:
    """The sds of a raw string stored by SET: exact fit, or the big-argument query buffer."""
    if length >= BIG_ARG:
        return je(sds_header(length + 2) + length + 2 + 1)
    return sds_alloc(length)


def skiplist_node(level: int) -> int:
    return je(ZSKIPLIST_NODE + ZSKIPLIST_LEVEL * level)


# The skiplist header node always has every level.
SKIPLIST_HEADER = skiplist_node(ZSKIPLIST_MAXLEVEL)


def rax_estimate(elements: int, nodes: int) -> int:
    """object.c's streamRadixTreeMemoryUsage: a formula, not the real allocations."""
    return elements * STREAM_ID + nodes * RAX_NODE + nodes * POINTER * 30


def next_power(n: int) -> int:
    """_dictNextExp: the table size for ``n`` entries (at least 4)."""
    if n <= 4:
        return 4
    return 1 << (n - 1).bit_length()
