"""RDB version 10 (Redis 7.0): writing snapshots and DUMP payloads, and reading them back.

A file is ``REDIS0010``, auxiliary fields (``redis-ver``, ``redis-bits``, ``ctime``,
``used-mem``, ``aof-base``), one FUNCTION2 record per function library, then per non-empty
database a SELECTDB and a RESIZEDB record followed by its keys, and finally EOF (0xFF) and
the CRC-64 of everything before it (little-endian). A key record is an optional
EXPIRETIME_MS, an optional IDLE or FREQ (only under an LRU or LFU maxmemory policy), the
value's type byte, the key and the value. A DUMP payload is the type byte and the value,
then the RDB version (2 bytes) and a CRC-64.

Values are written in the encoding the engine holds them in, exactly as Redis writes that
encoding (listpack and intset blobs byte for byte, LZF-compressed when that saves at least
four bytes). Lists are written as quicklist nodes laid out the way a sequence of RPUSHes
fills them. Loading accepts everything 7.0 loads, including the ziplist, zipmap and
quicklist-v1 types of older versions, and picks compact encodings afresh as Redis does.

Reading never trusts a length: every count or size is checked against the bytes that are
really there, every listpack, intset and ziplist is validated entry by entry, and any problem
raises :class:`RDBError` with a one-line reason. Parsing builds a :class:`Dataset` without
touching an engine, so a bad file never leaves a half-loaded keyspace.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..memory.sizes import LISTPACK_EMPTY, lp_entry
from ..structures import intset, listpack, lzf
from ..structures.quicklist import Layout, node_slices
from ..structures.crc64 import crc64
from ..structures.stream import (FLAG_DELETED, FLAG_SAMEFIELDS, NACK, U64, Consumer,
                                 ConsumerGroup, Entry, Node, Stream)
from ..values import HashValue, ListValue, MutableString, SetValue, ZSetValue
from .legacy import LegacyFormatError, ziplist_entries, zipmap_pairs

if TYPE_CHECKING:
    from ..engine import Engine

RDB_VERSION = 10
MAGIC = b"REDIS"

# Value types (rdb.h)
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19

TYPE_NAMES = {
    T_STRING: "string", T_LIST: "list (linked list)", T_SET: "set (hashtable)",
    T_ZSET: "zset (text scores)", T_HASH: "hash (hashtable)", T_ZSET_2: "zset (skiplist)",
    T_MODULE: "module", T_MODULE_2: "module", T_HASH_ZIPMAP: "hash (zipmap)",
    T_LIST_ZIPLIST: "list (ziplist)", T_SET_INTSET: "set (intset)",
    T_ZSET_ZIPLIST: "zset (ziplist)", T_HASH_ZIPLIST: "hash (ziplist)",
    T_LIST_QUICKLIST: "list (quicklist v1)", T_STREAM_LISTPACKS: "stream (v1)",
    T_HASH_LISTPACK: "hash (listpack)", T_ZSET_LISTPACK: "zset (listpack)",
    T_LIST_QUICKLIST_2: "list (quicklist)", T_STREAM_LISTPACKS_2: "stream",
}

# Opcodes
OP_FUNCTION2 = 0xF5
OP_FUNCTION_PRE_GA = 0xF6
OP_MODULE_AUX = 0xF7
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_EXPIRETIME = 0xFD
OP_SELECTDB = 0xFE
OP_EOF = 0xFF

ENC_INT8 = 0xC0
ENC_INT16 = 0xC1
ENC_INT32 = 0xC2
ENC_LZF = 0xC3

QUICKLIST_PLAIN = 1
QUICKLIST_PACKED = 2
# quicklist.c: elements this big get a node of their own (packed_threshold, 1 GiB).
PACKED_THRESHOLD = 1 << 30
# quicklist.c: byte limits for negative fill values -1..-5, and the cap for positive ones.
_FILL_BYTES = (4096, 8192, 16384, 32768, 65536)
_SIZE_SAFETY_LIMIT = 8192
_SIZE_ESTIMATE_OVERHEAD = 8

LRU_POLICIES = ("volatile-lru", "allkeys-lru")
LFU_POLICIES = ("volatile-lfu", "allkeys-lfu")
LRU_CLOCK_MAX = (1 << 24) - 1

_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack


class RDBError(Exception):
    """An RDB file or DUMP payload that cannot be loaded; ``str()`` is a one-line reason.

    ``offset`` is where reading stopped, when known.
    """

    offset: int | None = None


# ---------------------------------------------------------------------------------------------
# Writing primitives


def encode_length(n: int) -> bytes:
    """rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit big-endian length."""
    if n < 64:
        return bytes((n,))
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + (n & U64).to_bytes(8, "big")


_LENGTHS = [bytes((n,)) for n in range(64)]


def _int_encoded(s: bytes) -> bytes | None:
    """rdbTryIntegerEncoding: a canonical integer that fits 32 bits, as INT8/16/32."""
    c = s[0]
    if c == 0x2D:
        if len(s) == 1 or s[1] == 0x30:
            return None
        if not s[1:].isdigit():
            return None
    elif c == 0x30:
        if len(s) != 1:
            return None
    elif not s.isdigit():
        return None
    v = int(s)
    if -128 <= v <= 127:
        return bytes((ENC_INT8, v & 0xFF))
    if -32768 <= v <= 32767:
        return b"\xc1" + v.to_bytes(2, "little", signed=True)
    if -(2**31) <= v < 2**31:
        return b"\xc2" + v.to_bytes(4, "little", signed=True)
    return None


def encode_string(s: bytes, compress: bool = True) -> bytes:
    """rdbSaveRawString: small integers int-encoded, long strings LZF-compressed if it pays."""
    n = len(s)
    if n <= 11:
        if n:
            enc = _int_encoded(s)
            if enc is not None:
                return enc
        return _LENGTHS[n] + s
    if compress and n > 20:
        packed = lzf.compress(s, n - 4)
        if packed is not None:
            return b"\xc3" + encode_length(len(packed)) + encode_length(n) + packed
    return encode_length(n) + s


def d2string(v: float) -> bytes:
    """How a listpack zset stores a score (util.c d2string with double2ll).

    Integral values within +-LLONG_MAX/2 print as integers (so -0.0 is "0"), anything else
    as %.17g; the listpack then stores integer-looking text as an integer.
    """
    if -4611686018427387904.0 <= v <= 4611686018427387904.0 and v == int(v):
        return b"%d" % int(v)
    if v != v:
        return b"nan"
    if v in (math.inf, -math.inf):
        return b"inf" if v > 0 else b"-inf"
    return b"%.17g" % v


def quicklist_nodes(items: Iterable[bytes], fill: int) -> list[tuple[int, list[bytes]]]:
    """How RPUSHing ``items`` one by one fills quicklist nodes (_quicklistNodeAllowInsert).

    Returns ``(container, elements)`` per node: PACKED nodes hold a listpack, a PLAIN node
    holds one element of at least 1 GiB.
    """
    fill = max(-5, min(fill, 32767))
    limit = _FILL_BYTES[-fill - 1] if fill < 0 else 0
    size_of = listpack.lp_str_size
    nodes: list[tuple[int, list[bytes]]] = []
    cur: list[bytes] | None = None
    cur_bytes = 0
    for item in items:
        n = len(item)
        if n >= PACKED_THRESHOLD:
            nodes.append((QUICKLIST_PLAIN, [item]))
            cur = None
            continue
        if cur is not None:
            estimate = cur_bytes + n + _SIZE_ESTIMATE_OVERHEAD
            if fill < 0:
                fits = estimate <= limit
            else:
                fits = estimate <= _SIZE_SAFETY_LIMIT and len(cur) < fill
            if fits:
                cur.append(item)
                cur_bytes += size_of(item)
                continue
        cur = [item]
        cur_bytes = listpack.EMPTY_SIZE + size_of(item)
        nodes.append((QUICKLIST_PACKED, cur))
    return nodes


def _wrap64(v: int) -> int:
    v &= U64
    return v - (1 << 64) if v >= 1 << 63 else v


def stream_node_listpack(node: Node) -> bytes:
    """The listpack of one stream node as t_stream.c lays it out."""
    fields = node.master_fields
    items: list[Any] = [node.live, node.deleted, len(fields), *fields, 0]
    mms, mseq = node.master_id
    for e in node.entries:
        flags = e.flags
        items.append(flags)
        items.append(_wrap64(e.id[0] - mms))
        items.append(_wrap64(e.id[1] - mseq))
        if flags & FLAG_SAMEFIELDS:
            items.extend(e.values)
            items.append(len(e.values) + 3)
        else:
            items.append(len(e.fields))
            for f, v in zip(e.fields, e.values):
                items.append(f)
                items.append(v)
            items.append(2 * len(e.values) + 4)
    return listpack.pack(items)


def _raw_id(sid: tuple[int, int]) -> bytes:
    return sid[0].to_bytes(8, "big") + sid[1].to_bytes(8, "big")


def encode_value(value: Any, compress: bool = True, fill: int = -2) -> tuple[int, bytes]:
    """The RDB type byte and serialized value (rdbSaveObjectType + rdbSaveObject)."""
    t = type(value)
    if t is bytes:
        return T_STRING, encode_string(value, compress)
    if t is MutableString:
        return T_STRING, encode_string(bytes(value.buf), compress)
    if t is ListValue:
        layout = value.nodes
        if layout is not None and layout.total() == len(value):
            # The nodes as the list's history left them (LPUSH, LINSERT, LREM, LTRIM ...).
            nodes = [(QUICKLIST_PACKED, part) for part in node_slices(value, layout.counts())]
        else:
            nodes = quicklist_nodes(value, fill)
        parts = [encode_length(len(nodes))]
        for container, elements in nodes:
            parts.append(_LENGTHS[container])
            blob = elements[0] if container == QUICKLIST_PLAIN else listpack.pack(elements)
            parts.append(encode_string(blob, compress))
        return T_LIST_QUICKLIST_2, b"".join(parts)
    if t is SetValue:
        if value.encoding == "intset":
            return T_SET_INTSET, encode_string(intset.pack((int(m) for m in value),
                                                           value.width), compress)
        return T_SET, encode_length(len(value)) + b"".join(
            encode_string(m, compress) for m in value)
    if t is HashValue:
        if value.encoding == "listpack":
            flat: list[bytes] = []
            for f, v in value.items():
                flat.append(f)
                flat.append(v)
            return T_HASH_LISTPACK, encode_string(listpack.pack(flat), compress)
        return T_HASH, encode_length(len(value)) + b"".join(
            encode_string(f, compress) + encode_string(v, compress) for f, v in value.items())
    if t is ZSetValue:
        if value.encoding == "listpack":
            flat = []
            for score, member in value.order:
                flat.append(member)
                flat.append(d2string(score))
            return T_ZSET_LISTPACK, encode_string(listpack.pack(flat), compress)
        parts = [encode_length(len(value))]
        for score, member in reversed(value.order):
            parts.append(encode_string(member, compress))
            parts.append(_pack_double(score))
        return T_ZSET_2, b"".join(parts)
    if t is Stream:
        return T_STREAM_LISTPACKS_2, _encode_stream(value, compress)
    raise TypeError(f"cannot serialize a {t.__name__}")


def _encode_stream(s: Stream, compress: bool) -> bytes:
    parts = [encode_length(len(s.nodes))]
    for node in s.nodes:
        parts.append(encode_string(_raw_id(node.master_id), compress))
        parts.append(encode_string(stream_node_listpack(node), compress))
    for n in (s.length, s.last_id[0], s.last_id[1], s.first_id[0], s.first_id[1],
              s.max_deleted_id[0], s.max_deleted_id[1], s.entries_added):
        parts.append(encode_length(n))
    parts.append(encode_length(len(s.groups)))
    for name, group in s.groups.items():
        parts.append(encode_string(name, compress))
        parts.append(encode_length(group.last_id[0]))
        parts.append(encode_length(group.last_id[1]))
        parts.append(encode_length(group.entries_read & U64))
        parts.append(encode_length(len(group.pel)))
        for sid, nack in group.pel.items():
            parts.append(_raw_id(sid))
            parts.append(nack.delivery_time.to_bytes(8, "little", signed=True))
            parts.append(encode_length(nack.delivery_count))
        parts.append(encode_length(len(group.consumers)))
        for cname, consumer in group.consumers.items():
            parts.append(encode_string(cname, compress))
            parts.append(consumer.seen_time.to_bytes(8, "little", signed=True))
            parts.append(encode_length(len(consumer.pel)))
            for sid in consumer.pel:
                parts.append(_raw_id(sid))
    return b"".join(parts)


def dump_payload(value: Any, compress: bool = True, fill: int = -2) -> bytes:
    """DUMP: type byte, value, RDB version (2 bytes LE) and CRC-64 (8 bytes LE)."""
    rtype, body = encode_value(value, compress, fill)
    payload = bytes((rtype,)) + body + RDB_VERSION.to_bytes(2, "little")
    return payload + crc64(payload).to_bytes(8, "little")


def verify_payload(payload: bytes) -> bool:
    """verifyDumpPayload: a version we know and a matching CRC-64."""
    if len(payload) < 10:
        return False
    version = payload[-10] | (payload[-9] << 8)
    if version > RDB_VERSION:
        return False
    return crc64(payload[:-8]).to_bytes(8, "little") == payload[-8:]


# ---------------------------------------------------------------------------------------------
# Whole files


def lru_idle_seconds(engine: "Engine", db: Any, key: bytes) -> int:
    """estimateObjectIdleTime in seconds, from the key's access stamp."""
    clock = engine.lru_clock
    stamp = db.lru.get(key, clock)
    return clock - stamp if clock >= stamp else clock + (LRU_CLOCK_MAX - stamp)


def lfu_counter(engine: "Engine", db: Any, key: bytes) -> int:
    """LFUDecrAndReturn: the access-frequency counter after time decay."""
    freq = engine.extensions.get("object_freq")
    if freq is not None:
        return int(freq(db, key))
    data = db.lru.get(key, 0)
    last, counter = data >> 8, data & 255
    now = (engine.clock.time_ms() // 60000) & 65535
    elapsed = now - last if now >= last else 65535 - last + now
    decay = engine.config["lfu-decay-time"]
    periods = elapsed // decay if decay else 0
    return max(0, counter - periods)


def write_rdb(engine: "Engine", *, aof_base: bool = False,
              sizes: dict[tuple[int, bytes], int] | None = None) -> bytes:
    """The whole dataset as an RDB file (rdbSaveRio).

    With ``sizes``, records each key's serialized size there (for copy-on-write estimates).
    """
    from ..engine import VERSION
    from ..info import used_memory

    cfg = engine.config
    compress = cfg["rdbcompression"]
    fill = cfg["list-max-listpack-size"]
    policy = cfg["maxmemory-policy"]
    save_lru = policy in LRU_POLICIES
    save_lfu = policy in LFU_POLICIES
    out: list[bytes] = [b"REDIS%04d" % RDB_VERSION]

    def aux(name: bytes, value: bytes) -> None:
        out.append(b"\xfa" + encode_string(name, compress) + encode_string(value, compress))

    aux(b"redis-ver", VERSION.encode())
    aux(b"redis-bits", b"64")
    aux(b"ctime", b"%d" % (engine.clock.time_ms() // 1000))
    aux(b"used-mem", b"%d" % used_memory(engine))
    aux(b"aof-base", b"1" if aof_base else b"0")
    lua = engine.extensions.get("lua")
    if lua is not None:
        for lib in lua.registry.libraries.values():
            out.append(b"\xf5" + encode_string(lib.code, compress))
    for db in engine.dbs:
        data = db.data
        if not data:
            continue
        out.append(b"\xfe" + encode_length(db.id))
        out.append(b"\xfb" + encode_length(len(data)) + encode_length(len(db.expires)))
        expires = db.expires
        for key, value in data.items():
            rec = []
            when = expires.get(key) if expires else None
            if when is not None:
                rec.append(b"\xfc" + when.to_bytes(8, "little", signed=True))
            if save_lru:
                rec.append(b"\xf8" + encode_length(lru_idle_seconds(engine, db, key)))
            elif save_lfu:
                rec.append(bytes((OP_FREQ, lfu_counter(engine, db, key) & 0xFF)))
            rtype, body = encode_value(value, compress, fill)
            rec.append(bytes((rtype,)))
            rec.append(encode_string(key, compress))
            rec.append(body)
            record = b"".join(rec)
            if sizes is not None:
                sizes[(db.id, key)] = len(record)
            out.append(record)
    out.append(b"\xff")
    image = b"".join(out)
    checksum = crc64(image) if cfg["rdbchecksum"] else 0
    return image + checksum.to_bytes(8, "little")


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(slots=True)
class Limits:
    """The encoding thresholds loading uses to re-pick compact encodings."""

    hash_entries: int = 512
    hash_value: int = 64
    zset_entries: int = 128
    zset_value: int = 64
    intset_entries: int = 512
    list_fill: int = -2

    @classmethod
    def from_config(cls, cfg: Any) -> "Limits":
        return cls(cfg["hash-max-listpack-entries"], cfg["hash-max-listpack-value"],
                   cfg["zset-max-listpack-entries"], cfg["zset-max-listpack-value"],
                   cfg["set-max-intset-entries"], cfg["list-max-listpack-size"])


class Reader:
    """Reads RDB primitives from a byte string, refusing to read past its end."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def eof(self) -> RDBError:
        return RDBError("Unexpected EOF reading RDB file")

    def byte(self) -> int:
        p = self.pos
        if p >= self.end:
            raise self.eof()
        self.pos = p + 1
        return self.data[p]

    def take(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > self.end:
            raise self.eof()
        self.pos = p + n
        return self.data[p:p + n]

    def length(self) -> int:
        n, encoded = self.length_or_encoding()
        if encoded:
            raise RDBError("Unexpected string encoding where a length belongs")
        return n

    def length_or_encoding(self) -> tuple[int, bool]:
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RDBError(f"Unknown length encoding {b} in rdbLoadLen()")

    def string(self) -> bytes:
        data = self.data
        p = self.pos
        if p < self.end:
            b = data[p]
            if b < 64:
                q = p + 1 + b
                if q <= self.end:
                    self.pos = q
                    return data[p + 1:q]
        n, encoded = self.length_or_encoding()
        if not encoded:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            clen = self.length()
            ulen = self.length()
            blob = self.take(clen)
            try:
                return lzf.decompress(blob, ulen)
            except lzf.LZFError as e:
                raise RDBError(f"Invalid LZF compressed string ({e})") from None
        raise RDBError(f"Unknown RDB string encoding type {n}")

    def binary_double(self) -> float:
        return _unpack_double(self.take(8))[0]

    def text_double(self) -> float:
        """rdbLoadDoubleValue (old ZSET type): 253 nan, 254 inf, 255 -inf, else text."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        text = self.take(n)
        try:
            return float(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise RDBError("Invalid double value in a sorted set") from None

    def millis(self) -> int:
        return int.from_bytes(self.take(8), "little", signed=True)


def is_object_type(t: int) -> bool:
    """rdbIsObjectType."""
    return 0 <= t <= 7 or 9 <= t <= 19


def _as_bytes(item: Any) -> bytes:
    return b"%d" % item if type(item) is int else item


def _unpack_lp(blob: bytes, what: str) -> list[Any]:
    try:
        return listpack.unpack(blob)
    except listpack.ListpackError as e:
        raise RDBError(f"{what} listpack integrity check failed: {e}") from None


def _unpack_zl(blob: bytes, what: str) -> list[Any]:
    try:
        return ziplist_entries(blob)
    except LegacyFormatError as e:
        raise RDBError(f"{what} ziplist integrity check failed: {e}") from None


def _score(item: Any) -> float:
    if type(item) is int:
        return float(item)
    try:
        v = float(item.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise RDBError("Zset listpack holds a score that is not a number") from None
    if v != v:
        raise RDBError("Zset with NAN score detected")
    return v


def _hash_from_pairs(pairs: list[tuple[bytes, bytes]], limits: Limits,
                     compact_ok: bool, check_values: bool) -> HashValue | None:
    if not pairs:
        return None
    h = HashValue()
    for f, v in pairs:
        if f in h:
            raise RDBError("Duplicate hash fields detected")
        h[f] = v
    if not compact_ok or len(h) > limits.hash_entries or (check_values and any(
            len(f) > limits.hash_value or len(v) > limits.hash_value for f, v in pairs)):
        h.encoding = "hashtable"
    return h


def _zset_from_pairs(pairs: Iterable[tuple[bytes, float]], limits: Limits,
                     check_values: bool) -> ZSetValue | None:
    z = ZSetValue()
    scores = z.scores
    longest = 0
    for member, score in pairs:
        if score != score:
            raise RDBError("Zset with NAN score detected")
        if member in scores:
            raise RDBError("Duplicate zset fields detected")
        scores[member] = score
        if len(member) > longest:
            longest = len(member)
    if not scores:
        return None
    z.order.update((s, m) for m, s in scores.items())
    if len(scores) > limits.zset_entries or (check_values and longest > limits.zset_value):
        z.encoding = "skiplist"
    return z


def _set_from_members(members: list[bytes], limits: Limits) -> SetValue | None:
    if not members:
        return None
    s = SetValue(members)
    if len(s) != len(members):
        raise RDBError("Duplicate set members detected")
    if len(s) > limits.intset_entries or any(listpack.string_to_int(m) is None
                                             for m in members):
        s.encoding = "hashtable"
    return s


def read_value(r: Reader, rtype: int, limits: Limits) -> Any:
    """rdbLoadObject: one value of type ``rtype``; None for an empty collection."""
    if rtype == T_STRING:
        return r.string()
    if rtype == T_LIST:
        n = r.length()
        lst = ListValue(r.string() for _ in _count(r, n))
        return lst or None
    if rtype == T_SET:
        n = r.length()
        return _set_from_members([r.string() for _ in _count(r, n)], limits)
    if rtype in (T_ZSET, T_ZSET_2):
        n = r.length()
        read_score = r.binary_double if rtype == T_ZSET_2 else r.text_double
        pairs = []
        for _ in _count(r, n):
            member = r.string()
            pairs.append((member, read_score()))
        return _zset_from_pairs(pairs, limits, True)
    if rtype == T_HASH:
        n = r.length()
        pairs = []
        for _ in _count(r, n):
            f = r.string()
            pairs.append((f, r.string()))
        return _hash_from_pairs(pairs, limits, True, True)
    if rtype == T_LIST_QUICKLIST_2:
        return _read_quicklist(r, True, limits.list_fill)
    if rtype == T_LIST_QUICKLIST:
        return _read_quicklist(r, False, limits.list_fill)
    if rtype in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2):
        return read_stream(r, rtype == T_STREAM_LISTPACKS_2)
    if rtype in (T_MODULE, T_MODULE_2):
        raise RDBError("The RDB file contains module data I can't load: no matching module "
                       "type")
    if not is_object_type(rtype):
        raise RDBError(f"Unknown RDB encoding type {rtype}")
    blob = r.string()
    if rtype == T_SET_INTSET:
        try:
            values = intset.unpack(blob)
        except intset.IntsetError as e:
            raise RDBError(f"Intset integrity check failed: {e}") from None
        s = SetValue(b"%d" % v for v in values)
        s.width = int.from_bytes(blob[:4], "little")
        if len(s) > limits.intset_entries:
            s.encoding = "hashtable"
        return s
    if rtype == T_HASH_LISTPACK:
        items = _unpack_lp(blob, "Hash")
        if len(items) % 2:
            raise RDBError("Hash listpack has an odd number of entries")
        flat = [_as_bytes(x) for x in items]
        return _hash_from_pairs(list(zip(flat[0::2], flat[1::2])), limits, True, False)
    if rtype == T_ZSET_LISTPACK:
        items = _unpack_lp(blob, "Zset")
        if len(items) % 2:
            raise RDBError("Zset listpack has an odd number of entries")
        return _zset_from_pairs([(_as_bytes(m), _score(s)) for m, s in
                                 zip(items[0::2], items[1::2])], limits, False)
    if rtype == T_LIST_ZIPLIST:
        lst = ListValue(_as_bytes(x) for x in _unpack_zl(blob, "List"))
        return lst or None
    if rtype in (T_ZSET_ZIPLIST, T_HASH_ZIPLIST):
        items = _unpack_zl(blob, "Zset" if rtype == T_ZSET_ZIPLIST else "Hash")
        if len(items) % 2:
            raise RDBError("Ziplist has an odd number of entries")
        flat = [_as_bytes(x) for x in items]
        if rtype == T_HASH_ZIPLIST:
            return _hash_from_pairs(list(zip(flat[0::2], flat[1::2])), limits, True, True)
        return _zset_from_pairs([(m, _score(s)) for m, s in zip(flat[0::2], flat[1::2])],
                                limits, True)
    if rtype == T_HASH_ZIPMAP:
        try:
            pairs = zipmap_pairs(blob)
        except LegacyFormatError as e:
            raise RDBError(f"Zipmap integrity check failed: {e}") from None
        return _hash_from_pairs(pairs, limits, True, True)
    raise RDBError(f"Unknown RDB encoding type {rtype}")


def _count(r: Reader, n: int) -> range:
    # Every element takes at least one byte: a count beyond what is left is corrupt, and
    # saying so now avoids looping toward a huge hostile number.
    if n > r.end - r.pos:
        raise r.eof()
    return range(n)


def _read_quicklist(r: Reader, v2: bool, fill: int) -> ListValue | None:
    """QUICKLIST_2 (container + blob per node) or QUICKLIST v1 (a ziplist per node).

    The nodes are kept as they come (quicklistAppendListpack), so the value's layout is the
    file's, and saving it again writes the same nodes.
    """
    nodes = r.length()
    lst = ListValue()
    layout: list[list[int]] = []
    for _ in _count(r, nodes):
        container = r.length() if v2 else QUICKLIST_PACKED
        blob = r.string()
        if container == QUICKLIST_PLAIN:
            lst.append(blob)
            layout.append([1, len(blob)])
        elif container == QUICKLIST_PACKED:
            items = _unpack_lp(blob, "Quicklist") if v2 else _unpack_zl(blob, "Quicklist")
            # Redis skips empty nodes silently.
            if not items:
                continue
            members = [_as_bytes(x) for x in items]
            lst.extend(members)
            layout.append([len(members), len(blob) if v2 else
                           LISTPACK_EMPTY + sum(lp_entry(m) for m in members)])
        else:
            raise RDBError("Quicklist integrity check failed: unknown node container")
    if not lst:
        return None
    lst.nodes = Layout(fill, layout)
    return lst


def _stream_node(master: bytes, blob: bytes) -> Node:
    """A stream node from its key (master ID) and listpack, checked entry by entry."""
    if len(master) != 16:
        raise RDBError("Stream node key entry is not the size of a stream ID")
    items = _unpack_lp(blob, "Stream")
    if not items:
        raise RDBError("Empty listpack inside stream")
    bad = RDBError("Stream listpack integrity check failed")
    mid = (int.from_bytes(master[:8], "big"), int.from_bytes(master[8:], "big"))
    n = len(items)
    if n < 4 or not all(type(x) is int for x in items[:3]):
        raise bad
    live, deleted, nfields = items[0], items[1], items[2]
    if nfields < 0 or 3 + nfields >= n or items[3 + nfields] != 0:
        raise bad
    master_fields = tuple(_as_bytes(x) for x in items[3:3 + nfields])
    node = Node(mid, master_fields)
    i = 4 + nfields
    prev: tuple[int, int] | None = None
    while i < n:
        if i + 3 > n:
            raise bad
        flags, dms, dseq = items[i], items[i + 1], items[i + 2]
        if type(flags) is not int or type(dms) is not int or type(dseq) is not int \
                or flags & ~(FLAG_DELETED | FLAG_SAMEFIELDS):
            raise bad
        i += 3
        if flags & FLAG_SAMEFIELDS:
            if i + nfields > n:
                raise bad
            fields = master_fields
            values = tuple(_as_bytes(x) for x in items[i:i + nfields])
            i += nfields
            expected = nfields + 3
        else:
            if i >= n or type(items[i]) is not int or items[i] < 0:
                raise bad
            count = items[i]
            i += 1
            if i + 2 * count > n:
                raise bad
            pairs = [_as_bytes(x) for x in items[i:i + 2 * count]]
            fields, values = tuple(pairs[0::2]), tuple(pairs[1::2])
            i += 2 * count
            expected = 2 * count + 4
        if i >= n or items[i] != expected:
            raise bad
        i += 1
        sid = ((mid[0] + dms) & U64, (mid[1] + dseq) & U64)
        if sid < mid or (prev is not None and sid <= prev):
            raise bad
        prev = sid
        e = Entry(sid, fields, values, bool(flags & FLAG_DELETED), flags)
        node.entries.append(e)
        node.ids.append(sid)
        node.body_bytes += node.entry_bytes(e)
        if e.deleted:
            node.deleted += 1
        else:
            node.live += 1
    if node.live != live or node.deleted != deleted or not node.entries or not live:
        raise bad
    return node


def read_stream(r: Reader, v2: bool) -> Stream:
    """STREAM_LISTPACKS(_2): nodes, the stream's IDs and counters, consumer groups."""
    s = Stream()
    count = r.length()
    seen: set[tuple[int, int]] = set()
    nodes = []
    for _ in _count(r, count):
        master = r.string()
        node = _stream_node(master, r.string())
        if node.master_id in seen:
            raise RDBError("Listpack re-added with existing key")
        seen.add(node.master_id)
        nodes.append(node)
    nodes.sort(key=lambda nd: nd.master_id)
    for a, b in zip(nodes, nodes[1:]):
        if a.last_id >= b.master_id:
            raise RDBError("Stream nodes overlap")
    s.nodes = nodes
    s.node_ids = [nd.master_id for nd in nodes]
    s.length = r.length()
    s.last_id = (r.length(), r.length())
    live = sum(nd.live for nd in nodes)
    if s.length != live:
        raise RDBError("Stream length inconsistent with its entries")
    if nodes and nodes[-1].last_id > s.last_id:
        raise RDBError("Stream last ID is smaller than an entry's ID")
    if v2:
        s.first_id = (r.length(), r.length())
        s.max_deleted_id = (r.length(), r.length())
        s.entries_added = r.length()
    else:
        s.entries_added = s.length
        s.refresh_first_id()
    groups = r.length()
    for _ in _count(r, groups):
        name = r.string()
        last = (r.length(), r.length())
        if v2:
            read = r.length()
            entries_read = -1 if read == U64 else read
        else:
            entries_read = s.estimate_distance(last)
        if name in s.groups:
            raise RDBError("Duplicated consumer group name")
        group = ConsumerGroup(name, last, entries_read)
        pel_size = r.length()
        for _ in _count(r, pel_size):
            raw = r.take(16)
            sid = (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big"))
            nack = NACK(r.millis(), r.length(), None)
            if sid in group.pel:
                raise RDBError("Duplicated global PEL entry loading stream consumer group")
            group.pel[sid] = nack
        consumers = r.length()
        for _ in _count(r, consumers):
            cname = r.string()
            if cname in group.consumers:
                raise RDBError("Duplicate stream consumer detected.")
            consumer = Consumer(cname, r.millis())
            group.consumers[cname] = consumer
            owned = r.length()
            for _ in _count(r, owned):
                raw = r.take(16)
                sid = (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big"))
                nack = group.pel.get(sid)
                if nack is None:
                    raise RDBError("Consumer entry not found in group global PEL")
                if sid in consumer.pel:
                    raise RDBError("Duplicated consumer PEL entry loading a stream consumer "
                                   "group")
                nack.consumer = consumer
                consumer.pel[sid] = nack
        if any(nack.consumer is None for nack in group.pel.values()):
            raise RDBError("Stream CG PEL entry without consumer")
        s.groups[name] = group
    return s


# ---------------------------------------------------------------------------------------------
# Whole files


@dataclass
class DBContents:
    """One database as read from a file, not yet installed in an engine."""

    data: dict[bytes, Any] = field(default_factory=dict)
    expires: dict[bytes, int] = field(default_factory=dict)
    idle: dict[bytes, int] = field(default_factory=dict)
    freq: dict[bytes, int] = field(default_factory=dict)


@dataclass
class Dataset:
    """Everything an RDB file holds, parsed and checked."""

    version: int = RDB_VERSION
    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: list[bytes] = field(default_factory=list)
    dbs: dict[int, DBContents] = field(default_factory=dict)
    keys_loaded: int = 0
    keys_expired: int = 0
    empty_skipped: int = 0
    types: dict[str, int] = field(default_factory=dict)
    end: int = 0
    checksum: int | None = None

    def key_count(self) -> int:
        return sum(len(c.data) for c in self.dbs.values())


Trace = Callable[[int, str], None]


def read_rdb(data: bytes, *, limits: Limits | None = None, now_ms: int | None = None,
             databases: int = 16, check_crc: bool = True, allow_dup: bool = False,
             start: int = 0, trace: Trace | None = None) -> Dataset:
    """Parse an RDB image (from ``start``), checking everything; raises RDBError.

    ``now_ms``: keys whose expire time is before it are dropped, as a master does when it
    loads (None keeps them, as for an AOF preamble). ``allow_dup``: a key seen twice keeps
    the later value (DEBUG RELOAD MERGE); otherwise it is an error. ``trace(offset, text)``
    hears about each step, as redis-check-rdb reports them.
    """
    r = Reader(data, start + 9)
    try:
        return _read_rdb(data, r, limits, now_ms, databases, check_crc, allow_dup, start,
                         trace)
    except RDBError as e:
        if e.offset is None:
            e.offset = min(r.pos, len(data))
        raise


def _read_rdb(data: bytes, r: Reader, limits: Limits | None, now_ms: int | None,
              databases: int, check_crc: bool, allow_dup: bool, start: int,
              trace: Trace | None) -> Dataset:
    limits = limits or Limits()
    if len(data) - start < 9 or data[start:start + 5] != MAGIC:
        raise RDBError("Wrong signature trying to load DB from file")
    text = data[start + 5:start + 9]
    if not text.isdigit():
        raise RDBError("Wrong signature trying to load DB from file")
    version = int(text)
    if version < 1 or version > RDB_VERSION:
        raise RDBError(f"Can't handle RDB format version {version}")
    out = Dataset(version=version)
    db = out.dbs.setdefault(0, DBContents())
    expire = -1
    idle = -1
    freq = -1
    while True:
        t = r.byte()
        if t == OP_EXPIRETIME_MS:
            expire = r.millis()
            continue
        if t == OP_EXPIRETIME:
            expire = int.from_bytes(r.take(4), "little", signed=True) * 1000
            continue
        if t == OP_IDLE:
            idle = r.length()
            continue
        if t == OP_FREQ:
            freq = r.byte()
            continue
        if t == OP_EOF:
            break
        if t == OP_SELECTDB:
            index = r.length()
            if index >= databases:
                raise RDBError(f"FATAL: Data file was created with a Redis server configured "
                               f"to handle more than {databases} databases. Exiting")
            db = out.dbs.setdefault(index, DBContents())
            if trace is not None:
                trace(r.pos, f"Selecting DB ID {index}")
            continue
        if t == OP_RESIZEDB:
            r.length()
            r.length()
            continue
        if t == OP_AUX:
            name = r.string()
            out.aux[name] = r.string()
            if trace is not None:
                trace(r.pos, "AUX FIELD %s = '%s'" % (name.decode("utf-8", "replace"),
                                                      out.aux[name].decode("utf-8", "replace")))
            continue
        if t == OP_MODULE_AUX:
            raise RDBError("The RDB file contains AUX module data I can't load: no matching "
                           "module")
        if t == OP_FUNCTION_PRE_GA:
            raise RDBError("Pre-release function format not supported.")
        if t == OP_FUNCTION2:
            out.functions.append(r.string())
            continue
        if not is_object_type(t):
            raise RDBError(f"Unknown RDB encoding type {t}")
        key = r.string()
        try:
            value = read_value(r, t, limits)
        except RDBError as e:
            raise RDBError(f"{e} (key {_show(key)})") from None
        name = TYPE_NAMES.get(t, str(t))
        out.types[name] = out.types.get(name, 0) + 1
        if value is None:
            out.empty_skipped += 1
        elif expire != -1 and now_ms is not None and expire < now_ms:
            out.keys_expired += 1
        else:
            if key in db.data:
                if not allow_dup:
                    raise RDBError(f"Duplicated key found in RDB file: {_show(key)}")
                db.expires.pop(key, None)
                db.idle.pop(key, None)
                db.freq.pop(key, None)
            db.data[key] = value
            if expire != -1:
                db.expires[key] = expire
            if idle != -1:
                db.idle[key] = idle
            if freq != -1:
                db.freq[key] = freq
            out.keys_loaded += 1
        expire = idle = freq = -1
    if version >= 5:
        stored = int.from_bytes(r.take(8), "little")
        out.checksum = stored
        if check_crc and stored:
            expected = crc64(memoryview(data)[start:r.pos - 8])
            if expected != stored:
                raise RDBError("Wrong RDB checksum expected: (%016x) got (%016x)"
                               % (stored, expected))
            if trace is not None:
                trace(r.pos, "Checksum OK")
        elif trace is not None:
            trace(r.pos, "RDB file was saved with checksum disabled: no check performed.")
    out.end = r.pos
    return out


def _show(key: bytes) -> str:
    text = key[:60].decode("utf-8", "backslashreplace")
    return repr(text + ("..." if len(key) > 60 else ""))


def read_payload(payload: bytes, limits: Limits | None = None) -> Any:
    """A DUMP payload's value (after :func:`verify_payload`); raises RDBError."""
    r = Reader(payload, 0)
    t = r.byte()
    if not is_object_type(t):
        raise RDBError(f"Unknown RDB encoding type {t}")
    return read_value(r, t, limits or Limits())
