"""Server commands: CONFIG, INFO, TIME, LASTSAVE, DEBUG and LOLWUT."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable

from ...protocol.reply import OK, ErrorReply, MapReply, Status, Verbatim
from .. import errors
from ..args import parse_int
from ..config import ConfigError, Param
from ..glob import compile_glob
from ..info import info_text, last_save_time

if TYPE_CHECKING:
    from ..session import Session


# ------------------------------------------------------------------------------------------
# CONFIG


def config_get_command(c: "Session", argv: list[bytes]) -> Any:
    cfg = c.engine.config
    # Keys compare without case, as Redis's result dictionary does; an exact name is reported
    # as it was typed, a pattern reports the names (and old aliases) it matched.
    found: dict[str, tuple[str, Param]] = {}
    for raw in argv[2:]:
        name = raw.decode("utf-8", "surrogateescape")
        if not any(ch in name for ch in "[*?"):
            key = name.lower()
            if key not in found:
                p = cfg.params.get(key)
                if p is not None:
                    found[key] = (name, p)
            continue
        match = compile_glob(raw, True)
        for pname, p in cfg.params.items():
            if pname not in found and match(pname.encode()):
                found[pname] = (pname, p)
    return MapReply((shown.encode("utf-8", "surrogateescape"),
                     p.render(cfg.values[p.name]).encode("utf-8", "surrogateescape"))
                    for shown, p in found.values())


def _allowed(setting: str, c: "Session") -> bool:
    """allowProtectedAction: ``yes``, or ``local`` for a client on this machine."""
    return setting == "yes" or (setting == "local" and is_local(c))


def is_local(c: "Session") -> bool:
    addr = c.addr
    return addr == "in-process" or addr.startswith(("127.", "[::1]", "::1")) \
        or addr.startswith("/")


def config_set_command(c: "Session", argv: list[bytes]) -> Any:
    cfg = c.engine.config
    if len(argv) % 2:
        raise ErrorReply(errors.SYNTAX)
    chosen: list[tuple[str, Param, str]] = []
    unknown: str | None = None
    problem: tuple[str, str] | None = None
    seen: set[str] = set()
    for i in range(2, len(argv), 2):
        typed = argv[i].decode("utf-8", "surrogateescape")
        key = typed.lower()
        p = cfg.params.get(key)
        if p is None:
            unknown = unknown or typed
            continue
        if unknown is not None or problem is not None:
            continue
        if p.immutable:
            problem = (typed, "can't set immutable config")
        elif p.protected and not _allowed(cfg["enable-protected-configs"], c):
            problem = (typed, "can't set protected config")
        elif key in seen:
            problem = (typed, "duplicate parameter")
        seen.add(key)
        chosen.append((key, p, argv[i + 1].decode("utf-8", "surrogateescape")))
    if unknown is not None:
        raise ErrorReply("ERR Unknown option or number of arguments for CONFIG SET - '%s'"
                         % unknown)
    if problem is not None:
        raise _set_failed(*problem)
    # Every value is checked before any is stored, so a bad one changes nothing.
    parsed = []
    for key, p, text in chosen:
        try:
            parsed.append((key, p, p.parse(text)))
        except ConfigError as e:
            raise _set_failed(key, str(e)) from None
    values = cfg.values
    old = {p.name: values[p.name] for _, p, _ in parsed}
    for _, p, value in parsed:
        values[p.name] = value
    applied: list[Param] = []
    for key, p, value in parsed:
        if p.on_change is None or old[p.name] == value:
            continue
        try:
            p.on_change(old[p.name], value)
        except (ConfigError, ErrorReply) as e:
            _restore(cfg, old, applied)
            reason = e.message if isinstance(e, ErrorReply) else str(e)
            raise _set_failed(key, reason) from None
        applied.append(p)
    return OK


def _restore(cfg: Any, old: dict[str, Any], applied: list[Param]) -> None:
    current = {name: cfg.values[name] for name in old}
    cfg.values.update(old)
    for p in applied:
        try:
            p.on_change(current[p.name], old[p.name])  # type: ignore[misc]
        except (ConfigError, ErrorReply):
            pass


def _set_failed(name: str, reason: str) -> ErrorReply:
    return ErrorReply("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                      % (name, reason))


def config_resetstat_command(c: "Session", argv: list[bytes]) -> Any:
    eng = c.engine
    eng.stats.reset()
    for counters in (eng.cmd_calls, eng.cmd_usec, eng.cmd_rejected, eng.cmd_failed):
        counters[:] = [0] * len(counters)
    eng.extensions.pop("used_memory_peak", None)
    hook = eng.extensions.get("resetstat")
    if hook is not None:
        hook()
    return OK


def config_rewrite_command(c: "Session", argv: list[bytes]) -> Any:
    path = c.engine.extensions.get("config_file")
    if not path:
        raise ErrorReply("ERR The server is running without a config file")
    try:
        rewrite_config_file(c.engine.config, str(path))
    except OSError as e:
        raise ErrorReply(f"ERR Rewriting config file: {e.strerror or e}") from None
    return OK


_REWRITE_MARK = "# Generated by CONFIG REWRITE"


def _quote(text: str) -> str:
    """sdscatrepr: a double-quoted string with C-style escapes."""
    out = ['"']
    for ch in text.encode("utf-8", "surrogateescape"):
        if ch in (0x5C, 0x22):
            out.append("\\" + chr(ch))
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 32 <= ch < 127:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {10: "\\n", 13: "\\r", 9: "\\t", 7: "\\a", 8: "\\b"}


def _format_memory(n: int) -> str:
    for unit, size in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if n and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def _config_lines(p: Param, value: Any) -> list[str]:
    """How CONFIG REWRITE writes a parameter's value: one line, or one per save rule."""
    if p.kind == "save":
        return [f"save {s} {n}" for s, n in value] or ['save ""']
    if p.kind == "memory":
        text = _format_memory(value)
    elif p.kind == "string":
        text = _quote(value)
    else:
        text = p.render(value)
    return [f"{p.name} {text}"]


def rewrite_config_file(cfg: Any, path: str) -> None:
    """CONFIG REWRITE: update the file in place, keeping comments and unknown lines.

    A parameter already in the file gets its lines rewritten with the running value (an old
    alias becomes the current name); one that differs from its default and is not in the
    file is appended after a ``# Generated by CONFIG REWRITE`` line; surplus old lines go.
    """
    import os

    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        lines = []
    if lines and lines[-1] == "":
        lines.pop()
    has_tail = _REWRITE_MARK in lines
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        p = cfg.params.get(words[0].lower())
        if p is not None:
            where.setdefault(p.name, []).append(i)
    out: list[str | None] = list(lines)
    appended: list[str] = []
    for name, p in cfg.params.items():
        if name != p.name:
            continue  # an alias: its canonical entry does the work
        value = cfg.values[p.name]
        new = _config_lines(p, value)
        old = where.get(p.name, [])
        if not old and value == p.default:
            continue
        for i, line in zip(old, new):
            out[i] = line
        for i in old[len(new):]:
            out[i] = None
        appended.extend(new[len(old):])
    result = [line for line in out if line is not None]
    if appended:
        if not has_tail:
            if result and result[-1] != "":
                result.append("")
            result.append(_REWRITE_MARK)
        result.extend(appended)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("\n".join(result) + "\n")
    os.replace(tmp, path)


def config_help_command(c: "Session", argv: list[bytes]) -> Any:
    return _help("CONFIG", (
        ("GET <pattern> [<pattern> ...]",
         "Parameters whose names match any glob-style pattern, with their values."),
        ("SET <parameter> <value> [<parameter> <value> ...]",
         "Change parameters; all of them change, or none does."),
        ("RESETSTAT", "Zero the counters INFO reports (commands, errors, hits and misses)."),
        ("REWRITE", "Save the running configuration into the configuration file."),
    ))


def _help(container: str, entries: tuple[tuple[str, str], ...]) -> list[Status]:
    lines = [f"{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for syntax, what in (*entries, ("HELP", "Show this text.")):
        lines.append(syntax)
        lines.append("    " + what)
    return [Status(line) for line in lines]


# ------------------------------------------------------------------------------------------
# INFO, TIME, LASTSAVE


def info_command(c: "Session", argv: list[bytes]) -> Any:
    return Verbatim(info_text(c.engine, argv[1:]).encode(), "txt")


def time_command(c: "Session", argv: list[bytes]) -> Any:
    us = c.engine.clock.time_us()
    return [b"%d" % (us // 1_000_000), b"%d" % (us % 1_000_000)]


def lastsave_command(c: "Session", argv: list[bytes]) -> Any:
    return last_save_time(c.engine)


# ------------------------------------------------------------------------------------------
# DEBUG

DebugHandler = Callable[["Session", list[bytes]], Any]

# Subcommand name -> (handler, number of arguments counting DEBUG itself or -N for "at least",
# one-line help). Other modules add theirs with :func:`register_debug`.
DEBUG_SUBCOMMANDS: dict[str, tuple[DebugHandler, int, str, str]] = {}

# DEBUG subcommands Redis has that redislab does not run.
_DEBUG_ELSEWHERE = frozenset({
    "AOF-FLUSH-SLEEP", "ASSERT", "CHANGE-REPL-ID", "CONFIG-REWRITE-FORCE-ALL",
    "CRASH-AND-RECOVER", "DIGEST", "DIGEST-VALUE", "ERROR", "LEAK", "LOG", "HTSTATS",
    "HTSTATS-KEY", "LOADAOF", "REPLICATE", "MALLCTL", "MALLCTL-STR", "OBJECT",
    "DROP-CLUSTER-PACKET-FILTER", "OOM", "PANIC", "POPULATE", "PROTOCOL", "RELOAD", "RESTART",
    "SDSLEN", "SEGFAULT", "QUICKLIST-PACKED-THRESHOLD", "SET-SKIP-CHECKSUM-VALIDATION",
    "STRINGMATCH-TEST", "STRUCTSIZE", "LISTPACK", "QUICKLIST", "CLIENT-EVICTION", "PAUSE-CRON",
    "REPLYBUFFER", "JMAP", "SET-DISABLE-DENY-SCRIPTS",
})


def register_debug(name: str, handler: DebugHandler, argc: int, syntax: str,
                   summary: str) -> None:
    """Make ``DEBUG <name>`` run ``handler``; ``argc`` counts DEBUG itself (-N: at least N)."""
    DEBUG_SUBCOMMANDS[name.upper()] = (handler, argc, syntax, summary)


def debug_command(c: "Session", argv: list[bytes]) -> Any:
    setting = c.engine.config["enable-debug-command"]
    if not _allowed(setting, c):
        raise ErrorReply(
            'ERR DEBUG command not allowed. If the enable-debug-command option is set to '
            '"local", you can run it from a local connection, otherwise you need to set this '
            'option in the configuration file, and then restart the server.')
    sub = argv[1].decode("latin-1").upper()
    entry = DEBUG_SUBCOMMANDS.get(sub)
    if entry is None:
        if sub in _DEBUG_ELSEWHERE:
            raise ErrorReply(f"ERR DEBUG {sub} is not available in redislab")
        raise _debug_syntax(argv[1])
    handler, argc, _, _ = entry
    if (len(argv) != argc) if argc > 0 else (len(argv) < -argc):
        raise _debug_syntax(argv[1])
    return handler(c, argv)


def _debug_syntax(sub: bytes) -> ErrorReply:
    return ErrorReply(
        "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."
        % sub[:128].decode("utf-8", "surrogateescape"))


_STRTOD = re.compile(rb"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)",
                     re.IGNORECASE)


def _strtod(data: bytes) -> float:
    """C's strtod: the longest number at the start, 0 when there is none."""
    m = _STRTOD.match(data)
    return float(m.group()) if m else 0.0


def _debug_sleep(c: "Session", argv: list[bytes]) -> Any:
    seconds = _strtod(argv[2])
    # Redis truncates to whole microseconds and gives up on a negative or absurd duration.
    if seconds != seconds or seconds <= 0 or seconds > 2**63 / 1e6:
        return OK
    clock = c.engine.clock
    if clock.manual:
        # The server is stopped: time passes but nothing periodic runs meanwhile.
        clock.advance(int(seconds * 1_000_000) / 1_000_000)  # type: ignore[attr-defined]
    else:
        time.sleep(seconds)  # blocks every client, holding the engine lock, as Redis does
    return OK


def _atoi(data: bytes) -> int:
    m = re.match(rb"\s*[+-]?\d+", data)
    return int(m.group()) if m else 0


def _debug_set_active_expire(c: "Session", argv: list[bytes]) -> Any:
    c.engine.active_expire_enabled = bool(_atoi(argv[2]))
    return OK


def _debug_help(c: "Session", argv: list[bytes]) -> Any:
    entries = tuple((syntax, summary) for _, (_, _, syntax, summary)
                    in sorted(DEBUG_SUBCOMMANDS.items()) if syntax != "HELP")
    return _help("DEBUG", entries)


register_debug("SLEEP", _debug_sleep, 3, "SLEEP <seconds>",
               "Stop the whole server for <seconds> (fractions allowed); no client is served.")
register_debug("SET-ACTIVE-EXPIRE", _debug_set_active_expire, 3, "SET-ACTIVE-EXPIRE <0|1>",
               "0 stops expiring keys in the background (keys then expire only when touched); "
               "1 turns it back on.")
register_debug("HELP", _debug_help, 2, "HELP", "Show this text.")


# ------------------------------------------------------------------------------------------
# LOLWUT


def lolwut_command(c: "Session", argv: list[bytes]) -> Any:
    from ..engine import VERSION

    version = VERSION
    if len(argv) >= 3 and argv[1].lower() == b"version":
        v = parse_int(argv[2])
        if v is None:
            raise ErrorReply(errors.NOT_INTEGER)
        version = "%d.0.0" % (v & 0xFFFFFFFF)
    art = ""
    if version.split(".")[0] in ("5", "6"):
        # Versions 5 and 6 drew generative art above this line; redislab only names it.
        art = "(generative art is not drawn by redislab)\n\n"
    return Verbatim(f"{art}Redis ver. {VERSION}\n".encode(), "txt")
