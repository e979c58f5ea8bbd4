"""Listpacks byte for byte as Redis 7.0 lays them out (listpack.c).

A listpack is a 6-byte header (total bytes, u32 little-endian; element count, u16, where
65535 means "too many to count"), the entries, and a terminator byte 0xFF. Each entry is an
encoding byte with its data, then a "backlen": the size of encoding+data in 1 to 5 bytes of
7 bits each, readable from right to left so the list can be walked backwards.

Encodings: ``0xxxxxxx`` integer 0..127; ``10xxxxxx`` string shorter than 64 bytes;
``110xxxxx`` + 1 byte: 13-bit integer; ``1110xxxx`` + 1 byte: string shorter than 4096;
0xF1/0xF2/0xF3/0xF4: 16/24/32/64-bit integers; 0xF0 + u32 length: long string. A string that
reads as a canonical 64-bit integer (at most 20 characters) is stored as an integer.

:func:`pack` builds the bytes, :func:`unpack` reads them back after checking every entry
(the way ``lpValidateIntegrity`` does with deep checking on), raising :class:`ListpackError`.
The size helpers let other structures (streams, quicklist nodes) track byte sizes without
building the bytes.
"""

from __future__ import annotations

from typing import Iterable, Union

LP_EOF = 0xFF
HEADER_SIZE = 6
NUMELE_UNKNOWN = 65535
EMPTY_SIZE = HEADER_SIZE + 1

Item = Union[bytes, int]


class ListpackError(ValueError):
    """The bytes are not a well-formed listpack."""


# ---------------------------------------------------------------------------------------------
# Sizes


def string_to_int(data: bytes) -> int | None:
    """lpStringToInt64: the integer a string is stored as, or None to store it as a string."""
    n = len(data)
    if n == 0 or n > 20:
        return None
    if data == b"0":
        return 0
    body = data[1:] if data[:1] == b"-" else data
    if not body or not body.isdigit() or body[:1] == b"0" or not body.isascii():
        return None
    v = int(data)
    return v if -(2**63) <= v <= 2**63 - 1 else None


def backlen_size(n: int) -> int:
    """Bytes of the backlen for an entry whose encoding+data is ``n`` bytes."""
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def lp_int_size(v: int) -> int:
    """Bytes an integer entry takes (encoding + data + backlen)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def lp_str_size(data: bytes) -> int:
    """Bytes a string entry takes (integer-looking strings are stored as integers)."""
    iv = string_to_int(data)
    if iv is not None:
        return lp_int_size(iv)
    ln = len(data)
    n = ln + (1 if ln < 64 else 2 if ln < 4096 else 5)
    return n + backlen_size(n)


def lp_item_size(item: Item) -> int:
    return lp_int_size(item) if type(item) is int else lp_str_size(item)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Encoding


def _backlen(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


# Entries for small integers never change: build them once.
_SMALL_INTS = {v: bytes((v, 1)) for v in range(128)}


def encode_int(v: int) -> bytes:
    """One integer entry (encoding, data, backlen)."""
    if 0 <= v <= 127:
        return _SMALL_INTS[v]
    if -4096 <= v <= 4095:
        if v < 0:
            v += 1 << 13
        return bytes(((v >> 8) | 0xC0, v & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + v.to_bytes(2, "little", signed=True) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + v.to_bytes(3, "little", signed=True) + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + v.to_bytes(4, "little", signed=True) + b"\x05"
    return b"\xf4" + v.to_bytes(8, "little", signed=True) + b"\x09"


def encode_string(data: bytes) -> bytes:
    """One entry for ``data``: an integer entry if it reads as one, else a string entry."""
    iv = string_to_int(data) if len(data) <= 20 else None
    if iv is not None:
        return encode_int(iv)
    n = len(data)
    if n < 64:
        return bytes((0x80 | n,)) + data + _backlen(n + 1)
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + data + _backlen(n + 2)
    return b"\xf0" + n.to_bytes(4, "little") + data + _backlen(n + 5)


def encode_item(item: Item) -> bytes:
    return encode_int(item) if type(item) is int else encode_string(item)  # type: ignore


def pack(items: Iterable[Item]) -> bytes:
    """A listpack holding ``items`` in order (bytes are strings, ints are integers)."""
    body = [encode_int(x) if type(x) is int else encode_string(x) for x in items]  # type: ignore
    return pack_entries(body)


def pack_entries(entries: list[bytes]) -> bytes:
    """A listpack from already encoded entries."""
    payload = b"".join(entries)
    total = HEADER_SIZE + len(payload) + 1
    count = min(len(entries), NUMELE_UNKNOWN)
    return total.to_bytes(4, "little") + count.to_bytes(2, "little") + payload + b"\xff"


# ---------------------------------------------------------------------------------------------
# Decoding


def unpack(blob: bytes | bytearray | memoryview) -> list[Item]:
    """The entries of a listpack: ``bytes`` for strings, ``int`` for integers.

    Every entry is checked (encoding, lengths within bounds, backlen consistent), and so are
    the header's byte total, the element count (unless 65535) and the terminator.
    """
    data = bytes(blob)
    size = len(data)
    if size < EMPTY_SIZE:
        raise ListpackError("listpack shorter than its header")
    total = int.from_bytes(data[0:4], "little")
    if total != size:
        raise ListpackError("listpack header size differs from its length")
    count = data[4] | (data[5] << 8)
    if data[-1] != LP_EOF:
        raise ListpackError("listpack does not end with its terminator")
    out: list[Item] = []
    append = out.append
    p = HEADER_SIZE
    end = size - 1
    while p < end:
        b = data[p]
        if b < 0x80:
            append(b)
            enc_len = 1
        elif b < 0xC0:
            n = b & 0x3F
            enc_len = 1 + n
            if p + enc_len > end:
                raise ListpackError("listpack string runs past the end")
            append(data[p + 1:p + enc_len])
        elif b < 0xE0:
            if p + 2 > end:
                raise ListpackError("listpack integer runs past the end")
            v = ((b & 0x1F) << 8) | data[p + 1]
            append(v - (1 << 13) if v >= 1 << 12 else v)
            enc_len = 2
        elif b < 0xF0:
            if p + 2 > end:
                raise ListpackError("listpack string header runs past the end")
            n = ((b & 0x0F) << 8) | data[p + 1]
            enc_len = 2 + n
            if p + enc_len > end:
                raise ListpackError("listpack string runs past the end")
            append(data[p + 2:p + enc_len])
        elif b == 0xF0:
            if p + 5 > end:
                raise ListpackError("listpack string header runs past the end")
            n = int.from_bytes(data[p + 1:p + 5], "little")
            enc_len = 5 + n
            if p + enc_len > end:
                raise ListpackError("listpack string runs past the end")
            append(data[p + 5:p + enc_len])
        elif 0xF1 <= b <= 0xF4:
            width = (2, 3, 4, 8)[b - 0xF1]
            enc_len = 1 + width
            if p + enc_len > end:
                raise ListpackError("listpack integer runs past the end")
            append(int.from_bytes(data[p + 1:p + enc_len], "little", signed=True))
        else:
            raise ListpackError("invalid listpack entry encoding 0x%02x" % b)
        blen = backlen_size(enc_len)
        q = p + enc_len
        if q + blen > end:
            raise ListpackError("listpack backlen runs past the end")
        if data[q:q + blen] != _backlen(enc_len):
            raise ListpackError("listpack backlen does not match its entry")
        p = q + blen
    if p != end:
        raise ListpackError("listpack entries overrun the terminator")
    if count != NUMELE_UNKNOWN and count != len(out):
        raise ListpackError("listpack header count differs from its entries")
    return out


def item_bytes(item: Item) -> bytes:
    """An entry as the string Redis hands out (integers in decimal)."""
    return b"%d" % item if type(item) is int else item  # type: ignore[return-value]


def unpack_bytes(blob: bytes | bytearray | memoryview) -> list[bytes]:
    """Like :func:`unpack` with every entry as bytes."""
    return [b"%d" % x if type(x) is int else x for x in unpack(blob)]  # type: ignore[misc]
