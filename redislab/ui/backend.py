"""What the REPL runs commands on: named clients of an in-process engine.

The REPL talks to this small interface only: run a command as a client (``execute``), see
what the call did (:class:`Outcome`), look at keys for completion (``key_names``,
``key_info``), read and move the clock (``now_ms``, ``advance``, ``tick``), and collect replies
that reach clients later (``take_deliveries``). The embedded backend is the one that can also
say what every command cost (the engine's per-call record), show events and move a manual
clock; a backend for a real server would answer the same calls with less detail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..engine import Blocked, CallRecord, Clock, Engine, Session
from ..engine import blocking, introspect
from ..engine.events import Event
from ..engine.commands.spec import CommandSpec
from ..engine.introspect import KeyInfo
from .clock import ReplClock

__all__ = ["Outcome", "Delivery", "Backend", "EmbeddedBackend", "NeedsEngine", "DEFAULT_CLIENT"]

DEFAULT_CLIENT = "default"
# Keys looked at before a command runs, so annotations can say what it is about to touch.
PROBE_KEYS = 16


@dataclass
class Outcome:
    """One command as the REPL saw it."""

    client: str
    argv: list[bytes]
    reply: Any
    record: CallRecord | None = None            # None when the command never ran (rejected)
    before: dict[bytes, KeyInfo | None] = field(default_factory=dict)  # keys before it ran
    after: dict[bytes, KeyInfo | None] = field(default_factory=dict)   # and after
    blocked: bool = False
    resp: int = 2
    queued: int = 0                            # commands waiting in the client's MULTI


@dataclass
class Delivery:
    """A reply or push that reached a client outside of its own command (unblocked, pub/sub)."""

    client: str
    value: Any
    kind: str  # "unblocked" or "push"
    resp: int = 2


class NeedsEngine(Exception):
    """Raised by a backend for what only the embedded engine can do (moving its clock ...)."""


class Backend(Protocol):
    """What the REPL, piped input and ``exec`` need from where commands run.

    :class:`EmbeddedBackend` answers everything; ``remote.RemoteBackend`` (a real server)
    has no clock to move and raises :class:`NeedsEngine` for ``advance`` and ``reset``.
    ``session(name)`` returns the client's state as the prompt reads it (``db.id``,
    ``multi``, ``blocked``, ``resp``, subscriptions).
    """

    kind: str
    recording: bool
    deliveries: deque[Delivery]

    def session(self, name: str) -> Any: ...
    def client_names(self) -> list[str]: ...
    def execute(self, argv: list[bytes], client: str = DEFAULT_CLIENT) -> Outcome: ...
    def run_batch(self, commands: list[list[bytes]], client: str = DEFAULT_CLIENT
                  ) -> list[Any]: ...
    def take_deliveries(self) -> list[Delivery]: ...
    def key_names(self, client: str, prefix: bytes = b"", limit: int = 200) -> list[bytes]: ...
    def key_info(self, client: str, key: bytes) -> KeyInfo | None: ...
    def key_count(self, client: str) -> int: ...
    def db_index(self, client: str) -> int: ...
    def config_names(self) -> list[str]: ...
    @property
    def clock(self) -> ReplClock | None: ...
    def now_ms(self) -> int: ...
    def advance(self, seconds: float) -> list[Event]: ...
    def tick(self) -> None: ...
    def stop_waiting(self, session: Any) -> None: ...
    def reset(self) -> None: ...
    def crash(self, kind: str) -> None: ...


class EmbeddedBackend:
    """Named client sessions on one in-process engine."""

    kind = "embedded"

    def __init__(self, engine: Engine, *, resp: int = 2, db: int = 0,
                 factory: Callable[[Clock], Engine] | None = None) -> None:
        self.engine = engine
        # Builds a fresh engine on the same clock for :reset (same configuration).
        self.factory = factory or (lambda clock: Engine(clock))
        self.resp = resp
        self.db = db
        self.sessions: dict[str, Session] = {}
        self.deliveries: deque[Delivery] = deque()
        self._recording = False
        self.session(DEFAULT_CLIENT)

    # ------------------------------------------------------------------------------------
    # Clients

    def session(self, name: str) -> Session:
        """The session of client ``name``, opened on first use."""
        s = self.sessions.get(name)
        if s is None or s.closed:
            s = self.engine.session("" if name == DEFAULT_CLIENT else name, resp=self.resp)
            if self.db:
                s.select(self.db)
            s.on_unblocked = lambda sess, reply, n=name: self._unblocked(n, sess, reply)
            s.on_push = lambda sess, n=name: self._pushed(n, sess)
            self.sessions[name] = s
        return s

    def client_names(self) -> list[str]:
        return [n for n, s in self.sessions.items() if not s.closed]

    def _unblocked(self, name: str, session: Session, reply: Any) -> None:
        self.deliveries.append(Delivery(name, reply, "unblocked", session.resp))

    def _pushed(self, name: str, session: Session) -> None:
        for msg in session.drain():
            self.deliveries.append(Delivery(name, msg, "push", session.resp))

    def take_deliveries(self) -> list[Delivery]:
        out = list(self.deliveries)
        self.deliveries.clear()
        return out

    # ------------------------------------------------------------------------------------
    # Recording what calls do

    @property
    def recording(self) -> bool:
        return self._recording

    @recording.setter
    def recording(self, on: bool) -> None:
        if on == self._recording:
            return
        self._recording = on
        self.engine.recording += 1 if on else -1
        self.engine.refresh_gate()

    # ------------------------------------------------------------------------------------
    # Running commands

    def execute(self, argv: list[bytes], client: str = DEFAULT_CLIENT) -> Outcome:
        """Run one command as ``client`` and collect what the REPL shows about it."""
        session = self.session(client)
        engine = self.engine
        clock = engine.clock
        if not getattr(clock, "manual", True):
            # Real time passed since the last command: let periodic work catch up first.
            engine.cron()
        spec = engine.table.get(argv[0].decode("utf-8", "replace")) if argv else None
        if spec is not None and spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].decode("utf-8", "replace").upper(), spec)
        before = self._probe(session, spec, argv) if self._recording else {}
        previous = session.last_record
        reply = session.execute_argv(argv)
        record = session.last_record if session.last_record is not previous else None
        after = self._probe(session, spec, argv) if self._recording else {}
        blocked = isinstance(reply, Blocked)
        self._pushed(client, session)
        queued = len(session.multi) if session.multi is not None else 0
        return Outcome(client, argv, reply, record, before, after, blocked, session.resp,
                       queued)

    def run_batch(self, commands: list[list[bytes]], client: str = DEFAULT_CLIENT
                  ) -> list[Any]:
        """Run many commands as ``client``, replies only: no records, probes or outcomes
        (bulk loading)."""
        session = self.session(client)
        run = session.execute_argv
        replies = [run(argv) for argv in commands]
        self._pushed(client, session)
        return replies

    def _probe(self, session: Session, spec: CommandSpec | None,
               argv: list[bytes]) -> dict[bytes, KeyInfo | None]:
        if spec is None or not spec.key_specs:
            return {}
        try:
            positions = spec.get_keys(argv)[:PROBE_KEYS]
        except Exception:
            return {}
        db = session.db
        return {argv[p]: introspect.key_info(db, argv[p]) for p in positions}

    # ------------------------------------------------------------------------------------
    # Looking without touching

    def key_names(self, client: str, prefix: bytes = b"", limit: int = 200) -> list[bytes]:
        return introspect.key_names(self.session(client).db, prefix, limit)

    def key_info(self, client: str, key: bytes) -> KeyInfo | None:
        return introspect.key_info(self.session(client).db, key)

    def key_count(self, client: str) -> int:
        return introspect.key_count(self.session(client).db)

    def db_index(self, client: str) -> int:
        return self.session(client).db.id

    # ------------------------------------------------------------------------------------
    # Time

    @property
    def clock(self) -> ReplClock | None:
        c = self.engine.clock
        return c if isinstance(c, ReplClock) else None

    def now_ms(self) -> int:
        return self.engine.clock.time_ms()

    def advance(self, seconds: float) -> list[Event]:
        """Move the clock forward, running the periodic work; returns the events it caused."""
        seen: list[Event] = []
        unsubscribe = self.engine.bus.subscribe(seen.append)
        try:
            self.engine.advance(seconds)
        finally:
            unsubscribe()
        return seen

    def tick(self) -> None:
        """Run the periodic work now (active expiry, blocked clients' timeouts)."""
        self.engine.cron()

    def stop_waiting(self, session: Session) -> None:
        """Release a blocked client as if its timeout had passed (CLIENT UNBLOCK)."""
        blocking.client_unblock(self.engine, session, with_error=False)

    def config_names(self) -> list[str]:
        return sorted(self.engine.config.params)

    def reset(self) -> None:
        """Forget all data and clients: a fresh engine with the same configuration."""
        old = self.engine
        recording = self._recording
        self.recording = False
        for s in list(self.sessions.values()):
            old.close_session(s)
        self.engine = self.factory(old.clock)
        self.sessions.clear()
        self.deliveries.clear()
        self.recording = recording
        self.session(DEFAULT_CLIENT)

    def crash(self, kind: str) -> None:
        """Kill the engine without warning (``power`` or ``process``) and restart it from its
        files, as ``Engine.crash`` does; every client was disconnected."""
        old = self.engine
        recording = self._recording
        self.recording = False
        self.engine = old.crash(kind)
        self.sessions.clear()
        self.deliveries.clear()
        self.recording = recording
        self.session(DEFAULT_CLIENT)

