"""Connection commands: PING, ECHO, HELLO, AUTH, CLIENT, QUIT and RESET."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import NO_REPLY, OK, PONG, ErrorReply, MapReply, Status, Verbatim
from .. import blocking, errors
from ..args import parse_int

if TYPE_CHECKING:
    from ..session import Session

# ------------------------------------------------------------------------------------------
# PING, ECHO, QUIT


def ping_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise errors.wrong_arity("ping")
    if c.resp == 2 and (c.channels or c.patterns or c.shard_channels):
        # A RESP2 subscriber can only read pushes, so PING answers in that shape.
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return PONG if len(argv) == 1 else argv[1]


def echo_command(c: "Session", argv: list[bytes]) -> Any:
    return argv[1]


def quit_command(c: "Session", argv: list[bytes]) -> Any:
    c.close_after_reply = True
    return OK


# ------------------------------------------------------------------------------------------
# Authentication


def _default_user_nopass(c: "Session") -> bool:
    hook = c.engine.extensions.get("default_nopass")
    if hook is not None:
        return bool(hook())
    return not c.engine.config["requirepass"]


def authenticate(c: "Session", user: bytes, password: bytes) -> bool:
    """Check a username and password; on success the session is logged in as ``user``.

    Without ACL users only ``default`` exists: it takes any password when no ``requirepass``
    is set, otherwise exactly that one. An ACL implementation plugs in through
    ``engine.extensions["authenticate"]`` (same signature).
    """
    check = c.engine.extensions.get("authenticate")
    if check is not None:
        ok = bool(check(c, user, password))
    elif user != b"default":
        ok = False
    else:
        required = c.engine.config["requirepass"]
        ok = not required or password == required.encode("utf-8", "surrogateescape")
    if ok:
        c.user = user.decode("utf-8", "surrogateescape")
        c.authenticated = True
        c.refresh_gate()
    return ok


def auth_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise ErrorReply(errors.SYNTAX)
    if len(argv) == 2:
        if _default_user_nopass(c):
            raise ErrorReply(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?")
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if not authenticate(c, user, password):
        raise ErrorReply(errors.WRONGPASS)
    return OK


def hello_command(c: "Session", argv: list[bytes]) -> Any:
    from ..engine import VERSION

    version = 0
    i = 1
    if len(argv) >= 2:
        v = parse_int(argv[1])
        if v is None:
            raise ErrorReply("ERR Protocol version is not an integer or out of range")
        if v < 2 or v > 3:
            raise ErrorReply("NOPROTO unsupported protocol version")
        version = v
        i = 2
    user = password = name = None
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].lower()
        if opt == b"auth" and more >= 2:
            user, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            name = argv[i + 1]
            i += 2
        else:
            raise ErrorReply("ERR Syntax error in HELLO option '%s'"
                             % argv[i].decode("utf-8", "surrogateescape"))
    if user is not None and password is not None and not authenticate(c, user, password):
        raise ErrorReply(errors.WRONGPASS)
    if not c.authenticated:
        raise ErrorReply(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time")
    if name is not None:
        _set_name(c, name)
    if version:
        c.resp = version
        c.refresh_gate()
    eng = c.engine
    return MapReply([
        (b"server", b"redis"),
        (b"version", VERSION.encode()),
        (b"proto", c.resp),
        (b"id", c.id),
        (b"mode", b"cluster" if eng.config["cluster-enabled"] else b"standalone"),
        (b"role", b"replica" if eng.is_replica else b"master"),
        (b"modules", []),
    ])


# ------------------------------------------------------------------------------------------
# RESET


def reset_command(c: "Session", argv: list[bytes]) -> Any:
    """Back to a fresh connection's state (clearClientConnectionState)."""
    if c.kind in ("master", "replica", "slave"):
        raise ErrorReply("ERR can only reset normal client connections")
    eng = c.engine
    hook = eng.extensions.get("reset_client")
    if hook is not None:
        hook(c)  # anything else that keeps per-client state
    if c.kind == "monitor":
        if c in eng.monitors:
            eng.monitors.remove(c)
        c.kind = "normal"
        eng.refresh_gate()
    c.select(0)
    c.resp = 2
    c.user = "default"
    c.authenticated = _default_user_nopass(c)
    _discard_transaction(c)
    hub = eng.extensions.get("pubsub")
    if hub is not None:
        hub.forget(c)
    c.name = ""
    c.reply_mode = "on"
    c.refresh_gate()
    return Status("RESET")


def _discard_transaction(c: "Session") -> None:
    from ..keyspace import unwatch_all

    c.multi = None
    c.multi_error = False
    c.dirty_cas = False
    unwatch_all(c)


# ------------------------------------------------------------------------------------------
# CLIENT


def _valid_name(name: bytes) -> bool:
    # Names go into CLIENT LIST's space-separated fields, so only visible ASCII is allowed.
    return all(33 <= b <= 126 for b in name)


def _set_name(c: "Session", name: bytes) -> None:
    if not _valid_name(name):
        raise ErrorReply(
            "ERR Client names cannot contain spaces, newlines or special characters.")
    c.name = name.decode("ascii")


def client_setname_command(c: "Session", argv: list[bytes]) -> Any:
    _set_name(c, argv[2])
    return OK


def client_getname_command(c: "Session", argv: list[bytes]) -> Any:
    return c.name.encode() if c.name else None


def client_id_command(c: "Session", argv: list[bytes]) -> Any:
    return c.id


def client_type(s: "Session") -> str:
    """getClientType: master, replica, pubsub or normal (a MONITOR counts as normal)."""
    if s.kind == "master":
        return "master"
    if s.kind in ("replica", "slave"):
        return "replica"
    if s.channels or s.patterns or s.shard_channels:
        return "pubsub"
    return "normal"


_TYPE_NAMES = {b"normal": "normal", b"slave": "replica", b"replica": "replica",
               b"pubsub": "pubsub", b"master": "master"}

# What a connection costs a real server before it holds anything: the client structure, its
# query buffer and its 16 KiB reply buffer (x86_64, jemalloc).
_CLIENT_BASE_MEM = 37_632
_QUERY_BUFFER = 20_474
_REPLY_BUFFER = 16_384
_PER_SUBSCRIPTION = 56
_MULTI_CMD_SIZE = 24


def _resp_size(argv: list[bytes]) -> int:
    size = len(b"*%d\r\n" % len(argv))
    for a in argv:
        size += len(b"$%d\r\n" % len(a)) + len(a) + 2
    return size


def client_info_line(s: "Session", current: "Session | None" = None,
                     argv: list[bytes] | None = None) -> str:
    """One client as CLIENT LIST describes it, field for field as Redis 7.0 writes them.

    ``current``/``argv`` are the client running the command and its arguments: a real server
    is still holding that command in the client's buffers, so it shows in qbuf and argv-mem.
    """
    now = s.engine.clock.time_ms()
    flags = ""
    if s.kind == "monitor":
        flags += "O"
    elif s.kind in ("replica", "slave"):
        flags += "S"
    if s.kind == "master":
        flags += "M"
    if s.channels or s.patterns or s.shard_channels:
        flags += "P"
    if s.multi is not None:
        flags += "x"
    if s.blocked is not None:
        flags += "b"
    if s.dirty_cas:
        flags += "d"
    if s.close_after_reply:
        flags += "c"
    if s.no_evict:
        flags += "e"
    flags = flags or "N"
    qbuf = argv_mem = argv_count = 0
    if s is current and argv:
        qbuf = _resp_size(argv)
        argv_mem = sum(len(a) for a in argv)
        argv_count = len(argv)
    multi_mem = multi_overhead = 0
    if s.multi is not None:
        multi_mem = sum(sum(len(a) for a in cmd) + 8 * len(cmd) for _, cmd in s.multi)
        slots = 2
        while slots < len(s.multi):
            slots *= 2
        multi_overhead = multi_mem + (_MULTI_CMD_SIZE * slots if s.multi else 0)
    subs = len(s.channels) + len(s.patterns) + len(s.shard_channels)
    tot_mem = _CLIENT_BASE_MEM + argv_mem + 8 * argv_count + multi_overhead \
        + _PER_SUBSCRIPTION * subs
    if s is current and argv:
        # Redis records the command before running it, so the caller sees its own.
        cmd = "client|" + argv[1].decode("latin-1").lower()
    else:
        cmd = s.last_command or "NULL"
    return (
        f"id={s.id} addr={s.addr} laddr={s.laddr} fd={s.extra.get('fd', -1)} name={s.name} "
        f"age={(now - s.created_ms) // 1000} idle={(now - s.last_ms) // 1000} flags={flags} "
        f"db={s.db.id} sub={len(s.channels)} psub={len(s.patterns)} "
        f"ssub={len(s.shard_channels)} multi={len(s.multi) if s.multi is not None else -1} "
        f"qbuf={qbuf} qbuf-free={_QUERY_BUFFER - qbuf} argv-mem={argv_mem} "
        f"multi-mem={multi_mem} rbs={_REPLY_BUFFER} rbp={_REPLY_BUFFER} obl=0 oll=0 omem=0 "
        f"tot-mem={tot_mem} events=r cmd={cmd} user={s.user} redir=-1 resp={s.resp}"
    )


def client_info_command(c: "Session", argv: list[bytes]) -> Any:
    return Verbatim((client_info_line(c, c, argv) + "\n").encode(), "txt")


def client_list_command(c: "Session", argv: list[bytes]) -> Any:
    sessions = c.engine.sessions
    chosen: list["Session"]
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _TYPE_NAMES.get(argv[3].lower())
        if kind is None:
            raise ErrorReply("ERR Unknown client type '%s'"
                             % argv[3].decode("utf-8", "surrogateescape"))
        chosen = [s for s in sessions.values() if client_type(s) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        chosen = []
        for raw in argv[3:]:
            cid = parse_int(raw)
            if cid is None:
                raise ErrorReply("ERR Invalid client ID")
            s = sessions.get(cid)
            if s is not None:
                chosen.append(s)
    elif len(argv) != 2:
        raise ErrorReply(errors.SYNTAX)
    else:
        chosen = list(sessions.values())
    text = "".join(client_info_line(s, c, argv) + "\n" for s in chosen)
    return Verbatim(text.encode(), "txt")


def client_no_evict_command(c: "Session", argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        raise ErrorReply(errors.SYNTAX)
    c.no_evict = mode == b"on"
    return OK


def client_reply_command(c: "Session", argv: list[bytes]) -> Any:
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = "on"
        return OK
    if mode == b"off":
        c.reply_mode = "off"
        return NO_REPLY
    if mode == b"skip":
        # The front end drops the reply of the next command, then turns replies back on.
        if c.reply_mode != "off":
            c.reply_mode = "skip"
        return NO_REPLY
    raise ErrorReply(errors.SYNTAX)


def _syntax_for(argv: list[bytes]) -> ErrorReply:
    return ErrorReply(
        "ERR unknown subcommand or wrong number of arguments for '%s'. Try CLIENT HELP."
        % argv[1][:128].decode("utf-8", "surrogateescape"))


def client_unblock_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise _syntax_for(argv)
    with_error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            with_error = True
        elif reason != b"timeout":
            raise ErrorReply("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    cid = parse_int(argv[2])
    if cid is None:
        raise ErrorReply(errors.NOT_INTEGER)
    target = c.engine.sessions.get(cid)
    if target is None or target.blocked is None:
        return 0
    return 1 if blocking.client_unblock(c.engine, target, with_error) else 0


def _user_exists(c: "Session", name: bytes) -> bool:
    exists = c.engine.extensions.get("user_exists")
    return bool(exists(name)) if exists is not None else name == b"default"


def client_kill_command(c: "Session", argv: list[bytes]) -> Any:
    addr = laddr = user = None
    kind = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "surrogateescape")
        skipme = False  # the old form may kill the caller itself
    else:
        i = 2
        while i < len(argv):
            if i + 1 >= len(argv):
                raise ErrorReply(errors.SYNTAX)
            opt, value = argv[i].lower(), argv[i + 1]
            if opt == b"id":
                n = parse_int(value)
                if n is None or n < 1:
                    raise ErrorReply("ERR client-id should be greater than 0")
                cid = n
            elif opt == b"type":
                kind = _TYPE_NAMES.get(value.lower())
                if kind is None:
                    raise ErrorReply("ERR Unknown client type '%s'"
                                     % value.decode("utf-8", "surrogateescape"))
            elif opt == b"addr":
                addr = value.decode("utf-8", "surrogateescape")
            elif opt == b"laddr":
                laddr = value.decode("utf-8", "surrogateescape")
            elif opt == b"user":
                if not _user_exists(c, value):
                    raise ErrorReply("ERR No such user '%s'"
                                     % value.decode("utf-8", "surrogateescape"))
                user = value.decode("utf-8", "surrogateescape")
            elif opt == b"skipme":
                low = value.lower()
                if low not in (b"yes", b"no"):
                    raise ErrorReply(errors.SYNTAX)
                skipme = low == b"yes"
            else:
                raise ErrorReply(errors.SYNTAX)
            i += 2
    killed = 0
    for s in list(c.engine.sessions.values()):
        if addr is not None and s.addr != addr:
            continue
        if laddr is not None and s.laddr != laddr:
            continue
        if kind is not None and client_type(s) != kind:
            continue
        if cid and s.id != cid:
            continue
        if user is not None and s.user != user:
            continue
        if s is c:
            if skipme:
                continue
            c.close_after_reply = True
        else:
            _disconnect(s)
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise ErrorReply("ERR No such client")
        return OK
    return killed


def _disconnect(s: "Session") -> None:
    """Close another client: its front end drops the connection, the engine forgets it."""
    kill = s.extra.get("kill")
    if kill is not None:
        kill()
    s.engine.close_session(s)


def client_getredir_command(c: "Session", argv: list[bytes]) -> Any:
    # Client-side caching is not offered, so no client is ever redirecting.
    return -1


def client_trackinginfo_command(c: "Session", argv: list[bytes]) -> Any:
    return MapReply([(b"flags", [b"off"]), (b"redirect", -1), (b"prefixes", [])])


def client_caching_command(c: "Session", argv: list[bytes]) -> Any:
    raise ErrorReply("ERR CLIENT CACHING can be called only when the client is in tracking "
                     "mode with OPTIN or OPTOUT mode enabled")


def client_help_command(c: "Session", argv: list[bytes]) -> Any:
    entries = (
        ("CACHING (YES|NO)",
         "With tracking in OPTIN or OPTOUT mode, whether the next command's keys are tracked."),
        ("GETREDIR", "The client receiving this connection's invalidations, -1 for none."),
        ("GETNAME", "This connection's name, or null when it has none."),
        ("ID", "This connection's unique number."),
        ("INFO", "One line describing this connection, as CLIENT LIST shows it."),
        ("KILL <ip:port>", "Close the connection coming from that address."),
        ("KILL <filter> <value> [<filter> <value> ...]",
         "Close every connection that matches all filters:"),
        ("    * ID <client-id>", "  the connection with that id"),
        ("    * ADDR <ip:port> | LADDR <ip:port>", "  its remote or local address"),
        ("    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "  its kind"),
        ("    * USER <username>", "  the user it is logged in as"),
        ("    * SKIPME (YES|NO)", "  whether to spare the calling connection (yes by default)"),
        ("LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <client-id> ...]",
         "One line per connection, optionally only of one kind or with the given ids."),
        ("NO-EVICT (ON|OFF)", "Exempt this connection from client eviction, or stop."),
        ("PAUSE <timeout> [WRITE|ALL]",
         "Hold back every client's commands (or only writes) for <timeout> milliseconds."),
        ("REPLY (ON|OFF|SKIP)",
         "Turn replies to this connection on or off, or drop only the next one."),
        ("SETNAME <name>", "Name this connection (an empty name removes it)."),
        ("TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> ...] [OPTIN] [OPTOUT] "
         "[NOLOOP]", "Turn server-assisted client-side caching on or off."),
        ("TRACKINGINFO", "How tracking is set up for this connection."),
        ("UNBLOCK <client-id> [TIMEOUT|ERROR]",
         "Wake a client blocked in a command, as if it timed out or with an error."),
        ("UNPAUSE", "End a CLIENT PAUSE early."),
    )
    lines = ["CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for syntax, what in (*entries, ("HELP", "Show this text.")):
        if syntax.startswith("    "):
            lines.append(syntax + what)
        else:
            lines.append(syntax)
            lines.append("    " + what)
    return [Status(line) for line in lines]
