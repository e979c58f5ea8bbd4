"""Server administration that touches every client: MONITOR, CLIENT PAUSE/UNPAUSE, MODULE."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from ..args import parse_int
from ..blocking import release_postponed

if TYPE_CHECKING:
    from ..session import Session


def monitor_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if c not in eng.monitors:
        eng.monitors.append(c)
        c.kind = "monitor"
        eng.refresh_gate()
    return OK


def client_pause_command(c: "Session", argv: list[bytes]) -> Any:
    ms = parse_int(argv[2])
    if ms is None:
        raise ErrorReply("ERR timeout is not an integer or out of range")
    if ms < 0:
        raise ErrorReply("ERR timeout is negative")
    pause_all = True
    if len(argv) == 4:
        mode = argv[3].upper()
        if mode == b"WRITE":
            pause_all = False
        elif mode != b"ALL":
            raise ErrorReply("ERR CLIENT PAUSE mode must be WRITE or ALL")
    elif len(argv) > 4:
        raise ErrorReply("ERR unknown subcommand or wrong number of arguments for '%s'. Try "
                         "CLIENT HELP." % argv[1].decode("utf-8", "replace"))
    eng = c.engine
    end = eng.now_ms() + ms
    # A new pause never shortens one in force, and ALL wins over WRITE (pauseClients).
    if end > eng.pause_end_ms:
        eng.pause_end_ms = end
    eng.pause_all = pause_all or eng.pause_all
    eng.refresh_gate()
    return OK


def client_unpause_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    eng.pause_end_ms = 0
    eng.pause_all = False
    eng.refresh_gate()
    release_postponed(eng)
    return OK


def module_list_command(c: "Session", argv: list[bytes]) -> Any:
    return []


def module_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "MODULE <subcommand> [<arg> ...]. Subcommands:",
        "LIST",
        "    The loaded modules (an in-process engine loads none).",
        "LOAD <path> [<arg> ...] and LOADEX, UNLOAD <name>",
        "    Native modules cannot be loaded into redislab.",
        "HELP",
        "    Show this text.",
    )]


def role_command(c: "Session", argv: list[bytes]) -> Any:
    """A standalone engine is a primary with no replicas and an empty replication stream."""
    eng = c.engine
    sentinel = eng.extensions.get("sentinel")
    if sentinel is not None:
        return sentinel.role()
    if eng.replication is not None:
        return eng.replication.role()
    return [b"master", 0, []]
