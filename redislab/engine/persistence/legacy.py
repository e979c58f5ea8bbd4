"""Encodings older Redis versions wrote into RDB files: ziplists and zipmaps.

Redis 7.0 never writes them but still loads them (and converts them to listpacks), so files
from Redis 2.x-6.x load here too. The encoders exist so tests can build such files; they
produce what the old versions produced for the same elements.

* ziplist (ziplist.c): u32 total bytes, u32 offset of the last entry, u16 count (65535 =
  unknown), entries, 0xFF. An entry is the previous entry's length (1 byte, or 0xFE + u32),
  an encoding header, then data. Strings: ``00pppppp`` (< 64), ``01pppppp qqqqqqqq``
  (< 16384, big-endian), ``10000000`` + u32 big-endian; integers: 0xC0 int16, 0xD0 int32,
  0xE0 int64, 0xF0 int24, 0xFE int8 (little-endian), 0xF1..0xFD the values 0..12 inline.
* zipmap (zipmap.c): a count byte, then per pair a length (1 byte, or 0xFE + u32), the key,
  a length, a "free" byte, the value and that many unused bytes; 0xFF ends it.
"""

from __future__ import annotations

from typing import Union

Item = Union[bytes, int]


class LegacyFormatError(ValueError):
    """A ziplist or zipmap that is not well formed."""


# ---------------------------------------------------------------------------------------------
# ziplist


def ziplist_entries(blob: bytes | bytearray | memoryview) -> list[Item]:
    """The entries of a ziplist, each checked against its neighbours and the header."""
    data = bytes(blob)
    size = len(data)
    if size < 11:
        raise LegacyFormatError("ziplist shorter than its header")
    if int.from_bytes(data[0:4], "little") != size:
        raise LegacyFormatError("ziplist header size differs from its length")
    tail = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[8:10], "little")
    if data[-1] != 0xFF:
        raise LegacyFormatError("ziplist does not end with its terminator")
    out: list[Item] = []
    p = 10
    end = size - 1
    prev_len = 0
    last_start = 10
    while p < end:
        start = p
        if data[p] < 0xFE:
            stored_prev = data[p]
            p += 1
        elif data[p] == 0xFE:
            if p + 5 > end:
                raise LegacyFormatError("ziplist entry header runs past the end")
            stored_prev = int.from_bytes(data[p + 1:p + 5], "little")
            p += 5
        else:
            raise LegacyFormatError("ziplist entry with an invalid previous length")
        if stored_prev != prev_len:
            raise LegacyFormatError("ziplist previous-entry length does not match")
        if p >= end:
            raise LegacyFormatError("ziplist entry header runs past the end")
        enc = data[p]
        kind = enc >> 6
        if kind == 0:
            n = enc & 0x3F
            p += 1
            value: Item = data[p:p + n]
        elif kind == 1:
            if p + 2 > end:
                raise LegacyFormatError("ziplist entry header runs past the end")
            n = ((enc & 0x3F) << 8) | data[p + 1]
            p += 2
            value = data[p:p + n]
        elif enc == 0x80:
            if p + 5 > end:
                raise LegacyFormatError("ziplist entry header runs past the end")
            n = int.from_bytes(data[p + 1:p + 5], "big")
            p += 5
            value = data[p:p + n]
        else:
            widths = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}
            p += 1
            if enc in widths:
                n = widths[enc]
                if p + n > end:
                    raise LegacyFormatError("ziplist integer runs past the end")
                value = int.from_bytes(data[p:p + n], "little", signed=True)
            elif 0xF1 <= enc <= 0xFD:
                n = 0
                value = (enc & 0x0F) - 1
            else:
                raise LegacyFormatError("ziplist entry with an invalid encoding")
        if p + n > end:
            raise LegacyFormatError("ziplist string runs past the end")
        p += n
        out.append(value)
        prev_len = p - start
        last_start = start
    if p != end:
        raise LegacyFormatError("ziplist entries overrun the terminator")
    if out and tail != last_start or not out and tail != 10:
        raise LegacyFormatError("ziplist tail offset is wrong")
    if count != 0xFFFF and count != len(out):
        raise LegacyFormatError("ziplist header count differs from its entries")
    return out


def _zl_int(v: int) -> bytes:
    if 0 <= v <= 12:
        return bytes((0xF1 + v,))
    if -128 <= v <= 127:
        return b"\xfe" + v.to_bytes(1, "little", signed=True)
    if -32768 <= v <= 32767:
        return b"\xc0" + v.to_bytes(2, "little", signed=True)
    if -(2**23) <= v < 2**23:
        return b"\xf0" + v.to_bytes(3, "little", signed=True)
    if -(2**31) <= v < 2**31:
        return b"\xd0" + v.to_bytes(4, "little", signed=True)
    return b"\xe0" + v.to_bytes(8, "little", signed=True)


def ziplist_pack(items: list[bytes]) -> bytes:
    """A ziplist as Redis wrote it (integer-looking strings of up to 31 chars as integers)."""
    from ..structures.listpack import string_to_int

    body = bytearray()
    prev = 0
    last = 10
    for item in items:
        start = len(body) + 10
        head = bytes((prev,)) if prev < 254 else b"\xfe" + prev.to_bytes(4, "little")
        iv = string_to_int(item)
        if iv is not None:
            entry = head + _zl_int(iv)
        else:
            n = len(item)
            if n < 64:
                enc = bytes((n,))
            elif n < 16384:
                enc = bytes((0x40 | (n >> 8), n & 0xFF))
            else:
                enc = b"\x80" + n.to_bytes(4, "big")
            entry = head + enc + item
        body += entry
        prev = len(entry)
        last = start
    total = 10 + len(body) + 1
    count = min(len(items), 0xFFFF)
    return (total.to_bytes(4, "little") + last.to_bytes(4, "little")
            + count.to_bytes(2, "little") + bytes(body) + b"\xff")


# ---------------------------------------------------------------------------------------------
# zipmap


def zipmap_pairs(blob: bytes | bytearray | memoryview) -> list[tuple[bytes, bytes]]:
    """The field/value pairs of a zipmap."""
    data = bytes(blob)
    size = len(data)
    if size < 2:
        raise LegacyFormatError("zipmap shorter than its header")
    p = 1
    out: list[tuple[bytes, bytes]] = []

    def length() -> int:
        nonlocal p
        if p >= size:
            raise LegacyFormatError("zipmap runs past the end")
        b = data[p]
        if b < 254:
            p += 1
            return b
        if b == 254:
            if p + 5 > size:
                raise LegacyFormatError("zipmap runs past the end")
            n = int.from_bytes(data[p + 1:p + 5], "little")
            p += 5
            return n
        raise LegacyFormatError("zipmap length is invalid")

    while True:
        if p >= size:
            raise LegacyFormatError("zipmap does not end with its terminator")
        if data[p] == 0xFF:
            p += 1
            break
        klen = length()
        if p + klen > size:
            raise LegacyFormatError("zipmap key runs past the end")
        key = data[p:p + klen]
        p += klen
        vlen = length()
        if p >= size:
            raise LegacyFormatError("zipmap runs past the end")
        free = data[p]
        p += 1
        if p + vlen + free > size:
            raise LegacyFormatError("zipmap value runs past the end")
        out.append((key, data[p:p + vlen]))
        p += vlen + free
    if p != size:
        raise LegacyFormatError("zipmap has bytes after its terminator")
    if data[0] < 254 and data[0] != len(out):
        raise LegacyFormatError("zipmap header count differs from its entries")
    return out


def zipmap_pack(pairs: list[tuple[bytes, bytes]]) -> bytes:
    def length(n: int) -> bytes:
        return bytes((n,)) if n < 254 else b"\xfe" + n.to_bytes(4, "little")

    body = b"".join(length(len(k)) + k + length(len(v)) + b"\x00" + v for k, v in pairs)
    return bytes((min(len(pairs), 254),)) + body + b"\xff"
