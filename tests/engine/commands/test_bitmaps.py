"""Bitmap commands compared with real Redis: replies, stored bytes, events and dirty counts."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine
from redislab.protocol import ErrorReply

from ...support.real_redis import normalize, wire


class EventDiffer:
    """Runs commands on the engine and on real Redis and compares, for each command, the
    reply, the keyspace events it published and how much it added to the dirty counter."""

    def __init__(self, server: Any) -> None:
        self.real = server.client()
        self.real.execute("FLUSHALL")
        self.real.execute("CONFIG", "SET", "notify-keyspace-events", "KEA")
        self.sub = server.client()
        self.sub.execute("PSUBSCRIBE", "__keyevent@*")
        self.engine = Engine()
        self.engine.config.set("notify-keyspace-events", "KEA")
        self.session = self.engine.session()
        self.listener = self.engine.session()
        self.listener.execute("PSUBSCRIBE", "__keyevent@*")
        self.listener.drain()
        self.our_base = self.engine.dirty
        self.real_base = self._dirty(self.real.execute("INFO", "persistence"))

    def _real_events(self) -> list[tuple[bytes, bytes]]:
        # A PING on the subscribed connection comes back after every event already queued.
        self.sub.send("PING")
        out = []
        while True:
            msg = self.sub.read()
            if msg[0] == b"pong":
                return out
            out.append((msg[2], msg[3]))

    def _our_events(self) -> list[tuple[bytes, bytes]]:
        return [(m[2], m[3]) for m in self.listener.drain()]

    @staticmethod
    def _dirty(info: bytes) -> int:
        for line in info.decode().splitlines():
            if line.startswith("rdb_changes_since_last_save:"):
                return int(line.split(":")[1])
        raise AssertionError("no rdb_changes_since_last_save in INFO")

    def reply(self, *args: Any) -> Any:
        """Compare one command's reply only; :meth:`sync` compares the side effects later."""
        ours = normalize(wire(self.session.execute(*args)))
        theirs = normalize(self.real.execute(*args))
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def sync(self, what: Any = "") -> None:
        """Compare dirty counts and events accumulated since the previous sync."""
        real_dirty = self._dirty(self.real.execute("INFO", "persistence"))
        assert self.engine.dirty - self.our_base == real_dirty - self.real_base, \
            f"{what!r}: dirty differs"
        self.our_base, self.real_base = self.engine.dirty, real_dirty
        assert self._our_events() == self._real_events(), f"{what!r}: events differ"

    def check(self, *args: Any) -> Any:
        ours = self.reply(*args)
        self.sync(args)
        return ours

    def check_all(self, script: str) -> None:
        from redislab.protocol import split_args
        for line in script.strip().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                parsed = split_args(line)
                assert parsed is not None, line
                self.check(*parsed)

    def close(self) -> None:
        self.real.execute("CONFIG", "SET", "notify-keyspace-events", "")
        self.real.close()
        self.sub.close()


@pytest.fixture
def events(redis_server):
    d = EventDiffer(redis_server)
    try:
        yield d
    finally:
        d.close()


# ---------------------------------------------------------------------------------------------
# Unit tests on the engine alone

def test_setbit_grows_in_place_with_greedy_capacity(run, session):
    assert run("SETBIT b 0 1") == 0
    v = session.db.data[b"b"]
    assert bytes(v.buf) == b"\x80" and v.alloc == 1
    assert run("SETBIT b 20 1") == 0
    assert bytes(v.buf) == b"\x80\x00\x08"
    # sdsMakeRoomFor doubles the needed length (6) and keeps the size class's room: 16 - 4.
    assert v.alloc == 12
    assert run("SETBIT b 95 1") == 0
    assert v.alloc == 12  # 12 bytes still fit: no growth
    assert run("OBJECT ENCODING b") == b"raw"


def test_bitfield_overflow_fail_replies_nil_and_leaves_value(run):
    assert run("BITFIELD k SET u8 0 250") == [0]
    assert run("BITFIELD k OVERFLOW FAIL INCRBY u8 0 10 GET u8 0") == [None, 250]
    assert run("BITFIELD k OVERFLOW SAT INCRBY u8 0 10") == [255]
    assert run("BITFIELD k OVERFLOW WRAP INCRBY u8 0 1") == [0]


def test_error_texts(run):
    assert run("SETBIT k -1 1") == ErrorReply("ERR bit offset is not an integer or out of range")
    assert run("SETBIT k 1 2") == ErrorReply("ERR bit is not an integer or out of range")
    assert run("BITFIELD k GET u64 0") == ErrorReply(
        "ERR Invalid bitfield type. Use something like i16 u8. "
        "Note that u64 is not supported but i64 is.")
    assert run("BITFIELD_RO k SET u8 0 1") == ErrorReply(
        "ERR BITFIELD_RO only supports the GET subcommand")
    assert run("BITOP NOT d a b") == ErrorReply(
        "ERR BITOP NOT must be called with a single source key.")


# ---------------------------------------------------------------------------------------------
# Differential scripts

SETBIT_GETBIT = r"""
SETBIT b 0 1
SETBIT b 7 1
SETBIT b 8 1
SETBIT b 8 1
SETBIT b 8 0
SETBIT b 8 0
GET b
GETBIT b 0
GETBIT b 1
GETBIT b 7
GETBIT b 8
GETBIT b 9
GETBIT b 100
GETBIT b 4294967295
GETBIT b 4294967296
GETBIT b -1
GETBIT b 1.5
GETBIT b abc
GETBIT b ""
GETBIT b " 1"
GETBIT b 01
GETBIT b +1
GETBIT b 9223372036854775807
GETBIT b 9223372036854775808
GETBIT missing 5
GETBIT missing -1
SETBIT b 4294967296 1
SETBIT b -1 1
SETBIT b 0 2
SETBIT b 0 -1
SETBIT b 0 a
SETBIT b 0 ""
SETBIT b 0 01
SETBIT b x 2
SETBIT b 100 0
STRLEN b
GET b
SETBIT b 100 0
SETBIT b 103 1
GET b
OBJECT ENCODING b
SETBIT new 0 0
GET new
SETBIT new2 23 1
GET new2
SET s hello
OBJECT ENCODING s
SETBIT s 0 1
GET s
OBJECT ENCODING s
SET i 12345
OBJECT ENCODING i
GETBIT i 2
GETBIT i 3
SETBIT i 7 0
GET i
OBJECT ENCODING i
SET ttl abc EX 100
SETBIT ttl 1 0
TTL ttl
SET same abc
SETBIT same 0 0
OBJECT ENCODING same
SET same2 7
BITFIELD same2 SET u8 0 55
OBJECT ENCODING same2
BITFIELD same2 GET u8 0
RPUSH l x
SETBIT l 0 1
GETBIT l 0
SETBIT l -1 1
"""

BITCOUNT_SCRIPT = r"""
SET s foobar
BITCOUNT s
BITCOUNT s 0 0
BITCOUNT s 1 1
BITCOUNT s 0 -1
BITCOUNT s -2 -1
BITCOUNT s -1 -2
BITCOUNT s 5 100
BITCOUNT s 100 200
BITCOUNT s -100 -50
BITCOUNT s -100 100
BITCOUNT s 0 -100
BITCOUNT s 3 2
BITCOUNT s -9223372036854775808 9223372036854775807
BITCOUNT s 0 0 BIT
BITCOUNT s 5 30 BIT
BITCOUNT s -1 -1 BIT
BITCOUNT s 7 7 BIT
BITCOUNT s 8 15 BIT
BITCOUNT s 1 6 BIT
BITCOUNT s 3 3 BIT
BITCOUNT s -10 -3 BIT
BITCOUNT s 0 47 BIT
BITCOUNT s 0 48 BIT
BITCOUNT s 9 8 BIT
BITCOUNT s -1 -2 BIT
BITCOUNT s -100 1000 BIT
BITCOUNT s 0 0 byte
BITCOUNT s 0 0 BYTE
BITCOUNT s 1 1 bit
BITCOUNT s 0 0 FOO
BITCOUNT s 0
BITCOUNT s 0 1 BIT extra
BITCOUNT s a 1
BITCOUNT s 0 b
BITCOUNT s 0 1.0
BITCOUNT missing
BITCOUNT missing a b
BITCOUNT missing 0
BITCOUNT missing 0 1 FOO
SET e ""
BITCOUNT e
BITCOUNT e 0 0
BITCOUNT e 0 -1 BIT
SET n 1234567
BITCOUNT n
BITCOUNT n 1 2 BIT
RPUSH l x
BITCOUNT l
BITCOUNT l 0 0
BITCOUNT l a b
"""

BITPOS_SCRIPT = r"""
SET a "\xff\xf0\x00"
SET z "\x00\x00\x00"
SET o "\xff\xff\xff"
SET e ""
SET m "\x00\x0f\xf0\x01"
BITPOS a 0
BITPOS a 1
BITPOS z 0
BITPOS z 1
BITPOS o 0
BITPOS o 1
BITPOS e 0
BITPOS e 1
BITPOS a 0 1
BITPOS a 0 2
BITPOS a 0 3
BITPOS a 1 1
BITPOS a 1 2
BITPOS o 0 1
BITPOS o 0 0 -1
BITPOS o 0 1 2
BITPOS o 0 0 0
BITPOS o 1 0 0
BITPOS z 1 0 -1
BITPOS z 0 5
BITPOS z 1 -1
BITPOS a 0 -1
BITPOS a 0 -1 -1
BITPOS a 1 -3 -2
BITPOS a 0 2 1
BITPOS a 0 -100 100
BITPOS a 1 100 200
BITPOS m 1 0 -1 BIT
BITPOS m 1 12 -1 BIT
BITPOS m 1 13 20 BIT
BITPOS m 1 21 30 BIT
BITPOS m 0 8 11 BIT
BITPOS m 0 12 19 BIT
BITPOS m 0 12 20 BIT
BITPOS m 1 31 31 BIT
BITPOS m 0 31 31 BIT
BITPOS m 1 3 3 BIT
BITPOS m 0 -1 -1 BIT
BITPOS m 1 -2 -1 BIT
BITPOS m 1 -9 -2 BIT
BITPOS m 0 7 6 BIT
BITPOS m 1 0 1000 BIT
BITPOS o 0 0 23 BIT
BITPOS o 0 5 5 BIT
BITPOS o 0 1 22 BIT
BITPOS z 1 0 23 BIT
BITPOS z 1 3 17 BIT
BITPOS m 1 0 -1 BYTE
BITPOS m 1 1 1 byte
BITPOS m 1 0 0 FOO
BITPOS m 1 0 0 BIT extra
BITPOS m 2
BITPOS m -1
BITPOS m x
BITPOS m 1 x
BITPOS m 1 0 x
BITPOS m 1 0 x FOO
BITPOS missing 0
BITPOS missing 1
BITPOS missing 1 a b
BITPOS missing 2
BITPOS e 0 0
BITPOS e 1 0 -1 BIT
SET n 1234
BITPOS n 1
BITPOS n 0 1 1 BIT
RPUSH l x
BITPOS l 1
BITPOS l 2
"""

BITOP_SCRIPT = r"""
SET a "\x01\x02\xff"
SET b "\xf0"
SET c "\x0f\x0f\x0f\x0f\x0f"
BITOP AND d a b
GET d
BITOP OR d a b c
GET d
BITOP XOR d a b c
GET d
BITOP NOT d a
GET d
BITOP and d a c
GET d
BITOP Or d b missing
GET d
BITOP AND d a missing
GET d
BITOP XOR d missing c
GET d
OBJECT ENCODING d
BITOP NOT d missing
EXISTS d
BITOP AND d missing other
BITOP NOT d a b
BITOP NOT d
BITOP FOO d a
BITOP ANDX d a
SET one "1"
BITOP AND d one one
GET d
OBJECT ENCODING d
BITOP OR a a b
GET a
SET t x EX 100
BITOP OR t b
TTL t
RPUSH l x
BITOP AND d a l
BITOP AND l a
TYPE l
RPUSH l2 x
BITOP AND l2 nothing
EXISTS l2
SET e ""
BITOP OR d e
EXISTS d
"""

BITFIELD_SCRIPT = r"""
BITFIELD k
BITFIELD_RO k
BITFIELD k GET u8 0
EXISTS k
BITFIELD k SET u8 0 255 GET u8 0
BITFIELD k SET i8 8 -1 GET i8 8 GET u8 8
BITFIELD k INCRBY u2 100 1 GET u2 100
GET k
BITFIELD k SET u8 #2 7 GET u8 #2 GET u8 16
BITFIELD k GET i5 3 GET u13 5 GET i64 0 GET u63 1
BITFIELD k SET i64 0 -9223372036854775808 GET i64 0
BITFIELD k SET i64 0 9223372036854775807 INCRBY i64 0 1
BITFIELD k OVERFLOW SAT INCRBY i64 0 1
BITFIELD k OVERFLOW FAIL INCRBY i64 0 1
BITFIELD k OVERFLOW WRAP INCRBY i64 0 -9223372036854775808
BITFIELD k SET u63 0 9223372036854775807 OVERFLOW SAT INCRBY u63 0 1
BITFIELD k GET u8 1000000
BITFIELD k GET u8 #1000000
BITFIELD k SET u8 #-1 0
BITFIELD k SET u8 -1 0
BITFIELD k SET u8 x 0
BITFIELD k SET u8 # 0
BITFIELD k SET u8 #1 x
BITFIELD k SET u8 0 9223372036854775808
BITFIELD k SET u8 0 1.5
BITFIELD k GET u8 #9223372036854775807
BITFIELD k GET i64 #144115188075855871
BITFIELD k GET i64 #144115188075855872
BITFIELD k GET u8 4294967295
BITFIELD k GET u8 4294967296
BITFIELD k GET u64 0
BITFIELD k GET u0 0
BITFIELD k GET i0 0
BITFIELD k GET i65 0
BITFIELD k GET I8 0
BITFIELD k GET U8 0
BITFIELD k GET x8 0
BITFIELD k GET i 0
BITFIELD k GET i08 0
BITFIELD k GET i-8 0
BITFIELD k GET i+8 0
BITFIELD k GET "" 0
BITFIELD k GET u8
BITFIELD k SET u8 0
BITFIELD k INCRBY u8 0
BITFIELD k OVERFLOW
BITFIELD k OVERFLOW FOO GET u8 0
BITFIELD k OVERFLOW sat overflow wrap GET u8 0
BITFIELD k FOO u8 0
BITFIELD k get u8 0 Set u8 0 1 incrBy u8 0 1 overFLOW fail INCRBY u8 0 1000
BITFIELD_RO k GET u8 0 GET i4 4
BITFIELD_RO k SET u8 0 1
BITFIELD_RO k INCRBY u8 0 1
BITFIELD_RO k GET u64 0
BITFIELD_RO k SET u64 0 1
BITFIELD_RO k OVERFLOW SAT GET u8 0
BITFIELD_RO k FOO
BITFIELD_RO missing GET u8 0
BITFIELD nk OVERFLOW FAIL SET u8 0 1000
EXISTS nk
GET nk
BITFIELD nk2 OVERFLOW FAIL SET u8 0 1000 SET u8 8 0
BITFIELD nk2 SET u8 0 0 SET u8 0 0
BITFIELD nk2 SET u4 0 1 SET u4 0 0
SET s hello
BITFIELD s GET u8 0 GET u16 8 GET i40 4
BITFIELD s INCRBY u8 0 1
GET s
OBJECT ENCODING s
SET n 123
BITFIELD n GET u8 0
OBJECT ENCODING n
BITFIELD_RO n GET u8 8
RPUSH l x
BITFIELD l GET u8 0
BITFIELD l SET u8 0 1
BITFIELD_RO l GET u8 0
BITFIELD l GET u64 0
"""


def test_setbit_getbit(events):
    events.check_all(SETBIT_GETBIT)


def test_bitcount(differ):
    differ.check_all(BITCOUNT_SCRIPT)


def test_bitpos(differ):
    differ.check_all(BITPOS_SCRIPT)


def test_bitop(events):
    events.check_all(BITOP_SCRIPT)


def test_bitfield(events):
    events.check_all(BITFIELD_SCRIPT)


def test_bitfield_resp3(differ3):
    differ3.check_all(BITFIELD_SCRIPT)


def _boundary_script() -> list[list[str]]:
    """For every width: values at and past the limits under each overflow mode."""
    cmds: list[list[str]] = []
    for signed, widths in ((True, range(1, 65)), (False, range(1, 64))):
        for bits in widths:
            t = ("i" if signed else "u") + str(bits)
            hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
            lo = -(1 << (bits - 1)) if signed else 0
            offset = str(bits * 3 + 5)  # unaligned
            values = {hi, lo, hi + 1, lo - 1, -(2**63), 2**63 - 1, -1}
            values = {v for v in values if -(2**63) <= v < 2**63}
            for mode in ("WRAP", "SAT", "FAIL"):
                for v in sorted(values):
                    cmds.append(["BITFIELD", "k", "OVERFLOW", mode, "SET", t, offset, str(v),
                                 "GET", t, offset])
                for start, incr in ((hi, 1), (lo, -1), (hi, 2**63 - 1), (lo, -(2**63)),
                                    (hi, -(2**63)), (0, lo - 1)):
                    cmds.append(["BITFIELD", "k", "SET", t, offset, str(start),
                                 "OVERFLOW", mode, "INCRBY", t, offset, str(incr),
                                 "GET", t, offset])
    return cmds


def test_bitfield_width_boundaries(events):
    for cmd in _boundary_script():
        events.reply(*cmd)
    events.sync("all boundary commands")
    events.check("GET", "k")


def test_offsets_limited_by_proto_max_bulk_len(differ):
    differ.check("CONFIG", "SET", "proto-max-bulk-len", "1048576")
    try:
        differ.check_all("""
        SETBIT k 8388607 1
        SETBIT k 8388608 1
        STRLEN k
        GETBIT k 8388607
        GETBIT k 8388608
        BITFIELD k SET u8 #1048575 1
        BITFIELD k SET u8 #1048576 1
        BITFIELD k GET i64 8388543
        BITFIELD k GET i64 8388544
        BITFIELD k SET i64 8388543 -1
        BITCOUNT k
        BITPOS k 1 -2
        """)
    finally:
        differ.check("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_bitops_resp3(differ3):
    differ3.check_all(BITOP_SCRIPT)


# ---------------------------------------------------------------------------------------------
# Random command sequences

def test_bitmap_machine(redis_server):
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

    keys = st.sampled_from([b"a", b"b", b"c", b"list"])
    small = st.integers(-3, 70)
    # 2^32 - 1 is the largest valid offset: only read there (writing would build 512 MB).
    offsets = st.one_of(small, st.sampled_from([4294967296, 2**63 - 1]))
    ranges = st.one_of(st.integers(-30, 30), st.sampled_from([-(2**63), 2**63 - 1]))
    signed_types = st.integers(1, 64).map(lambda b: b"i%d" % b)
    unsigned_types = st.integers(1, 63).map(lambda b: b"u%d" % b)
    types = st.one_of(signed_types, unsigned_types, st.sampled_from([b"u64", b"i0", b"x8"]))
    field_offsets = st.one_of(st.integers(0, 90).map(lambda i: b"%d" % i),
                              st.integers(0, 6).map(lambda i: b"#%d" % i))
    values = st.one_of(st.integers(-300, 300),
                       st.sampled_from([2**63 - 1, -(2**63), 2**31, -(2**31), 2**62]))
    op = st.one_of(
        st.tuples(st.just(b"GET"), types, field_offsets),
        st.tuples(st.sampled_from([b"SET", b"INCRBY"]), types, field_offsets,
                  values.map(lambda v: b"%d" % v)),
        st.tuples(st.just(b"OVERFLOW"), st.sampled_from([b"WRAP", b"SAT", b"FAIL"])),
    )

    class BitmapMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.real = redis_server.client()
            self.real.execute("FLUSHALL")
            self.session = Engine().session()

        def teardown(self):
            if hasattr(self, "real"):
                self.real.close()

        def check(self, *args):
            ours = normalize(wire(self.session.execute(*args)))
            theirs = normalize(self.real.execute(*args))
            assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

        @rule(k=keys, off=offsets, bit=st.sampled_from([b"0", b"1", b"2"]))
        def setbit(self, k, off, bit):
            self.check(b"SETBIT", k, b"%d" % off, bit)

        @rule(k=keys, off=st.one_of(offsets, st.just(4294967295)))
        def getbit(self, k, off):
            self.check(b"GETBIT", k, b"%d" % off)

        @rule(k=keys, v=st.binary(max_size=6))
        def set(self, k, v):
            self.check(b"SET", k, v)

        @rule(k=keys)
        def get(self, k):
            self.check(b"GET", k)

        @rule(k=keys, r=st.one_of(st.none(), st.tuples(ranges, ranges)),
              unit=st.sampled_from([None, b"BIT", b"BYTE"]))
        def bitcount(self, k, r, unit):
            args = [b"BITCOUNT", k]
            if r is not None:
                args += [b"%d" % r[0], b"%d" % r[1]]
                if unit:
                    args.append(unit)
            self.check(*args)

        @rule(k=keys, bit=st.sampled_from([b"0", b"1"]),
              r=st.lists(ranges, max_size=2), unit=st.sampled_from([None, b"BIT", b"BYTE"]))
        def bitpos(self, k, bit, r, unit):
            args = [b"BITPOS", k, bit] + [b"%d" % x for x in r]
            if unit and len(r) == 2:
                args.append(unit)
            self.check(*args)

        @rule(name=st.sampled_from([b"AND", b"OR", b"XOR", b"NOT"]), dest=keys,
              srcs=st.lists(keys, min_size=1, max_size=3))
        def bitop(self, name, dest, srcs):
            if name == b"NOT":
                srcs = srcs[:1]
            self.check(b"BITOP", name, dest, *srcs)

        @rule(k=keys, ops=st.lists(op, max_size=4),
              cmd=st.sampled_from([b"BITFIELD", b"BITFIELD", b"BITFIELD_RO"]))
        def bitfield(self, k, ops, cmd):
            args = [cmd, k]
            for o in ops:
                args += list(o)
            self.check(*args)

        @rule(k=keys)
        def introspect(self, k):
            # Strings grown by SETBIT/BITFIELD keep sds's greedy room: sizes must agree.
            self.check(b"OBJECT", b"ENCODING", k)
            self.check(b"MEMORY", b"USAGE", k)
            self.check(b"DUMP", k)

        @rule()
        def wrong_type(self):
            for side in (self.real, self.session):
                side.execute("DEL", "list")
                side.execute("RPUSH", "list", "x")

    BitmapMachine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck))
    BitmapMachine.TestCase().runTest()
