"""Random HyperLogLog sequences run on the engine and on real Redis: replies and the bytes.

``hll-sparse-max-bytes`` is lowered so that a few hundred elements promote a sketch to the
dense form; GET compares the representation byte for byte (sparse, dense and the cached
cardinality in the header).
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ...support.machines import DiffMachine, run_machine

KEYS = st.sampled_from([b"h1", b"h2", b"h3", b"str"])
ELEMENTS = st.lists(st.one_of(st.integers(0, 3000).map(lambda i: b"e%d" % i),
                              st.binary(max_size=4)), max_size=8)


class HyperLogLogMachine(DiffMachine):
    config = {"hll-sparse-max-bytes": "300"}

    @rule(k=KEYS, els=ELEMENTS)
    def pfadd(self, k, els):
        self.check(b"PFADD", k, *els)

    @rule(k=KEYS, start=st.integers(0, 5000), n=st.sampled_from([20, 100, 400]))
    def pfadd_many(self, k, start, n):
        self.check(b"PFADD", k, *[b"m%d" % i for i in range(start, start + n)])

    @rule(keys=st.lists(KEYS, min_size=1, max_size=3))
    def pfcount(self, keys):
        self.check(b"PFCOUNT", *keys)

    @rule(dest=KEYS, srcs=st.lists(KEYS, max_size=3))
    def pfmerge(self, dest, srcs):
        self.check(b"PFMERGE", dest, *srcs)

    @rule(k=KEYS)
    def get(self, k):
        self.check(b"GET", k)

    @rule(k=KEYS)
    def encoding(self, k):
        self.check(b"PFDEBUG", b"ENCODING", k)

    @rule(k=KEYS)
    def dump(self, k):
        self.check(b"DUMP", k)

    @precondition(lambda self: getattr(self, "corruptions", 0) < 2)
    @rule(k=KEYS, off=st.integers(0, 20), data=st.binary(min_size=1, max_size=3))
    def corrupt(self, k, off, data):
        self.corruptions = getattr(self, "corruptions", 0) + 1
        # Writes into the header or the registers: the commands must then refuse or repair
        # the value exactly as Redis does.
        self.check(b"SETRANGE", k, b"%d" % off, data)

    @rule(k=KEYS)
    def delete(self, k):
        self.check(b"DEL", k)

    @precondition(lambda self: not getattr(self, "has_str", False))
    @rule()
    def wrong_type(self):
        self.has_str = True
        self.check(b"SET", b"str", b"not an hll")


def test_hyperloglog_machine(redis_server):
    run_machine(HyperLogLogMachine, redis_server, examples=50, steps=20)
