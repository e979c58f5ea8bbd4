"""Intsets byte for byte as Redis lays them out (intset.c).

An intset is a u32 little-endian element width (2, 4 or 8 bytes), a u32 count, then the
members sorted ascending as little-endian two's-complement integers of that width. The
width is that of the widest member ever added: adding a wider value upgrades the whole
array, and nothing ever narrows it again.
"""

from __future__ import annotations

import struct
from typing import Iterable

HEADER_SIZE = 8
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_FORMATS = {2: "h", 4: "i", 8: "q"}


class IntsetError(ValueError):
    """The bytes are not a well-formed intset."""


def value_width(v: int) -> int:
    """_intsetValueEncoding: bytes needed for ``v``."""
    if v < INT32_MIN or v > INT32_MAX:
        return 8
    if v < INT16_MIN or v > INT16_MAX:
        return 4
    return 2


def width_of(values: Iterable[int]) -> int:
    width = 2
    for v in values:
        w = value_width(v)
        if w > width:
            width = w
            if w == 8:
                break
    return width


def pack(values: Iterable[int], width: int | None = None) -> bytes:
    """The intset blob for ``values`` (any order, no duplicates), at least ``width`` wide."""
    ordered = sorted(values)
    w = width_of(ordered) if ordered else 2
    if width is not None and width > w:
        w = width
    fmt = _FORMATS[w]
    return (w.to_bytes(4, "little") + len(ordered).to_bytes(4, "little")
            + struct.pack("<%d%s" % (len(ordered), fmt), *ordered))


def blob_size(count: int, width: int) -> int:
    return HEADER_SIZE + count * width


def unpack(blob: bytes | bytearray | memoryview) -> list[int]:
    """The members of an intset, after checking its width, length and strict ordering."""
    data = bytes(blob)
    if len(data) < HEADER_SIZE:
        raise IntsetError("intset shorter than its header")
    width = int.from_bytes(data[0:4], "little")
    if width not in (2, 4, 8):
        raise IntsetError("intset has an invalid element width")
    count = int.from_bytes(data[4:8], "little")
    if HEADER_SIZE + count * width != len(data):
        raise IntsetError("intset length differs from its element count")
    if count == 0:
        raise IntsetError("intset is empty")
    fmt = _FORMATS[width]
    values = list(struct.unpack("<%d%s" % (count, fmt), data[HEADER_SIZE:]))
    prev = values[0]
    for v in values[1:]:
        if v <= prev:
            raise IntsetError("intset members are not sorted or not unique")
        prev = v
    return values
