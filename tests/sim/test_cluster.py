"""The simulated cluster: building it, a client following redirects, resharding with ASK seen
mid-migration, a failed primary replaced by its replica, partitions, and determinism."""

from __future__ import annotations

from typing import Iterator

import pytest

from redislab.protocol.reply import ErrorReply
from redislab.sim.cluster import ClusterClient, ClusterTopology, Redirect
from redislab.sim.topology import NodeDown, Topology


@pytest.fixture
def cluster() -> Iterator[ClusterTopology]:
    t = Topology.cluster(primaries=3, replicas=1, seed=0)  # type: ignore[attr-defined]
    try:
        yield t
    finally:
        t.close()


def test_built_as_redis_cli_would(cluster: ClusterTopology) -> None:
    assert list(cluster.nodes) == ["A", "B", "C", "A1", "B1", "C1"]
    assert cluster.primaries() == ["A", "B", "C"]
    slots = cluster.call("B1", "CLUSTER", "SLOTS")
    # A replica with replication offset 0 is still loading: CLUSTER SLOTS leaves it out.
    assert [len(e) for e in slots] == [3, 3, 3]
    cluster.advance(11)     # the primaries' first replication PING moves the offsets
    slots = cluster.call("B1", "CLUSTER", "SLOTS")
    assert [(e[0], e[1], e[2][1], [r[1] for r in e[3:]]) for e in slots] == [
        (0, 5460, 7000, [7003]), (5461, 10922, 7001, [7004]), (10923, 16383, 7002, [7005])]
    for name in cluster.nodes:
        info = cluster.call(name, "CLUSTER", "INFO")
        assert b"cluster_state:ok" in info and b"cluster_known_nodes:6" in info
    assert cluster.role("A1") == "slave" and cluster.role("A") == "master"
    assert "A: primary 0-5460" in cluster.describe()
    assert cluster.describe().endswith("cluster ok")


def test_client_follows_and_reports_redirects(cluster: ClusterTopology) -> None:
    client = ClusterClient(cluster)
    assert client.execute("SET", "foo", "bar") == "OK"
    assert [str(r) for r in client.redirects] == ["-> MOVED 12182 to node C"]
    assert client.execute("GET", "foo") == b"bar"
    assert client.redirects == []          # the slot map learnt where 12182 lives
    assert client.execute("PING") == "PONG"
    assert client.execute("MSET", "a", "1", "b", "2") == ErrorReply(
        "CROSSSLOT Keys in request don't hash to the same slot")
    cluster.advance(0.1)
    # Replication reached C's replica, which serves reads after READONLY.
    assert cluster.call("C1", "GET", "foo") == ErrorReply("MOVED 12182 127.0.0.1:7002")
    s = cluster.session("C1")
    assert s.execute("READONLY") == "OK"
    assert s.execute("GET", "foo") == b"bar"


def test_reshard_shows_ask_then_moved(cluster: ClusterTopology) -> None:
    client = ClusterClient(cluster)
    client.execute("SET", "foo", "1")
    client.execute("SET", "{foo}2", "2")
    reshard = cluster.start_reshard([12182], "C", "A")
    assert "importing 12182<-C" in cluster.describe()
    assert "migrating 12182->A" in cluster.describe()
    assert client.execute("GET", "foo") == b"1"       # still on C
    assert client.redirects == []
    assert reshard.step(1) == 1                        # the newest key moves first
    on_a = [k for k in (b"foo", b"{foo}2") if k in cluster.node("A").engine.dbs[0].data]
    assert len(on_a) == 1
    gone = on_a[0]
    kept = b"foo" if gone == b"{foo}2" else b"{foo}2"
    assert kept in cluster.node("C").engine.dbs[0].data
    assert client.execute("GET", gone) is not None
    assert [str(r) for r in client.redirects] == ["-> ASK 12182 to node A"]
    assert client.execute("MGET", "foo", "{foo}2") == ErrorReply(
        "TRYAGAIN Multiple keys request during rehashing of slot")
    reshard.finish()
    assert reshard.done and reshard.moved == 2
    assert client.execute("GET", kept) is not None
    assert client.redirects == [Redirect("MOVED", 12182, "A")]
    assert client.execute("MGET", "foo", "{foo}2") == [b"1", b"2"]
    # A took the slot under a new config epoch that every node accepts.
    cluster.advance(1.5)
    for name in cluster.nodes:
        assert cluster.owner(12182, view=name) == "A"
    assert cluster.state("A").myself.config_epoch == 7


def test_reshard_by_count_moves_keys(cluster: ClusterTopology) -> None:
    client = ClusterClient(cluster)
    for i in range(200):
        client.execute("SET", f"key:{i}", i)
    before = sum(len(cluster.node(n).engine.dbs[0].data) for n in ("A", "B", "C"))
    text = cluster.reshard(1000, "B", "C")
    assert text.startswith("1000 slot(s), ")
    assert cluster.owner(5461) == "C" and cluster.owner(6460) == "C"
    assert cluster.owner(6461) == "B"
    after = sum(len(cluster.node(n).engine.dbs[0].data) for n in ("A", "B", "C"))
    assert before == after == 200
    assert all(client.execute("GET", f"key:{i}") == str(i).encode() for i in range(200))
    with pytest.raises(ValueError):
        cluster.reshard(10, "A", "A")
    with pytest.raises(ValueError):
        cluster.reshard([0], "B", "C")      # B does not serve slot 0


def test_primary_failure_then_replica_failover(cluster: ClusterTopology) -> None:
    client = ClusterClient(cluster)
    client.execute("SET", "foo", "bar")
    cluster.advance(0.1)
    cluster.kill("C")
    with pytest.raises(NodeDown):
        client.execute("GET", "foo")
    # Within the node timeout the others still believe in C.
    cluster.advance(10)
    assert b"cluster_state:ok" in cluster.call("A", "CLUSTER", "INFO")
    # Past it: PFAIL, then FAIL by majority; the whole cluster refuses keyed commands.
    for _ in range(80):
        cluster.advance(0.1)
        if b"cluster_state:fail" in cluster.call("A", "CLUSTER", "INFO"):
            break
    assert cluster.call("A", "GET", "a") == ErrorReply("CLUSTERDOWN The cluster is down")
    assert "C(fail)" in cluster.describe()
    # The replica wins the election after its delay and takes C's slots with a new epoch.
    cluster.advance(3)
    assert cluster.role("C1") == "master"
    assert cluster.state("C1").myself.config_epoch == 7
    assert b"cluster_state:ok" in cluster.call("A", "CLUSTER", "INFO")
    # The client's map still says C: the connection fails, it reloads the map, goes to C1.
    assert client.execute("GET", "foo") == b"bar"
    assert client.notes == ["node C is down: slot map reloaded from A"]
    assert ClusterClient(cluster, node="A").execute("GET", "foo") == b"bar"
    assert any("Failover election won" in e.detail for e in cluster.events)
    # C comes back as a replica of the node that replaced it.
    cluster.restart("C")
    cluster.advance(2)
    assert cluster.state("C").myself.replica_of is not None
    assert cluster.name_of(cluster.state("C").myself.replica_of.id) == "C1"
    cluster.settle()      # the full sync waits for repl-diskless-sync-delay first
    assert cluster.call("C", "DBSIZE") == cluster.call("C1", "DBSIZE") == 1


def test_manual_failover(cluster: ClusterTopology) -> None:
    assert cluster.failover("B1") == "B1"
    assert cluster.role("B1") == "master"
    cluster.advance(1)
    assert cluster.role("B") == "slave"
    assert cluster.owner(6000, view="A") == "B1"
    with pytest.raises(ValueError):
        cluster.failover("A")


def test_minority_side_goes_down(cluster: ClusterTopology) -> None:
    cluster.partition(["A", "A1"], ["B", "B1", "C", "C1"])
    cluster.advance(20)
    # A reaches one primary of three (itself): a minority, so its state is fail. The
    # majority marks A failed, but A's only replica is on A's side: nobody can take A's
    # slots, and with full coverage required the majority is down too.
    assert b"cluster_state:fail" in cluster.call("A", "CLUSTER", "INFO")
    assert cluster.call("A", "SET", "x", "1") == ErrorReply("CLUSTERDOWN The cluster is down")
    assert "A(fail)" in cluster.describe()
    assert b"cluster_state:fail" in cluster.call("B", "CLUSTER", "INFO")
    assert cluster.role("A1") == "slave"
    cluster.heal()
    cluster.advance(10)
    # A primary that still has its slots keeps its FAIL flag for twice the node timeout.
    assert b"cluster_state:fail" in cluster.call("B", "CLUSTER", "INFO")
    cluster.advance(25)
    for name in cluster.nodes:
        assert b"cluster_state:ok" in cluster.call(name, "CLUSTER", "INFO"), name


def test_same_seed_same_story() -> None:
    def story(seed: int) -> list[str]:
        t = Topology.cluster(primaries=3, replicas=1, seed=seed)  # type: ignore[attr-defined]
        try:
            t.kill("A")
            t.advance(20)
            return [str(e) for e in t.events] + [t.describe(),
                                                 t.call("B", "CLUSTER", "NODES").decode()]
        finally:
            t.close()

    assert story(3) == story(3)
    assert story(3) != story(4)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Topology.cluster(primaries=0)  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        Topology.cluster(primaries=3, replicas=-1)  # type: ignore[attr-defined]


def test_migrate_between_nodes(cluster: ClusterTopology) -> None:
    a, c = cluster.session("A"), cluster.session("C")
    assert c.execute("SET", "foo", "1") == "OK"
    assert c.execute("PEXPIRE", "foo", 50000) == 1
    assert c.execute("SET", "{foo}2", "2") == "OK"
    slot = 12182
    assert a.execute("CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.state("C").myself.id) \
        == "OK"
    assert c.execute("CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.state("A").myself.id) \
        == "OK"
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "foo", 0, 1000, "COPY") == "OK"
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "foo", 0, 1000) == ErrorReply(
        "ERR Target instance replied with error: BUSYKEY Target key name already exists.")
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "", 0, 1000, "REPLACE", "KEYS", "foo",
                     "{foo}2", "{foo}missing") == "OK"
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "foo", 0, 1000) == "NOKEY"
    assert c.execute("EXISTS", "foo") == ErrorReply("ASK 12182 127.0.0.1:7000")
    assert b"foo" not in cluster.node("C").engine.dbs[0].data
    assert 49000 < cluster.node("A").engine.dbs[0].expires[b"foo"] - cluster.now_ms() <= 50000
    # The deletions reached C's replica as one DEL.
    cluster.advance(0.1)
    assert cluster.node("C1").engine.dbs[0].data.keys() == set()
    assert c.execute("MIGRATE", "127.0.0.1", 7999, "x", 0, 1000) == "NOKEY"
    assert c.execute("SET", "a", "1") == "OK"                # slot 15495, C's
    assert c.execute("MIGRATE", "127.0.0.1", 7999, "a", 0, 1000) == ErrorReply(
        "IOERR error or timeout writing to target instance")
    cluster.partition(["C"], ["A"])
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "a", 0, 1000) == ErrorReply(
        "IOERR error or timeout writing to target instance")
    cluster.heal()
    # Reachable again, but A neither owns nor imports slot 15495: it says so.
    assert c.execute("MIGRATE", "127.0.0.1", 7000, "a", 0, 1000) == ErrorReply(
        "ERR Target instance replied with error: MOVED 15495 127.0.0.1:7002")
    assert c.execute("GET", "a") == b"1"
