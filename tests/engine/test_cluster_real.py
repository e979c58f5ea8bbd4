"""Cluster mode compared with a real redis-server: standalone refusals, KEYSLOT, one node's
views (INFO, NODES, SLOTS, SHARDS) and the error texts of the CLUSTER subcommands.

The real node runs with ``--cluster-enabled yes`` in a temporary directory on a free port; our
node is an engine told the same port, so addresses agree and only node ids (random on both
sides) are replaced before comparing.
"""

from __future__ import annotations

import random
import time
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol import split_args

from ..support.real_redis import RedisServer, free_port, normalize, wire


class Pair:
    """A real cluster node and our engine in cluster mode, fed the same commands."""

    def __init__(self, server: RedisServer, cport: int) -> None:
        self.real = server.client()
        self.clock = ManualClock()
        self.engine = Engine(self.clock, config={"cluster-enabled": "yes",
                                                 "port": str(server.port),
                                                 "cluster-port": str(cport)})
        self.ours = self.engine.session()
        self.real_id = self.real.execute("CLUSTER", "MYID").decode()
        self.our_id = self.ours.execute("CLUSTER", "MYID").decode()

    def _norm(self, value: Any, node_id: str) -> Any:
        if isinstance(value, tuple):
            return tuple(self._norm(v, node_id) for v in value)
        if isinstance(value, list):
            return [self._norm(v, node_id) for v in value]
        if isinstance(value, bytes):
            return value.replace(node_id.encode(), b"<ID>")
        if isinstance(value, str):
            return value.replace(node_id, "<ID>")
        return value

    def both(self, line: str) -> tuple[Any, Any]:
        args = split_args(line)
        assert args is not None
        real_args = [a.replace(b"$ID", self.real_id.encode()) for a in args]
        our_args = [a.replace(b"$ID", self.our_id.encode()) for a in args]
        theirs = self._norm(normalize(self.real.execute(*real_args)), self.real_id)
        ours = self._norm(normalize(wire(self.ours.execute(*our_args))), self.our_id)
        return ours, theirs

    def check(self, line: str) -> Any:
        ours, theirs = self.both(line)
        assert ours == theirs, f"{line}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def check_all(self, script: str) -> None:
        for line in script.strip().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                self.check(line)

    def wait_ok(self) -> None:
        """Let both sides pass the two seconds a master waits before the state turns ok."""
        self.engine.advance(2.1)
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in self.real.execute("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise AssertionError("the real node never reached cluster_state:ok")
            time.sleep(0.05)  # waiting for the child process's own timer, not a test timing


def cluster_server() -> tuple[RedisServer, int]:
    # The bus port is chosen too: port + 10000 may lie past 65535 for a random free port.
    cport = free_port()
    return RedisServer(["--cluster-enabled", "yes", "--cluster-port", str(cport)]), cport


@pytest.fixture
def pair() -> Iterator[Pair]:
    server, cport = cluster_server()
    p = Pair(server, cport)
    try:
        yield p
    finally:
        p.real.close()
        server.stop()


@pytest.fixture(scope="module")
def cluster_node() -> Iterator[RedisServer]:
    server, _ = cluster_server()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Without cluster mode

def test_standalone_refusals_match(differ: Any) -> None:
    from redislab.engine.commands import TABLE

    lines = ["ASKING", "READONLY", "READWRITE", "CLUSTER", "CLUSTER NOPE", "CLUSTER KEYSLOT",
             "CLUSTER KEYSLOT a b"]
    for name, sub in sorted(TABLE.get("CLUSTER").subcommands.items()):
        # Enough arguments to pass the arity check, so the refusal itself is compared.
        argc = sub.arity if sub.arity > 0 else -sub.arity
        lines.append(" ".join(["CLUSTER", name] + ["1"] * (argc - 2)))
    for line in lines:
        differ.check(line)


# ---------------------------------------------------------------------------------------------
# KEYSLOT

def _keys() -> list[bytes]:
    rng = random.Random(7)
    keys = [b"", b"a", b"foo", b"{", b"}", b"{}", b"{}{}", b"{a}", b"a{b}c", b"{a}{b}",
            b"x{}y{z}", b"{{a}}", b"a}{b}", b"{a", b"a}", b"\x00{\xff}\x00",
            b"user:{1000}:name", b"{user1000}.following", "ключ{тег}".encode(),
            b"{\r\n}", b"\x7b\x7d\x7b\x41\x7d"]
    for _ in range(400):
        n = rng.randrange(0, 12)
        keys.append(bytes(rng.choice(b"ab{}\x00\xff\x7fz") for _ in range(n)))
        keys.append(rng.randbytes(rng.randrange(1, 40)))
    return keys


def test_keyslot_matches_real(cluster_node: RedisServer) -> None:
    real = cluster_node.client()
    engine = Engine(ManualClock(), config={"cluster-enabled": "yes"})
    ours = engine.session()
    keys = _keys()
    for key in keys:
        real.send("CLUSTER", "KEYSLOT", key)
    theirs = [real.read() for _ in keys]
    real.close()
    mine = [ours.execute("CLUSTER", "KEYSLOT", key) for key in keys]
    assert mine == theirs


# ---------------------------------------------------------------------------------------------
# One node: views and errors

def test_fresh_node_views_match(pair: Pair) -> None:
    for line in ("CLUSTER INFO", "CLUSTER NODES", "CLUSTER SLOTS", "CLUSTER SHARDS",
                 "CLUSTER LINKS", "CLUSTER HELP", "CLUSTER MYID", "GET a", "PING"):
        if line == "CLUSTER MYID":
            ours, theirs = pair.both(line)
            assert ours == theirs == b"<ID>"
            continue
        pair.check(line)


def test_errors_match(pair: Pair) -> None:
    pair.check_all("""
        CLUSTER ADDSLOTS 16384
        CLUSTER ADDSLOTS -1
        CLUSTER ADDSLOTS x
        CLUSTER ADDSLOTS 5 5
        CLUSTER DELSLOTS 5
        CLUSTER ADDSLOTSRANGE 9 3
        CLUSTER ADDSLOTSRANGE 1 2 3
        CLUSTER ADDSLOTSRANGE 1 2 2 3
        CLUSTER DELSLOTSRANGE 1 2
        CLUSTER COUNTKEYSINSLOT 16384
        CLUSTER COUNTKEYSINSLOT -1
        CLUSTER COUNTKEYSINSLOT x
        CLUSTER GETKEYSINSLOT 1 -1
        CLUSTER GETKEYSINSLOT x 1
        CLUSTER GETKEYSINSLOT 16384 1
        CLUSTER GETKEYSINSLOT 1 x
        CLUSTER SETSLOT 1 FOO
        CLUSTER SETSLOT 1 NODE abc
        CLUSTER SETSLOT 1 MIGRATING abc
        CLUSTER SETSLOT 1 IMPORTING abc
        CLUSTER SETSLOT 16384 STABLE
        CLUSTER SETSLOT 1 STABLE extra
        CLUSTER SETSLOT 1 NODE
        CLUSTER COUNT-FAILURE-REPORTS abc
        CLUSTER COUNT-FAILURE-REPORTS $ID
        CLUSTER FORGET abc
        CLUSTER FORGET $ID
        CLUSTER REPLICATE abc
        CLUSTER REPLICATE $ID
        CLUSTER FAILOVER
        CLUSTER FAILOVER NOW
        CLUSTER FAILOVER FORCE extra
        CLUSTER MEET 127.0.0.1 x
        CLUSTER MEET 127.0.0.1 7000 x
        CLUSTER MEET nohost 7000
        CLUSTER MEET 127.0.0.1 7000 1 2
        CLUSTER REPLICAS abc
        CLUSTER SLAVES abc
        CLUSTER REPLICAS $ID
        CLUSTER RESET X
        CLUSTER RESET SOFT X
        CLUSTER NOPE
        CLUSTER SET-CONFIG-EPOCH -1
        CLUSTER SET-CONFIG-EPOCH x
        GET a
        MSET a 1 b 2
        SELECT 1
        SELECT 0
        SWAPDB 0 1
        CLUSTER ADDSLOTSRANGE 0 16383
        CLUSTER ADDSLOTS 1
        CLUSTER ADDSLOTSRANGE 0 0
        CLUSTER SETSLOT 1 IMPORTING $ID
        CLUSTER SETSLOT 1 MIGRATING abc
        CLUSTER SETSLOT 1 MIGRATING $ID
        CLUSTER NODES
        CLUSTER SETSLOT 1 STABLE
        MSET a 1 b 2
        EVAL "return 1" 2 a b
        CLUSTER SET-CONFIG-EPOCH 5
        CLUSTER SET-CONFIG-EPOCH 6
        CLUSTER BUMPEPOCH
        CLUSTER SLOTS
        CLUSTER SHARDS
    """)
    ours, theirs = pair.both("CLUSTER INFO")
    # Everything but the state line, which waits on the real node's own timer.
    assert ours.split(b"\r\n")[1:] == theirs.split(b"\r\n")[1:]


def test_serving_keys_matches(pair: Pair) -> None:
    pair.check("CLUSTER ADDSLOTSRANGE 0 16383")
    pair.wait_ok()
    pair.check_all("""
        CLUSTER INFO
        SET a 1
        SET {a}x 2
        SET b 3
        CLUSTER COUNTKEYSINSLOT 15495
        CLUSTER GETKEYSINSLOT 15495 10
        CLUSTER GETKEYSINSLOT 15495 1
        CLUSTER GETKEYSINSLOT 15495 0
        MGET a {a}x
        MGET a b
        MULTI
        SET a 1
        SET b 1
        EXEC
        EXEC
        MULTI
        SET a 2
        SET {a}y 2
        EXEC
        GET a
        EVAL "return redis.call('get', KEYS[1])" 1 a
        WATCH a b
        CLUSTER FLUSHSLOTS
        CLUSTER RESET
        CLUSTER DELSLOTSRANGE 3000 3999
        GET b
        GET a
        PING
        CLUSTER INFO
        CLUSTER NODES
        CLUSTER SLOTS
        CLUSTER SHARDS
        CLUSTER ADDSLOTSRANGE 3000 3999
        CLUSTER INFO
        GET a
        DEL a {a}x {a}y b
        CLUSTER RESET SOFT
        CLUSTER INFO
        CLUSTER NODES
    """)


def test_migrate_refusals_match(differ: Any) -> None:
    # Without a reachable target (nothing listens on port 1) the texts are Redis's own.
    differ.check_all("""
        SET k v
        MIGRATE 127.0.0.1 1 nokey 0 1000
        MIGRATE 127.0.0.1 1 k 0 1000
        MIGRATE 127.0.0.1 1 k 0 1000 FOO
        MIGRATE 127.0.0.1 1 k 0 1000 AUTH
        MIGRATE 127.0.0.1 1 k 0 1000 AUTH2 user
        MIGRATE 127.0.0.1 1 k 0 1000 KEYS k
        MIGRATE 127.0.0.1 1 "" 0 1000 KEYS nokey other
        MIGRATE 127.0.0.1 1 k x 1000
        MIGRATE 127.0.0.1 1 k 0 x
        MIGRATE 127.0.0.1 1 k 0
        GET k
    """)
