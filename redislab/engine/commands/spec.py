"""The command table: every Redis command declared once, with everything derived from it.

Facts (arity, flags, key specs, argument grammar, group, since, documented complexity) come
from ``data/redis-7.0-commands.json``; our own summaries, the machine-readable cost and the
implementation status come from ``data/docs.toml``. Dispatch, the arity check, flag rules, key
extraction, COMMAND and its subcommands, HELP, completion, hints and the complexity display
all read :data:`TABLE`.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

# Status values of a table entry.
READY = "ready"          # implemented
NOT_YET = "not yet"      # planned; dispatch answers with a clear error
ABSENT = "absent"        # deliberately left out, with a reason


@dataclass(slots=True)
class Cost:
    """Machine-readable complexity: ``big_o`` uses N, M, K as the docs define them."""

    big_o: str = "O(1)"
    n: str = ""       # what N counts, in words ("elements in the sorted set")
    m: str = ""       # what M counts
    k: str = ""       # what K counts
    n_from: str = ""  # where the live N comes from: key, keys, db, args, pairs, reply, ""


@dataclass(slots=True, eq=False)
class CommandSpec:
    name: str                       # "GET", "CONFIG GET"
    group: str
    since: str
    arity: int
    flags: frozenset[str]           # lower-case Redis flags: write, readonly, denyoom ...
    acl_categories: tuple[str, ...]
    key_specs: tuple[dict[str, Any], ...]
    arguments: tuple[dict[str, Any], ...]
    complexity: str
    summary: str = ""
    tips: tuple[str, ...] = ()      # COMMAND INFO's tips (nondeterministic_output ...)
    cost: Cost = field(default_factory=Cost)
    doc_flags: tuple[str, ...] = ()
    deprecated_since: str = ""
    replaced_by: str = ""
    container: str = ""             # parent's name for a subcommand
    subcommands: dict[str, "CommandSpec"] = field(default_factory=dict)
    status: str = READY
    reason: str = ""
    handler: Callable[..., Any] | None = None
    # Derived once for the hot path.
    write: bool = False
    denyoom: bool = False
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    id: int = 0                     # position in the table; used for per-command stats
    # True when dispatch may take the hot path: a bound handler, no subcommands, and a command
    # that can never block (blocking ones go through the careful path, which parks clients).
    fast: bool = False
    sampled: bool = False           # Redis flags it "fast": its time is sampled, not measured

    full_name: str = ""             # as Redis prints it in errors and stats: ``config|get``

    @property
    def subname(self) -> str:
        return self.name.split(" ", 1)[1] if " " in self.name else self.name

    @property
    def is_container(self) -> bool:
        return bool(self.subcommands)

    def arity_ok(self, argc: int) -> bool:
        a = self.arity
        return argc == a if a > 0 else argc >= -a

    # ----------------------------------------------------------------------------------------
    # Key extraction from key specs (db.c getKeysUsingKeySpecs)

    def get_keys(self, argv: list[bytes]) -> list[int]:
        """Positions of the key arguments in ``argv`` (for WATCH, ACL, slots, GETKEYS)."""
        positions: list[int] = []
        argc = len(argv)
        for ks in self.key_specs:
            bs = ks.get("begin_search", {})
            if "index" in bs:
                first = bs["index"]["pos"]
            elif "keyword" in bs:
                kw = bs["keyword"]["keyword"].encode().upper()
                start = bs["keyword"]["startfrom"]
                first = 0
                if start >= 0:
                    rng = range(start, argc)
                else:
                    rng = range(argc + start, 0, -1)
                for i in rng:
                    if 0 < i < argc and argv[i].upper() == kw:
                        first = i + 1
                        break
                if not first:
                    continue
            else:
                continue
            fk = ks.get("find_keys", {})
            if "range" in fk:
                r = fk["range"]
                last, step, limit = r["lastkey"], r["step"], r.get("limit", 0)
                if last >= 0:
                    lastpos = first + last
                else:
                    if limit <= 1:
                        lastpos = argc + last
                    else:
                        lastpos = first + ((argc - first) // limit + last)
            elif "keynum" in fk:
                kn = fk["keynum"]
                idx = first + kn["keynumidx"]
                if idx >= argc:
                    continue
                try:
                    numkeys = int(argv[idx])
                except ValueError:
                    continue
                if numkeys < 0:
                    continue
                step = kn["step"]
                first += kn["firstkey"]
                lastpos = first + (numkeys - 1) * step
            else:
                continue
            if lastpos >= argc:
                lastpos = argc - 1
            i = first
            while i <= lastpos:
                positions.append(i)
                i += step
        return positions

    def keys_of(self, argv: list[bytes]) -> list[bytes]:
        return [argv[i] for i in self.get_keys(argv)]


def _legacy_range(spec: dict[str, Any]) -> tuple[int, int, int]:
    """First, last and step as COMMAND INFO shows them (server.c populateCommandLegacyRangeSpec)."""
    specs = spec.get("key_specs", ())
    first = last = step = 0
    prev_last = None
    for ks in specs:
        bs, fk = ks.get("begin_search", {}), ks.get("find_keys", {})
        if "index" not in bs or "range" not in fk:
            continue
        rng = fk["range"]
        if rng.get("limit", 0) > 1:
            continue
        pos = bs["index"]["pos"]
        lk = rng["lastkey"]
        this_last = pos + lk if lk >= 0 else lk
        this_step = rng["step"]
        if first == 0:
            first, last, step = pos, this_last, this_step
        else:
            if step != this_step or (prev_last is not None and prev_last + 1 != pos and last >= 0
                                     and last + 1 != pos):
                # Not a contiguous range: Redis keeps what it has and adds the movablekeys flag.
                continue
            last = this_last
        prev_last = this_last
    return first, last, step


def _snake(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_").replace("|", "_")


def handler_name(name: str) -> str:
    """The handler function a command binds to: ``CONFIG GET`` -> ``config_get_command``."""
    return _snake(name) + "_command"


class CommandTable:
    """All commands by upper-case name; subcommands hang from their container."""

    def __init__(self, facts: dict[str, dict[str, Any]], docs: dict[str, dict[str, Any]]) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self.all: list[CommandSpec] = []
        self.lookup_cache: dict[bytes, CommandSpec] = {}
        for name in sorted(facts, key=lambda n: (n.count(" "), n)):
            f = facts[name]
            d = docs.get(name, {})
            cost = Cost(
                big_o=d.get("cost", ""),
                n=d.get("n", ""), m=d.get("m", ""), k=d.get("k", ""),
                n_from=d.get("n_from", ""),
            )
            flags = frozenset(x.lower().replace("_", "-") for x in f.get("command_flags", ()))
            first, last, step = _legacy_range(f)
            spec = CommandSpec(
                name=name,
                group=f["group"],
                since=f.get("since", ""),
                arity=f["arity"],
                flags=flags,
                acl_categories=tuple(f.get("acl_categories", ())),
                key_specs=tuple(f.get("key_specs", ())),
                arguments=tuple(f.get("arguments", ())),
                complexity=f.get("complexity", ""),
                tips=tuple(f.get("command_tips", ())),
                summary=d.get("summary", ""),
                cost=cost,
                doc_flags=tuple(x.lower() for x in f.get("doc_flags", ())),
                deprecated_since=f.get("deprecated_since", ""),
                replaced_by=f.get("replaced_by", ""),
                container=f.get("container", ""),
                status=d.get("status", READY),
                reason=d.get("reason", ""),
                write="write" in flags,
                denyoom="denyoom" in flags,
                first_key=first, last_key=last, key_step=step,
                id=len(self.all),
                full_name=name.lower().replace(" ", "|"),
            )
            self.all.append(spec)
            if spec.container:
                parent = self.commands[spec.container]
                parent.subcommands[spec.subname.upper()] = spec
            else:
                self.commands[name] = spec

    def get(self, name: str) -> CommandSpec | None:
        """Look a command up by name, ``"GET"`` or ``"config get"`` or ``"config|get"``."""
        name = name.upper().replace("|", " ").strip()
        if " " in name:
            top, sub = name.split(" ", 1)
            parent = self.commands.get(top)
            return parent.subcommands.get(sub.strip()) if parent else None
        return self.commands.get(name)

    def lookup(self, raw: bytes) -> CommandSpec | None:
        """Hot-path lookup by the raw first argument, cached per spelling."""
        spec = self.lookup_cache.get(raw)
        if spec is None:
            try:
                spec = self.commands.get(raw.decode("ascii").upper())
            except UnicodeDecodeError:
                return None
            if spec is not None and len(self.lookup_cache) < 4096:
                self.lookup_cache[raw] = spec
        return spec

    def groups(self) -> dict[str, list[CommandSpec]]:
        out: dict[str, list[CommandSpec]] = {}
        for spec in self.all:
            out.setdefault(spec.group, []).append(spec)
        return out


def _load() -> CommandTable:
    data = resources.files(__package__).joinpath("data")
    facts = json.loads(data.joinpath("redis-7.0-commands.json").read_text("utf-8"))
    docs_file = data.joinpath("docs.toml")
    docs = tomllib.loads(docs_file.read_text("utf-8")) if docs_file.is_file() else {}
    return CommandTable(facts, docs)


TABLE = _load()
