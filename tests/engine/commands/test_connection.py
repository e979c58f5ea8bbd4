"""Connection commands: unit tests on the engine, and differential runs against Redis."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol import ErrorReply
from redislab.protocol.reply import NO_REPLY, MapReply

from ...support.real_redis import normalize, wire

CLIENT_FIELDS = ("id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free "
                 "argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir "
                 "resp").split()


def _fields(line: bytes) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.decode().strip().split(" "))


# ------------------------------------------------------------------------------------------
# Unit tests


def test_ping_and_echo(run):
    assert run("PING") == "PONG"
    assert run("PING hello") == b"hello"
    assert run("ECHO hi") == b"hi"
    assert run("PING a b") == ErrorReply("ERR wrong number of arguments for 'ping' command")


def test_ping_while_subscribed_in_resp2(session):
    session.execute("SUBSCRIBE", "ch")
    assert session.execute("PING") == [b"pong", b""]
    assert session.execute("PING", "x") == [b"pong", b"x"]
    session.execute("UNSUBSCRIBE")
    assert session.execute("PING") == "PONG"


def test_hello_switches_protocol_and_names_the_client(session):
    reply = session.execute("HELLO", "3", "SETNAME", "app")
    assert isinstance(reply, MapReply)
    assert dict(reply)[b"proto"] == 3 and dict(reply)[b"id"] == session.id
    assert session.resp == 3 and session.name == "app"
    assert session.execute("HELLO", "4") == ErrorReply("NOPROTO unsupported protocol version")
    assert session.resp == 3


def test_auth_with_requirepass():
    engine = Engine(ManualClock(), config={"requirepass": "secret"})
    s = engine.session()
    s.authenticated = False  # a network client starts unauthenticated
    s.refresh_gate()
    assert s.execute("GET", "k") == ErrorReply("NOAUTH Authentication required.")
    assert s.execute("AUTH", "wrong") == ErrorReply(
        "WRONGPASS invalid username-password pair or user is disabled.")
    assert s.execute("HELLO", "3") == ErrorReply(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time")
    assert s.execute("AUTH", "secret") == "OK"
    assert s.execute("GET", "k") is None
    # RESET logs the client out again when the default user has a password.
    assert s.execute("RESET") == "RESET"
    assert s.execute("GET", "k") == ErrorReply("NOAUTH Authentication required.")
    assert dict(s.execute("HELLO", "2", "AUTH", "default", "secret"))[b"proto"] == 2
    assert s.execute("GET", "k") is None


def test_auth_without_password_configured(run):
    assert run("AUTH x") == ErrorReply(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    assert run("AUTH default anything") == "OK"
    assert run("AUTH bob x") == ErrorReply(
        "WRONGPASS invalid username-password pair or user is disabled.")


def test_reset_returns_the_connection_to_its_initial_state(engine, session):
    other = engine.session()
    session.execute("HELLO", "3", "SETNAME", "x")
    session.execute("SELECT", "2")
    session.execute("WATCH", "k")
    session.execute("MULTI")
    session.execute("SET", "k", "v")
    session.execute("CLIENT", "REPLY", "SKIP")
    assert session.execute("RESET") == "RESET"
    assert session.resp == 2 and session.name == "" and session.db.id == 0
    assert session.multi is None and session.watched == []
    assert session.reply_mode == "on"
    session.execute("SUBSCRIBE", "ch")
    assert session.execute("RESET") == "RESET"
    assert not session.channels
    assert other.execute("PUBLISH", "ch", "m") == 0
    assert session.execute("SET", "k", "v") == "OK"  # no longer in subscriber mode


def test_quit_closes_after_the_reply(session):
    assert session.execute("QUIT") == "OK"
    assert session.close_after_reply


def test_client_names(run, session):
    assert run("CLIENT GETNAME") is None
    assert run("CLIENT SETNAME worker-1") == "OK"
    assert run("CLIENT GETNAME") == b"worker-1"
    assert run('CLIENT SETNAME "a b"') == ErrorReply(
        "ERR Client names cannot contain spaces, newlines or special characters.")
    assert run('CLIENT SETNAME ""') == "OK"
    assert run("CLIENT GETNAME") is None
    assert run("CLIENT ID") == session.id


def test_client_list_and_info_lines(engine, session, clock):
    other = engine.session()
    other.execute("CLIENT", "SETNAME", "bee")
    other.execute("SUBSCRIBE", "ch")
    waiter = engine.session()
    waiter.execute("MULTI")
    waiter.execute("SET", "a", "1")
    clock.advance(5)
    listing = session.execute("CLIENT", "LIST")
    lines = listing.decode().splitlines()
    assert [list(_fields(line.encode())) for line in lines] == [CLIENT_FIELDS] * 3
    me, bee, multi = (_fields(line.encode()) for line in lines)
    assert me["id"] == str(session.id) and me["cmd"] == "client|list"
    assert me["qbuf"] == "26" and me["argv-mem"] == "10" and me["age"] == "5"
    assert bee["name"] == "bee" and bee["flags"] == "P" and bee["sub"] == "1"
    assert multi["flags"] == "x" and multi["multi"] == "1"
    info = _fields(session.execute("CLIENT", "INFO"))
    assert info["cmd"] == "client|info" and info["resp"] == "2"
    assert session.execute("CLIENT", "LIST", "TYPE", "pubsub").decode().count("\n") == 1
    by_id = session.execute("CLIENT", "LIST", "ID", str(other.id), "999", str(session.id))
    assert [_fields(x.encode())["id"] for x in by_id.decode().splitlines()] == \
        [str(other.id), str(session.id)]


def test_client_reply_modes(session):
    assert session.execute("CLIENT", "REPLY", "OFF") is NO_REPLY
    assert session.reply_mode == "off"
    assert session.execute("CLIENT", "REPLY", "SKIP") is NO_REPLY
    assert session.reply_mode == "off"  # SKIP does not override OFF
    assert session.execute("CLIENT", "REPLY", "ON") == "OK"
    assert session.execute("CLIENT", "REPLY", "SKIP") is NO_REPLY
    assert session.reply_mode == "skip"


def test_client_kill(engine, session):
    victim = engine.session()
    assert session.execute("CLIENT", "KILL", "ID", str(victim.id)) == 1
    assert victim.closed and victim.id not in engine.sessions
    assert session.execute("CLIENT", "KILL", "ID", str(victim.id)) == 0
    assert session.execute("CLIENT", "KILL", "in-process") == "OK"  # the old form kills us too
    assert session.close_after_reply


def test_client_unblock_wakes_a_blocked_client(engine, session):
    waiter = engine.session()
    blocked = waiter.execute("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert waiter.blocked is not None, blocked
    assert session.execute("CLIENT", "UNBLOCK", str(waiter.id), "ERROR") == 1
    assert waiter.blocked is None
    assert session.execute("CLIENT", "UNBLOCK", str(waiter.id)) == 0


# ------------------------------------------------------------------------------------------
# Differential


def _strip_id(reply: Any) -> Any:
    kind, items = reply
    out = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and item[0] == b"id":
            out.append((b"id", "ID"))
        else:
            out.append(item)
    if kind == "list":  # RESP2: flat key, value, key, value ...
        out = [("ID" if i > 0 and items[i - 1] == b"id" else x) for i, x in enumerate(items)]
    return (kind, out)


def test_ping_echo_quit_errors(differ):
    differ.check_all("""
    PING
    PING hello
    PING a b
    ECHO
    ECHO x
    ECHO a b
    RESET x
    CLIENT ID x
    CLIENT GETNAME x
    CLIENT SETNAME
    CLIENT SETNAME "a b"
    CLIENT SETNAME "a\\nb"
    CLIENT SETNAME é
    CLIENT SETNAME ok-name_1
    CLIENT GETNAME
    CLIENT SETNAME ""
    CLIENT GETNAME
    CLIENT NO-EVICT on
    CLIENT NO-EVICT OFF
    CLIENT NO-EVICT maybe
    CLIENT NO-TOUCH on
    CLIENT SETINFO lib-name x
    CLIENT REPLY maybe
    CLIENT REPLY ON
    CLIENT LIST TYPE foo
    CLIENT LIST ID
    CLIENT LIST ID abc
    CLIENT LIST ID 999999
    CLIENT LIST TYPE master
    CLIENT LIST TYPE replica
    CLIENT LIST TYPE slave
    CLIENT LIST TYPE normal ID 1
    CLIENT LIST foo bar
    CLIENT INFO extra
    CLIENT KILL ID 0
    CLIENT KILL ID abc
    CLIENT KILL ID 999999
    CLIENT KILL 1.2.3.4:5
    CLIENT KILL ADDR
    CLIENT KILL TYPE bogus x
    CLIENT KILL USER bob
    CLIENT KILL SKIPME maybe
    CLIENT KILL LADDR x SKIPME yes
    CLIENT KILL FOO bar
    CLIENT UNBLOCK 999999
    CLIENT UNBLOCK abc
    CLIENT UNBLOCK 1 foo
    CLIENT UNBLOCK 1 a b
    CLIENT GETREDIR
    CLIENT TRACKINGINFO
    CLIENT CACHING yes
    CLIENT NOSUCH
    CLIENT
    AUTH a b c
    AUTH onlypassword
    AUTH default anything
    AUTH bob x
    HELLO 1
    HELLO 4
    HELLO abc
    HELLO 3 AUTH a
    HELLO 2 SETNAME
    HELLO 2 FOO
    HELLO 3 AUTH bob pw
    HELLO 3 SETNAME "a b"
    RESET
    """)


@pytest.mark.parametrize("proto", [2, 3])
def test_hello_replies(redis_server, proto):
    from ...conftest import Differ

    d = Differ(redis_server, resp=proto)
    try:
        for args in (("HELLO",), ("HELLO", "2"), ("HELLO", "3"), ("HELLO", "3", "SETNAME", "x"),
                     ("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "y")):
            # HELLO answers in the protocol it switches to.
            reply = d.session.execute(*args)
            d.resp3 = d.session.resp == 3
            ours = _strip_id(normalize(wire(reply, d.resp3)))
            theirs = _strip_id(normalize(d.real.execute(*args)))
            assert ours == theirs, args
        d.check("CLIENT", "GETNAME")
    finally:
        d.close()


def test_requirepass_flow(differ, redis_server):
    try:
        differ.check("CONFIG", "SET", "requirepass", "s3cret")
        differ.check_all("""
        AUTH wrong
        AUTH s3cret
        AUTH default s3cret
        AUTH default wrong
        HELLO 2 AUTH default wrong
        """)
        # A connection made after the password was set starts logged out.
        fresh_real = redis_server.client()
        fresh = differ.engine.session()
        fresh.authenticated = False
        fresh.refresh_gate()
        try:
            for args in (("GET", "k"), ("HELLO", "3"), ("PING",), ("AUTH", "nope"),
                         ("HELLO", "2", "AUTH", "default", "nope"), ("AUTH", "s3cret"),
                         ("GET", "k"), ("RESET",), ("GET", "k"),
                         ("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "n")):
                ours = normalize(wire(fresh.execute(*args)))
                theirs = normalize(fresh_real.execute(*args))
                if args[0] == "HELLO" and ours[0] == "list":
                    ours, theirs = _strip_id(ours), _strip_id(theirs)
                assert ours == theirs, args
        finally:
            fresh_real.close()
    finally:
        differ.real.execute("CONFIG", "SET", "requirepass", "")
        differ.session.execute("CONFIG", "SET", "requirepass", "")


@pytest.mark.parametrize("proto", [2, 3])
def test_client_info_line_matches_field_for_field(redis_server, proto):
    from ...conftest import Differ

    d = Differ(redis_server, resp=proto)
    try:
        d.check("CLIENT", "SETNAME", "me")
        ours = _fields(bytes(d.session.execute("CLIENT", "INFO")))
        theirs = _fields(d.real.execute("CLIENT", "INFO"))
        assert list(ours) == list(theirs)
        # Fields that describe the connection the same way on both sides.
        for name in ("name", "flags", "db", "sub", "psub", "ssub", "multi",
                     "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "obl", "oll",
                     "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"):
            assert ours[name] == theirs[name], name
        # The listing for just this client is the same line.
        mine = _fields(bytes(d.session.execute("CLIENT", "LIST", "ID", str(d.session.id))))
        assert list(mine) == list(theirs)
        assert normalize(wire(d.session.execute("CLIENT", "LIST", "ID", "0"), d.resp3)) == \
            normalize(d.real.execute("CLIENT", "LIST", "ID", "0"))
    finally:
        d.close()


def test_client_list_line_in_multi_and_subscribed(differ, redis_server):
    observer = redis_server.client()
    try:
        watcher = differ.engine.session()
        ours_id, theirs_id = differ.session.id, differ.real.execute("CLIENT", "ID")

        def compare(*names: str) -> None:
            ours = _fields(bytes(watcher.execute("CLIENT", "LIST", "ID", str(ours_id))))
            theirs = _fields(observer.execute("CLIENT", "LIST", "ID", str(theirs_id)))
            assert list(ours) == list(theirs)
            for name in names:
                assert ours[name] == theirs[name], name

        differ.check_all("""
        MULTI
        SET a 1
        SET a 1
        """)
        compare("flags", "multi", "multi-mem", "tot-mem", "qbuf", "argv-mem")
        differ.check("DISCARD")
        differ.session.execute("SUBSCRIBE", "c1", "c2")
        differ.session.execute("PSUBSCRIBE", "p*")
        differ.real.send("SUBSCRIBE", "c1", "c2")
        differ.real.send("PSUBSCRIBE", "p*")
        for _ in range(3):
            differ.real.read()
        compare("flags", "sub", "psub", "ssub", "multi")
    finally:
        observer.close()


def test_reset_differential(differ3):
    differ3.check_all("""
    CLIENT SETNAME before
    SELECT 3
    MULTI
    SET k v
    RESET
    CLIENT GETNAME
    SET k v
    EXEC
    """)


def test_reset_stops_monitoring(engine, session):
    session.execute("MONITOR")
    assert session in engine.monitors
    assert session.execute("RESET") == "RESET"
    assert session not in engine.monitors and session.kind == "normal"
