"""A list's quicklist nodes follow its history: DUMP and MEMORY USAGE compared with real Redis.

Random sequences of pushes at both ends, pops, LINSERT, LSET, LREM, LTRIM and LMOVE, with
elements big enough to fill nodes, under several list-max-listpack-size settings. After each
step DUMP (which writes the nodes as they are) must give Redis's exact bytes, and so must a
RESTOREd copy.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule

from ...support.machines import DiffMachine, run_machine

KEYS = st.sampled_from([b"l1", b"l2"])
# Short strings, integers, and strings of a few hundred bytes (a handful fill 4-8 KB nodes).
ITEMS = st.one_of(
    st.sampled_from([b"a", b"b", b"7", b"-12", b"123456789012"]),
    st.builds(lambda c, n: c * n, st.sampled_from([b"x", b"y", b"z"]),
              st.sampled_from([70, 300, 900])),
)
SMALL = st.sampled_from([b"a", b"b", b"7", b"-12", b"x" * 300])
INDEXES = st.integers(-12, 12).map(lambda i: b"%d" % i)


class ListLayoutMachine(DiffMachine):
    def dump_both(self, k: bytes) -> None:
        # MEMORY USAGE sums the nodes' listpack allocations: it follows the layout too.
        self.check(b"MEMORY", b"USAGE", k)
        payload = self.check(b"DUMP", k)
        if payload is not None:
            self.check(b"RESTORE", b"copy", b"0", payload, b"REPLACE")
            self.check(b"DUMP", b"copy")

    @rule(k=KEYS, items=st.lists(ITEMS, min_size=1, max_size=16),
          cmd=st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]))
    def push(self, k, items, cmd):
        self.check(cmd, k, *items)
        self.dump_both(k)

    @rule(k=KEYS, cmd=st.sampled_from([b"LPOP", b"RPOP"]), count=st.integers(1, 6))
    def pop(self, k, cmd, count):
        self.check(cmd, k, b"%d" % count)
        self.dump_both(k)

    @rule(k=KEYS, where=st.sampled_from([b"BEFORE", b"AFTER"]), pivot=SMALL, item=ITEMS)
    def linsert(self, k, where, pivot, item):
        self.check(b"LINSERT", k, where, pivot, item)
        self.dump_both(k)

    @rule(k=KEYS, index=INDEXES, item=ITEMS)
    def lset(self, k, index, item):
        self.check(b"LSET", k, index, item)
        self.dump_both(k)

    @rule(k=KEYS, count=st.integers(-3, 3), item=SMALL)
    def lrem(self, k, count, item):
        self.check(b"LREM", k, b"%d" % count, item)
        self.dump_both(k)

    @rule(k=KEYS, a=st.integers(-2, 3), b=st.integers(-4, 30))
    def ltrim(self, k, a, b):
        self.check(b"LTRIM", k, b"%d" % a, b"%d" % b)
        self.dump_both(k)

    @rule(src=KEYS, dst=KEYS, a=st.sampled_from([b"LEFT", b"RIGHT"]),
          b=st.sampled_from([b"LEFT", b"RIGHT"]))
    def lmove(self, src, dst, a, b):
        self.check(b"LMOVE", src, dst, a, b)
        self.dump_both(src)
        self.dump_both(dst)


class Fill5(ListLayoutMachine):
    config = {"list-max-listpack-size": "5"}


class Fill128(ListLayoutMachine):
    config = {"list-max-listpack-size": "128"}


class Fill1(ListLayoutMachine):
    config = {"list-max-listpack-size": "-1"}


@pytest.mark.parametrize("machine", [ListLayoutMachine, Fill5, Fill128, Fill1],
                         ids=["fill-2", "fill5", "fill128", "fill-1"])
def test_list_nodes_follow_history(redis_server, machine):
    run_machine(machine, redis_server, examples=15, steps=25)
