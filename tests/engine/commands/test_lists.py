"""List commands: unit tests for the tricky parts, differential runs against real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from redislab.engine import Engine
from redislab.engine.commands import TABLE
from redislab.engine.commands.lists import (
    _lmove_generic,
    _mpop_generic,
    _pop_generic,
    _pop_range,
    rpush_command,
)
from redislab.engine.values import ListValue, encoding_of
from redislab.protocol import ErrorReply
from redislab.protocol.reply import NULL_ARRAY

from ...support.real_redis import normalize, wire


def _bound(name: str) -> bool:
    spec = TABLE.get(name)
    return spec is not None and spec.handler is not None


def _as_resp3(d: Any) -> Any:
    # HELLO may not be bound yet; the differ asked for RESP3, so switch the session directly.
    d.session.resp = 3
    return d


# ---------------------------------------------------------------------------------------------
# Unit tests

def test_push_order_and_encoding(run, engine):
    assert run("LPUSH l a b c") == 3
    assert run("RPUSH l x y") == 5
    assert run("LRANGE l 0 -1") == [b"c", b"b", b"a", b"x", b"y"]
    value = engine.db(0).data[b"l"]
    assert type(value) is ListValue
    assert encoding_of(value) == "quicklist"


def test_pushx_never_creates(run, engine):
    assert run("LPUSHX l a") == 0
    assert run("RPUSHX l a") == 0
    assert b"l" not in engine.db(0).data


def test_emptied_lists_are_deleted(run, engine):
    data = engine.db(0).data
    run("RPUSH l a")
    assert run("LPOP l") == b"a"
    assert b"l" not in data
    run("RPUSH l a b")
    assert run("RPOP l 5") == [b"b", b"a"]
    assert b"l" not in data
    run("RPUSH l a a")
    assert run("LREM l 0 a") == 2
    assert b"l" not in data
    run("RPUSH l a b")
    assert run("LTRIM l 5 10") == "OK"
    assert b"l" not in data
    run("RPUSH l a")
    assert run("LMOVE l m LEFT RIGHT") == b"a"
    assert b"l" not in data and list(data[b"m"]) == [b"a"]
    assert run("LMPOP 2 nothing m LEFT COUNT 3") == [b"m", [b"a"]]
    assert b"m" not in data


def test_pop_count_shapes(run, session):
    assert run("LPOP missing") is None
    assert run("LPOP missing 0") is NULL_ARRAY
    assert run("LPOP missing 2") is NULL_ARRAY
    run("RPUSH l a b c")
    assert run("LPOP l 0") == []
    assert run("RPOP l 2") == [b"c", b"b"]
    assert run("LPOP l -1") == ErrorReply("ERR value is out of range, must be positive")
    assert run("LPOP l x") == ErrorReply("ERR value is out of range, must be positive")
    assert run("LPOP l 1 2") == ErrorReply("ERR wrong number of arguments for 'lpop' command")


def test_lmove_same_key_rotates(run):
    run("RPUSH l a b c")
    assert run("LMOVE l l LEFT RIGHT") == b"a"
    assert run("LRANGE l 0 -1") == [b"b", b"c", b"a"]
    assert run("RPOPLPUSH l l") == b"a"
    assert run("LRANGE l 0 -1") == [b"a", b"b", b"c"]
    run("RPUSH solo x")
    assert run("LMOVE solo solo RIGHT LEFT") == b"x"
    assert run("LRANGE solo 0 -1") == [b"x"]


def test_lmove_wrong_destination_checked_only_when_moving(run):
    run("SET s str")
    assert run("LMOVE missing s LEFT LEFT") is None
    run("RPUSH l a")
    assert isinstance(run("LMOVE l s LEFT LEFT"), ErrorReply)
    assert run("LRANGE l 0 -1") == [b"a"]  # nothing popped


def test_lpos_rank_llong_min_quirk(run):
    # Redis negates the rank in a C long, so LLONG_MIN keeps its sign: every match counts.
    run("RPUSH l a b c a b c")
    assert run("LPOS l a RANK -9223372036854775808") == 3
    assert run("LPOS l a RANK -9223372036854775808 COUNT 1") == [3, 0]
    assert run("LPOS l a RANK -9223372036854775807 COUNT 2") == []


def test_lrem_directions(run):
    run("RPUSH l a b a c a d a")
    assert run("LREM l -2 a") == 2
    assert run("LRANGE l 0 -1") == [b"a", b"b", b"a", b"c", b"d"]
    assert run("LREM l 1 a") == 1
    assert run("LRANGE l 0 -1") == [b"b", b"a", b"c", b"d"]


def test_large_trim_and_range(run):
    run("RPUSH l " + " ".join(str(i) for i in range(1000)))
    assert run("LRANGE l 990 -1") == [str(i).encode() for i in range(990, 1000)]
    assert run("LRANGE l -1000 2") == [b"0", b"1", b"2"]
    assert run("LTRIM l 100 109") == "OK"
    assert run("LRANGE l 0 -1") == [str(i).encode() for i in range(100, 110)]
    assert run("LTRIM l 1 -2") == "OK"
    assert run("LLEN l") == 8


def test_notifications_and_dirty(session, engine):
    seen: list[tuple[str, str, bytes]] = []
    engine.notify_hook = lambda db, cls, event, key: seen.append((cls, event, key))
    engine.notify_mask = 1
    dirty = engine.dirty
    session.execute("RPUSH", "src", "a", "b")
    assert engine.dirty - dirty == 2
    session.execute("LMOVE", "src", "dst", "RIGHT", "LEFT")
    session.execute("LMOVE", "src", "dst", "LEFT", "RIGHT")
    session.execute("LTRIM", "dst", "0", "-1")
    session.execute("LPOP", "dst", "5")
    assert seen == [
        ("l", "rpush", b"src"),
        ("l", "lpush", b"dst"), ("l", "rpop", b"src"),
        ("l", "rpush", b"dst"), ("l", "lpop", b"src"), ("g", "del", b"src"),
        ("l", "ltrim", b"dst"),
        ("l", "lpop", b"dst"), ("g", "del", b"dst"),
    ]


def test_push_signals_blocked_clients(session, engine):
    # Called directly: the engine would otherwise go on to serve the (fake) waiter.
    engine.blocking_keys[(0, b"l")] = []
    rpush_command(session, [b"RPUSH", b"l", b"a"])
    assert b"l" in engine.db(0).ready
    assert engine.db(0) in engine.ready_dbs


def test_helpers_for_blocking_variants(session):
    session.execute("RPUSH", "b", "1", "2", "3")
    assert _mpop_generic(session, [b"a", b"b"], True, 1, nested=False) == [b"b", b"1"]
    assert _mpop_generic(session, [b"a"], True, 1) is None
    assert _pop_generic(session, b"b", False) == b"3"
    assert _lmove_generic(session, b"b", b"c", True, True) == b"2"
    assert _lmove_generic(session, b"b", b"c", True, True) is None
    lst = session.db.data[b"c"]
    assert _pop_range(session, b"c", lst, True, 10) == [b"2"]
    assert b"c" not in session.db.data


def test_work_is_counted(session):
    session.execute("RPUSH", "l", *[str(i) for i in range(50)])
    session.execute("LRANGE", "l", "0", "9")
    assert session.work >= 10


# ---------------------------------------------------------------------------------------------
# Differential scripts

LIST_SCRIPT = r"""
LPUSH l a b c
RPUSH l d "" "\x00\xff" e
LPUSH
LPUSH l
RPUSH l
LRANGE l 0 -1
LLEN l
LLEN missing
LPUSHX missing a
RPUSHX missing a b
LPUSHX l x y
RPUSHX l z
LRANGE l 0 -1
LINDEX l 0
LINDEX l -1
LINDEX l 100
LINDEX l -100
LINDEX l 9223372036854775807
LINDEX l -9223372036854775808
LINDEX l 9223372036854775808
LINDEX l abc
LINDEX l " 1"
LINDEX missing abc
LINDEX missing 0
LINDEX l
LSET l 0 first
LSET l -1 last
LSET l 100 x
LSET l -100 x
LSET l abc x
LSET missing 0 x
LSET missing abc x
LRANGE l 0 -1
LRANGE l 1 3
LRANGE l -3 -1
LRANGE l -100 100
LRANGE l 5 2
LRANGE l -2 -3
LRANGE l 100 200
LRANGE l -9223372036854775808 9223372036854775807
LRANGE l 0 abc
LRANGE l abc 0
LRANGE missing 0 -1
LRANGE missing abc 0
LRANGE l 0
LINSERT l BEFORE c C
LINSERT l after c c2
LINSERT l BeFoRe nothere x
LINSERT l middle c x
LINSERT missing BEFORE a b
LINSERT missing middle a b
LINSERT l BEFORE "\x00\xff" "\x01"
LRANGE l 0 -1
LINSERT l BEFORE c
LREM l 0 nothere
LREM missing 0 a
LREM missing x a
LREM l x a
RPUSH r a b a c a d a
LREM r 2 a
LRANGE r 0 -1
LREM r -1 a
LRANGE r 0 -1
LREM r 0 a
LRANGE r 0 -1
LREM r -9223372036854775808 b
LRANGE r 0 -1
LREM r 9223372036854775807 c
LRANGE r 0 -1
LREM r 1 d
LPUSHX r again
LTRIM l 1 -2
LRANGE l 0 -1
LTRIM l 0 -1
LTRIM l -2 -1
LRANGE l 0 -1
LTRIM l 5 1
LPUSHX l again
LLEN l
LTRIM missing 0 1
LTRIM missing x 1
LTRIM l x 1
LTRIM l 0
"""

POP_SCRIPT = r"""
RPUSH l a b c d e f g
LPOP l
RPOP l
LPOP l 2
RPOP l 2
LPOP l 0
RPOP l 0
LPOP l -1
RPOP l abc
LPOP l 1.5
LPOP l 9223372036854775807
LPOP l 9223372036854775808
LPOP l 1 2
LPOP
RPOP l
LPUSHX l x
LPOP missing
RPOP missing
LPOP missing 0
RPOP missing 5
LPOP missing -1
RPUSH l a b c
RPOP l 9223372036854775807
LLEN l
RPUSH src a b c
LMOVE src dst LEFT RIGHT
LMOVE src dst right left
LMOVE src dst LEFT LEFT
LMOVE src dst LEFT LEFT
LRANGE dst 0 -1
LRANGE src 0 -1
LMOVE dst dst LEFT RIGHT
LRANGE dst 0 -1
LMOVE dst dst RIGHT LEFT
LRANGE dst 0 -1
LMOVE dst x UP LEFT
LMOVE dst x LEFT DOWN
LMOVE missing x UP LEFT
LMOVE missing dst LEFT RIGHT
LMOVE dst
RPOPLPUSH dst dst
LRANGE dst 0 -1
RPOPLPUSH dst other
RPOPLPUSH missing other
RPOPLPUSH dst
LRANGE other 0 -1
RPUSH solo only
RPOPLPUSH solo solo
LRANGE solo 0 -1
LMOVE solo solo LEFT LEFT
LRANGE solo 0 -1
"""

LMPOP_SCRIPT = r"""
RPUSH a 1 2 3
RPUSH b x y z
LMPOP 1 a LEFT
LMPOP 1 a RIGHT
LMPOP 2 missing b LEFT COUNT 2
LMPOP 2 missing b RIGHT COUNT 10
LMPOP 2 missing b RIGHT COUNT 10
LMPOP 3 missing b a left count 1
LMPOP 1 missing LEFT
LMPOP 1 missing LEFT COUNT 5
LMPOP 0 a LEFT
LMPOP -1 a LEFT
LMPOP abc a LEFT
LMPOP 2 a LEFT
LMPOP 1 a MIDDLE
LMPOP 1 a LEFT COUNT 0
LMPOP 1 a LEFT COUNT -1
LMPOP 1 a LEFT COUNT abc
LMPOP 1 a LEFT COUNT 1 COUNT 1
LMPOP 1 a LEFT COUNT
LMPOP 1 a LEFT BOGUS
LMPOP 9223372036854775807 a LEFT
LMPOP 1 a
LMPOP 1
LMPOP 1 a LEFT COUNT 9223372036854775807
LMPOP 1 a LEFT
"""

LPOS_SCRIPT = r"""
RPUSH l a b c a b c a
LPOS l a
LPOS l c
LPOS l z
LPOS l a RANK 2
LPOS l a RANK -1
LPOS l a RANK -2
LPOS l a RANK 4
LPOS l a RANK 5
LPOS l a COUNT 0
LPOS l a COUNT 2
LPOS l a RANK 2 COUNT 0
LPOS l a RANK -1 COUNT 2
LPOS l a RANK -2 COUNT 0
LPOS l a RANK 5 COUNT 0
LPOS l z COUNT 0
LPOS l a MAXLEN 1
LPOS l a MAXLEN 3 COUNT 0
LPOS l a RANK -1 MAXLEN 1
LPOS l a RANK -1 MAXLEN 2 COUNT 0
LPOS l c MAXLEN 2
LPOS l a MAXLEN 0 COUNT 0
LPOS l a RANK 0
LPOS l a RANK abc
LPOS l a RANK -9223372036854775808
LPOS l a RANK -9223372036854775808 COUNT 1
LPOS l a RANK -9223372036854775808 COUNT 0 MAXLEN 4
LPOS l a RANK -9223372036854775807
LPOS l a RANK 9223372036854775807 COUNT 0
LPOS l a COUNT -1
LPOS l a COUNT abc
LPOS l a COUNT 9223372036854775807
LPOS l a MAXLEN -1
LPOS l a MAXLEN abc
LPOS l a COUNT
LPOS l a RANK
LPOS l a BOGUS 1
LPOS l a count 1 rank 2 maxlen 7
LPOS missing a
LPOS missing a COUNT 1
LPOS missing a RANK 0
LPOS l
"""

WRONGTYPE_SCRIPT = r"""
SET s v
LPUSH s a
RPUSH s a
LPUSHX s a
RPUSHX s a
LPOP s
RPOP s 2
LPOP s 0
LPOP s -1
LLEN s
LINDEX s 0
LINDEX s abc
LSET s 0 x
LSET s abc x
LRANGE s 0 -1
LRANGE s abc 0
LTRIM s 0 -1
LREM s 0 a
LREM s abc a
LINSERT s BEFORE a b
LINSERT s middle a b
LPOS s a
LPOS s a RANK 0
LMOVE s d LEFT LEFT
LMOVE missing s LEFT LEFT
RPUSH l a
LMOVE l s LEFT LEFT
RPOPLPUSH l s
RPOPLPUSH s l
LRANGE l 0 -1
LMPOP 2 missing s LEFT
LMPOP 2 l s LEFT
LMPOP 2 s l LEFT
GET l
"""


@pytest.mark.parametrize("script", [LIST_SCRIPT, POP_SCRIPT, LMPOP_SCRIPT, LPOS_SCRIPT,
                                    WRONGTYPE_SCRIPT],
                         ids=["basic", "pop-move", "lmpop", "lpos", "wrongtype"])
def test_lists_match_redis(differ, script):
    differ.check_all(script)


@pytest.mark.parametrize("script", [LIST_SCRIPT, POP_SCRIPT, LMPOP_SCRIPT, LPOS_SCRIPT,
                                    WRONGTYPE_SCRIPT],
                         ids=["basic", "pop-move", "lmpop", "lpos", "wrongtype"])
def test_lists_match_redis_resp3(differ3, script):
    _as_resp3(differ3).check_all(script)


def test_long_lists_match_redis(differ):
    items = [b"%d" % (i % 7) for i in range(600)]
    differ.check(b"RPUSH", b"big", *items)
    differ.check_all("""
    LRANGE big 0 -1
    LRANGE big 550 560
    LRANGE big -30 -20
    LPOS big 3 COUNT 0
    LPOS big 3 RANK -50 COUNT 3
    LPOS big 3 RANK 10 MAXLEN 100 COUNT 0
    LINDEX big 599
    LINDEX big 300
    LSET big 300 x
    LREM big 5 1
    LREM big -5 2
    LREM big 0 3
    LLEN big
    LINSERT big AFTER 6 y
    LRANGE big 0 20
    LTRIM big 10 -10
    LLEN big
    LRANGE big 0 -1
    RPOP big 100
    LPOP big 100
    LRANGE big 0 -1
    """)


def test_list_notifications_match_redis(redis_server):
    """The same commands produce the same keyspace events, in the same order."""
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
            "RPUSH src a b c", "LPUSH src z", "LPUSHX src y", "RPUSHX nope y",
            "LMOVE src dst LEFT RIGHT", "RPOPLPUSH src dst", "LSET dst 0 q",
            "LINSERT dst BEFORE q p", "LINSERT dst BEFORE nothere p", "LREM dst 1 p",
            "LREM dst 1 nothere", "LTRIM dst 0 -1", "LPOP src", "RPOP src 5",
            "LMPOP 2 src dst RIGHT COUNT 9", "RPUSH l a", "LMOVE l l LEFT RIGHT",
            "LPOP l 0", "LTRIM l 1 0",
        ]
        for line in script:
            args = line.split()
            ours.execute(*args)
            real.execute(*args)
        # A last event marks the end of the stream on the real side.
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

KEYS = st.sampled_from([b"a", b"b", b"\x00k", b"", b"str"])
ELEMS = st.one_of(st.sampled_from([b"x", b"y", b"", b"\x00", b"1", b"-1", b"x" * 70]),
                  st.binary(max_size=4))
INTS = st.one_of(st.integers(-8, 8),
                 st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**31]))
IARG = st.one_of(INTS.map(lambda i: b"%d" % i), st.sampled_from([b"abc", b"", b" 1", b"1.0"]))
SIDE = st.sampled_from([b"LEFT", b"RIGHT", b"left", b"Right", b"UP"])


def test_list_machine(redis_server):
    class ListMachine(RuleBasedStateMachine):
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

        def check(self, *args):
            ours = normalize(wire(self.session.execute(*args)))
            theirs = normalize(self.real.execute(*args))
            assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

        @rule(cmd=st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), k=KEYS,
              elems=st.lists(ELEMS, max_size=4))
        def push(self, cmd, k, elems):
            self.check(cmd, k, *elems)

        @rule(cmd=st.sampled_from([b"LPOP", b"RPOP"]), k=KEYS,
              count=st.one_of(st.none(), IARG), extra=st.booleans())
        def pop(self, cmd, k, count, extra):
            args = [cmd, k]
            if count is not None:
                args.append(count)
                if extra:
                    args.append(b"1")
            self.check(*args)

        @rule(k=KEYS, cmd=st.sampled_from([b"LLEN"]))
        def llen(self, k, cmd):
            self.check(cmd, k)

        @rule(k=KEYS, i=IARG)
        def lindex(self, k, i):
            self.check(b"LINDEX", k, i)

        @rule(k=KEYS, i=IARG, v=ELEMS)
        def lset(self, k, i, v):
            self.check(b"LSET", k, i, v)

        @rule(k=KEYS, a=IARG, b=IARG, cmd=st.sampled_from([b"LRANGE", b"LTRIM"]))
        def range_or_trim(self, k, a, b, cmd):
            self.check(cmd, k, a, b)
            self.check(b"LRANGE", k, b"0", b"-1")

        @rule(k=KEYS, n=IARG, v=ELEMS)
        def lrem(self, k, n, v):
            self.check(b"LREM", k, n, v)

        @rule(k=KEYS, where=st.sampled_from([b"BEFORE", b"after", b"MIDDLE"]), p=ELEMS,
              v=ELEMS)
        def linsert(self, k, where, p, v):
            self.check(b"LINSERT", k, where, p, v)

        @rule(k=KEYS, v=ELEMS, opts=st.lists(st.tuples(
            st.sampled_from([b"RANK", b"COUNT", b"MAXLEN", b"BOGUS"]), IARG), max_size=3))
        def lpos(self, k, v, opts):
            args = [b"LPOS", k, v]
            for name, val in opts:
                args += [name, val]
            self.check(*args)

        @rule(s=KEYS, d=KEYS, a=SIDE, b=SIDE, rpoplpush=st.booleans())
        def move(self, s, d, a, b, rpoplpush):
            if rpoplpush:
                self.check(b"RPOPLPUSH", s, d)
            else:
                self.check(b"LMOVE", s, d, a, b)

        @rule(numkeys=st.one_of(st.integers(-1, 4).map(lambda i: b"%d" % i), IARG),
              keys=st.lists(KEYS, min_size=1, max_size=3), side=SIDE,
              count=st.one_of(st.none(), IARG))
        def lmpop(self, numkeys, keys, side, count):
            args = [b"LMPOP", numkeys, *keys, side]
            if count is not None:
                args += [b"COUNT", count]
            self.check(*args)

        @rule(k=KEYS)
        def nodes(self, k):
            # DUMP writes the quicklist nodes as the list's history left them.
            self.check(b"DUMP", k)
            self.check(b"MEMORY", b"USAGE", k)

        @rule(k=KEYS)
        def make_string(self, k):
            self.check(b"SET", k, b"s")

    ListMachine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck))
    ListMachine.TestCase().runTest()


EMPTIED_SCRIPT = r"""
RPUSH a x
LPOP a
EXISTS a
RPUSH a x y
RPOP a 5
EXISTS a
RPUSH a x x
LREM a 0 x
EXISTS a
RPUSH a x y
LTRIM a 3 1
EXISTS a
RPUSH a x
LMOVE a b LEFT RIGHT
EXISTS a b
TYPE b
RPOPLPUSH b b
TYPE b
LMPOP 1 b RIGHT COUNT 9
EXISTS b
OBJECT ENCODING missing
RPUSH c 1 2 3
OBJECT ENCODING c
"""


@pytest.mark.skipif(not (_bound("EXISTS") and _bound("TYPE") and _bound("OBJECT ENCODING")),
                    reason="EXISTS, TYPE or OBJECT ENCODING is not bound in the engine yet")
def test_emptied_lists_vanish_like_redis(differ):
    differ.check_all(EMPTIED_SCRIPT)


def test_list_made_again_between_two_memory_reads(redis_server):
    # The new list's ends are the very same bytes object as the old one's: its size must
    # still be worked out afresh.
    from redislab.engine import ManualClock

    from ...support.machines import compared

    item = b"a"
    usage = [b"MEMORY", b"USAGE", b"l"]
    script = [[b"LPUSH", b"l"] + [item] * 11, usage, [b"LTRIM", b"l", b"1", b"0"], usage,
              [b"RPUSH", b"l", item, item], usage, [b"DUMP", b"l"]]
    real = redis_server.client()
    ours = Engine(ManualClock(), config={"list-max-listpack-size": "5"}).session()
    try:
        real.execute("FLUSHALL")
        real.execute("CONFIG", "SET", "list-max-listpack-size", "5")
        for args in script:
            assert compared(ours.execute(*args)) == normalize(real.execute(*args)), args
    finally:
        real.execute("CONFIG", "SET", "list-max-listpack-size", "-2")
        real.close()
