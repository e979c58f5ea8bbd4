"""SLOWLOG and LATENCY: what the server measured about its own commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from ..args import to_int

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
