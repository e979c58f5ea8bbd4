"""Generic keyspace commands: unit tests on the manual clock, scripts compared with real Redis,
and a state machine of keys with expire times run against real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from redislab.engine import Engine
from redislab.engine.engine import LRU_CLOCK_MAX
from redislab.protocol import ErrorReply

from ...support.real_redis import normalize, wire

# ---------------------------------------------------------------------------------------------
# Expire times


def test_ttl_rounds_like_redis(run, clock):
    run("SET k v")
    run("PEXPIRE k 1499")
    assert run("TTL k") == 1
    assert run("PTTL k") == 1499
    run("PEXPIRE k 1500")
    assert run("TTL k") == 2
    clock.advance(1.0)
    assert run("TTL k") == 1  # 500 ms left rounds up
    clock.advance(0.001)
    assert run("TTL k") == 0


def test_expire_in_the_past_deletes_and_replicates_as_del(session, engine):
    out: list[tuple[int, list[bytes]]] = []
    engine.propagate_hooks.append(lambda db, argv: out.append((db, argv)))
    engine.refresh_gate()
    session.execute("SET", "k", "v")
    assert session.execute("EXPIRE", "k", "-5") == 1
    assert session.execute("EXISTS", "k") == 0
    assert out[-1] == (0, [b"DEL", b"k"])
    session.execute("SET", "k", "v")
    session.execute("EXPIRE", "k", "100", "GT") == 0
    session.execute("EXPIRE", "k", "100", "NX")
    when = engine.now_ms() + 100_000
    assert out[-1] == (0, [b"PEXPIREAT", b"k", b"%d" % when, b"NX"])
    session.execute("PEXPIREAT", "k", "99999999999999")
    assert out[-1] == (0, [b"PEXPIREAT", b"k", b"99999999999999"])
    engine.config.set("lazyfree-lazy-expire", "yes")
    session.execute("EXPIREAT", "k", "1")
    assert out[-1] == (0, [b"UNLINK", b"k"])


def test_gt_and_lt_treat_no_ttl_as_forever(run):
    run("SET k v")
    assert run("EXPIRE k 100 GT") == 0
    assert run("TTL k") == -1
    assert run("EXPIRE k 100 LT") == 1
    assert run("EXPIRE k 50 GT") == 0
    assert run("EXPIRE k 200 GT") == 1
    assert run("EXPIRE k 300 LT") == 0
    assert run("TTL k") == 200


def test_persist_and_expiretime(run, engine):
    run("SET k v")
    run("EXPIREAT k 4000000000")
    assert run("EXPIRETIME k") == 4000000000
    assert run("PEXPIRETIME k") == 4000000000000
    assert run("PERSIST k") == 1
    assert run("PERSIST k") == 0
    assert run("EXPIRETIME k") == -1
    assert run("EXPIRETIME missing") == -2


def test_expired_keys_vanish_from_every_read(run, clock, engine):
    run("SET a 1 PX 100")
    run("SET b 1")
    clock.advance(0.2)
    assert sorted(run("KEYS *")) == [b"b"]
    assert run("DBSIZE") == 2  # KEYS filters but does not delete
    assert engine.stats.expired_keys == 0
    assert run("EXISTS a") == 0
    assert run("DBSIZE") == 1
    assert engine.stats.expired_keys == 1


# ---------------------------------------------------------------------------------------------
# Lookups: statistics and access time


def test_introspection_counts_hits_but_keeps_access_time(run, engine):
    run("SET k v")
    db = engine.db(0)
    db.lru[b"k"] = 5
    stats = engine.stats
    hits, misses = stats.keyspace_hits, stats.keyspace_misses
    run("TYPE k")
    run("EXISTS k k nope")
    run("TTL k")
    run("OBJECT ENCODING k")
    run("OBJECT ENCODING nope")
    assert (stats.keyspace_hits - hits, stats.keyspace_misses - misses) == (5, 2)
    assert db.lru[b"k"] == 5
    assert run("TOUCH k nope") == 1
    assert db.lru[b"k"] == engine.lru_clock


def test_object_idletime_follows_the_lru_clock(run, engine):
    run("SET k v")
    engine.advance(30)
    assert run("OBJECT IDLETIME k") == 30
    run("GET k")
    assert run("OBJECT IDLETIME k") == 0
    # The 24-bit clock wraps around after about 194 days.
    engine.db(0).lru[b"k"] = LRU_CLOCK_MAX - 10
    engine.lru_clock = 5
    assert run("OBJECT IDLETIME k") == 15


def test_object_freq_and_idletime_depend_on_the_policy(run, engine, clock):
    run("SET k v")
    assert run("OBJECT FREQ k").message.startswith("ERR An LFU maxmemory policy is not selected")
    engine.config.set("maxmemory-policy", "allkeys-lfu")
    assert run("OBJECT IDLETIME k").message.startswith("ERR An LFU maxmemory policy is selected")
    minutes = (clock.time_ms() // 60000) & 65535
    engine.db(0).lru[b"k"] = (minutes << 8) | 5
    assert run("OBJECT FREQ k") == 5
    clock.advance(180)
    assert run("OBJECT FREQ k") == 2  # one point per lfu-decay-time minute
    assert run("OBJECT FREQ nope") is None


def test_refcount_of_shared_integers(run, engine):
    run("SET small 42")
    run("SET big 10000")
    run("SET text hello")
    assert run("OBJECT REFCOUNT small") == 2147483647
    assert run("OBJECT REFCOUNT big") == 1
    assert run("OBJECT REFCOUNT text") == 1
    engine.config.set("maxmemory-policy", "volatile-ttl")
    engine.config.set("maxmemory", "100mb")
    assert run("OBJECT REFCOUNT small") == 2147483647
    engine.config.set("maxmemory-policy", "allkeys-lru")
    assert run("OBJECT REFCOUNT small") == 1


def test_object_help_shape(run):
    lines = run("OBJECT HELP")
    assert lines[0].startswith("OBJECT <subcommand>")
    assert lines[-2:] == ["HELP", "    Prints this help."]
    assert [x.split()[0] for x in lines[1:-2] if not x.startswith(" ")] == [
        "ENCODING", "FREQ", "IDLETIME", "REFCOUNT"]


# ---------------------------------------------------------------------------------------------
# RANDOMKEY, RENAME, MOVE, COPY


def test_randomkey_skips_and_deletes_expired_keys(engine, clock):
    s = engine.session()
    for i in range(50):
        s.execute("SET", b"t%d" % i, "v", "PX", "10")
    s.execute("SET", "keeper", "v")
    clock.advance(1)
    assert s.execute("RANDOMKEY") == b"keeper"
    assert engine.stats.expired_keys >= 1
    s.execute("FLUSHALL")
    assert s.execute("RANDOMKEY") is None


def test_randomkey_covers_the_keyspace(engine):
    s = engine.session()
    for i in range(5):
        s.execute("SET", b"k%d" % i, "v")
    assert {s.execute("RANDOMKEY") for _ in range(200)} == {b"k%d" % i for i in range(5)}
    s.execute("SCAN", "0")  # with the scan index in place, draws use it
    assert {s.execute("RANDOMKEY") for _ in range(200)} == {b"k%d" % i for i in range(5)}


def test_rename_keeps_ttl(run, engine):
    run("SET a v EX 100")
    assert run("RENAME a b") == "OK"
    assert run("TTL b") == 100
    assert run("OBJECT IDLETIME b") == 0
    assert run("RENAME b b") == "OK"
    assert run("RENAMENX b b") == 0
    assert run("RENAME nope x") == ErrorReply("ERR no such key")


def test_move_between_databases(run, engine):
    run("SET a v EX 100")
    assert run("MOVE a 3") == 1
    assert engine.db(3).data == {b"a": b"v"}
    assert engine.db(3).ttl_ms(b"a") == 100_000
    assert run("MOVE a 3") == 0


def test_copy_is_deep_and_keeps_encodings(run, engine):
    run("HSET h a 1 b 2")
    run("RPUSH l x y")
    run("SADD s 1 2 3")
    run("SADD t a b")
    run("ZADD z 1 a 2 b")
    run("SET str hello")
    run("APPEND raw hello")
    for key in ("h", "l", "s", "t", "z", "str", "raw"):
        assert run(f"COPY {key} {key}2") == 1
        assert run(f"OBJECT ENCODING {key}2") == run(f"OBJECT ENCODING {key}")
    run("HSET h2 c 3")
    run("RPUSH l2 z")
    run("SADD s2 4")
    run("ZADD z2 3 c")
    run("APPEND raw2 !")
    assert run("HLEN h") == 2
    assert run("LLEN l") == 2
    assert run("SCARD s") == 3
    assert run("ZCARD z") == 2
    assert run("GET raw") == b"hello"
    assert run("COPY h h2") == 0
    assert run("COPY h h2 REPLACE") == 1
    assert run("HLEN h2") == 2
    assert run("COPY h h DB 5") == 1
    assert engine.db(5).data[b"h"] == {b"a": b"1", b"b": b"2"}


def test_flush_swap_and_select(run, engine):
    other = engine.session()
    other.execute("SELECT", "1")
    run("SET k zero")
    other.execute("SET", "k", "one")
    run("SWAPDB 0 1")
    assert run("GET k") == b"one"
    assert other.execute("GET", "k") == b"zero"  # the client keeps its index
    run("FLUSHALL")
    assert other.execute("DBSIZE") == 0


def test_keyspace_notifications(session, engine):
    events: list[tuple[int, str, bytes]] = []
    engine.config.set("notify-keyspace-events", "Eg")
    engine.notify_hook = lambda db, cls, event, key: cls == "g" and events.append(
        (db, event, key))
    for line in ["SET a v", "RENAME a b", "MOVE b 2", "SELECT 2", "COPY b c",
                 "EXPIRE c 100", "PERSIST c", "EXPIRE c 0", "DEL b"]:
        session.execute(*line.split())
    assert events == [(0, "rename_from", b"a"), (0, "rename_to", b"b"),
                      (0, "move_from", b"b"), (2, "move_to", b"b"), (2, "copy_to", b"c"),
                      (2, "expire", b"c"), (2, "persist", b"c"), (2, "del", b"c"),
                      (2, "del", b"b")]


# ---------------------------------------------------------------------------------------------
# Against real Redis

GENERIC_SCRIPT = r"""
SET a 1
SET b hello
SET "bin\x00key" v
SET "" empty
DEL a missing a
EXISTS b b missing "bin\x00key" ""
TYPE b
TYPE missing
TYPE ""
UNLINK b missing
DEL
EXISTS
TYPE
TYPE a b
SET k v
EXPIRE k 100
TTL k
EXPIRE k 100 NX
EXPIRE k 200 XX
EXPIRE k 50 GT
EXPIRE k 500 GT
EXPIRE k 1000 LT
EXPIRE k 10 LT
TTL k
EXPIRE k 10 NX XX
EXPIRE k 10 NX GT
EXPIRE k 10 nx lt
EXPIRE k 10 GT LT
EXPIRE k 20 XX GT
EXPIRE k 10 BOGUS
EXPIRE k 10 "bo\r\ngus"
EXPIRE k abc NX XX
EXPIRE k abc BOGUS
EXPIRE k abc
EXPIRE k 1.5
EXPIRE k 9223372036854775807
EXPIRE k -9223372036854775808
EXPIRE k 9223372036854775
EXPIRE k 9223372036854774
PEXPIRE k 9223372036854775807
PEXPIREAT k 9223372036854775807
PEXPIRETIME k
EXPIRETIME k
EXPIREAT k 9223372036854775807
EXPIREAT k 9223372036854775
EXPIREAT k 4000000000
EXPIRETIME k
PEXPIRETIME k
PEXPIREAT k 4000000000123
EXPIRETIME k
PEXPIRETIME k
PEXPIREAT k 4000000000499
EXPIRETIME k
PEXPIREAT k 4000000000500
EXPIRETIME k
TTL missing
PTTL missing
EXPIRETIME missing
PEXPIRETIME missing
SET p v
TTL p
PTTL p
EXPIRETIME p
PEXPIRETIME p
EXPIRE p 100 GT
EXPIRE p 100 XX
EXPIRE p 100 LT
TTL p
PERSIST p
PERSIST p
PERSIST missing
EXPIRE missing 10
EXPIRE p -1
EXISTS p
SET p v
EXPIREAT p 1
EXISTS p
SET p v
PEXPIRE p 0
EXISTS p
SET p v
EXPIRE p 0 GT
EXPIRE p 0 LT
EXISTS p
SET p v
PEXPIREAT p 0 NX
EXISTS p
LPUSH list x
EXPIRE list 100
TTL list
PERSIST list
TYPE list
EXPIRE k
EXPIRE
TTL
TTL a b
PERSIST
SET a 1
SET b 2
SET c 3
RENAME a a2
RENAME a a2
RENAME a2 a2
RENAMENX a2 a2
RENAMENX a2 b
RENAMENX a2 a3
RENAME
RENAME a3
EXPIRE a3 1000
RENAME a3 a4
TTL a4
RENAME a4 b
TTL b
GET b
RENAMENX missing x
RENAME "bin\x00key" "bin\x00key2"
GET "bin\x00key2"
MOVE b 1
MOVE b 1
MOVE c 0
MOVE c 16
MOVE c -1
MOVE c abc
MOVE c 4294967296
MOVE missing 1
SELECT 1
TTL b
GET b
SET c x
SELECT 0
MOVE c 1
SELECT 1
GET c
SELECT 16
SELECT -1
SELECT abc
SELECT 2147483648
SELECT 1.0
SELECT 0
SET s hello
COPY s s2
GET s2
COPY s s2
COPY s s2 REPLACE
COPY s s
COPY s s DB 0
COPY s s DB 1
COPY s s DB 1
COPY s s DB 1 REPLACE
COPY s x DB
COPY s x DB 16
COPY s x DB abc
COPY s x BOGUS
COPY s x REPLACE REPLACE
COPY missing x
COPY list list2
LRANGE list2 0 -1
SET n 5
COPY n n2
OBJECT ENCODING n2
OBJECT REFCOUNT n
OBJECT ENCODING s
OBJECT ENCODING missing
OBJECT REFCOUNT missing
OBJECT IDLETIME s
OBJECT IDLETIME missing
OBJECT FREQ s
OBJECT FREQ missing
OBJECT ENCODING
OBJECT
OBJECT BOGUS
OBJECT BOGUS x
OBJECT HELP x
OBJECT encoding s
SET big 10000
OBJECT REFCOUNT big
SET neg -1
OBJECT REFCOUNT neg
SET z 0
OBJECT REFCOUNT z
SET e 9999
OBJECT REFCOUNT e
SET lead 05
OBJECT REFCOUNT lead
APPEND ap 5
OBJECT ENCODING ap
OBJECT REFCOUNT ap
OBJECT ENCODING list
TOUCH s n missing
TOUCH
RANDOMKEY x
WAIT 0 0
WAIT 0 10
WAIT 1 10
WAIT x 0
WAIT 0 x
WAIT 0 -1
WAIT 0 9223372036854775807
"""


def test_generic_commands_match_redis(differ):
    differ.check_all(GENERIC_SCRIPT)


def test_generic_commands_match_redis_resp3(differ3):
    differ3.check_all(GENERIC_SCRIPT)


def test_object_help_shape_matches_redis(differ):
    ours, theirs = differ.both("OBJECT", "HELP")
    assert ours[0] == theirs[0] == "list"
    assert len(ours[1]) == len(theirs[1])
    for a, b in zip(ours[1], theirs[1]):
        assert a[0] == b[0] == "status"
        assert a[1].startswith("    ") == b[1].startswith("    ")
    assert ours[1][0] == theirs[1][0] and ours[1][-2:] == theirs[1][-2:]


def _check_sorted(differ: Any, *args: Any) -> list[bytes]:
    ours, theirs = differ.both(*args)
    assert ours[0] == theirs[0] == "list", (args, ours, theirs)
    assert sorted(ours[1]) == sorted(theirs[1]), args
    return sorted(ours[1])


KEYS = [b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"", b"a*b", b"a?b", b"a[b",
        b"a\\b", b"user:1", b"user:22", b"user:333", b"\xff\xfe", b"\x00nul", b"-dash", b"]x",
        b"^x", b"key with space", b"A", b"z"]
PATTERNS = [b"*", b"h?llo", b"h*llo", b"h[ae]llo", b"h[^e]llo", b"h[a-b]llo", b"h[b-a]llo",
            b"a\\*b", b"a\\?b", b"a\\[b", b"a\\\\b", b"user:*", b"user:??", b"*:*", b"[",
            b"a[", b"[^", b"*[", b"\\", b"", b"**", b"?", b"*\xff*", b"[\x00-\x01]*",
            b"[]x]*", b"[\\]]x", b"[a-]*", b"[-a]*", b"*e*l*l*o", b"[A-Z]", b"[^a-y]",
            b"h[a\\-e]llo", b"[\x80-\xff]*"]


def test_keys_glob_matches_redis(differ):
    for key in KEYS:
        differ.check("SET", key, b"v")
    for pattern in PATTERNS:
        _check_sorted(differ, "KEYS", pattern)
    differ.check("KEYS")
    differ.check("KEYS", "a", "b")


def test_randomkey_on_tiny_databases_matches_redis(differ):
    differ.check_all("""
    RANDOMKEY
    SET only v
    RANDOMKEY
    EXPIREAT only 1
    RANDOMKEY
    """)


# ---------------------------------------------------------------------------------------------
# A state machine of keys with expire times, against real Redis. Times are absolute and far in
# the past or future, so both sides agree without waiting; the relative TTL replies may differ
# by the few milliseconds between the two calls and are compared with that tolerance.

MKEYS = st.sampled_from([b"a", b"b", b"c", b"\x00bin"])
PAST = [b"1", b"1000000000"]
FUTURE_S = [b"4000000000", b"4100000000", b"9000000000"]
FUTURE_MS = [b"4000000000000", b"4000000000999", b"4050000000500"]
FLAGS = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT"]), max_size=2, unique=True)


def test_expiry_machine(redis_server):
    class ExpiryMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.real = redis_server.client()
            self.real.execute("FLUSHALL")
            self.session = Engine().session()

        def teardown(self):
            if hasattr(self, "real"):
                self.real.close()

        def both(self, *args):
            return (normalize(wire(self.session.execute(*args))),
                    normalize(self.real.execute(*args)))

        def check(self, *args):
            ours, theirs = self.both(*args)
            assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
            return ours

        @rule(k=MKEYS, v=st.sampled_from([b"1", b"v"]),
              opt=st.sampled_from([(), (b"EXAT",), (b"PXAT",), (b"EX",), (b"KEEPTTL",)]),
              i=st.integers(0, 2))
        def set(self, k, v, opt, i):
            # SET with a time already past stores a key that only a later access or the
            # background cycle removes, at a moment that differs between the two servers;
            # so SET only gets future times (and an invalid EX).
            args = [b"SET", k, v, *opt]
            if opt and opt[0] != b"KEEPTTL":
                args.append({b"EXAT": FUTURE_S, b"PXAT": FUTURE_MS}.get(opt[0], [b"-1"] * 3)[i])
            self.check(*args)

        @rule(k=MKEYS, cmd=st.sampled_from([b"EXPIREAT", b"PEXPIREAT"]), flags=FLAGS,
              t=st.sampled_from(PAST + FUTURE_S + FUTURE_MS))
        def expire_at(self, k, cmd, flags, t):
            self.check(cmd, k, t, *flags)

        @rule(k=MKEYS, cmd=st.sampled_from([b"EXPIRE", b"PEXPIRE"]), flags=FLAGS,
              t=st.sampled_from([b"0", b"-1", b"-100", b"9223372036854775807", b"x"]))
        def expire_relative(self, k, cmd, flags, t):
            # Only values that delete at once or fail: their outcome does not depend on "now".
            self.check(cmd, k, t, *flags)

        @rule(k=MKEYS)
        def ttls(self, k):
            for cmd in (b"EXPIRETIME", b"PEXPIRETIME", b"EXISTS", b"TYPE"):
                self.check(cmd, k)
            for cmd, slack in ((b"TTL", 1), (b"PTTL", 1000)):
                ours, theirs = self.both(cmd, k)
                if ours < 0 or theirs < 0:
                    assert ours == theirs, (cmd, k, ours, theirs)
                else:
                    assert abs(ours - theirs) <= slack, (cmd, k, ours, theirs)

        @rule(k=MKEYS, cmd=st.sampled_from([b"PERSIST", b"DEL", b"UNLINK", b"GET", b"TOUCH"]))
        def one_key(self, k, cmd):
            self.check(cmd, k)

        @rule(src=MKEYS, dst=MKEYS,
              cmd=st.sampled_from([(b"RENAME",), (b"RENAMENX",), (b"COPY",),
                                   (b"COPY", b"REPLACE")]))
        def two_keys(self, src, dst, cmd):
            self.check(cmd[0], src, dst, *cmd[1:])

        @rule(k=MKEYS, db=st.sampled_from([b"0", b"1"]))
        def move(self, k, db):
            self.check(b"MOVE", k, db)

        @rule(db=st.sampled_from([b"0", b"1"]))
        def select(self, db):
            self.check(b"SELECT", db)

        @rule()
        def swap(self):
            self.check(b"SWAPDB", b"0", b"1")

        @rule()
        def whole_db(self):
            self.check(b"DBSIZE")
            ours, theirs = self.both(b"KEYS", b"*")
            assert sorted(ours[1]) == sorted(theirs[1])
            ours, theirs = self.both(b"SCAN", b"0", b"COUNT", b"100")
            assert ours[1][0] == theirs[1][0] == b"0"
            assert sorted(ours[1][1][1]) == sorted(theirs[1][1][1])
            if self.check(b"DBSIZE") <= 1:
                self.check(b"RANDOMKEY")

    ExpiryMachine.TestCase.settings = settings(
        max_examples=60, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    ExpiryMachine.TestCase().runTest()


@pytest.mark.parametrize("value", ["9223372036854775807", "-9223372036854775808",
                                   "9223372036854775808", "", " 1", "1 ", "0x10", "01"])
def test_expire_argument_edge_cases_match_redis(differ, value):
    differ.check("SET", "k", "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        differ.check(cmd, "k", value)
        differ.check("SET", "k", "v")


def test_copy_of_every_type_matches_redis(differ):
    differ.check_all(r"""
    XADD st 1-1 f v
    XGROUP CREATE st g 0
    COPY st st2
    XADD st2 2-1 f w
    XLEN st
    XLEN st2
    XINFO GROUPS st2
    OBJECT ENCODING st2
    TYPE st2
    RENAME st2 st3
    XLEN st3
    MOVE st3 1
    PFADD hll a b c
    COPY hll hll2
    PFADD hll2 d
    PFCOUNT hll
    PFCOUNT hll2
    OBJECT ENCODING hll2
    TYPE hll
    SETBIT bm 7 1
    COPY bm bm2
    SETBIT bm2 0 1
    GET bm
    GET bm2
    OBJECT ENCODING bm2
    SET n 12345678
    COPY n n2
    OBJECT ENCODING n2
    SET e "embedded string"
    COPY e e2
    OBJECT ENCODING e2
    SET r "a string that is definitely longer than forty-four bytes, so raw"
    COPY r r2
    OBJECT ENCODING r2
    HSET h f v
    COPY h h2 DB 2
    SELECT 2
    HGETALL h2
    OBJECT ENCODING h2
    """)
