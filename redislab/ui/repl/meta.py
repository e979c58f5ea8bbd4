"""The REPL's own commands (``:help``, ``:clock``, ``:advance`` ...), declared with a decorator.

Each meta-command is a function registered with :func:`meta`: its name, aliases, a one-line
syntax and summary (shown by ``:help`` and as hints), and optionally how to complete its
arguments. The completer, the hint and ``:help`` all read the same registry, as the command
table serves Redis commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ...engine.clock import parse_duration
from ..backend import NeedsEngine
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
        shell.redis_help(args)
        return
    frags = [("info.title", "REPL commands\n")]
    width = max(len(f":{m.name} {m.syntax}") for m in META.values())
    for m in sorted(META.values(), key=lambda m: m.name):
        head = f":{m.name} {m.syntax}".rstrip()
        frags.append(("info", f"  {head:<{width}}  "))
        frags.append(("info.dim", f"{m.summary}\n"))
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
