"""The REPL's own commands (``:help``, ``:clock``, ``:advance`` ...), declared with a decorator.

Each meta-command is a function registered with :func:`meta`: its name, aliases, a one-line
syntax and summary (shown by ``:help`` and as hints), and optionally how to complete its
arguments. The completer, the hint and ``:help`` all read the same registry, as the command
table serves Redis commands.
"""

from __future__ import annotations

import textwrap
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ...engine.clock import parse_duration
from ..backend import DEFAULT_CLIENT, NeedsEngine
from .. import annotate as ann
from .. import docs

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["MetaCommand", "META", "meta", "find_meta", "run_meta"]

Handler = Callable[["Shell", list[str]], None]
Completer = Callable[["Shell", int, str], list[str]]


@dataclass(frozen=True)
class MetaCommand:
    name: str                 # without the colon
    handler: Handler
    syntax: str = ""          # arguments, in the notation of the command table's hints
    summary: str = ""
    aliases: tuple[str, ...] = ()
    complete: Completer | None = None


META: dict[str, MetaCommand] = {}
_ALIASES: dict[str, str] = {}


def meta(name: str, syntax: str = "", summary: str = "", aliases: tuple[str, ...] = (),
         complete: Completer | None = None) -> Callable[[Handler], Handler]:
    """Register a meta-command."""

    def register(fn: Handler) -> Handler:
        META[name] = MetaCommand(name, fn, syntax, summary, aliases, complete)
        for a in aliases:
            _ALIASES[a] = name
        return fn

    return register


def find_meta(word: str) -> MetaCommand | None:
    """The meta-command ``word`` names (``:help``, ``help`` or an alias)."""
    name = word.lstrip(":").lower()
    name = _ALIASES.get(name, name)
    return META.get(name)


def run_meta(shell: "Shell", words: list[str]) -> None:
    cmd = find_meta(words[0])
    if cmd is None:
        shell.error(f"unknown meta-command {words[0]} (:help lists them)")
        return
    if cmd.name == "clock" and getattr(shell.backend, "kind", "embedded") != "embedded":
        shell.error(":clock needs the embedded engine: a real server keeps its own time "
                    "(run redislab without --url)")
        return
    try:
        cmd.handler(shell, words[1:])
    except NeedsEngine as e:
        shell.error(str(e))


def _choices(*options: str) -> Completer:
    def complete(shell: "Shell", index: int, prefix: str) -> list[str]:
        return [o for o in options if index == 0 and o.startswith(prefix.lower())]

    return complete


# ------------------------------------------------------------------------------------------
# The commands

@meta("help", "[command|@group|:meta-command]",
      "the REPL's commands, or the card of a Redis command or group", aliases=("h", "?"),
      complete=lambda shell, i, p: [t for t in docs.help_topics() + [":" + m for m in META]
                                    if i == 0 and t.lower().startswith(p.lower())])
def help_meta(shell: "Shell", args: list[str]) -> None:
    if args:
        if args[0].startswith(":"):
            cmd = find_meta(args[0])
            if cmd is None:
                shell.error(f"no meta-command {args[0]}")
                return
            shell.emit([("info.title", f":{cmd.name} {cmd.syntax}".rstrip() + "\n"),
                        ("info", f"  {cmd.summary}\n")])
            return
        if find_meta(args[0]) is not None and not docs.find_commands(" ".join(args)):
            help_meta(shell, [":" + args[0]])  # :help load, as :help :load
            return
        shell.redis_help(args)
        return
    frags = [("info.title", "REPL commands\n")]
    width = max(len(f":{m.name} {m.syntax}") for m in META.values())
    # Summaries wrap beside the command column rather than under it.
    room = max(30, _width() - width - 5)
    for m in sorted(META.values(), key=lambda m: m.name):
        head = f":{m.name} {m.syntax}".rstrip()
        frags.append(("info", f"  {head:<{width}}  "))
        lines = textwrap.wrap(m.summary, room) or [""]
        frags.append(("info.dim", lines[0] + "\n"))
        for more in lines[1:]:
            frags.append(("info.dim", f"  {'':<{width}}  {more}\n"))
    frags.append(("info.dim", "  @NAME CMD ...   run one command as client NAME\n"
                              "  help CMD, help @group   Redis command help, as in redis-cli\n"
                              "  Tab completes, Ctrl-R searches history, Ctrl-C cancels the "
                              "line, Ctrl-D leaves\n"))
    shell.emit(frags)


@meta("quit", "", "leave the REPL", aliases=("q", "exit"))
def quit_meta(shell: "Shell", args: list[str]) -> None:
    shell.running = False


def _complete_clients(shell: "Shell", index: int, prefix: str) -> list[str]:
    if index:
        return []
    return [n for n in shell.backend.client_names() if n.startswith(prefix)]


@meta("client", "[name]", "switch to client NAME (opened on first use), or list clients",
      complete=_complete_clients)
def client_meta(shell: "Shell", args: list[str]) -> None:
    if not args:
        frags = []
        for name in shell.backend.client_names():
            s = shell.backend.session(name)
            mark = "*" if name == shell.client else " "
            state = []
            if s.db.id:
                state.append(f"db {s.db.id}")
            if s.multi is not None:
                state.append(f"in MULTI ({len(s.multi)} queued)")
            if s.blocked is not None:
                state.append("blocked")
            if s.channels or s.patterns:
                state.append(f"subscribed to {len(s.channels) + len(s.patterns)}")
            frags.append(("info", f" {mark} {name} (id {s.id})"))
            frags.append(("info.dim", f"  {', '.join(state)}\n" if state else "\n"))
        shell.emit(frags)
        return
    name = args[0]
    if name.startswith("@"):
        name = name[1:]
    if not name or any(c.isspace() for c in name):
        shell.error("a client name is one word")
        return
    new = name not in shell.backend.client_names()
    shell.backend.session(name)
    shell.client = name
    shell.info(f"now typing as client {name}" + (" (new connection)" if new else ""))


@meta("clock", "[manual|real]",
      "freeze time (manual: only :advance moves it) or let it flow (real)",
      complete=_choices("manual", "real"))
def clock_meta(shell: "Shell", args: list[str]) -> None:
    clock = shell.backend.clock
    if clock is None:
        shell.error("this engine's clock cannot be switched")
        return
    if not args:
        mode = "manual" if clock.manual else "real"
        shell.info(f"clock: {mode}, now {shell.now_text()}"
                   + (f", {clock.skipped_seconds:g}s skipped by :advance"
                      if clock.skipped_seconds else ""))
        return
    mode = args[0].lower()
    if mode == "manual":
        clock.freeze()
        shell.info(f"clock frozen at {shell.now_text()}: time moves only with :advance")
    elif mode == "real":
        clock.release()
        shell.info("clock running in real time again (from where it stood)")
    else:
        shell.error("usage: :clock manual|real")


@meta("advance", "duration", "move the clock forward (30s, 250ms, 5m, 2h, 1d) and run the "
      "periodic work that time would have run", aliases=("wait",),
      complete=_choices("1s", "10s", "30s", "1m", "5m", "1h", "1d"))
def advance_meta(shell: "Shell", args: list[str]) -> None:
    if len(args) != 1:
        shell.error("usage: :advance DURATION (e.g. 30s, 250ms, 5m)")
        return
    try:
        seconds = parse_duration(args[0])
    except ValueError:
        shell.error(f"not a duration: {args[0]} (try 30s, 250ms, 5m, 2h)")
        return
    if seconds < 0:
        shell.error("time only moves forward")
        return
    shell.advance(seconds)


@meta("reset", "", "start over: an empty engine with the same configuration, one client")
def reset_meta(shell: "Shell", args: list[str]) -> None:
    shell.reset()
    shell.info("engine reset: no keys, one client (default)")


@meta("annotate", "[off|brief|full]", "how much to show under each reply",
      complete=_choices(*ann.MODES))
def annotate_meta(shell: "Shell", args: list[str]) -> None:
    if not args:
        shell.info(f"annotations: {shell.annotate}")
        return
    mode = args[0].lower()
    if mode not in ann.MODES:
        shell.error("usage: :annotate off|brief|full")
        return
    shell.set_annotate(mode)
    shell.info(f"annotations: {mode}")


@meta("explain", "", "everything about the last command: its cost, N, events, pitfalls")
def explain_meta(shell: "Shell", args: list[str]) -> None:
    last = shell.last
    if last is None:
        shell.info("nothing to explain yet: run a command first")
        return
    history = list(shell.history)[:-1]
    shell.emit(ann.explain(last, history))


@meta("peek", "key", "type, encoding, TTL and size of a key, without touching it",
      complete=lambda shell, i, p: [k.decode("utf-8", "replace")
                                    for k in shell.backend.key_names(shell.client,
                                                                     p.encode(), 50)]
      if i == 0 else [])
def peek_meta(shell: "Shell", args: list[str]) -> None:
    if len(args) != 1:
        shell.error("usage: :peek KEY")
        return
    info = shell.backend.key_info(shell.client, args[0].encode("utf-8", "surrogateescape"))
    if info is None:
        shell.info(f"{args[0]}: no such key")
        return
    ttl = "no TTL" if info.ttl_ms is None else f"TTL {info.ttl_ms / 1000:g}s"
    shell.info(f"{args[0]}: {info.type}, encoding {info.encoding}, "
               f"{info.size:,} {'bytes' if info.type == 'string' else 'elements'}, {ttl}")


@meta("raw", "[on|off]", "print replies as redis-cli --raw does", complete=_choices("on", "off"))
def raw_meta(shell: "Shell", args: list[str]) -> None:
    if args:
        if args[0].lower() not in ("on", "off"):
            shell.error("usage: :raw on|off")
            return
        shell.raw = args[0].lower() == "on"
    shell.info(f"raw output: {'on' if shell.raw else 'off'}")


@meta("hints", "[on|off]", "show the remaining syntax while typing", complete=_choices("on", "off"))
def hints_meta(shell: "Shell", args: list[str]) -> None:
    if args:
        if args[0].lower() not in ("on", "off"):
            shell.error("usage: :hints on|off")
            return
        shell.hints = args[0].lower() == "on"
    shell.info(f"hints: {'on' if shell.hints else 'off'}")


# ------------------------------------------------------------------------------------------
# Looking inside: datasets, drawings, memory, configuration, crashes, the editor.
# Their modules are imported on first use, so starting the REPL stays quick.

def _width() -> int:
    import shutil

    return max(40, min(160, shutil.get_terminal_size((100, 24)).columns))


def _complete_keys(shell: "Shell", index: int, prefix: str) -> list[str]:
    if index:
        return []
    return [k.decode("utf-8", "replace")
            for k in shell.backend.key_names(shell.client, prefix.encode("utf-8",
                                                                         "surrogateescape"), 50)]


def _key_arg(shell: "Shell", args: list[str], usage: str) -> bytes | None:
    if len(args) != 1:
        shell.error(f"usage: {usage}")
        return None
    key = args[0].encode("utf-8", "surrogateescape")
    # A quoted "\xff" reaches us as the character U+00FF: if the UTF-8 spelling names no
    # key, the bytes as typed (one per character) may.
    if any("\x80" <= c <= "\xff" for c in args[0]) and all(c <= "\xff" for c in args[0]) \
            and shell.backend.key_info(shell.client, key) is None:
        raw = args[0].encode("latin-1")
        if shell.backend.key_info(shell.client, raw) is not None:
            return raw
    return key


def _embedded_db(shell: "Shell", what: str) -> tuple[Any, Any]:
    """The engine and the client's database; NeedsEngine on a real server."""
    backend: Any = shell.backend
    if getattr(backend, "kind", "") != "embedded":
        raise NeedsEngine(f"{what} reads the embedded engine's structures; a real server "
                          "does not show them (run redislab without --url)")
    return backend.engine, backend.session(shell.client).db


def _mb(n: int) -> str:
    sign = "-" if n < 0 else "+"
    n = abs(n)
    if n >= 1 << 20:
        return f"{sign}{n / (1 << 20):,.1f} MB"
    if n >= 1 << 10:
        return f"{sign}{n / (1 << 10):,.1f} KB"
    return f"{sign}{n:,} B"


def _complete_load(shell: "Shell", index: int, prefix: str) -> list[str]:
    from .. import datasets

    if index == 0:
        return [n for n in datasets.DATASETS if n.startswith(prefix.lower())]
    words = ["1000", "10000", "100000"]
    for d in datasets.DATASETS.values():
        words += list(d.flags)
    return sorted({w for w in words if w.startswith(prefix.lower())})


@meta("load", "[dataset [count] [hashes]]",
      "load a seeded sample dataset (leaderboard, sessions, pageviews); no argument lists "
      "them", complete=_complete_load)
def load_meta(shell: "Shell", args: list[str]) -> None:
    import time

    from .. import datasets
    from ..progress import ProgressLine

    if not args:
        frags = [("info.title", "datasets (:load NAME [COUNT]; the same seed every time)\n")]
        for d in datasets.DATASETS.values():
            extra = f" [{'|'.join(d.flags)}]" if d.flags else ""
            frags.append(("info", f"  {d.name:<12} {d.default:>10,} {d.unit:<8}{extra}\n"))
            for line in textwrap.wrap(d.summary, max(30, _width() - 16)):
                frags.append(("info.dim", f"  {'':<12} {line}\n"))
        shell.emit(frags)
        return
    ds = datasets.find(args[0])
    if ds is None:
        shell.error(f"no dataset {args[0]}: try " + ", ".join(datasets.DATASETS))
        return
    count = ds.default
    flags: set[str] = set()
    for word in args[1:]:
        low = word.lower().replace(",", "").replace("_", "")
        if low.isdigit():
            count = int(low)
        elif low in ds.flags:
            flags.add(low)
        else:
            shell.error(f"usage: :load {ds.name} [count]"
                        + "".join(f" [{f}]" for f in ds.flags)
                        + f" (count: 1 to {ds.maximum:,} {ds.unit})")
            return
    session = shell.backend.session(shell.client)
    if session.multi is not None or session.blocked is not None or session.channels \
            or session.patterns or session.shard_channels:
        shell.error(f"client {shell.client} is in a transaction, blocked or subscribed: "
                    ":load needs a client free to run commands (:client other)")
        return
    bar = ProgressLine(shell.write, f"loading {ds.name}", ds.unit, enabled=shell.interactive)
    started = time.perf_counter()
    try:
        report = datasets.load(shell.backend, shell.client, ds, count, flags=flags,
                               progress=bar.update)
    except datasets.LoadError as e:
        bar.clear()
        if e.keys_now is None:
            shell.error(str(e))
        else:
            shell.error(f"stopped loading {ds.name}: {e} ({e.keys_now:,} keys now)")
        return
    bar.clear()
    took = time.perf_counter() - started
    added = report.keys_after - report.keys_before
    text = (f"{'stopped loading' if report.interrupted else 'loaded'} {ds.name}: "
            f"{count:,} {ds.unit}" + (f" ({', '.join(sorted(flags))})" if flags else "")
            + f"; keys {report.keys_before:,} -> {report.keys_after:,} ({added:+,})")
    if report.memory_before is not None and report.memory_after is not None:
        text += (f"; memory {_mb(report.memory_after - report.memory_before)} "
                 f"(used_memory {report.memory_after:,})")
    if report.evicted:
        text += f"; {report.evicted:,} keys evicted on the way (maxmemory)"
    if shell.interactive:
        text += f"; {took:.1f}s"
    shell.emit([("info.ok" if not report.interrupted else "info.error", text + "\n")])


@meta("viz", "key", "draw a key's structure: quicklist nodes, skiplist levels and scores, "
      "HyperLogLog registers, stream nodes, groups and PEL, hash/set encodings",
      complete=_complete_keys)
def viz_meta(shell: "Shell", args: list[str]) -> None:
    key = _key_arg(shell, args, ":viz KEY")
    if key is None:
        return
    if getattr(shell.backend, "kind", "") != "embedded":
        _viz_remote(shell, args[0], key)
        return
    engine, db = _embedded_db(shell, ":viz")
    from ..viz import visualize

    frags = visualize(engine, db, key, _width())
    if frags is None:
        shell.info(f"{args[0]}: no such key")
        return
    shell.emit(frags)


def _viz_remote(shell: "Shell", name: str, key: bytes) -> None:
    """On a real server only strings (and so HyperLogLogs) can be drawn: from their bytes."""
    from ..viz import visualize_string

    (kind,) = shell.backend.run_batch([[b"TYPE", key]], shell.client)
    kind = str(kind)
    if kind == "none":
        shell.info(f"{name}: no such key")
        return
    if kind != "string":
        raise NeedsEngine(f":viz of a {kind} reads the embedded engine's structures; a real "
                          "server shows only strings and HyperLogLogs (run redislab without "
                          "--url)")
    enc, length, data, limit = shell.backend.run_batch(
        [[b"OBJECT", b"ENCODING", key], [b"STRLEN", key],
         [b"GETRANGE", key, b"0", b"16383"], [b"CONFIG", b"GET", b"hll-sparse-max-bytes"]],
        shell.client)
    if isinstance(limit, list) and limit and isinstance(limit[0], tuple):
        limit = list(limit[0])   # a RESP3 map: (name, value) pairs
    sparse_max = int(limit[1]) if isinstance(limit, list) and len(limit) == 2 else 3000
    if not isinstance(data, bytes) or not isinstance(length, int):
        shell.error(f"{name}: could not read the value")
        return
    shell.emit(visualize_string(key, data, bytes(enc).decode("ascii", "replace")
                                if isinstance(enc, bytes) else str(enc), length, _width(),
                                sparse_max))


@meta("memory", "key", "a key's MEMORY USAGE split into its parts: headers, key, entries, "
      "buckets, nodes, allocator rounding", complete=_complete_keys)
def memory_meta(shell: "Shell", args: list[str]) -> None:
    key = _key_arg(shell, args, ":memory KEY")
    if key is None:
        return
    backend = shell.backend
    if getattr(backend, "kind", "") != "embedded":
        (reply,) = backend.run_batch([[b"MEMORY", b"USAGE", key, b"SAMPLES", b"0"]],
                                     shell.client)
        if reply is None:
            shell.info(f"{args[0]}: no such key")
        elif isinstance(reply, int):
            shell.info(f"{args[0]}: {reply:,} bytes (MEMORY USAGE SAMPLES 0; the parts need "
                       "the embedded engine)")
        else:
            shell.emit_reply(reply, 2)
        return
    from ...engine import introspect
    from ...engine.memory.breakdown import breakdown
    from ..memview import memory_view

    engine, db = _embedded_db(shell, ":memory")
    model = engine.extensions.get("memory")
    if not introspect.is_live(db, key) or model is None:
        shell.info(f"{args[0]}: no such key")
        return
    with engine.lock:
        bd = breakdown(model, db, key, 0)
    if bd is None:
        shell.info(f"{args[0]}: no such key")
        return
    shell.emit(memory_view(bd, _width()))


def _complete_config(shell: "Shell", index: int, prefix: str) -> list[str]:
    if index:
        return []
    return [n for n in shell.backend.config_names() if n.startswith(prefix.lower())]


@meta("config", "[pattern | parameter value]",
      "configuration: name, value, default (* = changed); with a value, CONFIG SET it",
      complete=_complete_config)
def config_meta(shell: "Shell", args: list[str]) -> None:
    if len(args) >= 2:
        value = " ".join(args[1:])
        shell.run([b"CONFIG", b"SET", args[0].encode("utf-8", "surrogateescape"),
                   value.encode("utf-8", "surrogateescape")])
        return
    pattern = args[0].lower() if args else "*"
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"   # a plain word: names containing it
    backend = shell.backend
    if getattr(backend, "kind", "") != "embedded":
        (reply,) = backend.run_batch([[b"CONFIG", b"GET", pattern.encode()]], shell.client)
        pairs = []
        from ...protocol import MapReply

        items = list(reply) if isinstance(reply, MapReply) else \
            list(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else []
        for name, value in items:
            pairs.append((bytes(name).decode("utf-8", "replace"),
                          bytes(value).decode("utf-8", "replace")))
        if not pairs:
            shell.info(f"no parameter matches {pattern}")
            return
        width = max(len(n) for n, _ in sorted(pairs))
        shell.emit([("info", f"  {n:<{width}}  {v}\n") for n, v in sorted(pairs)]
                   + [("info.dim", "  (defaults need the embedded engine)\n")])
        return
    from fnmatch import fnmatchcase

    config = backend.engine.config
    rows = []
    for name in sorted({p.name for p in config.params.values()}):
        if not fnmatchcase(name, pattern):
            continue
        p = config.params[name]
        value = p.render(config.values[name])
        default = p.render(p.default)
        changed = value != default
        if p.sensitive and value:
            value = "(set)"   # a password stays off the screen
        rows.append((name, value, default, changed))
    if not rows:
        shell.info(f"no parameter matches {pattern} (:config lists them all)")
        return
    nw = max(len(r[0]) for r in rows)
    vw = min(30, max(len(r[1]) for r in rows))
    frags = [("info.title", f"  {'parameter':<{nw}}  {'value':<{vw}}  default\n")]
    for name, value, default, changed in rows:
        frags.append(("info.ok" if changed else "info",
                      f"{'*' if changed else ' '} {name:<{nw}}  {value:<{vw}}  "))
        frags.append(("info.dim", f"{default}\n"))
    frags.append(("info.dim", "  * changed from the default; :config NAME VALUE sets one "
                              "(CONFIG SET)\n"))
    shell.emit(frags)


@meta("crash", "[power|process]",
      "pull the plug (power: only fsynced data survives) or kill -9 (process), then "
      "restart from the files and show what was lost", complete=_choices("power", "process"))
def crash_meta(shell: "Shell", args: list[str]) -> None:
    kind = args[0].lower() if args else "power"
    if len(args) > 1 or kind not in ("power", "process"):
        shell.error("usage: :crash [power|process]")
        return
    backend = shell.backend
    if getattr(backend, "kind", "") != "embedded":
        backend.crash(kind)  # raises NeedsEngine with the reason
        return
    engine = backend.engine
    keys_before = sum(len(db.data) for db in engine.dbs)
    frags = [("info.title", f"{'power failure' if kind == 'power' else 'kill -9'}: "
                            f"{keys_before:,} key{'s' if keys_before != 1 else ''} in memory\n")]
    facts, durable = _persistence_facts(engine, kind)
    frags += [("info.dim", f"  {line}\n") for line in facts]
    lost_bytes: list[int] = []

    def seen(event: object) -> None:
        if getattr(event, "what", "") == "crash":
            lost_bytes.append(int(getattr(event, "data", {}).get("lost", 0)))

    unsubscribe = engine.bus.subscribe(seen)
    try:
        backend.crash(kind)
    finally:
        unsubscribe()
    shell.client = DEFAULT_CLIENT
    shell.history.clear()
    new = backend.engine
    keys_after = sum(len(db.data) for db in new.dbs)
    lost = keys_before - keys_after
    if lost_bytes and lost_bytes[0]:
        frags.append(("info.dim", f"  {lost_bytes[0]:,} bytes written but not yet on the "
                                  "disk were lost with the page cache\n"))
    if not durable:
        why = ("no persistence is configured (appendonly no, save \"\")"
               if not engine.config["save"] else
               "the AOF is off and no snapshot had been taken yet")
        frags.append(("info.error", f"  {why}: nothing survives a crash\n"))
    frags.append(("info.ok" if keys_after == keys_before else "info.error",
                  f"restarted from the files: {keys_after:,} key"
                  f"{'s' if keys_after != 1 else ''}"
                  + (f", {lost:,} lost" if lost > 0 else ", nothing lost" if lost == 0
                     else f", {-lost:,} more than before (the files held keys since deleted)")
                  + "; every client was disconnected\n"))
    shell.emit(frags)


def _persistence_facts(engine: Any, kind: str) -> tuple[list[str], bool]:
    """What the files hold right before a crash, and whether anything durable exists."""
    p = engine.extensions.get("persistence")
    if p is None:
        return ["this engine has no persistence"], False
    config = engine.config
    now_s = engine.clock.time_ms() // 1000
    lines = []
    rdb = p.disk.exists(p.rdb_name)
    rules = config["save"]
    rule_text = " ".join(f"{s} {c}" for s, c in rules) if rules else '"" (no automatic ' \
        'snapshots)'
    changes = engine.dirty - p.dirty_at_save
    if rdb:
        lines.append(f"RDB: {p.rdb_name} saved {max(0, now_s - p.lastsave_s):,}s ago; "
                     f"{changes:,} changes since (save {rule_text})")
    else:
        lines.append(f"RDB: no snapshot on disk yet (save {rule_text})")
    if p.child is not None:
        lines.append(f"a background {'save' if p.child.kind == 'rdb' else 'rewrite'} is "
                     "running: it dies with the server")
    aof = p.aof
    durable = rdb
    if aof.state != "off":
        durable = True
        policy = config["appendfsync"]
        unsynced = p.disk.unsynced(aof.incr_name) if aof.incr_name else 0
        when = f"{max(0, now_s - aof.last_fsync_s):,}s ago" if aof.last_fsync_s else "never"
        lines.append(f"AOF: appendfsync {policy}, last fsync {when}; "
                     f"{unsynced + len(aof.buf):,} bytes not fsynced")
        if policy == "no" and kind == "power":
            lines.append("appendfsync no leaves syncing to the kernel, which writes back data "
                         "older than about 30s")
        if kind == "process":
            lines.append("kill -9 keeps what reached the page cache: every write the AOF "
                         "made survives")
    else:
        lines.append("AOF: off (appendonly no)")
    return lines, durable


_EDITED: "weakref.WeakKeyDictionary[Shell, str]" = weakref.WeakKeyDictionary()


@meta("edit", "", "write one command in $EDITOR (e.g. EVAL with a multi-line script): the "
      "file is one command, quoted arguments keep their newlines; it runs when the editor "
      "exits with status 0")
def edit_meta(shell: "Shell", args: list[str]) -> None:
    import os
    import shlex
    import subprocess
    import tempfile

    from ...protocol import split_args

    if args:
        shell.error("usage: :edit (then write one command in the editor)")
        return
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    fd, path = tempfile.mkstemp(prefix="redislab-", suffix=".redis")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(_EDITED.get(shell, ""))
        try:
            status = subprocess.call(shlex.split(editor) + [path],
                                     stdin=None if shell.interactive else subprocess.DEVNULL)
        except (OSError, ValueError) as e:
            shell.error(f"cannot start the editor {editor!r}: {e} (set $EDITOR)")
            return
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    if status != 0:
        shell.error(f"the editor exited with status {status}: nothing was run")
        return
    if not text.strip():
        shell.info("the file was empty: nothing was run")
        return
    _EDITED[shell] = text
    # The whole text is one command, split as redis-cli splits a line: blanks and newlines
    # separate arguments, and a quoted argument keeps its newlines (a script's lines).
    argv = split_args(text.strip())
    if argv is None:
        shell.error("Invalid argument(s): unbalanced quotes in the edited command")
        return
    shown = " ".join(a.decode("utf-8", "replace") for a in argv)
    shown = shown.replace("\n", "⏎")
    shell.emit([("info.dim", (shown if len(shown) <= 120 else shown[:119] + "…") + "\n")])
    shell.run(argv)
