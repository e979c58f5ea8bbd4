"""Redis's memory accounting for a whole engine: per-key figures kept current, lazily.

Cost model (what the memory model adds to a command):

* **On every write: one ``set.add``.** ``Database.changed`` (and ``add``/``_remove``) put the
  key in ``db.mem_dirty``. Nothing else runs on the command path; an engine whose memory
  nobody asks about never computes a size.
* **On a read of the figures** (INFO memory, MEMORY USAGE/STATS, the per-call record of the
  REPL, the eviction check before each command when ``maxmemory`` is set, and cron): only the
  dirty keys are recomputed, and each recomputation is bounded:
  - strings and intsets: O(1) (an intset is at most 512 small integers);
  - lists: the quicklist node layout is kept per key and replayed from what changed at the
    ends (pushes and pops are told apart by the identity of the end elements), so a push
    costs O(pushed elements); a change in the middle (LSET, LINSERT, LREM, LTRIM) lays the
    nodes out again;
  - hashes, sets and sorted sets: the bucket tables are simulated from the change in
    element count (growth, incremental rehash, shrink), O(changed elements); the element
    bytes are summed exactly for values of up to 256 elements, and for bigger ones
    extrapolated from the last exact sum, with an exact walk only when enough refreshes
    have paid for it (credit grows by 64 elements per refresh plus 8 per element added or
    removed), so a big value costs amortised O(1) per write, never a walk per write;
  - streams: the tail node is read directly; the other nodes and the radix tree are
    walked again only when the node list changes (once per ~100 XADDs), and a consumer
    group's PEL only when its size or ends change.
* ``MEMORY USAGE`` computes its answer from the value itself (as Redis walks it: the first
  ``SAMPLES`` elements), so it is exact whatever the cached estimate is.

The peak is sampled whenever the figure is read and at every cron tick (Redis samples it
after every command; here that would put a refresh on every command's path).

``used_memory`` adds, like Redis's allocator counter: the memory a fresh 7.0 server holds
after start-up, a latency histogram per distinct command run (``latency-tracking``), each
connected client, the keyspace's bucket arrays and expire entries, and every key (its sds,
its dictEntry and its value at allocator size classes).
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..structures.stream import Stream
from ..values import HashValue, ListValue, MutableString, SetValue, ZSetValue
from . import sizes as S
from .alloc import (DICT, DICT_ENTRY, POINTER, QUICKLIST, QUICKLIST_NODE, ROBJ, je,
                    next_power, rax_estimate, sds_alloc)

if TYPE_CHECKING:
    from ..engine import Engine
    from ..keyspace import Database

# What a fresh redis-server 7.0.15 (x86_64, jemalloc 5.3.0) holds once started, and the
# pieces that come and go after (measured on the reference server).
STARTUP = 876_256
HISTOGRAM = 24_688            # one HdrHistogram per command run (latency-tracking yes)
CLIENT = 22_272               # an idle normal client after clientsCron trimmed its buffers
FUNCTIONS_OVERHEAD = 200      # the empty functions library context

EXACT_WORK = 256              # elements a refresh may always walk
CREDIT_PER_REFRESH = 64
CREDIT_PER_CHANGE = 8
KEY_ENTRY_ALLOC = S.DICT_ENTRY_ALLOC
_SDS = S._SDS
# Commands that run other commands (whose first calls add histograms of their own), and the
# one that drops every histogram.
_RUNS_OTHERS = frozenset({"EXEC", "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL",
                          "FCALL_RO", "CONFIG RESETSTAT"})


def key_alloc(key: bytes) -> int:
    """The key's sds copy and its dictEntry in the main dict."""
    return S.sds(len(key)) + KEY_ENTRY_ALLOC


# ---------------------------------------------------------------------------------------------
# Hash tables (dict.c)

class DictModel:
    """The bucket tables of one Redis dict: size of table 0, of table 1 while an incremental
    rehash runs, and how many rehash steps remain.

    Steps to finish a rehash are estimated from the buckets that hold entries (the hash
    seed decides which; uniform hashing is assumed): one step moves one non-empty bucket
    and gives up after ten empty ones.
    """

    __slots__ = ("size0", "size1", "steps", "used")

    def __init__(self, presize: int | None = None) -> None:
        self.size0 = 0 if presize is None else next_power(presize)
        self.size1 = 0
        self.steps = 0
        self.used = 0

    def slots(self) -> int:
        return self.size0 + self.size1

    def _start(self, size: int) -> None:
        s0 = self.size0
        if s0 == 0:
            self.size0 = size
            return
        if size == s0:
            return
        p = math.exp(-self.used / s0)
        denom = 1.0 - p ** 10
        steps = s0 * (1.0 - p) / denom if denom > 0 else s0
        self.size1 = size
        self.steps = max(1, math.ceil(steps))

    def _finish(self) -> None:
        self.size0 = self.size1
        self.size1 = 0
        self.steps = 0

    def finish(self) -> None:
        """Complete a running rehash (what cron's active rehashing does)."""
        if self.size1:
            self._finish()

    def add(self, k: int, steps_each: int = 1) -> None:
        """``k`` inserts, each preceded by ``steps_each`` rehash steps (finds included)."""
        while k > 0:
            if self.size1:
                n = min(k, -(-self.steps // steps_each))
                self.steps -= n * steps_each
                self.used += n
                k -= n
                if self.steps <= 0:
                    self._finish()
                continue
            if self.size0 == 0:
                self.size0 = 4
            if self.used >= self.size0:
                self._start(next_power(self.used + 1))
                self.used += 1
                k -= 1
                continue
            n = min(k, self.size0 - self.used)
            self.used += n
            k -= n

    def remove(self, k: int, shrink: bool = True, steps_each: int = 1) -> None:
        """``k`` deletes; with ``shrink``, resize when under 10% full (htNeedsResize)."""
        while k > 0:
            if self.size1:
                n = min(k, -(-self.steps // steps_each))
                self.steps -= n * steps_each
                self.used -= n
                k -= n
                if self.steps <= 0:
                    self._finish()
                continue
            if not shrink or self.size0 <= 4:
                self.used -= k
                break
            threshold = (10 * self.size0 - 1) // 100
            n = min(k, self.used - threshold) if self.used > threshold else 1
            self.used -= n
            k -= n
            if self.used <= threshold:
                self.resize()

    def resize(self) -> None:
        """dictResize: shrink (or grow) to the smallest power of two holding the entries."""
        if self.size1 or self.size0 == 0:
            return
        self._start(next_power(max(self.used, 4)))

    def needs_resize(self) -> bool:
        size = self.size0 + self.size1
        return size > 4 and self.used * 100 // size < 10

    def sync(self, n: int, steps_add: int = 1, shrink: str = "each") -> None:
        """Follow the entry count to ``n``. ``shrink``: "each" checks for a resize after
        every delete (SREM, HDEL, ZREM), "end" once after all of them (ZREMRANGEBY*),
        "" never (the keyspace, resized from cron)."""
        if n > self.used:
            self.add(n - self.used, steps_add)
        elif n < self.used:
            self.remove(self.used - n, shrink == "each")
            if shrink == "end" and self.needs_resize():
                self.resize()

    def bucket_alloc(self) -> int:
        return (je(POINTER * self.size0) if self.size0 else 0) + \
            (je(POINTER * self.size1) if self.size1 else 0)


# ---------------------------------------------------------------------------------------------
# Per-key state for the values whose size depends on history

# Lists that carry their own node layout (structures.quicklist) have it copied on refresh
# while it is this short; longer ones are replayed from their ends like any other list.
KNOWN_LAYOUT_NODES = 2048


class ListState:
    """A quicklist's nodes, replayed from pushes and pops at the ends."""

    __slots__ = ("nodes", "n", "head", "tail", "fill", "node_sum", "stale", "credit",
                 "at_head", "alloc", "value")

    def __init__(self, fill: int) -> None:
        self.nodes: deque[list[Any]] = deque()
        self.n = 0
        self.head: Any = None
        self.tail: Any = None
        self.fill = fill
        self.node_sum = 0      # sum of je(listpack bytes) over nodes
        self.stale = True
        self.credit = 0
        self.at_head = False
        self.alloc = 0
        # The list object last seen: a key deleted and made again between two refreshes
        # holds a new object, whose ends may be the very same bytes objects as the old one's.
        self.value: Any = None

    # -- layout --------------------------------------------------------------------------

    def relayout(self, lst: ListValue) -> None:
        known = lst.nodes
        if known is not None and known.total() == len(lst):
            # The list keeps its own layout once its history left the RPUSH shape.
            nodes = [[count, size, None] for count, size in known.nodes]
        elif self.at_head:
            # Built by pushes at the head: nodes fill up from the tail end.
            nodes = S.layout(reversed(lst), self.fill)
            nodes.reverse()
            for node in nodes:
                if node[2] is not None:
                    node[2].reverse()
        else:
            nodes = S.layout(lst, self.fill)
        self.nodes = deque(nodes)
        self.node_sum = sum(je(node[1]) for node in nodes)
        self.stale = False
        self.credit = 0

    def _set_bytes(self, node: list[Any], new: int) -> None:
        self.node_sum += je(new) - je(node[1])
        node[1] = new

    def push_tail(self, items: Any) -> None:
        nodes = self.nodes
        fill = self.fill
        allow = S.allow_insert
        for item in items:
            es = S.lp_entry(item)
            node = nodes[-1] if nodes else None
            if node is not None and allow(node[1], node[0], len(item), fill):
                node[0] += 1
                self._set_bytes(node, node[1] + es)
                if node[2] is not None:
                    node[2].append(es)
                continue
            if node is not None and len(nodes) > 1:
                node[2] = None
            new = [1, S.LISTPACK_EMPTY + es, deque((es,))]
            nodes.append(new)
            self.node_sum += je(new[1])
        self.at_head = False

    def push_head(self, items: Any) -> None:
        nodes = self.nodes
        fill = self.fill
        allow = S.allow_insert
        for item in items:
            es = S.lp_entry(item)
            node = nodes[0] if nodes else None
            if node is not None and allow(node[1], node[0], len(item), fill):
                node[0] += 1
                self._set_bytes(node, node[1] + es)
                if node[2] is not None:
                    node[2].appendleft(es)
                continue
            if node is not None and len(nodes) > 1:
                node[2] = None
            new = [1, S.LISTPACK_EMPTY + es, deque((es,))]
            nodes.appendleft(new)
            self.node_sum += je(new[1])
        self.at_head = True

    def pop_tail(self, k: int, lst: ListValue) -> bool:
        nodes = self.nodes
        while k > 0 and nodes:
            node = nodes[-1]
            if node[0] <= k:
                k -= node[0]
                nodes.pop()
                self.node_sum -= je(node[1])
                continue
            remaining = node[0] - k
            sizes = node[2]
            if sizes is not None:
                new = node[1]
                for _ in range(k):
                    new -= sizes.pop()
            else:
                sizes = deque(S.lp_entry(x) for x in islice(reversed(lst), remaining))
                sizes.reverse()
                node[2] = sizes
                new = S.LISTPACK_EMPTY + sum(sizes)
            node[0] = remaining
            self._set_bytes(node, new)
            k = 0
        return k == 0 and bool(nodes) and _end_matches(nodes[-1], lst[-1], -1)

    def pop_head(self, k: int, lst: ListValue) -> bool:
        nodes = self.nodes
        while k > 0 and nodes:
            node = nodes[0]
            if node[0] <= k:
                k -= node[0]
                nodes.popleft()
                self.node_sum -= je(node[1])
                continue
            remaining = node[0] - k
            sizes = node[2]
            if sizes is not None:
                new = node[1]
                for _ in range(k):
                    new -= sizes.popleft()
            else:
                sizes = deque(S.lp_entry(x) for x in islice(lst, remaining))
                node[2] = sizes
                new = S.LISTPACK_EMPTY + sum(sizes)
            node[0] = remaining
            self._set_bytes(node, new)
            k = 0
        return k == 0 and bool(nodes) and _end_matches(nodes[0], lst[0], 0)

    # -- refresh -------------------------------------------------------------------------

    def refresh(self, lst: ListValue, exact: bool = False) -> int:
        """Bring the layout up to date with ``lst``; returns the value's allocation."""
        n = len(lst)
        n0 = self.n
        ok = False
        if lst is not self.value:
            self.value = lst
            self.stale = True
        known = lst.nodes
        if known is not None and len(known.nodes) <= KNOWN_LAYOUT_NODES and n:
            # The list carries its exact layout: copying it is cheaper than replaying.
            self.relayout(lst)
            ok = True
        elif not self.stale and n0 and n:
            head, tail = self.head, self.tail
            if n > n0:
                d = n - n0
                if lst[0] is head and lst[n0 - 1] is tail:
                    pushed = list(islice(reversed(lst), d))
                    pushed.reverse()
                    self.push_tail(pushed)
                    ok = True
                elif lst[d] is head and lst[-1] is tail:
                    self.push_head(lst[i] for i in range(d - 1, -1, -1))
                    ok = True
            elif n < n0:
                d = n0 - n
                if lst[0] is head:
                    ok = self.pop_tail(d, lst)
                elif lst[-1] is tail:
                    ok = self.pop_head(d, lst)
        if not ok:
            if exact or n <= EXACT_WORK or self.credit >= n or not self.n:
                self.relayout(lst)
            else:
                # Too big to lay out again on this refresh: extrapolate, and owe a layout.
                self.credit += CREDIT_PER_REFRESH + abs(n - n0) * CREDIT_PER_CHANGE
                per = self.node_sum / max(n0, 1)
                self.n = n
                self.head = lst[0]
                self.tail = lst[-1]
                self.stale = True
                nodes = max(1, len(self.nodes) * n // max(n0, 1))
                self.alloc = ROBJ + S.QUICKLIST_ALLOC + nodes * S.QUICKLIST_NODE_ALLOC + \
                    int(per * n)
                return self.alloc
        self.n = n
        self.head = lst[0]
        self.tail = lst[-1]
        self.alloc = ROBJ + S.QUICKLIST_ALLOC + len(self.nodes) * S.QUICKLIST_NODE_ALLOC + \
            self.node_sum
        return self.alloc

    def usage(self, samples: int) -> int:
        nodes = self.nodes
        taken = min(samples, len(nodes))
        elesize = sum(QUICKLIST_NODE + je(node[1]) for node in islice(nodes, taken))
        return S.extrapolate(ROBJ + QUICKLIST, elesize, taken, len(nodes))


def _end_matches(node: list[Any], item: bytes, end: int) -> bool:
    sizes = node[2]
    return sizes is None or not sizes or sizes[end] == S.lp_entry(item)


class ContainerState:
    """A hash, set or sorted set: its encoding, bucket tables and the element-bytes sum."""

    __slots__ = ("kind", "enc", "dm", "n", "var", "n_exact", "credit")

    def __init__(self, kind: type, enc: str) -> None:
        self.kind = kind
        self.enc = enc
        self.dm: DictModel | None = None
        self.n = 0
        self.var: int | None = None
        self.n_exact = 0
        self.credit = 0


class StreamState:
    """A stream's figures that only change when its node list or a PEL changes shape."""

    __slots__ = ("node_key", "rax_nodes", "body", "pels")

    def __init__(self) -> None:
        self.node_key: tuple[int, int, int] | None = None
        self.rax_nodes = 1
        self.body = 0          # listpacks of every node but the tail (exact fit)
        # id(PEL) -> ((size, first id, last id), rax node count)
        self.pels: dict[int, tuple[tuple[int, Any, Any], int]] = {}


# ---------------------------------------------------------------------------------------------
# Per-database figures

class DbMemory:
    """The memory figures of one database, valid for one ``db.data`` dict."""

    __slots__ = ("data", "alloc", "states", "total", "main", "expires", "nkeys", "nexp",
                 "contrib", "buckets")

    def __init__(self, data: dict[bytes, Any]) -> None:
        self.data = data
        self.contrib = 0           # what this database adds to used_memory
        self.buckets = 0           # its bucket arrays and expire entries
        self.alloc: dict[bytes, int] = {}
        self.states: dict[bytes, Any] = {}
        self.total = 0
        self.main = DictModel()
        self.expires = DictModel()
        self.nkeys = 0
        self.nexp = 0

    def buckets_alloc(self) -> int:
        return self.main.bucket_alloc() + self.expires.bucket_alloc() + \
            self.nexp * KEY_ENTRY_ALLOC


class Context:
    """Configuration the size rules read; rebuilt when one of these parameters changes."""

    PARAMS = ("maxmemory", "maxmemory-policy", "list-max-listpack-size",
              "stream-node-max-bytes", "hash-max-listpack-entries", "set-max-intset-entries")

    __slots__ = ("shared_ok", "fill", "prealloc", "hash_entries", "intset_entries")

    def __init__(self, engine: "Engine") -> None:
        config = engine.config
        policy = config["maxmemory-policy"]
        self.shared_ok = not (config["maxmemory"] and ("lru" in policy or "lfu" in policy))
        fill = config["list-max-listpack-size"]
        self.fill = max(-5, min(fill, 32767))
        node_max = config["stream-node-max-bytes"]
        self.prealloc = node_max if 0 < node_max < 4096 else 4096
        self.hash_entries = config["hash-max-listpack-entries"]
        self.intset_entries = config["set-max-intset-entries"]


class MemoryModel:
    """Everything ``used_memory`` is made of, for one engine."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.peak = 0
        # While the REPL records calls, histograms are counted as of the command's start:
        # Redis allocates a command's histogram after the call, so its own record (and its
        # own INFO output) never includes it.
        self.histograms_at_start: int | None = None
        self.data_total = 0              # sum of every database's contribution
        self._ctx: Context | None = None
        self._sessions = -1
        self._clients = 0
        self._hist: int | None = None     # cached histogram count (see command_starting)
        self._hist_pending = False
        # Data loaded at start-up fills the dicts directly: look everywhere once.
        self._full_pending = True
        engine.extensions["memory"] = self
        engine.extensions["used_memory"] = self.used_memory
        engine.extensions["info.memory"] = self.info_fields
        engine.cron_hooks.append(self.cron)
        for name in Context.PARAMS:
            _chain(engine.config.params[name], self._config_changed)

    def _config_changed(self, old: Any, new: Any) -> None:
        self._ctx = None

    def ctx(self) -> Context:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = Context(self.engine)
        return ctx

    # -- refreshing ----------------------------------------------------------------------

    def refresh(self, full: bool = False) -> None:
        """Size the keys marked since the last refresh.

        Every write marks its key, and FLUSHDB/FLUSHALL and loads mark the database, so
        looking at the marks is enough; ``full`` also checks each database's dict and key
        count, in case something filled a database without going through the keyspace.
        """
        for db in self.engine.dbs:
            if db.mem_dirty:
                self.refresh_db(db)
            elif full:
                mem = db.mem
                if mem is None:
                    if db.data:
                        self.refresh_db(db)
                elif mem.data is not db.data or mem.nkeys != len(db.data) or \
                        mem.nexp != len(db.expires):
                    self.refresh_db(db)

    def refresh_db(self, db: "Database") -> DbMemory:
        mem = db.mem
        data = db.data
        if mem is None or mem.data is not data:
            return self._rebuild(db)
        dirty = db.mem_dirty
        if dirty:
            db.mem_dirty = set()
            ctx = self._ctx or self.ctx()
            update = self._update
            for key in dirty:
                update(mem, key, data, ctx)
        n = len(data)
        if len(mem.alloc) != n:
            # Keys came or went without passing through the keyspace's write paths
            # (a loader filling the dict directly): start over for this database.
            return self._rebuild(db)
        ne = len(db.expires)
        if n != mem.nkeys or ne != mem.nexp:
            self._sync_keyspace(mem, n, ne)
        new = mem.total + mem.buckets
        self.data_total += new - mem.contrib
        mem.contrib = new
        return mem

    def _rebuild(self, db: "Database") -> DbMemory:
        """Size a whole database afresh (first look, FLUSHDB, a load)."""
        old = db.mem
        if old is not None:
            self.data_total -= old.contrib
        data = db.data
        mem = db.mem = DbMemory(data)
        db.mem_dirty = set()
        ctx = self.ctx()
        for key in data:
            self._update(mem, key, data, ctx)
        self._sync_keyspace(mem, len(data), len(db.expires))
        mem.contrib = mem.total + mem.buckets
        self.data_total += mem.contrib
        return mem

    def _sync_keyspace(self, mem: DbMemory, n: int, ne: int) -> None:
        """Follow the main and expires dicts to ``n`` and ``ne`` keys.

        Each key added or removed is looked up then written (two rehash steps); with
        activerehashing (the default) cron finishes a keyspace rehash within one tick,
        before anyone could look, so the figures show it done. The tables shrink in cron.
        """
        active = self.engine.config.values["activerehashing"]
        for dm, count in ((mem.main, n), (mem.expires, ne)):
            dm.sync(count, 2, "")
            if active:
                dm.finish()
        mem.nkeys = n
        mem.nexp = ne
        mem.buckets = mem.buckets_alloc()

    def _update(self, mem: DbMemory, key: bytes, data: dict[bytes, Any], ctx: Context,
                exact: bool = False) -> None:
        allocs = mem.alloc
        old = allocs.pop(key, None)
        if old is not None:
            mem.total -= old
        value = data.get(key)
        if value is None:
            mem.states.pop(key, None)
            return
        n = len(key)
        a = (_SDS[n] if n < 4096 else sds_alloc(n)) + KEY_ENTRY_ALLOC
        if type(value) is bytes:
            a += S.string_alloc(value, ctx.shared_ok)
            if mem.states:
                mem.states.pop(key, None)
        else:
            a += self._value_alloc(mem, key, value, ctx, exact)
        allocs[key] = a
        mem.total += a

    def _value_alloc(self, mem: DbMemory, key: bytes, value: Any, ctx: Context,
                     exact: bool) -> int:
        t = type(value)
        if t is bytes or t is MutableString:
            mem.states.pop(key, None)
            return S.string_alloc(value, ctx.shared_ok)
        states = mem.states
        state = states.get(key)
        if t is ListValue:
            if type(state) is not ListState:
                state = states[key] = ListState(ctx.fill)
            return state.refresh(value, exact)
        if t is SetValue or t is HashValue or t is ZSetValue:
            return self._container_alloc(states, key, value, t, state, ctx, exact)
        if t is Stream:
            if type(state) is not StreamState:
                state = states[key] = StreamState()
            return _stream_alloc(value, state, ctx, exact)
        states.pop(key, None)
        return ROBJ

    def _container_alloc(self, states: dict[bytes, Any], key: bytes, value: Any, t: type,
                         state: Any, ctx: Context, exact: bool) -> int:
        enc = value.encoding
        n = len(value)
        if type(state) is not ContainerState or state.kind is not t or state.enc != enc:
            previous = state if type(state) is ContainerState and state.kind is t else None
            state = states[key] = ContainerState(t, enc)
            state.dm = _initial_dict(t, enc, value, previous, ctx)
        elif state.dm is not None:
            # Inserts: SADD adds directly, HSET and ZADD look the element up first. A sorted
            # set is resized once after a range removal, sets and hashes after each delete.
            state.dm.sync(n, 1 if t is SetValue else 2, "end" if t is ZSetValue else "each")
        work = 2 * n if t is HashValue else 0 if enc == "intset" else n
        if exact or state.var is None or work <= EXACT_WORK or state.credit >= work:
            state.var = _exact_var(t, enc, value)
            state.n_exact = n
            state.credit = 0
            var = state.var
        else:
            state.credit += CREDIT_PER_REFRESH + abs(n - state.n) * CREDIT_PER_CHANGE
            var = state.var * n // state.n_exact if state.n_exact else state.var
        state.n = n
        if enc == "listpack":
            return ROBJ + je(var)
        if enc == "intset":
            return ROBJ + var
        buckets = state.dm.bucket_alloc() if state.dm is not None else 0
        if enc == "skiplist":
            return ROBJ + S.SKIPLIST_FIXED_ALLOC + buckets + var
        return ROBJ + S.DICT_ALLOC + buckets + var

    def state_for(self, db: "Database", key: bytes) -> Any:
        """Bring one key's figures up to date exactly; returns its per-key state, if any."""
        mem = self.refresh_db(db)
        state = mem.states.get(key)
        if key not in mem.alloc or (type(state) is ListState and state.stale):
            old = mem.total
            self._update(mem, key, db.data, self.ctx(), exact=True)
            mem.contrib += mem.total - old
            self.data_total += mem.total - old
            state = mem.states.get(key)
        return state

    # -- figures -------------------------------------------------------------------------

    def used_memory(self) -> int:
        """The allocator's counter: start-up memory, clients, histograms, data."""
        if self._full_pending:
            self._full_pending = False
            self.refresh(full=True)
        for db in self.engine.dbs:
            if db.mem_dirty:
                self.refresh_db(db)
        eng = self.engine
        if len(eng.sessions) != self._sessions:
            self._sessions = len(eng.sessions)
            self._clients = self.clients()
        total = STARTUP + self._clients * CLIENT + self.data_total
        if eng.config.values["latency-tracking"]:
            frozen = self.histograms_at_start
            if frozen is None or not eng.recording:
                # The count is cached only while every command passes the maxmemory check,
                # which tells when it may have changed (command_starting).
                frozen = self._hist
                if frozen is None or not eng.config.values["maxmemory"]:
                    frozen = self._hist = self.histograms()
            total += frozen * HISTOGRAM
        if "lua" in eng.extensions:
            total += self.scripts_bytes()
        if total > self.peak:
            self.peak = total
        return total

    def histograms(self) -> int:
        """Commands run at least once: each has its latency histogram."""
        calls = self.engine.cmd_calls
        return len(calls) - calls.count(0)

    def command_starting(self, spec: Any) -> None:
        """A command is about to run (called from the careful dispatch path).

        A command run for the first time, or one that runs others, may add histograms:
        they are counted again at the next look.
        """
        if self._hist_pending:
            self._hist = None
            self._hist_pending = False
        if not self.engine.cmd_calls[spec.id] or spec.name in _RUNS_OTHERS:
            # Its histogram appears after the call: count again now and at the next look.
            self._hist = None
            self._hist_pending = True
        if self.engine.recording:
            self.histograms_at_start = self.histograms()

    def clients(self) -> int:
        return sum(1 for s in self.engine.sessions.values()
                   if not s.in_script and not s.closed)

    def scripts_bytes(self) -> int:
        lua = self.engine.extensions.get("lua")
        if lua is None:
            return 0
        try:
            info = lua.info()
        except Exception:
            return 0
        return int(info.get("used_memory_scripts_eval", 0)) + \
            int(info.get("used_memory_functions", 0))

    def overhead(self) -> dict[str, Any]:
        """getMemoryOverheadData: the parts of used_memory that are not the dataset."""
        self.refresh(full=True)
        self._sessions = -1
        self._hist = None
        # Whoever answers used_memory (normally this model) is the reference figure.
        used = int(self.engine.extensions.get("used_memory", self.used_memory)())
        eng = self.engine
        clients_normal = self.clients() * CLIENT
        lua = eng.extensions.get("lua")
        lua_caches = functions = 0
        if lua is not None:
            try:
                info = lua.info()
                lua_caches = int(info.get("used_memory_scripts_eval", 0))
                functions = int(info.get("used_memory_functions", 0))
            except Exception:
                pass
        functions_caches = FUNCTIONS_OVERHEAD + functions
        dbs = []
        db_total = 0
        keys = 0
        for db in eng.dbs:
            mem = db.mem
            n = len(db.data)
            if not n or mem is None:
                continue
            keys += n
            main = n * DICT_ENTRY + mem.main.slots() * POINTER + n * ROBJ
            exp = mem.nexp * DICT_ENTRY + mem.expires.slots() * POINTER
            dbs.append((db.id, main, exp))
            db_total += main + exp
        total_overhead = STARTUP + clients_normal + lua_caches + functions_caches + db_total
        net = used - STARTUP if used > STARTUP else 1
        dataset = max(0, used - total_overhead)
        return {
            "used": used, "peak": max(self.peak, used), "startup": STARTUP,
            "clients_normal": clients_normal, "lua_caches": lua_caches,
            "functions_caches": functions_caches, "dbs": dbs, "overhead": total_overhead,
            "keys": keys, "bytes_per_key": (used - STARTUP) // keys if keys and used > STARTUP
            else 0, "dataset": dataset, "dataset_perc": dataset * 100 / net,
            "peak_perc": used * 100 / max(self.peak, used, 1),
        }

    def info_fields(self) -> dict[str, Any]:
        """Replacements for INFO memory's idle-server figures."""
        from ..info import bytes_to_human

        o = self.overhead()
        used, peak = o["used"], o["peak"]
        self.engine.extensions["used_memory_peak"] = peak
        fields: dict[str, Any] = {}
        lua = self.engine.extensions.get("lua")
        if lua is not None:
            try:
                fields.update(lua.info())
            except Exception:
                pass
            for name in ("used_memory_lua", "used_memory_vm_total"):
                if name in fields:
                    fields[name + "_human"] = bytes_to_human(int(fields[name]))
        scripts = o["lua_caches"] + o["functions_caches"]
        fields.update({
            "used_memory": used,
            "used_memory_human": bytes_to_human(used),
            "used_memory_peak": peak,
            "used_memory_peak_human": bytes_to_human(peak),
            "used_memory_peak_perc": "%.2f%%" % o["peak_perc"],
            "used_memory_overhead": o["overhead"],
            "used_memory_startup": STARTUP,
            "used_memory_dataset": o["dataset"],
            "used_memory_dataset_perc": "%.2f%%" % o["dataset_perc"],
            "used_memory_functions": o["functions_caches"],
            "used_memory_scripts": scripts,
            "used_memory_scripts_human": bytes_to_human(scripts),
            "mem_clients_normal": o["clients_normal"],
        })
        return fields

    # -- MEMORY USAGE --------------------------------------------------------------------

    def usage(self, db: "Database", key: bytes, samples: int) -> int | None:
        """MEMORY USAGE: objectComputeSize + the key's sds + its dictEntry."""
        value = db.data.get(key)
        if value is None:
            return None
        state = self.state_for(db, key)
        return self.value_usage(value, state, samples) + S.sds(len(key)) + DICT_ENTRY

    def value_usage(self, value: Any, state: Any, samples: int) -> int:
        t = type(value)
        if t is bytes or t is MutableString:
            return S.string_usage(value)
        if t is ListValue:
            return state.usage(samples)
        if t is SetValue:
            if value.encoding == "intset":
                return ROBJ + S.intset_alloc(value)
            base = ROBJ + DICT + POINTER * state.dm.slots()
            taken = min(samples, len(value))
            used, _ = S.set_elements(islice(value, taken))
            return S.extrapolate(base, used, taken, len(value))
        if t is HashValue:
            if value.encoding == "listpack":
                return ROBJ + je(S.hash_listpack_bytes(value))
            base = ROBJ + DICT + POINTER * state.dm.slots()
            taken = min(samples, len(value))
            used, _ = S.hash_elements(islice(value.items(), taken))
            return S.extrapolate(base, used, taken, len(value))
        if t is ZSetValue:
            if value.encoding == "listpack":
                return ROBJ + je(S.zset_listpack_bytes(value))
            base = ROBJ + S.SKIPLIST_FIXED_USAGE + POINTER * state.dm.slots()
            taken = min(samples, len(value))
            used, _ = S.zset_elements(m for _, m in islice(value.order, taken))
            return S.extrapolate(base, used, taken, len(value))
        if t is Stream:
            return S.stream_usage(value, samples, self.ctx().prealloc)
        return ROBJ

    # -- periodic work -------------------------------------------------------------------

    def cron(self) -> None:
        """serverCron's part: resize and rehash the keyspace tables, refresh, track peak."""
        self.refresh(full=True)
        for db in self.engine.dbs:
            mem = db.mem
            if mem is None:
                continue
            changed = False
            for dm in (mem.main, mem.expires):
                before = dm.slots()
                if dm.needs_resize():
                    dm.resize()
                dm.finish()
                changed = changed or dm.slots() != before
            if changed:
                mem.buckets = mem.buckets_alloc()
                new = mem.total + mem.buckets
                self.data_total += new - mem.contrib
                mem.contrib = new
        self._sessions = -1
        self._hist = None
        self.used_memory()



# ---------------------------------------------------------------------------------------------
# Helpers

def _chain(param: Any, fn: Any) -> None:
    """Run ``fn`` after whatever on_change callback the parameter already has."""
    prev = param.on_change

    def both(old: Any, new: Any) -> None:
        if prev is not None:
            prev(old, new)
        fn(old, new)

    param.on_change = both


def _exact_var(t: type, enc: str, value: Any) -> int:
    """The element-dependent part of a container's allocation."""
    if t is HashValue:
        if enc == "listpack":
            return S.hash_listpack_bytes(value)
        return S.hash_elements(value.items())[1]
    if t is SetValue:
        if enc == "intset":
            return S.intset_alloc(value)
        return S.set_elements(value)[1]
    if enc == "listpack":
        return S.zset_listpack_bytes(value)
    return S.zset_elements(value.scores)[1]


def _initial_dict(t: type, enc: str, value: Any, previous: ContainerState | None,
                  ctx: Context) -> DictModel | None:
    """The bucket tables a value has just after it took its encoding.

    A hash converted from listpack and a set converted from intset get a table pre-sized
    to their length at conversion; a sorted set's skiplist dict grows from empty. When the
    conversion happened between two refreshes its moment is inferred: the entries limit
    if the value is now above it, else the length last seen.
    """
    n = len(value)
    if enc in ("listpack", "intset"):
        return None
    if t is ZSetValue:
        dm = DictModel()
        dm.add(n, 1)
        return dm
    if t is HashValue:
        limit, steps = ctx.hash_entries, 2
    else:
        limit, steps = ctx.intset_entries, 1
    was = previous.n if previous is not None else None
    if t is SetValue and previous is None:
        ints = _count_ints(value)
        if not ints:
            # Created as a hashtable from the start (first member not an integer).
            dm = DictModel()
            dm.add(n, steps)
            return dm
        if ints < n:
            # Most likely an intset of those integers that met its first other member.
            was = ints
    if n > limit and (was is None or was <= limit):
        at = limit + 1
    else:
        at = was if was is not None else 0
    at = min(at, n)
    dm = DictModel(at)
    dm.used = at
    dm.add(n - at, steps)
    return dm


def _count_ints(s: SetValue) -> int:
    """Members that read as integers (counted on a sample for big sets)."""
    from ..values import is_canonical_int

    n = len(s)
    if n <= 4096:
        return sum(1 for m in s if is_canonical_int(m))
    sampled = sum(1 for m in islice(s, 256) if is_canonical_int(m))
    return n * sampled // 256


def _stream_alloc(s: Any, state: StreamState, ctx: Context, exact: bool) -> int:
    """A stream's allocation, recomputing the node walk only when the node list changed:
    XADD into the tail node costs O(1), a new node O(nodes) once per hundred entries."""
    nodes = s.nodes
    n = len(nodes)
    key = (n, id(nodes[0]), id(nodes[-1])) if n else (0, 0, 0)
    if exact or key != state.node_key:
        state.node_key = key
        state.rax_nodes = s.rax_nodes()
        state.body = sum(je(node.lp_bytes()) for node in nodes[:-1]) if n else 0
    size = ROBJ + S.STREAM + rax_estimate(n, state.rax_nodes) + state.body
    if n:
        size += je(max(nodes[-1].lp_bytes(), ctx.prealloc))
    if s.groups:
        seen = {}
        cached = state.pels
        for group in s.groups.values():
            pel = group.pel
            size += S.STREAM_CG + rax_estimate(len(pel), _pel_nodes(pel, cached, seen))
            size += S.STREAM_NACK * len(pel)
            for consumer in group.consumers.values():
                cpel = consumer.pel
                size += S.STREAM_CONSUMER + len(consumer.name)
                size += rax_estimate(len(cpel), _pel_nodes(cpel, cached, seen))
        state.pels = seen
    return size


def _pel_nodes(pel: Any, cached: dict[int, Any], seen: dict[int, Any]) -> int:
    """Radix-tree nodes of a PEL, recounted only when its size or ends changed."""
    if not pel:
        return 1
    key = (len(pel), pel.peekitem(0)[0], pel.peekitem(-1)[0])
    hit = cached.get(id(pel))
    if hit is not None and hit[0] == key:
        seen[id(pel)] = hit
        return hit[1]
    from ..structures.stream import count_rax_nodes

    count = count_rax_nodes([ms.to_bytes(8, "big") + seq.to_bytes(8, "big")
                             for ms, seq in pel.keys()])
    seen[id(pel)] = (key, count)
    return count

