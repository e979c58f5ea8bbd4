"""Access-control users: their rules, how they are described, and the permission checks.

One :class:`Acl` hangs off an engine (``engine.extensions["acl"]``), created the first time an
ACL command runs. Until then only an all-permissive ``default`` user exists, which the
connection commands already handle on their own, so engines that never touch ACL pay nothing.

A user's command permissions are a set of command-table ids (containers and subcommands
alike), the way Redis keeps a bitmap; the textual rules ACL LIST shows are rebuilt from that
set by the same best-fit walk over the categories that Redis 7.0 uses.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol.reply import ErrorReply
from .commands.introspection import ACL_CATEGORIES, acl_categories, visible
from .commands.spec import TABLE, CommandSpec
from .glob import stringmatch as glob_match

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

READ = 1
WRITE = 2

# Why a command was refused (also the ACL LOG "reason" field).
DENIED_CMD = "command"
DENIED_KEY = "key"
DENIED_CHANNEL = "channel"

NOPERM_CMD = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = ("NOPERM this user has no permissions to access one of the channels used as "
                  "arguments")

LOG_MAX_DEFAULT = 128


class RuleError(Exception):
    """A SETUSER rule that cannot be applied; the text is Redis's explanation."""


_SYNTAX = "Syntax error"
_UNKNOWN = "Unknown command or category name in ACL"
_KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
                   "and does not have any effect. Try 'resetkeys' to start with an empty list "
                   "of patterns")
_CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is "
                       "not valid and does not have any effect. Try 'resetchannels' to start "
                       "with an empty list of channels")
_BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
             "hexadecimal characters")
_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"


# ------------------------------------------------------------------------------------------
# The command universe, derived once from the table


def _universe() -> tuple[list[CommandSpec], list[CommandSpec], dict[str, list[CommandSpec]]]:
    tops = [s for s in TABLE.commands.values() if visible(s)]
    everything: list[CommandSpec] = []
    for s in tops:
        everything.append(s)
        everything.extend(s.subcommands.values())
    by_cat: dict[str, list[CommandSpec]] = {c: [] for c in ACL_CATEGORIES}
    for s in everything:
        for c in acl_categories(s):
            by_cat[c].append(s)
    return tops, everything, by_cat


TOPS, EVERYTHING, BY_CATEGORY = _universe()
ALL_IDS = frozenset(s.id for s in EVERYTHING)
_CAT_SETS = {c: frozenset(s.id for s in specs) for c, specs in BY_CATEGORY.items()}


def category_commands(cat: str) -> list[CommandSpec]:
    return BY_CATEGORY[cat]


def _find_command(name: str) -> CommandSpec | None:
    spec = TABLE.get(name)
    if spec is None or not visible(spec):
        return None
    return spec


# ------------------------------------------------------------------------------------------
# Users


@dataclass(slots=True)
class User:
    name: str
    enabled: bool = False
    nopass: bool = False
    sanitize: str = ""                  # "", "sanitize-payload" or "skip-sanitize-payload"
    passwords: list[str] = field(default_factory=list)   # sha256 hex, in insertion order
    allcommands: bool = False           # set by +@all: future commands allowed too
    allowed: set[int] = field(default_factory=set)
    firstargs: dict[int, list[str]] = field(default_factory=dict)
    allkeys: bool = False
    patterns: list[list[Any]] = field(default_factory=list)  # [pattern, READ|WRITE]
    allchannels: bool = False
    channels: list[str] = field(default_factory=list)
    # Extra permission sets: a command runs if the user's own rules or any selector allow it.
    # A selector is a User of which only the command, key and channel fields are used.
    selectors: list["User"] = field(default_factory=list)

    def copy(self) -> "User":
        return User(self.name, self.enabled, self.nopass, self.sanitize, list(self.passwords),
                    self.allcommands, set(self.allowed),
                    {k: list(v) for k, v in self.firstargs.items()}, self.allkeys,
                    [list(p) for p in self.patterns], self.allchannels, list(self.channels),
                    [sel.copy() for sel in self.selectors])

    @property
    def permissive(self) -> bool:
        """Everything allowed to everyone: no check can ever refuse this user."""
        return (self.enabled and self.nopass and self.allcommands
                and self.allowed >= ALL_IDS and self.allkeys and self.allchannels)

    # ---------------------------------------------------------------------------------------
    # Rules (ACLSetUser / ACLSetSelector)

    def apply(self, op: str, pubsub_all: bool = False) -> None:
        low = op.lower()
        if low == "on":
            self.enabled = True
        elif low == "off":
            self.enabled = False
        elif low == "skip-sanitize-payload":
            self.sanitize = "skip-sanitize-payload"
        elif low == "sanitize-payload":
            self.sanitize = "sanitize-payload"
        elif low == "nopass":
            self.nopass = True
            self.passwords.clear()
        elif low == "resetpass":
            self.nopass = False
            self.passwords.clear()
        elif low == "reset":
            for sub in ("resetpass", "resetkeys", "resetchannels"):
                self.apply(sub)
            if pubsub_all:
                self.apply("allchannels")
            for sub in ("off", "sanitize-payload", "clearselectors", "-@all"):
                self.apply(sub)
        elif low == "clearselectors":
            self.selectors.clear()
        elif op[:1] in (">", "#"):
            if op[0] == ">":
                h = hashlib.sha256(op[1:].encode("utf-8", "surrogateescape")).hexdigest()
            else:
                h = _check_hash(op[1:])
            if h not in self.passwords:
                self.passwords.append(h)
            self.nopass = False
        elif op[:1] in ("<", "!"):
            if op[0] == "<":
                h = hashlib.sha256(op[1:].encode("utf-8", "surrogateescape")).hexdigest()
            else:
                h = _check_hash(op[1:])
            if h not in self.passwords:
                raise RuleError(_NO_SUCH_PASSWORD)
            self.passwords.remove(h)
        elif low == "":
            pass
        elif op.startswith("(") and op.endswith(")"):
            sel = User("")
            if pubsub_all:
                sel.apply("allchannels")
            for inner in op[1:-1].split():
                sel._apply_selector(inner, inner.lower())
            self.selectors.append(sel)
        else:
            self._apply_selector(op, low)

    def _apply_selector(self, op: str, low: str) -> None:
        if low in ("allkeys", "~*"):
            self.allkeys = True
            self.patterns.clear()
        elif low == "resetkeys":
            self.allkeys = False
            self.patterns.clear()
        elif low in ("allchannels", "&*"):
            self.allchannels = True
            self.channels.clear()
        elif low == "resetchannels":
            self.allchannels = False
            self.channels.clear()
        elif low in ("allcommands", "+@all"):
            self.allcommands = True
            self.allowed = set(ALL_IDS)
            self.firstargs.clear()
        elif low in ("nocommands", "-@all"):
            self.allcommands = False
            self.allowed = set()
            self.firstargs.clear()
        elif op[:1] in ("~", "%"):
            if self.allkeys:
                raise RuleError(_KEYS_AFTER_ALL)
            flags = READ | WRITE
            rest = op[1:]
            if op[0] == "%":
                flags = 0
                i = 1
                while i < len(op) and op[i] != "~":
                    ch = op[i].upper()
                    if ch == "R" and not flags & READ:
                        flags |= READ
                    elif ch == "W" and not flags & WRITE:
                        flags |= WRITE
                    else:
                        raise RuleError(_SYNTAX)
                    i += 1
                if not flags:
                    raise RuleError(_SYNTAX)
                rest = op[i + 1:]
            if " " in rest or "\0" in rest:
                raise RuleError(_SYNTAX)
            for p in self.patterns:
                if p[0] == rest:
                    p[1] |= flags
                    break
            else:
                self.patterns.append([rest, flags])
        elif op[:1] == "&":
            if self.allchannels:
                raise RuleError(_CHANNELS_AFTER_ALL)
            if op[1:] not in self.channels:
                self.channels.append(op[1:])
        elif op[:2] in ("+@", "-@"):
            cat = low[2:]
            if cat not in _CAT_SETS:
                raise RuleError(_UNKNOWN)
            self.set_category(cat, op[0] == "+")
        elif op[:1] in ("+", "-"):
            allow = op[0] == "+"
            name = op[1:]
            if "|" not in name:
                spec = _find_command(name)
                if spec is None:
                    raise RuleError(_UNKNOWN)
                self.change_perm(spec, allow)
                return
            if not allow:
                spec = _find_command(name)
                if spec is None:
                    raise RuleError(_UNKNOWN)
                self.change_perm(spec, False)
                return
            top, arg = name.rsplit("|", 1)
            parent = _find_command(top)
            if parent is None:
                raise RuleError(_UNKNOWN)
            if parent.container:
                raise RuleError("Allowing first-arg of a subcommand is not supported")
            if not arg:
                raise RuleError(_SYNTAX)
            if parent.subcommands:
                sub = parent.subcommands.get(arg.upper())
                if sub is None:
                    raise RuleError(_UNKNOWN)
                self.change_perm(sub, True)
            else:
                # One first argument of a command that is otherwise refused.
                args = self.firstargs.setdefault(parent.id, [])
                if arg.lower() not in (a.lower() for a in args):
                    args.append(arg)
        else:
            raise RuleError(_SYNTAX)

    def change_perm(self, spec: CommandSpec, allow: bool) -> None:
        ids = [spec.id] + [s.id for s in spec.subcommands.values()]
        if allow:
            self.allowed.update(ids)
        else:
            self.allowed.difference_update(ids)
        self.firstargs.pop(spec.id, None)

    def set_category(self, cat: str, allow: bool) -> None:
        for top in TOPS:
            if top.id in _CAT_SETS[cat]:
                self.change_perm(top, allow)
            for sub in top.subcommands.values():
                if sub.id in _CAT_SETS[cat]:
                    self.change_perm(sub, allow)

    # ---------------------------------------------------------------------------------------
    # Descriptions (ACL LIST, ACL GETUSER)

    def describe_commands(self) -> str:
        """The command rules rebuilt from the permission set (ACLDescribeSelectorCommandRules)."""
        additive = not self.allcommands
        fake = User("")
        temp = self.copy()
        parts = ["-@all" if additive else "+@all"]
        fake.apply(parts[0])
        # Best fit first: the category that gets the most right for the fewest exceptions.
        applied: set[str] = set()
        while True:
            best = ""
            mindiff, maxsame = 1 << 31, 0
            for cat in ACL_CATEGORIES:
                if cat in applied:
                    continue
                ids = _CAT_SETS[cat]
                on = len(ids & temp.allowed)
                off = len(ids) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if not best:
                break
            fake.set_category(best, additive)
            temp.set_category(best, not additive)
            parts.append(("+@" if additive else "-@") + best)
            applied.add(best)
        for top in TOPS:
            self._describe_single(top, fake, parts)
            for sub in top.subcommands.values():
                self._describe_single(sub, fake, parts)
        return " ".join(parts)

    def _describe_single(self, spec: CommandSpec, fake: "User", parts: list[str]) -> None:
        mine = spec.id in self.allowed
        if mine != (spec.id in fake.allowed):
            parts.append(("+" if mine else "-") + spec.full_name)
            fake.change_perm(spec, mine)
        if not mine:
            for arg in self.firstargs.get(spec.id, ()):
                parts.append("+%s|%s" % (spec.full_name, arg))

    def describe_keys(self) -> str:
        if self.allkeys:
            return "~*"
        return " ".join(_describe_pattern(p, f) for p, f in self.patterns)

    def describe_channels(self) -> str:
        if self.allchannels:
            return "&*"
        return " ".join("&" + ch for ch in self.channels)

    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        if self.sanitize:
            out.append(self.sanitize)
        return out

    def describe(self) -> str:
        """The user as one ACL LIST line (without the leading ``user <name>``)."""
        parts = self.flags()
        parts.extend("#" + h for h in self.passwords)
        parts.append(self.describe_selector())
        parts.extend("(%s)" % sel.describe_selector() for sel in self.selectors)
        return " ".join(parts)

    def describe_selector(self) -> str:
        parts: list[str] = []
        if self.allkeys:
            parts.append("~*")
        else:
            parts.extend(_describe_pattern(p, f) for p, f in self.patterns)
        if self.allchannels:
            parts.append("&*")
        else:
            parts.append("resetchannels")
            parts.extend("&" + ch for ch in self.channels)
        parts.append(self.describe_commands())
        return " ".join(parts)

    # ---------------------------------------------------------------------------------------
    # Checks

    def check_password(self, password: bytes) -> bool:
        if not self.enabled:
            return False
        if self.nopass:
            return True
        return hashlib.sha256(password).hexdigest() in self.passwords

    def check(self, spec: CommandSpec, argv: list[bytes]) -> tuple[str, bytes] | None:
        """Why this user may not run the command (reason, object), or None if it may."""
        denied = self.check_selector(spec, argv)
        if denied is None or not self.selectors:
            return denied
        # Every selector refused: report the most specific refusal, as Redis does.
        best = denied
        for sel in self.selectors:
            d = sel.check_selector(spec, argv)
            if d is None:
                return None
            if _RANK[d[0]] > _RANK[best[0]]:
                best = d
        return best

    def check_selector(self, spec: CommandSpec, argv: list[bytes]) -> tuple[str, bytes] | None:
        if spec.id not in self.allowed and "no-auth" not in spec.flags:
            args = self.firstargs.get(spec.id)
            if len(argv) < 2 or not args or argv[1].decode("utf-8", "surrogateescape").lower() \
                    not in [a.lower() for a in args]:
                return DENIED_CMD, spec.full_name.encode()
        if not self.allkeys and spec.key_specs:
            for pos, need in _keys_with_flags(spec, argv):
                if not self._key_ok(argv[pos], need):
                    return DENIED_KEY, argv[pos]
        if not self.allchannels:
            for ch, literal in _channels(spec, argv):
                if not self._channel_ok(ch, literal):
                    return DENIED_CHANNEL, ch
        return None

    def _key_ok(self, key: bytes, need: int) -> bool:
        for pattern, flags in self.patterns:
            if flags & need != need:
                continue
            if glob_match(pattern.encode("utf-8", "surrogateescape"), key):
                return True
        return False

    def _channel_ok(self, channel: bytes, literal: bool) -> bool:
        for pattern in self.channels:
            p = pattern.encode("utf-8", "surrogateescape")
            if (p == channel) if literal else glob_match(p, channel):
                return True
        return False


_SCRIPT_DENIED = {
    DENIED_CMD: b"ERR The user executing the script can't run this command or subcommand",
    DENIED_KEY: b"ERR The user executing the script can't access at least one of the keys "
                b"mentioned in the command arguments",
    DENIED_CHANNEL: b"ERR The user executing the script can't publish to the channel "
                    b"mentioned in the command",
}

_RANK = {DENIED_CMD: 1, DENIED_KEY: 2, DENIED_CHANNEL: 4}


def _describe_pattern(pattern: str, flags: int) -> str:
    if flags == READ | WRITE:
        return "~" + pattern
    return ("%R~" if flags == READ else "%W~") + pattern


def _check_hash(h: str) -> str:
    if len(h) != 64 or any(ch not in "0123456789abcdef" for ch in h):
        raise RuleError(_BAD_HASH)
    return h


class _OneSpec:
    __slots__ = ("key_specs",)

    def __init__(self, ks: dict[str, Any]) -> None:
        self.key_specs = (ks,)


_KEY_PLAN: dict[int, list[tuple[_OneSpec, int]]] = {}


def _keys_with_flags(spec: CommandSpec, argv: list[bytes]) -> list[tuple[int, int]]:
    plan = _KEY_PLAN.get(spec.id)
    if plan is None:
        plan = []
        for ks in spec.key_specs:
            kf = set(ks.get("flags", ()))
            if "NOT_KEY" in kf:
                continue  # a shard channel, checked as a channel
            need = 0
            if "ACCESS" in kf:
                need |= READ
            if kf & {"INSERT", "DELETE", "UPDATE"}:
                need |= WRITE
            plan.append((_OneSpec(ks), need))
        _KEY_PLAN[spec.id] = plan
    out: list[tuple[int, int]] = []
    for one, need in plan:
        if "VARIABLE_FLAGS" in one.key_specs[0].get("flags", ()):
            need = _variable_need(spec, argv)
        for pos in CommandSpec.get_keys(one, argv):  # type: ignore[arg-type]
            out.append((pos, need))
    return out


def _variable_need(spec: CommandSpec, argv: list[bytes]) -> int:
    """SET only reads with GET; BITFIELD only writes with SET or INCRBY (setGetKeys ...)."""
    words = {a.lower() for a in argv[2:]}
    if spec.name == "SET":
        return READ | WRITE if b"get" in words else WRITE
    if spec.name == "BITFIELD":
        return READ | WRITE if words & {b"set", b"incrby"} else READ
    return READ | WRITE


# Commands that name channels: (first channel position, literal-pattern match?).
_CHANNEL_ARGS = {"PUBLISH": (1, False, 1), "SPUBLISH": (1, False, 1),
                 "SUBSCRIBE": (1, False, 0), "SSUBSCRIBE": (1, False, 0),
                 "PSUBSCRIBE": (1, True, 0)}


def _channels(spec: CommandSpec, argv: list[bytes]) -> list[tuple[bytes, bool]]:
    info = _CHANNEL_ARGS.get(spec.name)
    if info is None:
        return []
    first, literal, count = info
    end = first + count if count else len(argv)
    return [(ch, literal) for ch in argv[first:end]]


# ------------------------------------------------------------------------------------------
# The engine's user registry


@dataclass(slots=True)
class LogEntry:
    count: int
    reason: str
    context: str
    object: bytes
    username: str
    created_ms: int
    updated_ms: int
    client_info: str


class Acl:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        default = User("default")
        for op in ("on", "nopass", "~*", "&*", "+@all"):
            default.apply(op)
        self.users: dict[str, User] = {"default": default}
        self.log: list[LogEntry] = []
        required = engine.config["requirepass"]
        if required:
            default.apply("resetpass")
            default.apply(">" + required)
        param = engine.config.params["requirepass"]
        previous = param.on_change

        def requirepass_changed(old: Any, new: Any) -> None:
            if previous is not None:
                previous(old, new)
            user = self.users["default"]
            user.apply("resetpass")
            user.apply(">" + new if new else "nopass")
            self.refresh()

        param.on_change = requirepass_changed
        engine.extensions["acl"] = self
        engine.extensions["authenticate"] = self.authenticate
        engine.extensions["user_exists"] = self.user_exists
        engine.extensions["default_nopass"] = lambda: self.users["default"].nopass
        engine.before_command.append(self.before_command)
        engine.extensions["acl_script"] = self.script_check
        engine.extensions["session_opened"] = self.session_opened
        self.refresh()

    @property
    def pubsub_all(self) -> bool:
        return False

    def new_user(self, name: str) -> User:
        # A fresh user is off, with no passwords, keys, channels or commands.
        user = User(name)
        if self.pubsub_all:
            user.apply("allchannels")
        return user

    def refresh(self) -> None:
        """Take the careful dispatch path only while some user can be refused something."""
        eng = self.engine
        eng.acl_gate = not (len(self.users) == 1 and self.users["default"].permissive)
        eng.refresh_gate()

    # ---------------------------------------------------------------------------------------
    # Hooks

    def authenticate(self, c: "Session", user: bytes, password: bytes) -> bool:
        u = self.users.get(user.decode("utf-8", "surrogateescape"))
        if u is not None and u.check_password(password):
            return True
        self.add_log(c, "auth", b"AUTH", user.decode("utf-8", "surrogateescape"))
        return False

    def session_opened(self, s: "Session") -> None:
        default = self.users["default"]
        if not (default.nopass and default.enabled):
            s.authenticated = False
            s.refresh_gate()

    def user_exists(self, c: "Session", name: bytes) -> bool:
        return name.decode("utf-8", "surrogateescape") in self.users

    def before_command(self, c: "Session", spec: CommandSpec, argv: list[bytes]) -> Any:
        user = self.users.get(c.user)
        if user is None or not c.authenticated:
            return None
        denied = user.check(spec, argv)
        if denied is None:
            return None
        reason, obj = denied
        self.add_log(c, reason, obj, user.name, cmd=spec.full_name)
        if reason == DENIED_CMD:
            return ErrorReply(NOPERM_CMD % spec.full_name)
        return ErrorReply(NOPERM_KEY if reason == DENIED_KEY else NOPERM_CHANNEL)

    def script_check(self, caller: "Session", spec: CommandSpec,
                     argv: list[bytes]) -> bytes | None:
        """The same check for redis.call / redis.pcall, worded as scripts report it."""
        user = self.users.get(caller.user)
        if user is None:
            return None
        denied = user.check(spec, argv)
        if denied is None:
            return None
        reason, obj = denied
        self.add_log(caller, reason, obj, user.name, "lua")
        return _SCRIPT_DENIED[reason]

    # ---------------------------------------------------------------------------------------
    # ACL LOG

    def add_log(self, c: "Session", reason: str, obj: bytes, username: str,
                context: str = "", cmd: str = "") -> None:
        from .commands.connection import client_info_line

        now = self.engine.clock.time_ms()
        info = client_info_line(c)
        if cmd:
            # A real server has already taken the refused command as the client's current one.
            info = re.sub(r" cmd=\S* ", " cmd=%s " % cmd, info, count=1)
        if not context:
            context = "lua" if c.in_script else (
                "multi" if c.in_exec or c.multi is not None else "toplevel")
        # Only the most recent entries are candidates for grouping, as in Redis.
        for e in self.log[:10]:
            if (e.reason, e.context, e.object, e.username) == (reason, context, obj, username) \
                    and now - e.updated_ms < 60_000:
                e.count += 1
                e.updated_ms = now
                e.client_info = info
                self.log.remove(e)
                self.log.insert(0, e)
                return
        self.log.insert(0, LogEntry(1, reason, context, obj, username, now, now, info))
        limit = LOG_MAX_DEFAULT
        del self.log[int(limit):]


def attach(engine: "Engine") -> Acl:
    acl = engine.extensions.get("acl")
    if acl is None:
        acl = Acl(engine)
    return acl  # type: ignore[no-any-return]


def genpass(bits: int) -> str:
    chars = (bits + 3) // 4
    return os.urandom((chars + 1) // 2).hex()[:chars]
