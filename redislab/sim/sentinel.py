"""Redis Sentinel (sentinel.c) on the simulated network: monitoring, agreement, failover.

A Sentinel is a node of a :class:`~redislab.sim.topology.Topology` whose engine runs in
sentinel mode: it answers only the commands Sentinel answers (``SENTINEL ...``, ``PING``,
``INFO``, ``ROLE``, pub/sub ...), and a :class:`Sentinel` object does the work every 100 ms of
simulated time, talking to the other nodes only through the network:

* it PINGs every instance each second and sends INFO every 10 s (every second to replicas
  of a master in trouble), discovering replicas from the master's INFO; it publishes a
  hello on ``__sentinel__:hello`` of each instance every 2 s and learns the other Sentinels
  (and newer configurations) from theirs;
* no valid PING reply for ``down-after-milliseconds`` makes an instance subjectively down
  (``+sdown``); a master is objectively down (``+odown``) when ``quorum`` Sentinels say so
  through ``SENTINEL IS-MASTER-DOWN-BY-ADDR``;
* a failover needs a leader: the Sentinel starts a new epoch and asks for votes; each
  Sentinel votes once per epoch, first come first served; the winner needs a majority of
  all Sentinels and at least ``quorum`` votes; without one the attempt is abandoned and
  retried after twice ``failover-timeout``;
* the leader picks the replica to promote (priority, then replication offset, then run id),
  sends it ``REPLICAOF NO ONE``, reconfigures the other replicas ``parallel-syncs`` at a
  time, and announces ``+switch-master``; the old master, when it comes back, is turned
  into a replica (``+convert-to-slave``).

Events (``+sdown``, ``+odown``, ``+try-failover``, ``+elected-leader``, ``+switch-master``
...) go to the topology's event list as Sentinel logs them. Randomness (the failover start
jitter) comes from the topology's seed, so a run is reproducible.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from ..engine import errors
from ..engine.events import Notice
from ..protocol.reply import OK, ErrorReply, Status

if TYPE_CHECKING:
    from .topology import Node, Topology

__all__ = ["Sentinel", "MasterState", "Instance", "forced_failover"]

PING_PERIOD = 1000
INFO_PERIOD = 10_000
PUBLISH_PERIOD = 2000
ASK_PERIOD = 1000
MAX_DESYNC = 1000
ELECTION_TIMEOUT = 10_000
SLAVE_RECONF_TIMEOUT = 10_000
DEFAULT_DOWN_AFTER = 30_000
DEFAULT_FAILOVER_TIMEOUT = 180_000
HELLO = b"__sentinel__:hello"
# SENTINEL DEBUG's parameters, in the order it lists them.
DEBUG_DEFAULTS = (("info-period", INFO_PERIOD), ("ping-period", PING_PERIOD),
                  ("ask-period", ASK_PERIOD), ("publish-period", PUBLISH_PERIOD),
                  ("default-down-after", DEFAULT_DOWN_AFTER),
                  ("default-failover-timeout", DEFAULT_FAILOVER_TIMEOUT),
                  ("tilt-trigger", 2000), ("tilt-period", 30_000),
                  ("slave-reconf-timeout", SLAVE_RECONF_TIMEOUT),
                  ("min-link-reconnect-period", 15_000),
                  ("election-timeout", ELECTION_TIMEOUT), ("script-max-runtime", 60_000),
                  ("script-retry-delay", 30_000))

# Failover states (SENTINEL_FAILOVER_STATE_*).
NO_FAILOVER, WAIT_START, SELECT_SLAVE, SEND_SLAVEOF_NOONE, WAIT_PROMOTION, RECONF_SLAVES, \
    UPDATE_CONFIG = range(7)
_STATE_NAMES = ("none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion",
                "reconf_slaves", "update_config")
_FLAG_ORDER = ("s_down", "o_down", "master", "slave", "sentinel", "disconnected",
               "master_down", "failover_in_progress", "promoted", "reconf_sent",
               "reconf_inprog", "reconf_done", "force_failover")


class _Client:
    """A client connection from a Sentinel to an instance: commands and FIFO replies."""

    def __init__(self, link: Any, on_push: Callable[[Any], None] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.link = link
        self.callbacks: deque[Callable[[Any], None] | None] = deque()
        self.on_push = on_push
        self.closed = False
        self._on_close = on_close
        link.on_data = self._data
        link.on_close = self._closed

    def send(self, *argv: bytes | str | int, callback: Callable[[Any], None] | None = None,
             expect_reply: bool = True) -> None:
        from ..engine.replication import command_bytes

        args = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        if expect_reply:
            self.callbacks.append(callback)
        self.link.send(("cmd", args), len(command_bytes(args)))

    def _data(self, payload: Any) -> None:
        kind, value = payload
        if kind == "push":
            if self.on_push is not None:
                self.on_push(value)
        elif kind == "reply":
            cb = self.callbacks.popleft() if self.callbacks else None
            if cb is not None:
                cb(value)

    def _closed(self) -> None:
        self.closed = True
        if self._on_close is not None:
            self._on_close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.link.on_data = None
            self.link.on_close = None
            self.link.close()


class Instance:
    """What a Sentinel knows of one master, replica or other Sentinel."""

    def __init__(self, kind: str, name: str, host: str, port: int, now: int,
                 master: "MasterState | None" = None) -> None:
        self.kind = kind
        self.name = name
        self.host = host
        self.port = port
        self.master = master
        self.run_id: str | None = None
        self.flags: set[str] = set()
        self.cmd: _Client | None = None
        self.pubsub: _Client | None = None
        self.act_ping_ms = 0
        self.last_ping_ms = 0
        self.last_pong_ms = now
        self.last_avail_ms = now
        self.last_pub_ms = 0
        self.info_refresh_ms = 0
        self.pending = 0
        self.role_reported = "slave" if kind == "slave" else "master"
        self.role_reported_ms = now
        self.s_down_since = 0
        self.o_down_since = 0
        self.down_after_ms = DEFAULT_DOWN_AFTER
        # From INFO, for replicas.
        self.master_link_down_ms = 0
        self.slave_master_host: str | None = None
        self.slave_master_port = 0
        self.slave_master_link_up = False
        self.slave_priority = 100
        self.repl_offset = 0
        self.slave_conf_change_ms = now
        self.replica_announced = True
        self.reconf_sent_ms = 0
        self.info_cache: bytes | None = None
        # For Sentinels: their vote, and their view of the master.
        self.leader: str | None = None
        self.leader_epoch = 0
        self.last_master_down_reply_ms = 0
        self.last_hello_ms = now

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def disconnected(self) -> bool:
        return self.cmd is None or self.cmd.closed or (
            self.kind != "sentinel" and (self.pubsub is None or self.pubsub.closed))

    def describe(self) -> str:
        """Sentinel's ``%@``: type, name, address (and the master for others)."""
        base = f"{self.kind} {self.name} {self.host} {self.port}"
        if self.master is not None:
            m = self.master
            base += f" @ {m.name} {m.host} {m.port}"
        return base


class MasterState(Instance):
    """A monitored master with its replicas, the other Sentinels and the failover state."""

    def __init__(self, name: str, host: str, port: int, quorum: int, now: int) -> None:
        super().__init__("master", name, host, port, now)
        self.quorum = quorum
        self.failover_timeout = DEFAULT_FAILOVER_TIMEOUT
        self.parallel_syncs = 1
        self.replicas: dict[str, Instance] = {}
        self.sentinels: dict[str, Instance] = {}
        self.config_epoch = 0
        self.failover_state = NO_FAILOVER
        self.failover_epoch = 0
        self.failover_start_ms = 0
        self.failover_state_change_ms = 0
        self.failover_delay_logged = 0
        self.promoted: Instance | None = None


class Sentinel:
    """One Sentinel process (its engine is ``node.engine``)."""

    def __init__(self, topology: "Topology", node: "Node") -> None:
        self.topology = topology
        self.node = node
        self.engine = node.engine
        self.myid = self.engine.run_id
        self.current_epoch = 0
        self.masters: dict[str, MasterState] = {}
        self.rng = random.Random(self.engine.extensions.get("seed", 0))
        eng = self.engine
        self.next_tick_ms = self.now() + self.rng.randrange(100)
        # SENTINEL DEBUG changes these; tilt, script and reconnect figures are shown but
        # this Sentinel has no TILT mode, scripts or link throttling to apply them to.
        self.timing: dict[str, int] = dict(DEBUG_DEFAULTS)
        self.config = {"resolve-hostnames": "no", "announce-hostnames": "no",
                       "announce-ip": "", "announce-port": "0", "sentinel-user": "",
                       "sentinel-pass": ""}
        self.simulate_failure: set[str] = set()
        eng.extensions["sentinel"] = self
        eng.before_command.insert(0, self._sentinel_commands_only)
        # Every command must pass the check above: keep the careful path on.
        eng.repl_gate = True
        eng.refresh_gate()

    # ----------------------------------------------------------------------------------------
    # Small helpers

    def now(self) -> int:
        return self.engine.clock.time_ms()

    def event(self, what: str, subject: Instance | None = None, extra: str = "") -> None:
        detail = subject.describe() if subject is not None else ""
        if extra:
            detail = f"{detail} {extra}".strip()
        self.topology._event(self.node.name, what, detail)
        bus = self.engine.bus
        if bus.active:
            bus.publish(Notice(f"{what} {detail}".strip()))

    def _sentinel_commands_only(self, c: Any, spec: Any, argv: list[bytes]) -> Any:
        flags = spec.flags
        if spec.name == "PUBLISH":
            # sentinelPublishCommand: other Sentinels send their hello here directly.
            if argv[1] != HELLO:
                return ErrorReply("ERR Only HELLO messages are accepted by Sentinel "
                                  "instances.")
            self._process_hello(argv[2].decode("utf-8", "replace"))
            return None
        if "sentinel" in flags or "only-sentinel" in flags:
            return None
        return errors.unknown_command(argv[0], argv[1:])

    def summary(self) -> str:
        parts = []
        for m in self.masters.values():
            state = ",".join(f for f in ("s_down", "o_down") if f in m.flags) or "ok"
            if m.failover_state != NO_FAILOVER:
                state += f",failover:{_STATE_NAMES[m.failover_state]}"
            parts.append(f"{m.name}@{m.port} {state} epoch {self.current_epoch}")
        return "; ".join(parts)

    # ----------------------------------------------------------------------------------------
    # Configuration

    def monitor(self, name: str, host: str, port: int, quorum: int) -> MasterState:
        m = MasterState(name, host, port, quorum, self.now())
        m.down_after_ms = self.timing["default-down-after"]
        m.failover_timeout = self.timing["default-failover-timeout"]
        self.masters[name] = m
        self.event("+monitor", m, f"quorum {quorum}")
        return m

    def add_sentinel(self, master: MasterState, host: str, port: int, run_id: str) -> Instance:
        # Sentinel names the other Sentinels by their run id.
        s = Instance("sentinel", run_id, host, port, self.now(), master)
        s.run_id = run_id
        s.down_after_ms = master.down_after_ms
        master.sentinels[run_id] = s
        return s

    def export(self) -> dict[str, Any]:
        """What Sentinel's configuration file would hold (it rewrites it as it learns)."""
        return {"myid": self.myid, "current_epoch": self.current_epoch, "masters": [
            {"name": m.name, "host": m.host, "port": m.port, "quorum": m.quorum,
             "down_after_ms": m.down_after_ms, "failover_timeout": m.failover_timeout,
             "parallel_syncs": m.parallel_syncs, "config_epoch": m.config_epoch,
             "leader": m.leader, "leader_epoch": m.leader_epoch,
             "replicas": [(r.host, r.port) for r in m.replicas.values()],
             "sentinels": [(x.host, x.port, x.run_id) for x in m.sentinels.values()]}
            for m in self.masters.values()]}

    def load(self, saved: dict[str, Any]) -> None:
        self.myid = saved["myid"]
        self.engine.run_id = self.myid
        self.current_epoch = saved["current_epoch"]
        now = self.now()
        for cfg in saved["masters"]:
            m = MasterState(cfg["name"], cfg["host"], cfg["port"], cfg["quorum"], now)
            m.down_after_ms = cfg["down_after_ms"]
            m.failover_timeout = cfg["failover_timeout"]
            m.parallel_syncs = cfg["parallel_syncs"]
            m.config_epoch = cfg["config_epoch"]
            m.leader, m.leader_epoch = cfg["leader"], cfg["leader_epoch"]
            self.masters[m.name] = m
            for host, port in cfg["replicas"]:
                r = Instance("slave", f"{host}:{port}", host, port, now, m)
                r.down_after_ms = m.down_after_ms
                m.replicas[r.name] = r
            for host, port, run_id in cfg["sentinels"]:
                self.add_sentinel(m, host, port, run_id)

    # ----------------------------------------------------------------------------------------
    # The timer (sentinelTimer)

    def schedule_next(self, now: int) -> None:
        """sentinelTimer sets server.hz to 10 + rand() % 10 each time it runs."""
        self.next_tick_ms = now + 1000 // (10 + self.rng.randrange(10))

    def tick(self) -> None:
        for m in list(self.masters.values()):
            if not self.node.alive:
                return
            self._handle(m)
            for r in list(m.replicas.values()):
                self._handle(r)
            for s in list(m.sentinels.values()):
                self._handle(s)
            if m.failover_state == UPDATE_CONFIG:
                self._switch_to_promoted(m)

    def _handle(self, ri: Instance) -> None:
        self._reconnect(ri)
        self._periodic_commands(ri)
        self._check_sdown(ri)
        if isinstance(ri, MasterState):
            self._check_odown(ri)
            if self._start_failover_if_needed(ri):
                self._ask_others(ri, forced=True)
            self._failover_state_machine(ri)
            self._ask_others(ri, forced=False)

    def _reconnect(self, ri: Instance) -> None:
        if not ri.disconnected:
            return
        net = self.engine.extensions.get("net")
        if net is None:
            return
        if ri.cmd is None or ri.cmd.closed:
            link = net.connect(ri.host, ri.port)
            if isinstance(link, str):
                return
            ri.cmd = _Client(link)
            ri.pending = 0
            ri.act_ping_ms = 0
            self._ping(ri)
        if ri.kind != "sentinel" and (ri.pubsub is None or ri.pubsub.closed):
            link = net.connect(ri.host, ri.port)
            if isinstance(link, str):
                return
            ri.pubsub = _Client(link, on_push=lambda msg, ri=ri: self._on_push(ri, msg))
            ri.pubsub.send(b"SUBSCRIBE", HELLO, expect_reply=False)

    def _periodic_commands(self, ri: Instance) -> None:
        if ri.cmd is None or ri.cmd.closed:
            return
        now = self.now()
        if ri.pending >= 100:
            return
        master = ri.master
        info_period = self.timing["info-period"]
        if ri.kind == "slave" and master is not None and (
                {"o_down", "failover_in_progress"} & master.flags or ri.master_link_down_ms):
            info_period = 1000
        ping_period = min(self.timing["ping-period"], ri.down_after_ms)
        if ri.kind != "sentinel" and (not ri.info_refresh_ms
                                      or now - ri.info_refresh_ms > info_period):
            ri.pending += 1
            ri.cmd.send(b"INFO", callback=lambda reply, ri=ri: self._on_info(ri, reply))
        if now - ri.last_pong_ms > ping_period and now - ri.last_ping_ms > ping_period // 2:
            self._ping(ri)
        if now - ri.last_pub_ms > self.timing["publish-period"]:
            self._send_hello(ri)

    def _ping(self, ri: Instance) -> None:
        if ri.cmd is None or ri.cmd.closed:
            return
        now = self.now()
        ri.pending += 1
        ri.last_ping_ms = now
        if not ri.act_ping_ms:
            ri.act_ping_ms = now
        ri.cmd.send(b"PING", callback=lambda reply, ri=ri: self._on_pong(ri, reply))

    def _on_pong(self, ri: Instance, reply: Any) -> None:
        ri.pending = max(0, ri.pending - 1)
        now = self.now()
        ok = reply == "PONG" or (isinstance(reply, ErrorReply) and reply.message.startswith(
            ("LOADING", "MASTERDOWN")))
        if ok:
            ri.last_avail_ms = now
            ri.act_ping_ms = 0
        ri.last_pong_ms = now

    def _send_hello(self, ri: Instance) -> None:
        m = ri.master if ri.master is not None else ri
        assert isinstance(m, MasterState)
        node = self.node
        # sentinelGetCurrentMasterAddress: during the reconfiguration the promoted replica.
        addr = self.master_addr(m.name.encode()) or [m.host.encode(), b"%d" % m.port]
        payload = (f"{node.host},{node.port},{self.myid},{self.current_epoch},{m.name},"
                   f"{addr[0].decode()},{addr[1].decode()},{m.config_epoch}")
        ri.last_pub_ms = self.now()
        ri.pending += 1

        def done(reply: Any) -> None:
            ri.pending = max(0, ri.pending - 1)

        assert ri.cmd is not None
        ri.cmd.send(b"PUBLISH", HELLO, payload, callback=done)

    # ----------------------------------------------------------------------------------------
    # INFO and hello (sentinelRefreshInstanceInfo, sentinelProcessHelloMessage)

    def _on_info(self, ri: Instance, reply: Any) -> None:
        ri.pending = max(0, ri.pending - 1)
        if not isinstance(reply, (bytes, bytearray)):
            return
        now = self.now()
        fields: dict[str, str] = {}
        slaves: list[tuple[str, int]] = []
        for line in bytes(reply).decode("utf-8", "replace").split("\r\n"):
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            fields[k] = v
            if k.startswith("slave") and k[5:].isdigit():
                parts = dict(p.split("=", 1) for p in v.split(",") if "=" in p)
                if "ip" in parts and "port" in parts:
                    slaves.append((parts["ip"], int(parts["port"])))
        ri.info_refresh_ms = now
        ri.info_cache = bytes(reply)
        run_id = fields.get("run_id")
        if run_id and ri.run_id != run_id:
            if ri.run_id is not None:
                self.event("+reboot", ri)
            ri.run_id = run_id
        role = fields.get("role")
        role = "slave" if role == "slave" else "master"
        if role != ri.role_reported:
            ri.role_reported = role
            ri.role_reported_ms = now
            if ri.kind == "slave":
                ri.slave_conf_change_ms = now
        if isinstance(ri, MasterState) and role == "master":
            for host, port in slaves:
                addr = f"{host}:{port}"
                if addr not in ri.replicas:
                    r = Instance("slave", addr, host, port, now, ri)
                    r.down_after_ms = ri.down_after_ms
                    ri.replicas[addr] = r
                    self.event("+slave", r)
        if role == "slave":
            host = fields.get("master_host")
            port = int(fields.get("master_port", "0") or 0)
            if host != ri.slave_master_host or port != ri.slave_master_port:
                ri.slave_master_host = host
                ri.slave_master_port = port
                ri.slave_conf_change_ms = now
            ri.slave_master_link_up = fields.get("master_link_status") == "up"
            down = int(fields.get("master_link_down_since_seconds", "0") or 0)
            ri.master_link_down_ms = max(0, down) * 1000 if not ri.slave_master_link_up else 0
            ri.slave_priority = int(fields.get("slave_priority", "100") or 100)
            ri.repl_offset = int(fields.get("slave_repl_offset", "0") or 0)
            ri.replica_announced = fields.get("replica_announced", "1") == "1"
        if ri.kind != "slave" or ri.master is None:
            return
        m = ri.master
        assert isinstance(m, MasterState)
        if role == "master":
            if "promoted" in ri.flags and "failover_in_progress" in m.flags \
                    and m.failover_state == WAIT_PROMOTION:
                m.config_epoch = m.failover_epoch
                m.failover_state = RECONF_SLAVES
                m.failover_state_change_ms = now
                self.event("+promoted-slave", ri)
                self.event("+failover-state-reconf-slaves", m)
                for other in m.replicas.values():
                    other.last_pub_ms = 0
                m.last_pub_ms = 0
            elif "promoted" not in ri.flags:
                wait = self.timing["publish-period"] * 4
                if self._master_looks_sane(m) and self._no_down_for(ri, wait) \
                        and now - ri.role_reported_ms > wait:
                    if self._send_replicaof(ri, m.host, m.port):
                        self.event("+convert-to-slave", ri)
            return
        # A replica of the wrong master is pointed back (after failover-timeout).
        if (ri.slave_master_host != m.host or ri.slave_master_port != m.port) \
                and "failover_in_progress" not in m.flags:
            wait = m.failover_timeout
            if self._master_looks_sane(m) and self._no_down_for(ri, wait) \
                    and now - ri.slave_conf_change_ms > wait:
                if self._send_replicaof(ri, m.host, m.port):
                    self.event("+fix-slave-config", ri)
        # Progress of the replicas being reconfigured during a failover.
        promoted = m.promoted
        if promoted is not None and "reconf_sent" in ri.flags \
                and ri.slave_master_host == promoted.host \
                and ri.slave_master_port == promoted.port:
            ri.flags.discard("reconf_sent")
            ri.flags.add("reconf_inprog")
            self.event("+slave-reconf-inprog", ri)
        if "reconf_inprog" in ri.flags and ri.slave_master_link_up:
            ri.flags.discard("reconf_inprog")
            ri.flags.add("reconf_done")
            self.event("+slave-reconf-done", ri)

    def _master_looks_sane(self, m: MasterState) -> bool:
        return (m.role_reported == "master" and not ({"s_down", "o_down"} & m.flags)
                and self.now() - m.info_refresh_ms < self.timing["info-period"] * 2)

    def _no_down_for(self, ri: Instance, ms: int) -> bool:
        recent = max(ri.s_down_since, ri.o_down_since)
        return recent == 0 or self.now() - recent > ms

    def _on_push(self, ri: Instance, msg: Any) -> None:
        if not isinstance(msg, list) or len(msg) < 3 or msg[0] != b"message":
            return
        self._process_hello(bytes(msg[2]).decode("utf-8", "replace"))

    def _process_hello(self, text: str) -> None:
        parts = text.split(",")
        if len(parts) != 8:
            return
        ip, port, run_id, epoch, name, mip, mport, mepoch = parts
        if run_id == self.myid:
            return
        m = self.masters.get(name)
        if m is None:
            return
        now = self.now()
        s = m.sentinels.get(run_id)
        if s is None:
            # A Sentinel with the same address but a new run id replaced an old one.
            for rid, other in list(m.sentinels.items()):
                if other.host == ip and other.port == int(port):
                    self._drop(other)
                    del m.sentinels[rid]
            s = self.add_sentinel(m, ip, int(port), run_id)
            self.event("+sentinel", s)
        s.last_hello_ms = now
        if int(epoch) > self.current_epoch:
            self.current_epoch = int(epoch)
            self.event("+new-epoch", None, str(self.current_epoch))
        if int(mepoch) > m.config_epoch:
            m.config_epoch = int(mepoch)
            if mip != m.host or int(mport) != m.port:
                self.event("+config-update-from", s)
                old = (m.host, m.port)
                self.event("+switch-master", None,
                           f"{m.name} {old[0]} {old[1]} {mip} {mport}")
                self._reset_master_and_change_address(m, mip, int(mport))

    # ----------------------------------------------------------------------------------------
    # Down detection

    def _check_sdown(self, ri: Instance) -> None:
        now = self.now()
        if ri.act_ping_ms:
            elapsed = now - ri.act_ping_ms
        elif ri.disconnected:
            elapsed = now - ri.last_avail_ms
        else:
            elapsed = 0
        # A link that stopped answering for half the period is dropped and retried.
        if ri.cmd is not None and not ri.cmd.closed and ri.act_ping_ms \
                and now - ri.act_ping_ms > ri.down_after_ms // 2 \
                and now - ri.last_pong_ms > ri.down_after_ms // 2:
            self._drop(ri)
        reported_slave = (isinstance(ri, MasterState) and ri.role_reported == "slave"
                          and now - ri.role_reported_ms
                          > ri.down_after_ms + self.timing["info-period"] * 2)
        if elapsed > ri.down_after_ms or reported_slave:
            if "s_down" not in ri.flags:
                ri.flags.add("s_down")
                ri.s_down_since = now
                self.event("+sdown", ri)
        elif "s_down" in ri.flags:
            ri.flags.discard("s_down")
            self.event("-sdown", ri)

    def _drop(self, ri: Instance) -> None:
        for client in (ri.cmd, ri.pubsub):
            if client is not None:
                client.close()
        ri.cmd = ri.pubsub = None
        ri.pending = 0

    def _check_odown(self, m: MasterState) -> None:
        quorum = 0
        odown = False
        if "s_down" in m.flags:
            quorum = 1 + sum(1 for s in m.sentinels.values() if "master_down" in s.flags)
            odown = quorum >= m.quorum
        if odown:
            if "o_down" not in m.flags:
                m.flags.add("o_down")
                m.o_down_since = self.now()
                self.event("+odown", m, f"#quorum {quorum}/{m.quorum}")
        elif "o_down" in m.flags:
            m.flags.discard("o_down")
            self.event("-odown", m)

    def _ask_others(self, m: MasterState, forced: bool) -> None:
        now = self.now()
        for s in m.sentinels.values():
            elapsed = now - s.last_master_down_reply_ms
            if elapsed > self.timing["ask-period"] * 5:
                s.flags.discard("master_down")
                s.leader = None
            if "s_down" not in m.flags:
                continue
            if s.cmd is None or s.cmd.closed:
                continue
            if not forced and elapsed < self.timing["ask-period"]:
                continue
            runid = self.myid if m.failover_state > NO_FAILOVER else "*"
            s.pending += 1
            s.cmd.send(b"SENTINEL", b"is-master-down-by-addr", m.host, m.port,
                       self.current_epoch, runid,
                       callback=lambda reply, s=s: self._on_down_reply(s, reply))

    def _on_down_reply(self, s: Instance, reply: Any) -> None:
        s.pending = max(0, s.pending - 1)
        if not isinstance(reply, list) or len(reply) != 3:
            return
        now = self.now()
        s.last_master_down_reply_ms = now
        if reply[0] == 1:
            s.flags.add("master_down")
        else:
            s.flags.discard("master_down")
        leader = reply[1]
        if isinstance(leader, bytes) and leader != b"*":
            s.leader = leader.decode()
            s.leader_epoch = int(reply[2])

    def is_master_down_by_addr(self, host: str, port: int, req_epoch: int,
                               runid: str) -> list[Any]:
        """The reply to SENTINEL IS-MASTER-DOWN-BY-ADDR (and a vote when asked for one)."""
        m = next((x for x in self.masters.values() if x.host == host and x.port == port),
                 None)
        isdown = 1 if m is not None and "s_down" in m.flags else 0
        leader: str | None = None
        leader_epoch = 0
        if m is not None and runid != "*":
            leader, leader_epoch = self._vote(m, req_epoch, runid)
        return [isdown, (leader or "*").encode(), leader_epoch]

    def _vote(self, m: MasterState, req_epoch: int, runid: str) -> tuple[str | None, int]:
        """sentinelVoteLeader: one vote per epoch, for the first Sentinel that asks."""
        if req_epoch > self.current_epoch:
            self.current_epoch = req_epoch
            self.event("+new-epoch", None, str(req_epoch))
        if m.leader_epoch < req_epoch and self.current_epoch <= req_epoch:
            m.leader = runid
            m.leader_epoch = self.current_epoch
            self.event("+vote-for-leader", None, f"{runid} {m.leader_epoch}")
            if runid != self.myid:
                # Voting for another makes this Sentinel wait before trying itself.
                m.failover_start_ms = self.now() + self.rng.randrange(MAX_DESYNC)
        return m.leader, m.leader_epoch

    def _get_leader(self, m: MasterState, epoch: int) -> str | None:
        """sentinelGetLeader: the winner needs a majority of voters and the quorum."""
        counters: dict[str, int] = {}
        for s in m.sentinels.values():
            if s.leader is not None and s.leader_epoch == self.current_epoch:
                counters[s.leader] = counters.get(s.leader, 0) + 1
        voters = len(m.sentinels) + 1
        winner, max_votes = None, 0
        for candidate, votes in counters.items():
            if votes > max_votes:
                winner, max_votes = candidate, votes
        myvote, leader_epoch = self._vote(m, epoch, winner or self.myid)
        if myvote is not None and leader_epoch == epoch:
            counters[myvote] = counters.get(myvote, 0) + 1
            if counters[myvote] > max_votes:
                winner, max_votes = myvote, counters[myvote]
        if winner is not None and (max_votes < voters // 2 + 1 or max_votes < m.quorum):
            winner = None
        return winner

    # ----------------------------------------------------------------------------------------
    # Failover

    def _start_failover_if_needed(self, m: MasterState) -> bool:
        if "o_down" not in m.flags or "failover_in_progress" in m.flags:
            return False
        now = self.now()
        if now - m.failover_start_ms < m.failover_timeout * 2:
            if m.failover_delay_logged != m.failover_start_ms:
                m.failover_delay_logged = m.failover_start_ms
                # Sentinel logs this as a plain line, not as an event.
                self.event("next-failover-delay", m, "next attempt not before "
                           f"+{(m.failover_start_ms + m.failover_timeout * 2 - now) / 1000:g}s")
            return False
        self._start_failover(m)
        return True

    def _start_failover(self, m: MasterState) -> None:
        m.failover_state = WAIT_START
        m.flags.add("failover_in_progress")
        self.current_epoch += 1
        m.failover_epoch = self.current_epoch
        self.event("+new-epoch", None, str(self.current_epoch))
        self.event("+try-failover", m)
        m.failover_start_ms = self.now() + self.rng.randrange(MAX_DESYNC)
        m.failover_state_change_ms = self.now()

    def _abort_failover(self, m: MasterState) -> None:
        m.flags.discard("failover_in_progress")
        m.flags.discard("force_failover")
        m.failover_state = NO_FAILOVER
        m.failover_state_change_ms = self.now()
        if m.promoted is not None:
            m.promoted.flags.discard("promoted")
            m.promoted = None

    def _failover_state_machine(self, m: MasterState) -> None:
        if "failover_in_progress" not in m.flags:
            return
        state = m.failover_state
        now = self.now()
        if state == WAIT_START:
            leader = self._get_leader(m, m.failover_epoch)
            if leader != self.myid and "force_failover" not in m.flags:
                timeout = min(self.timing["election-timeout"], m.failover_timeout)
                if now - m.failover_start_ms > timeout:
                    self.event("-failover-abort-not-elected", m)
                    self._abort_failover(m)
                return
            self.event("+elected-leader", m)
            if "crash-after-election" in self.simulate_failure:
                self._crash("crash-after-election")
                return
            m.failover_state = SELECT_SLAVE
            m.failover_state_change_ms = now
            self.event("+failover-state-select-slave", m)
        elif state == SELECT_SLAVE:
            slave = self.select_slave(m)
            if slave is None:
                self.event("-failover-abort-no-good-slave", m)
                self._abort_failover(m)
                return
            self.event("+selected-slave", slave)
            slave.flags.add("promoted")
            m.promoted = slave
            m.failover_state = SEND_SLAVEOF_NOONE
            m.failover_state_change_ms = now
            self.event("+failover-state-send-slaveof-noone", slave)
        elif state == SEND_SLAVEOF_NOONE:
            slave = m.promoted
            assert slave is not None
            if slave.cmd is None or slave.cmd.closed:
                if now - m.failover_state_change_ms > m.failover_timeout:
                    self.event("-failover-abort-slave-timeout", m)
                    self._abort_failover(m)
                return
            self._send_replicaof(slave, None, 0)
            if "crash-after-promotion" in self.simulate_failure:
                self._crash("crash-after-promotion")
                return
            self.event("+failover-state-wait-promotion", slave)
            m.failover_state = WAIT_PROMOTION
            m.failover_state_change_ms = now
        elif state == WAIT_PROMOTION:
            if now - m.failover_state_change_ms > m.failover_timeout:
                self.event("-failover-abort-slave-timeout", m)
                self._abort_failover(m)
        elif state == RECONF_SLAVES:
            self._reconf_next_slave(m)

    def _crash(self, why: str) -> None:
        """SENTINEL SIMULATE-FAILURE: the process exits at this point of the failover."""
        self.event("simulated-crash", None, why)
        self.topology.kill(self.node.name)

    def select_slave(self, m: MasterState) -> Instance | None:
        """sentinelSelectSlave: priority, then replication offset, then run id."""
        now = self.now()
        max_down = (now - m.s_down_since if "s_down" in m.flags else 0) + m.down_after_ms * 10
        candidates = []
        for r in m.replicas.values():
            if {"s_down", "o_down"} & r.flags or r.disconnected:
                continue
            if now - r.last_avail_ms > self.timing["ping-period"] * 5:
                continue
            if r.slave_priority == 0:
                continue
            validity = (self.timing["ping-period"] * 5 if "s_down" in m.flags
                        else self.timing["info-period"] * 3)
            if now - r.info_refresh_ms > validity:
                continue
            if r.master_link_down_ms > max_down:
                continue
            candidates.append(r)
        if not candidates:
            return None
        candidates.sort(key=lambda r: (r.slave_priority, -r.repl_offset,
                                       r.run_id is None, r.run_id or ""))
        return candidates[0]

    def _send_replicaof(self, ri: Instance, host: str | None, port: int) -> bool:
        """sentinelSendSlaveOf: MULTI, REPLICAOF, CONFIG REWRITE, CLIENT KILL, EXEC."""
        if ri.cmd is None or ri.cmd.closed:
            return False
        cmd = ri.cmd
        args: tuple[Any, ...] = (b"NO", b"ONE") if host is None else (host, port)
        cmd.send(b"MULTI")
        cmd.send(b"SLAVEOF", *args)
        cmd.send(b"CONFIG", b"REWRITE")
        cmd.send(b"CLIENT", b"KILL", b"TYPE", b"normal")
        cmd.send(b"EXEC")
        return True

    def _reconf_next_slave(self, m: MasterState) -> None:
        now = self.now()
        in_progress = sum(1 for r in m.replicas.values()
                          if {"reconf_sent", "reconf_inprog"} & r.flags)
        promoted = m.promoted
        assert promoted is not None
        for r in m.replicas.values():
            if {"promoted", "reconf_done"} & r.flags:
                continue
            if "reconf_sent" in r.flags and \
                    now - r.reconf_sent_ms > self.timing["slave-reconf-timeout"]:
                self.event("-slave-reconf-sent-timeout", r)
                r.flags.discard("reconf_sent")
                r.flags.add("reconf_done")
            if {"reconf_sent", "reconf_inprog", "reconf_done"} & r.flags:
                continue
            if r.disconnected:
                continue
            if in_progress >= m.parallel_syncs:
                break
            if self._send_replicaof(r, promoted.host, promoted.port):
                r.flags.add("reconf_sent")
                r.reconf_sent_ms = now
                self.event("+slave-reconf-sent", r)
                in_progress += 1
        self._detect_end(m)

    def _detect_end(self, m: MasterState) -> None:
        promoted = m.promoted
        if promoted is None or "s_down" in promoted.flags:
            return
        now = self.now()
        not_done = sum(1 for r in m.replicas.values()
                       if not ({"promoted", "reconf_done", "s_down"} & r.flags))
        timeout = now - m.failover_state_change_ms > m.failover_timeout
        if timeout:
            not_done = 0
            self.event("+failover-end-for-timeout", m)
        if not_done == 0:
            self.event("+failover-end", m)
            m.failover_state = UPDATE_CONFIG
            m.failover_state_change_ms = now
        if timeout:
            for r in m.replicas.values():
                if {"promoted", "reconf_done", "reconf_sent"} & r.flags or r.disconnected:
                    continue
                if self._send_replicaof(r, promoted.host, promoted.port):
                    self.event("+slave-reconf-sent-be", r)
                    r.flags.add("reconf_sent")

    def _switch_to_promoted(self, m: MasterState) -> None:
        promoted = m.promoted
        assert promoted is not None
        self.event("+switch-master", None,
                   f"{m.name} {m.host} {m.port} {promoted.host} {promoted.port}")
        self._reset_master_and_change_address(m, promoted.host, promoted.port)

    def _reset_master_and_change_address(self, m: MasterState, host: str, port: int) -> None:
        """sentinelResetMasterAndChangeAddress: the old master becomes one of the replicas."""
        old = (m.host, m.port)
        addrs = [(r.host, r.port) for r in m.replicas.values()
                 if (r.host, r.port) != (host, port)]
        if old != (host, port):
            addrs.append(old)
        for r in m.replicas.values():
            self._drop(r)
        self._drop(m)
        now = self.now()
        m.replicas = {}
        m.host, m.port = host, port
        m.flags = set()
        m.failover_state = NO_FAILOVER
        m.promoted = None
        m.run_id = None
        m.act_ping_ms = 0
        m.last_avail_ms = m.last_pong_ms = now
        m.role_reported = "master"
        m.role_reported_ms = now
        m.info_refresh_ms = 0
        m.leader = None
        for h, p in addrs:
            r = Instance("slave", f"{h}:{p}", h, p, now, m)
            r.down_after_ms = m.down_after_ms
            m.replicas[r.name] = r
            self.event("+slave", r)
        for s in m.sentinels.values():
            s.flags.discard("master_down")
            s.leader = None

    # ----------------------------------------------------------------------------------------
    # Client-facing commands (used by redislab.engine.commands.sentinel)

    def master(self, name: bytes) -> MasterState:
        m = self.masters.get(name.decode("utf-8", "replace"))
        if m is None:
            raise ErrorReply("ERR No such master with that name")
        return m

    def role(self) -> list[Any]:
        return [b"sentinel", [n.encode() for n in self.masters]]

    def master_addr(self, name: bytes) -> list[bytes] | None:
        m = self.masters.get(name.decode("utf-8", "replace"))
        if m is None:
            return None
        if "failover_in_progress" in m.flags and m.promoted is not None \
                and m.failover_state >= RECONF_SLAVES:
            return [m.promoted.host.encode(), b"%d" % m.promoted.port]
        return [m.host.encode(), b"%d" % m.port]

    def instance_fields(self, ri: Instance) -> list[bytes]:
        """addReplySentinelRedisInstance: the flat field/value list."""
        now = self.now()
        flags = set(ri.flags)
        flags.add(ri.kind)
        if ri.disconnected:
            flags.add("disconnected")
        out: list[tuple[str, Any]] = [
            ("name", ri.name), ("ip", ri.host), ("port", ri.port),
            ("runid", ri.run_id or ""),
            ("flags", ",".join(f for f in _FLAG_ORDER if f in flags)),
            ("link-pending-commands", ri.pending),
            ("link-refcount", 1),
        ]
        if ri.act_ping_ms:
            out.append(("last-ping-sent", now - ri.act_ping_ms))
        else:
            out.append(("last-ping-sent", 0))
        out += [("last-ok-ping-reply", now - ri.last_avail_ms),
                ("last-ping-reply", now - ri.last_pong_ms)]
        if "s_down" in ri.flags:
            out.append(("s-down-time", now - ri.s_down_since))
        if "o_down" in ri.flags:
            out.append(("o-down-time", now - ri.o_down_since))
        out.append(("down-after-milliseconds", ri.down_after_ms))
        if ri.kind in ("master", "slave"):
            out += [("info-refresh", now - ri.info_refresh_ms if ri.info_refresh_ms else 0),
                    ("role-reported", ri.role_reported),
                    ("role-reported-time", now - ri.role_reported_ms)]
        if isinstance(ri, MasterState):
            out += [("config-epoch", ri.config_epoch), ("num-slaves", len(ri.replicas)),
                    ("num-other-sentinels", len(ri.sentinels)), ("quorum", ri.quorum),
                    ("failover-timeout", ri.failover_timeout),
                    ("parallel-syncs", ri.parallel_syncs)]
        if ri.kind == "slave":
            out += [("master-link-down-time", ri.master_link_down_ms),
                    ("master-link-status", "ok" if ri.slave_master_link_up else "err"),
                    ("master-host", ri.slave_master_host or "?"),
                    ("master-port", ri.slave_master_port),
                    ("slave-priority", ri.slave_priority),
                    ("slave-repl-offset", ri.repl_offset),
                    ("replica-announced", 1 if ri.replica_announced else 0)]
        if ri.kind == "sentinel":
            out += [("last-hello-message", now - ri.last_hello_ms),
                    ("voted-leader", ri.leader or "?"),
                    ("voted-leader-epoch", ri.leader_epoch)]
        flat: list[bytes] = []
        for k, v in out:
            flat.append(k.encode())
            flat.append(str(v).encode())
        return flat

    def ckquorum(self, m: MasterState) -> Any:
        now = self.now()
        usable = 1 + sum(1 for s in m.sentinels.values()
                         if not ({"s_down", "o_down"} & s.flags)
                         and now - s.last_avail_ms <= self.timing["ping-period"] * 5
                         and not s.disconnected)
        voters = len(m.sentinels) + 1
        problems = []
        if usable < m.quorum:
            problems.append(f"{usable} usable Sentinels. Not enough available Sentinels to "
                            "reach the specified quorum for this master")
        if usable < voters // 2 + 1:
            problems.append(f"{usable} usable Sentinels. Not enough available Sentinels to "
                            "reach the majority and authorize a failover")
        if problems:
            raise ErrorReply("NOQUORUM " + " ".join(problems))
        return Status(f"OK {usable} usable Sentinels. Quorum and failover authorization can "
                      "be reached")

    def force_failover(self, m: MasterState) -> Any:
        if "failover_in_progress" in m.flags:
            raise ErrorReply("INPROG Failover already in progress")
        if self.select_slave(m) is None:
            raise ErrorReply("NOGOODSLAVE No suitable replica to promote")
        self._start_failover(m)
        m.flags.add("force_failover")
        return OK

    def reset(self, pattern: bytes) -> int:
        from ..engine.glob import compile_glob

        match = compile_glob(pattern, False)
        n = 0
        for m in self.masters.values():
            if match(m.name.encode()):
                for r in m.replicas.values():
                    self._drop(r)
                for s in m.sentinels.values():
                    self._drop(s)
                m.replicas = {}
                m.sentinels = {}
                self._abort_failover(m)
                m.flags.discard("s_down")
                m.flags.discard("o_down")
                self.event("+reset-master", m)
                n += 1
        return n

    def info_cache(self, names: list[bytes]) -> list[Any]:
        now = self.now()
        out: list[Any] = []
        for raw in names:
            m = self.masters.get(raw.decode("utf-8", "replace"))
            if m is None:
                continue
            entries = []
            for ri in [m, *m.replicas.values()]:
                if ri.info_cache is not None:
                    entries.append([now - ri.info_refresh_ms, ri.info_cache])
                else:
                    entries.append(None)
            out += [m.name.encode(), entries]
        return out

    def info_fields(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [
            ("sentinel_masters", len(self.masters)), ("sentinel_tilt", 0),
            ("sentinel_tilt_since_seconds", -1), ("sentinel_running_scripts", 0),
            ("sentinel_scripts_queue_length", 0),
            ("sentinel_simulate_failure_flags",
             (1 if "crash-after-election" in self.simulate_failure else 0)
             | (2 if "crash-after-promotion" in self.simulate_failure else 0))]
        for i, m in enumerate(self.masters.values()):
            status = "odown" if "o_down" in m.flags else "sdown" if "s_down" in m.flags \
                else "ok"
            out.append((f"master{i}", f"name={m.name},status={status},address={m.host}:"
                        f"{m.port},slaves={len(m.replicas)},sentinels={len(m.sentinels) + 1}"))
        return out


def forced_failover(topology: "Topology", node: str | None = None) -> str:
    """``SENTINEL FAILOVER`` on the first live Sentinel, run until the switch; returns the
    promoted node's name. ``node`` (a replica) gets the lowest priority of all first."""
    sentinel = next((s for s in topology.sentinels.values()), None)
    if sentinel is None:
        raise ValueError("no live Sentinel")
    m = next(iter(sentinel.masters.values()))
    if node is not None:
        target = topology.node(node)
        for other in topology.data_nodes():
            if other != node and topology.nodes[other].alive and \
                    topology.role(other) == "slave":
                topology.call(other, "CONFIG", "SET", "replica-priority", "200")
        topology.call(target.name, "CONFIG", "SET", "replica-priority", "1")
        # Let the Sentinel see the new priorities before it chooses.
        topology.advance(1.5)
    try:
        sentinel.force_failover(m)
    except ErrorReply as e:
        raise ValueError(e.message) from None
    old = (m.host, m.port)
    for _ in range(600):
        topology.advance(0.1)
        if (m.host, m.port) != old:
            break
    promoted = topology.by_address(m.host, m.port)
    if promoted is None or (m.host, m.port) == old:
        raise ValueError("the failover did not complete")
    return promoted.name
