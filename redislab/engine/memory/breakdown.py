"""One key's MEMORY USAGE split into the parts Redis adds up (object.c objectComputeSize).

:func:`breakdown` returns the same total as ``MEMORY USAGE key SAMPLES n`` (all elements for
``samples=0``), as a list of labelled parts: the object header, the key's sds and dictEntry,
and the value's internals (listpack bytes, quicklist nodes, bucket arrays, skiplist nodes,
stream listpacks and radix-tree estimate, allocator rounding). When the parts, computed
element by element, differ from the command's own double arithmetic (sampling and
extrapolation), the difference is a part of its own, so the figures always add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Iterable

from ..args import LLONG_MAX
from ..structures.stream import Stream
from ..values import HashValue, ListValue, MutableString, SetValue, ZSetValue, is_canonical_int
from . import sizes as S
from .alloc import (BIG_ARG, DICT, DICT_ENTRY, INTSET_HEADER, POINTER, QUICKLIST,
                    QUICKLIST_NODE, ROBJ, SKIPLIST_HEADER, STREAM, STREAM_CG, STREAM_CONSUMER,
                    STREAM_ID, STREAM_NACK, ZSET, ZSKIPLIST, ZSKIPLIST_LEVEL, ZSKIPLIST_NODE,
                    RAX_NODE, je, sds_header)

if TYPE_CHECKING:
    from ..keyspace import Database

__all__ = ["Part", "Breakdown", "breakdown"]


@dataclass(frozen=True, slots=True)
class Part:
    """One line of the breakdown: what it is, its bytes, and how they were counted."""

    label: str
    bytes: int
    detail: str = ""
    group: str = "value"      # "key" or "value"


@dataclass
class Breakdown:
    key: bytes
    type: str
    encoding: str
    total: int                # what MEMORY USAGE answers
    parts: list[Part] = field(default_factory=list)
    sampled: int = 0          # elements walked
    elements: int = 0


def _sds_parts(lengths: Iterable[int], what: str) -> list[Part]:
    """Exact-fit sds strings: payload, headers and NUL, and the size-class rounding."""
    n = payload = overhead = alloc = 0
    for ln in lengths:
        n += 1
        payload += ln
        hdr = sds_header(ln) + 1
        overhead += hdr
        alloc += S.sds(ln)
    if not n:
        return []
    return [Part(f"{what} bytes", payload, f"{n:,} strings"),
            Part(f"{what} sds headers + NUL", overhead, "1-17 B header + 1 B terminator each"),
            Part(f"{what} allocator rounding", alloc - payload - overhead,
                 "jemalloc size classes")]


def _listpack_parts(lp_bytes: int, entries: int, what: str) -> list[Part]:
    return [Part("listpack header + end", S.LISTPACK_EMPTY, "6 B header, 1 B terminator"),
            Part(f"listpack entries ({what})", lp_bytes - S.LISTPACK_EMPTY,
                 f"{entries:,} entries, encoding + data + back-length each"),
            Part("allocator rounding", je(lp_bytes) - lp_bytes,
                 f"{lp_bytes:,} B listpack in a {je(lp_bytes):,} B size class")]


def _string_parts(value: Any) -> tuple[str, list[Part]]:
    if type(value) is bytes:
        n = len(value)
        if n <= 20 and is_canonical_int(value):
            return "int", [Part("object header (robj)", ROBJ,
                                "the integer lives in the pointer field: no sds")]
        if n <= 44:
            alloc = S.embstr_alloc(n)
            return "embstr", [
                Part("object header (robj)", ROBJ, "same allocation as the string (embstr)"),
                Part("sds header + NUL", 4, "sdshdr8 3 B + terminator"),
                Part("string bytes", n),
                Part("allocator rounding", alloc - ROBJ - 4 - n,
                     f"one {alloc} B size class for header and string")]
        big = n >= BIG_ARG
        length = n + 2 if big else n
        hdr = sds_header(length)
        alloc = je(hdr + length + 1)
        parts = [Part("object header (robj)", ROBJ),
                 Part("sds header + NUL", hdr + 1),
                 Part("string bytes", n)]
        if big:
            parts.append(Part("query buffer CRLF room", 2,
                              "a big argument's query buffer became the value"))
        parts.append(Part("allocator rounding", alloc - hdr - 1 - length,
                          f"{alloc:,} B size class"))
        return "raw", parts
    assert type(value) is MutableString
    cap = value.alloc
    hdr = sds_header(cap)
    alloc = je(hdr + cap + 1)
    n = len(value)
    return "raw", [Part("object header (robj)", ROBJ),
                   Part("sds header + NUL", hdr + 1),
                   Part("string bytes", n),
                   Part("spare capacity", cap - n, "room left by APPEND/SETRANGE growth"),
                   Part("allocator rounding", alloc - hdr - 1 - cap, f"{alloc:,} B size class")]


def _buckets(state: Any) -> Part:
    dm = state.dm
    slots = dm.slots() if dm is not None else 0
    detail = f"{slots:,} slots x 8 B"
    if dm is not None and dm.size1:
        detail = f"{dm.size0:,} + {dm.size1:,} slots x 8 B (rehashing)"
    return Part("bucket array", POINTER * slots, detail)


def breakdown(model: Any, db: "Database", key: bytes, samples: int = 0) -> Breakdown | None:
    """The parts of ``MEMORY USAGE key SAMPLES samples`` (0: every element), or None."""
    value = db.data.get(key)
    if value is None:
        return None
    if samples <= 0:
        samples = LLONG_MAX
    state = model.state_for(db, key)
    total = model.usage(db, key, samples)
    from ..values import encoding_of, type_name

    out = Breakdown(key, type_name(value), encoding_of(value), total)
    parts = out.parts
    parts.append(Part("key string (sds)", S.sds(len(key)), f"{len(key)} B key", "key"))
    parts.append(Part("dictEntry in the keyspace", DICT_ENTRY, "as sizeof counts it (24 B)",
                      "key"))
    t = type(value)
    if t is bytes or t is MutableString:
        _, p = _string_parts(value)
        parts += p
    elif t is ListValue:
        nodes = list(state.nodes)
        taken = min(samples, len(nodes))
        lp = [node[1] for node in islice(nodes, taken)]
        out.elements, out.sampled = len(value), sum(node[0] for node in nodes[:taken])
        parts += [Part("object header (robj)", ROBJ),
                  Part("quicklist struct", QUICKLIST),
                  Part("quicklist nodes", QUICKLIST_NODE * taken, f"{taken:,} nodes x 40 B"),
                  Part("listpack header + end", S.LISTPACK_EMPTY * taken, "7 B per node"),
                  Part("listpack entries", sum(lp) - S.LISTPACK_EMPTY * taken,
                       f"{len(value):,} elements"),
                  Part("allocator rounding", sum(je(b) for b in lp) - sum(lp),
                       "each node's listpack rounded to its size class")]
    elif t is SetValue:
        out.elements = len(value)
        if value.encoding == "intset":
            width = S.intset_width(value)
            raw = INTSET_HEADER + len(value) * width
            out.sampled = len(value)
            parts += [Part("object header (robj)", ROBJ),
                      Part("intset header", INTSET_HEADER, "encoding + length"),
                      Part("intset integers", len(value) * width,
                           f"{len(value):,} x {width} B"),
                      Part("allocator rounding", je(raw) - raw)]
        else:
            taken = min(samples, len(value))
            out.sampled = taken
            members = list(islice(value, taken))
            parts += [Part("object header (robj)", ROBJ), Part("dict struct", DICT),
                      _buckets(state),
                      Part("dict entries", DICT_ENTRY * taken, f"{taken:,} x 24 B")]
            parts += _sds_parts((len(m) for m in members), "member")
    elif t is HashValue:
        out.elements = len(value)
        if value.encoding == "listpack":
            out.sampled = len(value)
            parts.append(Part("object header (robj)", ROBJ))
            parts += _listpack_parts(S.hash_listpack_bytes(value), 2 * len(value),
                                     "field, value")
        else:
            taken = min(samples, len(value))
            out.sampled = taken
            items = list(islice(value.items(), taken))
            parts += [Part("object header (robj)", ROBJ), Part("dict struct", DICT),
                      _buckets(state),
                      Part("dict entries", DICT_ENTRY * taken, f"{taken:,} x 24 B")]
            parts += _sds_parts((len(f) for f, _ in items), "field")
            parts += _sds_parts((len(v) for _, v in items), "value")
    elif t is ZSetValue:
        out.elements = len(value)
        if value.encoding == "listpack":
            out.sampled = len(value)
            parts.append(Part("object header (robj)", ROBJ))
            parts += _listpack_parts(S.zset_listpack_bytes(value), 2 * len(value),
                                     "member, score")
        else:
            taken = min(samples, len(value))
            out.sampled = taken
            members = [m for _, m in islice(value.order, taken)]
            levels = [S.zsl_level(m) for m in members]
            node_raw = sum(ZSKIPLIST_NODE + ZSKIPLIST_LEVEL * lv for lv in levels)
            node_alloc = sum(S._NODE_BY_LEVEL[lv] for lv in levels)
            avg = sum(levels) / len(levels) if levels else 0.0
            parts += [Part("object header (robj)", ROBJ),
                      Part("zset + zskiplist structs", ZSET + ZSKIPLIST),
                      Part("dict struct", DICT),
                      Part("skiplist header node", SKIPLIST_HEADER, "32 levels, always"),
                      _buckets(state),
                      Part("dict entries", DICT_ENTRY * taken, f"{taken:,} x 24 B"),
                      Part("skiplist nodes", node_raw,
                           f"{taken:,} nodes, 24 B + 16 B per level (avg {avg:.2f} levels)"),
                      Part("skiplist node rounding", node_alloc - node_raw)]
            parts += _sds_parts((len(m) for m in members), "member")
    elif t is Stream:
        prealloc = model.ctx().prealloc
        nodes = value.nodes
        numele = len(nodes)
        rax_nodes = value.rax_nodes()
        out.elements = len(value)
        parts += [Part("object header (robj)", ROBJ), Part("stream struct", STREAM),
                  Part("radix tree (estimate)",
                       numele * STREAM_ID + rax_nodes * (RAX_NODE + POINTER * 30),
                       f"{numele:,} keys x 16 B + {rax_nodes:,} nodes x 244 B, "
                       "object.c's formula")]
        if numele:
            allocs = S.stream_listpack_allocs(value, prealloc)
            taken = min(samples, numele)
            raw = [node.lp_bytes() for node in nodes]
            out.sampled = sum(n.live + n.deleted for n in nodes[:taken])
            if numele <= taken:
                parts += [Part("node listpacks", sum(raw), f"{numele:,} nodes"),
                          Part("listpack rounding + tail room", sum(allocs) - sum(raw),
                               f"tail node allocated for {prealloc:,} B")]
            else:
                lpsize = sum(allocs[:taken])
                est = (lpsize // taken) * (numele - 1) + allocs[-1]
                parts.append(Part("node listpacks (extrapolated)", est,
                                  f"{taken:,} of {numele:,} nodes walked"))
        for group in value.groups.values():
            gname = group.name.decode("utf-8", "replace")
            pel_nodes = S._pel_nodes(group.pel, _count_rax)
            parts.append(Part(f"group {gname}", STREAM_CG + len(group.pel) * STREAM_ID
                              + pel_nodes * (RAX_NODE + POINTER * 30),
                              f"40 B + PEL radix tree ({len(group.pel):,} ids)"))
            parts.append(Part(f"group {gname} NACKs", STREAM_NACK * len(group.pel),
                              f"{len(group.pel):,} x 24 B"))
            for consumer in group.consumers.values():
                cpel = consumer.pel
                cname = consumer.name.decode("utf-8", "replace")
                parts.append(Part(f"consumer {cname}", STREAM_CONSUMER + len(consumer.name)
                                  + len(cpel) * STREAM_ID
                                  + S._pel_nodes(cpel, _count_rax) * (RAX_NODE + POINTER * 30),
                                  f"24 B + name + PEL radix tree ({len(cpel):,} ids)"))
    else:
        parts.append(Part("object header (robj)", ROBJ))
    counted = sum(p.bytes for p in parts)
    if counted != total:
        parts.append(Part("sampling arithmetic", total - counted,
                          "MEMORY USAGE extrapolates from the walked elements in doubles"))
    return out


def _count_rax(keys: list[bytes]) -> int:
    from ..structures.stream import count_rax_nodes

    return count_rax_nodes(keys)
