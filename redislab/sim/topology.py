"""Simulated topologies: several Redis servers (and Sentinels) on one clock and one network.

A :class:`Topology` holds named nodes. Each data node is a full
:class:`~redislab.engine.Engine` with its own data directory and a fake address
(``127.0.0.1:7000``, ``7001`` ...); all share one :class:`~redislab.engine.ManualClock` and
one simulated :class:`~redislab.sim.network.Network`, so replication traffic has delay, can be
cut by a partition and resumes after a heal. Everything is deterministic for a given seed.

API (kept small and stable)::

    t = Topology.replicas(n=2, seed=0)          # "primary", "replica-1", "replica-2", synced
    t = Topology.sentinel(replicas=2, sentinels=3, quorum=2)   # plus "sentinel-1".."-3"
    t.nodes                      # {name: Node}; Node.engine, .address, .alive, .sentinel
    t.node("primary").engine     # the Engine (a new one after restart)
    t.session("replica-1")       # a client session on that node (in-process, no network)
    t.kill("primary")            # crash (kill -9): unreachable, its connections reset
    t.restart("primary")         # start again from its data directory
    t.partition(["primary"], ["replica-1", "replica-2"])   # cut every link between groups
    t.heal()                     # remove every partition
    t.delay("primary", "replica-1", 200)    # one-way delay of a link, in milliseconds
    t.bandwidth("primary", "replica-1", 10)  # link speed in Mbit/s (default 1000)
    t.advance(1.5)               # move the clock: deliver messages, run every node's cron
    t.replicaof("replica-1", "primary")      # REPLICAOF by node name (None: NO ONE)
    t.primary()                  # the name of the (first) node whose role is master
    t.failover()                 # Sentinel: SENTINEL FAILOVER; else promote a replica
    t.describe()                 # one line: roles, offsets, lag, cuts (for a toolbar)
    t.events                     # what happened: (time_ms, node, what, detail)
    t.close()                    # remove temporary data directories

Time moves only in ``advance``: messages are delivered when due, each node's cron runs every
``1000 / hz`` ms of simulated time (replication checks once a second inside it), Sentinels
tick 10 to 19 times a second (Sentinel re-draws its hz at random on every tick, which keeps
Sentinels from acting in lockstep; the draws come from the seed). A write on the primary
reaches a replica only when the clock has moved past the link's delay: replication is
asynchronous, as in Redis.

Crashes: ``kill(name)`` is kill -9 (bytes already sent still arrive, peers see the
connections close); ``kill(name, "power")`` loses the host (unsynced files and undelivered
bytes are gone, peers notice only by timeout). A restarted node starts from its data
directory with its configuration but as a master: REPLICAOF given at run time is not in any
configuration file (Sentinel, or the operator, points it back).

Impossible parameters (a quorum larger than the number of Sentinels, a negative count, a
node on both sides of a partition ...) raise ValueError saying why.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..engine import Engine, ManualClock
from ..engine import replication as repl_mod
from ..protocol.reply import NO_REPLY
from ..protocol.resp import encode
from .network import Connection, Network

__all__ = ["Topology", "Node", "TopologyEvent", "NodeDown"]

BASE_PORT = 7000
HOST = "127.0.0.1"
# How long the constructors wait at most for replicas to finish their first sync.
SETTLE_LIMIT_S = 60.0


class NodeDown(ConnectionError):
    """A command was sent to a node that is not running."""


@dataclass(frozen=True)
class TopologyEvent:
    time_ms: int
    node: str
    what: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.node}: {self.what} {self.detail}".strip()


class Node:
    """One server of the topology (a Redis node, or a Sentinel)."""

    def __init__(self, topology: "Topology", name: str, index: int, sentinel: bool,
                 config: dict[str, str]) -> None:
        self.topology = topology
        self.name = name
        self.index = index
        self.host = HOST
        self.port = BASE_PORT + index
        self.sentinel = sentinel
        self.config = dict(config)
        self.dir = os.path.join(topology.base_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.alive = False
        self.engine: Engine = None  # type: ignore[assignment]
        self.incarnation = 0
        self.crash_kind = "process"
        self.next_cron_ms = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Node({self.name} {self.address} {'up' if self.alive else 'down'})"


class _NodeNet:
    """What an engine sees of the network: ``connect(host, port)`` to another node."""

    def __init__(self, topology: "Topology", node: Node) -> None:
        self.topology = topology
        self.node = node

    def connect(self, host: str, port: int) -> Any:
        t = self.topology
        dst = t.by_address(host, port)
        if dst is None:
            return "refused"
        result = t.network.connect(self.node.name, dst.name)
        if isinstance(result, str):
            return "Connection refused" if result == "refused" else "Connection timed out"
        return _Link(result, 0)


class _Link:
    """One side of a connection as the engine uses it."""

    def __init__(self, conn: Connection, side: int) -> None:
        self.conn = conn
        self.side = side
        self.on_data: Callable[[Any], None] | None = None
        self.on_close: Callable[[], None] | None = None
        conn.handlers[side] = (self._data, self._closed)

    def _data(self, payload: Any) -> None:
        if self.on_data is not None:
            self.on_data(payload)

    def _closed(self) -> None:
        if self.on_close is not None:
            self.on_close()

    def send(self, payload: Any, size: int = 0) -> None:
        self.conn.send(self.side, payload, size)

    def close(self) -> None:
        self.conn.close(self.side)

    @property
    def peer(self) -> str:
        return self.conn.peer(self.side)


class Topology:
    """Named nodes on one clock and one simulated network (see the module docstring)."""

    def __init__(self, names: Iterable[str] = (), *, seed: int = 0,
                 base_dir: str | None = None, clock: ManualClock | None = None,
                 config: dict[str, str] | None = None, delay_ms: int = 1,
                 bandwidth_mbps: float = 1000) -> None:
        if delay_ms < 0:
            raise ValueError("delay_ms cannot be negative")
        if bandwidth_mbps <= 0:
            raise ValueError("bandwidth_mbps must be positive")
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = clock or ManualClock()
        self._own_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="redislab-topology-")
        if self._own_dir:
            # A topology nobody closes still leaves no directories behind.
            weakref.finalize(self, shutil.rmtree, self.base_dir, True)
        self.network = Network(self.clock, delay_ms, bandwidth_mbps)
        self.config = dict(config or {})
        self.nodes: dict[str, Node] = {}
        self.events: list[TopologyEvent] = []
        self.sentinels: dict[str, Any] = {}
        for name in names:
            self.add_node(name)

    # ----------------------------------------------------------------------------------------
    # Constructors

    @classmethod
    def replicas(cls, n: int = 2, seed: int = 0, *, settle: bool = True,
                 **kwargs: Any) -> "Topology":
        """A primary ``primary`` and ``n`` replicas ``replica-1`` ..., synced unless
        ``settle=False`` (then the replicas have only just been told REPLICAOF)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"the number of replicas must be a whole number >= 0, not {n!r}")
        if n > 20:
            raise ValueError(f"{n} replicas is more than this simulation runs (at most 20)")
        t = cls(["primary"] + [f"replica-{i}" for i in range(1, n + 1)], seed=seed, **kwargs)
        for i in range(1, n + 1):
            t.replicaof(f"replica-{i}", "primary")
        if settle:
            t.settle()
        return t

    @classmethod
    def sentinel(cls, replicas: int = 2, sentinels: int = 3, quorum: int = 2, seed: int = 0,
                 *, down_after_ms: int = 30_000, failover_timeout_ms: int = 180_000,
                 parallel_syncs: int = 1, master_name: str = "mymaster", settle: bool = True,
                 **kwargs: Any) -> "Topology":
        """A primary, ``replicas`` replicas and ``sentinels`` Sentinels (``sentinel-1`` ...)
        monitoring it as ``master_name`` with ``quorum``; settled: replicas synced and
        every Sentinel knowing the others (unless ``settle=False``)."""
        for label, value, low in (("replicas", replicas, 0), ("sentinels", sentinels, 1),
                                  ("quorum", quorum, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{label} must be a whole number >= {low}, not {value!r}")
        if quorum > sentinels:
            raise ValueError(f"a quorum of {quorum} can never be reached by {sentinels} "
                             f"Sentinel{'s' if sentinels != 1 else ''}")
        if replicas > 20 or sentinels > 20:
            raise ValueError("this simulation runs at most 20 replicas and 20 Sentinels")
        if down_after_ms <= 0 or failover_timeout_ms <= 0 or parallel_syncs <= 0:
            raise ValueError("down_after_ms, failover_timeout_ms and parallel_syncs must be > 0")
        t = cls.replicas(replicas, seed=seed, settle=settle, **kwargs)
        primary = t.node("primary")
        for i in range(1, sentinels + 1):
            node = t.add_node(f"sentinel-{i}", sentinel=True)
            s = t.call(node.name, "SENTINEL", "MONITOR", master_name, primary.host,
                       primary.port, quorum)
            assert s == "OK", s
            t.call(node.name, "SENTINEL", "SET", master_name, "down-after-milliseconds",
                   down_after_ms, "failover-timeout", failover_timeout_ms, "parallel-syncs",
                   parallel_syncs)
        if settle:
            t.settle_sentinels()
        return t

    def settle_sentinels(self, limit: float = SETTLE_LIMIT_S) -> bool:
        """Advance until every Sentinel knows every other Sentinel and every live replica."""
        end = self.clock.time_ms() + int(limit * 1000)
        n = len(self.sentinels)
        replicas = len([x for x in self.data_nodes() if self.nodes[x].alive]) - 1
        while self.clock.time_ms() < end:
            if all(len(m.sentinels) == n - 1 and len(m.replicas) >= replicas
                   for s in self.sentinels.values() for m in s.masters.values()):
                return True
            self.advance(0.5)
        return False

    # ----------------------------------------------------------------------------------------
    # Nodes

    def add_node(self, name: str, config: dict[str, str] | None = None,
                 sentinel: bool = False) -> Node:
        if not name or any(ch.isspace() for ch in name) or "|" in name:
            raise ValueError(f"{name!r} is not a usable node name")
        if name in self.nodes:
            raise ValueError(f"there is already a node named {name!r}")
        node = Node(self, name, len(self.nodes), sentinel, {**self.config, **(config or {})})
        self.nodes[name] = node
        self._start(node, fresh=True)
        return node

    def node(self, name: str) -> Node:
        node = self.nodes.get(name)
        if node is None:
            raise KeyError(f"no node {name!r} (nodes: {', '.join(self.nodes)})")
        return node

    def by_address(self, host: str, port: int) -> Node | None:
        for node in self.nodes.values():
            if node.port == port and host in (node.host, "localhost"):
                return node
        return None

    def _start(self, node: Node, fresh: bool) -> None:
        if fresh:
            options = {"dir": node.dir, "port": str(node.port), **node.config}
            engine = Engine(self.clock, config=options)
        else:
            engine = node.engine.crash(node.crash_kind)
        node.incarnation += 1
        engine.run_id = "%040x" % self.rng.getrandbits(160)
        engine.extensions["seed"] = self.rng.getrandbits(64)
        engine.extensions["net"] = _NodeNet(self, node)
        engine.extensions["node_name"] = node.name
        node.engine = engine
        node.alive = True
        node.next_cron_ms = self.clock.time_ms()
        if node.sentinel:
            from .sentinel import Sentinel

            sentinel = Sentinel(self, node)
            saved = getattr(node, "sentinel_config", None)
            if saved is not None:
                # Sentinel rewrites its configuration file as it learns; it restarts from it.
                sentinel.load(saved)
            self.sentinels[node.name] = sentinel
        else:
            repl = repl_mod.state(engine)
            repl.engine.extensions["repl_listener"] = (
                lambda what, detail, name=node.name: self._event(name, what, detail))
        self.network.listen(node.name, lambda conn, node=node: self._accept(node, conn))

    def _accept(self, node: Node, conn: Connection) -> None:
        """A connection arrives at ``node``: a client session answers its commands."""
        from ..engine.session import Blocked

        engine = node.engine
        src = self.nodes.get(conn.nodes[0])
        session = engine.session()
        session.addr = f"{src.host if src else HOST}:{40000 + conn.id}"
        session.laddr = node.address
        link = _Link(conn, 1)
        session.extra["link"] = link

        def send_reply(s: Any, reply: Any) -> None:
            if reply is not NO_REPLY and conn.open[1]:
                link.send(("reply", reply), _size(reply))

        session.on_unblocked = send_reply
        # CLIENT KILL (a Sentinel reconfiguring the node does that) closes the connection.
        session.extra["kill"] = link.close

        def send_pushes(s: Any) -> None:
            for message in s.drain():
                if conn.open[1]:
                    link.send(("push", message), _size(message))

        session.on_push = send_pushes

        def on_data(payload: Any) -> None:
            kind, value = payload
            if kind != "cmd" or session.closed:
                return
            reply = session.execute_argv(value)
            if type(reply) is Blocked:
                return
            send_reply(session, reply)
            repl = engine.replication
            if repl is not None:
                repl.before_sleep()

        def on_close() -> None:
            if not session.closed:
                engine.close_session(session)

        link.on_data = on_data
        link.on_close = on_close

    # ----------------------------------------------------------------------------------------
    # Faults

    def kill(self, name: str, kind: str = "process") -> None:
        """Crash ``name``: ``"process"`` (kill -9: bytes already sent still arrive, peers see
        the connections close) or ``"power"`` (the host dies: unsynced files and anything
        not yet delivered are lost; peers find out by timeout)."""
        node = self.node(name)
        if not node.alive:
            raise ValueError(f"{name} is already down")
        if kind not in ("process", "power"):
            raise ValueError("kind must be 'process' or 'power'")
        node.alive = False
        node.crash_kind = kind
        engine = node.engine
        # The dead engine keeps its data for inspection, but clients cannot use it.
        for s in list(engine.sessions.values()):
            s.closed = True
        engine.before_command.insert(0, _refuse_dead(name))
        engine.repl_gate = True
        engine.refresh_gate()
        sentinel = self.sentinels.pop(name, None)
        if sentinel is not None:
            node.sentinel_config = sentinel.export()  # type: ignore[attr-defined]
        # A killed process's kernel still sends what it had buffered and closes its
        # connections; a power loss takes both the buffers and the goodbyes with it.
        self.network.down(name, machine=(kind == "power"))
        self._event(name, "killed", f"{kind} crash")

    def restart(self, name: str) -> None:
        """Start ``name`` again from what its data directory holds."""
        node = self.node(name)
        if node.alive:
            raise ValueError(f"{name} is running; kill it first")
        dead = node.engine
        dead.before_command.pop(0)
        if node.sentinel:
            self._start(node, fresh=True)
        else:
            self._start(node, fresh=False)
        self._event(name, "restarted", f"from {node.dir}" if not node.sentinel else "")
        del dead

    def partition(self, a_names: Iterable[str], b_names: Iterable[str]) -> None:
        """Cut every link between a node of ``a_names`` and a node of ``b_names``."""
        a = [self.node(n).name for n in a_names]
        b = [self.node(n).name for n in b_names]
        if not a or not b:
            raise ValueError("a partition needs a node on each side")
        if set(a) & set(b):
            raise ValueError(f"{sorted(set(a) & set(b))} cannot be on both sides of a partition")
        for x in a:
            for y in b:
                self.network.cut(x, y)
        self._event("network", "partition", f"{' '.join(a)} | {' '.join(b)}")

    def heal(self) -> None:
        self.network.heal()
        self._event("network", "heal", "every node can reach every other")

    def delay(self, a: str, b: str, ms: float) -> None:
        """One-way delay of the link between ``a`` and ``b``, in milliseconds."""
        self.node(a)
        self.node(b)
        if a == b:
            raise ValueError("a link joins two different nodes")
        if ms < 0:
            raise ValueError("a delay cannot be negative")
        self.network.set_delay(a, b, int(round(ms)))

    def bandwidth(self, a: str, b: str, mbps: float) -> None:
        """Speed of the link between ``a`` and ``b`` in megabits per second (a snapshot of
        80 MB takes 640 ms at the default 1000, over a minute at 10)."""
        self.node(a)
        self.node(b)
        if a == b:
            raise ValueError("a link joins two different nodes")
        if mbps <= 0:
            raise ValueError("a bandwidth must be positive")
        self.network.set_bandwidth(a, b, mbps)

    # ----------------------------------------------------------------------------------------
    # Clients and commands

    def session(self, name: str) -> Any:
        """A client session on ``name`` (in-process: it does not cross the network)."""
        node = self.node(name)
        if not node.alive:
            raise NodeDown(f"{name} is down (connection refused)")
        return node.engine.session()

    def call(self, name: str, *args: Any) -> Any:
        """Run one command on ``name`` with a throwaway session."""
        s = self.session(name)
        try:
            return s.execute(*args)
        finally:
            s.engine.close_session(s)

    def replicaof(self, replica: str, master: str | None) -> Any:
        """REPLICAOF on ``replica``: the address of ``master``, or NO ONE for None."""
        if master is None:
            return self.call(replica, "REPLICAOF", "NO", "ONE")
        m = self.node(master)
        if m.name == replica:
            raise ValueError("a node cannot replicate itself")
        return self.call(replica, "REPLICAOF", m.host, m.port)

    def role(self, name: str) -> str:
        node = self.node(name)
        if not node.alive:
            return "down"
        if node.sentinel:
            return "sentinel"
        repl = node.engine.replication
        return "slave" if repl is not None and repl.master_host is not None else "master"

    def primary(self) -> str | None:
        for name, node in self.nodes.items():
            if not node.sentinel and node.alive and self.role(name) == "master":
                return name
        return None

    def sentinel_nodes(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.sentinel]

    def data_nodes(self) -> list[str]:
        return [n for n, node in self.nodes.items() if not node.sentinel]

    def failover(self, node: str | None = None) -> str:
        """Promote a replica by hand (without Sentinel): ``node``, or the most up to date
        live replica; the other live nodes become its replicas. Returns the promoted name."""
        if self.sentinels:
            from .sentinel import forced_failover

            return forced_failover(self, node)
        candidates = [n for n in self.data_nodes()
                      if self.nodes[n].alive and self.role(n) == "slave"]
        if node is None:
            if not candidates:
                raise ValueError("no live replica to promote")
            node = max(candidates, key=lambda n: (
                self.nodes[n].engine.replication.reploff, -self.nodes[n].index))
        elif node not in candidates:
            raise ValueError(f"{node} is not a live replica")
        self.replicaof(node, None)
        for other in self.data_nodes():
            if other != node and self.nodes[other].alive:
                self.replicaof(other, node)
        self._event(node, "promoted", "by hand (REPLICAOF NO ONE)")
        return node

    # ----------------------------------------------------------------------------------------
    # Time

    def now_ms(self) -> int:
        return self.clock.time_ms()

    def advance(self, seconds: float = 0.0) -> None:
        """Move the clock ``seconds`` forward, delivering messages and running timers."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        target = self.clock.time_ms() + int(round(seconds * 1000))
        net = self.network
        while True:
            now = self.clock.time_ms()
            due = [target]
            nd = net.next_due()
            if nd is not None:
                due.append(nd)
            due.append(self._next_timer())
            t = max(now, min(due))
            if t > target:
                t = target
            if t > now:
                self.clock.set(t)
            if net.deliver_due(t):
                self._before_sleep()
            self._run_timers(t)
            nd = net.next_due()
            if t >= target and (nd is None or nd > target) and self._next_timer() > target:
                break

    def settle(self, limit: float = SETTLE_LIMIT_S) -> bool:
        """Advance until every live replica's link is up (at most ``limit`` seconds)."""
        end = self.clock.time_ms() + int(limit * 1000)
        while self.clock.time_ms() < end:
            if all(self._synced(n) for n in self.data_nodes()):
                self.advance(0)
                return True
            self.advance(0.1)
        return False

    def _synced(self, name: str) -> bool:
        node = self.nodes[name]
        if not node.alive:
            return True
        repl = node.engine.replication
        if repl is None or repl.master_host is None:
            return all(r.state == "online" for r in (repl.replicas if repl else []))
        return repl.state == repl_mod.CONNECTED

    def _next_timer(self) -> int:
        times = [n.next_cron_ms for n in self.nodes.values() if n.alive and not n.sentinel]
        times += [s.next_tick_ms for s in self.sentinels.values()]
        return min(times) if times else 1 << 62

    def _run_timers(self, now: int) -> None:
        for node in self.nodes.values():
            if node.alive and not node.sentinel and node.next_cron_ms <= now:
                engine = node.engine
                step = max(1, 1000 // max(1, engine.config["hz"]))
                while node.next_cron_ms <= now:
                    node.next_cron_ms += step
                engine.cron()
        for name in list(self.sentinels):
            s = self.sentinels.get(name)
            if s is not None and s.next_tick_ms <= now:
                s.tick()
                s.schedule_next(now)
        self._before_sleep()

    def _before_sleep(self) -> None:
        for node in self.nodes.values():
            if node.alive and not node.sentinel:
                repl = node.engine.replication
                if repl is not None:
                    repl.before_sleep()

    # ----------------------------------------------------------------------------------------
    # Reports

    def _event(self, node: str, what: str, detail: str = "") -> None:
        self.events.append(TopologyEvent(self.clock.time_ms(), node, what, detail))
        del self.events[:-1000]

    def event_lines(self, last: int = 20) -> list[str]:
        start = self.events[0].time_ms if self.events else 0
        return [f"+{(e.time_ms - start) / 1000:.1f}s {e}" for e in self.events[-last:]]

    def describe(self) -> str:
        """One line for a toolbar: each server's role, offset and how far behind it is, the
        Sentinels' view, and any partitions. For example::

            primary: master off=1234 | replica-1: replica of primary, link up, 0B behind |
            replica-2: down | sentinels 3/3: mymaster=primary ok, epoch 0
        """
        parts = []
        for name in self.data_nodes():
            node = self.nodes[name]
            if not node.alive:
                parts.append(f"{name}: down")
                continue
            repl = node.engine.replication
            if repl is None or repl.master_host is None:
                parts.append(f"{name}: master off={repl.offset if repl else 0}")
                continue
            upstream = self.by_address(repl.master_host, repl.master_port)
            of = upstream.name if upstream is not None else \
                f"{repl.master_host}:{repl.master_port}"
            link = "up" if repl.state == repl_mod.CONNECTED else "down"
            text = f"{name}: replica of {of}, link {link}"
            if upstream is not None and upstream.alive and \
                    upstream.engine.replication is not None:
                behind = upstream.engine.replication.offset - repl.reploff
                if behind >= 0:
                    text += f", {behind}B behind"
            parts.append(text)
        sentinels = self.sentinel_nodes()
        if sentinels:
            alive = [self.sentinels[n] for n in sentinels if n in self.sentinels]
            view = ""
            if alive:
                views = []
                for m in alive[0].masters.values():
                    target = self.by_address(m.host, m.port)
                    state = ",".join(f for f in ("s_down", "o_down") if f in m.flags) or "ok"
                    if "failover_in_progress" in m.flags:
                        state += ",failover"
                    views.append(f"{m.name}={target.name if target else m.port} {state}")
                view = ": " + "; ".join(views) + f", epoch {alive[0].current_epoch}"
            parts.append(f"sentinels {len(alive)}/{len(sentinels)}{view}")
        cuts = sorted("/".join(sorted(p)) for p in self.network.cut_pairs)
        line = " | ".join(parts)
        if cuts:
            line += " | cut: " + ", ".join(cuts)
        return line

    def __repr__(self) -> str:
        return f"Topology({self.describe()})"

    def close(self) -> None:
        """Forget the nodes; remove the data directories this topology created."""
        for node in self.nodes.values():
            if node.alive:
                node.alive = False
                self.network.down(node.name)
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> "Topology":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _refuse_dead(name: str) -> Callable[..., Any]:
    def refuse(c: Any, spec: Any, argv: list[bytes]) -> Any:
        raise NodeDown(f"{name} is down (connection refused)")

    return refuse


def _size(reply: Any) -> int:
    try:
        return len(encode(reply))
    except TypeError:
        return 0
