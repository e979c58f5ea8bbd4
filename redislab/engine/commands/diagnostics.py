"""SLOWLOG, LATENCY and DEBUG OBJECT: what the server measured about its commands and keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from ..args import to_int
from ..memory.sizes import shared_integer
from ..persistence import rdb as rdbfmt
from ..persistence.rdb import LRU_CLOCK_MAX, lru_idle_seconds
from ..structures.quicklist import Layout
from ..values import ListValue, encoding_of
from .server import register_debug

if TYPE_CHECKING:
    from ..session import Session


def slowlog_get_command(c: "Session", argv: list[bytes]) -> Any:
    entries = c.engine.slowlog.entries
    count = 10
    if len(argv) > 2:
        count = to_int(argv[2], ErrorReply(
            "ERR count should be greater than or equal to -1"))
        if count < -1:
            raise ErrorReply("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(entries)
    out = []
    for e in list(entries)[:count]:
        out.append([e.id, e.time, e.duration_us, list(e.argv), e.client_addr.encode(),
                    e.client_name.encode()])
    return out


def slowlog_len_command(c: "Session", argv: list[bytes]) -> Any:
    return len(c.engine.slowlog.entries)


def slowlog_reset_command(c: "Session", argv: list[bytes]) -> Any:
    c.engine.slowlog.reset()
    return OK


def slowlog_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "SLOWLOG <subcommand> [<arg> ...]. Subcommands:",
        "GET [<count>]",
        "    The newest <count> entries (10 by default, -1 for all). Each entry holds:",
        "    an id, the unix time it was logged, the duration in microseconds,",
        "    the arguments, the client's address and the client's name.",
        "LEN",
        "    How many entries the slow log holds.",
        "RESET",
        "    Empty the slow log.",
        "HELP",
        "    Show this text.",
    )]


def latency_latest_command(c: "Session", argv: list[bytes]) -> Any:
    # The latency monitor is off by default (threshold 0) and redislab records no events yet,
    # so every view of it is empty, as on a Redis server that never crossed its threshold.
    return []


def latency_history_command(c: "Session", argv: list[bytes]) -> Any:
    return []


def latency_reset_command(c: "Session", argv: list[bytes]) -> Any:
    return 0


def latency_doctor_command(c: "Session", argv: list[bytes]) -> Any:
    from ...protocol.reply import Verbatim

    threshold = c.engine.config["latency-monitor-threshold"]
    if not threshold:
        text = ("Latency monitoring is disabled: set latency-monitor-threshold to a number of "
                "milliseconds (CONFIG SET latency-monitor-threshold 100) to record events "
                "that take at least that long.\n")
    else:
        text = "No latency event has reached the threshold yet: nothing to report.\n"
    return Verbatim(text.encode(), "txt")


def latency_graph_command(c: "Session", argv: list[bytes]) -> Any:
    raise ErrorReply("ERR No samples available for event '%s'"
                     % argv[2].decode("utf-8", "replace"))


def latency_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "LATENCY <subcommand> [<arg> ...]. Subcommands:",
        "DOCTOR",
        "    A human-readable analysis of the latency events recorded.",
        "GRAPH <event>",
        "    An ASCII graph of one event's latency samples.",
        "HISTORY <event>",
        "    The time and latency of each recorded sample of one event.",
        "LATEST",
        "    The latest sample of every event.",
        "RESET [<event> ...]",
        "    Forget the samples of the given events, or of all of them.",
        "HELP",
        "    Show this text.",
    )]


# ---------------------------------------------------------------------------------------------
# DEBUG OBJECT

SHARED_REFCOUNT = 2**31 - 1   # OBJ_SHARED_REFCOUNT: the preallocated integers 0..9999


def _debug_object(c: "Session", argv: list[bytes]) -> Any:
    """debug.c: the object's header fields, its RDB length, and a quicklist's node figures.

    "Value at" shows the value's identity in this process, not a C pointer.
    """
    db = c.db
    key = argv[2]
    # Redis reads the dict directly: no lazy expiry, no access-time update.
    value = db.data.get(key)
    if value is None:
        raise ErrorReply("ERR no such key")
    eng = c.engine
    cfg = eng.config
    policy = cfg["maxmemory-policy"]
    shared_ok = not (cfg["maxmemory"] and ("lru" in policy or "lfu" in policy))
    shared = type(value) is bytes and shared_integer(value, shared_ok)
    fill = cfg["list-max-listpack-size"]
    _, body = rdbfmt.encode_value(value, cfg["rdbcompression"], fill)
    if shared:
        # The shared integers were made at start-up and are never touched since.
        lru = (eng.started_ms // 1000) & LRU_CLOCK_MAX
        idle = eng.lru_clock - lru if eng.lru_clock >= lru else \
            eng.lru_clock + LRU_CLOCK_MAX - lru
    else:
        lru = db.lru.get(key, eng.lru_clock)
        idle = lru_idle_seconds(eng, db, key)
    extra = ""
    if type(value) is ListValue:
        layout = value.nodes
        if layout is None or layout.total() != len(value):
            layout = Layout.pushed(value, fill)
        nodes = len(layout.nodes)
        extra = (" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
                 "ql_uncompressed_size:%d" % (
                     nodes, len(value) / nodes if nodes else 0.0, layout.fill,
                     1 if cfg["list-compress-depth"] else 0,
                     sum(size for _, size in layout.nodes)))
    c.work += 1
    return Status("Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d "
                  "lru_seconds_idle:%d%s" % (
                      id(value), SHARED_REFCOUNT if shared else 1, encoding_of(value),
                      len(body), lru, idle, extra))


register_debug("OBJECT", _debug_object, 3, "OBJECT <key>",
               "Show low-level information about the key and the value it holds.")

