"""Replication commands: REPLICAOF/SLAVEOF, and PSYNC/SYNC/REPLCONF between servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, Status
from .. import replication

if TYPE_CHECKING:
    from ..session import Session


def replicaof_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if eng.config["cluster-enabled"]:
        raise ErrorReply("ERR REPLICAOF not allowed in cluster mode.")
    repl = replication.state(eng)
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if repl.master_host is not None:
            repl.unset_master()
        return OK
    if c.kind == "replica":
        raise ErrorReply("ERR Command is not valid when client is a replica.")
    try:
        text = argv[2].decode("ascii")
        port = int(text)
        if text != str(port):
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        raise ErrorReply("ERR Invalid master port") from None
    if not 0 <= port <= 65535:
        raise ErrorReply("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if repl.master_host is not None and repl.master_host.lower() == host.lower() \
            and repl.master_port == port:
        repl.note("replicaof", "REPLICAOF would result into synchronization with the master "
                  "we are already connected with. No operation performed.")
        return Status("OK Already connected to specified master")
    who = c.addr if c.addr != "in-process" else "a local client"
    repl.set_master(host, port, f"user request from '{who}'")
    return OK


def slaveof_command(c: "Session", argv: list[bytes]) -> Any:
    return replicaof_command(c, argv)


def psync_command(c: "Session", argv: list[bytes]) -> Any:
    return replication.state(c.engine).psync(c, argv)


def sync_command(c: "Session", argv: list[bytes]) -> Any:
    return replication.state(c.engine).psync(c, argv)


def replconf_command(c: "Session", argv: list[bytes]) -> Any:
    return replication.state(c.engine).replconf(c, argv)
