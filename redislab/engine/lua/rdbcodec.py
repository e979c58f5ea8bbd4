"""The small part of the RDB format FUNCTION DUMP and FUNCTION RESTORE need.

A function payload is, per library, the FUNCTION2 opcode (0xF5) and the library code as an RDB
string (LZF-compressed when that saves at least four bytes and rdbcompression is on), then the
RDB version as two little-endian bytes and a CRC64 (Jones polynomial) of everything before it,
eight bytes little-endian. LZF and CRC-64 are the engine's own byte-exact implementations, so
our payloads are byte-identical to Redis's.
"""

from __future__ import annotations

from ..structures import crc64 as _crc64
from ..structures import lzf as _lzf

RDB_VERSION = 10
OPCODE_FUNCTION_PRE_GA = 0xF6
OPCODE_FUNCTION2 = 0xF5

def crc64(data: bytes, crc: int = 0) -> int:
    return _crc64.crc64(data, crc)


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """Compress into at most ``out_len`` bytes; None when it does not fit (as lzf returns 0)."""
    return _lzf.compress(data, out_len)


def lzf_decompress(data: bytes, out_len: int) -> bytes | None:
    """Decompress to exactly ``out_len`` bytes; None when the input is not valid LZF."""
    try:
        return _lzf.decompress(data, out_len)
    except _lzf.LZFError:
        return None


# ---------------------------------------------------------------------------------------------
# RDB strings

def encode_length(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(data: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString for strings that are not small integers (library code always is)."""
    n = len(data)
    if compress and n > 20:
        packed = lzf_compress(data, n - 4)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + data


class PayloadError(Exception):
    """The payload could not be read."""


class Reader:
    """Reads RDB items from a byte string."""

    def __init__(self, data: bytes, end: int | None = None) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise PayloadError("unexpected end")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise PayloadError("unexpected end")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def length(self) -> tuple[int, bool]:
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise PayloadError("unknown length encoding")

    def string(self) -> bytes:
        n, encoded = self.length()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            clen, _ = self.length()
            ulen, _ = self.length()
            out = lzf_decompress(self.take(clen), ulen)
            if out is None:
                raise PayloadError("invalid LZF compressed string")
            return out
        raise PayloadError("unknown string encoding")


def add_footer(body: bytes) -> bytes:
    """Append the RDB version and the CRC64 of everything."""
    body += RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def verify_footer(payload: bytes, check_crc: bool = True) -> bool:
    """verifyDumpPayload: version not newer than ours and a matching CRC64."""
    if len(payload) < 10:
        return False
    footer = payload[-10:]
    version = footer[0] | (footer[1] << 8)
    if version > RDB_VERSION:
        return False
    if not check_crc:
        return True
    return crc64(payload[:-8]).to_bytes(8, "little") == footer[2:]
