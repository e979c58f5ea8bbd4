"""Where a quicklist's node boundaries fall, replayed from the operations that built it.

Redis 7.0 keeps a list as a chain of listpack nodes, and DUMP/RDB write those nodes as they
are, so the bytes depend on the list's history, not only its contents: LPUSH fills nodes
from the other end, pops and LREM/LTRIM empty nodes without merging them, LINSERT may split
a full node and merge its neighbours (quicklist.c: _quicklistInsert, _quicklistSplitNode,
_quicklistMergeNodes, quicklistDelIndex, quicklistDelRange, quicklistReplaceEntry).

A :class:`Layout` holds, per node, ``[count, listpack bytes]``; the elements themselves stay
in the list value. A list that has only ever been appended to at the tail needs no layout:
its nodes are what RPUSH would build from its contents, so none is kept until some other
operation happens (then it is built once and kept up to date, O(1) per element at the ends,
O(nodes) in the middle). Elements of 1 GiB and more (plain nodes) are not modelled.
"""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Sequence

from ..memory.sizes import (LISTPACK_EMPTY, SIZE_ESTIMATE_OVERHEAD, SIZE_SAFETY_LIMIT,
                            allow_insert, fill_limit, lp_entry)

# First bytes of strings that may be stored as listpack integers (and so sized otherwise);
# the empty string is sized by lp_entry too.
_DIGIT_STARTS = frozenset([b""] + [bytes([c]) for c in b"-0123456789"])

# lpMerge drops one header (6 bytes) and one terminator (1 byte).
_MERGE_SAVING = 7


def allow_merge(a: list[int], b: list[int], fill: int) -> bool:
    """_quicklistNodeAllowMerge (quicklistNodeExceedsLimit on the merged estimate)."""
    merged = a[1] + b[1] - _MERGE_SAVING
    if fill < 0:
        return merged <= fill_limit(fill)
    return merged <= SIZE_SAFETY_LIMIT and a[0] + b[0] <= max(fill, 1)


class Layout:
    """Node counts and listpack sizes of one quicklist, head first."""

    __slots__ = ("nodes", "fill", "limit", "cap")

    def __init__(self, fill: int, nodes: list[list[int]] | None = None) -> None:
        self.fill = fill
        self.nodes: list[list[int]] = nodes if nodes is not None else []
        # allow_insert, unrolled for the pushes: a byte limit, and for a positive fill also
        # a count limit.
        self.limit = fill_limit(fill) if fill < 0 else SIZE_SAFETY_LIMIT
        self.cap = fill if fill >= 0 else 1 << 62

    @classmethod
    def pushed(cls, items: Iterable[bytes], fill: int) -> "Layout":
        """The layout RPUSHing ``items`` one by one builds."""
        layout = cls(fill)
        for item in items:
            layout.push_tail(item)
        return layout

    def counts(self) -> list[int]:
        return [n[0] for n in self.nodes]

    def total(self) -> int:
        return sum(n[0] for n in self.nodes)

    # -- the ends --------------------------------------------------------------------------

    def push_tail(self, item: bytes) -> None:
        nodes = self.nodes
        n = len(item)
        es = n + 2 if n < 64 and item[:1] not in _DIGIT_STARTS else lp_entry(item)
        if nodes:
            last = nodes[-1]
            if last[1] + n + SIZE_ESTIMATE_OVERHEAD <= self.limit and last[0] < self.cap:
                last[0] += 1
                last[1] += es
                return
        nodes.append([1, LISTPACK_EMPTY + es])

    def push_head(self, item: bytes) -> None:
        nodes = self.nodes
        n = len(item)
        es = n + 2 if n < 64 and item[:1] not in _DIGIT_STARTS else lp_entry(item)
        if nodes:
            first = nodes[0]
            if first[1] + n + SIZE_ESTIMATE_OVERHEAD <= self.limit and first[0] < self.cap:
                first[0] += 1
                first[1] += es
                return
        nodes.insert(0, [1, LISTPACK_EMPTY + es])

    def pop_head(self, items: Iterable[bytes]) -> None:
        """The elements ``items`` (in order) left the head; emptied nodes go."""
        nodes = self.nodes
        for item in items:
            first = nodes[0]
            first[0] -= 1
            if first[0] == 0:
                del nodes[0]
            else:
                first[1] -= lp_entry(item)

    def pop_tail(self, items: Iterable[bytes]) -> None:
        nodes = self.nodes
        for item in items:
            last = nodes[-1]
            last[0] -= 1
            if last[0] == 0:
                nodes.pop()
            else:
                last[1] -= lp_entry(item)

    # -- the middle ------------------------------------------------------------------------

    def locate(self, index: int) -> tuple[int, int]:
        """(node number, offset in it) of element ``index`` (0-based from the head)."""
        for i, node in enumerate(self.nodes):
            if index < node[0]:
                return i, index
            index -= node[0]
        raise IndexError("index beyond the layout")

    def replace(self, index: int, old: bytes, new: bytes) -> None:
        """LSET: the entry is rewritten in its node, whatever the node's size becomes."""
        i, _ = self.locate(index)
        self.nodes[i][1] += lp_entry(new) - lp_entry(old)

    def remove(self, positions: Sequence[int], items: Sequence[bytes]) -> None:
        """LREM: elements at ``positions`` (ascending, before removal) deleted one by one;
        a node that empties is dropped, nothing merges."""
        nodes = self.nodes
        out: list[list[int]] = []
        p = 0
        start = 0
        for node in nodes:
            end = start + node[0]
            while p < len(positions) and positions[p] < end:
                node[0] -= 1
                node[1] -= lp_entry(items[p])
                p += 1
            if node[0]:
                out.append(node)
            start = end
        self.nodes = out

    def insert(self, lst: Sequence[bytes], pivot: int, item: bytes, after: bool) -> None:
        """LINSERT: ``item`` goes next to element ``pivot`` of ``lst`` (the list before the
        insertion), as _quicklistInsert places it."""
        fill = self.fill
        nodes = self.nodes
        i, offset = self.locate(pivot)
        node = nodes[i]
        ln = len(item)
        es = lp_entry(item)
        full = not allow_insert(node[1], node[0], ln, fill)
        at_tail = after and offset == node[0] - 1
        at_head = not after and offset == 0
        avail_next = at_tail and i + 1 < len(nodes) and \
            allow_insert(nodes[i + 1][1], nodes[i + 1][0], ln, fill)
        avail_prev = at_head and i > 0 and allow_insert(nodes[i - 1][1], nodes[i - 1][0], ln,
                                                        fill)
        if not full:
            node[0] += 1
            node[1] += es
        elif at_tail and avail_next:
            nodes[i + 1][0] += 1
            nodes[i + 1][1] += es
        elif at_head and avail_prev:
            nodes[i - 1][0] += 1
            nodes[i - 1][1] += es
        elif at_tail or at_head:
            nodes.insert(i + 1 if after else i, [1, LISTPACK_EMPTY + es])
        else:
            # Split the full node at the pivot; the new element joins the split-off part.
            first = pivot - offset
            members = list(islice(lst, first, first + node[0]))
            if after:
                keep, moved = members[:offset + 1], members[offset + 1:]
            else:
                moved, keep = members[:offset], members[offset:]
            node[0] = len(keep)
            node[1] = LISTPACK_EMPTY + sum(lp_entry(x) for x in keep)
            new = [len(moved) + 1, LISTPACK_EMPTY + es + sum(lp_entry(x) for x in moved)]
            if after:
                nodes.insert(i + 1, new)
            else:
                nodes.insert(i, new)
                i += 1
            self._merge_around(i)

    def _merge_around(self, c: int) -> None:
        """_quicklistMergeNodes with node ``c`` as the centre."""
        nodes = self.nodes
        fill = self.fill

        def merge(a: int) -> None:
            x, y = nodes[a], nodes[a + 1]
            nodes[a] = [x[0] + y[0], x[1] + y[1] - _MERGE_SAVING]
            del nodes[a + 1]

        if c >= 2 and allow_merge(nodes[c - 1], nodes[c - 2], fill):
            merge(c - 2)
            c -= 1
        if c + 2 < len(nodes) and allow_merge(nodes[c + 1], nodes[c + 2], fill):
            merge(c + 1)
        target = c
        if c >= 1 and allow_merge(nodes[c], nodes[c - 1], fill):
            merge(c - 1)
            target = c - 1
        if target + 1 < len(nodes) and allow_merge(nodes[target], nodes[target + 1], fill):
            merge(target)


def node_slices(lst: Sequence[bytes], counts: Iterable[int]) -> list[list[bytes]]:
    """The elements of ``lst`` cut into nodes of ``counts`` elements."""
    out = []
    it = iter(lst)
    for n in counts:
        out.append(list(islice(it, n)))
    return out
