"""The simulated topology: nodes on one clock, a network with delay and partitions."""

from __future__ import annotations

import pytest

from redislab.sim.topology import NodeDown, Topology


@pytest.fixture
def topo():
    t = Topology.replicas(2, seed=7)
    yield t
    t.close()


def test_replicas_start_synced(topo: Topology) -> None:
    assert list(topo.nodes) == ["primary", "replica-1", "replica-2"]
    assert topo.node("replica-1").address == "127.0.0.1:7001"
    assert topo.role("primary") == "master"
    assert topo.role("replica-2") == "slave"
    assert "replica-1: replica of primary, link up, 0B behind" in topo.describe()


def test_writes_reach_replicas_only_when_time_moves(topo: Topology) -> None:
    topo.call("primary", "SET", "k", "v")
    assert topo.call("replica-1", "GET", "k") is None
    topo.advance(0.01)
    assert topo.call("replica-1", "GET", "k") == b"v"
    assert topo.call("replica-2", "GET", "k") == b"v"


def test_kill_and_restart(topo: Topology) -> None:
    s = topo.session("primary")
    topo.kill("primary")
    with pytest.raises(NodeDown):
        topo.session("primary")
    with pytest.raises(NodeDown):
        s.execute("PING")
    assert "primary: down" in topo.describe()
    topo.restart("primary")
    assert topo.call("primary", "PING") == "PONG"


def test_impossible_parameters() -> None:
    with pytest.raises(ValueError, match="replicas"):
        Topology.replicas(-1)
    t = Topology(["a", "b"])
    try:
        with pytest.raises(ValueError, match="both sides"):
            t.partition(["a"], ["a", "b"])
        with pytest.raises(KeyError):
            t.node("c")
        with pytest.raises(ValueError):
            t.delay("a", "b", -5)
        with pytest.raises(ValueError, match="already"):
            t.add_node("a")
    finally:
        t.close()


def test_same_seed_same_story() -> None:
    def story(seed: int) -> tuple[str, str]:
        t = Topology.replicas(1, seed=seed)
        try:
            t.call("primary", "SET", "a", "1")
            t.advance(2)
            info = t.call("replica-1", "INFO", "replication").decode()
            replid = [x for x in info.split("\r\n") if x.startswith("master_replid:")][0]
            return t.describe(), replid
        finally:
            t.close()

    assert story(3) == story(3)
    assert story(3)[1] != story(4)[1]


def test_restart_loads_what_the_data_directory_holds() -> None:
    t = Topology(["primary"], config={"appendonly": "yes", "appendfsync": "always"})
    try:
        t.call("primary", "SET", "kept", "1")
        t.kill("primary", "power")
        t.restart("primary")
        assert t.call("primary", "GET", "kept") == b"1"
        import os

        assert os.path.isdir(os.path.join(t.node("primary").dir, "appendonlydir"))
    finally:
        t.close()


def test_restart_without_persistence_comes_back_empty(topo: Topology) -> None:
    topo.call("primary", "SET", "gone", "1")
    topo.kill("primary")
    topo.restart("primary")
    assert topo.call("primary", "DBSIZE") == 0
    # REPLICAOF given at run time is in no configuration file: a replica returns as master.
    topo.kill("replica-1")
    topo.restart("replica-1")
    assert topo.role("replica-1") == "master"


def test_a_big_snapshot_takes_time_on_a_slow_link() -> None:
    import random

    t = Topology(["primary", "replica"], seed=1)
    try:
        rng = random.Random(1)
        s = t.session("primary")
        for i in range(2000):
            s.execute("SET", f"key:{i}", rng.randbytes(500))   # about 1 MB, incompressible
        t.bandwidth("primary", "replica", 10)                 # 10 Mbit/s: about 0.8 s
        t.replicaof("replica", "primary")
        t.advance(5.3)                                        # past the diskless delay
        info = t.call("replica", "INFO", "replication").decode("latin-1")
        assert "master_sync_in_progress:1" in info
        assert t.call("replica", "ROLE")[3] == b"sync"
        assert t.call("replica", "DBSIZE") == 0
        t.advance(1)
        assert t.call("replica", "DBSIZE") == 2000
        with pytest.raises(ValueError):
            t.bandwidth("primary", "replica", 0)
    finally:
        t.close()
