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
    if repl.failover_state != "no-failover":
        raise ErrorReply("ERR REPLICAOF not allowed while failing over.")
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
    if "link" not in c.extra:
        raise ErrorReply("ERR PSYNC and SYNC need a replication link: replicas run in a "
                         "simulated topology (redislab.sim.Topology)")
    return replication.state(c.engine).psync(c, argv)


def sync_command(c: "Session", argv: list[bytes]) -> Any:
    return psync_command(c, argv)


def replconf_command(c: "Session", argv: list[bytes]) -> Any:
    repl = c.engine.replication
    if repl is None and "link" not in c.extra:
        return replication.replconf_options(c, argv)
    return replication.state(c.engine).replconf(c, argv)


def failover_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    if eng.config["cluster-enabled"]:
        raise ErrorReply("ERR FAILOVER not allowed in cluster mode.")
    host: str | None = None
    port = 0
    timeout = 0
    force = abort = False
    j = 1
    n = len(argv)
    while j < n:
        word = argv[j].lower()
        if word == b"to" and host is None and j + 2 < n:
            host = argv[j + 1].decode("utf-8", "replace")
            port = _integer(argv[j + 2])
            j += 3
        elif word == b"timeout" and not timeout and j + 1 < n:
            timeout = _integer(argv[j + 1])
            if timeout <= 0:
                raise ErrorReply("ERR FAILOVER timeout must be greater than 0")
            j += 2
        elif word == b"force" and not force:
            force = True
            j += 1
        elif word == b"abort" and not abort:
            abort = True
            j += 1
        else:
            raise ErrorReply("ERR syntax error")
    repl = replication.state(eng)
    if abort:
        if repl.failover_state == "no-failover":
            raise ErrorReply("ERR No failover in progress.")
        repl.abort_failover("Failover manually aborted")
        return OK
    if force and (not timeout or host is None):
        raise ErrorReply("ERR FAILOVER with force option requires both a timeout and target "
                         "HOST and IP.")
    repl.failover(None if host is None else (host, port), timeout, force)
    return OK


def _integer(arg: bytes) -> int:
    try:
        text = arg.decode("ascii")
        value = int(text)
        if text != str(value):
            raise ValueError
        return value
    except (UnicodeDecodeError, ValueError):
        raise ErrorReply("ERR value is not an integer or out of range") from None
