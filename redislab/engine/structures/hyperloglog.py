"""Redis's HyperLogLog, bit for bit: hash, registers, sparse and dense layouts, estimator.

A HyperLogLog is an ordinary string value: a 16-byte header (``HYLL``, an encoding byte, three
unused bytes, an 8-byte little-endian cached cardinality whose top bit marks the cache as stale)
followed by the registers. Each of the 16384 registers holds the longest run of trailing zero
bits (plus one) seen among the hashes routed to it.

Two layouts exist. *Dense* packs the registers as 6-bit fields, least significant bit first,
in 12288 bytes. *Sparse* is a run-length code with three opcodes: ``00xxxxxx`` (1-64 zero
registers), ``01xxxxxx xxxxxxxx`` (1-16384 zero registers) and ``1vvvvvxx`` (value 1-32
repeated 1-4 times). Sparse edits split one opcode into at most three and then merge equal
neighbouring values within a short window, exactly as Redis does, so that the bytes (and
therefore GET, DUMP and the promotion point to dense) come out identical.

Editing a sparse value works on a decoded list of opcodes plus the register index where each
one ends, so that finding the opcode that covers a register is a binary search; the bytes are
rebuilt once at the end of a command.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from array import array
from bisect import bisect_right
from itertools import accumulate
from typing import Iterable, Protocol

HDR_SIZE = 16
P = 14
REGISTERS = 1 << P
INDEX_MASK = REGISTERS - 1
Q = 64 - P
DENSE_BYTES = REGISTERS * 6 // 8
DENSE_SIZE = HDR_SIZE + DENSE_BYTES
DENSE = 0
SPARSE = 1
MAGIC = b"HYLL"
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680

VAL_MAX_VALUE = 32
VAL_MAX_LEN = 4
ZERO_MAX_LEN = 64
XZERO_MAX_LEN = 16384

_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1
_BIT50 = 1 << Q

# Span of each one-byte opcode (ZERO: low 6 bits + 1; VAL: low 2 bits + 1).
_SPANS = bytes((b & 0x3F) + 1 if b < 0x40 else (b & 3) + 1 for b in range(256))
# The registers each one-byte opcode stands for.
_EXPAND = tuple(bytes((b & 0x3F) + 1) if b < 0x40
                else bytes((((b >> 2) & 0x1F) + 1,)) * ((b & 3) + 1) for b in range(256))
# The first byte of a two-byte (XZERO) opcode.
_TWO_BYTE = re.compile(rb"[\x40-\x7f]")
_NONZERO = re.compile(rb"[^\x00]")

# A fresh value: one XZERO opcode covering every register, cached cardinality 0.
EMPTY_SPARSE = MAGIC + bytes([SPARSE]) + bytes(11) + bytes([0x7F, 0xFF])


class Corrupt(Exception):
    """The registers of a value that passed the header checks do not add up."""


class Growable(Protocol):
    """What an editor needs of the string it edits (values.MutableString)."""

    buf: bytearray
    alloc: int

    def reserve(self, needed: int) -> None: ...


# ---------------------------------------------------------------------------------------------
# Hashing

_BLOCKS: dict[int, struct.Struct] = {}


def hash64(data: bytes) -> int:
    """MurmurHash64A with Redis's seed: 64-bit little-endian words, then the tail bytes."""
    n = len(data)
    h = (SEED ^ (n * _M)) & _U64
    words = n >> 3
    if words:
        s = _BLOCKS.get(words)
        if s is None:
            s = _BLOCKS[words] = struct.Struct("<%dQ" % words)
        for k in s.unpack_from(data):
            k = (k * _M) & _U64
            k ^= k >> 47
            h ^= (k * _M) & _U64
            h = (h * _M) & _U64
    if n & 7:
        h ^= int.from_bytes(data[words << 3:], "little")
        h = (h * _M) & _U64
    h ^= h >> 47
    h = (h * _M) & _U64
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """The register an element lands in and the value it offers (trailing zeros + 1)."""
    h = hash64(element)
    rest = (h >> P) | _BIT50
    return h & INDEX_MASK, (rest & -rest).bit_length()


# ---------------------------------------------------------------------------------------------
# Header

def is_hll(data: bytes | bytearray) -> bool:
    """The checks Redis makes before treating a string as a HyperLogLog."""
    n = len(data)
    if n < HDR_SIZE or data[:4] != MAGIC:
        return False
    enc = data[4]
    if enc > SPARSE:
        return False
    return enc != DENSE or n == DENSE_SIZE


def cached_cardinality(data: bytes | bytearray) -> int | None:
    """The cached count, or None when the stale bit is set."""
    if data[15] & 0x80:
        return None
    return int.from_bytes(data[8:16], "little")


def store_cardinality(buf: bytearray, card: int) -> None:
    buf[8:16] = (card & _U64).to_bytes(8, "little")


def invalidate(buf: bytearray) -> None:
    buf[15] |= 0x80


# ---------------------------------------------------------------------------------------------
# Register arrays: one byte per register

def _table(fn) -> bytes:  # type: ignore[no-untyped-def]
    return bytes(fn(i) & 0xFF for i in range(256))


_LOW6 = _table(lambda b: b & 63)
_SHR6 = _table(lambda b: b >> 6)
_LOW4_SHL2 = _table(lambda b: (b & 15) << 2)
_SHR4 = _table(lambda b: b >> 4)
_LOW2_SHL4 = _table(lambda b: (b & 3) << 4)
_SHR2 = _table(lambda b: b >> 2)
_LOW2_SHL6 = _table(lambda b: (b & 3) << 6)
_LOW4_SHL4 = _table(lambda b: (b & 15) << 4)
_SHL2 = _table(lambda b: b << 2)


def _or(a: bytes, b: bytes) -> bytes:
    # Bytewise OR of two equal-length strings whose set bits never overlap.
    n = len(a)
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little")


def unpack_dense(packed: bytes | bytearray) -> bytearray:
    """12288 packed bytes -> 16384 registers; every 3 bytes hold 4 registers."""
    b0 = bytes(packed[0::3])
    b1 = bytes(packed[1::3])
    b2 = bytes(packed[2::3])
    out = bytearray(REGISTERS)
    out[0::4] = b0.translate(_LOW6)
    out[1::4] = _or(b0.translate(_SHR6), b1.translate(_LOW4_SHL2))
    out[2::4] = _or(b1.translate(_SHR4), b2.translate(_LOW2_SHL4))
    out[3::4] = b2.translate(_SHR2)
    return out


def pack_dense(regs: bytes | bytearray) -> bytearray:
    """16384 registers (each below 64) -> 12288 packed bytes."""
    r0 = bytes(regs[0::4])
    r1 = bytes(regs[1::4])
    r2 = bytes(regs[2::4])
    r3 = bytes(regs[3::4])
    out = bytearray(DENSE_BYTES)
    out[0::3] = _or(r0, r1.translate(_LOW2_SHL6))
    out[1::3] = _or(r1.translate(_SHR2), r2.translate(_LOW4_SHL4))
    out[2::3] = _or(r2.translate(_SHR4), r3.translate(_SHL2))
    return out


_LANE_HIGH = int.from_bytes(b"\x80" * REGISTERS, "little")
_LANE_ALL = (1 << (8 * REGISTERS)) - 1


def merge_max(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Register-wise maximum of two register arrays (values below 128), without a loop.

    Each byte is a lane: setting the lane's top bit of ``a`` before subtracting ``b`` leaves
    that bit set exactly where ``a >= b``, and no borrow crosses lanes.
    """
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    ge = (((x | _LANE_HIGH) - y) & _LANE_HIGH) >> 7
    mask = (ge << 8) - ge
    return ((x & mask) | (y & ~mask & _LANE_ALL)).to_bytes(REGISTERS, "little")


def _expand(body: bytes | bytearray, tail: int = 0) -> bytes | None:
    """The registers a sparse body describes, one byte each, or None unless the opcodes cover
    exactly 16384 registers. ``tail`` is the byte read past the end by a cut-short opcode.

    A run that would pass the last register is corruption (the bounds checks of the
    CVE-2025-32023 fix, which the reference server has), as is a body that falls short.
    """
    parts: list[bytes] = []
    total = pos = 0
    n = len(body)
    search = _TWO_BYTE.search
    while True:
        m = search(body, pos)
        stop = m.start() if m is not None else n
        if stop > pos:
            seg = bytes(body[pos:stop])
            total += sum(seg.translate(_SPANS))
            if total > REGISTERS:
                return None
            parts.append(b"".join(map(_EXPAND.__getitem__, seg)))
        if m is None:
            break
        lo = body[stop + 1] if stop + 1 < n else tail
        run = ((body[stop] & 0x3F) << 8 | lo) + 1
        total += run
        if total > REGISTERS:
            return None
        parts.append(bytes(run))
        pos = stop + 2
        if pos >= n:
            break
    if total != REGISTERS:
        return None
    return b"".join(parts)


def registers(data: bytes | bytearray) -> bytes | bytearray:
    """All registers of a valid-headed HLL, one byte each (PFMERGE, PFCOUNT of several keys).
    Raises Corrupt for a sparse body that does not cover exactly 16384 registers."""
    if data[4] == DENSE:
        return unpack_dense(data[HDR_SIZE:])
    regs = _expand(data[HDR_SIZE:])
    if regs is None:
        raise Corrupt
    return regs


_NEEDLES = [bytes((k,)) for k in range(64)]


def histogram_of(regs: bytes | bytearray) -> list[int]:
    """How many registers hold each value. Values above Q + 1 never enter the estimate, so
    they are left uncounted; counting stops once every register is accounted for."""
    hist = [0] * 64
    left = len(regs)
    for k in range(Q + 2):
        c = regs.count(_NEEDLES[k])
        if c:
            hist[k] = c
            left -= c
            if not left:
                break
    return hist


def histogram(data: bytes | bytearray) -> list[int]:
    """How many registers hold each value 0..63; Corrupt if a sparse body is not 16384 long."""
    return histogram_of(registers(data))


# ---------------------------------------------------------------------------------------------
# Estimator (Ertl, "New cardinality estimation algorithms for HyperLogLog sketches")

def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        before = z
        z += x * y
        y += y
        if z == before:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1.0 - x
    while True:
        x = math.sqrt(x)
        before = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == before:
            return z / 3.0


def estimate(hist: list[int]) -> int:
    """The cardinality estimate from a register histogram, as an unsigned 64-bit number."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for k in range(Q, 0, -1):
        z += hist[k]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    num = ALPHA_INF * m * m
    e = num / z if z else math.inf
    # llroundl: halves away from zero; out of range (or infinite) gives LLONG_MIN, which the
    # conversion to an unsigned count turns into 2^63.
    if not math.isfinite(e) or e >= 9223372036854775807.5:
        return 1 << 63
    f = math.floor(e)
    return int(f) + (1 if e - f >= 0.5 else 0)


def count(data: bytes | bytearray) -> int:
    """Estimate from a valid-headed HLL's registers (ignores the cache). Raises Corrupt."""
    return estimate(histogram(data))


def to_signed(card: int) -> int:
    """The count as the reply shows it (an unsigned value sent as a signed 64-bit integer)."""
    return card - (1 << 64) if card >= 1 << 63 else card


# ---------------------------------------------------------------------------------------------
# Editing

# Decoded opcodes of recently edited sparse values, so that a run of small PFADDs does not
# decode the same body again each time. An entry holds its string (so the id stays unique) and
# the body it was decoded from; it is used only while the string still holds that body, and
# taken out while an edit is in progress.
_DECODED: dict[int, tuple[bytearray, bytes, list[int], list[int]]] = {}
_DECODED_MAX = 8


def _zero_op(run: int) -> tuple[int, int]:
    """Opcode (as an int; two-byte opcodes are >= 0x4000) and byte length for a zero run."""
    if run > ZERO_MAX_LEN:
        return 0x4000 | (run - 1), 2
    return run - 1, 1


def _val_op(value: int, run: int) -> int:
    return 0x80 | ((value - 1) << 2) | (run - 1)


class Editor:
    """Applies register updates to an HLL string, reproducing Redis's bytes and allocation.

    ``set`` returns 1 if the register grew and 0 if not (``add_many`` counts the elements that
    made one grow); both raise :class:`Corrupt` when a sparse body cannot be edited. Call
    :meth:`finish` (also after an error) to write the sparse body back into the string.
    """

    __slots__ = ("value", "max_bytes", "dense", "head", "ops", "ends", "size", "phantom",
                 "touched")

    def __init__(self, value: Growable, max_bytes: int) -> None:
        self.value = value
        self.max_bytes = max_bytes
        buf = value.buf
        self.touched = False
        if buf[4] == DENSE:
            self.dense: bytearray | None = buf
            return
        self.dense = None
        self.head = bytearray(buf[:HDR_SIZE])
        body = bytes(buf[HDR_SIZE:])
        cached = _DECODED.pop(id(buf), None)
        if cached is not None and cached[0] is buf and cached[1] == body:
            self.ops, self.ends = cached[2], cached[3]
            self.size = len(buf)
            self.phantom = False
        else:
            self._load(body, 0)

    def _load(self, body: bytes, tail: int) -> None:
        """Decode a sparse body; ``tail`` is the byte just past its end (the sds terminator).

        One-byte opcodes are decoded in bulk (a translate to spans, then a running sum); only
        the rare two-byte opcodes are handled one at a time.
        """
        ops: list[int] = []
        ends: list[int] = []
        n = len(body)
        pos = idx = 0
        phantom = False
        search = _TWO_BYTE.search
        while True:
            m = search(body, pos)
            stop = m.start() if m is not None else n
            if stop > pos:
                seg = body[pos:stop]
                ops.extend(seg)
                running = accumulate(seg.translate(_SPANS), initial=idx)
                next(running)
                ends.extend(running)
                idx = ends[-1]
            if m is None:
                break
            if stop + 1 < n:
                op = body[stop] << 8 | body[stop + 1]
            else:
                op = body[stop] << 8 | tail
                phantom = True
            idx += (op & 0x3FFF) + 1
            ops.append(op)
            ends.append(idx)
            pos = stop + 2
            if pos >= n:
                break
        self.ops = ops
        self.ends = ends
        self.size = HDR_SIZE + n
        self.phantom = phantom

    # A crafted body may end with the first byte of a two-byte opcode: Redis then reads the
    # byte past the end of the string (normally its NUL terminator) as the second byte. The
    # helpers below keep that "phantom" byte exactly as Redis's memory would hold it.

    def _set_tail(self, tail: int) -> None:
        ops = self.ops
        ops[-1] = (ops[-1] & 0xFF00) | tail
        self.ends[-1] = (self.ends[-2] if len(ops) > 1 else 0) + (ops[-1] & 0x3FFF) + 1

    def _reload_after_tail_edit(self) -> None:
        # The last opcode was rewritten in place: its final byte now lies past the end.
        full = self._encode()
        self._load(full[:-1], full[-1])

    # -- dense --------------------------------------------------------------------------------

    def _dense_set(self, index: int, count: int) -> int:
        buf = self.dense
        assert buf is not None
        bit = index * 6
        pos = HDR_SIZE + (bit >> 3)
        fb = bit & 7
        if fb <= 2:
            b = buf[pos]
            if count > (b >> fb) & 63:
                buf[pos] = (b & ~(63 << fb)) | (count << fb)
                return 1
            return 0
        w = buf[pos] | buf[pos + 1] << 8
        if count > (w >> fb) & 63:
            w = (w & ~(63 << fb)) | (count << fb)
            buf[pos] = w & 0xFF
            buf[pos + 1] = w >> 8
            return 1
        return 0

    def add_many(self, elements: Iterable[bytes]) -> int:
        """Add elements; returns how many of them made a register grow."""
        updated = 0
        it = iter(elements)
        if self.dense is None:
            for e in it:
                index, cnt = pattern(e)
                if self.set(index, cnt):
                    updated += 1
                if self.dense is not None:
                    break
            else:
                return updated
        buf = self.dense
        assert buf is not None
        for e in it:
            # pattern() and _dense_set() inlined: this loop is PFADD's hot path.
            h = hash64(e)
            rest = (h >> P) | _BIT50
            cnt = (rest & -rest).bit_length()
            bit = (h & INDEX_MASK) * 6
            pos = HDR_SIZE + (bit >> 3)
            fb = bit & 7
            if fb <= 2:
                b = buf[pos]
                if cnt > (b >> fb) & 63:
                    buf[pos] = (b & ~(63 << fb)) | (cnt << fb)
                    updated += 1
            else:
                w = buf[pos] | buf[pos + 1] << 8
                if cnt > (w >> fb) & 63:
                    w = (w & ~(63 << fb)) | (cnt << fb)
                    buf[pos] = w & 0xFF
                    buf[pos + 1] = w >> 8
                    updated += 1
        return updated

    def merge_registers(self, regs: bytes | bytearray) -> None:
        """Raise every register to at least ``regs`` (PFMERGE into its destination)."""
        if self.dense is not None:
            self._merge_dense(regs)
            return
        for index, value in enumerate(regs):
            if value:
                self.set(index, value)
                if self.dense is not None:
                    self._merge_dense(regs)
                    return

    def _merge_dense(self, regs: bytes | bytearray) -> None:
        buf = self.dense
        assert buf is not None
        mine = unpack_dense(buf[HDR_SIZE:])
        buf[HDR_SIZE:] = pack_dense(merge_max(mine, regs))

    # -- sparse -------------------------------------------------------------------------------

    def set(self, index: int, count: int) -> int:
        """Raise register ``index`` to ``count`` (hllSparseSet / hllDenseSet)."""
        if self.dense is not None:
            return self._dense_set(index, count)
        if count > VAL_MAX_VALUE:
            return self._promote(index, count)
        self.value.reserve(self.size + 3)
        ends = self.ends
        i = bisect_right(ends, index)
        ops = self.ops
        if i >= len(ops):
            raise Corrupt
        op = ops[i]
        if op >= 0x80 and op < 0x100:
            if ((op >> 2) & 0x1F) + 1 >= count:
                return 0
            if op & 3 == 0:
                ops[i] = _val_op(count, 1)
                return self._updated(i)
        elif op == 0:
            ops[i] = _val_op(count, 1)
            return self._updated(i)
        first = ends[i - 1] if i else 0
        last = ends[i] - 1
        new_ops: list[int] = []
        new_ends: list[int] = []
        seqlen = 0
        if op < 0x80 or op >= 0x100:
            if index != first:
                zop, zlen = _zero_op(index - first)
                new_ops.append(zop)
                new_ends.append(index)
                seqlen += zlen
            new_ops.append(_val_op(count, 1))
            new_ends.append(index + 1)
            seqlen += 1
            if index != last:
                zop, zlen = _zero_op(last - index)
                new_ops.append(zop)
                new_ends.append(last + 1)
                seqlen += zlen
            oldlen = 2 if op >= 0x100 else 1
        else:
            cur = ((op >> 2) & 0x1F) + 1
            if index != first:
                new_ops.append(_val_op(cur, index - first))
                new_ends.append(index)
                seqlen += 1
            new_ops.append(_val_op(count, 1))
            new_ends.append(index + 1)
            seqlen += 1
            if index != last:
                new_ops.append(_val_op(cur, last - index))
                new_ends.append(last + 1)
                seqlen += 1
            oldlen = 1
        delta = seqlen - oldlen
        if delta > 0 and self.size + delta > self.max_bytes:
            return self._promote(index, count)
        was_last = i == len(ops) - 1
        ops[i:i + 1] = new_ops
        ends[i:i + 1] = new_ends
        self.size += delta
        if self.phantom:
            if was_last:
                self._reload_after_tail_edit()
            else:
                self._set_tail(0)
        return self._updated(i)

    def _updated(self, i: int) -> int:
        """Merge equal neighbouring value runs in a window of five opcodes from the previous
        opcode, then mark the cached count stale."""
        ops = self.ops
        ends = self.ends
        p = i - 1 if i else 0
        n = len(ops)
        scan = 5
        while p < n and scan:
            scan -= 1
            op = ops[p]
            if op < 0x80 or op >= 0x100:
                p += 1
                continue
            if p + 1 < n:
                nxt = ops[p + 1]
                if 0x80 <= nxt < 0x100 and (op ^ nxt) & 0x7C == 0:
                    run = (op & 3) + (nxt & 3) + 2
                    if run <= VAL_MAX_LEN:
                        ops[p + 1] = (op & ~3) | (run - 1)
                        del ops[p]
                        del ends[p]
                        n -= 1
                        self.size -= 1
                        if self.phantom:
                            self._set_tail(0)
                        continue
            p += 1
        self.head[15] |= 0x80
        self.touched = True
        return 1

    def _promote(self, index: int, count: int) -> int:
        self.to_dense()
        return self._dense_set(index, count)

    def to_dense(self) -> bool:
        """Convert to the dense layout (hllSparseToDense); True if it was sparse."""
        if self.dense is not None:
            return False
        regs = _expand(self._encode())
        if regs is None:
            raise Corrupt
        # The header (stale bit and unused bytes included) carries over; only the encoding
        # byte changes. The dense string is a fresh exact-size allocation.
        head = self.head
        head[4] = DENSE
        buf = head + pack_dense(regs)
        self.dense = buf
        self.touched = True
        value = self.value
        value.buf = buf
        value.alloc = len(buf)
        return True

    def _encode(self) -> bytes:
        ops = self.ops
        try:
            return bytes(ops)
        except ValueError:
            pass
        # Some opcodes take two bytes: lay every opcode out as 16 bits, then keep only the
        # low byte of the one-byte opcodes.
        words = array("H", ops)
        if sys.byteorder == "big":
            words.byteswap()
        raw = words.tobytes()
        low = raw[0::2]
        high = raw[1::2]
        out: list[bytes] = []
        prev = 0
        for m in _NONZERO.finditer(high):
            i = m.start()
            out.append(low[prev:i])
            out.append(bytes((high[i], low[i])))
            prev = i + 1
        out.append(low[prev:])
        return b"".join(out)

    def finish(self) -> None:
        """Write an edited sparse body back into the string (and remember its decoding)."""
        if self.dense is not None:
            return
        if self.touched:
            body = self._encode()
            if self.phantom:
                body = body[:-1]
            buf = self.value.buf = self.head + body
        else:
            buf = self.value.buf
            body = bytes(buf[HDR_SIZE:])
        if not self.phantom:
            if len(_DECODED) >= _DECODED_MAX:
                del _DECODED[next(iter(_DECODED))]
            _DECODED[id(buf)] = (buf, body, self.ops, self.ends)

    def invalidate(self) -> None:
        if self.dense is not None:
            self.dense[15] |= 0x80
        else:
            self.head[15] |= 0x80
            self.touched = True

