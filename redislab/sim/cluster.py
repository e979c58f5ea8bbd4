"""A simulated Redis Cluster: primaries A, B, C ... (and their replicas) on one clock.

Importing this module adds ``Topology.cluster(primaries=3, replicas=0, seed=0)``, which
returns a :class:`ClusterTopology`: every node is an engine started with
``cluster-enabled yes``, the slots are split as ``redis-cli --cluster create`` splits them,
and the nodes' cluster bus runs over the simulated network, so a partition or a killed node
is noticed through missing PONGs (PFAIL after the node timeout, FAIL once a majority of
primaries agree) and a replica of a failed primary wins an election and takes its slots.

Replicas are named after their primary: ``A1`` (and ``A2`` ...) replicate ``A``.

Example::

    t = Topology.cluster(primaries=3, replicas=1, seed=0)
    client = ClusterClient(t)
    client.execute("SET", "foo", "bar")        # -> MOVED 12182 to node C, then OK
    client.redirects                           # [Redirect('MOVED', 12182, 'C')]
    r = t.start_reshard([12182], "C", "A")     # slot open on both sides, no key moved yet
    client.execute("GET", "foo")               # served by C (the key is still there)
    r.step(1)                                  # foo moves to A
    client.execute("GET", "foo")               # -> ASK 12182 to node A
    r.finish()                                 # A owns the slot everywhere
    t.kill("C"); t.advance(20)                 # C1 is elected and serves C's slots
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from typing import Any, Iterable

from ..engine.cluster import (
    BusMessage, ClusterNode, ClusterState, form_cluster, key_hash_slot, new_node_id,
    slot_ranges,
)
from ..engine.commands import TABLE
from ..protocol.reply import ErrorReply
from .network import Connection
from .topology import NodeDown, Topology

__all__ = ["ClusterTopology", "ClusterClient", "Redirect", "Reshard", "cluster_state",
           "primary_names", "replica_name"]

DEFAULT_NODE_TIMEOUT_MS = 15000
_NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")
MAX_PRIMARIES = 26


def primary_names(n: int) -> list[str]:
    return list(string.ascii_uppercase[:n])


def replica_name(primary: str, i: int) -> str:
    return f"{primary}{i}"


def cluster_state(engine: Any) -> ClusterState:
    st = engine.extensions.get("cluster")
    if st is None:
        raise ValueError("this node does not run in cluster mode")
    return st


class ClusterTopology(Topology):
    """A :class:`Topology` whose nodes form a Redis Cluster (see the module docstring)."""

    def __init__(self, names: Iterable[str] = (), *, seed: int = 0,
                 node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS, **kwargs: Any) -> None:
        # Set before the base constructor starts the nodes (it calls _start for each).
        self._bus: dict[tuple[str, str], tuple[Connection, int]] = {}
        self._bus_accept = False
        config = {"cluster-enabled": "yes", "cluster-node-timeout": str(node_timeout_ms),
                  **kwargs.pop("config", {})}
        super().__init__(names, seed=seed, config=config, **kwargs)

    # ----------------------------------------------------------------------------------------
    # Building

    @classmethod
    def build(cls, primaries: int = 3, replicas: int = 0, seed: int = 0, *,
              node_timeout_ms: int = DEFAULT_NODE_TIMEOUT_MS, settle: bool = True,
              **kwargs: Any) -> "ClusterTopology":
        """Primaries ``A``, ``B`` ... each with ``replicas`` replicas ``A1``, ``A2`` ...,
        joined as ``redis-cli --cluster create`` leaves them, replicas synced."""
        for what, value in (("primaries", primaries), ("replicas", replicas)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"the number of {what} must be a whole number, not {value!r}")
        if not 1 <= primaries <= MAX_PRIMARIES:
            raise ValueError(f"a simulated cluster has 1 to {MAX_PRIMARIES} primaries, "
                             f"not {primaries}")
        if replicas > 5:
            raise ValueError(f"{replicas} replicas per primary is more than this simulation "
                             "runs (at most 5)")
        if node_timeout_ms < 100:
            raise ValueError("the node timeout must be at least 100 ms")
        masters = primary_names(primaries)
        names = list(masters)
        replica_of: dict[int, int] = {}
        for r in range(1, replicas + 1):
            for m, master in enumerate(masters):
                replica_of[len(names)] = m
                names.append(replica_name(master, r))
        t = cls(names, seed=seed, node_timeout_ms=node_timeout_ms, **kwargs)
        form_cluster([t.state(n) for n in names], primaries, replica_of)
        t._event("cluster", "created", f"{primaries} primaries, {replicas} replica(s) each")
        if settle:
            t.settle()
        return t

    def _start(self, node: Any, fresh: bool) -> None:
        old = None if fresh or node.engine is None else node.engine.extensions.get("cluster")
        super()._start(node, fresh)
        if node.sentinel:
            return
        st = cluster_state(node.engine)
        st.rng = random.Random(self.rng.getrandbits(64))
        if old is None:
            st.set_my_id(new_node_id(self.rng))
            st.set_address(node.host, node.port)
        else:
            _restore(old, st, self.clock.time_ms())
        st.send = lambda address, msg, src=node.name: self._bus_send(src, address, msg)
        st.on_log = lambda text, name=node.name: self._event(name, "cluster", self._named(text))
        node.engine.extensions["migrate_peer"] = \
            lambda host, port, src=node.name: self._migrate_peer(src, host, port)

    # ----------------------------------------------------------------------------------------
    # The cluster bus over the simulated network

    def _bus_send(self, src: str, address: tuple[str, int], msg: BusMessage) -> None:
        dst = self.by_address(address[0], address[1])
        if dst is None or dst.name == src:
            return
        key = (src, dst.name)
        now = self.clock.time_ms()
        held = self._bus.get(key)
        if held is not None:
            conn, born = held
            stale = not conn.alive
            if not stale:
                # A peer silent for half the node timeout: drop the link and reconnect, as
                # clusterCron does (during a partition the new connection cannot be made).
                st = self.state(src)
                known = next((n for n in st.nodes.values()
                              if n.address == address and not n.myself), None)
                timeout = st.engine.config["cluster-node-timeout"]
                if known is not None and not known.link and now - born > timeout // 2:
                    conn.close(0)
                    stale = True
            if stale:
                del self._bus[key]
                held = None
        if held is None:
            self._bus_accept = True
            try:
                result = self.network.connect(src, dst.name)
            finally:
                self._bus_accept = False
            if isinstance(result, str):
                return
            self._bus[key] = (result, now)
            conn = result
        else:
            conn = held[0]
        conn.send(0, ("bus", msg), 64)

    def _migrate_peer(self, src: str, host: str, port: int) -> Any:
        """MIGRATE's target from ``src``: a live node it can reach (delay is not modelled)."""
        dst = self.by_address(host, port)
        if dst is None or not dst.alive or dst.sentinel or \
                not self.network.reachable(src, dst.name):
            return None
        return dst.engine

    def _accept(self, node: Any, conn: Connection) -> None:
        if not self._bus_accept:
            super()._accept(node, conn)
            return

        def on_data(payload: Any) -> None:
            kind, msg = payload
            if kind == "bus" and node.alive:
                st = node.engine.extensions.get("cluster")
                if st is not None:
                    st.receive(msg)

        conn.handlers[1] = (on_data, lambda: None)

    # ----------------------------------------------------------------------------------------
    # Nodes

    def state(self, name: str) -> ClusterState:
        """``name``'s cluster state (what CLUSTER NODES shows on that node)."""
        return cluster_state(self.node(name).engine)

    def _named(self, text: str) -> str:
        """Node ids in a log line replaced by node names, for people to read."""
        return _NODE_ID.sub(lambda m: self.name_of(m.group(0)) or m.group(0), text)

    def name_of(self, node_id: str) -> str | None:
        for name, node in self.nodes.items():
            st = node.engine.extensions.get("cluster") if node.engine is not None else None
            if st is not None and st.myself.id == node_id:
                return name
        return None

    def owner(self, slot: int, view: str | None = None) -> str | None:
        """The node serving ``slot`` as ``view`` (default: the first live node) sees it."""
        st = self._view(view)
        owner = st.slots[slot]
        return None if owner is None else self.name_of(owner.id)

    def _view(self, view: str | None) -> ClusterState:
        if view is None:
            view = next((n for n, node in self.nodes.items() if node.alive), None)
            if view is None:
                raise NodeDown("every node is down")
        return self.state(view)

    def slot(self, key: bytes | str) -> int:
        return key_hash_slot(key.encode() if isinstance(key, str) else key)

    def primaries(self) -> list[str]:
        """Live nodes that see themselves as primaries."""
        return [n for n, node in self.nodes.items() if node.alive and self.state(n).myself.master]

    def failover(self, node: str | None = None) -> str:
        """CLUSTER FAILOVER on the replica ``node`` (FORCE when its primary is down or
        failed); without a name, the first live replica of a primary that is down. The
        election runs on simulated time: the clock moves until the replica is a primary."""
        if node is None:
            for name, n in self.nodes.items():
                st = self.state(name) if n.alive else None
                if st is not None and not st.myself.master and st.myself.replica_of is not None:
                    master = self.name_of(st.myself.replica_of.id)
                    if master is None or not self.nodes[master].alive:
                        node = name
                        break
            if node is None:
                raise ValueError("no live replica of a failed primary; name the replica")
        n = self.node(node)
        if not n.alive:
            raise ValueError(f"{node} is down")
        st = self.state(node)
        if st.myself.master:
            raise ValueError(f"{node} is a primary; CLUSTER FAILOVER is sent to a replica")
        master = st.myself.replica_of
        master_name = self.name_of(master.id) if master is not None else None
        down = master is None or master.fail or master_name is None or \
            not self.nodes[master_name].alive
        reply = self.call(node, "CLUSTER", "FAILOVER", *(["FORCE"] if down else []))
        if isinstance(reply, ErrorReply):
            raise ValueError(reply.message)
        for _ in range(100):
            if st.myself.master:
                break
            self.advance(0.1)
        if not st.myself.master:
            raise ValueError(f"{node} did not win the election (no majority of primaries)")
        self._event(node, "promoted", "CLUSTER FAILOVER" + (" FORCE" if down else ""))
        return node

    # ----------------------------------------------------------------------------------------
    # Resharding

    def start_reshard(self, slots: int | Iterable[int], source: str, target: str
                      ) -> "Reshard":
        """Open a migration of ``slots`` (a count taken from the source's lowest slots, or
        the slot numbers) from ``source`` to ``target``; move keys with ``step``."""
        return Reshard(self, slots, source, target)

    def reshard(self, slots: int | Iterable[int], source: str, target: str) -> str:
        """Move ``slots`` with their keys from ``source`` to ``target``, as
        ``redis-cli --cluster reshard`` does; returns what was moved, in words."""
        r = Reshard(self, slots, source, target)
        r.finish()
        return f"{len(r.slots)} slot(s), {r.moved} key(s)"

    # ----------------------------------------------------------------------------------------
    # Reports

    def describe(self) -> str:
        """One line: each node's role, slots and keys, the cluster state, and any cuts."""
        parts = []
        states = []
        for name, node in self.nodes.items():
            if not node.alive:
                parts.append(f"{name}: down")
                continue
            st = self.state(name)
            me = st.myself
            if me.master:
                ranges = ",".join(str(a) if a == b else f"{a}-{b}"
                                  for a, b in slot_ranges(me.slots)) or "no slots"
                keys = len(node.engine.dbs[0].data)
                extra = ""
                if st.migrating:
                    extra += " migrating " + ",".join(
                        f"{s}->{self.name_of(n.id)}" for s, n in sorted(st.migrating.items()))
                if st.importing:
                    extra += " importing " + ",".join(
                        f"{s}<-{self.name_of(n.id)}" for s, n in sorted(st.importing.items()))
                parts.append(f"{name}: primary {ranges} keys={keys} epoch={me.config_epoch}"
                             + extra)
            else:
                master = self.name_of(me.replica_of.id) if me.replica_of is not None else "?"
                parts.append(f"{name}: replica of {master}")
            failing = [f"{self.name_of(n.id) or n.id[:8]}({'fail' if n.fail else 'pfail'})"
                       for n in st.nodes.values() if n.fail or n.pfail]
            if failing:
                parts[-1] += " sees " + ",".join(failing)
            states.append("ok" if st.ok else "fail")
        line = " | ".join(parts)
        if states:
            line += " | cluster " + ("ok" if all(s == "ok" for s in states)
                                     else "fail" if all(s == "fail" for s in states)
                                     else "ok on some nodes, down on others")
        cuts = sorted("/".join(sorted(p)) for p in self.network.cut_pairs)
        if cuts:
            line += " | cut: " + ", ".join(cuts)
        return line


def _restore(old: ClusterState, st: ClusterState, now: int) -> None:
    """What a restarted node reads back from nodes.conf: its name, epochs, nodes and slots."""
    st.set_my_id(old.myself.id)
    st.set_address(old.myself.ip, old.myself.port, old.myself.cport)
    st.current_epoch = old.current_epoch
    st.last_vote_epoch = old.last_vote_epoch
    st.myself.config_epoch = old.myself.config_epoch
    copies: dict[str, ClusterNode] = {old.myself.id: st.myself}
    for n in old.nodes.values():
        if n.myself or n.handshake:
            continue
        copies[n.id] = st.add_node(ClusterNode(
            n.id, ip=n.ip, port=n.port, cport=n.cport, config_epoch=n.config_epoch,
            fail=n.fail, fail_time=n.fail_time, created=now))
    for n in old.nodes.values():
        if n.myself or n.handshake or n.replica_of is None:
            continue
        master = copies.get(n.replica_of.id)
        if master is not None:
            st.set_node_master(copies[n.id], master)
    for j, owner in enumerate(old.slots):
        if owner is not None and owner.id in copies:
            st.add_slot(copies[owner.id], j)
    for slot, n in old.migrating.items():
        if n.id in copies:
            st.migrating[slot] = copies[n.id]
    for slot, n in old.importing.items():
        if n.id in copies:
            st.importing[slot] = copies[n.id]
    master = old.myself.replica_of
    if not old.myself.master and master is not None and master.id in copies:
        st.set_master_of(copies[master.id])
    st.update_state()


@dataclass(frozen=True)
class Redirect:
    """One redirect a cluster client followed."""

    kind: str      # MOVED or ASK
    slot: int
    node: str      # the node name it was sent to

    def __str__(self) -> str:
        return f"-> {self.kind} {self.slot} to node {self.node}"


class ClusterClient:
    """A cluster-aware client over in-process sessions, as redis-py's RedisCluster or
    ``redis-cli -c``: it keeps a slot -> node map, follows MOVED (updating the map) and ASK
    (sending ASKING first, map unchanged), and records every redirect it followed."""

    def __init__(self, topology: ClusterTopology, node: str | None = None,
                 name: str = "client", max_redirects: int = 16) -> None:
        self.topology = topology
        self.name = name
        self.max_redirects = max_redirects
        self.default = node or (topology.primaries() or list(topology.nodes))[0]
        self.slots: dict[int, str] = {}
        self.sessions: dict[str, Any] = {}
        self.redirects: list[Redirect] = []
        self.history: list[Redirect] = []
        # Other things the last command went through, in words ("node C is down ...").
        self.notes: list[str] = []

    def _session(self, node: str) -> Any:
        s = self.sessions.get(node)
        engine = self.topology.node(node).engine
        if s is None or s.closed or s.engine is not engine:
            s = self.topology.session(node)
            s.name = self.name
            self.sessions[node] = s
        return s

    def slot_of(self, argv: list[bytes]) -> int | None:
        spec = TABLE.lookup(argv[0])
        if spec is None:
            return None
        if spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].upper().decode("latin-1"), spec)
        try:
            keys = spec.keys_of(argv)
        except (IndexError, ValueError):
            return None
        return key_hash_slot(keys[0]) if keys else None

    def refresh(self) -> str | None:
        """Reload the slot map from a live node (CLUSTER SLOTS), as clients do after an
        error; returns the node asked."""
        t = self.topology
        for name, node in t.nodes.items():
            if not node.alive:
                continue
            reply = t.call(name, "CLUSTER", "SLOTS")
            if not isinstance(reply, list):
                continue
            self.slots.clear()
            for entry in reply:
                owner = t.by_address(entry[2][0].decode(), entry[2][1])
                if owner is not None:
                    for j in range(entry[0], entry[1] + 1):
                        self.slots[j] = owner.name
            return name
        return None

    def execute(self, *args: Any) -> Any:
        """Run one command where its key lives; redirects are in :attr:`redirects`."""
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.redirects = []
        self.notes = []
        slot = self.slot_of(argv)
        target = self.slots.get(slot, self.default) if slot is not None else self.default
        asking = False
        refreshed = False
        reply: Any = None
        for _ in range(self.max_redirects + 1):
            try:
                s = self._session(target)
                if asking:
                    s.execute("ASKING")
                reply = s.execute_argv(argv)
            except NodeDown:
                if refreshed:
                    raise
                refreshed = True
                asked = self.refresh()
                self.notes.append(f"node {target} is down: slot map reloaded"
                                  + (f" from {asked}" if asked else ""))
                alive = [n for n, node in self.topology.nodes.items() if node.alive]
                fallback = self.slots.get(slot) if slot is not None else None
                if fallback is None or fallback == target:
                    fallback = alive[0] if alive else None
                if fallback is None or fallback == target:
                    raise
                target, asking = fallback, False
                continue
            redirect = self._redirect(reply)
            if redirect is None:
                return reply
            self.redirects.append(redirect)
            self.history.append(redirect)
            del self.history[:-1000]
            target = redirect.node
            asking = redirect.kind == "ASK"
            if not asking:
                self.slots[redirect.slot] = redirect.node
        return reply

    def _redirect(self, reply: Any) -> Redirect | None:
        if not isinstance(reply, ErrorReply):
            return None
        words = reply.message.split()
        if len(words) != 3 or words[0] not in ("MOVED", "ASK"):
            return None
        host, _, port = words[2].rpartition(":")
        node = self.topology.by_address(host, int(port)) if port.isdigit() else None
        if node is None:
            return None
        return Redirect(words[0], int(words[1]), node.name)


class Reshard:
    """A slot migration in progress (redis-cli's clusterManagerMoveSlot, one key at a time).

    Opening it marks each slot IMPORTING on the target and MIGRATING on the source. ``step``
    moves keys with MIGRATE; when a slot is empty on the source it is assigned to the target
    on every primary (CLUSTER SETSLOT NODE) and the next slot opens.
    """

    def __init__(self, topology: ClusterTopology, slots: int | Iterable[int], source: str,
                 target: str) -> None:
        t = topology
        if source == target:
            raise ValueError("source and target are the same node")
        for name in (source, target):
            if not t.node(name).alive:
                raise ValueError(f"{name} is down")
            if not t.state(name).myself.master:
                raise ValueError(f"{name} is not a primary")
        src = t.state(source)
        if isinstance(slots, int) and not isinstance(slots, bool):
            if slots < 0:
                raise ValueError("the number of slots cannot be negative")
            owned = sorted(src.myself.slots)
            if slots > len(owned):
                raise ValueError(f"{source} serves {len(owned)} slots, not {slots}")
            chosen = owned[:slots]
        else:
            chosen = sorted(set(int(s) for s in slots))
            for s in chosen:
                if not 0 <= s < 16384:
                    raise ValueError(f"{s} is not a slot (0-16383)")
                if src.slots[s] is not src.myself:
                    raise ValueError(f"{source} does not serve slot {s}")
        self.topology = t
        self.source = source
        self.target = target
        self.slots = chosen
        self.pending = list(chosen)
        self.moved = 0
        self.current: int | None = None
        self._keys: list[bytes] = []
        self._src_id = src.myself.id
        self._dst_id = t.state(target).myself.id
        self._open_next()

    @property
    def done(self) -> bool:
        return self.current is None and not self.pending

    def _call(self, node: str, *args: Any) -> Any:
        reply = self.topology.call(node, *args)
        if isinstance(reply, ErrorReply):
            raise ValueError(f"{node}: {' '.join(str(a) for a in args[:4])}: {reply.message}")
        return reply

    def _open_next(self) -> None:
        if not self.pending:
            self.current = None
            return
        slot = self.pending.pop(0)
        self.current = slot
        self._call(self.target, "CLUSTER", "SETSLOT", slot, "IMPORTING", self._src_id)
        self._call(self.source, "CLUSTER", "SETSLOT", slot, "MIGRATING", self._dst_id)
        self._keys = list(reversed(self.topology.state(self.source).keys_in_slot(slot)))

    def _close_current(self) -> None:
        slot = self.current
        assert slot is not None
        t = self.topology
        order = [self.target, self.source] + [n for n in t.nodes
                                              if n not in (self.source, self.target)]
        for name in order:
            node = t.nodes[name]
            if node.alive and not node.sentinel and t.state(name).myself.master:
                self._call(name, "CLUSTER", "SETSLOT", slot, "NODE", self._dst_id)
        t._event("cluster", "slot moved", f"{slot} {self.source} -> {self.target}")
        self._open_next()

    def step(self, keys: int = 1) -> int:
        """Move up to ``keys`` keys; returns how many moved. A slot left empty is handed
        over and the next one opened."""
        moved = 0
        while self.current is not None and moved < keys:
            if not self._keys:
                self._close_current()
                continue
            key = self._keys.pop(0)
            moved += self._move(key)
        if self.current is not None and not self._keys and moved < keys:
            self._close_current()
        return moved

    def _move(self, key: bytes) -> int:
        """MIGRATE one key from the source to the target, as redis-cli does."""
        dst = self.topology.node(self.target)
        reply = self._call(self.source, "MIGRATE", dst.host, dst.port, "", 0, 5000,
                           "REPLACE", "KEYS", key)
        if reply == "NOKEY":
            return 0
        self.moved += 1
        return 1

    def finish(self) -> int:
        """Move every remaining key and close every slot; returns the keys moved in all."""
        while not self.done:
            self.step(1 << 30)
        return self.moved


def _cluster(cls: type, primaries: int = 3, replicas: int = 0, seed: int = 0,
             **kwargs: Any) -> ClusterTopology:
    return ClusterTopology.build(primaries, replicas, seed, **kwargs)


# ``Topology.cluster(...)``: the constructor the lesson runner and the REPL call.
Topology.cluster = classmethod(_cluster)  # type: ignore[attr-defined]
