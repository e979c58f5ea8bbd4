"""Value types stored in the keyspace, and what Redis calls their type and encoding.

Strings are plain ``bytes`` (the hot path stores nothing else) or a :class:`MutableString` once
APPEND, SETRANGE, SETBIT or a HyperLogLog write has turned them into Redis's growable raw sds.
Containers are small subclasses of Python's own containers so that each can carry the
encoding Redis would have picked (object.c, t_hash.c, t_set.c, t_zset.c).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from sortedcontainers import SortedList

from .memory.alloc import sds_grow, sds_usable

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1


def is_canonical_int(data: bytes) -> bool:
    """True if ``data`` is a signed 64-bit integer written the way Redis writes one."""
    n = len(data)
    if n == 0 or n > 20:
        return False
    c = data[0]
    if c == 0x2D:  # '-'
        if n == 1 or data[1] == 0x30:
            return False
        body = data[1:]
    else:
        if c == 0x30 and n > 1:
            return False
        body = data
    if not body.isdigit():
        return False
    v = int(data)
    return LLONG_MIN <= v <= LLONG_MAX


def string_encoding(data: bytes) -> str:
    """OBJECT ENCODING of a string created by SET (tryObjectEncoding)."""
    if len(data) <= 20 and is_canonical_int(data):
        return "int"
    return "embstr" if len(data) <= 44 else "raw"


class MutableString:
    """A raw string that has been modified in place; grows greedily like sdsMakeRoomFor.

    ``alloc`` is the capacity Redis records in the sds header: the room of the allocator's
    size class (so a later small append may fit without growing), or exactly the length for
    a string shorter than 32 bytes created at its size (a type-5 sds has no room to spare).
    """

    __slots__ = ("buf", "alloc", "embstr")

    def __init__(self, data: bytes | bytearray = b"") -> None:
        self.buf = bytearray(data)
        self.alloc = sds_usable(len(self.buf))
        # An embstr that holds an integer's text (INCRBYFLOAT stores its result unencoded);
        # never edited in place: a write makes a raw copy, as dbUnshareStringValue does.
        self.embstr = False

    @classmethod
    def embedded(cls, data: bytes) -> "MutableString":
        s = cls(data)
        s.embstr = True
        return s

    def reserve(self, needed: int) -> None:
        """Room for ``needed`` bytes: double below 1 MiB, else +1 MiB, to a size class."""
        if needed <= self.alloc:
            return
        self.alloc = sds_grow(needed)

    def __len__(self) -> int:
        return len(self.buf)

    def __bytes__(self) -> bytes:
        return bytes(self.buf)

    def __repr__(self) -> str:
        return f"MutableString({bytes(self.buf)!r})"


class ListValue(deque):
    """A list (quicklist in 7.0: 7.0 has no listpack-encoded lists).

    ``nodes`` is the quicklist's node layout (structures.quicklist.Layout) once anything but
    appends at the tail has happened; None means "as RPUSH would lay these elements out".
    """

    __slots__ = ("nodes",)
    encoding = "quicklist"

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        super().__init__(items)
        self.nodes: Any = None


class HashValue(dict):
    """A hash: listpack while small, hashtable once a threshold is crossed (never back)."""

    __slots__ = ("encoding",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.encoding = "listpack"


class SetValue(set):
    """A set: intset while every member is an integer and it is small, else hashtable."""

    __slots__ = ("encoding", "width")

    def __init__(self, items: Iterable[bytes] = ()) -> None:
        super().__init__(items)
        self.encoding = "intset"
        # The widest intset element width this set has had: removing the member that
        # needed it never narrows the array again (intset.c only upgrades).
        self.width = 2


class ZSetValue:
    """A sorted set: member -> score, plus members ordered by (score, member).

    Redis pairs a dict with a skiplist; a SortedList gives the same O(log N) rank and range.
    """

    __slots__ = ("scores", "order", "encoding")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self.encoding = "listpack"

    def __len__(self) -> int:
        return len(self.scores)

    def __contains__(self, member: bytes) -> bool:
        return member in self.scores

    def add(self, member: bytes, score: float) -> None:
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.order.remove((old, member))
        self.scores[member] = score
        self.order.add((score, member))

    def discard(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.order.remove((old, member))
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.index((score, member))


TYPE_NAMES: dict[type, str] = {
    bytes: "string",
    MutableString: "string",
    ListValue: "list",
    HashValue: "hash",
    SetValue: "set",
    ZSetValue: "zset",
}


def register_type(cls: type, name: str) -> None:
    """Let another module add a value type (streams, ...) without this one importing it."""
    TYPE_NAMES[cls] = name


def type_name(value: Any) -> str:
    return TYPE_NAMES.get(type(value), "none")


def encoding_of(value: Any) -> str:
    """OBJECT ENCODING of a stored value."""
    t = type(value)
    if t is bytes:
        return string_encoding(value)
    if t is MutableString:
        return "embstr" if value.embstr else "raw"
    enc = getattr(value, "encoding", None)
    return enc if isinstance(enc, str) else "raw"


def as_bytes(value: Any) -> bytes:
    """The bytes of a string value of either representation."""
    return value if type(value) is bytes else bytes(value.buf)
