"""ACL users, rules, descriptions and permission checks, compared with Redis 7.0 where possible."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from redislab.engine.engine import Engine
from redislab.protocol.reply import OK, ErrorReply


def _clean_real(d: Any) -> None:
    users = [u for u in d.real.execute("ACL", "USERS") if u not in (b"default", "default")]
    if users:
        d.real.execute("ACL", "DELUSER", *users)
    d.real.execute("ACL", "LOG", "RESET")


@pytest.fixture
def acl_differ(differ: Any) -> Iterator[Any]:
    _clean_real(differ)
    try:
        yield differ
    finally:
        _clean_real(differ)


@pytest.fixture
def acl_differ3(differ3: Any) -> Iterator[Any]:
    _clean_real(differ3)
    try:
        yield differ3
    finally:
        _clean_real(differ3)


# ------------------------------------------------------------------------------------------
# Differential: replies and error texts


def _rules(d: Any, user: str) -> None:
    """GETUSER on both sides; Redis emits single-command rules in hash-table order, so those
    are compared as sets while everything else must match exactly."""
    ours, theirs = d.both("ACL", "GETUSER", user)

    def norm(reply: Any) -> Any:
        kind, items = reply
        items = list(items)
        i = items.index(b"commands") + 1
        words = items[i].split()
        cats = [w for w in words if b"@" in w]
        items[i] = (cats, sorted(w for w in words if b"@" not in w))
        return kind, items

    assert norm(ours) == norm(theirs), f"{ours!r} != {theirs!r}"


def test_default_user_and_listing(acl_differ: Any) -> None:
    acl_differ.check_all("""
        ACL LIST
        ACL USERS
        ACL WHOAMI
        ACL GETUSER default
        ACL GETUSER nosuch
        ACL DELUSER default
        ACL DELUSER nosuch
        ACL LOAD
        ACL SAVE
        ACL CAT
        ACL CAT nosuch
        ACL
        ACL nosuch
        ACL WHOAMI extra
        ACL GENPASS 1 2
        ACL LOG 1 2
    """)


def test_setuser_rules_and_descriptions(acl_differ: Any) -> None:
    acl_differ.check_all("""
        ACL SETUSER fresh
        ACL GETUSER fresh
        ACL SETUSER u1 on >pw <pw >p2 >p2 ~a* %R~b* %W~c* %RW~d* ~a* &ch &ch +@string -set
        ACL GETUSER u1
        ACL LIST
        ACL SETUSER u1 -@all +config -config|get
        ACL GETUSER u1
        ACL SETUSER u2 on nopass allkeys allchannels allcommands -get
        ACL LIST
        ACL SETUSER u2 reset
        ACL LIST
        ACL SETUSER u2 on resetpass skip-sanitize-payload +@all -@dangerous
        ACL GETUSER u2
        ACL SETUSER u2 %R
        ACL GETUSER u2
        ACL SETUSER u3 +select|0 -@all
        ACL SETUSER u3 +select|0 +select|0
        ACL GETUSER u3
        ACL USERS
        ACL DELUSER u1 u2 u3 nosuch
        ACL USERS
    """)


@pytest.mark.parametrize("rules", [
    "-@all +@read -@hash", "-@all +@fast -@read", "+@all -@slow +get -@hash",
    "-@all +@keyspace +config +set -del", "+@admin -@all +get +@string -set +config|get",
])
def test_command_rules_are_rebuilt_like_redis(acl_differ: Any, rules: str) -> None:
    acl_differ.check("ACL", "SETUSER", "r", "on", *rules.split())
    _rules(acl_differ, "r")


def test_setuser_errors(acl_differ: Any) -> None:
    h = "a" * 64
    acl_differ.check_all(f"""
        ACL SETUSER e1 bogus
        ACL SETUSER e1 #abc
        ACL SETUSER e1 #{h.upper()}
        ACL SETUSER e1 !{h}
        ACL SETUSER e1 <nope
        ACL SETUSER e1 %X~a
        ACL SETUSER e1 %~a
        ACL SETUSER e1 %RR~a
        ACL SETUSER e1 allkeys ~foo
        ACL SETUSER e1 &* &x
        ACL SETUSER e1 +nosuch
        ACL SETUSER e1 +@nosuch
        ACL SETUSER e1 -select|0
        ACL SETUSER e1 +client|nosuch
        ACL SETUSER e1 +config|get|x
        ACL SETUSER e1 +select|
        "ACL" "SETUSER" "a b"
        ACL USERS
        ACL SETUSER e1 on #{h} !{h} #{h}
        ACL GETUSER e1
        ACL SETUSER e1 on +get bogus
        ACL GETUSER e1
    """)


def test_dryrun(acl_differ: Any) -> None:
    acl_differ.check_all("""
        ACL SETUSER t on nopass ~k* %R~r* &c* +get +set +publish +subscribe
        ACL DRYRUN t get k1
        ACL DRYRUN t get x
        ACL DRYRUN t del k
        ACL DRYRUN t set r1 v
        ACL DRYRUN t get r1
        ACL DRYRUN t publish d m
        ACL DRYRUN t publish c1 m
        ACL DRYRUN t subscribe c1 d
        ACL DRYRUN nouser get a
        ACL DRYRUN t nocmd a
        ACL DRYRUN t get
        ACL SETUSER fa on nopass +select|0
        ACL DRYRUN fa select 0
        ACL DRYRUN fa select 1
        ACL SETUSER cfg on nopass +config|get
        ACL DRYRUN cfg config get maxmemory
        ACL DRYRUN cfg config set maxmemory 1
        ACL DRYRUN cfg config
        ACL DRYRUN cfg config nosuch
        ACL DRYRUN cfg CONFIG GET x
        ACL SETUSER q on nopass -@all
        ACL DRYRUN q auth a b
        ACL DRYRUN q hello
    """)


def test_selectors(acl_differ: Any) -> None:
    acl_differ.check_all("""
        ACL SETUSER s1 on nopass ~a* +get (~x* &c +set) (%R~y* +@string -get)
        ACL LIST
        ACL GETUSER s1
        ACL SETUSER s1 (~x* bogus)
        ACL SETUSER s1 (on)
        ACL SETUSER s1 (~x* +get
        ACL SETUSER s1 "(~q* +get)"
        ACL DRYRUN s1 set x v
        ACL DRYRUN s1 set y v
        ACL DRYRUN s1 get q
        ACL DRYRUN s1 set a v
        ACL DRYRUN s1 get y
        ACL DRYRUN s1 del q
        ACL SETUSER s1 clearselectors
        ACL LIST
        ACL SETUSER s1 (~z*) reset
        ACL LIST
    """)


def test_read_and_write_key_patterns(acl_differ: Any) -> None:
    acl_differ.check("ACL", "SETUSER", "w", "on", "nopass", "%W~w*", "%R~r*", "+@all")
    for line in ("set w1 v", "set w1 v get", "set r1 v", "bitfield w1 get u8 0",
                 "bitfield r1 get u8 0", "bitfield w1 set u8 0 1", "sort r1",
                 "sort r1 store w1", "lmove w1 w2 left right", "rename w1 w2", "copy r1 w1",
                 "getdel w1", "lpop w1", "incr w1", "append w1 x", "del w1", "expire w1 5",
                 "touch w1", "exists w1", "type w1", "mset w1 a r1 b", "mget r1 r2"):
        acl_differ.check("ACL", "DRYRUN", "w", *line.split())


def test_channel_patterns(acl_differ: Any) -> None:
    acl_differ.check("ACL", "SETUSER", "ch", "on", "nopass", "&news.*", "&lit", "+@all")
    for line in ("subscribe news.a", "subscribe news.a other", "psubscribe news.*",
                 "psubscribe news.a", "psubscribe lit", "publish lit m", "publish news.x m",
                 "publish other m", "spublish news.x m", "spublish other m", "ssubscribe other",
                 "pubsub channels", "unsubscribe other", "punsubscribe zz"):
        acl_differ.check("ACL", "DRYRUN", "ch", *line.split())


def test_genpass_and_log_arguments(acl_differ: Any) -> None:
    acl_differ.check_all("""
        ACL GENPASS 0
        ACL GENPASS 4097
        ACL GENPASS x
        ACL LOG x
        ACL LOG -1
        ACL LOG RESET
        ACL LOG
    """)
    ours, theirs = acl_differ.both("ACL", "GENPASS", "5")
    assert len(ours) == len(theirs) == 2
    ours, theirs = acl_differ.both("ACL", "GENPASS")
    assert len(ours) == len(theirs) == 64


def test_cat_members_match(acl_differ: Any) -> None:
    # Redis lists a category's commands in hash-table order, so compare them as sets.
    for cat in acl_differ.check("ACL", "CAT")[1]:
        ours, theirs = acl_differ.both("ACL", "CAT", cat)
        assert sorted(ours[1]) == sorted(theirs[1]), cat


def test_resp3_getuser(acl_differ3: Any) -> None:
    acl_differ3.check_all("""
        ACL SETUSER r3 on >x ~k* &c +get
        ACL GETUSER r3
        ACL GETUSER default
    """)


# ------------------------------------------------------------------------------------------
# Enforcement


@pytest.fixture
def eng(engine: Engine) -> Engine:
    return engine


def _err(reply: Any) -> str:
    assert isinstance(reply, ErrorReply), reply
    return reply.message


def test_command_key_and_channel_refusals(eng: Engine) -> None:
    admin = eng.session()
    assert admin.execute("ACL", "SETUSER", "t", "on", ">pw", "~k*", "%R~r*", "&c*", "+get",
                         "+set", "+publish", "+acl|whoami") == OK
    s = eng.session()
    assert _err(s.execute("AUTH", "t", "bad")).startswith("WRONGPASS")
    assert s.execute("AUTH", "t", "pw") == OK
    assert s.execute("ACL", "WHOAMI") == b"t"
    assert s.execute("SET", "k1", "v") == OK
    assert s.execute("GET", "k1") == b"v"
    assert _err(s.execute("GET", "x")) == (
        "NOPERM this user has no permissions to access one of the keys used as arguments")
    assert _err(s.execute("SET", "r1", "v")) == (
        "NOPERM this user has no permissions to access one of the keys used as arguments")
    assert s.execute("GET", "r1") is None
    assert _err(s.execute("DEL", "k1")) == (
        "NOPERM this user has no permissions to run the 'del' command")
    assert _err(s.execute("ACL", "LIST")) == (
        "NOPERM this user has no permissions to run the 'acl|list' command")
    assert _err(s.execute("PUBLISH", "zz", "m")) == (
        "NOPERM this user has no permissions to access one of the channels used as arguments")
    assert s.execute("PUBLISH", "c1", "m") == 0


def test_log_records_refusals_and_failed_logins(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "t", "on", "nopass", "~k*", "+get")
    s = eng.session()
    s.execute("AUTH", "t", "x")
    s.execute("GET", "x")
    s.execute("GET", "x")
    s.execute("AUTH", "nouser", "pw")
    log = admin.execute("ACL", "LOG")
    assert len(log) == 2
    first, second = dict(log[0]), dict(log[1])
    assert (first[b"reason"], first[b"object"], first[b"username"]) == (b"auth", b"AUTH",
                                                                       b"nouser")
    assert (second[b"reason"], second[b"object"], second[b"count"]) == (b"key", b"x", 2)
    assert second[b"context"] == b"toplevel"
    assert b" cmd=get user=t " in second[b"client-info"]
    assert [k for k, _ in log[0]] == [b"count", b"reason", b"context", b"object", b"username",
                                      b"age-seconds", b"client-info"]
    assert len(admin.execute("ACL", "LOG", "1")) == 1
    eng.advance(61)
    s.execute("GET", "x")
    log = admin.execute("ACL", "LOG")
    assert [dict(e)[b"count"] for e in log] == [1, 1, 2]
    assert dict(log[2])[b"age-seconds"] == 61.0
    assert admin.execute("ACL", "LOG", "RESET") == OK
    assert admin.execute("ACL", "LOG") == []


def test_hello_auth_and_disabled_users(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "h", "on", ">pw", "+@all", "~*")
    s = eng.session()
    reply = dict(s.execute("HELLO", "3", "AUTH", "h", "pw"))
    assert reply[b"proto"] == 3
    assert s.execute("ACL", "WHOAMI") == b"h"
    admin.execute("ACL", "SETUSER", "h", "off")
    assert _err(eng.session().execute("AUTH", "h", "pw")).startswith("WRONGPASS")


def test_requirepass_is_the_default_users_password(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "WHOAMI")  # the ACL state now exists
    assert _err(admin.execute("AUTH", "x")).startswith("ERR AUTH <password> called without")
    admin.execute("CONFIG", "SET", "requirepass", "secret")
    line = admin.execute("ACL", "LIST")[0].decode()
    assert line.startswith("user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a2")
    s = eng.session()
    assert _err(s.execute("AUTH", "wrong")).startswith("WRONGPASS")
    assert s.execute("AUTH", "secret") == OK
    admin.execute("CONFIG", "SET", "requirepass", "")
    assert admin.execute("ACL", "LIST") == [b"user default on nopass ~* &* +@all"]


def test_first_arg_rule(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "f", "on", "nopass", "+select|0")
    s = eng.session()
    s.execute("AUTH", "f", "x")
    assert s.execute("SELECT", "0") == OK
    assert _err(s.execute("SELECT", "1")) == (
        "NOPERM this user has no permissions to run the 'select' command")


def test_deluser_logs_out_its_clients(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "d", "on", "nopass", "+@all", "~*")
    s = eng.session()
    s.execute("AUTH", "d", "x")
    assert admin.execute("ACL", "DELUSER", "d") == 1
    assert s.closed
    assert admin.execute("ACL", "USERS") == [b"default"]


def test_gate_only_while_someone_can_be_refused(eng: Engine) -> None:
    s = eng.session()
    s.execute("ACL", "WHOAMI")
    assert not eng.gate
    s.execute("ACL", "SETUSER", "g")
    assert eng.gate
    s.execute("ACL", "DELUSER", "g")
    assert not eng.gate
    s.execute("ACL", "SETUSER", "default", "-flushall")
    assert eng.gate
    assert _err(s.execute("FLUSHALL")) == (
        "NOPERM this user has no permissions to run the 'flushall' command")


def test_refusal_inside_multi_aborts_the_transaction(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "m", "on", "nopass", "~k*", "+get", "+multi", "+exec")
    s = eng.session()
    s.execute("AUTH", "m", "x")
    s.execute("MULTI")
    assert _err(s.execute("GET", "x")).startswith("NOPERM")
    s.execute("GET", "k")
    assert _err(s.execute("EXEC")) == (
        "EXECABORT Transaction discarded because of previous errors.")
    entry = dict(admin.execute("ACL", "LOG")[0])
    assert entry[b"context"] == b"multi"


def test_scripts_are_checked_with_the_callers_user(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "l", "on", "nopass", "~k*", "&c", "+get", "+eval",
                  "+publish")
    s = eng.session()
    s.execute("AUTH", "l", "x")
    assert _err(s.execute("EVAL", "return redis.call('del','k')", "0")).startswith(
        "ERR The user executing the script can't run this command or subcommand script: ")
    assert _err(s.execute("EVAL", "return redis.pcall('get','x')", "0")) == (
        "ERR The user executing the script can't access at least one of the keys mentioned "
        "in the command arguments")
    assert _err(s.execute("EVAL", "return redis.call('publish','x','m')", "0")).startswith(
        "ERR The user executing the script can't publish to the channel mentioned in the "
        "command script: ")
    assert s.execute("EVAL", "return redis.call('get','k')", "0") is None
    entry = dict(admin.execute("ACL", "LOG")[0])
    assert (entry[b"context"], entry[b"reason"]) == (b"lua", b"channel")


def test_new_connections_log_in_as_default_only_without_its_password(eng: Engine) -> None:
    admin = eng.session()
    admin.execute("ACL", "SETUSER", "default", "resetpass", ">pw")
    s = eng.session()
    assert _err(s.execute("GET", "k")) == "NOAUTH Authentication required."
    assert s.execute("AUTH", "pw") == OK
    assert s.execute("GET", "k") is None
    admin.execute("ACL", "SETUSER", "default", "nopass")
    assert eng.session().execute("GET", "k") is None
