"""MULTI, EXEC, DISCARD, WATCH and UNWATCH: unit tests on the manual clock (WATCH with expiry,
checked by hand against Redis 7.0.15), replication of EXEC, and two clients compared with two
connections to real Redis, scripted and property-based."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from redislab.engine import Engine
from redislab.protocol import NULL_ARRAY, ErrorReply
from redislab.protocol.reply import Push

from ...support.real_redis import normalize, wire


@pytest.fixture
def two(engine):
    return engine.session(), engine.session()


def _exec(s):
    assert s.execute("MULTI") == "OK"
    assert s.execute("GET", "probe") == "QUEUED"
    return s.execute("EXEC")


# ---------------------------------------------------------------------------------------------
# Basics


def test_multi_exec_discard(run):
    assert run("MULTI") == "OK"
    assert run("SET a 1") == "QUEUED"
    assert run("INCR a") == "QUEUED"
    assert run("LPUSH a x") == "QUEUED"
    reply = run("EXEC")
    assert reply[:2] == ["OK", 2]
    assert isinstance(reply[2], ErrorReply) and reply[2].code == "WRONGTYPE"
    assert run("MULTI") == "OK"
    assert run("SET a 5") == "QUEUED"
    assert run("DISCARD") == "OK"
    assert run("GET a") == b"2"
    assert isinstance(run("EXEC"), ErrorReply)


def test_queueing_error_aborts(run):
    run("MULTI")
    run("SET a 1")
    assert isinstance(run("NOSUCHCOMMAND"), ErrorReply)
    assert run("EXEC") == ErrorReply(
        "EXECABORT Transaction discarded because of previous errors.")
    assert run("GET a") is None


def test_refused_exec_ends_the_transaction_and_watches(two):
    a, b = two
    a.execute("WATCH", "k")
    assert a.execute("EXEC", "extra") == ErrorReply(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command")
    b.execute("SET", "k", "2")
    assert _exec(a) == [None]  # the WATCH went with the refused EXEC


def test_watch_detects_a_change_by_another_client(two):
    a, b = two
    a.execute("WATCH", "k")
    b.execute("SET", "k", "1")
    assert _exec(a) is NULL_ARRAY
    # The failed EXEC unwatched everything: the next transaction runs.
    b.execute("SET", "k", "2")
    assert _exec(a) == [None]


def test_watch_then_unwatch(two):
    a, b = two
    a.execute("WATCH", "k")
    b.execute("SET", "k", "1")
    a.execute("UNWATCH")
    assert _exec(a) == [None]


def test_watch_in_another_db_and_select(two):
    a, b = two
    a.execute("SELECT", "1")
    a.execute("WATCH", "k")
    b.execute("SET", "k", "1")  # db 0: not watched
    assert _exec(a) == [None]
    a.execute("WATCH", "k")
    b.execute("SELECT", "1")
    b.execute("SET", "k", "1")
    assert _exec(a) is NULL_ARRAY


def test_dirty_client_stops_watching(two, engine):
    a, b = two
    a.execute("WATCH", "x")
    b.execute("SET", "x", "1")
    assert a.watched == [] and engine.db(0).watched == {}
    a.execute("WATCH", "y")  # a doomed transaction watches nothing more
    assert a.watched == []
    assert _exec(a) is NULL_ARRAY


def test_closing_a_session_forgets_its_watches(engine, two):
    a, _ = two
    a.execute("WATCH", "k", "j")
    engine.close_session(a)
    assert engine.db(0).watched == {}


def test_blocking_command_in_exec_does_not_block(run):
    run("MULTI")
    run("XREAD BLOCK 0 STREAMS s $")
    assert run("EXEC") == [NULL_ARRAY]


def test_subscribe_inside_exec_answers_inside_the_array(session):
    session.execute("MULTI")
    session.execute("SUBSCRIBE", "ch")
    reply = session.execute("EXEC")
    assert reply == [Push([b"subscribe", b"ch", 1])]
    assert session.drain() == []


# ---------------------------------------------------------------------------------------------
# WATCH and expiry (7.0 semantics; each case was checked against redis-server 7.0.15)


def _expired_key(s, clock, key="k"):
    s.execute("SET", key, "v", "PX", "1")
    clock.advance(0.01)


def test_key_already_expired_when_watched_does_not_fail_exec(two, clock):
    a, b = two
    _expired_key(b, clock)
    a.execute("WATCH", "k")
    assert _exec(a) == [None]


def test_watched_key_that_expires_before_exec_fails_it(two, clock):
    a, b = two
    b.execute("SET", "k", "v", "PX", "20")
    a.execute("WATCH", "k")
    clock.advance(0.03)
    assert _exec(a) is NULL_ARRAY


def test_watched_key_that_expires_and_is_deleted_lazily_fails_exec(two, clock, engine):
    a, b = two
    b.execute("SET", "k", "v", "PX", "20")
    a.execute("WATCH", "k")
    clock.advance(0.03)
    assert b.execute("GET", "k") is None
    assert engine.stats.expired_keys == 1
    assert _exec(a) is NULL_ARRAY


def test_watched_key_expiring_actively_fails_exec(two, engine):
    a, b = two
    b.execute("SET", "k", "v", "PX", "20")
    a.execute("WATCH", "k")
    engine.advance(1)
    assert engine.db(0).data == {}
    assert _exec(a) is NULL_ARRAY


@pytest.mark.parametrize("command", [["GET", "k"], ["DEL", "k"], ["EXPIRE", "k", "100"],
                                     ["EXISTS", "k"], ["FLUSHALL"], ["FLUSHDB"]])
def test_deleting_an_already_expired_watched_key_is_no_change(two, clock, command):
    a, b = two
    _expired_key(b, clock)
    a.execute("WATCH", "k")
    b.execute(*command)
    assert _exec(a) == [None]


@pytest.mark.parametrize("command", [["SET", "k", "x"], ["SET", "k", "x", "KEEPTTL"],
                                     ["APPEND", "k", "x"], ["LPUSH", "k", "x"]])
def test_writing_an_already_expired_watched_key_fails_exec(two, clock, command):
    a, b = two
    _expired_key(b, clock)
    a.execute("WATCH", "k")
    b.execute(*command)
    assert _exec(a) is NULL_ARRAY


def test_two_watchers_of_an_expired_key_both_fail_on_a_write(engine, clock):
    a, b, c = engine.session(), engine.session(), engine.session()
    _expired_key(b, clock)
    a.execute("WATCH", "k")
    c.execute("WATCH", "k")
    b.execute("SET", "k", "x")
    assert _exec(a) is NULL_ARRAY
    assert _exec(c) is NULL_ARRAY


@pytest.mark.parametrize("setup, dirty", [
    ("live", True), ("missing", False), ("expired", False)])
def test_flush_and_watch(two, clock, setup, dirty):
    a, b = two
    if setup == "live":
        b.execute("SET", "k", "v")
    elif setup == "expired":
        _expired_key(b, clock)
    a.execute("WATCH", "k")
    b.execute("FLUSHALL")
    assert (_exec(a) is NULL_ARRAY) is dirty


@pytest.mark.parametrize("here, there, dirty", [
    ("missing", "live", True),
    ("live", "missing", True),
    ("missing", "expired", False),
    ("expired", "expired", False),
    ("expired", "live", True),
    ("expired", "missing", False),
    ("missing", "missing", False),
])
def test_swapdb_and_watch(two, clock, here, there, dirty):
    a, b = two
    for db, state in (("0", here), ("1", there)):
        b.execute("SELECT", db)
        if state == "live":
            b.execute("SET", "k", "v")
        elif state == "expired":
            b.execute("SET", "k", "v", "PX", "1")
    b.execute("SELECT", "0")
    clock.advance(0.01)
    a.execute("WATCH", "k")
    b.execute("SWAPDB", "0", "1")
    assert (_exec(a) is NULL_ARRAY) is dirty


# ---------------------------------------------------------------------------------------------
# Replication of a transaction (7.0: one write alone, several wrapped in MULTI/EXEC)


@pytest.fixture
def propagated(engine):
    out: list[tuple[int, list[bytes]]] = []
    engine.propagate_hooks.append(lambda db, argv: out.append((db, argv)))
    engine.refresh_gate()
    return out


def test_exec_replicates_as_a_block(session, propagated):
    session.execute("MULTI")
    session.execute("SET", "a", "1")
    session.execute("GET", "a")
    session.execute("SELECT", "2")
    session.execute("SET", "b", "2")
    session.execute("EXEC")
    assert propagated == [(0, [b"MULTI"]), (0, [b"SET", b"a", b"1"]),
                          (2, [b"SET", b"b", b"2"]), (2, [b"EXEC"])]


def test_exec_with_one_write_replicates_it_alone(session, propagated):
    session.execute("MULTI")
    session.execute("GET", "a")
    session.execute("SET", "a", "1")
    session.execute("EXEC")
    session.execute("MULTI")
    session.execute("GET", "a")
    session.execute("EXEC")
    assert propagated == [(0, [b"SET", b"a", b"1"])]


def test_exec_replicates_rewritten_commands(session, propagated, engine):
    session.execute("SET", "k", "v")
    propagated.clear()
    session.execute("MULTI")
    session.execute("EXPIRE", "k", "100")
    session.execute("EXPIRE", "k", "-1")
    session.execute("EXEC")
    when = engine.now_ms() + 100_000
    assert propagated == [(0, [b"MULTI"]), (0, [b"PEXPIREAT", b"k", b"%d" % when]),
                          (0, [b"DEL", b"k"]), (0, [b"EXEC"])]
    session.execute("SET", "x", "1")
    assert propagated[-1] == (0, [b"SET", b"x", b"1"])


# ---------------------------------------------------------------------------------------------
# Against real Redis: one client


TX_SCRIPT = r"""
EXEC
DISCARD
MULTI
MULTI
SET a 1
EXEC
MULTI
WATCH a
SET a 2
EXEC
GET a
MULTI
SET a 3
BOGUSCMD
EXEC
GET a
MULTI
GET a b
SET a 4
EXEC
MULTI
INCR a
LPUSH a x
SET b 5
EXEC
MULTI
DISCARD
DISCARD
WATCH
UNWATCH x
MULTI
UNWATCH
WATCH a
EXEC
MULTI
OBJECT BOGUS
EXEC
MULTI
SELECT 1
SET x y
SELECT 0
EXEC
SELECT 1
GET x
SELECT 0
MULTI
EXEC
MULTI
SET a 1
DISCARD
EXEC
MULTI
WAIT 1 0
EXEC
MULTI
FLUSHALL
EXEC
WATCH a b c
MULTI
GET a
EXEC
EXEC x
MULTI
EXEC x
EXEC
MULTI
DISCARD x
EXEC
MULTI x
DISCARD x
MULTI
SET k v
EXPIRE k -1
EXISTS k
EXEC
MULTI
XREAD BLOCK 0 STREAMS s $
EXEC
WATCH w
SET w 1
MULTI
GET w
EXEC
"""


def test_transactions_match_redis(differ):
    differ.check_all(TX_SCRIPT)


def test_transactions_match_redis_resp3(differ3):
    differ3.check_all(TX_SCRIPT)


def test_subscribe_inside_exec_matches_redis(differ):
    differ.check_all("""
    MULTI
    SUBSCRIBE x
    EXEC
    MULTI
    GET a
    EXEC
    """)


# ---------------------------------------------------------------------------------------------
# Against real Redis: two clients


class Pair:
    """Two sessions on one engine and two connections to one real server, side by side."""

    def __init__(self, server: Any) -> None:
        self.engine = Engine()
        self.ours = [self.engine.session(), self.engine.session()]
        self.real = [server.client(), server.client()]
        self.real[0].execute("FLUSHALL")

    def check(self, who: int, *args: Any) -> Any:
        ours = normalize(wire(self.ours[who].execute(*args)))
        theirs = normalize(self.real[who].execute(*args))
        assert ours == theirs, f"client {who} {args!r}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def close(self) -> None:
        for r in self.real:
            r.close()


@pytest.fixture
def pair(redis_server):
    p = Pair(redis_server)
    try:
        yield p
    finally:
        p.close()


def test_two_clients_match_redis(pair):
    script = """
    0 WATCH k
    1 SET k 1
    0 MULTI
    0 SET k 2
    0 EXEC
    0 GET k
    0 WATCH k j
    1 GET k
    1 DEL j
    0 MULTI
    0 INCR k
    0 EXEC
    0 WATCH k
    1 SET k 1
    0 WATCH j
    0 MULTI
    0 EXEC
    0 WATCH k
    1 SELECT 1
    1 SET k 1
    0 MULTI
    0 INCR k
    0 EXEC
    1 SELECT 0
    0 WATCH k
    1 FLUSHDB
    0 MULTI
    0 EXEC
    0 WATCH nothing
    1 FLUSHALL
    0 MULTI
    0 EXEC
    1 SET k v
    0 WATCH k
    1 SWAPDB 0 1
    0 MULTI
    0 GET k
    0 EXEC
    0 WATCH k
    1 EXPIRE k 100
    0 MULTI
    0 EXEC
    1 SET k v
    0 WATCH k
    1 PERSIST k
    1 EXPIRE missing 10
    0 MULTI
    0 EXEC
    0 WATCH k
    1 PERSIST k
    1 RENAME k k2
    0 MULTI
    0 EXEC
    0 WATCH k2
    1 MOVE k2 3
    0 MULTI
    0 EXEC
    0 SELECT 3
    0 WATCH k2
    1 SELECT 3
    1 COPY k2 k3
    0 MULTI
    0 EXEC
    0 WATCH k3
    1 COPY k2 k3 REPLACE
    0 MULTI
    0 EXEC
    0 WATCH k2 k3
    1 UNLINK k3
    0 MULTI
    0 EXEC
    """
    for line in script.strip().splitlines():
        who, *args = line.split()
        pair.check(int(who), *args)


# ---------------------------------------------------------------------------------------------
# Property-based: random interleavings of two clients

KEYS = st.sampled_from([b"a", b"b", b"c"])
WRITES = st.one_of(
    st.tuples(st.just(b"SET"), KEYS, st.sampled_from([b"1", b"x"])),
    st.tuples(st.just(b"INCR"), KEYS),
    st.tuples(st.just(b"DEL"), KEYS),
    st.tuples(st.just(b"LPUSH"), KEYS, st.just(b"e")),
    st.tuples(st.just(b"EXPIRE"), KEYS, st.sampled_from([b"-1", b"1000"])),
    st.tuples(st.just(b"PERSIST"), KEYS),
    st.tuples(st.just(b"RENAME"), KEYS, KEYS),
    st.tuples(st.just(b"GET"), KEYS),
    st.tuples(st.just(b"EXISTS"), KEYS),
    st.tuples(st.just(b"FLUSHDB"),),
    st.tuples(st.just(b"SWAPDB"), st.just(b"0"), st.just(b"1")),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1"])),
    st.tuples(st.just(b"GET"),),                 # arity error
    st.tuples(st.just(b"NOPE"), KEYS),           # unknown command
)


def test_two_client_transaction_machine(redis_server):
    class TwoClients(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.pair = Pair(redis_server)

        def teardown(self):
            if hasattr(self, "pair"):
                self.pair.close()

        @rule(who=st.integers(0, 1), cmd=WRITES)
        def command(self, who, cmd):
            self.pair.check(who, *cmd)

        @rule(who=st.integers(0, 1), keys=st.lists(KEYS, min_size=1, max_size=3))
        def watch(self, who, keys):
            self.pair.check(who, b"WATCH", *keys)

        @rule(who=st.integers(0, 1),
              name=st.sampled_from([b"MULTI", b"EXEC", b"DISCARD", b"UNWATCH"]))
        def control(self, who, name):
            self.pair.check(who, name)

        @invariant()
        def same_state(self):
            if not hasattr(self, "pair"):
                return
            # Compare data through a third connection on each side.
            ours = self.pair.engine.session()
            real = redis_server.client()
            try:
                for db in (b"0", b"1"):
                    ours.execute("SELECT", db)
                    real.execute("SELECT", db)
                    assert sorted(ours.execute("KEYS", "*")) == sorted(real.execute("KEYS", "*"))
            finally:
                real.close()
                self.pair.engine.close_session(ours)

    TwoClients.TestCase.settings = settings(
        max_examples=60, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    TwoClients.TestCase().runTest()
