"""A Redis stream: entries in listpack nodes under a radix tree, plus consumer groups (t_stream.c).

Entries live in nodes exactly as Redis lays them out: a node opens with a "master entry" (its
live and deleted counts and the field names of its first entry), later entries are stored as
deltas from the node's first ID, and a node closes when it holds ``stream-node-max-entries``
entries or its listpack would reach ``stream-node-max-bytes``. Byte sizes are tracked as the
listpack would encode them, so that approximate trimming (``MAXLEN ~``) removes the same whole
nodes Redis removes, and XINFO and MEMORY USAGE can report Redis's figures.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Iterator

from sortedcontainers import SortedDict

from .listpack import lp_int_size, lp_str_size

U64 = (1 << 64) - 1
MAX_ID = (U64, U64)
MIN_ID = (0, 0)
INVALID_ENTRIES_READ = -1
FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2
LISTPACK_MAX_SIZE = (1 << 30)

StreamID = tuple[int, int]


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def _wrap64(v: int) -> int:
    """A difference of two uint64 stored as int64, as C does."""
    v &= U64
    return v - (1 << 64) if v >= 1 << 63 else v


# ---------------------------------------------------------------------------------------------
# Nodes

@dataclass(slots=True)
class Entry:
    id: StreamID
    fields: tuple[bytes, ...]
    values: tuple[bytes, ...]
    deleted: bool = False
    flags: int = 0

    def pairs(self) -> list[bytes]:
        out: list[bytes] = []
        for f, v in zip(self.fields, self.values):
            out.append(f)
            out.append(v)
        return out


class Node:
    """One listpack node: a master entry then entries stored relative to ``master_id``."""

    __slots__ = ("master_id", "master_fields", "entries", "ids", "live", "deleted",
                 "body_bytes")

    def __init__(self, master_id: StreamID, fields: tuple[bytes, ...]) -> None:
        self.master_id = master_id
        self.master_fields = fields
        self.entries: list[Entry] = []
        self.ids: list[StreamID] = []
        self.live = 0
        self.deleted = 0
        # Bytes of the master fields and every entry; the counts are added in lp_bytes().
        self.body_bytes = lp_int_size(len(fields)) + sum(lp_str_size(f) for f in fields) \
            + lp_int_size(0)

    def lp_bytes(self) -> int:
        """lpBytes of this node's listpack: header, master entry, entries, terminator."""
        return 6 + lp_int_size(self.live) + lp_int_size(self.deleted) + self.body_bytes + 1

    def entry_bytes(self, e: Entry) -> int:
        mid = self.master_id
        size = lp_int_size(e.flags) + lp_int_size(_wrap64(e.id[0] - mid[0])) \
            + lp_int_size(_wrap64(e.id[1] - mid[1]))
        count = len(e.values) + 3
        if not e.flags & FLAG_SAMEFIELDS:
            size += lp_int_size(len(e.fields))
            size += sum(lp_str_size(f) for f in e.fields)
            count += len(e.fields) + 1
        size += sum(lp_str_size(v) for v in e.values)
        return size + lp_int_size(count)

    def append(self, e: Entry) -> None:
        if e.fields == self.master_fields:
            e.flags = FLAG_SAMEFIELDS
        self.entries.append(e)
        self.ids.append(e.id)
        self.live += 1
        self.body_bytes += self.entry_bytes(e)

    def mark_deleted(self, e: Entry) -> None:
        # The flags integer grows by one bit; both values fit one listpack byte.
        e.deleted = True
        e.flags |= FLAG_DELETED
        self.live -= 1
        self.deleted += 1

    def find(self, sid: StreamID) -> Entry | None:
        i = bisect_left(self.ids, sid)
        if i < len(self.ids) and self.ids[i] == sid:
            e = self.entries[i]
            return None if e.deleted else e
        return None

    @property
    def last_id(self) -> StreamID:
        return self.ids[-1]


# ---------------------------------------------------------------------------------------------
# Consumer groups

@dataclass(slots=True, eq=False)
class Consumer:
    name: bytes
    seen_time: int
    pel: SortedDict = field(default_factory=SortedDict)  # id -> NACK


@dataclass(slots=True, eq=False)
class NACK:
    delivery_time: int
    delivery_count: int
    consumer: Consumer | None


@dataclass(slots=True, eq=False)
class ConsumerGroup:
    name: bytes
    last_id: StreamID
    entries_read: int
    pel: SortedDict = field(default_factory=SortedDict)        # id -> NACK
    consumers: SortedDict = field(default_factory=SortedDict)  # name -> Consumer


# ---------------------------------------------------------------------------------------------
# The stream

class Stream:
    """Entries, node layout, IDs and consumer groups of one stream key."""

    encoding = "stream"

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.node_ids: list[StreamID] = []
        self.length = 0
        self.last_id: StreamID = MIN_ID
        self.first_id: StreamID = MIN_ID
        self.max_deleted_id: StreamID = MIN_ID
        self.entries_added = 0
        self.groups: SortedDict = SortedDict()  # name -> ConsumerGroup

    def __len__(self) -> int:
        return self.length

    # -----------------------------------------------------------------------------------------
    # Appending (streamAppendItem)

    def next_auto_id(self, now_ms: int) -> StreamID | None:
        """streamNextID: now-0, or the last ID plus one; None if IDs are exhausted."""
        if now_ms > self.last_id[0]:
            return (now_ms, 0)
        return incr_id(self.last_id)

    def append(self, sid: StreamID, pairs: list[bytes], max_bytes: int, max_entries: int) -> None:
        fields = tuple(pairs[0::2])
        values = tuple(pairs[1::2])
        entry = Entry(sid, fields, values)
        tail = self.nodes[-1] if self.nodes else None
        if tail is not None:
            limit = max_bytes if 0 < max_bytes <= LISTPACK_MAX_SIZE else LISTPACK_MAX_SIZE
            total = sum(len(x) for x in pairs)
            if tail.lp_bytes() + total >= limit:
                tail = None
            elif max_entries and tail.live + tail.deleted >= max_entries:
                tail = None
        if tail is None:
            tail = Node(sid, fields)
            self.nodes.append(tail)
            self.node_ids.append(sid)
        tail.append(entry)
        self.length += 1
        self.entries_added += 1
        self.last_id = sid
        if self.length == 1:
            self.first_id = sid

    # -----------------------------------------------------------------------------------------
    # Reading

    def _node_index(self, sid: StreamID) -> int:
        """Index of the node that would hold ``sid``."""
        i = bisect_right(self.node_ids, sid) - 1
        return max(i, 0)

    def find(self, sid: StreamID) -> Entry | None:
        if not self.nodes:
            return None
        return self.nodes[self._node_index(sid)].find(sid)

    def exists(self, sid: StreamID) -> bool:
        return self.find(sid) is not None

    def range(self, start: StreamID, end: StreamID, count: int = 0,
              reverse: bool = False) -> Iterator[Entry]:
        """Live entries with start <= id <= end, ascending or descending, at most ``count``."""
        if start > end or not self.nodes:
            return
        n = 0
        if not reverse:
            ni = self._node_index(start)
            for node in self.nodes[ni:]:
                if node.master_id > end:
                    break
                i = bisect_left(node.ids, start)
                for e in node.entries[i:]:
                    if e.id > end:
                        return
                    if e.deleted:
                        continue
                    yield e
                    n += 1
                    if count and n >= count:
                        return
        else:
            ni = self._node_index(end)
            for node in reversed(self.nodes[:ni + 1]):
                if node.last_id < start:
                    break
                i = bisect_right(node.ids, end)
                for e in reversed(node.entries[:i]):
                    if e.id < start:
                        return
                    if e.deleted:
                        continue
                    yield e
                    n += 1
                    if count and n >= count:
                        return

    def first_entry(self) -> Entry | None:
        return next(self.range(MIN_ID, MAX_ID, 1), None)

    def last_entry(self) -> Entry | None:
        return next(self.range(MIN_ID, MAX_ID, 1, reverse=True), None)

    def last_valid_id(self) -> StreamID:
        """streamLastValidID: the ID of the last live entry (or 0-0)."""
        e = self.last_entry()
        return e.id if e is not None else MIN_ID

    # -----------------------------------------------------------------------------------------
    # Deleting and trimming

    def delete(self, sid: StreamID) -> bool:
        """XDEL one entry; removes its node when it held the last live entry."""
        if not self.nodes:
            return False
        ni = self._node_index(sid)
        node = self.nodes[ni]
        e = node.find(sid)
        if e is None:
            return False
        if node.live == 1:
            del self.nodes[ni]
            del self.node_ids[ni]
        else:
            node.mark_deleted(e)
        self.length -= 1
        return True

    def refresh_first_id(self) -> None:
        if self.length == 0:
            self.first_id = MIN_ID
        else:
            e = self.first_entry()
            self.first_id = e.id if e is not None else MIN_ID

    def trim(self, maxlen: int | None, minid: StreamID | None, approx: bool, limit: int) -> int:
        """streamTrim: MAXLEN or MINID, whole nodes first, then (if exact) inside one node."""
        deleted = 0
        while self.nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = self.nodes[0]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen is not None:
                remove = self.length - entries >= maxlen
            else:
                assert minid is not None
                remove = node.last_id < minid
            if remove:
                del self.nodes[0]
                del self.node_ids[0]
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            for e in node.entries:
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                elif minid is not None and e.id >= minid:
                    break
                if not e.deleted:
                    node.mark_deleted(e)
                    self.length -= 1
                    deleted += 1
            break
        self.refresh_first_id()
        return deleted

    # -----------------------------------------------------------------------------------------
    # Consumer-group bookkeeping (7.0's entries-read and lag)

    def range_has_tombstones(self, start: StreamID | None, end: StreamID | None = None) -> bool:
        if not self.length or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        lo = start if start is not None else MIN_ID
        hi = end if end is not None else MAX_ID
        return lo <= self.max_deleted_id <= hi

    def estimate_distance(self, sid: StreamID) -> int:
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.entries_added:
            return 0
        if not self.length and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return INVALID_ENTRIES_READ
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if sid < self.first_id:
                return self.entries_added - self.length
            if sid == self.first_id:
                return self.entries_added - self.length + 1
        return INVALID_ENTRIES_READ

    def group_lag(self, group: ConsumerGroup) -> int | None:
        """streamReplyWithCGLag: entries the group has not read yet, or None if unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and \
                not self.range_has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_distance(group.last_id)
        if read != INVALID_ENTRIES_READ:
            return self.entries_added - read
        return None

    def deliver(self, group: ConsumerGroup, sid: StreamID) -> None:
        """Advance a group past ``sid`` while reading new entries (streamReplyWithRange)."""
        if sid > group.last_id:
            if group.entries_read != INVALID_ENTRIES_READ and \
                    not self.range_has_tombstones(sid):
                group.entries_read += 1
            elif self.entries_added:
                group.entries_read = self.estimate_distance(sid)
            group.last_id = sid

    # -----------------------------------------------------------------------------------------
    # Radix tree figures (XINFO STREAM, MEMORY USAGE)

    def rax_keys(self) -> int:
        return len(self.nodes)

    def rax_nodes(self) -> int:
        """Nodes of the radix tree holding the node keys (128-bit big-endian master IDs).

        Counted on the compressed trie of the current keys: the root, each branching point,
        each child of a branching point, and each key's own node. That is the shape rax
        builds when keys are inserted; after many deletions Redis may keep a few more.
        """
        keys = [ms.to_bytes(8, "big") + seq.to_bytes(8, "big") for ms, seq in self.node_ids]
        return count_rax_nodes(keys)


def count_rax_nodes(sorted_keys: list[bytes]) -> int:
    nodes: set[bytes] = {b""}
    for k in sorted_keys:
        nodes.add(k)
    for a, b in zip(sorted_keys, sorted_keys[1:]):
        d = 0
        n = min(len(a), len(b))
        while d < n and a[d] == b[d]:
            d += 1
        nodes.add(a[:d])
        nodes.add(a[:d + 1])
        nodes.add(b[:d + 1])
    return len(nodes) if sorted_keys else 1


def incr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq == U64:
        if ms == U64:
            return None
        return (ms + 1, 0)
    return (ms, seq + 1)


def decr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq == 0:
        if ms == 0:
            return None
        return (ms - 1, U64)
    return (ms, seq - 1)
