"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, SHUTDOWN, DUMP, RESTORE, DEBUG RELOAD.

The work itself lives in :mod:`redislab.engine.persistence`; these handlers parse arguments
with Redis's exact errors and replies. SHUTDOWN on an engine that no server hosts (the REPL,
a test) does the persistence part (fsync the AOF, save if ``save`` rules exist or SAVE is
given) and then replies with an error saying there is no server process to stop; under
``redislab serve`` it asks the server to stop and the connection closes without a reply,
as with Redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import NO_REPLY, OK, ErrorReply, Status
from .. import errors
from ..args import parse_int
from ..persistence import rdb as rdbfmt
from ..persistence.manager import LoadError, state
from .server import register_debug
from .strings import rewrite

if TYPE_CHECKING:
    from ..session import Session

PAYLOAD_WRONG = ErrorReply("ERR DUMP payload version or checksum are wrong")
BAD_FORMAT = ErrorReply("ERR Bad data format")
BUSYKEY = ErrorReply("BUSYKEY Target key name already exists.")
INVALID_TTL = ErrorReply("ERR Invalid TTL value, must be >= 0")
INVALID_IDLE = ErrorReply("ERR Invalid IDLETIME value, must be >= 0")
INVALID_FREQ = ErrorReply("ERR Invalid FREQ value, must be >= 0 and <= 255")
NOT_INTEGER = ErrorReply(errors.NOT_INTEGER)
BARE_ERR = ErrorReply("ERR")
BGSAVE_RUNNING = ErrorReply("ERR Background save already in progress")
CHILD_ACTIVE = ErrorReply(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE "
    "in order to schedule a BGSAVE whenever possible.")
REWRITE_RUNNING = ErrorReply("ERR Background append only file rewriting already in progress")
REWRITE_FAILED = ErrorReply("ERR Can't execute an AOF background rewriting. Please check the "
                            "server logs for more information.")
SHUTDOWN_FAILED = ErrorReply("ERR Errors trying to SHUTDOWN. Check logs.")
NO_SHUTDOWN = ErrorReply("ERR No shutdown in progress.")
LRU_CLOCK_MAX = (1 << 24) - 1


# ---------------------------------------------------------------------------------------------
# Snapshots


def save_command(c: "Session", argv: list[bytes]) -> Any:
    p = state(c.engine)
    p.poll()
    if p.child is not None and p.child.kind == "rdb":
        raise BGSAVE_RUNNING
    p.rdb_saves += 1
    c.work += p._key_count()
    if not p.save():
        raise BARE_ERR
    return OK


def bgsave_command(c: "Session", argv: list[bytes]) -> Any:
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise ErrorReply(errors.SYNTAX)
    p = state(c.engine)
    p.poll()
    if p.child is not None and p.child.kind == "rdb":
        raise BGSAVE_RUNNING
    if p.child is not None or c.in_exec:
        if schedule or c.in_exec:
            p.bgsave_scheduled = True
            return Status("Background saving scheduled")
        raise CHILD_ACTIVE
    if not p.bgsave():
        raise BARE_ERR
    return Status("Background saving started")


def bgrewriteaof_command(c: "Session", argv: list[bytes]) -> Any:
    p = state(c.engine)
    p.poll()
    if p.child is not None and p.child.kind == "aof":
        raise REWRITE_RUNNING
    if p.child is not None or c.in_exec:
        p.aof_rewrite_scheduled = True
        return Status("Background append only file rewriting scheduled")
    if p.start_rewrite():
        return Status("Background append only file rewriting started")
    raise REWRITE_FAILED


# ---------------------------------------------------------------------------------------------
# SHUTDOWN


def shutdown_command(c: "Session", argv: list[bytes]) -> Any:
    nosave = save = now = force = abort = False
    for arg in argv[1:]:
        word = arg.lower()
        if word == b"nosave":
            nosave = True
        elif word == b"save":
            save = True
        elif word == b"now":
            now = True
        elif word == b"force":
            force = True
        elif word == b"abort":
            abort = True
        else:
            raise ErrorReply(errors.SYNTAX)
    if (abort and (nosave or save or now or force)) or (nosave and save):
        raise ErrorReply(errors.SYNTAX)
    if abort:
        # Shutting down never waits here (no replicas to catch up), so none is in progress.
        raise NO_SHUTDOWN
    eng = c.engine
    p = state(eng)
    p.poll()
    problem = p.shutdown(save=save, nosave=nosave, force=force)
    if problem is not None:
        p._publish("shutdown", f"refused: {problem}", refused=True)
        p.shut_down = False
        raise SHUTDOWN_FAILED
    stop = eng.extensions.get("shutdown")
    if stop is None:
        p.shut_down = False
        saved = (eng.config["save"] and not nosave) or save
        raise ErrorReply("ERR " + ("The dataset was saved, but there" if saved else "There")
                         + " is no server process to stop: this engine runs in-process")
    c.close_after_reply = True
    stop("SHUTDOWN")
    return NO_REPLY


# ---------------------------------------------------------------------------------------------
# DUMP and RESTORE


def dump_command(c: "Session", argv: list[bytes]) -> Any:
    value = c.db.get(argv[1])
    if value is None:
        return None
    cfg = c.engine.config
    try:
        c.work += len(value)
    except TypeError:
        c.work += 1
    return rdbfmt.dump_payload(value, cfg["rdbcompression"], cfg["list-max-listpack-size"])


def restore_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    replace = absttl = False
    lfu_freq = -1
    lru_idle = -1
    i = 4
    n = len(argv)
    while i < n:
        word = argv[i].lower()
        more = n - i - 1
        if word == b"replace":
            replace = True
        elif word == b"absttl":
            absttl = True
        elif word == b"idletime" and more >= 1 and lfu_freq == -1:
            v = parse_int(argv[i + 1])
            if v is None:
                raise NOT_INTEGER
            if v < 0:
                raise INVALID_IDLE
            lru_idle = v
            i += 1
        elif word == b"freq" and more >= 1 and lru_idle == -1:
            v = parse_int(argv[i + 1])
            if v is None:
                raise NOT_INTEGER
            if v < 0 or v > 255:
                raise INVALID_FREQ
            lfu_freq = v
            i += 1
        else:
            raise ErrorReply(errors.SYNTAX)
        i += 1
    db = c.db
    key = argv[1]
    if not replace and db.get_for_write(key) is not None:
        raise BUSYKEY
    ttl = parse_int(argv[2])
    if ttl is None:
        raise NOT_INTEGER
    if ttl < 0:
        raise INVALID_TTL
    payload = argv[3]
    if not rdbfmt.verify_payload(payload):
        raise PAYLOAD_WRONG
    try:
        value = rdbfmt.read_payload(payload, rdbfmt.Limits.from_config(eng.config))
    except rdbfmt.RDBError:
        raise BAD_FORMAT from None
    if value is None:
        raise BAD_FORMAT
    deleted = db.delete(key) if replace else False
    if ttl and not absttl:
        ttl += eng.now_ms()
    if ttl and ttl <= eng.now_ms() and not eng.loading and not eng.is_replica:
        if deleted:
            rewrite(c, [b"DEL", key])
            db.changed(key, "del", "g")
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            rewrite(c, [argv[0], key, b"%d" % ttl] + argv[3:] + [b"ABSTTL"])
    _set_lru_or_lfu(c, key, lfu_freq, lru_idle)
    try:
        c.work += len(value)
    except TypeError:
        c.work += 1
    db.changed(key, "restore", "g")
    return OK


def restore_asking_command(c: "Session", argv: list[bytes]) -> Any:
    return restore_command(c, argv)


def _set_lru_or_lfu(c: "Session", key: bytes, lfu_freq: int, lru_idle: int) -> None:
    """objectSetLRUOrLFU: what IDLETIME or FREQ say about the restored key's access."""
    eng = c.engine
    if eng.config["maxmemory-policy"] in rdbfmt.LFU_POLICIES:
        if lfu_freq >= 0:
            minutes = (eng.clock.time_ms() // 60000) & 65535
            c.db.lru[key] = (minutes << 8) | lfu_freq
    elif lru_idle >= 0:
        clock = eng.lru_clock
        stamp = clock - lru_idle
        c.db.lru[key] = stamp if stamp >= 0 else clock + (LRU_CLOCK_MAX - lru_idle)


# ---------------------------------------------------------------------------------------------
# DEBUG RELOAD and DEBUG LOADAOF


def _debug_reload(c: "Session", argv: list[bytes]) -> Any:
    flush = save = True
    merge = False
    for opt in argv[2:]:
        word = opt.upper()
        if word == b"MERGE":
            merge = True
        elif word == b"NOFLUSH":
            flush = False
        elif word == b"NOSAVE":
            save = False
        else:
            raise ErrorReply("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                             "options.")
    p = state(c.engine)
    if save and not p.save():
        raise BARE_ERR
    data = p.disk.read(p.rdb_name)
    try:
        if data is None:
            raise LoadError(f"{p.rdb_name}: no such file")
        p.load_rdb_image(data, source=p.rdb_name, flush=flush, allow_dup=merge)
    except LoadError as e:
        # Redis empties the dataset before loading: a failed load leaves it empty (never
        # half loaded). It would even exit on a corrupt file; an error reply is kinder.
        if flush:
            c.engine.flushall()
        p._publish("rdb-load", f"failed: {e}", ok=False)
        raise ErrorReply("ERR Error trying to load the RDB dump, check server logs.") from None
    return OK


def _debug_loadaof(c: "Session", argv: list[bytes]) -> Any:
    p = state(c.engine)
    if p.aof.state == "on":
        p.aof.flush(True)
    try:
        p.load_aof(on_start=False)
    except LoadError as e:
        p._publish("aof-load", f"failed: {e}", ok=False)
        raise ErrorReply(f"ERR Error loading the AOF: {e}") from None
    p.aof.delete_history()
    return OK


register_debug("RELOAD", _debug_reload, -2, "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
               "Save the RDB file, empty the dataset and load the file back (objects pick "
               "their compact encodings again). MERGE keeps keys already present, NOFLUSH "
               "does not empty first, NOSAVE loads the existing file.")
register_debug("LOADAOF", _debug_loadaof, 2, "LOADAOF",
               "Flush the AOF buffers, empty the dataset and load it back from the AOF.")
