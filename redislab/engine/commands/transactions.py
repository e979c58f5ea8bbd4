"""Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH and UNWATCH.

While ``session.multi`` is a list, dispatch queues every command except the few that act at
once (EXEC, DISCARD, MULTI, WATCH ...) and marks the transaction as failed
(``session.multi_error``) when a command is refused while queueing. WATCH registers the
session in ``db.watched``; any change to a watched key sets ``session.dirty_cas`` (see
``Database.touch_watchers``), and so does a watched key that expires before EXEC, unless it
was already expired when it was watched (7.0's isWatchedKeyExpired).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...protocol.reply import NO_REPLY, NULL_ARRAY, OK, ErrorReply
from .. import errors
from ..keyspace import unwatch_all

if TYPE_CHECKING:
    from ..session import Session

NESTED = ErrorReply("ERR MULTI calls can not be nested")
EXEC_WITHOUT_MULTI = ErrorReply("ERR EXEC without MULTI")
DISCARD_WITHOUT_MULTI = ErrorReply("ERR DISCARD without MULTI")
WATCH_IN_MULTI = ErrorReply("ERR WATCH inside MULTI is not allowed")
EXECABORT = ErrorReply(errors.EXECABORT)


def discard_transaction(c: "Session") -> None:
    """Leave MULTI state and forget every watched key (discardTransaction)."""
    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    unwatch_all(c)
    c.refresh_gate()


def multi_command(c: "Session", argv: list[bytes]) -> Any:
    if c.multi is not None:
        raise NESTED
    c.multi = []
    c.multi_error = False
    c.refresh_gate()
    return OK


def discard_command(c: "Session", argv: list[bytes]) -> Any:
    if c.multi is None:
        raise DISCARD_WITHOUT_MULTI
    discard_transaction(c)
    return OK


def _watched_key_expired(c: "Session") -> bool:
    """isWatchedKeyExpired: a watched key has expired since WATCH (deleted or not yet)."""
    for db, key, _ in c.watched:
        watchers = db.watched.get(key)
        if watchers is not None and not watchers.get(c, False) and db.expired(key):
            return True
    return False


def exec_command(c: "Session", argv: list[bytes]) -> Any:
    if c.multi is None:
        raise EXEC_WITHOUT_MULTI
    if c.watched and _watched_key_expired(c):
        c.dirty_cas = True
    if c.multi_error or c.dirty_cas:
        aborted_by_error = c.multi_error
        discard_transaction(c)
        if aborted_by_error:
            raise EXECABORT
        return NULL_ARRAY
    queued = c.multi
    c.multi = None
    c.refresh_gate()
    unwatch_all(c)
    eng = c.engine
    # Commands inside EXEC replicate as one MULTI ... EXEC block when more than one of them
    # wrote anything, and alone when only one did (7.0's propagatePendingCommands).
    collected: list[tuple[int, list[bytes]]] | None = None
    hooks = eng.propagate_hooks
    if hooks:
        collected = []
        sink = collected.append
        eng.propagate_hooks = [lambda db, cmd: sink((db, cmd))]
    dirty_before = eng.dirty
    was_in_exec, was_no_block = c.in_exec, c.no_block
    c.in_exec = True
    c.no_block = True
    # Hold pushes back: a command that answers with pushes only (SUBSCRIBE) has them written
    # inside EXEC's array, where its reply would be; any other push follows the reply.
    on_push = c.on_push
    c.on_push = None
    outbox = c.outbox
    replies: list[Any] = []
    try:
        for spec, cmd in queued:
            mark = len(outbox)
            reply = c.run(spec, cmd)
            if reply is NO_REPLY:
                tail = [outbox.pop() for _ in range(len(outbox) - mark)]
                tail.reverse()
                replies.extend(tail)
            else:
                replies.append(reply)
    finally:
        c.in_exec, c.no_block = was_in_exec, was_no_block
        c.multi_error = False
        c.dirty_cas = False
        c.on_push = on_push
        c.refresh_gate()
        if on_push is not None and outbox:
            on_push(c)
        if collected is not None:
            eng.propagate_hooks = hooks
            _replicate(collected, hooks)
            if eng.dirty != dirty_before:
                # The commands went out above; the EXEC itself must not go out again.
                c.extra["propagate"] = []
    return replies


def _replicate(ops: list[tuple[int, list[bytes]]],
               hooks: list[Callable[[int, list[bytes]], None]]) -> None:
    if not ops:
        return
    wrap = len(ops) > 1
    if wrap:
        for hook in hooks:
            hook(ops[0][0], [b"MULTI"])
    for db, cmd in ops:
        for hook in hooks:
            hook(db, cmd)
    if wrap:
        for hook in hooks:
            hook(ops[-1][0], [b"EXEC"])


def watch_command(c: "Session", argv: list[bytes]) -> Any:
    if c.multi is not None:
        raise WATCH_IN_MULTI
    # A transaction that is already doomed has nothing to watch for.
    if c.dirty_cas:
        return OK
    db = c.db
    for key in argv[1:]:
        watchers = db.watched.get(key)
        if watchers is not None and c in watchers:
            continue
        if watchers is None:
            watchers = db.watched[key] = {}
        expired = db.expired(key)
        watchers[c] = expired
        c.watched.append((db, key, expired))
    c.work += len(argv) - 1
    return OK


def unwatch_command(c: "Session", argv: list[bytes]) -> Any:
    unwatch_all(c)
    c.dirty_cas = False
    return OK
