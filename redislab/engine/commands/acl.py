"""ACL commands: users, their rules, the security log, and dry runs of permission checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, Double, ErrorReply, MapReply, SetReply, Status
from .. import acl as aclmod
from .. import errors
from ..args import parse_int
from .introspection import ACL_CATEGORIES

if TYPE_CHECKING:
    from ..session import Session

_NO_ACL_FILE = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration.")


def _acl(c: "Session") -> aclmod.Acl:
    acl = c.engine.extensions.get("acl")
    return acl if acl is not None else aclmod.attach(c.engine)  # type: ignore[no-any-return]


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


# ------------------------------------------------------------------------------------------
# Users


def acl_setuser_command(c: "Session", argv: list[bytes]) -> Any:
    acl = _acl(c)
    name = _text(argv[2])
    if " " in name or "\0" in name:
        raise ErrorReply("ERR Usernames can't contain spaces or null characters")
    existing = acl.users.get(name)
    # Rules apply to a copy, so a bad rule leaves the user (or its absence) untouched.
    user = existing.copy() if existing is not None else acl.new_user(name)
    for op in _merge_selectors([_text(a) for a in argv[3:]]):
        try:
            user.apply(op, acl.pubsub_all)
        except aclmod.RuleError as e:
            raise ErrorReply("ERR Error in ACL SETUSER modifier '%s': %s" % (op, e)) from None
    acl.users[name] = user
    acl.refresh()
    return OK


def _merge_selectors(ops: list[str]) -> list[str]:
    """A selector may arrive split over several arguments: ``(~x*`` ``+get)`` is one rule."""
    out: list[str] = []
    start = -1
    for i, op in enumerate(ops):
        if start < 0 and op.startswith("(") and not op.endswith(")"):
            start = i
            out.append(op)
        elif start >= 0:
            out[-1] += " " + op
            if op.endswith(")"):
                start = -1
        else:
            out.append(op)
    if start >= 0:
        raise ErrorReply("ERR Unmatched parenthesis in acl selector starting at '%s'."
                         % ops[start])
    return out


def acl_getuser_command(c: "Session", argv: list[bytes]) -> Any:
    user = _acl(c).users.get(_text(argv[2]))
    if user is None:
        return None
    return MapReply([
        (b"flags", SetReply(f.encode() for f in user.flags())),
        (b"passwords", [h.encode() for h in user.passwords]),
        (b"commands", user.describe_commands().encode()),
        (b"keys", user.describe_keys().encode("utf-8", "surrogateescape")),
        (b"channels", user.describe_channels().encode("utf-8", "surrogateescape")),
        (b"selectors", [MapReply([
            (b"commands", sel.describe_commands().encode()),
            (b"keys", sel.describe_keys().encode("utf-8", "surrogateescape")),
            (b"channels", sel.describe_channels().encode("utf-8", "surrogateescape")),
        ]) for sel in user.selectors]),
    ])


def acl_deluser_command(c: "Session", argv: list[bytes]) -> Any:
    acl = _acl(c)
    names = [_text(a) for a in argv[2:]]
    if "default" in names:
        raise ErrorReply("ERR The 'default' user cannot be removed")
    deleted = 0
    for name in names:
        if acl.users.pop(name, None) is None:
            continue
        deleted += 1
        for s in list(c.engine.sessions.values()):
            if s.user == name and s.authenticated:
                _disconnect(c, s)
    acl.refresh()
    return deleted


def _disconnect(c: "Session", s: "Session") -> None:
    if s is c:
        c.close_after_reply = True
        return
    kill = s.extra.get("kill")
    if kill is not None:
        kill()
    else:
        c.engine.close_session(s)


def acl_users_command(c: "Session", argv: list[bytes]) -> Any:
    return [n.encode("utf-8", "surrogateescape") for n in sorted(_acl(c).users)]


def acl_list_command(c: "Session", argv: list[bytes]) -> Any:
    users = _acl(c).users
    return [("user %s %s" % (n, users[n].describe())).encode("utf-8", "surrogateescape")
            for n in sorted(users)]


def acl_whoami_command(c: "Session", argv: list[bytes]) -> Any:
    return c.user.encode("utf-8", "surrogateescape")


# ------------------------------------------------------------------------------------------
# Categories, passwords, dry runs


def acl_cat_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [cat.encode() for cat in ACL_CATEGORIES]
    cat = _text(argv[2]).lower()
    if cat not in ACL_CATEGORIES:
        raise ErrorReply("ERR Unknown category '%s'" % _text(argv[2]))
    return [s.full_name.encode() for s in aclmod.category_commands(cat)]


def _wrong_use(argv: list[bytes]) -> ErrorReply:
    return ErrorReply("ERR unknown subcommand or wrong number of arguments for '%s'. "
                      "Try ACL HELP." % _text(argv[1]))


def acl_genpass_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _wrong_use(argv)
    bits = 256
    if len(argv) > 2:
        n = parse_int(argv[2])
        if n is None:
            raise ErrorReply(errors.NOT_INTEGER)
        if n <= 0 or n > 4096:
            raise ErrorReply("ERR ACL GENPASS argument must be the number of bits for the "
                             "output password, a positive number up to 4096")
        bits = n
    return aclmod.genpass(bits).encode()


def acl_dryrun_command(c: "Session", argv: list[bytes]) -> Any:
    acl = _acl(c)
    user = acl.users.get(_text(argv[2]))
    if user is None:
        raise ErrorReply("ERR User '%s' not found" % _text(argv[2]))
    args = argv[3:]
    spec = c.engine.table.lookup(args[0])
    if spec is not None and spec.subcommands and len(args) >= 2:
        spec = spec.subcommands.get(args[1].upper().decode("latin-1"))
    if spec is None or not aclmod.visible(spec):
        raise ErrorReply("ERR Command '%s' not found" % _text(args[0]))
    if not spec.arity_ok(len(args)):
        raise ErrorReply("ERR wrong number of arguments for '%s' command" % spec.full_name)
    denied = user.check(spec, args)
    if denied is None:
        return OK
    reason, obj = denied
    if reason == aclmod.DENIED_CMD:
        return ("This user has no permissions to run the '%s' command" % spec.full_name).encode()
    return ("This user has no permissions to access the '%s' %s"
            % (_text(obj), reason)).encode("utf-8", "surrogateescape")


# ------------------------------------------------------------------------------------------
# The security log


def acl_log_command(c: "Session", argv: list[bytes]) -> Any:
    acl = _acl(c)
    if len(argv) > 3:
        raise _wrong_use(argv)
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.clear()
            return OK
        n = parse_int(argv[2])
        if n is None:
            raise ErrorReply(errors.NOT_INTEGER)
        count = n
    now = c.engine.clock.time_ms()
    out = []
    for e in acl.log[:max(count, 0)]:
        out.append(MapReply([
            (b"count", e.count),
            (b"reason", e.reason.encode()),
            (b"context", e.context.encode()),
            (b"object", e.object),
            (b"username", e.username.encode("utf-8", "surrogateescape")),
            (b"age-seconds", Double((now - e.updated_ms) / 1000)),
            (b"client-info", e.client_info.encode("utf-8", "surrogateescape")),
        ]))
    return out


# ------------------------------------------------------------------------------------------
# ACL files (none can be configured here)


def acl_load_command(c: "Session", argv: list[bytes]) -> Any:
    raise ErrorReply(_NO_ACL_FILE)


def acl_save_command(c: "Session", argv: list[bytes]) -> Any:
    raise ErrorReply(_NO_ACL_FILE)


def acl_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    The command categories, or the commands in one category.",
        "DELUSER <username> [<username> ...]",
        "    Remove users, disconnecting the clients logged in as them.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Check whether a user could run a command, without running it.",
        "GETUSER <username>",
        "    Describe one user.",
        "GENPASS [<bits>]",
        "    A random password, 256 bits long unless another size is given.",
        "LIST",
        "    Every user as one line of rules.",
        "LOAD",
        "    Read the users again from the ACL file.",
        "LOG [<count> | RESET]",
        "    Recent refused commands and failed logins, or clear them.",
        "SAVE",
        "    Write the users to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create a user or change one, applying the rules from left to right.",
        "USERS",
        "    The names of all users.",
        "WHOAMI",
        "    The user this connection is logged in as.",
        "HELP",
        "    Show this text.",
    )]
