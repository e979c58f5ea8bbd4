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


def sentinel_flushconfig_command(c: "Session", argv: list[bytes]) -> Any:
    # The simulated Sentinel keeps its configuration as it learns (see Sentinel.export).
    _sentinel(c, argv)
    return OK


def sentinel_info_cache_command(c: "Session", argv: list[bytes]) -> Any:
    return _sentinel(c, argv).info_cache(argv[2:])


_CONFIG_BOOLS = ("resolve-hostnames", "announce-hostnames")
_CONFIG_ONLY = "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported."


def sentinel_config_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    action = argv[2].lower()
    if action == b"get" and len(argv) == 4:
        from ..glob import compile_glob

        match = compile_glob(argv[3], True)
        out: list[bytes] = []
        for name, value in s.config.items():
            if match(name.encode()):
                out += [name.encode(), value.encode()]
        return out
    if action == b"set" and len(argv) == 5:
        name = argv[3].decode("utf-8", "replace").lower()
        value = argv[4].decode("utf-8", "replace")
        if name not in s.config:
            raise ErrorReply(f"ERR Invalid argument '{argv[3].decode('utf-8', 'replace')}' "
                             "to SENTINEL CONFIG SET")
        bad = ErrorReply(f"ERR Invalid value '{value}' to SENTINEL CONFIG SET '{name}'")
        if name in _CONFIG_BOOLS:
            if value.lower() not in ("yes", "no"):
                raise bad
            value = value.lower()
        elif name == "announce-port":
            try:
                port = int(value)
            except ValueError:
                raise bad from None
            if not 0 <= port <= 65535:
                raise bad
        s.config[name] = value
        return OK
    raise ErrorReply(_CONFIG_ONLY)


def sentinel_debug_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    if len(argv) == 2:
        out: list[Any] = []
        for name, value in s.timing.items():
            out += [name.upper().encode(), str(value).encode()]
        return out
    changes = []
    j = 2
    while j < len(argv):
        name = argv[j].decode("utf-8", "replace")
        if name.lower() not in s.timing or j + 1 >= len(argv):
            raise ErrorReply("ERR Unknown option or number of arguments for SENTINEL DEBUG "
                             f"'{name}'")
        raw = argv[j + 1].decode("utf-8", "replace")
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise ErrorReply(f"ERR Invalid argument '{raw}' for SENTINEL DEBUG '{name}'")
        changes.append((name.lower(), value))
        j += 2
    for name, value in changes:
        s.timing[name] = value
    return OK


_FAILURES = ("crash-after-election", "crash-after-promotion")


def sentinel_simulate_failure_command(c: "Session", argv: list[bytes]) -> Any:
    s = _sentinel(c, argv)
    # As in Sentinel, every call starts from no simulated failure (even HELP clears them).
    s.simulate_failure.clear()
    for raw in argv[2:]:
        word = raw.decode("utf-8", "replace").lower()
        if word == "help":
            return [f.encode() for f in _FAILURES]
        if word not in _FAILURES:
            raise ErrorReply("ERR Unknown failure simulation specified")
        s.simulate_failure.add(word)
    return OK


_HELP = (
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Can the reachable Sentinels form the quorum and the majority a failover needs?",
    "CONFIG GET <pattern> | SET <option> <value>",
    "    Sentinel's own settings (resolve-hostnames, announce-ip ...).",
    "DEBUG [<parameter> <value> ...]",
    "    Show or change Sentinel's timing parameters (milliseconds).",
    "FAILOVER <master-name>",
    "    Fail over now, without asking the other Sentinels.",
    "FLUSHCONFIG",
    "    Write the configuration file again.",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    The address of the master monitored under that name.",
    "INFO-CACHE <master-name> [<master-name> ...]",
    "    The last INFO replies of a master and its replicas, with their age.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Used between Sentinels: is that master down here, and a vote when asked.",
    "MASTER <master-name>",
    "    The state of one monitored master.",
    "MASTERS",
    "    The state of every monitored master.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a master.",
    "MYID",
    "    This Sentinel's id.",
    "PENDING-SCRIPTS",
    "    Scripts waiting to run (this Sentinel runs none).",
    "REMOVE <master-name>",
    "    Stop monitoring a master.",
    "REPLICAS <master-name>",
    "    The replicas of a master as this Sentinel knows them.",
    "RESET <pattern>",
    "    Forget what was learned about the matching masters.",
    "SENTINELS <master-name>",
    "    The other Sentinels monitoring a master.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Change a master's settings (quorum, down-after-milliseconds ...).",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Make this Sentinel crash at a chosen step of its next failover.",
    "HELP",
    "    Print this help.",
)


def sentinel_help_command(c: "Session", argv: list[bytes]) -> Any:
    from ...protocol.reply import Status

    _sentinel(c, argv)
    return [Status(line) for line in _HELP]
