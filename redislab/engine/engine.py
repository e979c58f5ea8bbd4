"""The engine: databases, configuration, clock, statistics, events and periodic work.

One ``Engine`` is one Redis server. Front ends open a :class:`~redislab.engine.session.Session`
per client and call ``session.execute(...)``; nothing here knows about terminals or sockets.
A re-entrant lock makes one command run at a time, as Redis's single thread does, so threads
(the in-process redis-py client, a lock-renewal thread in a lesson) can share an engine.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from . import blocking
from .clock import Clock, ManualClock, SystemClock
from .config import Config
from .events import EventBus
from .keyspace import Database, unwatch_all

if TYPE_CHECKING:
    from .session import Session

VERSION = "7.0.15"

# Active expiry (expire.c): keys sampled per loop, and the stale share that makes it loop again.
EXPIRE_KEYS_PER_LOOP = 20
EXPIRE_ACCEPTABLE_STALE = 10
# Bound on work per cron call; stands in for Redis's 25% CPU budget so runs are repeatable.
EXPIRE_MAX_LOOPS_PER_CALL = 400
LRU_CLOCK_MAX = (1 << 24) - 1
# Distinct error codes INFO errorstats keeps; later new codes are not tracked, as in Redis.
ERROR_STATS_MAX = 128


@dataclass
class Stats:
    """Counters behind INFO stats (server.stat_* in Redis)."""

    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    expired_keys: int = 0
    expired_stale_perc: float = 0.0
    expired_time_cap_reached_count: int = 0
    evicted_keys: int = 0
    evicted_clients: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    pubsub_channels: int = 0
    total_error_replies: int = 0
    unexpected_error_replies: int = 0
    total_reads_processed: int = 0
    total_writes_processed: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error_reply(self, message: str) -> None:
        """Count an error reply, in total and by its code (INFO errorstats)."""
        self.total_error_replies += 1
        code = message.split(" ", 1)[0]
        errors = self.errors
        if code in errors:
            errors[code] += 1
        elif len(errors) < ERROR_STATS_MAX:
            errors[code] = 1

    def reset(self) -> None:
        fresh = Stats()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))


class Engine:
    """A Redis 7.0 server without the network.

    Args:
        clock: where time comes from; ``ManualClock()`` for lessons and tests.
        config: optional ``{"parameter": "value"}`` applied as if from redis.conf.
    """

    def __init__(self, clock: Clock | None = None, config: dict[str, str] | None = None) -> None:
        from .commands import TABLE  # binds handlers on first use

        self.clock: Clock = clock or SystemClock()
        self.lock = threading.RLock()
        self.table = TABLE
        self.config = Config()
        self.bus = EventBus()
        self.stats = Stats()
        self.run_id = os.urandom(20).hex()
        self.started_ms = self.clock.time_ms()
        self.started_mono = self.clock.monotonic()
        self.dirty = 0
        self.loading = False
        self.is_replica = False
        # Replication state (replication.py), created when the engine first takes part.
        self.replication: Any = None
        # True while replication rules (READONLY, NOREPLICAS ...) need the careful path.
        self.repl_gate = False
        # True while a replica applies its primary's stream.
        self.applying_master = False
        self.notify_mask = 0
        self.frozen_ms: int | None = None
        self.lru_clock = self._compute_lru_clock()
        # Blocking: (db, key) -> clients waiting, and databases with keys ready to serve them.
        self.blocking_keys: dict[tuple[int, bytes], list["Session"]] = {}
        self.ready_dbs: set[Database] = set()
        self.blocked_count = 0
        # CLIENT PAUSE: until when (engine ms; 0 = not paused) and whether reads wait too.
        self.pause_end_ms = 0
        self.pause_all = False
        self.monitors: list["Session"] = []
        self.sessions: dict[int, "Session"] = {}
        self._ids = itertools.count(1)
        # Per-command statistics indexed by CommandSpec.id (INFO commandstats).
        n = len(TABLE.all)
        self.cmd_calls = [0] * n
        self.cmd_usec = [0] * n
        self.cmd_rejected = [0] * n
        self.cmd_failed = [0] * n
        # Hooks other parts of the engine plug into.
        self.cron_hooks: list[Callable[[], None]] = []
        self.close_hooks: list[Callable[["Session"], None]] = []
        # Checks run before a command on the careful path (a busy script answering BUSY ...);
        # a hook returns an ErrorReply to refuse the command, or None.
        self.before_command: list[Callable[..., Any]] = []
        self.propagate_hooks: list[Callable[[int, list[bytes]], None]] = []
        self.notify_hook: Callable[[int, str, str, bytes], None] | None = None
        self.recording = 0
        # True when every command must take the careful path (maxmemory, propagation ...).
        self.gate = False
        # True while some ACL user could be refused a command (acl.py).
        self.acl_gate = False
        self.cron_last_ms = self.clock.time_ms()
        self.dbs = [Database(i, self) for i in range(self.config["databases"])]
        self.extensions: dict[str, Any] = {}
        from .slowlog import Slowlog

        self.slowlog = Slowlog(self)
        self.slowlog_us = self.config["slowlog-log-slower-than"]
        self.slowlog_ns = self.slowlog_us * 1000
        self.config.params["slowlog-log-slower-than"].on_change = self.slowlog.threshold_changed
        self.config.params["notify-keyspace-events"].on_change = self._notify_changed
        self.config.params["maxmemory"].on_change = lambda old, new: self.refresh_gate()
        self.config.params["hz"].on_change = self._hz_changed
        # A primary with min-replicas-to-write refuses writes even before any replica has
        # connected, so these two settings bring the replication state to life.
        for name in ("min-replicas-to-write", "min-replicas-max-lag"):
            self.config.params[name].on_change = self._min_replicas_changed
        # DEBUG SET-ACTIVE-EXPIRE 0 turns the background expiry cycle off.
        self.active_expire_enabled = True
        if config:
            for name, value in config.items():
                self.config.set(name, str(value), startup=True)
        self.refresh_gate()
        # The memory model and maxmemory (memory/, eviction.py).
        from .memory import attach as attach_memory

        attach_memory(self)
        # Cluster mode (cluster.py): slots, redirects and the bus, when cluster-enabled.
        from .cluster import attach as attach_cluster

        attach_cluster(self)
        if self.replication is None:
            self._min_replicas_changed(0, 0)
        # Last: loading the AOF or RDB file needs everything above.
        from .persistence import attach

        attach(self)

    # ----------------------------------------------------------------------------------------
    # Sessions

    def session(self, name: str = "", resp: int = 2) -> "Session":
        """Open a client session (one connection)."""
        from .session import Session

        s = Session(self, next(self._ids), name=name, resp=resp)
        self.sessions[s.id] = s
        self.stats.total_connections_received += 1
        opened = self.extensions.get("session_opened")
        if opened is not None:
            opened(s)  # e.g. ACL: a default user with a password starts logged out
        return s

    new_session = session

    def close_session(self, session: "Session") -> None:
        """A client went away: forget its blocking, watches and subscriptions."""
        with self.lock:
            blocking.forget(self, session)
            unwatch_all(session)
            if session in self.monitors:
                self.monitors.remove(session)
                self.refresh_gate()
            for hook in self.close_hooks:
                hook(session)
            self.sessions.pop(session.id, None)
            session.closed = True

    # ----------------------------------------------------------------------------------------
    # Time

    def now_ms(self) -> int:
        """Current time for command semantics; frozen while a script runs, as in Redis."""
        f = self.frozen_ms
        return f if f is not None else self.clock.time_ms()

    def _compute_lru_clock(self) -> int:
        return (self.clock.time_ms() // 1000) & LRU_CLOCK_MAX

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> None:
        """Move a manual clock forward and run the periodic work that time would have run."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock")
        total_ms = int(round(seconds * 1000)) + ms
        hz = max(1, self.config["hz"])
        step = max(1, 1000 // hz)
        # Fine-grained for short moves, coarser for long ones so an hour stays cheap.
        steps = total_ms // step
        if steps > 1000:
            step = total_ms // 1000
            steps = 1000
        with self.lock:
            for _ in range(steps):
                self.clock.advance(ms=step)
                self.cron()
            rest = total_ms - steps * step
            if rest:
                self.clock.advance(ms=rest)
                self.cron()

    # ----------------------------------------------------------------------------------------
    # Periodic work (serverCron)

    def cron(self) -> None:
        """Run periodic work: LRU clock, active expiry, then each hook (persistence ...)."""
        with self.lock:
            self.lru_clock = self._compute_lru_clock()
            self.cron_last_ms = self.clock.time_ms()
            self.active_expire_cycle()
            for hook in self.cron_hooks:
                hook()
            self.serve_timeouts()

    def active_expire_cycle(self) -> int:
        """7.0's slow cycle: sample 20 volatile keys per loop, loop while > 10% were stale."""
        if not self.active_expire_enabled or self.is_replica:
            # Replicas wait for their primary's DEL; only a primary expires actively.
            return 0
        expired_total = 0
        now = self.now_ms()
        for db in self.dbs:
            exp = db.expires
            if not exp:
                continue
            loops = 0
            while loops < EXPIRE_MAX_LOOPS_PER_CALL and exp:
                loops += 1
                n = len(exp)
                if db.expire_cursor >= n:
                    db.expire_cursor = 0
                start = db.expire_cursor
                sample = list(itertools.islice(exp.items(), start,
                                               start + EXPIRE_KEYS_PER_LOOP))
                if len(sample) < EXPIRE_KEYS_PER_LOOP and n > len(sample):
                    sample += list(itertools.islice(exp.items(),
                                                    EXPIRE_KEYS_PER_LOOP - len(sample)))
                expired = 0
                for key, when in sample:
                    if now > when and key in db.data:
                        db.delete_expired(key, "active")
                        expired += 1
                db.expire_cursor = start + len(sample) - expired
                expired_total += expired
                if not sample or expired * 100 <= len(sample) * EXPIRE_ACCEPTABLE_STALE:
                    break
        return expired_total

    # ----------------------------------------------------------------------------------------
    # Blocking (see blocking.py)

    def serve_ready(self) -> None:
        """Serve clients blocked on keys that the last command made ready."""
        blocking.serve_ready(self)

    def serve_timeouts(self) -> None:
        blocking.serve_timeouts(self)

    # ----------------------------------------------------------------------------------------
    # Propagation and notifications

    def propagate(self, db: int, argv: list[bytes]) -> None:
        for hook in self.propagate_hooks:
            hook(db, argv)

    def propagate_expire(self, db: Database, key: bytes) -> None:
        if self.propagate_hooks:
            # propagateDeletion: UNLINK when expired keys are freed lazily.
            lazy = self.config["lazyfree-lazy-expire"]
            self.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])

    def notify(self, db: int, cls: str, event: str, key: bytes) -> None:
        hook = self.notify_hook
        if hook is not None:
            hook(db, cls, event, key)

    def _notify_changed(self, old: str, new: str) -> None:
        from .notify import KEYEVENT, KEYSPACE, parse_notify_flags, render_notify_flags
        from .pubsub import hub

        flags = parse_notify_flags(new)
        # CONFIG GET shows the normalised form, as Redis does ("KEA" reads back as "AKE").
        self.config.values["notify-keyspace-events"] = render_notify_flags(flags)
        # Without K or E nothing is ever delivered, so the hot path need not call notify.
        self.notify_mask = flags if flags & (KEYSPACE | KEYEVENT) else 0
        if self.notify_mask:
            hub(self)

    def _min_replicas_changed(self, old: int, new: int) -> None:
        if self.config["min-replicas-to-write"] and self.config["min-replicas-max-lag"]:
            from .replication import state

            state(self).refresh_gate()

    def _hz_changed(self, old: int, new: int) -> None:
        # Redis keeps the configured frequency within 1..500 and reports the clamped value.
        self.config.values["hz"] = min(max(new, 1), 500)

    def refresh_gate(self) -> None:
        """Recompute whether commands must take the careful dispatch path."""
        self.gate = bool(self.recording or self.config["maxmemory"] or self.propagate_hooks
                         or self.extensions.get("gate") or self.monitors or self.pause_end_ms
                         or self.acl_gate or self.repl_gate or self.config["cluster-enabled"])

    # ----------------------------------------------------------------------------------------
    # Persistence (see persistence/__init__.py)

    @classmethod
    def from_dir(cls, path: str, clock: Clock | None = None,
                 config: dict[str, str] | None = None) -> "Engine":
        """An engine started on ``path`` as ``redis-server --dir path``: it loads the files."""
        from .persistence import from_dir

        return from_dir(path, clock=clock, config=config)

    def crash(self, kind: str = "power") -> "Engine":
        """Kill this engine without warning; returns the engine that restarts from its files.

        ``kind`` is ``"power"`` (only fsynced data survives) or ``"process"`` (kill -9).
        """
        from .persistence import crash

        return crash(self, kind)

    # ----------------------------------------------------------------------------------------
    # Convenience for tests and tools

    def db(self, index: int = 0) -> Database:
        return self.dbs[index]

    def flushall(self) -> None:
        for db in self.dbs:
            db.clear()

    def uptime_seconds(self) -> int:
        return int(self.clock.monotonic() - self.started_mono)
