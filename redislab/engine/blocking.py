"""Blocked clients: parking, serving in Redis's order, timeouts and CLIENT UNBLOCK (blocked.c).

A blocking command that cannot be served returns a :class:`Blocked` marker. The session is
parked on each key it waits for, in arrival order. When a write makes a key ready
(``Database.signal_ready``), the engine re-runs the parked command for the clients waiting on
that key, first come first served, after the writing command finishes — exactly when Redis's
``handleClientsBlockedOnKeys`` runs. A served client's reply reaches its front end through
``session.on_unblocked`` (or ``session.pending_reply`` when nobody listens). Timeouts are
checked against the engine clock by ``Engine.cron``, so a manual clock drives them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..protocol.reply import ErrorReply
from .events import ClientBlocked, ClientUnblocked
from .structures.stream import Stream
from .values import ListValue, ZSetValue

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Blocked, Session

UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
DELETED_STREAM_ERROR = "UNBLOCKED the stream key no longer exists"


def block(engine: "Engine", session: "Session", blocked: "Blocked") -> Any:
    """Park ``session`` on ``blocked.keys``; returns the marker for the front end to wait on.

    Inside MULTI/EXEC or a script a blocking command must not block: it answers as if its
    timeout had passed at once.
    """
    if session.no_block or session.in_exec or session.in_script:
        return blocked.on_timeout()
    session.blocked = blocked
    session.pending_reply = _NOTHING
    for key in blocked.keys:
        waiters = engine.blocking_keys.setdefault((blocked.db, key), [])
        waiters.append(session)
    engine.blocked_count += 1
    if engine.bus.active:
        spec = blocked.spec
        engine.bus.publish(ClientBlocked(
            session.id, spec.full_name if spec else "", tuple(blocked.keys),
            None if not blocked.deadline_ms else blocked.deadline_ms - engine.now_ms()))
    return blocked


def _detach(engine: "Engine", session: "Session") -> None:
    blocked = session.blocked
    if blocked is None:
        return
    for key in blocked.keys:
        waiters = engine.blocking_keys.get((blocked.db, key))
        if waiters is not None:
            try:
                waiters.remove(session)
            except ValueError:
                pass
            if not waiters:
                del engine.blocking_keys[(blocked.db, key)]
    session.blocked = None
    engine.blocked_count -= 1


def unblock(engine: "Engine", session: "Session", reply: Any, reason: str) -> None:
    """Release a parked session with ``reply`` and tell its front end."""
    if session.blocked is None:
        return
    _detach(engine, session)
    if engine.bus.active:
        engine.bus.publish(ClientUnblocked(session.id, reason))
    deliver = session.on_unblocked
    if deliver is not None:
        deliver(session, reply)
    else:
        session.pending_reply = reply


def serve_ready(engine: "Engine") -> None:
    """Serve clients blocked on keys that writes made ready, in Redis's order."""
    while engine.ready_dbs:
        dbs = list(engine.ready_dbs)
        engine.ready_dbs.clear()
        for db in dbs:
            keys = list(db.ready)
            db.ready.clear()
            for key in keys:
                _serve_key(engine, db.id, key)


# The type of value each blocking command waits for: a ready key of another type serves
# nobody blocked by it (serveClientsBlockedOnListKey and friends skip other block types).
_WAITS_FOR = {"BLPOP": ListValue, "BRPOP": ListValue, "BLMOVE": ListValue,
              "BRPOPLPUSH": ListValue, "BLMPOP": ListValue, "BZPOPMIN": ZSetValue,
              "BZPOPMAX": ZSetValue, "BZMPOP": ZSetValue, "XREAD": Stream, "XREADGROUP": Stream}


def _serve_key(engine: "Engine", db_index: int, key: bytes) -> None:
    waiters = engine.blocking_keys.get((db_index, key))
    if not waiters:
        return
    kind = type(engine.dbs[db_index].data.get(key))
    _serve_waiters(engine, db_index, key, waiters, kind)
    if kind is not Stream:
        # The stream is gone (deleted, expired, overwritten, renamed away, flushed): clients
        # reading it through a group are released with an error; plain XREAD ones wait on.
        for session in list(engine.blocking_keys.get((db_index, key), ())):
            b = session.blocked
            if b is not None and b.spec is not None and b.spec.name == "XREADGROUP":
                unblock(engine, session, ErrorReply(DELETED_STREAM_ERROR), "deleted")


def _serve_waiters(engine: "Engine", db_index: int, key: bytes, waiters: list["Session"],
                   kind: type) -> None:
    for session in list(waiters):
        blocked = session.blocked
        if blocked is None:
            continue
        spec = blocked.spec
        wanted = _WAITS_FOR.get(spec.name) if spec is not None else None
        if wanted is not None and kind is not wanted:
            continue
        previous_db = session.db
        session.db = engine.dbs[blocked.db]
        try:
            reply = _retry(session, blocked)
        finally:
            # A served command runs in the db it blocked in; the client's selection stays.
            if session.db is engine.dbs[blocked.db]:
                session.db = previous_db
        if reply is blocked or type(reply).__name__ == "Blocked":
            continue
        unblock(engine, session, reply, "served")
        if not engine.dbs[db_index].data.get(key):
            break


def _retry(session: "Session", blocked: "Blocked") -> Any:
    """Run the parked command's logic again; what it changes is propagated like any write."""
    engine = session.engine
    dirty = engine.dirty
    try:
        reply = blocked.retry()
    except ErrorReply as e:
        return e
    if engine.dirty != dirty and engine.propagate_hooks and blocked.spec is not None:
        session.propagate_call(blocked.spec, blocked.argv)
    return reply


def serve_timeouts(engine: "Engine") -> None:
    """Answer clients whose timeout has passed on the engine clock."""
    if not engine.blocked_count:
        return
    now = engine.now_ms()
    expired = []
    seen: set[int] = set()
    if engine.pause_end_ms and now >= engine.pause_end_ms:
        engine.pause_end_ms = 0
        engine.refresh_gate()
    for session in list(engine.sessions.values()):
        b = session.blocked
        if b is not None and b.kind == "postponed" and not engine.pause_end_ms:
            seen.add(session.id)
            expired.append(session)
    for waiters in engine.blocking_keys.values():
        for session in waiters:
            b = session.blocked
            if b is not None and b.deadline_ms and b.deadline_ms <= now and session.id not in seen:
                seen.add(session.id)
                expired.append(session)
    for session in expired:
        b = session.blocked
        if b is not None:
            _release(engine, session, b, "timeout")


def _release(engine: "Engine", session: "Session", b: "Blocked", reason: str) -> None:
    """Answer a parked client with its timeout reply; a command held back by CLIENT PAUSE
    runs now, and waits again if a newer pause holds it back once more."""
    _detach(engine, session)
    session.blocked = b
    engine.blocked_count += 1
    reply = b.on_timeout()
    if type(reply).__name__ == "Blocked":
        _detach(engine, session)
        block(engine, session, reply)
        return
    unblock(engine, session, reply, reason)


def release_postponed(engine: "Engine") -> None:
    """CLIENT UNPAUSE, or a pause that ended: run every held-back command."""
    for session in list(engine.sessions.values()):
        b = session.blocked
        if b is not None and b.kind == "postponed":
            _release(engine, session, b, "unpaused")


def next_deadline(engine: "Engine") -> int | None:
    """The earliest timeout among blocked clients (for hosts that sleep until then)."""
    best: int | None = None
    for waiters in engine.blocking_keys.values():
        for session in waiters:
            b = session.blocked
            if b is not None and b.deadline_ms and (best is None or b.deadline_ms < best):
                best = b.deadline_ms
    return best


def client_unblock(engine: "Engine", session: "Session", with_error: bool) -> bool:
    """CLIENT UNBLOCK: release as by timeout, or with the UNBLOCKED error."""
    b = session.blocked
    if b is None:
        return False
    reply = ErrorReply(UNBLOCKED_ERROR) if with_error else b.on_timeout()
    unblock(engine, session, reply, "unblocked")
    return True


def forget(engine: "Engine", session: "Session") -> None:
    """A client went away while blocked: drop it from every wait list."""
    if session.blocked is not None:
        _detach(engine, session)


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"


_NOTHING = _Nothing()
NOTHING = _NOTHING
