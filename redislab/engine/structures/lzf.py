"""LZF compression byte-identical to liblzf 3.6 as Redis builds it (lzf_c.c, lzf_d.c).

Redis compresses RDB strings longer than 20 bytes with LZF when that saves at least four
bytes, so matching DUMP payloads byte for byte needs the very same choices of matches: a
16-bit hash table of the last position of every 3-byte sequence ("very fast" mode: after a
match only the two positions before its end are hashed), back-references up to 8 KiB away
and 264 bytes long, literal runs of at most 32 bytes. As in liblzf a match at offset 0 of
the input is never used (its table slot doubles as "empty").

Format: a control byte below 32 starts a literal run of ``ctrl + 1`` bytes; otherwise its top
three bits are a length (7 means "add the next byte") and a back-reference of ``length + 2``
bytes starts ``((ctrl & 31) << 8 | next byte) + 1`` bytes back.
"""

from __future__ import annotations

import zlib

MAX_LIT = 1 << 5
MAX_OFF = 1 << 13
MAX_REF = (1 << 8) + (1 << 3)
_HSIZE_MASK = (1 << 16) - 1

# Above this size, input that zlib cannot shrink at all is taken as incompressible without
# running the (slow, pure Python) LZF pass: LZF only finds 3-byte repeats within 8 KiB,
# a strict subset of what deflate looks for, and would need to save len/32 + 4 bytes.
_QUICK_REJECT_FROM = 4096


def compress(data: bytes, limit: int) -> bytes | None:
    """``data`` compressed into at most ``limit`` bytes, or None if it does not fit.

    The same contract as ``lzf_compress(in, in_len, out, limit)`` returning 0.
    """
    in_len = len(data)
    if not in_len or limit <= 0:
        return None
    if in_len >= _QUICK_REJECT_FROM and limit < in_len \
            and len(zlib.compress(data, 6)) >= in_len:
        return None
    out = bytearray(limit + 8)
    htab = [0] * (_HSIZE_MASK + 1)
    ip = 0
    op = 1  # the first literal run's control byte goes at 0
    lit = 0
    in_end = in_len
    stop = in_end - 2
    d = data
    hval = (d[0] << 8) | (d[1] if in_len > 1 else 0)
    while ip < stop:
        hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFF
        slot = ((hval >> 8) - hval * 5) & _HSIZE_MASK
        ref = htab[slot]
        htab[slot] = ip
        off = ip - ref - 1
        if ref > 0 and off < MAX_OFF and off >= 0 and d[ref + 2] == d[ip + 2] \
                and d[ref] == d[ip] and d[ref + 1] == d[ip + 1]:
            maxlen = in_end - ip - 2
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            if op + 4 >= limit and op - (0 if lit else 1) + 4 >= limit:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF
            if not lit:
                op -= 1
            # Count matching bytes exactly as liblzf's unrolled loop does (it may run two
            # bytes past maxlen when maxlen is 17 or 18).
            if maxlen > 16:
                length = 3
                while length <= 18 and d[ref + length] == d[ip + length]:
                    length += 1
                if length > 18:
                    length = 19
                    while length < maxlen and d[ref + length] == d[ip + length]:
                        length += 1
            else:
                length = 3
                while length < maxlen and d[ref + length] == d[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2  # the reference's last byte, then room for the next run's control byte
            lit = 0
            ip += length + 1
            if ip >= stop:
                break
            ip -= 2
            hval = (d[ip] << 8) | d[ip + 1]
            hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & _HSIZE_MASK] = ip
            ip += 1
            hval = ((hval << 8) | d[ip + 2]) & 0xFFFFFF
            htab[((hval >> 8) - hval * 5) & _HSIZE_MASK] = ip
            ip += 1
        else:
            if op >= limit:
                return None
            lit += 1
            out[op] = d[ip]
            op += 1
            ip += 1
            if lit == MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > limit:
        return None
    while ip < in_end:
        lit += 1
        out[op] = d[ip]
        op += 1
        ip += 1
        if lit == MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    if not lit:
        op -= 1
    return bytes(out[:op])


class LZFError(ValueError):
    """The compressed data is not valid LZF or does not expand to the stated length."""


def decompress(data: bytes | memoryview, out_len: int) -> bytes:
    """Expand ``data`` to exactly ``out_len`` bytes; raises LZFError otherwise."""
    src = bytes(data)
    in_end = len(src)
    # A back-reference yields at most 264 bytes from 2-3 input bytes: anything claiming more
    # is corrupt, and refusing it early avoids reserving memory for a hostile length.
    if out_len < 0 or out_len > in_end * 132 + 64:
        raise LZFError("stated length impossible for the compressed size")
    out = bytearray()
    ip = 0
    while ip < in_end:
        ctrl = src[ip]
        ip += 1
        if ctrl < 32:
            ctrl += 1
            if len(out) + ctrl > out_len:
                raise LZFError("output overflow")
            if ip + ctrl > in_end:
                raise LZFError("literal run past the end of the input")
            out += src[ip:ip + ctrl]
            ip += ctrl
        else:
            length = ctrl >> 5
            if ip >= in_end:
                raise LZFError("back-reference past the end of the input")
            if length == 7:
                length += src[ip]
                ip += 1
                if ip >= in_end:
                    raise LZFError("back-reference past the end of the input")
            op = len(out)
            ref = op - ((ctrl & 0x1F) << 8) - 1 - src[ip]
            ip += 1
            length += 2
            if op + length > out_len:
                raise LZFError("output overflow")
            if ref < 0:
                raise LZFError("back-reference before the start of the output")
            if ref + length <= op:
                out += out[ref:ref + length]
            else:
                # Overlapping copy: the bytes repeat with period op - ref.
                period = out[ref:op]
                reps, rest = divmod(length, len(period))
                out += period * reps + period[:rest]
    if len(out) != out_len:
        raise LZFError("decompressed length differs from the stated length")
    return bytes(out)
