"""SENTINEL subcommands, answered by a node running in sentinel mode.

The Sentinel itself (monitoring, votes, failover) runs on the simulated network
(``redislab.sim.sentinel``) and registers as ``engine.extensions["sentinel"]``; these
handlers only parse arguments and ask it. A server not in sentinel mode does not know the
command, as redis-server without ``--sentinel`` does not.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from ...protocol.reply import NULL_ARRAY, OK, ErrorReply
from .. import errors

if TYPE_CHECKING:
    from ..session import Session

_SETTABLE = {b"down-after-milliseconds", b"failover-timeout", b"parallel-syncs", b"quorum"}


def _sentinel(c: "Session", argv: list[bytes]) -> Any:
    s = c.engine.extensions.get("sentinel")
    if s is None:
        raise errors.unknown_command(argv[0], argv[1:])
    return s


def _int(arg: bytes, message: str = "ERR value is not an integer or out of range") -> int:
    try:
        text = arg.decode("ascii")
        value = int(text)
    except (UnicodeDecodeError, ValueError):
        raise ErrorReply(message) from None
    if text != str(value):
        raise ErrorReply(message)
    return value


def sentinel_monitor_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    quorum = _int(argv[5], "ERR Invalid quorum")
    port = _int(argv[4], "ERR Invalid port")
    if quorum <= 0:
        raise ErrorReply("ERR Quorum must be 1 or greater.")
    host = argv[3].decode("utf-8", "replace")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ErrorReply("ERR Invalid IP address or hostname specified") from None
    if not 0 < port <= 65535:
        raise ErrorReply("ERR Invalid port number")
    name = argv[2].decode("utf-8", "replace")
    if name in s.masters:
        raise ErrorReply("ERR Duplicate master name.")
    s.monitor(name, "127.0.0.1" if host == "localhost" else host, port, quorum)
    return OK


def sentinel_remove_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    m = s.master(argv[2])
    s.reset(m.name.encode())
    del s.masters[m.name]
    s.event("-monitor", m)
    return OK


def sentinel_set_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    m = s.master(argv[2])
    if (len(argv) - 3) % 2:
        raise ErrorReply("ERR Unknown option or number of arguments for SENTINEL SET '%s'"
                         % argv[-1].decode("utf-8", "replace"))
    changes = []
    for i in range(3, len(argv), 2):
        opt, raw = argv[i].lower(), argv[i + 1]
        if opt not in _SETTABLE:
            raise ErrorReply("ERR Unknown option or number of arguments for SENTINEL SET '%s'"
                             % argv[i].decode("utf-8", "replace"))
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise ErrorReply("ERR Invalid argument '%s' for SENTINEL SET '%s'" % (
                raw.decode("utf-8", "replace"), argv[i].decode("utf-8", "replace")))
        changes.append((opt, value))
    for opt, value in changes:
        if opt == b"down-after-milliseconds":
            m.down_after_ms = value
            for ri in list(m.replicas.values()) + list(m.sentinels.values()):
                ri.down_after_ms = value
        elif opt == b"failover-timeout":
            m.failover_timeout = value
        elif opt == b"parallel-syncs":
            m.parallel_syncs = value
        else:
            m.quorum = value
        s.event("+set", m, f"{opt.decode()} {value}")
    return OK


def sentinel_get_master_addr_by_name_command(c: "Session", argv: list[bytes]) -> Any:
    addr = _sentinel(c, argv).master_addr(argv[2])
    return NULL_ARRAY if addr is None else addr


def sentinel_masters_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return [s.instance_fields(m) for m in s.masters.values()]


def sentinel_master_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return s.instance_fields(s.master(argv[2]))


def sentinel_replicas_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return [s.instance_fields(r) for r in s.master(argv[2]).replicas.values()]


def sentinel_slaves_command(c: "Session", argv: list[bytes]) -> Any:
    return sentinel_replicas_command(c, argv)


def sentinel_sentinels_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return [s.instance_fields(x) for x in s.master(argv[2]).sentinels.values()]


def sentinel_ckquorum_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return s.ckquorum(s.master(argv[2]))


def sentinel_failover_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    return s.force_failover(s.master(argv[2]))


def sentinel_reset_command(c: "Session", argv: list[bytes]) -> Any:
    return _sentinel(c, argv).reset(argv[2])


def sentinel_myid_command(c: "Session", argv: list[bytes]) -> Any:
    return _sentinel(c, argv).myid.encode()


def sentinel_pending_scripts_command(c: "Session", argv: list[bytes]) -> Any:
    _sentinel(c, argv)
    return []


def sentinel_is_master_down_by_addr_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    port = _int(argv[3])
    epoch = _int(argv[4])
    return s.is_master_down_by_addr(argv[2].decode("utf-8", "replace"), port, epoch,
                                    argv[5].decode("utf-8", "replace"))
