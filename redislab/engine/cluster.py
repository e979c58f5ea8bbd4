"""Redis Cluster state of one node: hash slots, known nodes, epochs, redirects and the bus.

Mirrors cluster.c of Redis 7.0. :func:`key_hash_slot` is Redis's CRC16 (XMODEM) with hash
tags. :class:`ClusterState` holds what a node knows (itself, the other nodes, which node owns
each slot, slots being migrated or imported, the current epoch) and decides, before a command
runs, whether this node serves it or the client is redirected (``getNodeByQuery``).

The cluster bus is sans-IO too: :meth:`ClusterState.cron` produces messages (PING, MEET,
FAIL, failover votes) through a ``send(address, message)`` callback the host provides, and
:meth:`ClusterState.receive` applies a message that reached this node. The served cluster
delivers messages in-process; the simulator carries them over its simulated network, where
they can be delayed, lost or partitioned away.

Simplifications (kept deliberately, documented here): every node pings every other node once
a second and gossips about every node it knows (Redis samples a few); the bus carries Python
values instead of the binary frame; pub/sub messages do not cross the bus.
"""

from __future__ import annotations

import os
import random
from binascii import crc_hqx
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..protocol.reply import ErrorReply

if TYPE_CHECKING:
    from .commands.spec import CommandSpec
    from .engine import Engine
    from .session import Session

SLOTS = 16384
# CLUSTER_WRITABLE_DELAY: a master waits this long after start before declaring the state ok.
WRITABLE_DELAY_MS = 2000
MIN_REJOIN_DELAY_MS = 500
MAX_REJOIN_DELAY_MS = 5000
FAIL_REPORT_VALIDITY_MULT = 2
FAIL_UNDO_TIME_MULT = 2
PING_EVERY_MS = 1000

# Redirect kinds (cluster.h CLUSTER_REDIR_*).
REDIR_NONE = 0
REDIR_CROSS_SLOT = 1
REDIR_UNSTABLE = 2
REDIR_ASK = 3
REDIR_MOVED = 4
REDIR_DOWN_STATE = 5
REDIR_DOWN_UNBOUND = 6
REDIR_DOWN_RO_STATE = 7

DISABLED = "ERR This instance has cluster support disabled"
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
DOWN = "CLUSTERDOWN The cluster is down"
DOWN_RO = "CLUSTERDOWN The cluster is down and only accepts read commands"
UNBOUND = "CLUSTERDOWN Hash slot not served"

# Message types in type-number order, named as CLUSTER INFO prints them
# (clusterGetMessageTypeString).
MESSAGE_TYPES = ("ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update",
                 "mfstart", "module", "publishshard")


def crc16(data: bytes) -> int:
    """CRC16 as Redis computes it (XMODEM: polynomial 0x1021, initial value 0)."""
    return crc_hqx(data, 0)


def key_hash_slot(key: bytes) -> int:
    """keyHashSlot: the slot of ``key``; only a non-empty ``{tag}`` (first ``{``, first ``}``
    after it) is hashed when there is one."""
    start = key.find(b"{")
    if start != -1:
        end = key.find(b"}", start + 1)
        if end != -1 and end != start + 1:
            key = key[start + 1:end]
    return crc16(key) & (SLOTS - 1)


def new_node_id(rng: random.Random | None = None) -> str:
    """A node name: 40 hex characters (getRandomHexChars)."""
    if rng is None:
        return os.urandom(20).hex()
    return "%040x" % rng.getrandbits(160)


def slot_ranges(slots: "set[int] | list[int]") -> list[tuple[int, int]]:
    """Sorted slots folded into inclusive (start, end) ranges."""
    out: list[tuple[int, int]] = []
    for s in sorted(slots):
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


@dataclass(eq=False)
class ClusterNode:
    """What this node knows about one node of the cluster (clusterNode)."""

    id: str
    ip: str = ""
    port: int = 0
    cport: int = 0
    hostname: str = ""
    myself: bool = False
    master: bool = True
    replica_of: "ClusterNode | None" = None
    pfail: bool = False
    fail: bool = False
    handshake: bool = False
    noaddr: bool = False
    nofailover: bool = False
    meet: bool = False
    config_epoch: int = 0
    ping_sent: int = 0
    pong_received: int = 0
    fail_time: int = 0
    voted_time: int = 0
    repl_offset: int = 0
    link: bool = False           # a bus link is established (the "connected" column)
    created: int = 0
    slots: set[int] = field(default_factory=set)
    replicas: list["ClusterNode"] = field(default_factory=list)
    # Failure reports about this node: reporter id -> time of the report.
    fail_reports: dict[str, int] = field(default_factory=dict)
    # ``slots`` as a frozenset for bus messages, rebuilt only after a change.
    frozen: frozenset[int] | None = None

    def slot_set(self) -> frozenset[int]:
        f = self.frozen
        if f is None:
            f = self.frozen = frozenset(self.slots)
        return f

    @property
    def address(self) -> tuple[str, int]:
        return (self.ip, self.port)

    def epoch(self) -> int:
        """nodeEpoch: a replica shows its master's config epoch."""
        if self.replica_of is not None:
            return self.replica_of.config_epoch
        return self.config_epoch

    def flag_text(self) -> str:
        """representClusterNodeFlags."""
        flags = []
        if self.myself:
            flags.append("myself")
        flags.append("master" if self.master else "slave")
        if self.pfail:
            flags.append("fail?")
        if self.fail:
            flags.append("fail")
        if self.handshake:
            flags.append("handshake")
        if self.noaddr:
            flags.append("noaddr")
        if self.nofailover:
            flags.append("nofailover")
        return ",".join(flags)

    @property
    def failed(self) -> bool:
        return self.fail


@dataclass
class BusMessage:
    """One cluster bus message (the parts of clusterMsg the model uses)."""

    type: str                    # ping, pong, meet, fail, auth-req, auth-ack, update
    sender: str
    ip: str
    port: int
    cport: int
    master: bool
    master_id: str | None
    config_epoch: int
    current_epoch: int
    slots: frozenset[int]
    offset: int = 0
    nofailover: bool = False
    # Gossip: (id, ip, port, cport, pfail or fail seen by the sender)
    gossip: list[tuple[str, str, int, int, bool]] = field(default_factory=list)
    force_ack: bool = False      # a manual failover: masters vote though the master is up
    about: str = ""              # FAIL: the failed node; UPDATE: the node whose slots changed
    about_epoch: int = 0
    about_slots: frozenset[int] = frozenset()


class ClusterState:
    """The cluster as one node sees it (clusterState)."""

    def __init__(self, engine: "Engine", node_id: str | None = None,
                 rng: random.Random | None = None) -> None:
        self.engine = engine
        self.rng = rng or random.Random()
        now = engine.clock.time_ms()
        port = int(engine.config["port"])
        cport = int(engine.config["cluster-port"]) or port + 10000
        me = ClusterNode(node_id or new_node_id(rng), ip="", port=port, cport=cport,
                         myself=True, created=now)
        self.myself = me
        self.nodes: dict[str, ClusterNode] = {me.id: me}
        self.slots: list[ClusterNode | None] = [None] * SLOTS
        self.migrating: dict[int, ClusterNode] = {}
        self.importing: dict[int, ClusterNode] = {}
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.ok = False
        # clusterInit starts the size at 1; it is recomputed once the state is first updated.
        self.size = 1
        self.first_update_ms: int | None = None
        self.among_minority_ms = 0
        self.sent = dict.fromkeys(MESSAGE_TYPES, 0)
        self.received = dict.fromkeys(MESSAGE_TYPES, 0)
        self.links_buffer_exceeded = 0
        # Forgotten nodes may not be re-added for a minute (the blacklist).
        self.blacklist: dict[str, int] = {}
        # Failover of this node when it is a replica.
        self.failover_auth_time = 0
        self.failover_auth_sent = False
        self.failover_auth_count = 0
        self.failover_auth_epoch = 0
        self.failover_auth_rank = 0
        self.manual_failover = ""      # "", "default", "force"
        self.last_ping_ms = 0
        # The host's transport: send(address, message). None: a node alone, no bus.
        self.send: Callable[[tuple[str, int], BusMessage], None] | None = None
        # Called when this node changes role (replica of a node id, or None for master).
        self.on_role_change: Callable[[str | None], None] | None = None
        # What the node would write to its log (the latest 1000 lines), and a listener.
        self.log: list[str] = []
        self.on_log: Callable[[str], None] | None = None

    def note(self, text: str) -> None:
        self.log.append(text)
        del self.log[:-1000]
        if self.on_log is not None:
            self.on_log(text)

    # ----------------------------------------------------------------------------------------
    # Identity and nodes

    def set_my_id(self, node_id: str) -> None:
        me = self.myself
        del self.nodes[me.id]
        me.id = node_id
        self.nodes[node_id] = me

    def set_address(self, ip: str, port: int, cport: int | None = None) -> None:
        me = self.myself
        me.ip, me.port = ip, port
        me.cport = cport if cport is not None else port + 10000

    def lookup(self, name: bytes | str) -> ClusterNode | None:
        if isinstance(name, bytes):
            try:
                name = name.decode("ascii")
            except UnicodeDecodeError:
                return None
        return self.nodes.get(name.lower() if len(name) == 40 else name)

    def add_node(self, node: ClusterNode) -> ClusterNode:
        self.nodes[node.id] = node
        return node

    def del_node(self, node: ClusterNode) -> None:
        """clusterDelNode: forget a node, its slots, migrations and reports from it."""
        for j in range(SLOTS):
            if self.slots[j] is node:
                self.slots[j] = None
        for table in (self.migrating, self.importing):
            for slot in [s for s, n in table.items() if n is node]:
                del table[slot]
        for other in self.nodes.values():
            other.fail_reports.pop(node.id, None)
        if node.replica_of is not None and node in node.replica_of.replicas:
            node.replica_of.replicas.remove(node)
        for r in node.replicas:
            r.replica_of = None
        self.nodes.pop(node.id, None)

    def masters(self) -> list[ClusterNode]:
        return [n for n in self.nodes.values() if n.master]

    # ----------------------------------------------------------------------------------------
    # Slots

    def add_slot(self, node: ClusterNode, slot: int) -> None:
        old = self.slots[slot]
        if old is not None:
            old.slots.discard(slot)
            old.frozen = None
        self.slots[slot] = node
        node.slots.add(slot)
        node.frozen = None

    def del_slot(self, slot: int) -> None:
        old = self.slots[slot]
        if old is not None:
            old.slots.discard(slot)
            old.frozen = None
        self.slots[slot] = None

    def keys_in_slot(self, slot: int) -> list[bytes]:
        """Keys of db 0 in ``slot``, newest first as Redis's per-slot key list holds them."""
        data = self.engine.dbs[0].data
        return [k for k in reversed(data) if key_hash_slot(k) == slot]

    def count_keys_in_slot(self, slot: int) -> int:
        return sum(1 for k in self.engine.dbs[0].data if key_hash_slot(k) == slot)

    def keys_by_slot(self) -> dict[int, list[bytes]]:
        out: dict[int, list[bytes]] = {}
        for k in self.engine.dbs[0].data:
            out.setdefault(key_hash_slot(k), []).append(k)
        return out

    # ----------------------------------------------------------------------------------------
    # Roles

    def set_master_of(self, node: ClusterNode | None) -> None:
        """Make this node a replica of ``node`` (clusterSetMaster), or a master (None)."""
        me = self.myself
        if node is not None and me.replica_of is node and not me.master:
            return
        if me.replica_of is not None and me in me.replica_of.replicas:
            me.replica_of.replicas.remove(me)
        if node is None:
            me.master = True
            me.replica_of = None
        else:
            for slot in list(me.slots):
                self.del_slot(slot)
            self.migrating.clear()
            self.importing.clear()
            me.master = False
            me.replica_of = node
            if me not in node.replicas:
                node.replicas.append(me)
        self.manual_failover = ""
        self.failover_auth_time = 0
        if self.on_role_change is not None:
            self.on_role_change(node.id if node is not None else None)

    def set_node_master(self, node: ClusterNode, master: ClusterNode | None) -> None:
        """Record another node's role as gossip reports it."""
        if node.myself:
            return
        if node.replica_of is master and node.master == (master is None):
            return
        if node.replica_of is not None and node in node.replica_of.replicas:
            node.replica_of.replicas.remove(node)
        node.replica_of = master
        node.master = master is None
        if master is not None:
            for slot in list(node.slots):
                if self.slots[slot] is node:
                    self.slots[slot] = None
            node.slots.clear()
            node.frozen = None
            if node not in master.replicas:
                master.replicas.append(node)

    # ----------------------------------------------------------------------------------------
    # State (clusterUpdateState)

    def update_state(self) -> None:
        now = self.engine.clock.time_ms()
        if self.first_update_ms is None:
            self.first_update_ms = now
        me = self.myself
        if me.master and not self.ok and now - self.first_update_ms < WRITABLE_DELAY_MS:
            return
        new_ok = True
        if self.engine.config["cluster-require-full-coverage"]:
            # Every slot served by a node not failed (each node's set mirrors the table).
            if None in self.slots or any(n.fail and n.slots for n in self.nodes.values()):
                new_ok = False
        size = reachable = 0
        for n in self.nodes.values():
            if n.master and n.slots:
                size += 1
                if not (n.fail or n.pfail):
                    reachable += 1
        self.size = size
        if reachable < size // 2 + 1:
            new_ok = False
            self.among_minority_ms = now
        if new_ok != self.ok:
            delay = min(max(self.engine.config["cluster-node-timeout"], MIN_REJOIN_DELAY_MS),
                        MAX_REJOIN_DELAY_MS)
            if new_ok and me.master and now - self.among_minority_ms < delay:
                return
            self.ok = new_ok
            self.note("Cluster state changed: " + ("ok" if new_ok else "fail"))

    def force_ok(self) -> None:
        """Skip the start-up delay: for clusters built ready-made (served, simulated)."""
        self.first_update_ms = self.engine.clock.time_ms() - WRITABLE_DELAY_MS
        self.among_minority_ms = 0
        self.update_state()

    # ----------------------------------------------------------------------------------------
    # Redirects (getNodeByQuery)

    def node_for(self, c: "Session", spec: "CommandSpec", argv: list[bytes],
                 queued: list[tuple["CommandSpec", list[bytes]]] | None = None,
                 asking: bool = False) -> tuple[ClusterNode | None, int, int]:
        """Which node serves the command: ``(node, slot, redirect kind)``."""
        me = self.myself
        if queued is not None:
            commands = queued
        else:
            commands = [(spec, argv)]
        first: bytes | None = None
        n: ClusterNode | None = None
        slot = 0
        migrating = importing = multiple = False
        missing = 0
        pubsub = spec.name in ("SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH")
        db = self.engine.dbs[0]
        write = False
        for mspec, margv in commands:
            if mspec.write:
                write = True
            for pos in command_keys(mspec, margv):
                key = margv[pos]
                this = key_hash_slot(key)
                if first is None:
                    first = key
                    slot = this
                    n = self.slots[slot]
                    if n is None:
                        return None, slot, REDIR_DOWN_UNBOUND
                    if n is me and slot in self.migrating:
                        migrating = True
                    elif slot in self.importing:
                        importing = True
                elif key != first:
                    if this != slot:
                        return None, slot, REDIR_CROSS_SLOT
                    multiple = True
                if (migrating or importing) and not pubsub and not _exists(db, key):
                    missing += 1
        if n is None:
            return me, 0, REDIR_NONE
        if not self.ok:
            if pubsub:
                if not self.engine.config["cluster-allow-pubsubshard-when-down"]:
                    return None, slot, REDIR_DOWN_STATE
            elif not self.engine.config["cluster-allow-reads-when-down"]:
                return None, slot, REDIR_DOWN_STATE
            elif write:
                return None, slot, REDIR_DOWN_RO_STATE
        if (migrating or importing) and spec.name == "MIGRATE":
            return me, slot, REDIR_NONE
        if migrating and missing:
            if multiple:
                return None, slot, REDIR_UNSTABLE
            return self.migrating[slot], slot, REDIR_ASK
        if importing and (asking or "asking" in spec.flags):
            if multiple and missing:
                return None, slot, REDIR_UNSTABLE
            return me, slot, REDIR_NONE
        if (c.extra.get("readonly") or pubsub) and not write and not me.master \
                and me.replica_of is n:
            return me, slot, REDIR_NONE
        if n is not me:
            return n, slot, REDIR_MOVED
        return me, slot, REDIR_NONE

    def redirect_error(self, node: ClusterNode | None, slot: int, kind: int) -> ErrorReply:
        """clusterRedirectClient: the error text for a redirect kind."""
        if kind == REDIR_CROSS_SLOT:
            return ErrorReply(CROSSSLOT)
        if kind == REDIR_UNSTABLE:
            return ErrorReply(TRYAGAIN)
        if kind == REDIR_DOWN_STATE:
            return ErrorReply(DOWN)
        if kind == REDIR_DOWN_RO_STATE:
            return ErrorReply(DOWN_RO)
        if kind == REDIR_DOWN_UNBOUND:
            return ErrorReply(UNBOUND)
        assert node is not None
        word = "ASK" if kind == REDIR_ASK else "MOVED"
        return ErrorReply(f"{word} {slot} {self.endpoint(node)}:{node.port}")

    def endpoint(self, node: ClusterNode) -> str:
        """getPreferredEndpoint."""
        kind = self.engine.config["cluster-preferred-endpoint-type"]
        if kind == "hostname":
            return node.hostname or "?"
        if kind == "unknown-endpoint":
            return "?"
        return node.ip

    def before_command(self, c: "Session", spec: "CommandSpec", argv: list[bytes]) -> Any:
        """The redirect check processCommand makes in cluster mode."""
        if c.kind == "master" or c.in_script:
            # Our primary is obeyed as is; a script's own calls meet script_refusal instead.
            return None
        name = spec.name
        extra = c.extra
        if name == "ASKING":
            return None
        asking = extra.get("asking", False)
        if asking and (c.multi is None or name == "EXEC"):
            # ASKING covers the next command only, or a whole transaction (resetClient).
            del extra["asking"]
        if not spec.key_specs and "movablekeys" not in spec.flags and name != "EXEC":
            return None
        queued = None
        if name == "EXEC":
            if c.multi is None:
                return None
            queued = c.multi
        node, slot, kind = self.node_for(c, spec, argv, queued, asking)
        if kind == REDIR_NONE and node is self.myself:
            return None
        err = self.redirect_error(node, slot, kind)
        if name == "EXEC":
            err = PlainError(err.message)
        return err

    def script_refusal(self, caller: "Session | None", spec: "CommandSpec",
                       argv: list[bytes]) -> bytes | None:
        """scriptCall's check: a script may only touch keys this node serves right now."""
        if caller is None or caller.kind in ("master", "aof-loader"):
            return None
        if not spec.key_specs and "movablekeys" not in spec.flags:
            return None
        node, _, kind = self.node_for(caller, spec, argv)
        if node is self.myself and kind == REDIR_NONE:
            return None
        if kind == REDIR_DOWN_RO_STATE:
            return (b"ERR Script attempted to execute a write command while the cluster is "
                    b"down and readonly")
        if kind == REDIR_DOWN_STATE:
            return b"ERR Script attempted to execute a command while the cluster is down"
        return b"ERR Script attempted to access a non local key in a cluster node"

    # ----------------------------------------------------------------------------------------
    # Views: CLUSTER NODES, SLOTS, SHARDS, INFO

    def node_line(self, n: ClusterNode) -> str:
        """clusterGenNodeDescription."""
        addr = f"{n.ip}:{n.port}@{n.cport}"
        if n.hostname:
            addr += "," + n.hostname
        master = n.replica_of.id if n.replica_of is not None else "-"
        link = "connected" if (n.link or n.myself) else "disconnected"
        parts = [n.id, addr, n.flag_text(), master, str(n.ping_sent), str(n.pong_received),
                 str(n.epoch()), link]
        if n.master:
            for a, b in slot_ranges(n.slots):
                parts.append(str(a) if a == b else f"{a}-{b}")
        if n.myself:
            for slot, to in sorted(self.migrating.items()):
                parts.append(f"[{slot}->-{to.id}]")
            for slot, frm in sorted(self.importing.items()):
                parts.append(f"[{slot}-<-{frm.id}]")
        return " ".join(parts)

    def nodes_text(self, only: list[ClusterNode] | None = None) -> str:
        nodes = only if only is not None else list(self.nodes.values())
        return "".join(self.node_line(n) + "\n" for n in nodes)

    def replica_available(self, n: ClusterNode) -> bool:
        if n.fail:
            return False
        offset = self.my_offset() if n.myself else n.repl_offset
        return offset != 0

    def my_offset(self) -> int:
        """This node's replication offset (what a replica has processed, or a master sent)."""
        repl = self.engine.replication
        if repl is None:
            return 0
        return int(repl.reploff if repl.master_host is not None else repl.offset)

    def info_text(self) -> str:
        assigned = ok = pfail = fail = 0
        for n in self.slots:
            if n is None:
                continue
            assigned += 1
            if n.fail:
                fail += 1
            elif n.pfail:
                pfail += 1
            else:
                ok += 1
        lines = [
            "cluster_state:" + ("ok" if self.ok else "fail"),
            f"cluster_slots_assigned:{assigned}",
            f"cluster_slots_ok:{ok}",
            f"cluster_slots_pfail:{pfail}",
            f"cluster_slots_fail:{fail}",
            f"cluster_known_nodes:{len(self.nodes)}",
            f"cluster_size:{self.size}",
            f"cluster_current_epoch:{self.current_epoch}",
            f"cluster_my_epoch:{self.myself.epoch()}",
        ]
        for kind, table in (("sent", self.sent), ("received", self.received)):
            total = 0
            for name in MESSAGE_TYPES:
                count = table[name]
                if count:
                    total += count
                    lines.append(f"cluster_stats_messages_{name}_{kind}:{count}")
            lines.append(f"cluster_stats_messages_{kind}:{total}")
        lines.append(f"total_cluster_links_buffer_limit_exceeded:{self.links_buffer_exceeded}")
        return "".join(line + "\r\n" for line in lines)

    # ----------------------------------------------------------------------------------------
    # Epochs

    def max_epoch(self) -> int:
        """clusterGetMaxEpoch."""
        return max([self.current_epoch] + [n.config_epoch for n in self.nodes.values()])

    def bump_epoch_without_consensus(self) -> bool:
        """clusterBumpConfigEpochWithoutConsensus: a new epoch unless ours is already the max."""
        me = self.myself
        if me.config_epoch == 0 or me.config_epoch != self.max_epoch():
            self.current_epoch += 1
            me.config_epoch = self.current_epoch
            return True
        return False

    # ----------------------------------------------------------------------------------------
    # The bus

    def _message(self, kind: str) -> BusMessage:
        me = self.myself
        master = me.replica_of
        slots = (master if master is not None else me).slot_set()
        gossip = [(n.id, n.ip, n.port, n.cport, n.pfail or n.fail)
                  for n in self.nodes.values() if not n.myself and not n.handshake]
        return BusMessage(kind, me.id, me.ip, me.port, me.cport, me.master,
                          master.id if master is not None else None, me.epoch(),
                          self.current_epoch, slots, self.my_offset(), me.nofailover, gossip)

    def _send(self, node: ClusterNode | tuple[str, int], kind: str,
              message: BusMessage | None = None) -> None:
        if self.send is None:
            return
        msg = message or self._message(kind)
        msg.type = kind
        address = node.address if isinstance(node, ClusterNode) else node
        self.sent[kind] += 1
        self.send(address, msg)

    def broadcast(self, kind: str, message: BusMessage | None = None) -> None:
        for n in list(self.nodes.values()):
            if n.myself or n.handshake:
                continue
            self._send(n, kind, message)

    def meet(self, ip: str, port: int, cport: int | None = None) -> None:
        """CLUSTER MEET: start a handshake with a node known only by its address."""
        now = self.engine.clock.time_ms()
        for n in self.nodes.values():
            if n.handshake and n.ip == ip and n.port == port:
                return
        node = ClusterNode(new_node_id(self.rng), ip=ip, port=port,
                           cport=cport if cport is not None else port + 10000,
                           handshake=True, meet=True, created=now)
        self.add_node(node)
        self._send(node, "meet")
        node.ping_sent = now
        self.last_ping_ms = now

    def cron(self) -> None:
        """clusterCron, called ten times a second: pings, failure detection, failover."""
        now = self.engine.clock.time_ms()
        timeout = self.engine.config["cluster-node-timeout"]
        me = self.myself
        for n in list(self.nodes.values()):
            if n.myself:
                continue
            if n.handshake and now - n.created > max(timeout, 1000):
                # A handshake that never completed is dropped (clusterHandshakeTimeout).
                self.del_node(n)
                continue
            if n.ping_sent and now - n.ping_sent > timeout // 2 and n.link:
                # No answer for half the timeout: Redis drops the link to reconnect it.
                n.link = False
            if n.ping_sent and now - n.ping_sent > timeout and not (n.pfail or n.fail):
                n.pfail = True
                self.note(f"*** NODE {n.id} possibly failing")
        if now - self.last_ping_ms >= PING_EVERY_MS:
            self.last_ping_ms = now
            for n in list(self.nodes.values()):
                if n.myself:
                    continue
                self._send(n, "meet" if n.handshake else "ping")
                if not n.ping_sent:
                    n.ping_sent = now
        for n in self.nodes.values():
            if n.pfail and not n.fail:
                self._mark_failing_if_needed(n)
        if not me.master:
            self._replica_cron(now)
        self.update_state()

    def _mark_failing_if_needed(self, node: ClusterNode) -> None:
        """markNodeAsFailingIfNeeded: PFAIL becomes FAIL once a majority of masters agree."""
        now = self.engine.clock.time_ms()
        validity = self.engine.config["cluster-node-timeout"] * FAIL_REPORT_VALIDITY_MULT
        for reporter, when in list(node.fail_reports.items()):
            if now - when > validity:
                del node.fail_reports[reporter]
        quorum = self.size // 2 + 1
        reports = len(node.fail_reports) + (1 if self.myself.master else 0)
        if not node.pfail or node.fail or reports < quorum:
            return
        node.pfail = False
        node.fail = True
        node.fail_time = now
        self.note(f"Marking node {node.id} as failing (quorum reached).")
        msg = self._message("fail")
        msg.about = node.id
        self.broadcast("fail", msg)
        self.update_state()

    def _replica_cron(self, now: int) -> None:
        """clusterHandleSlaveFailover: elect this replica when its master has failed."""
        master = self.myself.replica_of
        if master is None:
            return
        manual = self.manual_failover
        if not manual and (not master.fail or not master.slots or self.myself.nofailover):
            self.failover_auth_time = 0
            return
        if manual == "takeover":
            self._failover()
            return
        timeout = self.engine.config["cluster-node-timeout"]
        auth_timeout = max(timeout * 2, 2000)
        retry = auth_timeout * 2
        if self.failover_auth_time and now - self.failover_auth_time > retry:
            self.failover_auth_time = 0
        if not self.failover_auth_time:
            rank = self._rank()
            delay = 0 if manual else 500 + self.rng.randrange(500) + rank * 1000
            self.failover_auth_time = now + delay
            self.failover_auth_count = 0
            self.failover_auth_sent = False
            self.failover_auth_rank = rank
            self.note(f"Start of election delayed for {delay} milliseconds "
                            f"(rank #{rank}, offset {self.my_offset()}).")
            return
        if now < self.failover_auth_time or now - self.failover_auth_time > auth_timeout:
            return
        if not self.failover_auth_sent:
            self.current_epoch += 1
            self.failover_auth_epoch = self.current_epoch
            self.failover_auth_sent = True
            self.note(f"Starting a failover election for epoch {self.current_epoch}.")
            msg = self._message("auth-req")
            msg.current_epoch = self.current_epoch
            msg.about_slots = master.slot_set()
            msg.force_ack = bool(manual)
            self.broadcast("auth-req", msg)
            return
        needed = self.size // 2 + 1
        if self.failover_auth_count >= needed:
            self.note("Failover election won: I'm the new master.")
            self._failover()

    def _rank(self) -> int:
        master = self.myself.replica_of
        if master is None:
            return 0
        mine = self.my_offset()
        return sum(1 for r in master.replicas if r is not self.myself and
                   not r.nofailover and r.repl_offset > mine)

    def _failover(self) -> None:
        """clusterFailoverReplaceYourMaster: take the old master's slots and announce it."""
        me = self.myself
        old = me.replica_of
        if old is None:
            return
        if self.manual_failover == "takeover" or not self.failover_auth_epoch:
            self.bump_epoch_without_consensus()
        else:
            me.config_epoch = self.failover_auth_epoch
        slots = list(old.slots)
        self.set_master_of(None)
        for slot in slots:
            self.add_slot(me, slot)
        self.set_node_master(old, me)
        self.manual_failover = ""
        self.update_state()
        self.broadcast("pong")

    def receive(self, msg: BusMessage) -> None:
        """clusterProcessPacket: apply one message that reached this node."""
        now = self.engine.clock.time_ms()
        self.received[msg.type] = self.received.get(msg.type, 0) + 1
        if msg.current_epoch > self.current_epoch:
            self.current_epoch = msg.current_epoch
        sender = self.nodes.get(msg.sender)
        if sender is not None and sender.handshake:
            sender = None
        if msg.type == "meet" and sender is None:
            # Redis adds the sender in handshake and learns its name from the next PONG; the
            # model takes the name from the MEET itself.
            if msg.sender in self.blacklist and now < self.blacklist[msg.sender]:
                return
            sender = self.add_node(ClusterNode(msg.sender, ip=msg.ip, port=msg.port,
                                               cport=msg.cport, created=now))
        if msg.type in ("ping", "meet"):
            self._send((msg.ip, msg.port), "pong")
        if msg.type in ("ping", "pong", "meet"):
            if sender is None:
                # A PONG from a node we were shaking hands with: it gets its real name.
                for n in list(self.nodes.values()):
                    if n.handshake and n.ip == msg.ip and n.port == msg.port:
                        self.del_node(n)
                        if msg.sender in self.nodes or (
                                msg.sender in self.blacklist and now < self.blacklist[msg.sender]):
                            return
                        sender = self.add_node(ClusterNode(
                            msg.sender, ip=msg.ip, port=msg.port, cport=msg.cport, created=now))
                        break
                else:
                    return
            for n in list(self.nodes.values()):
                if n.handshake and n.ip == msg.ip and n.port == msg.port:
                    # We were shaking hands with a node we know by now under its real name.
                    self.del_node(n)
            sender.link = True
            sender.ip, sender.port, sender.cport = msg.ip, msg.port, msg.cport
            sender.repl_offset = msg.offset
            sender.nofailover = msg.nofailover
            if msg.type == "pong":
                sender.pong_received = now
                sender.ping_sent = 0
                if sender.pfail:
                    sender.pfail = False
                elif sender.fail:
                    self._clear_failure_if_needed(sender, now)
            if msg.master_id is None:
                self.set_node_master(sender, None)
            else:
                master = self.nodes.get(msg.master_id)
                if master is not None:
                    self.set_node_master(sender, master)
            if msg.master and sender.master and msg.config_epoch > sender.config_epoch:
                sender.config_epoch = msg.config_epoch
            if msg.master:
                self._update_slots_with(sender, msg.config_epoch, msg.slots)
            self._process_gossip(sender, msg, now)
        elif msg.type == "fail":
            failing = self.nodes.get(msg.about)
            if failing is not None and not failing.myself and not failing.fail:
                failing.fail = True
                failing.pfail = False
                failing.fail_time = now
                self.note(f"FAIL message received from {msg.sender} about {msg.about}")
        elif msg.type == "auth-req" and sender is not None:
            self._vote(sender, msg, now)
        elif msg.type == "auth-ack" and sender is not None:
            if sender.master and sender.slots and msg.current_epoch >= self.failover_auth_epoch:
                self.failover_auth_count += 1
        elif msg.type == "update":
            node = self.nodes.get(msg.about)
            if node is not None and node.config_epoch < msg.about_epoch:
                node.config_epoch = msg.about_epoch
                self._update_slots_with(node, msg.about_epoch, msg.about_slots)
        self.update_state()

    def _clear_failure_if_needed(self, node: ClusterNode, now: int) -> None:
        timeout = self.engine.config["cluster-node-timeout"]
        if not node.master or not node.slots or \
                now - node.fail_time > timeout * FAIL_UNDO_TIME_MULT:
            node.fail = False

    def _process_gossip(self, sender: ClusterNode, msg: BusMessage, now: int) -> None:
        for node_id, ip, port, cport, failing in msg.gossip:
            node = self.nodes.get(node_id)
            if node is None:
                if node_id in self.blacklist and now < self.blacklist[node_id]:
                    continue
                if node_id == self.myself.id:
                    continue
                # An unknown node learnt by gossip: shake hands with it.
                known = any(n.handshake and n.ip == ip and n.port == port
                            for n in self.nodes.values())
                if not known and ip:
                    self.meet(ip, port, cport)
                continue
            if node.myself or not sender.master:
                continue
            if failing:
                node.fail_reports[sender.id] = now
                if node.pfail and not node.fail:
                    self._mark_failing_if_needed(node)
            else:
                node.fail_reports.pop(sender.id, None)

    def _update_slots_with(self, sender: ClusterNode, epoch: int, claimed: frozenset[int]) -> None:
        """clusterUpdateSlotsConfigWith: newer claims win; losing every slot makes us a replica."""
        me = self.myself
        if sender.myself:
            return
        my_master = me if me.master else me.replica_of
        lost_mine = False
        # Only slots the sender does not already hold here can change hands.
        for j in claimed - sender.slots:
            owner = self.slots[j]
            if owner is sender:
                continue
            if j in self.importing:
                continue
            if owner is None or owner.config_epoch < epoch:
                if owner is my_master and owner is not None and my_master is me:
                    lost_mine = True
                self.add_slot(sender, j)
        # Slots the sender no longer claims but we thought it served are left as they are
        # until their new owner announces them (Redis does the same).
        if lost_mine and not me.slots and me.master:
            self.set_master_of(sender)
        elif not me.master and my_master is not None and not my_master.slots \
                and sender.slots and my_master is not sender and any(
                    self.slots[j] is sender for j in claimed):
            self.set_master_of(sender)

    def _vote(self, requester: ClusterNode, msg: BusMessage, now: int) -> None:
        """clusterSendFailoverAuthIfNeeded: a master votes once per epoch."""
        me = self.myself
        if not me.master or not me.slots:
            return
        if msg.current_epoch < self.current_epoch:
            return
        if self.last_vote_epoch == self.current_epoch:
            return
        master = requester.replica_of
        if requester.master or master is None:
            return
        if not master.fail and not msg.force_ack:
            return
        timeout = self.engine.config["cluster-node-timeout"]
        if now - master.voted_time < timeout * 2:
            return
        for j in msg.about_slots:
            owner = self.slots[j]
            if owner is not None and owner.config_epoch > msg.config_epoch:
                return
        self.last_vote_epoch = self.current_epoch
        master.voted_time = now
        ack = self._message("auth-ack")
        self._send(requester, "auth-ack", ack)

    def forget(self, node: ClusterNode) -> None:
        self.blacklist[node.id] = self.engine.clock.time_ms() + 60_000
        self.del_node(node)

    def reset(self, hard: bool) -> None:
        """CLUSTER RESET: forget everything; HARD also takes a new name and zero epochs."""
        me = self.myself
        if not me.master:
            self.set_master_of(None)
        self.migrating.clear()
        self.importing.clear()
        for j in range(SLOTS):
            self.del_slot(j)
        for n in list(self.nodes.values()):
            if not n.myself:
                self.del_node(n)
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            me.config_epoch = 0
            self.set_my_id(new_node_id(self.rng))
        self.update_state()


def command_keys(spec: "CommandSpec", argv: list[bytes]) -> list[int]:
    """Key positions as getKeysFromCommand finds them: the key specs, except where Redis
    uses its own key finder and the answer differs (MIGRATE's empty key before KEYS)."""
    if spec.name == "MIGRATE":
        return _migrate_keys(argv)
    return spec.get_keys(argv)


def _migrate_keys(argv: list[bytes]) -> list[int]:
    """migrateGetKeys."""
    skip = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while i < len(argv):
        word = argv[i].lower()
        if word == b"keys":
            if argv[3]:
                return []
            return list(range(i + 1, len(argv)))
        i += skip.get(word, 0) + 1
    return [3] if len(argv) > 3 else []


class PlainError(ErrorReply):
    """A refusal of EXEC passed to the client as is, not as EXECABORT (cluster redirects)."""

    plain = True


def _exists(db: Any, key: bytes) -> bool:
    if key not in db.data:
        return False
    return not db.expired(key)


def _follow(st: ClusterState, master_id: str | None) -> None:
    """clusterSetMaster's replicationSetMaster, and the way back to a master."""
    from . import replication

    repl = replication.state(st.engine)
    if master_id is None:
        repl.unset_master()
        return
    master = st.nodes.get(master_id)
    if master is not None and master.ip:
        repl.set_master(master.ip, master.port, "cluster")


def state(engine: "Engine") -> ClusterState | None:
    return engine.extensions.get("cluster")


def attach(engine: "Engine") -> ClusterState | None:
    """Give an engine started with ``cluster-enabled yes`` its cluster state."""
    if not engine.config["cluster-enabled"]:
        return None
    st = ClusterState(engine)
    engine.extensions["cluster"] = st
    st.on_role_change = lambda master_id: _follow(st, master_id)
    engine.before_command.append(st.before_command)
    engine.cron_hooks.append(st.cron)
    st.update_state()
    return st


# ---------------------------------------------------------------------------------------------
# Building a cluster in one step (what redis-cli --cluster create leaves behind)

def create_slot_split(masters: int) -> list[tuple[int, int]]:
    """The slot ranges redis-cli --cluster create gives each master (single-precision floats,
    as redis-cli computes them)."""
    import struct

    def f32(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]

    def lround(x: float) -> int:
        return int(x + 0.5) if x >= 0 else -int(-x + 0.5)

    per = f32(SLOTS / masters)
    cursor = 0.0
    first = 0
    out = []
    for i in range(masters):
        last = lround(f32(f32(cursor + per) - 1))
        if last > SLOTS or i == masters - 1:
            last = SLOTS - 1
        if last < first:
            last = first
        out.append((first, last))
        first = last + 1
        cursor = f32(cursor + per)
    return out


def form_cluster(states: list[ClusterState], masters: int,
                 replica_of: dict[int, int] | None = None) -> None:
    """Make ``states`` one cluster: the first ``masters`` split the slots as redis-cli does,
    the others replicate ``replica_of[i]`` (index of a master); every node knows every other,
    config epochs are 1, 2, 3 ... in order, and the state is ok at once."""
    replica_of = replica_of or {}
    split = create_slot_split(masters)
    now = states[0].engine.clock.time_ms()
    total = len(states)
    for st in states:
        st.current_epoch = total
    for i, st in enumerate(states):
        st.myself.config_epoch = i + 1
        for j, other in enumerate(states):
            if other is st:
                continue
            me = other.myself
            st.add_node(ClusterNode(me.id, ip=me.ip, port=me.port, cport=me.cport,
                                    config_epoch=j + 1, link=True, pong_received=now,
                                    created=now))
    for st in states:
        for m in range(masters):
            owner = st.nodes[states[m].myself.id]
            a, b = split[m]
            for slot in range(a, b + 1):
                st.slots[slot] = owner
            owner.slots.update(range(a, b + 1))
            owner.frozen = None
    for i, master in replica_of.items():
        master_id = states[master].myself.id
        for st in states:
            node = st.nodes[states[i].myself.id]
            if node.myself:
                st.set_master_of(st.nodes[master_id])
            else:
                st.set_node_master(node, st.nodes[master_id])
    for st in states:
        st.force_ok()
