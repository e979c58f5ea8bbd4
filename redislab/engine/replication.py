"""Replication as Redis 7.0 does it (replication.c): ids, offsets, backlog, PSYNC, acks.

One :class:`Replication` per engine that ever took part in replication; an engine that never
did has none, and its hot path is untouched. Both roles live here:

* **master**: every write Redis propagates is encoded as RESP (with a ``SELECT`` whenever
  the database changes), appended to the backlog and sent to each replica; the offset
  counts those bytes. ``PSYNC replid offset`` continues from the backlog (``+CONTINUE``) or
  starts a full sync (``+FULLRESYNC``: an RDB snapshot, after ``repl-diskless-sync-delay``
  when diskless). Replicas acknowledge with ``REPLCONF ACK`` every second; ``WAIT`` and
  ``min-replicas-to-write`` count those acknowledgements. Acknowledgement is asynchronous:
  the client's reply never waits for a replica.
* **FAILOVER**: writes pause until a replica has acknowledged the whole stream, then this
  server becomes that replica's replica with ``PSYNC ... FAILOVER``, which makes the
  replica a master continuing the same history.
* **replica**: the handshake (PING, REPLCONF listening-port and capa, PSYNC), loading the
  snapshot, then applying the stream through a client flagged ``master``, counting the
  processed offset, keeping its own backlog (so it can serve partial resyncs once promoted,
  with the old id as ``master_replid2``), and the ``repl-timeout`` checks. A replica never
  expires keys itself: it waits for its master's DEL.

The engine has no sockets: connections come from ``engine.extensions["net"]``, an object
with ``connect(host, port)`` returning a link (``send(payload, size)``, ``close()``,
``on_data``, ``on_close``) or the reason it failed. The simulated topology
(``redislab.sim.topology``) provides it. Without one, ``REPLICAOF host port`` behaves as on a
server that cannot reach the host: the role changes and the link stays down.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..protocol.reply import NO_REPLY, ErrorReply, Status
from ..protocol.resp import RequestParser
from . import blocking
from .events import Event

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

ZERO_ID = "0" * 40
NOREPLICAS = ErrorReply("NOREPLICAS Not enough good replicas to write.")
READONLY = ErrorReply("READONLY You can't write against a read only replica.")
MASTERDOWN = ErrorReply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is "
                        "set to 'no'.")
_GETACK = [b"REPLCONF", b"GETACK", b"*"]
# Pieces a snapshot is sent in (the replica's progress and keepalive come from them).
RDB_CHUNK = 64 * 1024
_PING = [b"PING"]

# Replica link states (server.repl_state) and how ROLE names them.
NONE, CONNECT, CONNECTING, HANDSHAKE, RECEIVE_PSYNC, TRANSFER, CONNECTED = (
    "none", "connect", "connecting", "handshake", "receive_psync", "transfer", "connected")
_ROLE_STATE = {NONE: "none", CONNECT: "connect", CONNECTING: "connecting",
               HANDSHAKE: "handshake", RECEIVE_PSYNC: "handshake", TRANSFER: "sync",
               CONNECTED: "connected"}


@dataclass(slots=True)
class ReplicationEvent(Event):
    """A replication step: ``what`` is e.g. ``full-sync``, ``partial-sync``, ``link-down``."""

    what: str
    detail: str = ""
    kind = "replication"

    def describe(self) -> str:
        return f"{self.what} {self.detail}".strip()


def command_bytes(argv: list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def reply_size(value: Any) -> int:
    from ..protocol.resp import encode

    try:
        return len(encode(value))
    except TypeError:
        return 0


class ReplicaLink:
    """The master's view of one replica (a client with the replica flag)."""

    def __init__(self, session: "Session", link: Any, now_ms: int) -> None:
        self.session = session
        self.link = link
        self.ip = session.addr.rsplit(":", 1)[0] if ":" in session.addr else "127.0.0.1"
        self.port = int(session.extra.get("listening_port", 0))
        self.state = "wait_bgsave"
        self.ack_off = 0
        self.ack_time_ms = now_ms
        self.since_ms = now_ms
        self.psync_initial = 0


class Backlog:
    """repl_backlog: the last ``size`` bytes of the stream and where they start."""

    def __init__(self, size: int, offset: int) -> None:
        self.size = size
        self.buf = bytearray()
        self.first = offset + 1  # offset of buf[0] (repl_backlog_first_byte_offset)

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        extra = len(buf) - self.size
        if extra > 0:
            del buf[:extra]
            self.first += extra

    def resize(self, size: int) -> None:
        self.size = size
        self.feed(b"")

    @property
    def histlen(self) -> int:
        return len(self.buf)

    def since(self, offset: int) -> bytes | None:
        """Bytes from ``offset`` on, or None when the backlog no longer holds them."""
        end = self.first + len(self.buf)
        if offset < self.first or offset > end:
            return None
        return bytes(self.buf[offset - self.first:])


class Replication:
    """Replication state of one engine (both roles)."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        seed = engine.extensions.get("seed")
        self.rng = random.Random(seed if seed is not None else random.getrandbits(64))
        self.replid = self.new_id()
        self.replid2 = ZERO_ID
        self.offset = 0               # master_repl_offset
        self.second_offset = -1       # second_repl_offset
        self.backlog: Backlog | None = None
        self.seldb = -1               # the db the stream last selected
        self.replicas: list[ReplicaLink] = []
        self.good_replicas = 0
        self.no_replicas_since_ms = engine.clock.time_ms()
        self.cron_loops = 0
        self.last_repl_cron_ms = 0
        self.waiting: list["Session"] = []
        self.want_acks = False
        # FAILOVER (coordinated): no-failover, waiting-for-sync, failover-in-progress.
        self.failover_state = "no-failover"
        self.failover_target: tuple[str, int] | None = None
        self.failover_end_ms = 0
        self.failover_force = False
        # Replica side.
        self.master_host: str | None = None
        self.master_port = 0
        self.state = NONE
        self.link: Any = None
        self.link_reason = ""
        self.master_session: "Session | None" = None
        self.master_db = 0            # the db the master client had selected (kept for PSYNC)
        self.reploff = 0              # processed offset of the stream from the master
        self.read_reploff = 0
        self.have_master = False      # a master client exists (or is cached)
        self.last_io_ms = 0
        self.transfer_start_ms = 0
        self.down_since_ms = 0
        self.parser: RequestParser | None = None
        self.handshake_pending = 0
        self.transfer_size = -1
        self.transfer_read = 0
        self.transfer_buf: list[bytes] = []
        self.log: list[str] = []
        self._sent_replconf = False
        self.pending_replid = ZERO_ID
        self.pending_offset = 0
        engine.replication = self
        engine.cron_hooks.append(self.cron)
        engine.before_command.append(self.before_command)
        engine.close_hooks.append(self.client_closed)
        ext = engine.extensions
        ext["wait"] = self.wait
        self.stat_sync_full = 0
        self.stat_sync_partial_ok = 0
        self.stat_sync_partial_err = 0
        self.stat_repl_in = 0
        self.stat_repl_out = 0
        stats = ext.get("info.stats")
        ext["info.stats"] = self.info_stats if stats is None else (
            lambda: {**stats(), **self.info_stats()})
        params = engine.config.params
        params["repl-backlog-size"].on_change = self._backlog_size_changed
        for name in ("min-replicas-to-write", "min-replicas-max-lag"):
            params[name].on_change = lambda old, new: self.refresh_gate()

    # ----------------------------------------------------------------------------------------
    # Small helpers

    def new_id(self) -> str:
        return "%040x" % self.rng.getrandbits(160)

    def now(self) -> int:
        return self.engine.clock.time_ms()

    def note(self, what: str, detail: str = "") -> None:
        """Log a step (LOG lines, the topology's event list) and publish it on the bus."""
        self.log.append(f"{what}: {detail}" if detail else what)
        del self.log[:-200]
        bus = self.engine.bus
        if bus.active:
            bus.publish(ReplicationEvent(what, detail))
        listener = self.engine.extensions.get("repl_listener")
        if listener is not None:
            listener(what, detail)

    @property
    def is_replica(self) -> bool:
        return self.master_host is not None

    def refresh_gate(self) -> None:
        eng = self.engine
        cfg = eng.config
        # The hook stays once installed (it ignores writes while this is a replica): EXEC
        # swaps the hook list while it runs, and a role change inside MULTI (as Sentinel
        # sends it) must not lose it. The cron puts it back if it was added to that list.
        if self.feed_command not in eng.propagate_hooks and not any(
                s.in_exec for s in eng.sessions.values()):
            eng.propagate_hooks.append(self.feed_command)
        eng.repl_gate = bool(self.master_host is not None or (
            cfg["min-replicas-to-write"] and cfg["min-replicas-max-lag"]))
        eng.refresh_gate()

    def _backlog_size_changed(self, old: int, new: int) -> None:
        if self.backlog is not None:
            self.backlog.resize(new)

    def create_backlog(self) -> None:
        self.backlog = Backlog(self.engine.config["repl-backlog-size"], self.offset)

    # ----------------------------------------------------------------------------------------
    # Master side: feeding the stream

    def feed_command(self, db: int, argv: list[bytes]) -> None:
        """Propagation hook (replicationFeedSlaves): SELECT when the db changes, then argv."""
        if self.master_host is not None or self.backlog is None:
            return
        data = command_bytes(argv)
        if db != self.seldb and db >= 0:
            data = command_bytes([b"SELECT", b"%d" % db]) + data
            self.seldb = db
        self.feed_raw(data)

    def feed_raw(self, data: bytes) -> None:
        """Append to the backlog and send to every replica past the snapshot point."""
        if self.backlog is None:
            return
        self.offset += len(data)
        self.backlog.feed(data)
        for r in self.replicas:
            if r.state != "wait_bgsave":
                r.link.send(("stream", data), len(data))
                self.stat_repl_out += len(data)

    def feed_special(self, argv: list[bytes]) -> None:
        """PING and REPLCONF GETACK: no SELECT in front of them."""
        if self.backlog is not None and self.replicas:
            self.feed_raw(command_bytes(argv))

    # ----------------------------------------------------------------------------------------
    # Master side: commands from replicas

    def psync(self, c: "Session", argv: list[bytes]) -> Any:
        """syncCommand for PSYNC (and SYNC: ``argv`` of one element)."""
        link = c.extra.get("link")
        if link is None:
            raise ErrorReply("ERR PSYNC and SYNC need a replication link: replicas run in a "
                             "simulated topology (redislab.sim.Topology)")
        if c.kind == "replica":
            return NO_REPLY
        if len(argv) > 3 and argv[0].upper() == b"PSYNC" and argv[3].lower() == b"failover":
            # A primary hands its role over (FAILOVER): same history, so take it.
            if argv[1].decode("latin-1") != self.replid:
                raise ErrorReply("ERR PSYNC FAILOVER replid must match my replid.")
            self.unset_master()
            self.note("failover", f"failover request received for replid {self.replid2}")
        if self.failover_state != "no-failover":
            raise ErrorReply("NOMASTERLINK Can't SYNC while failing over")
        if self.master_host is not None and self.state != CONNECTED:
            raise ErrorReply("NOMASTERLINK Can't SYNC while not connected with my master")
        now = self.now()
        if len(argv) >= 3 and argv[0].upper() == b"PSYNC":
            replid = argv[1].decode("latin-1")
            try:
                wanted = int(argv[2])
            except ValueError:
                wanted = -1
            data = self._try_partial(replid, wanted)
            if data is not None:
                r = self._attach(c, link, now)
                r.state = "online"
                r.ack_off = wanted - 1
                link.send(("reply", Status("CONTINUE " + self.replid)), 0)
                if data:
                    link.send(("stream", data), len(data))
                    self.stat_repl_out += len(data)
                self.stat_sync_partial_ok += 1
                self.note("partial-sync", f"replica {r.ip}:{r.port} continues from offset "
                          f"{wanted} ({len(data)} bytes from the backlog)")
                self.refresh_good()
                return NO_REPLY
            if replid != "?":
                self.stat_sync_partial_err += 1
            self.note("full-sync-needed",
                      f"replica asked for {replid[:8]}.../{wanted}; this master has "
                      f"{self.replid[:8]}.../{self.offset}")
        r = self._attach(c, link, now)
        self.stat_sync_full += 1
        if len(self.replicas) == 1 and self.backlog is None:
            # The first replica of a master without a backlog starts a new history.
            self.replid = self.new_id()
            self.replid2 = ZERO_ID
            self.second_offset = -1
            self.create_backlog()
            self.refresh_gate()
        r.state = "wait_bgsave"
        if not self.engine.config["repl-diskless-sync"]:
            self.start_full_sync()
        return NO_REPLY

    def _try_partial(self, replid: str, wanted: int) -> bytes | None:
        """masterTryPartialResynchronization: the stream from ``wanted`` on, or None."""
        if self.backlog is None or wanted < 0:
            return None
        if replid != self.replid and not (replid == self.replid2
                                           and wanted <= self.second_offset):
            return None
        return self.backlog.since(wanted)

    def _attach(self, c: "Session", link: Any, now: int) -> ReplicaLink:
        r = ReplicaLink(c, link, now)
        c.kind = "replica"
        self.replicas.append(r)
        return r

    def start_full_sync(self) -> None:
        """startBgsaveForReplication: snapshot now, +FULLRESYNC and the RDB to the waiters."""
        from .persistence import rdb as rdbfmt

        waiting = [r for r in self.replicas if r.state == "wait_bgsave"]
        if not waiting:
            return
        image = rdbfmt.write_rdb(self.engine)
        # The stream after the snapshot starts with a SELECT (slaveseldb = -1).
        self.seldb = -1
        for r in waiting:
            r.state = "send_bulk"
            r.psync_initial = self.offset
            r.link.send(("reply", Status(f"FULLRESYNC {self.replid} {self.offset}")), 0)
            # In pieces, as it leaves the socket: the replica sees it arrive bit by bit.
            diskless = bool(self.engine.config["repl-diskless-sync"])
            for start in range(0, max(len(image), 1), RDB_CHUNK):
                piece = image[start:start + RDB_CHUNK]
                last = start + RDB_CHUNK >= len(image)
                r.link.send(("rdb", (piece, last, -1 if diskless else len(image))),
                            len(piece))
            self.stat_repl_out += len(image)
            self.note("full-sync", f"sent a {len(image)}-byte RDB snapshot to replica "
                      f"{r.ip}:{r.port} at offset {self.offset}")

    def replconf(self, c: "Session", argv: list[bytes]) -> Any:
        if len(argv) % 2 == 0:
            raise ErrorReply("ERR syntax error")
        for i in range(1, len(argv), 2):
            opt = argv[i].lower()
            val = argv[i + 1]
            if opt == b"listening-port":
                try:
                    c.extra["listening_port"] = int(val)
                except ValueError:
                    raise ErrorReply("ERR value is not an integer or out of range") from None
            elif opt in (b"ip-address", b"capa", b"rdb-only", b"rdb-filter-only"):
                c.extra["replconf_" + opt.decode()] = val
            elif opt == b"ack":
                # A replica acknowledges what it processed; never answered.
                r = self.replica_of(c)
                if r is None:
                    return NO_REPLY
                try:
                    off = int(val)
                except ValueError:
                    return NO_REPLY
                if off > r.ack_off:
                    r.ack_off = off
                r.ack_time_ms = self.now()
                if r.state == "send_bulk":
                    # Diskless: online at the first ack after loading (repl_put_online_on_ack).
                    r.state = "online"
                    self.note("replica-online", f"replica {r.ip}:{r.port} is online")
                    self.refresh_good()
                self.serve_waiting()
                return NO_REPLY
            elif opt == b"getack":
                if self.master_host is not None and self.link is not None:
                    self.send_ack()
                return NO_REPLY
            else:
                raise ErrorReply("ERR Unrecognized REPLCONF option: "
                                 + argv[i].decode("utf-8", "replace"))
        from ..protocol.reply import OK

        return OK

    def replica_of(self, c: "Session") -> ReplicaLink | None:
        for r in self.replicas:
            if r.session is c:
                return r
        return None

    def client_closed(self, c: "Session") -> None:
        if c in self.waiting:
            self.waiting.remove(c)
        r = self.replica_of(c)
        if r is not None:
            self.replicas.remove(r)
            self.note("replica-lost", f"connection with replica {r.ip}:{r.port} lost")
            if not self.replicas:
                self.no_replicas_since_ms = self.now()
            self.refresh_good()

    def refresh_good(self) -> None:
        """refreshGoodSlavesCount: online replicas whose last ack is recent enough."""
        max_lag = self.engine.config["min-replicas-max-lag"]
        now_s = self.now() // 1000
        self.good_replicas = sum(
            1 for r in self.replicas
            if r.state == "online" and now_s - r.ack_time_ms // 1000 <= max_lag)

    # ----------------------------------------------------------------------------------------
    # WAIT

    def count_acks(self, offset: int) -> int:
        return sum(1 for r in self.replicas if r.state == "online" and r.ack_off >= offset)

    def wait(self, c: "Session", numreplicas: int, timeout_ms: int) -> Any:
        woff = getattr(c, "woff", 0)
        acked = self.count_acks(woff)
        if acked >= numreplicas or c.multi is not None or c.in_exec or c.in_script:
            return acked
        from .session import Blocked

        deadline = self.now() + timeout_ms if timeout_ms else 0
        c.extra["wait"] = (woff, numreplicas)
        blocked = Blocked([], deadline, lambda: blocked,
                          lambda: self.count_acks(woff))
        self.waiting.append(c)
        # beforeSleep sends REPLCONF GETACK to every replica once per event loop.
        self.want_acks = True
        return blocked

    def serve_waiting(self) -> None:
        """processClientsWaitingReplicas: release WAITs now satisfied."""
        for c in list(self.waiting):
            if c.blocked is None or c.closed:
                self.waiting.remove(c)
                continue
            woff, numreplicas = c.extra.get("wait", (0, 0))
            acked = self.count_acks(woff)
            if acked >= numreplicas:
                self.waiting.remove(c)
                blocking.unblock(self.engine, c, acked, "served")

    def wait_timeouts(self) -> None:
        now = self.now()
        for c in list(self.waiting):
            b = c.blocked
            if b is None or c.closed:
                self.waiting.remove(c)
                continue
            if b.deadline_ms and b.deadline_ms <= now:
                self.waiting.remove(c)
                blocking.unblock(self.engine, c, b.on_timeout(), "timeout")

    def before_sleep(self) -> None:
        """What beforeSleep does for replication: GETACK for WAIT, then serve WAITs."""
        if self.failover_state == "waiting-for-sync":
            self.update_failover()
        if self.want_acks:
            self.want_acks = False
            self.feed_special(_GETACK)
        if self.waiting:
            self.serve_waiting()

    # ----------------------------------------------------------------------------------------
    # Refusing commands (processCommand)

    def before_command(self, c: "Session", spec: Any, argv: list[bytes]) -> ErrorReply | None:
        eng = self.engine
        if not eng.repl_gate:
            return None
        flags = spec.flags
        is_write = "write" in flags or (spec.name == "EXEC" and c.multi is not None and any(
            "write" in s.flags for s, _ in c.multi))
        if c.kind in ("master", "aof-loader"):
            return None
        cfg = eng.config
        if self.master_host is None:
            if is_write and cfg["min-replicas-to-write"] and cfg["min-replicas-max-lag"] \
                    and self.good_replicas < cfg["min-replicas-to-write"]:
                return NOREPLICAS
            return None
        if is_write and cfg["replica-read-only"]:
            return READONLY
        if self.state != CONNECTED and not cfg["replica-serve-stale-data"] \
                and "stale" not in flags:
            return MASTERDOWN
        return None

    # ----------------------------------------------------------------------------------------
    # FAILOVER: a coordinated hand-over to a replica

    def failover(self, target: tuple[str, int] | None, timeout_ms: int, force: bool) -> None:
        """failoverCommand after parsing: pause writes until a replica has everything."""
        from ..protocol.reply import ErrorReply as E

        if self.master_host is not None:
            raise E("ERR FAILOVER is not valid when server is a replica.")
        if not self.replicas:
            raise E("ERR FAILOVER requires connected replicas.")
        if self.failover_state != "no-failover":
            raise E("ERR FAILOVER already in progress.")
        if target is not None:
            r = next((r for r in self.replicas if (r.ip, r.port) == target), None)
            if r is None:
                raise E("ERR FAILOVER target HOST and PORT is not a replica.")
            if r.state != "online":
                raise E("ERR FAILOVER target replica is not online.")
        eng = self.engine
        self.failover_target = target
        self.failover_end_ms = self.now() + timeout_ms if timeout_ms else 0
        self.failover_force = force
        self.failover_state = "waiting-for-sync"
        where = f"{target[0]}:{target[1]}" if target else "any replica"
        self.note("failover", f"FAILOVER requested to {where}")
        # Writes wait (CLIENT PAUSE WRITE) until the hand-over is done or aborted.
        eng.pause_end_ms = 1 << 62
        eng.refresh_gate()

    def update_failover(self) -> None:
        """updateFailoverStatus: start the hand-over once the target has our offset."""
        now = self.now()
        if self.failover_end_ms and self.failover_end_ms <= now:
            if self.failover_force and self.failover_target is not None:
                self.note("failover", "FAILOVER time out exceeded, failing over")
                self._hand_over()
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        target = self.failover_target
        chosen = None
        for r in self.replicas:
            if (target is None or (r.ip, r.port) == target) and r.ack_off == self.offset:
                chosen = r
                break
        if chosen is not None:
            self.failover_target = (chosen.ip, chosen.port)
            self.note("failover", f"failover target {chosen.ip}:{chosen.port} is synced, "
                      "failing over")
            self._hand_over()

    def _hand_over(self) -> None:
        assert self.failover_target is not None
        self.failover_state = "failover-in-progress"
        host, port = self.failover_target
        self.set_master(host, port, "failover")

    def abort_failover(self, reason: str) -> None:
        if self.failover_state == "no-failover":
            return
        self.note("failover", f"FAILOVER aborted: {reason}")
        if self.failover_state == "failover-in-progress":
            self.failover_state = "no-failover"
            self.unset_master()
        self._clear_failover()

    def _clear_failover(self) -> None:
        from .blocking import release_postponed

        self.failover_state = "no-failover"
        self.failover_target = None
        self.failover_end_ms = 0
        self.failover_force = False
        eng = self.engine
        eng.pause_end_ms = 0
        eng.pause_all = False
        eng.refresh_gate()
        release_postponed(eng)

    # ----------------------------------------------------------------------------------------
    # Role changes (REPLICAOF)

    def set_master(self, host: str, port: int, who: str = "user request") -> None:
        """replicationSetMaster: become a replica of host:port and connect at once."""
        eng = self.engine
        was_master = self.master_host is None
        self.master_host = host
        self.master_port = port
        eng.is_replica = True
        # Clients blocked on keys would wait for writes that now come only from the master;
        # replicas of this server must resync with its new history.
        self._disconnect_blocked()
        self._disconnect_replicas()
        self._drop_link()
        self.refresh_gate()
        self.state = CONNECT
        self.down_since_ms = 0 if was_master else self.down_since_ms
        self.note("replicaof", f"REPLICAOF {host}:{port} enabled ({who})")
        self.connect()

    def unset_master(self) -> None:
        """replicationUnsetMaster: become a master; the history continues under a new id."""
        if self.master_host is None:
            return
        eng = self.engine
        host, port = self.master_host, self.master_port
        self._drop_link()
        self.master_host = None
        self.master_port = 0
        self.state = NONE
        eng.is_replica = False
        # shiftReplicationId: replicas of the old master may continue with us.
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.replid = self.new_id()
        self.seldb = -1
        self._disconnect_replicas()
        self.refresh_gate()
        self.note("master-mode", f"MASTER MODE enabled (was replica of {host}:{port}); new "
                  f"replication id {self.replid[:8]}..., continuing {self.replid2[:8]}... "
                  f"up to offset {self.offset}")

    def _disconnect_blocked(self) -> None:
        eng = self.engine
        for s in list(eng.sessions.values()):
            if s.blocked is not None and s.blocked.kind == "keys" and s.kind != "master":
                blocking.unblock(eng, s, ErrorReply(
                    "UNBLOCKED force unblock from blocking operation, instance state changed "
                    "(master -> replica?)"), "role-change")

    def _disconnect_replicas(self) -> None:
        for r in list(self.replicas):
            r.link.close()
            self.engine.close_session(r.session)
        self.replicas.clear()
        self.refresh_good()

    # ----------------------------------------------------------------------------------------
    # Replica side: the link with the master

    def connect(self) -> None:
        """connectWithMaster."""
        net = self.engine.extensions.get("net")
        if net is None:
            self.state = CONNECT
            self._link_down("no network: this engine runs alone, so the link with "
                            f"{self.master_host}:{self.master_port} cannot be established")
            return
        result = net.connect(self.master_host, self.master_port)
        if isinstance(result, str):
            self.state = CONNECT
            self._link_down(f"Error condition on socket for SYNC: {result} "
                            f"({self.master_host}:{self.master_port})")
            return
        link = result
        link.on_data = self.on_data
        link.on_close = self.on_link_closed
        self.link = link
        self.state = HANDSHAKE
        self.handshake_pending = 1
        self.transfer_start_ms = self.last_io_ms = self.now()
        self.note("connecting", f"connected to MASTER {self.master_host}:{self.master_port}; "
                  "handshake started")
        self._send(_PING)

    def _link_down(self, reason: str) -> None:
        if reason != self.link_reason:
            self.note("link-down", reason)
        self.link_reason = reason

    def _send(self, argv: list[bytes]) -> None:
        if self.link is not None:
            self.link.send(("cmd", argv), len(command_bytes(argv)))

    def _drop_link(self) -> None:
        link = self.link
        self.link = None
        if link is not None:
            link.on_data = None
            link.on_close = None
            link.close()
        self._close_master_session()
        if self.state == CONNECTED:
            self.down_since_ms = self.now()
        if self.state in (CONNECTED, TRANSFER, HANDSHAKE, RECEIVE_PSYNC, CONNECTING):
            self.state = CONNECT

    def _close_master_session(self) -> None:
        s = self.master_session
        if s is not None:
            # The cached master keeps its selected db: a partial resync continues in it.
            self.master_db = s.db.id
            self.engine.close_session(s)
            self.master_session = None

    def on_link_closed(self) -> None:
        self.link = None
        if self.state == CONNECTED:
            self.down_since_ms = self.now()
        self._close_master_session()
        if self.master_host is not None:
            self.state = CONNECT
            self._link_down(f"connection with master {self.master_host}:{self.master_port} "
                            "lost")

    def on_data(self, payload: tuple[str, Any]) -> None:
        with self.engine.lock:
            self.last_io_ms = self.now()
            kind, value = payload
            if kind == "reply":
                self._handshake_reply(value)
            elif kind == "rdb":
                piece, last, total = value
                if self.state != TRANSFER:
                    return
                self.transfer_buf.append(piece)
                self.transfer_read += len(piece)
                self.transfer_size = total
                if last:
                    image = b"".join(self.transfer_buf)
                    self.transfer_buf = []
                    self._load_snapshot(image)
            elif kind == "stream":
                self._apply_stream(value)

    def _handshake_reply(self, value: Any) -> None:
        if self.state == HANDSHAKE:
            if isinstance(value, ErrorReply) and not value.message.startswith(
                    ("NOAUTH", "NOPERM", "ERR operation not permitted")):
                self._fail_handshake(f"Error reply to PING from master: '{value.message}'")
                return
            self.handshake_pending -= 1
            if self.handshake_pending == 0 and not self._sent_replconf:
                self._sent_replconf = True
                port = self.engine.config["port"]
                self._send([b"REPLCONF", b"listening-port", b"%d" % port])
                self._send([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
                self.handshake_pending = 2
            elif self.handshake_pending == 0:
                self._sent_replconf = False
                self.state = RECEIVE_PSYNC
                psync = [b"PSYNC", self.replid.encode(), b"%d" % (self.offset + 1)]
                if self.failover_state == "failover-in-progress":
                    psync.append(b"FAILOVER")
                self._send(psync)
            return
        if self.state == RECEIVE_PSYNC:
            if isinstance(value, ErrorReply):
                self._fail_handshake(f"Unexpected reply to PSYNC from master: "
                                     f"{value.message}")
                if self.failover_state == "failover-in-progress":
                    self.abort_failover("Failover target rejected psync request")
                return
            text = str(value)
            if self.failover_state == "failover-in-progress" and text.startswith(
                    ("FULLRESYNC", "CONTINUE")):
                self._clear_failover()
                self.note("failover", "failover to "
                          f"{self.master_host}:{self.master_port} complete")
            if text.startswith("FULLRESYNC"):
                parts = text.split()
                self.pending_replid = parts[1]
                self.pending_offset = int(parts[2])
                self.state = TRANSFER
                self.transfer_start_ms = self.now()
                self.transfer_buf = []
                self.transfer_read = 0
                self.transfer_size = -1
                self.note("full-sync", f"full resync from master: {parts[1][:8]}...:{parts[2]}")
            elif text.startswith("CONTINUE"):
                parts = text.split()
                new_id = parts[1] if len(parts) > 1 else self.replid
                if new_id != self.replid:
                    # The master's history continues ours under a new id; sub-replicas
                    # must reconnect to learn it.
                    self.replid2 = self.replid
                    self.second_offset = self.offset + 1
                    self.replid = new_id
                    self._disconnect_replicas()
                self.reploff = self.read_reploff = self.offset
                self._connected(self.master_db)
                self.note("partial-sync", f"partial resync accepted: continuing from offset "
                          f"{self.offset + 1}")
            else:
                self._fail_handshake(f"Unexpected reply to PSYNC from master: {text}")

    def _fail_handshake(self, reason: str) -> None:
        self._sent_replconf = False
        self._drop_link()
        self._link_down(reason)

    def _load_snapshot(self, image: bytes) -> None:
        """readSyncBulkPayload: replace the dataset with the master's snapshot."""
        from .persistence import rdb as rdbfmt
        from .persistence.manager import install

        eng = self.engine
        self.stat_repl_in += len(image)
        try:
            ds = rdbfmt.read_rdb(image, limits=rdbfmt.Limits.from_config(eng.config),
                                 now_ms=None, databases=len(eng.dbs))
        except rdbfmt.RDBError as e:
            self._fail_handshake(f"Failed trying to load the MASTER synchronization DB: {e}")
            return
        was_loading = eng.loading
        hooks = eng.propagate_hooks
        eng.loading = True
        try:
            install(eng, ds, flush=True)
        finally:
            eng.loading = was_loading
            eng.propagate_hooks = hooks
        self.replid = self.pending_replid
        self.replid2 = ZERO_ID
        self.second_offset = -1
        self.offset = self.reploff = self.read_reploff = self.pending_offset
        self.create_backlog()
        self._disconnect_replicas()
        self.note("sync-done", f"MASTER <-> REPLICA sync: loaded {ds.keys_loaded} keys "
                  f"({len(image)} bytes) at offset {self.offset}")
        self._connected(0)
        self.send_ack()

    def _connected(self, db: int) -> None:
        eng = self.engine
        s = eng.session(name="")
        s.db = eng.dbs[db]
        s.kind = "master"
        s.addr = f"{self.master_host}:{self.master_port}"
        self.master_session = s
        self.parser = RequestParser()
        self.state = CONNECTED
        self.down_since_ms = 0
        self.link_reason = ""
        self.have_master = True
        self.last_io_ms = self.now()
        self.refresh_gate()

    def _apply_stream(self, data: bytes) -> None:
        if self.state != CONNECTED or self.parser is None:
            return
        self.read_reploff += len(data)
        self.stat_repl_in += len(data)
        parser = self.parser
        parser.feed(data)
        s = self.master_session
        eng = self.engine
        while True:
            try:
                argv = parser.next_command()
            except Exception:
                self._fail_handshake("protocol error in the stream from the master")
                return
            if argv is None:
                break
            if not argv:
                continue
            raw = command_bytes(argv)
            name = argv[0].upper()
            if name == b"REPLCONF" and len(argv) > 1 and argv[1].upper() == b"GETACK":
                # replicationSendAck runs before this command's bytes are counted.
                self.send_ack()
            elif name != b"PING" and s is not None:
                eng.applying_master = True
                try:
                    s.execute_argv(argv)
                finally:
                    eng.applying_master = False
            self.reploff += len(raw)
            self.offset = self.reploff
            if self.backlog is not None:
                self.backlog.feed(raw)
            for r in self.replicas:
                if r.state != "wait_bgsave":
                    r.link.send(("stream", raw), len(raw))

    def send_ack(self) -> None:
        if self.link is not None and self.state == CONNECTED:
            self._send([b"REPLCONF", b"ACK", b"%d" % self.reploff])

    # ----------------------------------------------------------------------------------------
    # Periodic work

    def cron(self) -> None:
        """Each engine tick: pending full syncs, WAIT timeouts; once a second replicationCron."""
        now = self.now()
        cfg = self.engine.config
        if self.feed_command not in self.engine.propagate_hooks:
            self.refresh_gate()
        if any(r.state == "wait_bgsave" for r in self.replicas):
            delay = cfg["repl-diskless-sync-delay"] * 1000 if cfg["repl-diskless-sync"] else 0
            oldest = min(r.since_ms for r in self.replicas if r.state == "wait_bgsave")
            if now - oldest >= delay:
                self.start_full_sync()
        self.before_sleep()
        if self.waiting:
            self.wait_timeouts()
        if now - self.last_repl_cron_ms >= 1000:
            self.last_repl_cron_ms = now
            self.replication_cron()

    def replication_cron(self) -> None:
        now = self.now()
        cfg = self.engine.config
        timeout_ms = cfg["repl-timeout"] * 1000
        if self.master_host is not None:
            if self.state in (HANDSHAKE, RECEIVE_PSYNC, TRANSFER) and \
                    now - self.last_io_ms > timeout_ms:
                self._fail_handshake("Timeout connecting to the MASTER..." if self.state !=
                                     TRANSFER else "Timeout receiving bulk data from MASTER")
            elif self.state == CONNECTED and now - self.last_io_ms > timeout_ms:
                self._drop_link()
                self._link_down("MASTER timeout: no data nor PING received...")
            if self.state == CONNECT:
                self.connect()
            elif self.state == CONNECTED:
                self.send_ack()
        else:
            period = cfg["repl-ping-replica-period"]
            if period and self.cron_loops % period == 0 and self.replicas:
                self.feed_special(_PING)
        for r in self.replicas:
            if r.state == "wait_bgsave":
                # A newline keeps a replica waiting for its snapshot from timing out.
                r.link.send(("newline", None), 1)
        self.cron_loops += 1
        for r in list(self.replicas):
            if r.state == "online" and now - r.ack_time_ms > timeout_ms:
                self.note("replica-timeout", f"Disconnecting timedout replica "
                          f"{r.ip}:{r.port}")
                r.link.close()
                self.engine.close_session(r.session)
        if self.master_host is None and not self.replicas and self.backlog is not None:
            ttl = cfg["repl-backlog-ttl"]
            if ttl and now - self.no_replicas_since_ms > ttl * 1000:
                self.backlog = None
                self.replid = self.new_id()
                self.replid2 = ZERO_ID
                self.second_offset = -1
                self.note("backlog-freed", f"backlog freed after {ttl} seconds without "
                          "replicas")
                self.refresh_gate()
        self.refresh_good()

    # ----------------------------------------------------------------------------------------
    # Reports

    def info_stats(self) -> dict[str, Any]:
        return {"total_net_repl_input_bytes": self.stat_repl_in,
                "total_net_repl_output_bytes": self.stat_repl_out,
                "sync_full": self.stat_sync_full,
                "sync_partial_ok": self.stat_sync_partial_ok,
                "sync_partial_err": self.stat_sync_partial_err}

    def role(self) -> list[Any]:
        if self.master_host is None:
            return [b"master", self.offset,
                    [[r.ip.encode(), b"%d" % r.port, b"%d" % r.ack_off]
                     for r in self.replicas if r.state == "online"]]
        off = self.reploff if self.state == CONNECTED else -1
        return [b"slave", self.master_host.encode(), self.master_port,
                _ROLE_STATE[self.state].encode(), off]

    def info(self) -> list[tuple[str, Any]]:
        now = self.now()
        cfg = self.engine.config
        out: list[tuple[str, Any]] = []
        if self.master_host is None:
            out.append(("role", "master"))
        else:
            off = self.reploff
            read_off = self.read_reploff
            out += [
                ("role", "slave"),
                ("master_host", self.master_host),
                ("master_port", self.master_port),
                ("master_link_status", "up" if self.state == CONNECTED else "down"),
                ("master_last_io_seconds_ago",
                 (now - self.last_io_ms) // 1000 if self.state == CONNECTED else -1),
                ("master_sync_in_progress", 1 if self.state == TRANSFER else 0),
                ("slave_read_repl_offset", read_off),
                ("slave_repl_offset", off),
            ]
            if self.state == TRANSFER:
                out += [
                    # A diskless transfer's size is unknown until its end mark.
                    ("master_sync_total_bytes", self.transfer_size),
                    ("master_sync_read_bytes", self.transfer_read),
                    ("master_sync_left_bytes", self.transfer_size - self.transfer_read
                     if self.transfer_size >= 0 else -1),
                    ("master_sync_perc", "%.2f" % (
                        self.transfer_read * 100 / self.transfer_size
                        if self.transfer_size > 0 else 0.0)),
                    ("master_sync_last_io_seconds_ago", (now - self.last_io_ms) // 1000),
                ]
            if self.state != CONNECTED:
                out.append(("master_link_down_since_seconds",
                            (now - self.down_since_ms) // 1000 if self.down_since_ms else -1))
            out += [
                ("slave_priority", cfg["replica-priority"]),
                ("slave_read_only", 1 if cfg["replica-read-only"] else 0),
                ("replica_announced", 1 if cfg["replica-announced"] else 0),
            ]
        out.append(("connected_slaves", len(self.replicas)))
        if cfg["min-replicas-to-write"] and cfg["min-replicas-max-lag"]:
            out.append(("min_slaves_good_slaves", self.good_replicas))
        for i, r in enumerate(self.replicas):
            lag = (now // 1000 - r.ack_time_ms // 1000) if r.state == "online" else 0
            # While the first ack after the snapshot is awaited Redis still shows wait_bgsave.
            shown = "wait_bgsave" if r.state == "send_bulk" else r.state
            out.append((f"slave{i}", f"ip={r.ip},port={r.port},state={shown},"
                        f"offset={r.ack_off},lag={lag}"))
        b = self.backlog
        out += [
            ("master_failover_state", self.failover_state),
            ("master_replid", self.replid),
            ("master_replid2", self.replid2),
            ("master_repl_offset", self.offset),
            ("second_repl_offset", self.second_offset),
            ("repl_backlog_active", 1 if b is not None else 0),
            ("repl_backlog_size", cfg["repl-backlog-size"]),
            ("repl_backlog_first_byte_offset", b.first if b is not None else 0),
            ("repl_backlog_histlen", b.histlen if b is not None else 0),
        ]
        return out


def replconf_options(c: "Session", argv: list[bytes]) -> Any:
    """REPLCONF from a client of a server that never replicated: options are checked (a
    client typing them gets Redis's answers) and acknowledgements ignored."""
    from ..protocol.reply import OK

    if len(argv) % 2 == 0:
        raise ErrorReply("ERR syntax error")
    for i in range(1, len(argv), 2):
        opt = argv[i].lower()
        if opt in (b"ack", b"getack"):
            return NO_REPLY
        if opt == b"listening-port":
            try:
                int(argv[i + 1])
            except ValueError:
                raise ErrorReply("ERR value is not an integer or out of range") from None
        elif opt not in (b"ip-address", b"capa", b"rdb-only", b"rdb-filter-only"):
            raise ErrorReply("ERR Unrecognized REPLCONF option: "
                             + argv[i].decode("utf-8", "replace"))
    return OK


def state(engine: "Engine") -> Replication:
    """The engine's replication state, created on first use."""
    repl = engine.replication
    if repl is None:
        repl = Replication(engine)
    return repl
