"""Whole-database commands (db.c): SELECT, DBSIZE, FLUSHDB, FLUSHALL and SWAPDB.

A session holds a reference to its selected :class:`~redislab.engine.keyspace.Database`; the
database objects themselves never move. SWAPDB therefore exchanges the *contents* of two
databases, so a client that selected db 1 keeps index 1 and sees what db 0 held, exactly as
Redis's clients keep their ``db`` pointer while the dicts behind it are swapped. Watched keys
and blocked clients belong to the index, so they stay where they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply
from .. import errors
from ..args import SYNTAX
from .keyspace import get_int32

if TYPE_CHECKING:
    from ..session import Session

INVALID_DB = ErrorReply(errors.INVALID_DB)
INVALID_FIRST = ErrorReply("ERR invalid first DB index")
INVALID_SECOND = ErrorReply("ERR invalid second DB index")


def select_command(c: "Session", argv: list[bytes]) -> Any:
    index = get_int32(argv[1])
    eng = c.engine
    if eng.config["cluster-enabled"] and index != 0:
        raise ErrorReply("ERR SELECT is not allowed in cluster mode")
    if index < 0 or index >= len(eng.dbs):
        raise INVALID_DB
    c.select(index)
    return OK


def dbsize_command(c: "Session", argv: list[bytes]) -> Any:
    return len(c.db.data)


def _flush_mode(c: "Session", argv: list[bytes]) -> bool:
    """getFlushCommandFlags: True for ASYNC. Freeing is instant here either way."""
    if len(argv) == 1:
        return bool(c.engine.config["lazyfree-lazy-user-flush"])
    if len(argv) == 2:
        mode = argv[1].upper()
        if mode == b"SYNC":
            return False
        if mode == b"ASYNC":
            return True
    raise SYNTAX


def _force_propagation(c: "Session", argv: list[bytes], removed: int) -> None:
    # Redis replicates a flush even when there was nothing to remove (forceCommandPropagation);
    # with keys removed, the dirty counter already makes the call propagate.
    eng = c.engine
    if not removed and eng.propagate_hooks and not c.in_script:
        eng.propagate(c.db.id, argv)


def flushdb_command(c: "Session", argv: list[bytes]) -> Any:
    _flush_mode(c, argv)
    eng = c.engine
    db = c.db
    c.work += len(db.data)
    removed = db.clear()
    eng.dirty += removed
    _force_propagation(c, argv, removed)
    return OK


def flushall_command(c: "Session", argv: list[bytes]) -> Any:
    _flush_mode(c, argv)
    eng = c.engine
    removed = 0
    for db in eng.dbs:
        c.work += len(db.data)
        removed += db.clear()
    eng.dirty += removed
    # Redis saves right away when save points are configured (the persistence layer decides).
    after = eng.extensions.get("after_flushall")
    if after is not None:
        after()
    eng.dirty += 1
    return OK


def swapdb_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if eng.config["cluster-enabled"]:
        raise ErrorReply("ERR SWAPDB is not allowed in cluster mode")
    id1 = get_int32(argv[1], INVALID_FIRST)
    id2 = get_int32(argv[2], INVALID_SECOND)
    n = len(eng.dbs)
    if id1 < 0 or id1 >= n or id2 < 0 or id2 >= n:
        raise INVALID_DB
    if id1 != id2:
        db1, db2 = eng.dbs[id1], eng.dbs[id2]
        # A WATCH fails if its key exists in either database (touchAllWatchedKeysInDb).
        db1.touch_all_watched(db2)
        db2.touch_all_watched(db1)
        db1.swap_with(db2)
        # Clients blocked on a key that now exists may be served (scanDatabaseForReadyKeys).
        if eng.blocking_keys:
            for db_id, key in list(eng.blocking_keys):
                if db_id == id1 or db_id == id2:
                    db = eng.dbs[db_id]
                    if key in db.data:
                        db.signal_ready(key)
    eng.dirty += 1
    return OK
