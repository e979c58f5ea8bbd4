"""Random string-command sequences run on the engine and on real Redis, replies compared."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from redislab.engine import Engine

from ...support.real_redis import normalize, wire

KEYS = st.sampled_from([b"a", b"b", b"\x00bin", b"", b"list"])
VALUES = st.one_of(
    st.sampled_from([b"", b"0", b"-1", b"9223372036854775807", b"-9223372036854775808",
                     b"9223372036854775808", b"01", b"+1", b" 1", b"1.5", b"inf", b"-inf",
                     b"nan", b"1e308", b"abc", b"\xff\x00"]),
    st.binary(max_size=12),
    st.integers(-(2**64), 2**64).map(lambda i: b"%d" % i),
)
INTS = st.one_of(st.integers(-20, 20), st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**31]))
IARG = INTS.map(lambda i: b"%d" % i)
FUTURE = st.integers(10, 10**6).map(lambda i: b"%d" % i)


def test_string_machine(redis_server):
    class StringMachine(RuleBasedStateMachine):
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

        @rule(k=KEYS, v=VALUES, opts=st.lists(st.sampled_from(
            [b"NX", b"XX", b"GET", b"KEEPTTL", b"EX", b"PX", b"BOGUS"]), max_size=3),
            t=FUTURE)
        def set(self, k, v, opts, t):
            args = [b"SET", k, v]
            for o in opts:
                args.append(o)
                if o in (b"EX", b"PX"):
                    args.append(t)
            self.check(*args)

        @rule(k=KEYS)
        def get(self, k):
            self.check(b"GET", k)

        @rule(k=KEYS, n=IARG, cmd=st.sampled_from([b"INCRBY", b"DECRBY"]))
        def incrby(self, k, n, cmd):
            self.check(cmd, k, n)

        @rule(k=KEYS, cmd=st.sampled_from([b"INCR", b"DECR", b"STRLEN", b"GETDEL", b"TYPE"]))
        def unary(self, k, cmd):
            if cmd == b"TYPE":
                return
            self.check(cmd, k)

        @rule(k=KEYS, v=st.sampled_from([b"1", b"0.1", b"-1.5", b"abc", b"1e3", b"inf"]))
        def incrbyfloat(self, k, v):
            self.check(b"INCRBYFLOAT", k, v)

        @rule(k=KEYS, v=VALUES)
        def append(self, k, v):
            self.check(b"APPEND", k, v)

        @rule(k=KEYS, a=IARG, b=IARG)
        def getrange(self, k, a, b):
            self.check(b"GETRANGE", k, a, b)

        @rule(k=KEYS, off=st.integers(-2, 40).map(lambda i: b"%d" % i), v=VALUES)
        def setrange(self, k, off, v):
            self.check(b"SETRANGE", k, off, v)

        @rule(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=3),
              cmd=st.sampled_from([b"MSET", b"MSETNX"]))
        def mset(self, pairs, cmd):
            args = [cmd]
            for k, v in pairs:
                args += [k, v]
            self.check(*args)

        @rule(keys=st.lists(KEYS, max_size=4))
        def mget(self, keys):
            self.check(b"MGET", *keys)

        @rule(k=KEYS, v=VALUES)
        def getset(self, k, v):
            self.check(b"GETSET", k, v)

        @rule(k=KEYS, v=VALUES, t=st.sampled_from([b"0", b"-1", b"100", b"x"]),
              cmd=st.sampled_from([b"SETEX", b"PSETEX", b"SETNX"]))
        def setex(self, k, v, t, cmd):
            if cmd == b"SETNX":
                self.check(cmd, k, v)
            else:
                self.check(cmd, k, t, v)

        @rule(a=KEYS, b=KEYS)
        def lcs(self, a, b):
            self.check(b"LCS", a, b)

        @rule(k=KEYS)
        def introspect(self, k):
            # The encoding and size a value's history left it with (embstr from
            # INCRBYFLOAT, raw after APPEND or SETRANGE, shared integers ...).
            self.check(b"OBJECT", b"ENCODING", k)
            self.check(b"MEMORY", b"USAGE", k)
            self.check(b"DUMP", k)

        @rule()
        def wrong_type(self):
            # Put a list at a key so that string commands meet WRONGTYPE.
            for side in (self.real, self.session):
                side.execute("DEL", "list")
                side.execute("RPUSH", "list", "x")

    StringMachine.TestCase.settings = settings(
        max_examples=60, stateful_step_count=25, deadline=None,
        suppress_health_check=list(HealthCheck))
    StringMachine.TestCase().runTest()
