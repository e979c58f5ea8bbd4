"""Redirects compared with a real two-node Redis Cluster: MOVED, CROSSSLOT, ASK and TRYAGAIN
during a slot migration, ASKING, and the hand-over of the slot.

Two real nodes are joined with CLUSTER MEET and given half the slots each; our two engines
get the same ports and the same halves, so redirect texts must match byte for byte.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.cluster import form_cluster
from redislab.protocol import split_args

from ..support.real_redis import RawClient, RedisServer, free_port, normalize, wire


class TwoNodes:
    def __init__(self) -> None:
        self.servers: list[RedisServer] = []
        cports = []
        for _ in range(2):
            cport = free_port()
            cports.append(cport)
            self.servers.append(RedisServer(["--cluster-enabled", "yes",
                                             "--cluster-port", str(cport),
                                             "--cluster-node-timeout", "60000"]))
        self.real = [s.client() for s in self.servers]
        a, b = self.real
        a.execute("CLUSTER", "MEET", "127.0.0.1", self.servers[1].port, cports[1])
        self._until(lambda: all(self._joined(c) for c in self.real), "the nodes to meet")
        a.execute("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        b.execute("CLUSTER", "ADDSLOTSRANGE", 8192, 16383)
        self._until(lambda: all(b"cluster_state:ok" in c.execute("CLUSTER", "INFO")
                                for c in self.real), "cluster_state:ok")
        self.real_ids = [c.execute("CLUSTER", "MYID").decode() for c in self.real]
        clock = ManualClock()
        self.engines = [Engine(clock, config={"cluster-enabled": "yes",
                                              "port": str(s.port),
                                              "cluster-port": str(cp)})
                        for s, cp in zip(self.servers, cports)]
        states = [e.extensions["cluster"] for e in self.engines]
        for st, s, cp in zip(states, self.servers, cports):
            st.set_address("127.0.0.1", s.port, cp)
        form_cluster(states, 2)
        self.our_ids = [st.myself.id for st in states]
        self.ours = [e.session() for e in self.engines]

    @staticmethod
    def _joined(c: RawClient) -> bool:
        nodes = c.execute("CLUSTER", "NODES").decode()
        return len(nodes.splitlines()) == 2 and "handshake" not in nodes and \
            "disconnected" not in nodes

    @staticmethod
    def _until(ok: Any, what: str) -> None:
        deadline = time.monotonic() + 20
        while not ok():
            if time.monotonic() > deadline:
                raise AssertionError(f"the real cluster never reached {what}")
            time.sleep(0.05)  # waiting for the real nodes' own bus and timers

    def _args(self, line: str, ids: list[str]) -> list[bytes]:
        args = split_args(line)
        assert args is not None
        return [a.replace(b"$A", ids[0].encode()).replace(b"$B", ids[1].encode())
                for a in args]

    def check(self, node: int, line: str) -> Any:
        theirs = normalize(self.real[node].execute(*self._args(line, self.real_ids)))
        ours = normalize(wire(self.ours[node].execute(*self._args(line, self.our_ids))))
        assert ours == theirs, f"{'AB'[node]}: {line}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def close(self) -> None:
        for c in self.real:
            c.close()
        for s in self.servers:
            s.stop()


@pytest.fixture
def two() -> Iterator[TwoNodes]:
    t = TwoNodes()
    try:
        yield t
    finally:
        t.close()


def test_redirects_match_real_cluster(two: TwoNodes) -> None:
    script = """
        A SET foo x
        B SET foo x
        A GET foo
        A MGET foo bar
        A SET bar y
        A MSET bar 1 {bar}2 2
        A EVAL "return 1" 1 foo
        A EVAL "return redis.call('GET', 'foo')" 0
        A EVAL "return redis.pcall('SET', 'foo', 1)" 0
        A EVAL "redis.call('SET', 'bar', 1) return redis.call('GET', 'bar')" 0
        A EVAL "return redis.call('MGET', 'bar', '{bar}2')" 0
        A EVAL "return redis.call('PING')" 0
        A MULTI
        A SET bar 1
        A SET foo 1
        A EXEC
        A PING
        B SET {foo}2 y
        B CLUSTER SETSLOT 12182 MIGRATING $A
        A CLUSTER SETSLOT 12182 IMPORTING $B
        B GET foo
        B GET nokey{foo}
        B SET {foo}new 1
        B MGET foo {foo}2
        B MGET foo {foo}missing
        A GET foo
        A ASKING
        A GET foo
        A ASKING
        A SET foo z
        A GET foo
        A ASKING
        A MGET foo {foo}2
        A ASKING
        A MGET foo foo
        A ASKING
        A PING
        A GET foo
        B DEL foo
        B GET foo
        B CLUSTER SETSLOT 12182 NODE $A
        B DEL {foo}2
        B CLUSTER SETSLOT 12182 NODE $A
        A CLUSTER SETSLOT 12182 NODE $A
        B GET foo
        A GET foo
        A READONLY
        B READONLY
        B GET foo
        B READWRITE
        A CLUSTER COUNTKEYSINSLOT 12182
        B CLUSTER COUNTKEYSINSLOT 12182
    """
    for line in script.strip().splitlines():
        node, _, command = line.strip().partition(" ")
        two.check("AB".index(node), command)


def test_links_and_views_shape_match(two: TwoNodes) -> None:
    def shape(value: Any) -> Any:
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__ if not isinstance(value, bytes) or len(value) == 40 \
            else value

    for node in (0, 1):
        theirs = two.real[node].execute("CLUSTER", "LINKS")
        ours = wire(two.ours[node].execute("CLUSTER", "LINKS"))
        assert len(ours) == len(theirs) == 2
        assert sorted(x[0::2] == y[0::2] for x, y in zip(ours, theirs)) == [True, True]
        assert sorted(x[1] for x in ours) == sorted(x[1] for x in theirs)
        for name in ("SLOTS", "SHARDS"):
            real = two.real[node].execute("CLUSTER", name)
            mine = wire(two.ours[node].execute("CLUSTER", name))
            if name == "SHARDS":
                real, mine = sorted(real, key=repr), sorted(mine, key=repr)
            assert shape(mine) == shape(real), name
