"""Text drawings of one key's inner structure, for the REPL's ``:viz``.

A list is drawn as its quicklist nodes (from the memory model's layout), a sorted set as its
top ranks, score distribution and skiplist levels, a HyperLogLog from its string bytes (the
HYLL header, sparse opcodes or dense registers, a register histogram and map), a stream as
its nodes, last entries and consumer groups with their pending entries, and hashes, sets
and plain strings with their encoding and a sample. Reading never touches the key (no LRU
update, no expiry). Every line fits the given width; values are cut short and escaped, so
binary or huge values draw like any other.
"""

from __future__ import annotations

import math
import sys
import textwrap
from bisect import bisect_left
from itertools import islice
from typing import TYPE_CHECKING, Any

from .render import quote_bulk
from .theme import Fragments

if TYPE_CHECKING:
    from ..engine.keyspace import Database

__all__ = ["visualize", "visualize_string"]

_EIGHTHS = " ▏▎▍▌▋▊▉█"
SAMPLE = 200_000          # members whose skiplist level is computed before extrapolating
PREVIEW = 24              # characters of a value shown


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide, filled to ``fraction`` in eighths."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part and full < width else "")
    return text + " " * (width - len(text))


def show(data: bytes, limit: int = PREVIEW) -> str:
    """A value as redis-cli quotes it, cut to ``limit`` bytes first (huge values stay cheap)."""
    cut = len(data) > limit
    text = quote_bulk(bytes(data[:limit]))
    return text + ("…" if cut else "")


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[:max(1, width - 1)] + "…"


def _num(n: float) -> str:
    if not math.isfinite(n):
        return "inf" if n > 0 else "-inf" if n < 0 else "nan"
    return f"{int(n):,}" if abs(n) < 1e15 and n == int(n) else f"{n:.6g}"


def _size(n: int) -> str:
    for unit, div in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= div * 10:
            return f"{n / div:,.1f} {unit}"
    return f"{n:,} B"


class Drawing:
    """Lines of styled text, each cut to the width."""

    def __init__(self, width: int) -> None:
        self.width = max(30, width)
        self.frags: Fragments = []

    def line(self, text: str, style: str = "info") -> None:
        self.frags.append((style, _fit(text, self.width) + "\n"))

    def title(self, text: str) -> None:
        self.line(text, "info.title")

    def dim(self, text: str) -> None:
        """Prose: wrapped to the width rather than cut."""
        indent = " " * (len(text) - len(text.lstrip(" ")))
        for line in textwrap.wrap(text.strip(), self.width, initial_indent=indent,
                                  subsequent_indent=indent + "  ", break_on_hyphens=False):
            self.line(line, "info.dim")


# ------------------------------------------------------------------------------------------

def visualize(engine: Any, db: "Database", key: bytes, width: int) -> Fragments | None:
    """The drawing of ``key`` in ``db``, or None when the key does not exist."""
    from ..engine import introspect
    from ..engine.structures.stream import Stream
    from ..engine.values import (HashValue, ListValue, SetValue, ZSetValue, as_bytes,
                                 encoding_of)

    if not introspect.is_live(db, key):
        return None
    value = db.data[key]
    d = Drawing(width)
    name = show(key, 40)
    t = type(value)
    if t is ListValue:
        _list(d, engine, db, key, name, value)
    elif t is ZSetValue:
        _zset(d, engine, name, value)
        _buckets(d, engine, db, key, value)
    elif t is HashValue:
        _hash(d, engine, name, value)
        _buckets(d, engine, db, key, value)
    elif t is SetValue:
        _set(d, engine, name, value)
        _buckets(d, engine, db, key, value)
    elif t is Stream:
        _stream(d, name, value)
    elif t is bytes or type(value).__name__ == "MutableString":
        _string(d, engine.config["hll-sparse-max-bytes"], name, as_bytes(value),
                encoding_of(value), len(as_bytes(value)))
    else:
        info = introspect.key_info(db, key)
        d.title(f"{name}: {info.type if info else 'value'}, {info.encoding if info else ''}")
    ttl = db.expires.get(key)
    if ttl is not None:
        d.dim(f"expires in {max(0, ttl - engine.now_ms()) / 1000:,.1f}s")
    return d.frags


# ------------------------------------------------------------------------------------------
# Lists

def _list(d: Drawing, engine: Any, db: "Database", key: bytes, name: str, value: Any) -> None:
    from ..engine.memory import sizes as S

    model = engine.extensions.get("memory")
    state = model.state_for(db, key) if model is not None else None
    nodes = list(state.nodes) if state is not None else []
    fill = engine.config["list-max-listpack-size"]
    if fill < 0:
        cap = S.fill_limit(fill)
        rule = f"nodes up to {cap // 1024} KB"
    else:
        cap = fill
        rule = f"nodes up to {fill} entries"
    d.title(f"{name}: list, quicklist, {len(value):,} elements in {len(nodes):,} "
            f"node{'s' if len(nodes) != 1 else ''}")
    d.dim(f"list-max-listpack-size {fill}: {rule}; LPUSH/LPOP work at the head, "
          "RPUSH/RPOP at the tail, both O(1)")
    d.line("head")
    keep = 4
    starts = []
    at = 0
    for node in nodes:
        starts.append(at)
        at += node[0]
    shown = list(range(len(nodes))) if len(nodes) <= 2 * keep + 1 else \
        list(range(keep)) + [-1] + list(range(len(nodes) - keep, len(nodes)))
    barw = max(6, min(24, d.width - 60))
    for i in shown:
        if i == -1:
            hidden = nodes[keep:len(nodes) - keep]
            d.dim(f"  ⋮  {len(hidden):,} nodes not shown: {sum(n[0] for n in hidden):,} "
                  f"elements, {_size(sum(n[1] for n in hidden))} of listpacks")
            continue
        count, nbytes = nodes[i][0], nodes[i][1]
        frac = nbytes / cap if fill < 0 else count / cap
        first = value[starts[i]]
        last = value[starts[i] + count - 1]
        sample = show(first, 10) + (f" .. {show(last, 10)}" if count > 1 else "")
        d.line(f"  node {i + 1:<4} {bar(frac, barw)} {count:>5,} el {nbytes:>7,} B  {sample}")
    d.line("tail")


# ------------------------------------------------------------------------------------------
# Sorted sets

def _zset(d: Drawing, engine: Any, name: str, z: Any) -> None:
    from ..engine.memory import sizes as S

    n = len(z)
    order = z.order
    d.title(f"{name}: zset, {z.encoding}, {n:,} members")
    if z.encoding == "listpack":
        lp = S.zset_listpack_bytes(z)
        d.dim(f"one listpack of {lp:,} B: member, score, member, score ... in score order; "
              f"becomes a skiplist past zset-max-listpack-entries "
              f"({engine.config['zset-max-listpack-entries']}) members or a member longer "
              f"than zset-max-listpack-value ({engine.config['zset-max-listpack-value']} B)")
    else:
        d.dim("a skiplist (ordered by score, then member) plus a dict member -> score")
    if not n:
        return
    lo, hi = order[0][0], order[-1][0]
    d.line(f"scores {_num(lo)} .. {_num(hi)}")
    # The finite range: infinite scores sit at the ends of the bars and outside the histogram.
    first = order.bisect_left((-sys.float_info.max, b""))
    last = order.bisect_left((math.inf, b"")) - 1
    if first <= last:
        lo, hi = order[first][0], order[last][0]
    top = min(10, n)
    d.line(f"top {top} by score (ZREVRANGE 0 {top - 1} WITHSCORES)", "info.title")
    namew = max(8, min(24, d.width // 4))
    barw = max(6, d.width - namew - 32)
    base = lo if math.isfinite(lo) else 0.0
    span = hi - lo if math.isfinite(hi - lo) else 0.0
    for rank in range(top):
        score, member = order[n - 1 - rank]
        if not math.isfinite(score):
            frac = 1.0 if score > 0 else 0.0
        else:
            frac = (score - base) / span if span > 0 else 1.0
        d.line(f"  #{rank + 1:<3} {show(member, namew - 2):<{namew}} {_num(score):>14} "
               f"{bar(frac, barw)}")
    if n > 2 * top:
        d.dim(f"  ⋮  {n - top - 3:,} more")
        for rank in range(n - 3, n):
            score, member = order[n - 1 - rank]
            d.line(f"  #{rank + 1:<3,} {show(member, namew - 2):<{namew}} {_num(score):>14}")
    if n >= 20 and hi > lo and math.isfinite(hi - lo):
        _score_histogram(d, order, lo, hi, n)
    if z.encoding == "skiplist":
        _levels(d, order, n)


def _score_histogram(d: Drawing, order: Any, lo: float, hi: float, n: int) -> None:
    buckets = 10
    log = lo > 0 and hi / lo > 100
    if log:
        edges = [lo * (hi / lo) ** (i / buckets) for i in range(buckets + 1)]
        d.line("score distribution (log scale: each row spans the same ratio)",
               "info.title")
    else:
        edges = [lo + (hi - lo) * i / buckets for i in range(buckets + 1)]
        d.line("score distribution", "info.title")
    edges[-1] = math.inf
    # Counted with two bisections per row on the ordered index: O(log N) each.
    counts = []
    for a, b in zip(edges, edges[1:]):
        counts.append(bisect_left(order, (b, b"")) - bisect_left(order, (a, b"")))
    top = max(counts) or 1
    barw = max(6, d.width - 44)
    for a, b, c in zip(edges, edges[1:], counts):
        upper = "" if b == math.inf else _num(b)
        d.line(f"  {_num(a):>12} – {upper:<12} {bar(c / top, barw)} {c:,}")


def _levels(d: Drawing, order: Any, n: int) -> None:
    from ..engine.memory.sizes import zsl_level

    taken = min(n, SAMPLE)
    reach = [0] * 33
    for _, member in islice(order, taken):
        reach[zsl_level(member)] += 1
    scale = n / taken
    # Nodes that reach level L or higher: the express lanes a search walks first.
    at_least = []
    acc = 0
    for level in range(32, 0, -1):
        acc += reach[level]
        at_least.append((level, acc))
    at_least.reverse()
    note = "" if taken == n else f" (from the first {taken:,} members)"
    d.line(f"skiplist levels: nodes reaching each level{note}", "info.title")
    barw = max(6, d.width - 30)
    total = at_least[0][1] or 1
    for level, count in at_least:
        if not count:
            break
        d.line(f"  L{level:<3} {bar(count / total, barw)} {int(count * scale):,}")
    d.dim("  a lookup starts at the top level and drops down: O(log N) steps on average")


# ------------------------------------------------------------------------------------------
# Hashes and sets

def _buckets(d: Drawing, engine: Any, db: "Database", key: bytes, value: Any) -> None:
    """The dict's bucket table as the memory model follows it (hashtable encodings)."""
    model = engine.extensions.get("memory")
    if model is None or value.encoding not in ("hashtable", "skiplist"):
        return
    dm = getattr(model.state_for(db, key), "dm", None)
    if dm is None or not dm.size0:
        return
    text = f"dict: {dm.size0:,} buckets for {len(value):,} entries " \
           f"(load factor {len(value) / dm.size0:.2f})"
    if dm.size1:
        text += f"; rehashing into {dm.size1:,} buckets, ~{dm.steps:,} steps to go " \
                "(each lookup or write moves a bucket; cron helps with activerehashing)"
    else:
        text += "; doubles when the load factor reaches 1"
    d.dim(text)


def _hash(d: Drawing, engine: Any, name: str, h: Any) -> None:
    from ..engine.memory import sizes as S

    d.title(f"{name}: hash, {h.encoding}, {len(h):,} fields")
    cfg = engine.config
    if h.encoding == "listpack":
        d.dim(f"one listpack of {S.hash_listpack_bytes(h):,} B (field, value, field, "
              f"value ...); a hashtable past hash-max-listpack-entries "
              f"({cfg['hash-max-listpack-entries']}) or a value longer than "
              f"hash-max-listpack-value ({cfg['hash-max-listpack-value']} B)")
    else:
        d.dim("a hashtable: buckets of dictEntry chains, one entry per field; "
              "it never converts back")
    fw = max(8, min(30, d.width // 3))
    for f, v in islice(h.items(), 12):
        d.line(f"  {show(f, fw - 2):<{fw}} {show(v, max(8, d.width - fw - 6))}")
    if len(h) > 12:
        d.dim(f"  … {len(h) - 12:,} more fields")


def _set(d: Drawing, engine: Any, name: str, s: Any) -> None:
    from ..engine.memory import sizes as S

    d.title(f"{name}: set, {s.encoding}, {len(s):,} members")
    if s.encoding == "intset":
        width = S.intset_width(s)
        d.dim(f"an intset: sorted {width}-byte integers ({len(s) * width:,} B); a hashtable "
              f"once a member is not an integer or past set-max-intset-entries "
              f"({engine.config['set-max-intset-entries']})")
        members = sorted(islice(s, 2000), key=int)[:20]
    else:
        d.dim("a hashtable of members (values empty): SISMEMBER is one bucket lookup")
        members = list(islice(s, 20))
    text = "  " + " ".join(show(m, 16) for m in members)
    d.line(text)
    if len(s) > len(members):
        d.dim(f"  … {len(s) - len(members):,} more members")


# ------------------------------------------------------------------------------------------
# Strings and HyperLogLogs

def visualize_string(key: bytes, data: bytes, encoding: str, length: int, width: int,
                     sparse_max: int) -> Fragments:
    """A string (or HyperLogLog) drawn from its bytes, as read from a real server: ``data``
    may be only the start of a value ``length`` bytes long."""
    d = Drawing(width)
    _string(d, sparse_max, show(key, 40), data, encoding, length)
    return d.frags


def _string(d: Drawing, sparse_max: int, name: str, data: bytes, enc: str,
            length: int) -> None:
    from ..engine.structures import hyperloglog as hll

    if length == len(data) and hll.is_hll(data):
        _hll(d, sparse_max, name, data)
        return
    d.title(f"{name}: string, {enc}, {length:,} bytes")
    if enc == "int":
        d.dim("stored as a 64-bit integer in the object itself (INCR works on it in place)")
    elif enc == "embstr":
        d.dim("embstr: object header and bytes in one allocation (44 bytes or less)")
    else:
        d.dim("raw: the object points to a separate sds buffer")
    printable = sum(1 for b in data[:256] if 32 <= b < 127)
    if data and printable < min(len(data), 256) * 0.8:
        for off in range(0, min(len(data), 64), 16):
            chunk = data[off:off + 16]
            hexes = " ".join(f"{b:02x}" for b in chunk)
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
            d.line(f"  {off:04x}  {hexes:<47}  {text}")
        if length > 64:
            d.dim(f"  … {length - 64:,} more bytes")
    else:
        d.line("  " + show(data, max(10, d.width - 6)))


def _sparse_ops(body: bytes) -> tuple[int, int, int, list[tuple[str, int, int]]]:
    """Counts of ZERO, XZERO and VAL opcodes, and the first few (kind, value, run)."""
    zero = xzero = val = 0
    first: list[tuple[str, int, int]] = []
    i, n = 0, len(body)
    while i < n:
        b = body[i]
        if b & 0x80:
            op = ("VAL", ((b >> 2) & 0x1F) + 1, (b & 3) + 1)
            val += 1
            i += 1
        elif b & 0x40:
            lo = body[i + 1] if i + 1 < n else 0
            op = ("XZERO", 0, ((b & 0x3F) << 8 | lo) + 1)
            xzero += 1
            i += 2
        else:
            op = ("ZERO", 0, (b & 0x3F) + 1)
            zero += 1
            i += 1
        if len(first) < 12:
            first.append(op)
    return zero, xzero, val, first


def _hll(d: Drawing, sparse_max: int, name: str, data: bytes) -> None:
    from ..engine.structures import hyperloglog as hll

    sparse = data[4] == hll.SPARSE
    d.title(f"{name}: HyperLogLog, {'sparse' if sparse else 'dense'}, {len(data):,} bytes")
    cached = hll.cached_cardinality(data)
    d.dim(f"header: 'HYLL', encoding byte {data[4]}, cached count "
          + (f"{cached:,}" if cached is not None else "stale (recomputed by the next PFCOUNT)"))
    try:
        regs = hll.registers(data)
    except hll.Corrupt:
        d.line("the sparse body does not cover 16384 registers: PFCOUNT would answer "
               "INVALIDOBJ", "info.error")
        return
    if sparse:
        zero, xzero, val, first = _sparse_ops(bytes(data[hll.HDR_SIZE:]))
        limit = sparse_max
        d.line(f"sparse body: {len(data) - hll.HDR_SIZE:,} B of opcodes: {zero:,} ZERO, "
               f"{xzero:,} XZERO, {val:,} VAL")
        d.dim(f"turns dense past hll-sparse-max-bytes ({limit:,} B) or a register above 32")
        ops = " ".join(f"{k}:{r}" if k != "VAL" else f"VAL {v}x{r}" for k, v, r in first)
        d.dim(f"  {ops} …" if len(first) == 12 else f"  {ops}")
    else:
        d.line(f"dense body: 16,384 registers x 6 bits = {hll.DENSE_BYTES:,} B")
    hist = hll.histogram_of(regs)
    used = hll.REGISTERS - hist[0]
    d.line(f"registers set: {used:,} of 16,384; estimate {hll.estimate(hist):,} "
           "(standard error 0.81%)")
    d.line("register values (a register keeps the longest run of zero bits seen + 1)",
           "info.title")
    top = max(hist) or 1
    barw = max(6, d.width - 24)
    last = max(k for k in range(64) if hist[k] or k == 0)
    for k in range(0, last + 1):
        d.line(f"  {k:>2} {bar(hist[k] / top, barw)} {hist[k]:,}")
    # The register map: each cell is a block of registers, shown by its highest value.
    cols = max(16, min(64, d.width - 4))
    rows = 4
    block = hll.REGISTERS // (cols * rows) or 1
    shades = " .:-=+*#%@"
    d.line(f"register map ({block} registers per cell, darker = higher)", "info.title")
    for r in range(rows):
        cells = []
        for c in range(cols):
            start = (r * cols + c) * block
            m = max(regs[start:start + block]) if start < len(regs) else 0
            cells.append(shades[min(len(shades) - 1, (m + 1) // 2) if m else 0])
        d.line("  " + "".join(cells))


# ------------------------------------------------------------------------------------------
# Streams

def _fmt_id(sid: tuple[int, int]) -> str:
    return f"{sid[0]}-{sid[1]}"


def _stream(d: Drawing, name: str, s: Any) -> None:
    d.title(f"{name}: stream, {len(s):,} entries in {len(s.nodes):,} listpack "
            f"node{'s' if len(s.nodes) != 1 else ''}")
    d.dim(f"first {_fmt_id(s.first_id)}  last {_fmt_id(s.last_id)}  "
          f"max deleted {_fmt_id(s.max_deleted_id)}  entries added {s.entries_added:,}")
    d.dim("nodes sit under a radix tree keyed by their first ID; each node stores its "
          "entries as deltas from it")
    nodes = s.nodes
    keep = 3
    shown = list(range(len(nodes))) if len(nodes) <= 2 * keep + 1 else \
        list(range(keep)) + [-1] + list(range(len(nodes) - keep, len(nodes)))
    for i in shown:
        if i == -1:
            d.dim(f"  ⋮  {len(nodes) - 2 * keep:,} nodes not shown")
            continue
        node = nodes[i]
        d.line(f"  node {i + 1:<5} from {_fmt_id(node.master_id):<22} {node.live:>4} live "
               f"{node.deleted:>3} deleted {node.lp_bytes():>6,} B")
    last = []
    for node in reversed(nodes):
        for e in reversed(node.entries):
            if not e.deleted:
                last.append(e)
                if len(last) == 3:
                    break
        if len(last) == 3:
            break
    if last:
        d.line("last entries", "info.title")
        for e in reversed(last):
            pairs = " ".join(f"{show(f, 12)}={show(v, 16)}" for f, v in
                             islice(zip(e.fields, e.values), 4))
            d.line(f"  {_fmt_id(e.id)}  {pairs}")
    if not s.groups:
        d.dim("no consumer groups (XGROUP CREATE adds one)")
        return
    for group in s.groups.values():
        lag = s.group_lag(group)
        d.line(f"group {show(group.name, 30)}: last-delivered-id {_fmt_id(group.last_id)}, "
               f"entries-read {group.entries_read}, lag "
               f"{'unknown' if lag is None else f'{lag:,}'}, {len(group.pel):,} pending",
               "info.title")
        for consumer in group.consumers.values():
            d.line(f"  consumer {show(consumer.name, 30)}: {len(consumer.pel):,} pending")
        if group.pel:
            d.dim("  pending (PEL): id, consumer, deliveries")
            for sid, nack in islice(group.pel.items(), 5):
                who = show(nack.consumer.name, 20) if nack.consumer is not None else "-"
                d.line(f"    {_fmt_id(sid):<24} {who:<22} {nack.delivery_count}")
            if len(group.pel) > 5:
                d.dim(f"    … {len(group.pel) - 5:,} more (XPENDING, XACK, XAUTOCLAIM)")

