"""A simulated network between named nodes: connections, per-link delay, partitions.

Nothing here touches a socket. A :class:`Network` carries messages between named
endpoints on the shared manual clock, as TCP would between hosts:

* ``connect(src, dst)`` opens a :class:`Connection` to a node listening on ``dst``. It is
  refused at once when ``dst`` is down (the host answers with a reset) and fails when a
  partition separates the two (the handshake never gets through).
* Bytes sent on a connection arrive in order after the time it takes to send them at the
  link's bandwidth plus the link's one-way delay. While a
  partition cuts the link they are held back (TCP retransmits) and arrive after ``heal()``,
  unless one side gave up and closed the connection first.
* Closing a connection, or the death of a process, reaches the other side like any other
  segment: immediately across a healthy link, after the heal across a cut one.

The network only moves messages; what a message means is the business of the endpoints
(the replication link, a client, a Sentinel).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Network", "Connection", "Message"]

# Default one-way delay of a link, in milliseconds: a fast LAN.
DEFAULT_DELAY_MS = 1
# Default link speed, in megabits per second (1 Gbit/s): 125,000 bytes take a millisecond.
DEFAULT_BANDWIDTH_MBPS = 1000


@dataclass(order=True)
class Message:
    """One segment in flight: delivered to ``side`` of ``conn`` at ``at_ms``."""

    at_ms: int
    seq: int
    conn: "Connection" = field(compare=False)
    to_side: int = field(compare=False)  # 0 = the side that connected, 1 = the listener
    kind: str = field(compare=False)     # "data" or "close"
    payload: Any = field(compare=False, default=None)
    size: int = field(compare=False, default=0)


class Connection:
    """A TCP-like connection between ``nodes[0]`` (who connected) and ``nodes[1]``.

    Each side sets ``handlers[i] = (on_data, on_close)``; ``send(i, payload, size)`` sends
    from side ``i`` to the other side.
    """

    def __init__(self, net: "Network", cid: int, src: str, dst: str) -> None:
        self.net = net
        self.id = cid
        self.nodes = (src, dst)
        self.handlers: list[tuple[Callable[[Any], None], Callable[[], None]] | None] = [None,
                                                                                     None]
        self.open = [True, True]
        # Per direction: when the last segment was scheduled (keeps delivery in order) and
        # what is held back by a partition.
        self.last_at = [0, 0]
        self.held: list[list[tuple[str, Any, int]]] = [[], []]
        self.bytes_sent = [0, 0]

    def __repr__(self) -> str:
        return f"Connection({self.nodes[0]}->{self.nodes[1]} #{self.id})"

    @property
    def alive(self) -> bool:
        return self.open[0] and self.open[1]

    def peer(self, side: int) -> str:
        return self.nodes[1 - side]

    def send(self, side: int, payload: Any, size: int = 0) -> bool:
        """Send from ``side``; False if this side already closed the connection."""
        if not self.open[side]:
            return False
        self.bytes_sent[side] += size
        self.net._transmit(self, 1 - side, "data", payload, size)
        return True

    def close(self, side: int) -> None:
        """``side`` closes: the other side learns it as it would learn of a FIN."""
        if not self.open[side]:
            return
        self.open[side] = False
        self.handlers[side] = None
        if self.open[1 - side]:
            self.net._transmit(self, 1 - side, "close", None, 0)
        self.net._forget(self)


class Network:
    """Named nodes, their links and the messages in flight, on one clock."""

    def __init__(self, clock: Any, default_delay_ms: int = DEFAULT_DELAY_MS,
                 bandwidth_mbps: float = DEFAULT_BANDWIDTH_MBPS) -> None:
        if bandwidth_mbps <= 0:
            raise ValueError("bandwidth must be positive")
        self.clock = clock
        self.default_delay_ms = default_delay_ms
        self.default_bandwidth_mbps = bandwidth_mbps
        self.bandwidths: dict[frozenset[str], float] = {}
        self.listeners: dict[str, Callable[[Connection], None]] = {}
        self.up: set[str] = set()
        self.delays: dict[frozenset[str], int] = {}
        self.cut_pairs: set[frozenset[str]] = set()
        self.queue: list[Message] = []
        self.connections: dict[int, Connection] = {}
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self.delivered = 0
        # Connections both sides may have forgotten whose close is held back by a cut.
        self._closing: list[Connection] = []

    # ------------------------------------------------------------------------------------
    # Nodes

    def listen(self, name: str, on_accept: Callable[[Connection], None]) -> None:
        """``name`` is up and accepts connections (``on_accept`` sets its handlers)."""
        self.listeners[name] = on_accept
        self.up.add(name)

    def down(self, name: str, machine: bool = False) -> None:
        """The process on ``name`` died: its connections close as the kernel closes them.

        With ``machine`` the whole host went down: what it had sent but not yet delivered is
        lost too, and no one hears of the connections closing (peers find out by timeout).
        """
        self.up.discard(name)
        self.listeners.pop(name, None)
        if machine:
            self.queue = [m for m in self.queue if name not in m.conn.nodes]
            heapq.heapify(self.queue)
        for conn in list(self.connections.values()):
            for side in (0, 1):
                if conn.nodes[side] == name:
                    if machine:
                        conn.held[1 - side].clear()
                        conn.open[side] = False
                        conn.handlers[side] = None
                        self._forget(conn)
                    elif conn.open[side]:
                        conn.close(side)
        # Segments still travelling towards the dead process are lost with it.
        self.queue = [m for m in self.queue if m.conn.nodes[m.to_side] != name]
        heapq.heapify(self.queue)

    # ------------------------------------------------------------------------------------
    # Links

    def delay_ms(self, a: str, b: str) -> int:
        return self.delays.get(frozenset((a, b)), self.default_delay_ms)

    def bandwidth_mbps(self, a: str, b: str) -> float:
        return self.bandwidths.get(frozenset((a, b)), self.default_bandwidth_mbps)

    def set_bandwidth(self, a: str, b: str, mbps: float) -> None:
        if mbps <= 0:
            raise ValueError("bandwidth must be positive")
        self.bandwidths[frozenset((a, b))] = float(mbps)

    def set_delay(self, a: str, b: str, ms: int) -> None:
        if ms < 0:
            raise ValueError("a delay cannot be negative")
        self.delays[frozenset((a, b))] = int(ms)

    def reachable(self, a: str, b: str) -> bool:
        return a == b or frozenset((a, b)) not in self.cut_pairs

    def cut(self, a: str, b: str) -> None:
        if a != b:
            self.cut_pairs.add(frozenset((a, b)))

    def heal(self) -> None:
        """Remove every partition; what was held back goes out now, in order."""
        self.cut_pairs.clear()
        conns = list(self.connections.values())
        conns += [c for c in self._closing if c.id not in self.connections]
        for conn in conns:
            for to_side in (0, 1):
                held = conn.held[to_side]
                conn.held[to_side] = []
                for kind, payload, size in held:
                    self._schedule(conn, to_side, kind, payload, size)
        self._closing.clear()

    # ------------------------------------------------------------------------------------
    # Connections

    def connect(self, src: str, dst: str) -> Connection | str:
        """Open a connection; on failure returns why ("refused" or "timeout")."""
        if dst not in self.up or dst not in self.listeners:
            return "refused"
        if not self.reachable(src, dst) or src not in self.up:
            return "timeout"
        conn = Connection(self, next(self._ids), src, dst)
        self.connections[conn.id] = conn
        self.listeners[dst](conn)
        return conn

    def _forget(self, conn: Connection) -> None:
        if not conn.open[0] and not conn.open[1]:
            self.connections.pop(conn.id, None)

    def _transmit(self, conn: Connection, to_side: int, kind: str, payload: Any,
                  size: int) -> None:
        a, b = conn.nodes
        if not self.reachable(a, b):
            conn.held[to_side].append((kind, payload, size))
            if kind == "close" and conn not in self._closing:
                self._closing.append(conn)
            return
        self._schedule(conn, to_side, kind, payload, size)

    def _schedule(self, conn: Connection, to_side: int, kind: str, payload: Any,
                  size: int) -> None:
        a, b = conn.nodes
        # Sending takes size / bandwidth, and the last byte then travels the link's delay.
        send_ms = int(size * 8 / (self.bandwidth_mbps(a, b) * 1000))
        at = self.clock.time_ms() + send_ms + self.delay_ms(a, b)
        # A later segment never overtakes an earlier one on the same connection, and waits
        # for it to be sent.
        at = max(at, conn.last_at[to_side] + send_ms)
        conn.last_at[to_side] = at
        heapq.heappush(self.queue, Message(at, next(self._seq), conn, to_side, kind, payload,
                                           size))

    # ------------------------------------------------------------------------------------
    # Time

    def next_due(self) -> int | None:
        return self.queue[0].at_ms if self.queue else None

    def deliver_due(self, now_ms: int) -> int:
        """Hand every segment due by ``now_ms`` to its receiver; returns how many."""
        n = 0
        while self.queue and self.queue[0].at_ms <= now_ms:
            m = heapq.heappop(self.queue)
            conn = m.conn
            a, b = conn.nodes
            if not self.reachable(a, b):
                # Cut while in flight: retransmitted after the heal.
                conn.held[m.to_side].append((m.kind, m.payload, m.size))
                continue
            if not conn.open[m.to_side]:
                continue
            handlers = conn.handlers[m.to_side]
            n += 1
            self.delivered += 1
            if m.kind == "close":
                conn.open[m.to_side] = False
                conn.handlers[m.to_side] = None
                self._forget(conn)
                if handlers is not None:
                    handlers[1]()
            elif handlers is not None:
                handlers[0](m.payload)
        return n
