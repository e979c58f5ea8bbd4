"""COMMAND and its subcommands: the command table described in Redis 7.0's reply shapes.

Everything here is read from :data:`~redislab.engine.commands.spec.TABLE`; nothing about a
command is written a second time. Replies never change while the engine runs, so each
entry's COMMAND INFO and COMMAND DOCS values are built once and reused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...protocol.reply import ErrorReply, MapReply, SetReply, Status
from .. import errors
from ..glob import stringmatch
from .spec import TABLE, CommandSpec

if TYPE_CHECKING:
    from ..session import Session

# Command flags in the order Redis prints them. may_replicate, sentinel, only_sentinel and
# protected exist but Redis keeps them out of COMMAND's replies.
_FLAG_ORDER = ("write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
               "blocking", "loading", "stale", "skip-monitor", "skip-slowlog", "asking",
               "fast", "no-auth", "no-mandatory-keys", "no-async-loading", "no-multi",
               "movablekeys", "allow-busy")

# ACL categories in Redis's own bit order, which is also the order COMMAND INFO lists them.
ACL_CATEGORIES = ("keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
                  "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
                  "blocking", "dangerous", "connection", "transaction", "scripting")

# Key-spec flags, in the order Redis prints them.
_KEY_FLAG_ORDER = ("RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
                   "INCOMPLETE", "VARIABLE_FLAGS")
_KEY_FLAG_NAME = {f: (f if len(f) == 2 else f.lower()) for f in _KEY_FLAG_ORDER}

# Group names as COMMAND DOCS spells them.
_GROUP_NAME = {"sorted_set": "sorted-set"}


# ------------------------------------------------------------------------------------------
# Derived facts


def visible(spec: CommandSpec) -> bool:
    """Whether a server (not a Sentinel) lists this command: Sentinel-only ones are hidden."""
    return "only-sentinel" not in spec.flags


def acl_categories(spec: CommandSpec) -> list[str]:
    """Declared categories plus the ones Redis implies from the flags, in Redis's order."""
    cats = {c.lower() for c in spec.acl_categories}
    flags = spec.flags
    if "write" in flags:
        cats.add("write")
    # Scripting commands that only read are still not put in @read.
    if "readonly" in flags and "scripting" not in cats:
        cats.add("read")
    if "admin" in flags:
        cats.update(("admin", "dangerous"))
    if "pubsub" in flags:
        cats.add("pubsub")
    if "fast" in flags:
        cats.add("fast")
    if "blocking" in flags:
        cats.add("blocking")
    if "fast" not in cats:
        cats.add("slow")
    return [c for c in ACL_CATEGORIES if c in cats]


def _is_index_range(ks: dict[str, Any]) -> bool:
    return "index" in ks.get("begin_search", {}) and "range" in ks.get("find_keys", {})


def movable_keys(spec: CommandSpec) -> bool:
    """Whether COMMAND INFO flags the command ``movablekeys``.

    Redis folds the key specs into one old-style first/last/step range (the table's
    ``first_key``/``last_key``/``key_step``); when a spec cannot be expressed that way (not an
    index with a range, not consecutive, a step other than 1, incomplete), keys are "movable".
    """
    specs = spec.key_specs
    if not specs:
        return False
    if len(specs) == 1 and _is_index_range(specs[0]):
        return "INCOMPLETE" in specs[0].get("flags", ())
    usable = False
    prev_last = 0
    movable = False
    for ks in specs:
        if not _is_index_range(ks):
            movable = True
            continue
        rng = ks["find_keys"]["range"]
        pos = ks["begin_search"]["index"]["pos"]
        if rng["step"] != 1 or (prev_last and prev_last != pos - 1):
            movable = True
            continue
        if "INCOMPLETE" in ks.get("flags", ()):
            movable = True
        usable = True
        last = rng["lastkey"] + pos if rng["lastkey"] >= 0 else rng["lastkey"]
        # Redis compares as unsigned, so a last key counted from the end wins.
        prev_last = max(prev_last, last, key=lambda v: v & 0xFFFFFFFF)
    return movable or not usable


def command_flags(spec: CommandSpec) -> list[str]:
    flags = set(spec.flags)
    if movable_keys(spec):
        flags.add("movablekeys")
    return [f.replace("-", "_") for f in _FLAG_ORDER if f in flags]


def _key_flags(flags: list[str] | tuple[str, ...]) -> SetReply:
    have = set(flags)
    return SetReply(Status(_KEY_FLAG_NAME[f]) for f in _KEY_FLAG_ORDER if f in have)


def _key_spec_reply(ks: dict[str, Any]) -> MapReply:
    out = MapReply()
    if ks.get("notes"):
        out.append((b"notes", ks["notes"].encode()))
    out.append((b"flags", _key_flags(ks.get("flags", ()))))
    bs = ks.get("begin_search", {})
    if "index" in bs:
        begin = MapReply([(b"type", b"index"),
                          (b"spec", MapReply([(b"index", bs["index"]["pos"])]))])
    elif "keyword" in bs:
        kw = bs["keyword"]
        begin = MapReply([(b"type", b"keyword"), (b"spec", MapReply([
            (b"keyword", kw["keyword"].encode()), (b"startfrom", kw["startfrom"])]))])
    else:
        begin = MapReply([(b"type", b"unknown"), (b"spec", MapReply())])
    out.append((b"begin_search", begin))
    fk = ks.get("find_keys", {})
    if "range" in fk:
        r = fk["range"]
        find = MapReply([(b"type", b"range"), (b"spec", MapReply([
            (b"lastkey", r["lastkey"]), (b"keystep", r["step"]), (b"limit", r["limit"])]))])
    elif "keynum" in fk:
        k = fk["keynum"]
        find = MapReply([(b"type", b"keynum"), (b"spec", MapReply([
            (b"keynumidx", k["keynumidx"]), (b"firstkey", k["firstkey"]),
            (b"keystep", k["step"])]))])
    else:
        find = MapReply([(b"type", b"unknown"), (b"spec", MapReply())])
    out.append((b"find_keys", find))
    return out


def _subcommands(spec: CommandSpec) -> list[CommandSpec]:
    return list(spec.subcommands.values())


# ------------------------------------------------------------------------------------------
# COMMAND INFO / COMMAND DOCS values, built once per entry

_INFO_CACHE: dict[int, list[Any]] = {}
_DOCS_CACHE: dict[int, MapReply] = {}


def info_reply(spec: CommandSpec) -> list[Any]:
    """One entry of COMMAND / COMMAND INFO: the ten-element array Redis 7.0 sends."""
    cached = _INFO_CACHE.get(spec.id)
    if cached is not None:
        return cached
    reply = [
        spec.full_name.encode(),
        spec.arity,
        SetReply(Status(f) for f in command_flags(spec)),
        spec.first_key,
        spec.last_key,
        spec.key_step,
        SetReply(Status("@" + c) for c in acl_categories(spec)),
        SetReply(t.encode() for t in spec.tips),
        SetReply(_key_spec_reply(ks) for ks in spec.key_specs),
        # Redis answers an empty set when there are no subcommands, an array otherwise.
        [info_reply(sub) for sub in _subcommands(spec)] if spec.subcommands else SetReply(),
    ]
    _INFO_CACHE[spec.id] = reply
    return reply


def _arg_flags(arg: dict[str, Any]) -> list[str]:
    return [f for f in ("optional", "multiple", "multiple_token") if arg.get(f)]


def _args_reply(args: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[MapReply]:
    out = []
    for arg in args:
        m = MapReply([(b"name", arg["name"].encode()), (b"type", arg["type"].encode())])
        if "key_spec_index" in arg:
            m.append((b"key_spec_index", arg["key_spec_index"]))
        if "token" in arg:
            m.append((b"token", arg["token"].encode()))
        if "since" in arg:
            m.append((b"since", arg["since"].encode()))
        if "deprecated_since" in arg:
            m.append((b"deprecated_since", arg["deprecated_since"].encode()))
        flags = _arg_flags(arg)
        if flags:
            m.append((b"flags", SetReply(Status(f) for f in flags)))
        if arg["type"] in ("oneof", "block"):
            m.append((b"arguments", _args_reply(arg.get("arguments", ()))))
        out.append(m)
    return out


def docs_reply(spec: CommandSpec) -> MapReply:
    """One entry of COMMAND DOCS.

    The summary is our own wording. Redis also sends a ``history`` of how the command changed
    between versions; that is Redis's prose, so it is left out here.
    """
    cached = _DOCS_CACHE.get(spec.id)
    if cached is not None:
        return cached
    m = MapReply()
    if spec.summary:
        m.append((b"summary", spec.summary.encode()))
    if spec.since:
        m.append((b"since", spec.since.encode()))
    m.append((b"group", _GROUP_NAME.get(spec.group, spec.group).encode()))
    if spec.complexity:
        m.append((b"complexity", spec.complexity.encode()))
    if spec.doc_flags:
        m.append((b"doc_flags", SetReply(Status(f) for f in spec.doc_flags)))
    if spec.deprecated_since:
        m.append((b"deprecated_since", spec.deprecated_since.encode()))
    if spec.replaced_by:
        m.append((b"replaced_by", spec.replaced_by.encode()))
    if spec.arguments:
        m.append((b"arguments", _args_reply(spec.arguments)))
    if spec.subcommands:
        m.append((b"subcommands", MapReply(
            (sub.full_name.encode(), docs_reply(sub)) for sub in _subcommands(spec))))
    _DOCS_CACHE[spec.id] = m
    return m


def _lookup_name(raw: bytes) -> CommandSpec | None:
    """A command by name as COMMAND INFO/DOCS accept it: ``get`` or ``config|get``."""
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = name.split("|")
    if len(parts) > 2:
        return None
    spec = TABLE.commands.get(parts[0].upper())
    if spec is None or not visible(spec):
        return None
    if len(parts) == 2:
        return spec.subcommands.get(parts[1].upper())
    return spec


def _top_level() -> list[CommandSpec]:
    return [s for s in TABLE.commands.values() if visible(s)]


# ------------------------------------------------------------------------------------------
# Key extraction as COMMAND GETKEYS performs it (db.c)


def _atoi(data: bytes) -> int:
    """C's atoi: optional spaces and sign, then digits up to the first non-digit."""
    s = data.lstrip(b" \t\n\r\v\f")
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    n *= sign
    # atoi returns an int: wrap as a 32-bit value would.
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n >= 1 << 31 else n


def _strict_int(data: bytes) -> int | None:
    from ..args import parse_int

    return parse_int(data)


KeyRef = tuple[int, tuple[str, ...]]


def keys_from_specs(spec: CommandSpec, argv: list[bytes]) -> list[KeyRef] | None:
    """Keys found through the key specs; None when a spec cannot be applied to ``argv``."""
    argc = len(argv)
    found: list[KeyRef] = []
    for ks in spec.key_specs:
        flags = tuple(ks.get("flags", ()))
        if "NOT_KEY" in flags:
            continue
        bs = ks.get("begin_search", {})
        if "index" in bs:
            first = bs["index"]["pos"]
        elif "keyword" in bs:
            kw = bs["keyword"]["keyword"].encode().lower()
            start = bs["keyword"]["startfrom"]
            if start > 0:
                start_index, end_index = start, argc - 1
            else:
                start_index, end_index = argc + start, 1
            first = 0
            i = start_index
            while i != end_index:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == kw:
                    first = i + 1
                    break
                i = i + 1 if start_index <= end_index else i - 1
            if not first:
                continue
        else:
            return None
        fk = ks.get("find_keys", {})
        if "range" in fk:
            r = fk["range"]
            step = r["step"]
            if r["lastkey"] >= 0:
                last = first + r["lastkey"]
            elif not r["limit"]:
                last = argc + r["lastkey"]
            else:
                last = first + ((argc - first) // r["limit"] + r["lastkey"])
        elif "keynum" in fk:
            k = fk["keynum"]
            step = k["step"]
            if k["keynumidx"] >= argc or first + k["keynumidx"] >= argc:
                return None
            numkeys = _strict_int(argv[first + k["keynumidx"]])
            if numkeys is None or numkeys < 0:
                return None
            first += k["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        i = first
        while i <= last:
            found.append((i, flags))
            i += step
    return found


def _generic(store: int, count: int, first: int) -> Callable[[list[bytes]], list[KeyRef]]:
    """Keys given as "numkeys key [key ...]", optionally with a destination key."""

    def finder(argv: list[bytes]) -> list[KeyRef]:
        num = _atoi(argv[count]) if count < len(argv) else 0
        if num < 1 or num > len(argv) - first:
            return []
        keys: list[KeyRef] = [(first + i, ()) for i in range(num)]
        if store:
            keys.append((store, ()))
        return keys

    return finder


def _set_keys(argv: list[bytes]) -> list[KeyRef]:
    if any(a.lower() == b"get" for a in argv[3:]):
        return [(1, ("RW", "ACCESS", "UPDATE"))]
    return [(1, ("OW", "UPDATE"))]


def _bitfield_keys(argv: list[bytes]) -> list[KeyRef]:
    readonly = True
    i = 2
    argc = len(argv)
    while i < argc:
        rem = argc - i - 1
        a = argv[i].lower()
        if a == b"get" and rem >= 2:
            i += 2
        elif a in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        elif a == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, ("RO", "ACCESS") if readonly else ("RW", "ACCESS", "UPDATE"))]


def _sort_keys(argv: list[bytes]) -> list[KeyRef]:
    keys: list[KeyRef] = [(1, ("RO", "ACCESS"))]
    store = None
    skips = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    argc = len(argv)
    while i < argc:
        a = argv[i].lower()
        if a in skips:
            i += skips[a]
        elif a == b"store" and i + 1 < argc:
            # The last STORE wins, as SORT itself does.
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ("OW", "UPDATE")))
    return keys


def _sort_ro_keys(argv: list[bytes]) -> list[KeyRef]:
    return [(1, ("RO", "ACCESS"))]


def _migrate_keys(argv: list[bytes]) -> list[KeyRef]:
    first, num = 3, 1
    argc = len(argv)
    skips = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    if argc > 6:
        i = 6
        while i < argc:
            a = argv[i].lower()
            if a == b"keys":
                if argv[3]:
                    num = 0
                else:
                    first = i + 1
                    num = argc - first
                break
            i += skips.get(a, 0) + 1
    return [(first + i, ("RW", "ACCESS", "DELETE")) for i in range(num)]


def _xread_keys(argv: list[bytes]) -> list[KeyRef]:
    streams = -1
    i = 1
    argc = len(argv)
    while i < argc:
        a = argv[i].lower()
        if a in (b"block", b"count"):
            i += 1
        elif a == b"group":
            i += 2
        elif a == b"noack":
            pass
        elif a == b"streams":
            streams = i
            break
        else:
            break
        i += 1
    num = argc - streams - 1
    if streams == -1 or num == 0 or num % 2:
        return []
    num //= 2
    return [(p, ("RO", "ACCESS")) for p in range(streams + 1, argc - num)]


def _georadius_keys(argv: list[bytes]) -> list[KeyRef]:
    stored = -1
    i = 5
    argc = len(argv)
    while i < argc:
        if argv[i].lower() in (b"store", b"storedist") and i + 1 < argc:
            stored = i + 1
            i += 1
        i += 1
    keys: list[KeyRef] = [(1, ("RO", "ACCESS"))]
    if stored != -1:
        keys.append((stored, ("OW", "UPDATE")))
    return keys


# Commands whose keys Redis can also find with hand-written code; it falls back to that code
# when the key specs cannot be applied (or do not give reliable flags).
_NATIVE: dict[str, Callable[[list[bytes]], list[KeyRef]]] = {
    "EVAL": _generic(0, 2, 3), "EVALSHA": _generic(0, 2, 3),
    "EVAL_RO": _generic(0, 2, 3), "EVALSHA_RO": _generic(0, 2, 3),
    "FCALL": _generic(0, 2, 3), "FCALL_RO": _generic(0, 2, 3),
    "ZUNIONSTORE": _generic(1, 2, 3), "ZINTERSTORE": _generic(1, 2, 3),
    "ZDIFFSTORE": _generic(1, 2, 3),
    "ZUNION": _generic(0, 1, 2), "ZINTER": _generic(0, 1, 2), "ZDIFF": _generic(0, 1, 2),
    "ZINTERCARD": _generic(0, 1, 2), "SINTERCARD": _generic(0, 1, 2),
    "LMPOP": _generic(0, 1, 2), "ZMPOP": _generic(0, 1, 2),
    "BLMPOP": _generic(0, 2, 3), "BZMPOP": _generic(0, 2, 3),
    "SET": _set_keys, "BITFIELD": _bitfield_keys,
    "SORT": _sort_keys, "SORT_RO": _sort_ro_keys,
    "MIGRATE": _migrate_keys,
    "XREAD": _xread_keys, "XREADGROUP": _xread_keys,
    "GEORADIUS": _georadius_keys, "GEORADIUSBYMEMBER": _georadius_keys,
}


def keys_with_flags(spec: CommandSpec, argv: list[bytes]) -> list[KeyRef]:
    """Key positions and flags for ``argv`` (getKeysFromCommandWithSpecs)."""
    # Specs whose flags depend on the arguments, or that may miss keys, defer to the code.
    unreliable = any("VARIABLE_FLAGS" in ks.get("flags", ()) or "INCOMPLETE" in ks.get("flags", ())
                     for ks in spec.key_specs)
    if not unreliable and any("NOT_KEY" not in ks.get("flags", ()) for ks in spec.key_specs):
        found = keys_from_specs(spec, argv)
        if found is not None:
            return found
    native = _NATIVE.get(spec.name)
    return native(argv) if native is not None else []


def has_keys(spec: CommandSpec) -> bool:
    return spec.name in _NATIVE or any(
        "NOT_KEY" not in ks.get("flags", ()) for ks in spec.key_specs)


def _command_for(argv: list[bytes]) -> CommandSpec | None:
    """The command ``argv`` would run (lookupCommand): a subcommand when the name has them."""
    spec = TABLE.lookup(argv[0])
    if spec is None or not visible(spec):
        return None
    if len(argv) == 1 or not spec.subcommands:
        return spec
    return spec.subcommands.get(argv[1].decode("latin-1").upper())


def _getkeys(argv: list[bytes], with_flags: bool) -> Any:
    target = argv[2:]
    spec = _command_for(target)
    if spec is None:
        raise ErrorReply("ERR Invalid command specified")
    if not has_keys(spec):
        raise ErrorReply("ERR The command has no key arguments")
    if not spec.arity_ok(len(target)):
        raise ErrorReply("ERR Invalid number of arguments specified for command")
    found = keys_with_flags(spec, target)
    if not found:
        if "no-mandatory-keys" in spec.flags:
            return []
        raise ErrorReply("ERR Invalid arguments specified for command")
    if not with_flags:
        return [target[p] for p, _ in found]
    return [[target[p], _key_flags(flags)] for p, flags in found]


# ------------------------------------------------------------------------------------------
# Handlers


def command_command(c: "Session", argv: list[bytes]) -> Any:
    return [info_reply(s) for s in _top_level()]


def command_count_command(c: "Session", argv: list[bytes]) -> Any:
    return len(_top_level())


def command_info_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [info_reply(s) for s in _top_level()]
    out = []
    for name in argv[2:]:
        spec = _lookup_name(name)
        out.append(None if spec is None else info_reply(spec))
    return out


def command_docs_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return MapReply((s.full_name.encode(), docs_reply(s)) for s in _top_level())
    out = MapReply()
    for name in argv[2:]:
        spec = _lookup_name(name)
        if spec is not None:
            out.append((spec.full_name.encode(), docs_reply(spec)))
    return out


def command_list_command(c: "Session", argv: list[bytes]) -> Any:
    match: Callable[[CommandSpec], bool] | None = None
    i = 2
    while i < len(argv):
        more = len(argv) - 1 - i
        if argv[i].lower() == b"filterby" and more == 2:
            kind = argv[i + 1].lower()
            arg = argv[i + 2]
            if kind == b"module":
                match = _match_nothing
            elif kind == b"aclcat":
                cat = arg.decode("latin-1").lower()
                match = (lambda s, cat=cat: cat in acl_categories(s)) \
                    if cat in ACL_CATEGORIES else _match_nothing
            elif kind == b"pattern":
                match = (lambda s, pat=arg: stringmatch(pat, s.full_name.encode(), True))
            else:
                raise ErrorReply(errors.SYNTAX)
            i += 3
        else:
            raise ErrorReply(errors.SYNTAX)
    out = []
    for spec in _top_level():
        for s in [spec, *_subcommands(spec)]:
            if match is None or match(s):
                out.append(s.full_name.encode())
    return out


def _match_nothing(spec: CommandSpec) -> bool:
    return False


def command_getkeys_command(c: "Session", argv: list[bytes]) -> Any:
    return _getkeys(argv, False)


def command_getkeysandflags_command(c: "Session", argv: list[bytes]) -> Any:
    return _getkeys(argv, True)


def command_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Describe every command: one COMMAND INFO entry each.",
        "COUNT",
        "    How many commands the server has.",
        "INFO [<command-name> ...]",
        "    Name, arity, flags, key positions, ACL categories, tips, key specs and",
        "    subcommands of the named commands (all of them when none is named).",
        "DOCS [<command-name> ...]",
        "    Summary, version, group, complexity and argument grammar of the named",
        "    commands (all of them when none is named).",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Names of all commands and subcommands, optionally only those that match.",
        "GETKEYS <full-command>",
        "    Which arguments of the given command line are keys.",
        "GETKEYSANDFLAGS <full-command>",
        "    Like GETKEYS, with the way the command uses each key.",
        "HELP",
        "    Show this text.",
    )]
