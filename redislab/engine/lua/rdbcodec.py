"""The small part of the RDB format FUNCTION DUMP and FUNCTION RESTORE need.

A function payload is, per library, the FUNCTION2 opcode (0xF5) and the library code as an RDB
string (LZF-compressed when that saves at least four bytes and rdbcompression is on), then the
RDB version as two little-endian bytes and a CRC64 (Jones polynomial) of everything before it,
eight bytes little-endian. The LZF compressor follows liblzf 3.6 as Redis builds it (16-bit hash,
"very fast" mode) so that our payloads are byte-identical to Redis's.
"""

from __future__ import annotations

RDB_VERSION = 10
OPCODE_FUNCTION_PRE_GA = 0xF6
OPCODE_FUNCTION2 = 0xF5

# ---------------------------------------------------------------------------------------------
# CRC64 (Jones, reflected, init 0)

_POLY = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed


def _table() -> list[int]:
    out = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        out.append(crc)
    return out


_CRC_TABLE = _table()


def crc64(data: bytes, crc: int = 0) -> int:
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


# ---------------------------------------------------------------------------------------------
# LZF

_HLOG = 16
_HSIZE = 1 << _HLOG
_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def _idx(h: int) -> int:
    return ((h >> (24 - _HLOG)) - h * 5) & (_HSIZE - 1)


def lzf_compress(data: bytes, out_len: int) -> bytes | None:
    """Compress into at most ``out_len`` bytes; None when it does not fit (as lzf returns 0)."""
    in_len = len(data)
    if not in_len or not out_len:
        return None
    htab = [0] * _HSIZE  # 0 = empty (positions are stored plus one)
    out = bytearray(out_len + 8)
    ip = 0
    op = 1
    lit = 0
    in_end = in_len
    hval = (data[0] << 8) | (data[1] if in_len > 1 else 0)
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
        slot = _idx(hval)
        ref = htab[slot] - 1
        htab[slot] = ip + 1
        off = ip - ref - 1
        if (ref > 0 and 0 <= off < _MAX_OFF and data[ref + 2] == data[ip + 2]
                and data[ref] == data[ip] and data[ref + 1] == data[ip + 1]):
            length = 2
            maxlen = in_end - ip - length
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            if op + 3 + 1 >= out_len:
                if op - (0 if lit else 1) + 3 + 1 >= out_len:
                    return None
            out[op - lit - 1] = lit - 1 & 0xFF
            op -= 0 if lit else 1
            done = False
            if maxlen > 16:
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        done = True
                        break
            if not done:
                while True:
                    length += 1
                    if not (length < maxlen and data[ref + length] == data[ip + length]):
                        break
            length -= 2
            ip += 1
            if length < 7:
                out[op] = ((off >> 8) + (length << 5)) & 0xFF
                op += 1
            else:
                out[op] = ((off >> 8) + (7 << 5)) & 0xFF
                out[op + 1] = (length - 7) & 0xFF
                op += 2
            out[op] = off & 0xFF
            op += 1
            lit = 0
            op += 1
            ip += length + 1
            if ip >= in_end - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip + 1
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFFFF
            htab[_idx(hval)] = ip + 1
            ip += 1
        else:
            if op >= out_len:
                return None
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_len:
        return None
    while ip < in_end:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= 0 if lit else 1
    return bytes(out[:op])


def lzf_decompress(data: bytes, out_len: int) -> bytes | None:
    """Decompress to exactly ``out_len`` bytes; None when the input is not valid LZF."""
    out = bytearray()
    ip, in_end = 0, len(data)
    while ip < in_end:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            ctrl += 1
            if len(out) + ctrl > out_len or ip + ctrl > in_end:
                return None
            out += data[ip:ip + ctrl]
            ip += ctrl
        else:
            length = ctrl >> 5
            ref = len(out) - ((ctrl & 0x1F) << 8) - 1
            if ip >= in_end:
                return None
            if length == 7:
                length += data[ip]
                ip += 1
                if ip >= in_end:
                    return None
            ref -= data[ip]
            ip += 1
            if len(out) + length + 2 > out_len or ref < 0:
                return None
            for _ in range(length + 2):
                out.append(out[ref])
                ref += 1
    if len(out) != out_len:
        return None
    return bytes(out)


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
