"""A client session and command dispatch (server.c processCommand and call()).

``Session.execute("SET", "k", "v")`` runs one command and returns its reply value. The hot
path looks the command up, checks arity and calls the handler; everything that only some
commands or some states need (MULTI queueing, the pub/sub context, authentication, maxmemory,
propagation, the per-call record) lives on the careful path, entered only when a flag says so.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..protocol.reply import QUEUED, ErrorReply, Push
from . import blocking, errors
from .commands.spec import READY, CommandSpec
from .events import Event

if TYPE_CHECKING:
    from .engine import Engine
    from .keyspace import Database

_perf = time.perf_counter_ns
# One in this many calls of a "fast" command is timed (INFO commandstats extrapolates).
SAMPLE_EVERY = 8

# Commands a RESP2 client may send while subscribed.
_PUBSUB_ALLOWED = frozenset({"SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE",
                             "SSUBSCRIBE", "SUNSUBSCRIBE", "PING", "QUIT", "RESET"})
# Commands that run immediately even inside MULTI.
_MULTI_IMMEDIATE = frozenset({"EXEC", "DISCARD", "MULTI", "WATCH", "QUIT", "RESET"})
_NO_AUTH_NEEDED = frozenset({"AUTH", "HELLO", "QUIT", "RESET"})
# Commands MONITOR never shows: administrative ones and those that say so.
_NOT_MONITORED = frozenset({"admin", "skip-monitor"})


class Blocked:
    """Returned by a blocking command that cannot be served yet.

    The session stays blocked until a write to one of ``keys`` serves it or ``deadline_ms``
    passes (0 = wait forever). ``retry`` re-runs the command's logic; it returns the reply or
    another ``Blocked``. ``on_timeout`` gives the reply for a timeout.
    """

    __slots__ = ("keys", "deadline_ms", "retry", "on_timeout", "spec", "argv", "db", "kind")

    def __init__(self, keys: list[bytes], deadline_ms: int, retry: Callable[[], Any],
                 on_timeout: Callable[[], Any]) -> None:
        self.keys = keys
        self.deadline_ms = deadline_ms
        self.retry = retry
        self.on_timeout = on_timeout
        self.spec: CommandSpec | None = None
        self.argv: list[bytes] = []
        self.db = 0
        self.kind = "keys"   # or "postponed" (CLIENT PAUSE)

    def __repr__(self) -> str:
        return f"Blocked(keys={self.keys!r}, deadline_ms={self.deadline_ms})"


@dataclass(slots=True)
class CallRecord:
    """What one command did: the facts behind the REPL's annotation line."""

    spec: CommandSpec | None
    argv: list[bytes]
    db: int
    reply: Any = None
    duration_us: int = 0
    work: int = 0
    n: int | None = None
    m: int | None = None
    memory_before: int | None = None
    memory_after: int | None = None
    events: list[Event] = field(default_factory=list)
    inner: list["CallRecord"] = field(default_factory=list)
    dirty: int = 0

    @property
    def memory_delta(self) -> int | None:
        if self.memory_before is None or self.memory_after is None:
            return None
        return self.memory_after - self.memory_before


class Session:
    """One client: selected database, protocol version, transaction and subscription state."""

    def __init__(self, engine: "Engine", client_id: int, name: str = "", resp: int = 2) -> None:
        self.engine = engine
        self.id = client_id
        self.db: Database = engine.dbs[0]
        self.resp = resp
        self.name = name
        self.lib_name = ""
        self.lib_ver = ""
        self.user = "default"
        self.authenticated = True
        self.addr = "in-process"
        self.laddr = "in-process"
        self.kind = "normal"
        now = engine.clock.time_ms()
        self.created_ms = now
        self.last_ms = now
        # The last command's spec (CLIENT LIST's cmd=); storing the spec keeps the hot path
        # to one attribute write.
        self.last_spec: CommandSpec | None = None
        # Transactions (multi.c)
        self.multi: list[tuple[CommandSpec, list[bytes]]] | None = None
        self.multi_error = False
        self.dirty_cas = False
        self.watched: list[tuple["Database", bytes, bool]] = []
        # Pub/sub
        # Dicts used as ordered sets: unsubscribing from everything goes in subscription
        # order, as Redis walks its per-client pattern list.
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        self.outbox: deque[Push] = deque()
        self.on_push: Callable[["Session"], None] | None = None
        # Blocking
        self.blocked: Blocked | None = None
        self.on_unblocked: Callable[["Session", Any], None] | None = None
        self.pending_reply: Any = blocking.NOTHING
        # Scripting and transactions run commands with blocking turned off.
        self.no_block = False
        self.in_script = False
        self.in_exec = False
        self.closed = False
        self.close_after_reply = False
        self.reply_mode = "on"
        self.no_evict = False
        self.no_touch = False
        # Work done by the running command, counted by handlers (elements visited or moved).
        self.work = 0
        self.record: CallRecord | None = None
        self.last_record: CallRecord | None = None
        self.gate = False
        # Replication offset after this client's last write (what WAIT waits for).
        self.woff = 0
        self.extra: dict[str, Any] = {}
        # Bound once: acquire/release with try/finally is ~3x cheaper than ``with lock``.
        self._acquire = engine.lock.acquire
        self._release = engine.lock.release
        self._lookup = engine.table.lookup_cache.get
        self._countdown = 1

    # ----------------------------------------------------------------------------------------
    # Public API

    def execute(self, *args: bytes | str | int | float) -> Any:
        """Run one command given as separate arguments; returns its reply value."""
        return self.execute_argv([_to_bytes(a) for a in args])

    def execute_argv(self, argv: list[bytes]) -> Any:
        """Run one command given as a list of byte strings; the API every front end uses.

        Thread-safe: the engine lock makes commands atomic across threads. The common case
        (a known, non-blocking command in a session with nothing special going on) is handled
        inline here; everything else goes through :meth:`dispatch`.
        """
        self._acquire()
        try:
            eng = self.engine
            spec = self._lookup(argv[0]) if argv else None
            if spec is not None and spec.fast and not self.gate and not eng.gate:
                a = spec.arity
                if (len(argv) == a) if a > 0 else (len(argv) >= -a):
                    # Commands Redis flags "fast" (O(1), O(log N)) are timed one call in
                    # SAMPLE_EVERY and their time extrapolated; all others every time.
                    timed = True
                    if spec.sampled and eng.slowlog_ns:
                        n = self._countdown - 1
                        if n:
                            self._countdown = n
                            timed = False
                        else:
                            self._countdown = SAMPLE_EVERY
                    t0 = _perf() if timed else 0
                    try:
                        reply = spec.handler(self, argv)  # type: ignore[misc]
                    except ErrorReply as e:
                        eng.cmd_failed[spec.id] += 1
                        eng.stats.error_reply(e.message)
                        reply = e
                    except Exception as exc:  # a bug must not take the engine down
                        reply = self._internal_error(spec, exc)
                    self.last_spec = spec
                    eng.cmd_calls[spec.id] += 1
                    if timed:
                        d = _perf() - t0
                        eng.cmd_usec[spec.id] += (d * SAMPLE_EVERY if spec.sampled
                                                  and eng.slowlog_ns else d) // 1000
                        if d >= eng.slowlog_ns:
                            eng.slowlog.add(self, argv, spec.full_name, d // 1000)
                    if eng.ready_dbs:
                        eng.serve_ready()
                    return reply
            reply = self.dispatch(argv)
            if eng.ready_dbs:
                eng.serve_ready()
            return reply
        finally:
            self._release()

    @property
    def last_command(self) -> str:
        spec = self.last_spec
        return spec.full_name if spec is not None else ""

    def select(self, index: int) -> None:
        self.db = self.engine.dbs[index]

    def push(self, message: Push) -> None:
        """Queue an out-of-band message (pub/sub) and tell the front end."""
        self.outbox.append(message)
        cb = self.on_push
        if cb is not None:
            cb(self)

    def drain(self) -> list[Push]:
        out = list(self.outbox)
        self.outbox.clear()
        return out

    def refresh_gate(self) -> None:
        self.gate = bool(self.multi is not None or not self.authenticated
                         or (self.resp == 2 and (self.channels or self.patterns
                                                 or self.shard_channels))
                         or self.in_script)

    # ----------------------------------------------------------------------------------------
    # Dispatch

    def dispatch(self, argv: list[bytes]) -> Any:
        """Look up, check and run one command (processCommand). Caller holds the lock."""
        if not argv:
            return None
        eng = self.engine
        spec = self._lookup(argv[0])
        if spec is None:
            spec = eng.table.lookup(argv[0])
            if spec is None:
                return self._reject_unknown(argv)
        a = spec.arity
        if spec.fast and not (self.gate or eng.gate):
            if (len(argv) != a) if a > 0 else (len(argv) < -a):
                return self._reject(spec, errors.wrong_arity(spec.full_name))
            # Hot path: nothing in the session or engine state needs checking.
            t0 = _perf()
            try:
                reply = spec.handler(self, argv)  # type: ignore[misc]
            except ErrorReply as e:
                eng.cmd_failed[spec.id] += 1
                eng.stats.error_reply(e.message)
                reply = e
            except Exception as exc:  # a bug must not take the engine down
                reply = self._internal_error(spec, exc)
            i = spec.id
            d = _perf() - t0
            eng.cmd_calls[i] += 1
            eng.cmd_usec[i] += d // 1000
            if d >= eng.slowlog_ns:
                eng.slowlog.add(self, argv, spec.full_name, d // 1000)
            return reply
        if spec.subcommands:
            if len(argv) < 2:
                # Only a container with its own handler (COMMAND) runs without a subcommand.
                if spec.handler is None:
                    return self._reject(spec, errors.wrong_arity(spec.full_name))
            else:
                sub = spec.subcommands.get(argv[1].upper().decode("latin-1"))
                if sub is None:
                    eng.stats.error_reply("ERR")
                    if self.multi is not None:
                        self.multi_error = True
                    return errors.unknown_subcommand(argv[1], spec.name)
                spec = sub
                a = spec.arity
        if (len(argv) != a) if a > 0 else (len(argv) < -a):
            return self._reject(spec, errors.wrong_arity(spec.full_name))
        return self._dispatch_careful(spec, argv)

    def _reject_unknown(self, argv: list[bytes]) -> ErrorReply:
        if self.multi is not None:
            self.multi_error = True
        self.engine.stats.error_reply("ERR")
        return errors.unknown_command(argv[0], argv[1:])

    def _reject(self, spec: CommandSpec, err: ErrorReply) -> ErrorReply:
        """rejectCommand: count it, and poison an open transaction."""
        if self.multi is not None:
            self.multi_error = True
        self.engine.cmd_rejected[spec.id] += 1
        if spec.name == "EXEC":
            if getattr(err, "plain", False):
                # A cluster redirect drops the transaction and is passed on as it is.
                self._abort_exec(err)
                self.engine.stats.error_reply(err.message)
                return err
            self.engine.stats.error_reply("EXECABORT")
            return self._abort_exec(err)
        self.engine.stats.error_reply(err.message)
        return err

    def _abort_exec(self, err: ErrorReply) -> ErrorReply:
        """execCommandAbort: a refused EXEC ends the transaction (MULTI or not) and says why."""
        from .keyspace import unwatch_all

        self.multi = None
        self.multi_error = False
        self.dirty_cas = False
        unwatch_all(self)
        self.refresh_gate()
        reason = err.message[4:] if err.message.startswith("ERR ") else err.message
        return ErrorReply("EXECABORT Transaction discarded because of: " + reason)

    def _internal_error(self, spec: CommandSpec, exc: Exception) -> ErrorReply:
        self.engine.stats.unexpected_error_replies += 1
        self.engine.stats.error_reply("ERR")
        self.engine.cmd_failed[spec.id] += 1
        return ErrorReply(
            f"ERR internal error in '{spec.full_name}': {type(exc).__name__}: {exc}"
            .replace("\r", " ").replace("\n", " "))

    def _dispatch_careful(self, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Every rule processCommand applies before running a command."""
        eng = self.engine
        name = spec.name.split(" ", 1)[0]
        if spec.handler is None:
            return self._reject(spec, ErrorReply(
                f"ERR '{spec.full_name}' is not available in redislab"
                + (f": {spec.reason}" if spec.reason else "")))
        if not self.authenticated and name not in _NO_AUTH_NEEDED:
            return self._reject(spec, ErrorReply(errors.NOAUTH))
        if self.in_script:
            if "noscript" in spec.flags:
                return self._reject(spec, ErrorReply(
                    "ERR This Redis command is not allowed from script"))
        for hook in eng.before_command:
            refusal = hook(self, spec, argv)
            if refusal is not None:
                return self._reject(spec, refusal)
        gate = eng.extensions.get("before_command")
        if gate is not None:
            refusal = gate(self, spec, argv)
            if refusal is not None:
                return self._reject(spec, refusal)
        evict = eng.extensions.get("evict")
        if evict is not None:
            # maxmemory (eviction.py): evict, or refuse a command that may grow memory.
            refusal = evict(self, spec)
            if refusal is not None:
                return self._reject(spec, refusal)
        if self.resp == 2 and (self.channels or self.patterns or self.shard_channels) \
                and name not in _PUBSUB_ALLOWED:
            return self._reject(spec, ErrorReply(
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                "QUIT / RESET are allowed in this context" % spec.full_name))
        if eng.pause_end_ms and not self.in_script and not self.in_exec \
                and self._paused(spec):
            return self._block(spec, argv, self._postpone(spec, argv))
        if self.multi is not None and name not in _MULTI_IMMEDIATE:
            if "no-multi" in spec.flags:
                return self._reject(spec, ErrorReply(
                    "ERR Command not allowed inside a transaction"))
            self.multi.append((spec, argv))
            return QUEUED
        return self.run(spec, argv)

    def _paused(self, spec: CommandSpec) -> bool:
        """CLIENT PAUSE: does the pause in force hold this command back?"""
        eng = self.engine
        if eng.now_ms() >= eng.pause_end_ms:
            eng.pause_end_ms = 0
            eng.refresh_gate()
            return False
        if eng.pause_all:
            return True
        flags = spec.flags
        if "write" in flags or "may-replicate" in flags:
            return True
        if spec.name == "EXEC" and self.multi:
            return any("write" in s.flags or "may-replicate" in s.flags for s, _ in self.multi)
        return False

    def _postpone(self, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Hold the command until the pause ends, then run it (blockPostponeClient)."""
        def run_later() -> Any:
            return self._dispatch_careful(spec, argv)

        blocked = Blocked([], self.engine.pause_end_ms, lambda: blocked, run_later)
        blocked.kind = "postponed"
        return blocked

    def run(self, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Run a checked command (call()): stats, record, propagation, blocking."""
        eng = self.engine
        recording = eng.recording and not self.in_script and not self.in_exec
        rec = parent = None
        if recording or self.record is not None:
            rec = CallRecord(spec, argv, self.db.id)
            parent = self.record
            self.record = rec
            rec.memory_before = _memory(eng)
            sink = eng.bus.start_collect()
            # Events of the checks that ran before the call (keys evicted to make room).
            early = self.extra.pop("events_before", None)
            if early:
                sink.extend(early)
        self.work = 0
        dirty_before = eng.dirty
        t0 = _perf()
        try:
            reply = spec.handler(self, argv)  # type: ignore[misc]
        except ErrorReply as e:
            reply = e
        except Exception as exc:
            reply = self._internal_error(spec, exc)
        elapsed = (_perf() - t0) // 1000
        i = spec.id
        eng.cmd_calls[i] += 1
        eng.cmd_usec[i] += elapsed
        if isinstance(reply, ErrorReply):
            eng.cmd_failed[i] += 1
            eng.stats.error_reply(reply.message)
        if eng.monitors and not spec.flags & _NOT_MONITORED:
            feed_monitors(self, argv)
        if elapsed >= eng.slowlog_us and "skip-slowlog" not in spec.flags \
                and not self.in_script and type(reply) is not Blocked:
            eng.slowlog.add(self, argv, spec.full_name, elapsed)
        dirty = eng.dirty - dirty_before
        if dirty and eng.propagate_hooks and not self.in_script:
            self.propagate_call(spec, argv)
            repl = eng.replication
            if repl is not None:
                self.woff = repl.offset
        if type(reply) is Blocked:
            reply = self._block(spec, argv, reply)
        if rec is not None:
            eng.bus.stop_collect(sink)
            rec.events = sink
            rec.reply = reply
            rec.duration_us = elapsed
            rec.work = self.work
            rec.dirty = dirty
            rec.memory_after = _memory(eng)
            _derive_n(self, rec)
            self.record = parent
            if parent is not None:
                parent.inner.append(rec)
            else:
                self.last_record = rec
        self.last_spec = spec
        return reply

    def propagate_call(self, spec: CommandSpec, argv: list[bytes]) -> None:
        """Send the command (or what a handler rewrote it to) to the AOF and replicas."""
        rewritten = self.extra.pop("propagate", None)
        if rewritten is None:
            self.engine.propagate(self.db.id, argv)
        else:
            for cmd in rewritten:
                self.engine.propagate(self.db.id, cmd)

    def _block(self, spec: CommandSpec, argv: list[bytes], blocked: Blocked) -> Any:
        blocked.spec = spec
        blocked.argv = argv
        blocked.db = self.db.id
        return blocking.block(self.engine, self, blocked)


def feed_monitors(session: Session, argv: list[bytes]) -> None:
    """replicationFeedMonitors: one status line per command to every MONITOR client."""
    from ..protocol.reply import Status
    from .slowlog import redacted

    eng = session.engine
    us = eng.clock.time_us()
    who = "lua" if session.in_script else session.addr
    shown = redacted(argv)
    line = "%d.%06d [%d %s] %s" % (us // 1_000_000, us % 1_000_000, session.db.id, who,
                                   " ".join(_repr(a) for a in shown))
    for monitor in list(eng.monitors):
        if not monitor.closed:
            monitor.push(Status(line))  # type: ignore[arg-type]


def _repr(arg: bytes) -> str:
    """sdscatrepr: a quoted, escaped rendering of one argument."""
    out = ['"']
    for b in arg:
        ch = chr(b)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % b)
    out.append('"')
    return "".join(out)


def _to_bytes(a: bytes | str | int | float) -> bytes:
    if isinstance(a, bytes):
        return a
    if isinstance(a, str):
        return a.encode("utf-8", "surrogateescape")
    if isinstance(a, (bytearray, memoryview)):
        return bytes(a)
    if isinstance(a, bool):
        return b"1" if a else b"0"
    if isinstance(a, int):
        return b"%d" % a
    if isinstance(a, float):
        return repr(a).encode()
    raise TypeError(f"cannot send {type(a).__name__} as a command argument")


def _memory(engine: "Engine") -> int | None:
    mem = engine.extensions.get("used_memory")
    return mem() if mem is not None else None


def _derive_n(session: Session, rec: CallRecord) -> None:
    """Fill N and M for the complexity display from where the table says they come from."""
    spec = rec.spec
    if spec is None:
        return
    src = spec.cost.n_from
    try:
        if src == "db":
            rec.n = len(session.engine.dbs[rec.db].data)
        elif src in ("key", "keys"):
            positions = spec.get_keys(rec.argv)
            db = session.engine.dbs[rec.db]
            sizes = []
            for p in positions if src == "keys" else positions[:1]:
                v = db.data.get(rec.argv[p])
                sizes.append(_size(v))
            rec.n = sum(sizes) if sizes else 0
        elif src == "reply":
            rec.n = len(rec.reply) if isinstance(rec.reply, (list, bytes)) else None
        elif src in ("args", "pairs"):
            given = len(rec.argv) - len(spec.name.split()) - len(spec.get_keys(rec.argv))
            rec.n = max(0, given // 2 if src == "pairs" else given)
    except Exception:
        rec.n = None


def _size(value: Any) -> int:
    if value is None:
        return 0
    try:
        return len(value)
    except TypeError:
        return 1
