"""Configuration parameters, each declared once with its type, default, bounds and aliases.

Mirrors config.c's table: CONFIG GET/SET/RESETSTAT, redis.conf files and command-line options
all read the declarations here. Values are kept in their Python form (int, bool, str, list)
and rendered back as Redis prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..protocol.reply import ErrorReply

_UNITS = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


class ConfigError(ValueError):
    """Raised with the reason a value was refused (Redis appends it to its error text)."""


@dataclass(slots=True)
class Param:
    name: str
    kind: str                      # bool, int, memory, enum, string, save, flags, float, obuf
    default: Any
    aliases: tuple[str, ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    choices: tuple[str, ...] = ()
    immutable: bool = False
    protected: bool = False        # refused by CONFIG SET unless enable-protected-configs
    sensitive: bool = False
    on_change: Callable[[Any, Any], None] | None = field(default=None, repr=False)

    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; raises ConfigError with Redis's reason."""
        kind = self.kind
        if kind == "bool":
            low = text.lower()
            if low == "yes":
                return True
            if low == "no":
                return False
            raise ConfigError("argument must be 'yes' or 'no'")
        if kind in ("int", "memory"):
            if kind == "memory":
                value = memtoull(text)
                if value is None:
                    raise ConfigError("argument must be a memory value")
                # The amount lands in a 64-bit variable: a type that cannot hold the full
                # unsigned range sees a wrapped (negative) value and fails the bounds check.
                if self.maximum is None or self.maximum < 2**63:
                    value = value - 2**64 if value >= 2**63 else value
            else:
                value = _string2ll(text)
                if value is None:
                    raise ConfigError("argument couldn't be parsed into an integer")
            if self.minimum is not None and value < self.minimum or (
                    self.maximum is not None and value > self.maximum):
                raise ConfigError(
                    f"argument must be between {self.minimum} and {self.maximum} inclusive")
            return value
        if kind == "float":
            try:
                return float(text)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into a float") from None
        if kind == "enum":
            low = text.lower()
            if low not in self.choices:
                raise ConfigError("argument(s) must be one of the following: "
                                  + ", ".join(self.choices))
            return low
        if kind == "save":
            # Split on single spaces as Redis does: doubled spaces make empty (invalid) parts.
            parts = text.split(" ") if text else []
            if len(parts) % 2:
                raise ConfigError("Invalid save parameters")
            rules = []
            for i in range(0, len(parts), 2):
                s, c = _strtoll(parts[i]), _strtoll(parts[i + 1])
                if s is None or c is None or s < 1 or c < 0:
                    raise ConfigError("Invalid save parameters")
                rules.append((s, c))
            return rules
        if kind == "obuf":
            return _parse_obuf(text)
        return text

    def render(self, value: Any) -> str:
        kind = self.kind
        if kind == "bool":
            return "yes" if value else "no"
        if kind == "save":
            return " ".join(f"{s} {c}" for s, c in value)
        if kind == "float":
            return ("%.17g" % value) if value != int(value) else str(int(value))
        if kind == "obuf":
            return " ".join("%s %d %d %d" % ("slave" if c == "replica" else c, *value[c])
                            for c in OBUF_CLASSES)
        return str(value)


OBUF_CLASSES = ("normal", "replica", "pubsub")
_OBUF_NAMES = {"normal": "normal", "replica": "replica", "slave": "replica", "pubsub": "pubsub"}


def _parse_obuf(text: str) -> dict[str, tuple[int, int, int]]:
    """client-output-buffer-limit: ``<class> <hard> <soft> <soft-seconds>`` groups.

    Only the classes named change (``_keep_other_classes`` fills in the rest); the whole string is refused if any
    group is wrong, with config.c's reasons.
    """
    parts = text.split(" ") if text else []
    if len(parts) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(parts), 4):
        cls = _OBUF_NAMES.get(parts[i].lower())
        if cls is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = memtoull(parts[i + 1]), memtoull(parts[i + 2])
        secs = _strtoll(parts[i + 3]) if parts[i + 3] else None
        if hard is None or soft is None or secs is None or secs < 0 or \
                abs(int(parts[i + 3])) >= 2**63:
            raise ConfigError(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[cls] = (hard, soft, secs)
    return limits


def _keep_other_classes(old: dict[str, tuple[int, int, int]],
                        new: dict[str, tuple[int, int, int]]) -> None:
    # Runs once the parsed groups are stored: the classes not named keep their limits.
    for cls in OBUF_CLASSES:
        new.setdefault(cls, old[cls])


def _parse_int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


_STRING2LL = re.compile(r"-?[1-9][0-9]*|0")
_STRTOLL = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+")


def _string2ll(text: str) -> int | None:
    """Redis's strict integer syntax: no spaces, no plus sign, no leading zeros."""
    if not _STRING2LL.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def _strtoll(text: str) -> int | None:
    """C's strtoll where the whole string must be consumed (save rules); "" reads as 0."""
    if not text:
        return 0
    if not _STRTOLL.fullmatch(text):
        return None
    return max(-(2**63), min(2**63 - 1, int(text)))


def memtoull(text: str) -> int | None:
    """A memory amount as Redis reads it: digits, then an optional unit (k, kb, m, mb, g, gb).

    As in C, an overlong number saturates and the product wraps at 64 bits.
    """
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    digits, unit = text[:i], text[i:].lower()
    mul = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
           "g": 1000**3, "gb": 1024**3}.get(unit)
    if mul is None or len(digits) >= 128:
        return None
    value = min(int(digits) if digits else 0, 2**64 - 1)
    return (value * mul) % 2**64


def parse_memory(text: str) -> int | None:
    """Parse a memory amount as redis.conf allows (``100mb``, ``1gb``, ``4096``)."""
    t = text.strip().lower()
    for unit in ("kb", "mb", "gb", "k", "m", "g"):
        if t.endswith(unit):
            number = _parse_int(t[: -len(unit)])
            return None if number is None else number * _UNITS[unit]
    if t.endswith("b"):
        t = t[:-1]
    return _parse_int(t)


POLICIES = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")

LLMAX = 2**63 - 1
ULLMAX = 2**64 - 1

PARAMS: list[Param] = [
    Param("maxmemory", "memory", 0, minimum=0, maximum=ULLMAX),
    Param("maxmemory-policy", "enum", "noeviction", choices=POLICIES),
    Param("maxmemory-samples", "int", 5, minimum=1, maximum=2**31 - 1),
    Param("maxmemory-eviction-tenacity", "int", 10, minimum=0, maximum=100),
    Param("lfu-log-factor", "int", 10, minimum=0, maximum=2**31 - 1),
    Param("lfu-decay-time", "int", 1, minimum=0, maximum=2**31 - 1),
    Param("hash-max-listpack-entries", "int", 512, ("hash-max-ziplist-entries",), 0, LLMAX),
    Param("hash-max-listpack-value", "memory", 64, ("hash-max-ziplist-value",), 0, LLMAX),
    Param("zset-max-listpack-entries", "int", 128, ("zset-max-ziplist-entries",), 0, LLMAX),
    Param("zset-max-listpack-value", "memory", 64, ("zset-max-ziplist-value",), 0, LLMAX),
    Param("set-max-intset-entries", "int", 512, (), 0, LLMAX),
    Param("list-max-listpack-size", "int", -2, ("list-max-ziplist-size",), -(2**31), 2**31 - 1),
    Param("list-compress-depth", "int", 0, (), 0, 2**31 - 1),
    Param("stream-node-max-bytes", "memory", 4096, (), 0, LLMAX),
    Param("stream-node-max-entries", "int", 100, (), 0, LLMAX),
    Param("hll-sparse-max-bytes", "memory", 3000, (), 0, LLMAX),
    Param("active-expire-effort", "int", 1, (), 1, 10),
    Param("hz", "int", 10, (), 0, 2**31 - 1),
    Param("dynamic-hz", "bool", True),
    Param("activerehashing", "bool", True),
    Param("lazyfree-lazy-eviction", "bool", False),
    Param("lazyfree-lazy-expire", "bool", False),
    Param("lazyfree-lazy-server-del", "bool", False),
    Param("lazyfree-lazy-user-del", "bool", False),
    Param("lazyfree-lazy-user-flush", "bool", False),
    Param("databases", "int", 16, (), 1, 2**31 - 1, immutable=True),
    Param("port", "int", 6379, (), 0, 65535),
    Param("bind", "string", "* -::*"),
    Param("protected-mode", "bool", True),
    Param("requirepass", "string", "", sensitive=True),
    Param("maxclients", "int", 10000, (), 1, 2**32 - 1),
    Param("timeout", "int", 0, (), 0, 2**31 - 1),
    Param("tcp-keepalive", "int", 300, (), 0, 2**31 - 1),
    Param("proto-max-bulk-len", "memory", 512 * 1024 * 1024, (), 1024 * 1024, LLMAX),
    Param("client-output-buffer-limit", "obuf",
          {"normal": (0, 0, 0), "replica": (256 * 1024**2, 64 * 1024**2, 60),
           "pubsub": (32 * 1024**2, 8 * 1024**2, 60)}, on_change=_keep_other_classes),
    Param("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, (), 1024 * 1024, LLMAX),
    Param("notify-keyspace-events", "string", ""),
    Param("slowlog-log-slower-than", "int", 10000, (), -1, LLMAX),
    Param("slowlog-max-len", "int", 128, (), 0, LLMAX),
    Param("latency-monitor-threshold", "int", 0, (), 0, LLMAX),
    Param("busy-reply-threshold", "int", 5000, ("lua-time-limit",), 0, LLMAX),
    Param("dir", "string", ".", protected=True),
    Param("dbfilename", "string", "dump.rdb", protected=True),
    Param("save", "save", [(3600, 1), (300, 100), (60, 10000)]),
    Param("rdbcompression", "bool", True),
    Param("rdbchecksum", "bool", True, immutable=True),
    Param("stop-writes-on-bgsave-error", "bool", True),
    Param("appendonly", "bool", False),
    Param("appendfilename", "string", "appendonly.aof", immutable=True),
    Param("appenddirname", "string", "appendonlydir", immutable=True),
    Param("appendfsync", "enum", "everysec", choices=("everysec", "always", "no")),
    Param("no-appendfsync-on-rewrite", "bool", False),
    Param("auto-aof-rewrite-percentage", "int", 100, (), 0, 2**31 - 1),
    Param("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, (), 0, LLMAX),
    Param("aof-load-truncated", "bool", True),
    Param("aof-use-rdb-preamble", "bool", True),
    Param("aof-timestamp-enabled", "bool", False),
    Param("replica-read-only", "bool", True, ("slave-read-only",)),
    Param("min-replicas-to-write", "int", 0, ("min-slaves-to-write",), 0, 2**31 - 1),
    Param("min-replicas-max-lag", "int", 10, ("min-slaves-max-lag",), 0, 2**31 - 1),
    Param("repl-backlog-size", "memory", 1024 * 1024, (), 1, LLMAX),
    Param("repl-backlog-ttl", "int", 3600, (), 0, 2**31 - 1),
    Param("repl-timeout", "int", 60, (), 1, 2**31 - 1),
    Param("repl-ping-replica-period", "int", 10, ("repl-ping-slave-period",), 1, 2**31 - 1),
    Param("repl-diskless-sync", "bool", True),
    Param("repl-diskless-sync-delay", "int", 5, (), 0, 2**31 - 1),
    Param("replica-priority", "int", 100, ("slave-priority",), 0, 2**31 - 1),
    Param("replica-announced", "bool", True),
    Param("replica-serve-stale-data", "bool", True, ("slave-serve-stale-data",)),
    Param("cluster-enabled", "bool", False, immutable=True),
    Param("cluster-config-file", "string", "nodes.conf", immutable=True),
    Param("cluster-port", "int", 0, (), 0, 65535, immutable=True),
    Param("cluster-node-timeout", "int", 15000, (), 0, LLMAX),
    Param("cluster-require-full-coverage", "bool", True),
    Param("cluster-allow-reads-when-down", "bool", False),
    Param("cluster-allow-pubsubshard-when-down", "bool", True),
    Param("cluster-allow-replica-migration", "bool", True),
    Param("cluster-replica-no-failover", "bool", False, ("cluster-slave-no-failover",)),
    Param("cluster-replica-validity-factor", "int", 10, ("cluster-slave-validity-factor",),
          0, 2**31 - 1),
    Param("cluster-migration-barrier", "int", 1, (), 0, 2**31 - 1),
    Param("cluster-preferred-endpoint-type", "enum", "ip",
          choices=("ip", "hostname", "unknown-endpoint")),
    Param("cluster-announce-ip", "string", ""),
    Param("cluster-announce-hostname", "string", ""),
    Param("cluster-announce-port", "int", 0, (), 0, 65535),
    Param("cluster-announce-bus-port", "int", 0, (), 0, 65535),
    Param("cluster-announce-tls-port", "int", 0, (), 0, 65535),
    Param("cluster-link-sendbuf-limit", "memory", 0, (), 0, LLMAX),
    Param("latency-tracking", "bool", True),
    Param("io-threads", "int", 1, (), 1, 128, immutable=True),
    Param("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning")),
    Param("logfile", "string", "", immutable=True),
    Param("daemonize", "bool", False, immutable=True),
    Param("enable-debug-command", "enum", "no", choices=("no", "yes", "local"),
          immutable=True),
    Param("enable-module-command", "enum", "no", choices=("no", "yes", "local"),
          immutable=True),
    Param("enable-protected-configs", "enum", "no", choices=("no", "yes", "local"),
          immutable=True),
]


class Config:
    """The live values of every parameter, with CONFIG GET/SET semantics."""

    def __init__(self) -> None:
        self.params: dict[str, Param] = {}
        self.values: dict[str, Any] = {}
        # Each Config owns copies: engines hang their own on_change callbacks on them.
        for p in PARAMS:
            self.declare(replace(p))

    def declare(self, param: Param) -> None:
        self.params[param.name] = param
        for alias in param.aliases:
            self.params[alias] = param
        self.values[param.name] = param.default

    def param(self, name: str) -> Param | None:
        return self.params.get(name.lower())

    def __getitem__(self, name: str) -> Any:
        return self.values[self.params[name].name]

    def set(self, name: str, text: str, *, startup: bool = False) -> None:
        """Set from text; raises ConfigError (or ErrorReply) with Redis's reason."""
        p = self.param(name)
        if p is None:
            raise ConfigError("unknown")
        if p.immutable and not startup:
            raise ConfigError("can't set immutable config")
        value = p.parse(text)
        old = self.values[p.name]
        self.values[p.name] = value
        if p.on_change is not None:
            try:
                p.on_change(old, value)
            except (ConfigError, ErrorReply):
                self.values[p.name] = old
                raise

    def set_value(self, name: str, value: Any) -> None:
        p = self.params[name]
        old = self.values[p.name]
        self.values[p.name] = value
        if p.on_change is not None:
            p.on_change(old, value)

    def get_matching(self, pattern: str) -> list[tuple[str, str]]:
        """Name/value pairs whose name or alias matches the glob ``pattern``."""
        from .glob import compile_glob

        match = compile_glob(pattern.encode("utf-8", "surrogateescape"), True)
        out: dict[str, str] = {}
        for name, p in self.params.items():
            if name in out:
                continue
            if match(name.encode()):
                out[name] = p.render(self.values[p.name])
        return list(out.items())

    def rendered(self, name: str) -> str:
        p = self.params[name]
        return p.render(self.values[p.name])
