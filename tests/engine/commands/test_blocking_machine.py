"""Several clients blocked at once, served by later writes: the engine against real Redis.

Each side has three clients that may block (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN/MAX,
BZMPOP, XREAD BLOCK, XREADGROUP BLOCK) and a writer. Real Redis is driven by one raw
connection per client: a blocking command is sent and left unread, and the machine waits
until the server reports that client blocked. After every write the machine compares which
clients were served, what each got, and how many are still blocked.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from redislab.protocol.reply import ErrorReply

from ...support.machines import MultiMachine, compared, run_machine
from ...support.real_redis import normalize

LISTS = st.sampled_from([b"l1", b"l2"])
ZSETS = st.sampled_from([b"z1", b"z2"])
ITEMS = st.lists(st.sampled_from([b"a", b"b", b"c", b"d"]), min_size=1, max_size=3)
SIDES = st.sampled_from([b"LEFT", b"RIGHT"])


def _blocking_commands() -> Any:
    lists = st.lists(LISTS, min_size=1, max_size=2, unique=True)
    zsets = st.lists(ZSETS, min_size=1, max_size=2, unique=True)
    count = st.one_of(st.just([]), st.integers(1, 3).map(lambda n: [b"COUNT", b"%d" % n]))
    return st.one_of(
        st.builds(lambda ks, cmd: [cmd, *ks, b"0"], lists, st.sampled_from([b"BLPOP", b"BRPOP"])),
        st.builds(lambda s, d, a, b: [b"BLMOVE", s, d, a, b, b"0"], LISTS, LISTS, SIDES, SIDES),
        st.builds(lambda ks, side, c: [b"BLMPOP", b"0", b"%d" % len(ks), *ks, side, *c],
                  lists, SIDES, count),
        st.builds(lambda ks, cmd: [cmd, *ks, b"0"], zsets,
                  st.sampled_from([b"BZPOPMIN", b"BZPOPMAX"])),
        st.builds(lambda ks, side, c: [b"BZMPOP", b"0", b"%d" % len(ks), *ks, side, *c],
                  zsets, st.sampled_from([b"MIN", b"MAX"]), count),
        st.builds(lambda c, start: [b"XREAD", *c, b"BLOCK", b"0", b"STREAMS", b"s1", start],
                  count, st.sampled_from([b"$", b"$", b"0-0", b"3-0"])),
        st.builds(lambda who, c: [b"XREADGROUP", b"GROUP", b"g", who, *c, b"BLOCK", b"0",
                                  b"STREAMS", b"s1", b">"],
                  st.sampled_from([b"c1", b"c2"]), count),
    )


BLOCKING = _blocking_commands()

ZPAIRS = st.lists(st.tuples(st.integers(0, 5).map(lambda i: b"%d" % i),
                            st.sampled_from([b"x", b"y", b"z"])), min_size=1, max_size=3)
WRITES = st.one_of(
    st.builds(lambda cmd, k, items: [cmd, k, *items],
              st.sampled_from([b"RPUSH", b"LPUSH"]), LISTS, ITEMS),
    st.builds(lambda s, d, a, b: [b"LMOVE", s, d, a, b], LISTS, LISTS, SIDES, SIDES),
    st.builds(lambda k, pairs: [b"ZADD", k, *[x for p in pairs for x in p]], ZSETS, ZPAIRS),
    # The id is filled in by the machine: always the next one on both sides.
    st.just([b"XADD"]),
    st.builds(lambda sid: [b"XGROUP", b"CREATE", b"s1", b"g", sid, b"MKSTREAM"],
              st.sampled_from([b"$", b"0"])),
    st.builds(lambda k: [b"DEL", k], st.sampled_from([b"l1", b"z1", b"s1"])),
    # A key that a client waits on gets a value of another type: the client keeps waiting.
    st.builds(lambda k: [b"SET", k, b"str"], st.sampled_from([b"l1", b"z2"])),
    st.builds(lambda a, b: [b"RENAME", a, b], st.sampled_from([b"l1", b"l2", b"z1"]),
              st.sampled_from([b"l2", b"z2"])),
)


class BlockingMachine(MultiMachine):
    clients = 3

    def setup(self) -> None:
        self.stream_seq = 0

    def write(self, *args: bytes) -> Any:
        """Run a write on the writer of both sides, then compare who was served."""
        ours = compared(self.writer.session.execute(*args))
        theirs = normalize(self.writer.real.execute(*args))
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
        self.settle(args)
        return ours

    def settle(self, cause: Any) -> None:
        for i, p in enumerate(self.pairs):
            if p.blocked and p.served:
                ours = compared(p.served.pop(0))
                theirs = normalize(p.real.read())
                assert ours == theirs, \
                    f"client {i} after {cause!r}: redislab {ours!r} != redis {theirs!r}"
                p.blocked = False
        still = sum(p.blocked for p in self.pairs)
        assert self.engine.blocked_count == still
        assert self.real_blocked() == still, \
            f"after {cause!r}: redis has {self.real_blocked()} blocked, redislab {still}"

    @precondition(lambda self: any(not p.blocked for p in self.pairs))
    @rule(which=st.integers(0, 2), cmd=BLOCKING)
    def block(self, which, cmd):
        free = [p for p in self.pairs if not p.blocked]
        p = free[which % len(free)]
        reply = p.session.execute(*cmd)
        if type(reply).__name__ == "Blocked":
            p.blocked = True
            p.real.send(*cmd)
            expected = sum(q.blocked for q in self.pairs)
            self.wait_for(lambda: self.real_blocked() == expected, f"{cmd!r} blocking")
        else:
            ours = compared(reply)
            theirs = normalize(p.real.execute(*cmd))
            assert ours == theirs, f"{cmd!r}: redislab {ours!r} != redis {theirs!r}"
            # BLMOVE served at once pushes onto its destination: that may serve others.
            self.settle(cmd)

    @rule(cmd=WRITES)
    def write_one(self, cmd):
        if cmd[0] == b"XADD":
            self.stream_seq += 1
            cmd = [b"XADD", b"s1", b"%d-0" % self.stream_seq, b"f", b"%d" % self.stream_seq]
        self.write(*cmd)

    @rule(items=ITEMS)
    def transaction(self, items):
        # Clients are served once EXEC has run all of it, not between its commands.
        self.write(b"MULTI")
        self.write(b"RPUSH", b"l1", *items)
        self.write(b"LPOP", b"l1")
        self.write(b"ZADD", b"z1", b"1", items[0])
        self.write(b"EXEC")

    @rule(which=st.integers(0, 2), reason=st.sampled_from([None, b"TIMEOUT", b"ERROR"]))
    def unblock(self, which, reason):
        p = self.pairs[which]
        extra = [reason] if reason else []
        ours = self.writer.session.execute(b"CLIENT", b"UNBLOCK", b"%d" % p.session.id, *extra)
        theirs = self.writer.real.execute(b"CLIENT", b"UNBLOCK", b"%d" % p.real_id, *extra)
        assert not isinstance(ours, ErrorReply) and ours == theirs, (ours, theirs)
        self.settle(("CLIENT UNBLOCK", which, reason))

    @rule(k=st.sampled_from([b"l1", b"l2", b"z1", b"z2", b"s1"]))
    def look(self, k):
        self.write(b"TYPE", k)
        if k == b"s1":
            # A stream's DUMP carries delivery times; its entries and groups are compared.
            self.write(b"XRANGE", k, b"-", b"+")
            self.write(b"XINFO", b"GROUPS", k)
        else:
            self.write(b"DUMP", k)


def test_blocking_machine(redis_server):
    run_machine(BlockingMachine, redis_server, examples=60, steps=25)


# ---------------------------------------------------------------------------------------------
# Cases the machine found, kept as plain regressions

def _blocked_then(redis_server, setup: list[str], blocking: str, action: str) -> None:
    """Block one client on each side, run ``action`` from another, compare what follows."""
    from redislab.engine import Engine, ManualClock

    engine = Engine(ManualClock())
    writer, waiter = engine.session(), engine.session()
    got: list[Any] = []
    waiter.on_unblocked = lambda _s, reply: got.append(reply)
    control, real_waiter = redis_server.client(), redis_server.client()
    try:
        control.execute("FLUSHALL")
        for line in setup:
            writer.execute(*line.split())
            control.execute(*line.split())
        assert type(waiter.execute(*blocking.split())).__name__ == "Blocked"
        real_waiter.send(*blocking.split())
        while b"blocked_clients:1" not in control.execute("INFO", "clients"):
            pass
        assert compared(writer.execute(*action.split())) == \
            normalize(control.execute(*action.split()))
        still = b"blocked_clients:1" in control.execute("INFO", "clients")
        assert still == (not got), (blocking, action, got)
        if got:
            assert compared(got[0]) == normalize(real_waiter.read())
    finally:
        control.close()
        real_waiter.close()


GROUP = "XGROUP CREATE s g 0 MKSTREAM"
READ_GROUP = "XREADGROUP GROUP g c BLOCK 0 STREAMS s >"


@pytest.mark.parametrize("setup,blocking,action", [
    # A key of another type serves nobody blocked for a list, sorted set or stream.
    ([], "BZMPOP 0 2 z1 z2 MIN", "SET z2 str"),
    ([], "BLPOP l 0", "SET l str"),
    (["ZADD z 1 a"], "BLPOP l 0", "RENAME z l"),
    # A stream that goes away releases its group readers with an error; XREAD waits on.
    ([GROUP], READ_GROUP, "DEL s"),
    ([GROUP], READ_GROUP, "SET s x"),
    ([GROUP], READ_GROUP, "RENAME s s2"),
    ([GROUP], READ_GROUP, "FLUSHALL"),
    ([GROUP], READ_GROUP, "EXPIRE s 0"),
    ([GROUP], READ_GROUP, "XGROUP DESTROY s g"),
    ([GROUP], READ_GROUP, "XGROUP SETID s g 0"),
    ([GROUP, "XADD s2 1-1 f v"], READ_GROUP, "RENAME s2 s"),
    (["XADD s 1-1 f v"], "XREAD BLOCK 0 STREAMS s $", "DEL s"),
])
def test_blocked_client_when_its_key_changes_type(redis_server, setup, blocking, action):
    _blocked_then(redis_server, setup, blocking, action)
