"""Set commands: unit tests, encodings, and differential runs against real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from redislab.engine import Engine
from redislab.engine.args import parse_int
from redislab.engine.commands import TABLE
from redislab.engine.events import EncodingChanged
from redislab.engine.persistence.rdb import read_payload
from redislab.engine.values import SetValue, encoding_of
from redislab.protocol import ErrorReply, split_args
from redislab.protocol.reply import SetReply

from ...support.real_redis import normalize, wire


def _as_resp3(d: Any) -> Any:
    # HELLO may not be bound yet; the differ asked for RESP3, so switch the session directly.
    d.session.resp = 3
    return d


def object_encoding_bound() -> bool:
    spec = TABLE.get("OBJECT ENCODING")
    return spec is not None and spec.handler is not None


def unordered(reply: Any) -> Any:
    """A normalised reply with its array items sorted (hashtable sets have no order)."""
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], list):
        return reply[0], sorted(reply[1], key=repr)
    return reply


def run_script(d: Any, script: str) -> None:
    """Like ``check_all``; a line starting with ``~`` is compared ignoring element order."""
    for line in script.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        loose = line.startswith("~")
        args = split_args(line[1:] if loose else line)
        assert args is not None, line
        if loose:
            ours, theirs = d.both(*args)
            assert unordered(ours) == unordered(theirs), \
                f"{line}: redislab {ours!r} != redis {theirs!r}"
        else:
            d.check(*args)


def set_config(d: Any, name: str, value: str) -> None:
    d.engine.config.set(name, value)
    assert d.real.execute("CONFIG", "SET", name, value) == "OK"


# ---------------------------------------------------------------------------------------------
# Unit tests

def test_sadd_srem_and_membership(run, engine):
    assert run("SADD s 3 1 2 2") == 3
    assert run("SADD s 2 5") == 1
    reply = run("SMEMBERS s")
    assert isinstance(reply, SetReply)
    assert list(reply) == [b"1", b"2", b"3", b"5"]  # an intset is walked in numeric order
    assert run("SCARD s") == 4
    assert run("SISMEMBER s 5") == 1
    assert run("SISMEMBER s 6") == 0
    assert run("SMISMEMBER s 1 9 5") == [1, 0, 1]
    assert run("SMISMEMBER nokey a") == [0]
    assert run("SREM s 1 9") == 1
    assert run("SREM s 2 3 5") == 3
    assert b"s" not in engine.db(0).data
    assert run("SREM s 2") == 0
    assert run("SMEMBERS s") == []


def test_intset_order_is_numeric(run):
    run("SADD s 10 -3 9 100 -100 0")
    assert run("SMEMBERS s") == [b"-100", b"-3", b"0", b"9", b"10", b"100"]
    assert run("SUNION s") == [b"-100", b"-3", b"0", b"9", b"10", b"100"]


def test_wrong_type(run):
    run("SET str x")
    wrongtype = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
    for line in ("SADD str a", "SREM str a", "SMEMBERS str", "SCARD str", "SPOP str",
                 "SRANDMEMBER str", "SINTER str", "SUNION nokey str", "SDIFF nokey str"):
        assert run(line) == wrongtype, line
    assert run("SMOVE nokey str a") == 0  # a missing source wins over a wrong destination


def test_encodings(run, engine):
    data = engine.db(0).data
    run("SADD i 1 2 3")
    assert encoding_of(data[b"i"]) == "intset"
    run("SADD i x")
    assert encoding_of(data[b"i"]) == "hashtable"
    run("SREM i x")
    assert encoding_of(data[b"i"]) == "hashtable"  # never converted back
    for member in ("01", "-0", "+1", " 1", "1.0", "9223372036854775808", ""):
        run(f"DEL k")
        run(f"SADD k '{member}'")
        assert encoding_of(data[b"k"]) == "hashtable", member
    run("SADD m 9223372036854775807 -9223372036854775808")
    assert encoding_of(data[b"m"]) == "intset"
    run("SADD big " + " ".join(str(i) for i in range(512)))
    assert encoding_of(data[b"big"]) == "intset"
    run("SADD big 511")
    assert encoding_of(data[b"big"]) == "intset"
    run("SADD big 512")
    assert encoding_of(data[b"big"]) == "hashtable"


def test_encoding_follows_config(run, engine):
    engine.config.set("set-max-intset-entries", "2")
    data = engine.db(0).data
    run("SADD s 1 2")
    assert encoding_of(data[b"s"]) == "intset"
    run("SADD s 3")
    assert encoding_of(data[b"s"]) == "hashtable"
    engine.config.set("set-max-intset-entries", "0")
    run("SADD z 1")
    assert encoding_of(data[b"z"]) == "hashtable"


def test_store_commands_pick_fresh_encodings(run, engine):
    data = engine.db(0).data
    run("SADD h 1 2 3 x")
    run("SADD t x")
    run("SREM h x")
    assert encoding_of(data[b"h"]) == "hashtable"
    assert run("SINTERSTORE d h") == 3
    assert encoding_of(data[b"d"]) == "intset"
    assert run("SUNIONSTORE u h t") == 4
    assert encoding_of(data[b"u"]) == "hashtable"
    # SDIFF's second algorithm copies the whole first set before removing: the result's
    # encoding then depends on the first set, not on what is left.
    run("SADD a 1 2 3 4 5 6 7 8 9 10 x")
    run("SADD b x")
    assert run("SDIFFSTORE d2 a b b") == 10
    assert encoding_of(data[b"d2"]) == "hashtable"
    assert run("SDIFFSTORE d3 a b") == 10
    assert encoding_of(data[b"d3"]) == "intset"


def test_conversion_publishes_event(session, engine):
    events: list[Any] = []
    unsubscribe = engine.bus.subscribe(events.append)
    session.execute("SADD", "s", "1", "2")
    session.execute("SADD", "s", "abc")
    engine.config.set("set-max-intset-entries", "3")
    session.execute("SADD", "t", "1", "2", "3", "4")
    unsubscribe()
    changes = [e for e in events if isinstance(e, EncodingChanged)]
    assert [(e.key, e.old, e.new) for e in changes] == [
        (b"s", "intset", "hashtable"), (b"t", "intset", "hashtable")]
    assert "not an integer" in changes[0].reason
    assert "set-max-intset-entries (3)" in changes[1].reason


def test_spop_rebuild_can_make_an_intset_again(session, engine):
    data = engine.db(0).data
    session.execute("SADD", "s", "a", *[str(i) for i in range(9)])
    assert encoding_of(data[b"s"]) == "hashtable"
    events: list[Any] = []
    unsubscribe = engine.bus.subscribe(events.append)
    # 10 members, pop 9: few remain, so Redis rebuilds the set from the survivor.
    popped = session.execute("SPOP", "s", "9")
    unsubscribe()
    remaining = data[b"s"]
    assert len(popped) == 9 and len(remaining) == 1
    assert set(popped) | set(remaining) == {b"a"} | {b"%d" % i for i in range(9)}
    expected = "intset" if parse_int(next(iter(remaining))) is not None else "hashtable"
    assert encoding_of(remaining) == expected
    if expected == "intset":
        assert any(isinstance(e, EncodingChanged) for e in events)


def test_spop_and_srandmember_properties(run):
    members = {b"%d" % i for i in range(20)}
    run("SADD s " + " ".join(m.decode() for m in members))
    assert run("SRANDMEMBER s") in members
    picks = run("SRANDMEMBER s 5")
    assert len(picks) == 5 and len(set(picks)) == 5 and set(picks) <= members
    picks = run("SRANDMEMBER s -50")
    assert len(picks) == 50 and set(picks) <= members
    assert run("SRANDMEMBER s 20") == sorted(members, key=int)
    assert run("SRANDMEMBER s 0") == []
    one = run("SPOP s")
    assert one in members and run("SISMEMBER s " + one.decode()) == 0
    popped = run("SPOP s 3")
    assert isinstance(popped, SetReply) and len(set(popped)) == 3
    assert run("SCARD s") == 16
    rest = run("SPOP s 100")
    assert len(rest) == 16
    assert {one} | set(popped) | set(rest) == members
    assert run("EXISTS s") == 0


def test_spop_propagates_as_srem_or_del(session, engine):
    sent: list[list[bytes]] = []
    engine.propagate_hooks.append(lambda db, argv: sent.append(argv))
    engine.refresh_gate()
    try:
        session.execute("SADD", "s", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
        one = session.execute("SPOP", "s")
        some = session.execute("SPOP", "s", "2")
        session.execute("SPOP", "s", "100")
    finally:
        engine.propagate_hooks.clear()
        engine.refresh_gate()
    argvs = [argv for argv in sent if argv[0].upper() != b"SELECT"]
    assert argvs[1] == [b"SREM", b"s", one]
    assert argvs[2][:2] == [b"SREM", b"s"] and sorted(argvs[2][2:]) == sorted(some)
    assert argvs[3] == [b"DEL", b"s"]


def test_smove(run, engine):
    data = engine.db(0).data
    run("SADD a 1 2")
    run("SADD b 3")
    assert run("SMOVE a b 1") == 1
    assert run("SMOVE a b 9") == 0
    assert run("SMOVE a a 2") == 1
    assert run("SMOVE a b x") == 0
    assert run("SMOVE a c 2") == 1
    assert b"a" not in data
    assert encoding_of(data[b"c"]) == "intset"
    run("SADD d x")
    assert run("SMOVE c d 2") == 1
    assert run("SMEMBERS d") and encoding_of(data[b"d"]) == "hashtable"
    run("SADD e 5")
    run("SADD f y")
    assert run("SMOVE f e y") == 1
    assert encoding_of(data[b"e"]) == "hashtable"


def test_intersections_and_cardinality(run):
    run("SADD a 1 2 3 4 5")
    run("SADD b 2 3 4 x")
    run("SADD c 3 4 5 6")
    assert sorted(run("SINTER a b c")) == [b"3", b"4"]  # b is the smallest: a hashtable
    assert run("SINTER a c") == [b"3", b"4", b"5"]
    assert run("SINTER a nokey") == []
    assert run("SINTERCARD 3 a b c") == 2
    assert run("SINTERCARD 3 a b c LIMIT 1") == 1
    assert run("SINTERCARD 1 a LIMIT 0") == 5
    assert run("SINTERCARD 0 a") == ErrorReply("ERR numkeys should be greater than 0")
    assert run("SINTERCARD 2 a") == ErrorReply(
        "ERR Number of keys can't be greater than number of args")
    assert run("SINTERCARD 1 a LIMIT -1") == ErrorReply("ERR LIMIT can't be negative")
    assert run("SINTERCARD 1 a LIMIT") == ErrorReply("ERR syntax error")
    assert sorted(run("SUNION a b c"), key=repr) == sorted(
        [b"1", b"2", b"3", b"4", b"5", b"6", b"x"], key=repr)
    assert run("SDIFF a b c") == [b"1"]
    assert run("SDIFF a a") == []
    assert run("SDIFF nokey a") == []


def test_store_variants(run, engine):
    run("SADD a 1 2 3")
    run("SET d x")
    run("EXPIRE d 100")
    assert run("SUNIONSTORE d a") == 3
    assert run("TTL d") == -1
    assert run("TYPE d") == "set"
    assert run("SINTERSTORE d a nokey") == 0
    assert run("EXISTS d") == 0
    run("SADD d 1")
    assert run("SDIFFSTORE d a a") == 0
    assert run("EXISTS d") == 0


def test_notifications(session, engine):
    seen: list[tuple[str, str, bytes]] = []
    engine.notify_hook = lambda db, cls, event, key: seen.append((cls, event, key))
    engine.notify_mask = 1
    session.execute("SADD", "s", "1", "2")
    session.execute("SADD", "s", "1")
    session.execute("SREM", "s", "1")
    session.execute("SMOVE", "s", "t", "2")
    session.execute("SPOP", "t")
    assert seen == [("s", "sadd", b"s"), ("s", "srem", b"s"), ("s", "srem", b"s"),
                    ("g", "del", b"s"), ("s", "sadd", b"t"), ("s", "spop", b"t"),
                    ("g", "del", b"t")]


# ---------------------------------------------------------------------------------------------
# Differential runs against real Redis

BASICS = r"""
SADD s 3 1 2
SADD s 2 5 -7
SMEMBERS s
SCARD s
SISMEMBER s 2
SISMEMBER s 9
SISMEMBER nokey 9
SMISMEMBER s 1 9 2
SMISMEMBER nokey a b
SCARD nokey
SMEMBERS nokey
SREM s 9
SREM nokey 9
SREM s 1 2 99
SMEMBERS s
SADD big 9223372036854775807 -9223372036854775808 0
SMEMBERS big
OBJECT ENCODING big
SADD big 9223372036854775808
OBJECT ENCODING big
~SMEMBERS big
SADD nonc 01
OBJECT ENCODING nonc
SADD neg0 -0
OBJECT ENCODING neg0
SADD plus +1
OBJECT ENCODING plus
SADD sp " 1"
OBJECT ENCODING sp
SADD e ""
OBJECT ENCODING e
SMEMBERS e
SISMEMBER e ""
SADD bin "\x00\xff" "a b" "\x00"
~SMEMBERS bin
SISMEMBER bin "\x00\xff"
SMISMEMBER bin "\x00" "\x00\x00"
SREM bin "\x00\xff" "a b" "\x00"
EXISTS bin
SADD t 1 2 3
EXPIRE t 100
SADD t 4
TTL t
SREM t 1
TTL t
"""

WRONG = r"""
SET str x
SADD str a
SREM str a
SMEMBERS str
SISMEMBER str a
SMISMEMBER str a
SCARD str
SPOP str
SPOP str 2
SPOP str -1
SRANDMEMBER str
SRANDMEMBER str 2
SRANDMEMBER str abc
SADD s 1
SMOVE str s a
SMOVE s str 1
SMOVE nokey str 5
SMOVE str nokey 5
SINTER s str
SINTER nokey str
SINTER str nokey
SUNION s str
SUNION nokey str
SDIFF nokey str
SDIFF s str
SINTERSTORE d str
SINTERSTORE d nokey str
SUNIONSTORE d str
SDIFFSTORE d nokey str
SINTERCARD 1 str
SINTERCARD 2 nokey str
SADD
SADD s
SREM s
SMEMBERS
SMEMBERS s s
SISMEMBER s
SISMEMBER s a b
SMISMEMBER s
SCARD
SPOP
SPOP s 1 2
SRANDMEMBER
SRANDMEMBER s 1 2
SMOVE s d
SINTER
SINTERSTORE d
SINTERCARD 1
SUNION
SUNIONSTORE d
SDIFF
SDIFFSTORE d
"""

MOVES = r"""
SADD a 1 2
SADD b 3
SMOVE a b 1
SMEMBERS a
SMEMBERS b
SMOVE a b 9
SMOVE a a 2
SMOVE a a 9
SMOVE nokey a 2
SMOVE a b x
SMOVE a c 2
EXISTS a
SMEMBERS c
OBJECT ENCODING c
SADD d x
SMOVE c d 2
~SMEMBERS d
OBJECT ENCODING d
SADD e 5
SADD f y
SMOVE f e y
OBJECT ENCODING e
~SMEMBERS e
SADD g "\x00"
SMOVE g h "\x00"
SMEMBERS h
OBJECT ENCODING h
SADD i 7
SADD j 7
SMOVE i j 7
EXISTS i
SMEMBERS j
"""

ALGEBRA = r"""
SADD a 1 2 3 4 5
SADD b 2 3 4 x
SADD c 3 4 5 6
SADD n1 10 20 30
~SINTER a b c
SINTER a c
SINTER c a
SINTER a
SINTER a a
SINTER a nokey
SINTER nokey a
SINTER a n1
~SINTER b a
SINTERCARD 3 a b c
SINTERCARD 3 a b c LIMIT 1
SINTERCARD 3 a b c LIMIT 2
SINTERCARD 3 a b c LIMIT 3
SINTERCARD 3 a b c LIMIT 0
SINTERCARD 1 a LIMIT 0
SINTERCARD 1 a limit 2
SINTERCARD 2 a nokey
SINTERCARD 1 a LIMIT 1 LIMIT 2
SINTERCARD 0 a
SINTERCARD -1 a
SINTERCARD abc a
SINTERCARD 2 a
SINTERCARD 1 a LIMIT -1
SINTERCARD 1 a LIMIT abc
SINTERCARD 1 a LIMIT
SINTERCARD 1 a BOGUS
SINTERCARD 9223372036854775808 a
SUNION a c
SUNION a nokey n1
~SUNION a b c
SUNION nokey
SDIFF a b c
SDIFF a c
SDIFF c a
SDIFF a a
SDIFF a b a
SDIFF nokey a
SDIFF a nokey
~SDIFF b a
SDIFF a n1 nokey
SINTERSTORE d a c
SMEMBERS d
OBJECT ENCODING d
SINTERSTORE d a b
SMEMBERS d
OBJECT ENCODING d
SINTERSTORE d b
~SMEMBERS d
OBJECT ENCODING d
SINTERSTORE d a n1
EXISTS d
SUNIONSTORE d a c
SMEMBERS d
OBJECT ENCODING d
SUNIONSTORE d a b
~SMEMBERS d
OBJECT ENCODING d
SUNIONSTORE d nokey
EXISTS d
SDIFFSTORE d a c
SMEMBERS d
OBJECT ENCODING d
SDIFFSTORE d b a
SMEMBERS d
OBJECT ENCODING d
SDIFFSTORE d a a
EXISTS d
SET d str
EXPIRE d 100
SUNIONSTORE d a
TTL d
TYPE d
SINTERSTORE a a c
SMEMBERS a
SDIFFSTORE c c a
SMEMBERS c
SUNIONSTORE a a b
~SMEMBERS a
"""

RANDOM_DETERMINISTIC = r"""
SADD s 5 3 1 -2
SRANDMEMBER s 4
SRANDMEMBER s 100
SRANDMEMBER s 9223372036854775807
SRANDMEMBER s 0
SRANDMEMBER s -9223372036854775808
SRANDMEMBER s 9223372036854775808
SRANDMEMBER s abc
SRANDMEMBER s ""
SRANDMEMBER nokey
SRANDMEMBER nokey 3
SRANDMEMBER nokey -3
SRANDMEMBER nokey 0
SPOP nokey
SPOP nokey 2
SPOP nokey 0
SPOP s 0
SPOP s -1
SPOP s abc
SPOP s 9223372036854775808
SADD one 7
SRANDMEMBER one
SRANDMEMBER one -3
SRANDMEMBER one 1
SPOP one
EXISTS one
SPOP s 4
EXISTS s
SADD h 1 2 3 x
SREM h x
SPOP h 100
SADD h2 a
SPOP h2 1
"""

SCRIPTS = {"basics": BASICS, "wrong": WRONG, "moves": MOVES, "algebra": ALGEBRA,
           "random-deterministic": RANDOM_DETERMINISTIC}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_sets_match_redis(differ, name):
    run_script(differ, SCRIPTS[name])


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_sets_match_redis_resp3(differ3, name):
    run_script(_as_resp3(differ3), SCRIPTS[name])


def test_encoding_boundaries_match_redis(differ):
    if not object_encoding_bound():
        pytest.skip("OBJECT ENCODING has no handler yet; encodings are covered by unit tests")
    ints = [b"%d" % i for i in range(513)]
    differ.check(b"SADD", b"i512", *ints[:512])
    differ.check(b"OBJECT", b"ENCODING", b"i512")
    differ.check(b"SMEMBERS", b"i512")
    differ.check(b"SADD", b"i512", b"0")
    differ.check(b"OBJECT", b"ENCODING", b"i512")
    differ.check(b"SADD", b"i513", *ints)
    differ.check(b"OBJECT", b"ENCODING", b"i513")
    differ.check(b"SADD", b"i512", b"512")
    differ.check(b"OBJECT", b"ENCODING", b"i512")
    differ.check(b"SREM", b"i512", *ints[:500])
    differ.check(b"OBJECT", b"ENCODING", b"i512")
    # Store commands: 512 integers fit an intset, 513 do not.
    differ.check(b"SADD", b"half", *ints[:300])
    differ.check(b"SADD", b"other", *ints[250:512])
    differ.check(b"SUNIONSTORE", b"u", b"half", b"other")
    differ.check(b"OBJECT", b"ENCODING", b"u")
    differ.check(b"SMEMBERS", b"u")
    differ.check(b"SADD", b"other", b"512")
    differ.check(b"SUNIONSTORE", b"u", b"half", b"other")
    differ.check(b"OBJECT", b"ENCODING", b"u")
    differ.check(b"SINTERSTORE", b"v", b"i513", b"half")
    differ.check(b"OBJECT", b"ENCODING", b"v")
    differ.check(b"SDIFFSTORE", b"w", b"i513", b"half")
    differ.check(b"OBJECT", b"ENCODING", b"w")
    differ.check(b"SDIFFSTORE", b"w", b"i513", b"u")
    differ.check(b"OBJECT", b"ENCODING", b"w")
    differ.check(b"SMEMBERS", b"w")
    # SDIFF: which algorithm runs decides whether the result may be an intset.
    run_script(differ, """
    SADD a 1 2 3 4 5 6 7 8 9 10 x
    SADD b x
    SDIFFSTORE d a b
    OBJECT ENCODING d
    SDIFF a b
    SDIFFSTORE d a b b
    OBJECT ENCODING d
    ~SDIFF a b b
    SDIFFSTORE d a b nokey b
    OBJECT ENCODING d
    SDIFFSTORE d a b nokey nokey2 nokey3
    OBJECT ENCODING d
    SDIFF a b nokey nokey2 nokey3
    SADD c x y z w v
    SDIFFSTORE d a c c
    OBJECT ENCODING d
    SDIFF a c c
    SADD e 1 2 3 4 5 6 7 8 9 10 11 12
    SADD f 1
    SDIFFSTORE d e f f f
    OBJECT ENCODING d
    SDIFF e f f f
    """)


def test_encodings_follow_config_like_redis(differ):
    try:
        set_config(differ, "set-max-intset-entries", "3")
        differ.check_all("""
        SADD s 1 2 3
        OBJECT ENCODING s
        SADD s 4
        OBJECT ENCODING s
        SADD t 1 2
        SUNIONSTORE u t
        OBJECT ENCODING u
        SADD t 3 4
        SUNIONSTORE u t
        OBJECT ENCODING u
        """)
        set_config(differ, "set-max-intset-entries", "0")
        differ.check_all("""
        SADD z 1
        OBJECT ENCODING z
        SINTERSTORE y z
        OBJECT ENCODING y
        """)
    finally:
        set_config(differ, "set-max-intset-entries", "512")


def _reply_kind(reply: Any) -> Any:
    return reply[0] if isinstance(reply, tuple) else type(reply).__name__


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("members", [
    [b"%d" % i for i in range(12)],
    [b"m%d" % i for i in range(12)],
    [b"%d" % i for i in range(600)],
], ids=["intset", "hashtable", "big"])
def test_random_commands_by_properties(differ, differ3, resp, members):
    d = differ if resp == 2 else _as_resp3(differ3)
    pool = set(members)
    size = len(members)
    d.check(b"SADD", b"s", *members)
    intset = all(parse_int(m) is not None for m in members) and size <= 512
    for count in (1, 2, 3, size // 3, size // 2, size - 1, size, size + 5, -1, -4, -(size * 2)):
        ours, theirs = d.both(b"SRANDMEMBER", b"s", b"%d" % count)
        assert _reply_kind(ours) == _reply_kind(theirs)
        for reply in (ours, theirs):
            items = reply[1]
            assert len(items) == (abs(count) if count < 0 else min(count, size))
            assert set(items) <= pool
            if count > 0:
                assert len(set(items)) == len(items)
        if count >= size and intset:
            assert ours == theirs  # the whole intset, in numeric order
    ours, theirs = d.both(b"SRANDMEMBER", b"s")
    assert ours in pool and theirs in pool
    # SPOP with a count, on copies: each side pops from its own identical set.
    for count in (1, 2, size // 4 or 1, size - 3, size):
        d.check(b"DEL", b"p")
        d.check(b"SADD", b"p", *members)
        ours, theirs = d.both(b"SPOP", b"p", b"%d" % count)
        assert _reply_kind(ours) == _reply_kind(theirs)
        for reply in (ours, theirs):
            assert len(reply[1]) == len(set(reply[1])) == min(count, size)
            assert set(reply[1]) <= pool
        if count >= size and intset:
            assert ours == theirs
        d.check(b"SCARD", b"p")
        d.check(b"EXISTS", b"p")
        if count < size:
            ours_enc, theirs_enc = d.both(b"OBJECT", b"ENCODING", b"p")
            assert ours_enc == theirs_enc  # all-integer members: the rebuild is predictable
    ours, theirs = d.both(b"SPOP", b"s")
    assert ours in pool and theirs in pool
    d.check(b"SCARD", b"s")


def test_set_notifications_match_redis(redis_server):
    real = redis_server.client()
    listener = redis_server.client()
    engine = Engine()
    ours = engine.session()
    sub = engine.session()
    try:
        real.execute("FLUSHALL")
        real.execute("CONFIG", "SET", "notify-keyspace-events", "KEA")
        engine.config.set("notify-keyspace-events", "KEA")
        listener.execute("PSUBSCRIBE", "__keyevent@0__:*")
        sub.execute("PSUBSCRIBE", "__keyevent@0__:*")
        sub.drain()
        script = [
            "SADD s 1 2 3 a", "SADD s 1", "SREM s a zz", "SREM s nope", "SMOVE s t 1",
            "SMOVE s t 1", "SMOVE s s 2", "SADD t 2", "SMOVE s t 2", "SMOVE s t 3",
            "SADD s 1 2", "SINTERSTORE d s", "SUNIONSTORE d s t", "SDIFFSTORE d s s",
            "SINTERSTORE d nokey", "SDIFFSTORE d s", "SUNIONSTORE d nokey", "SADD p 1",
            "SPOP p", "SADD p 1 2 3", "SPOP p 0", "SPOP p 5", "SADD q 1", "SPOP q 1",
            "SINTERCARD 1 s", "SMEMBERS s",
        ]
        for line in script:
            args = line.split()
            ours.execute(*args)
            real.execute(*args)
        real.execute("SET", "sentinel", "1")
        theirs = []
        while True:
            msg = listener.read()
            if msg[3] == b"sentinel":
                break
            theirs.append((msg[2], msg[3]))
        mine = [(bytes(p[2]), bytes(p[3])) for p in sub.drain()]
        assert mine == theirs
    finally:
        real.execute("CONFIG", "SET", "notify-keyspace-events", "")
        real.close()
        listener.close()


# ---------------------------------------------------------------------------------------------
# Random sequences against real Redis

KEYS = st.sampled_from([b"a", b"b", b"c", b"\x00k", b"", b"str"])
MEMBERS = st.one_of(
    st.integers(-20, 20).map(lambda i: b"%d" % i),
    st.sampled_from([b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
                     b"01", b"-0", b"+1", b" 1", b"", b"x", b"y", b"\x00", b"\xff\xfe",
                     b"1.5", b"m" * 70, b"70000", b"-70000", b"2147483648"]),
    st.binary(max_size=3),
)
COUNTS = st.one_of(st.integers(-8, 12).map(lambda i: b"%d" % i),
                   st.sampled_from([b"abc", b"", b"9223372036854775808",
                                    b"-9223372036854775808"]))


def _spop_encoding(before: str, size: int, count: int, remaining: list[bytes]) -> str | None:
    """What SPOP leaves behind: a rebuilt set when few members stay, else the old one."""
    if count >= size:
        return None
    if (size - count) * 5 <= count:
        ints = all(parse_int(m) is not None for m in remaining)
        return "intset" if ints and len(remaining) <= 512 else "hashtable"
    return before


def test_set_machine(redis_server):
    class SetMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.real = redis_server.client()
            self.real.execute("FLUSHALL")
            self.session = Engine().session()
            self.session.execute("SET", "str", "v")
            self.real.execute("SET", "str", "v")

        def teardown(self):
            if hasattr(self, "real"):
                self.real.close()

        def both(self, *args):
            ours = normalize(wire(self.session.execute(*args)))
            theirs = normalize(self.real.execute(*args))
            return ours, theirs

        def check(self, *args):
            ours, theirs = self.both(*args)
            assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

        def check_members(self, *args):
            # Hashtable-backed answers have Redis's random order: compare them as sets.
            ours, theirs = self.both(*args)
            assert unordered(ours) == unordered(theirs), \
                f"{args!r}: redislab {ours!r} != redis {theirs!r}"

        @rule(k=KEYS, members=st.lists(MEMBERS, max_size=5))
        def sadd(self, k, members):
            self.check(b"SADD", k, *members)

        @rule(k=KEYS, members=st.lists(MEMBERS, max_size=4))
        def srem(self, k, members):
            self.check(b"SREM", k, *members)

        @rule(k=KEYS)
        def smembers(self, k):
            enc = self.real.execute(b"OBJECT", b"ENCODING", k)
            if enc == b"intset":
                self.check(b"SMEMBERS", k)
            else:
                self.check_members(b"SMEMBERS", k)

        @rule(k=KEYS, members=st.lists(MEMBERS, max_size=3),
              cmd=st.sampled_from([b"SISMEMBER", b"SMISMEMBER"]))
        def ismember(self, k, members, cmd):
            if cmd == b"SISMEMBER" and len(members) != 1:
                members = (members + [b"1"])[:1]
            self.check(cmd, k, *members)

        @rule(k=KEYS)
        def scard_and_encoding(self, k):
            self.check(b"SCARD", k)
            self.check(b"OBJECT", b"ENCODING", k)
            self.check(b"TYPE", k)

        @rule(src=KEYS, dst=KEYS, m=MEMBERS)
        def smove(self, src, dst, m):
            self.check(b"SMOVE", src, dst, m)

        @rule(cmd=st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]),
              keys=st.lists(KEYS, min_size=1, max_size=4))
        def algebra(self, cmd, keys):
            self.check_members(cmd, *keys)

        @rule(cmd=st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]),
              dst=KEYS, keys=st.lists(KEYS, min_size=1, max_size=3))
        def store(self, cmd, dst, keys):
            self.check(cmd, dst, *keys)
            self.check(b"OBJECT", b"ENCODING", dst)

        @rule(keys=st.lists(KEYS, min_size=1, max_size=3),
              numkeys=st.integers(-1, 4), limit=st.one_of(st.none(), COUNTS))
        def sintercard(self, keys, numkeys, limit):
            args = [b"SINTERCARD", b"%d" % numkeys, *keys]
            if limit is not None:
                args += [b"LIMIT", limit]
            self.check(*args)

        @rule(k=KEYS, count=st.one_of(st.none(), COUNTS))
        def srandmember(self, k, count):
            args = [b"SRANDMEMBER", k] + ([count] if count is not None else [])
            ours, theirs = self.both(*args)
            if isinstance(ours, tuple) and isinstance(theirs, tuple) and ours[0] == "list":
                assert theirs[0] == "list", args
                assert len(ours[1]) == len(theirs[1]), args
                members = set(normalize(self.real.execute(b"SMEMBERS", k))[1])
                assert set(ours[1]) <= members and set(theirs[1]) <= members, args
            elif isinstance(ours, bytes) and isinstance(theirs, bytes):
                assert self.real.execute(b"SISMEMBER", k, ours) == 1, args
            else:
                assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

        @rule(k=KEYS, count=st.one_of(st.none(), COUNTS))
        def spop(self, k, count):
            before_enc = self.real.execute(b"OBJECT", b"ENCODING", k)
            before = self.real.execute(b"SMEMBERS", k)
            args = [b"SPOP", k] + ([count] if count is not None else [])
            ours, theirs = self.both(*args)
            if not isinstance(before, list) or not before or \
                    not isinstance(theirs, (tuple, bytes)) or \
                    (isinstance(theirs, tuple) and theirs[0] == "error"):
                assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
                return
            pool = set(before)
            if isinstance(theirs, bytes):
                assert ours in pool and theirs in pool, args
                n = 1
            else:
                assert ours[0] == theirs[0], args
                n = min(int(count), len(before))
                for reply in (ours, theirs):
                    assert len(reply[1]) == len(set(reply[1])) == n, args
                    assert set(reply[1]) <= pool, args
            real_left = self.real.execute(b"SMEMBERS", k)
            real_enc = self.real.execute(b"OBJECT", b"ENCODING", k)
            db = self.session.db
            ours_left = db.data.get(k)
            if count is not None:
                expect = _spop_encoding(before_enc.decode(), len(before), n, real_left)
                assert (real_enc.decode() if real_enc else None) == expect, args
                mine = sorted(ours_left) if ours_left is not None else []
                expect_mine = _spop_encoding(before_enc.decode(), len(before), n, mine)
                assert (encoding_of(ours_left) if ours_left is not None else None) \
                    == expect_mine, args
            # Both sides popped different members: carry on from Redis's state.
            if real_left:
                value = SetValue(real_left)
                value.encoding = real_enc.decode()
                if value.encoding == "intset":
                    # The array keeps the width it had (SPOP narrows nothing).
                    value.width = read_payload(self.real.execute(b"DUMP", k)).width
                db.data[k] = value
            else:
                assert ours_left is None, args

        @rule(k=KEYS)
        def intset_bytes(self, k):
            # An intset's bytes are fixed by its members and its widest width ever.
            value = self.session.db.data.get(k)
            if type(value) is SetValue and value.encoding == "intset":
                self.check(b"DUMP", k)
                self.check(b"MEMORY", b"USAGE", k)

        @rule(k=KEYS)
        def make_string(self, k):
            self.check(b"SET", k, b"s")

        @rule(k=KEYS)
        def delete(self, k):
            self.check(b"DEL", k)

    SetMachine.TestCase.settings = settings(
        max_examples=150, stateful_step_count=40, deadline=None,
        suppress_health_check=list(HealthCheck))
    SetMachine.TestCase().runTest()


def test_intset_never_narrows(differ):
    # Removing the member that widened an intset leaves the array at its width: DUMP, MEMORY
    # USAGE and a RESTOREd copy all show it.
    differ.check_all("""
    SADD s 1 70000
    SREM s 70000
    DUMP s
    MEMORY USAGE s
    SADD s 2 3 4 5
    DUMP s
    SADD t 1 2 3 4 5 6 7 8 9 10 11 12 5000000000
    SREM t 5000000000
    MEMORY USAGE t
    DUMP t
    SADD v 1 2 3 100000
    SREM v 100000
    SINTERSTORE w v v
    DUMP w
    MEMORY USAGE w
    """)
    payload = differ.check("DUMP", "t")
    differ.check("RESTORE", "copy", "0", payload)
    differ.check("DUMP", "copy")
    differ.check("MEMORY", "USAGE", "copy")
