"""Sentinel on the simulated network: detection, agreement, failover, split brain."""

from __future__ import annotations

import pytest

from redislab.protocol import ErrorReply
from redislab.sim.topology import Topology


def events(t: Topology, what: str, node: str | None = None, about: str = "") -> list[int]:
    return [e.time_ms for e in t.events if e.what == what and (node is None or e.node == node)
            and e.detail.startswith(about)]


def master_addr(t: Topology, sentinel: str = "sentinel-1") -> tuple[str, int]:
    host, port = t.call(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
    return host.decode(), int(port)


@pytest.fixture
def topo():
    t = Topology.sentinel(replicas=2, sentinels=3, quorum=2, seed=3, down_after_ms=5000,
                          failover_timeout_ms=60_000)
    yield t
    t.close()


def test_sentinels_discover_each_other_and_the_replicas(topo: Topology) -> None:
    assert len(topo.call("sentinel-1", "SENTINEL", "SENTINELS", "mymaster")) == 2
    replicas = topo.call("sentinel-2", "SENTINEL", "REPLICAS", "mymaster")
    ports = sorted(int(dict(zip(r[::2], r[1::2]))[b"port"]) for r in replicas)
    assert ports == [7001, 7002]
    assert topo.call("sentinel-3", "SENTINEL", "CKQUORUM", "mymaster") == (
        "OK 3 usable Sentinels. Quorum and failover authorization can be reached")
    assert master_addr(topo) == ("127.0.0.1", 7000)
    assert topo.call("sentinel-1", "ROLE") == [b"sentinel", [b"mymaster"]]


def test_failover_after_down_after_milliseconds(topo: Topology) -> None:
    topo.call("primary", "SET", "k", "v")
    topo.advance(1)
    killed = topo.now_ms()
    topo.kill("primary")
    topo.advance(4.5)
    assert not events(topo, "+sdown")           # not before down-after-milliseconds
    topo.advance(20)
    sdown = events(topo, "+sdown", about="master")
    assert len(sdown) == 3
    # The last good PING reply came at most a second before the crash.
    assert all(killed + 4000 < t <= killed + 5000 + 1100 for t in sdown)
    assert len(events(topo, "+odown")) >= 1
    assert len(events(topo, "+elected-leader")) == 1
    assert len(events(topo, "+switch-master")) == 3    # the leader, then the others
    new = topo.by_address(*master_addr(topo))
    assert new is not None and new.name in ("replica-1", "replica-2")
    assert topo.role(new.name) == "master"
    assert all(master_addr(topo, s) == (new.host, new.port) for s in topo.sentinel_nodes())
    assert topo.call(new.name, "GET", "k") == b"v"
    other = "replica-2" if new.name == "replica-1" else "replica-1"
    topo.advance(3)
    assert topo.call(other, "ROLE")[1:4] == [b"127.0.0.1", new.port, b"connected"]


def test_old_primary_comes_back_as_a_replica(topo: Topology) -> None:
    topo.kill("primary")
    topo.advance(25)
    new = topo.by_address(*master_addr(topo))
    topo.restart("primary")
    assert topo.role("primary") == "master"      # REPLICAOF was never written to a file
    topo.advance(20)
    assert any(e.what == "+convert-to-slave" for e in topo.events)
    assert topo.call("primary", "ROLE")[:3] == [b"slave", b"127.0.0.1", new.port]


def test_longer_down_after_means_later_failover() -> None:
    def switch_delay(down_after: int) -> int:
        t = Topology.sentinel(seed=1, down_after_ms=down_after, failover_timeout_ms=60_000)
        try:
            start = t.now_ms()
            t.kill("primary")
            t.advance(down_after / 1000 + 15)
            switches = events(t, "+switch-master")
            assert switches, "no failover"
            return switches[0] - start
        finally:
            t.close()

    fast, slow = switch_delay(2000), switch_delay(10_000)
    assert 2000 < fast < 2000 + 5000
    assert 10_000 < slow < 10_000 + 5000


def test_no_failover_without_the_quorum() -> None:
    t = Topology.sentinel(replicas=2, sentinels=3, quorum=3, seed=2, down_after_ms=3000)
    try:
        # With one Sentinel gone, only two can ever agree that the primary is down.
        t.kill("sentinel-3")
        t.kill("primary")
        t.advance(30)
        assert events(t, "+sdown", "sentinel-1")
        assert not events(t, "+odown")
        assert not events(t, "+switch-master")
        assert t.role("replica-1") == "slave" and t.role("replica-2") == "slave"
        assert t.call("sentinel-1", "SENTINEL", "CKQUORUM", "mymaster") == ErrorReply(
            "NOQUORUM 2 usable Sentinels. Not enough available Sentinels to reach the "
            "specified quorum for this master")
    finally:
        t.close()


def test_no_leader_without_a_majority() -> None:
    # quorum 1 reaches ODOWN alone, but a failover still needs a majority of the Sentinels.
    t = Topology.sentinel(replicas=1, sentinels=3, quorum=1, seed=4, down_after_ms=3000,
                          failover_timeout_ms=10_000)
    try:
        t.kill("sentinel-2")
        t.kill("sentinel-3")
        t.kill("primary")
        t.advance(30)
        assert events(t, "+odown", "sentinel-1")
        assert events(t, "-failover-abort-not-elected", "sentinel-1")
        assert not events(t, "+switch-master")
    finally:
        t.close()


def test_split_brain_loses_the_writes_of_the_isolated_primary(topo: Topology) -> None:
    p = topo.session("primary")
    p.execute("SET", "before", "1")
    topo.advance(1)
    topo.partition(["primary"], ["replica-1", "replica-2", "sentinel-1", "sentinel-2",
                                 "sentinel-3"])
    # The isolated primary still accepts writes from the client on its side.
    for i in range(5):
        assert p.execute("SET", f"lost:{i}", "x") == "OK"
        topo.advance(3)
    new = topo.by_address(*master_addr(topo))
    assert new is not None and new.name != "primary"
    assert topo.role("primary") == "master"             # two masters: split brain
    topo.heal()
    topo.advance(30)
    assert topo.call("primary", "ROLE")[0] == b"slave"
    assert topo.call("primary", "GET", "before") == b"1"
    assert topo.call("primary", "KEYS", "lost:*") == []
    assert topo.call(new.name, "KEYS", "lost:*") == []


def test_min_replicas_to_write_limits_the_split_brain(topo: Topology) -> None:
    p = topo.session("primary")
    p.execute("CONFIG", "SET", "min-replicas-to-write", "1")
    p.execute("CONFIG", "SET", "min-replicas-max-lag", "10")
    topo.advance(1)
    topo.partition(["primary"], ["replica-1", "replica-2", "sentinel-1", "sentinel-2",
                                 "sentinel-3"])
    accepted = 0
    for i in range(10):
        if p.execute("SET", f"lost:{i}", "x") == "OK":
            accepted += 1
        topo.advance(2)
    assert 1 <= accepted <= 6        # only until the last acknowledgement is 10 s old
    assert p.execute("SET", "late", "x") == ErrorReply(
        "NOREPLICAS Not enough good replicas to write.")


def test_forced_failover_and_command_errors(topo: Topology) -> None:
    s = topo.session("sentinel-1")
    assert s.execute("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope") is not None
    assert list(s.execute("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope") or []) == []
    assert s.execute("SENTINEL", "MASTER", "nope") == ErrorReply(
        "ERR No such master with that name")
    assert s.execute("SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "7000", "2") == \
        ErrorReply("ERR Duplicate master name.")
    assert s.execute("SENTINEL", "MONITOR", "m2", "127.0.0.1", "7000", "0") == ErrorReply(
        "ERR Quorum must be 1 or greater.")
    assert s.execute("SENTINEL", "MONITOR", "m2", "notanip", "7000", "1") == ErrorReply(
        "ERR Invalid IP address or hostname specified")
    assert s.execute("SENTINEL", "MONITOR", "m2", "127.0.0.1", "abc", "1") == ErrorReply(
        "ERR Invalid port")
    assert s.execute("SENTINEL", "SET", "mymaster", "foo", "1") == ErrorReply(
        "ERR Unknown option or number of arguments for SENTINEL SET 'foo'")
    assert s.execute("SENTINEL", "SET", "mymaster", "quorum", "0") == ErrorReply(
        "ERR Invalid argument '0' for SENTINEL SET 'quorum'")
    assert s.execute("GET", "x") == ErrorReply(
        "ERR unknown command 'GET', with args beginning with: 'x' ")
    assert s.execute("SENTINEL", "FAILOVER", "mymaster") == "OK"
    assert s.execute("SENTINEL", "FAILOVER", "mymaster") == ErrorReply(
        "INPROG Failover already in progress")
    topo.advance(30)
    assert master_addr(topo)[1] in (7001, 7002)
    assert topo.role("primary") == "slave"      # the old master is converted once it is seen


def test_sentinel_is_unknown_to_a_plain_server(topo: Topology) -> None:
    assert topo.call("primary", "SENTINEL", "MASTERS") == ErrorReply(
        "ERR unknown command 'SENTINEL', with args beginning with: 'MASTERS' ")


def test_topology_failover_helper(topo: Topology) -> None:
    assert topo.failover("replica-2") == "replica-2"
    assert topo.role("replica-2") == "master"


def test_deterministic_for_a_seed() -> None:
    def story(seed: int) -> list[tuple[int, str, str, str]]:
        t = Topology.sentinel(seed=seed, down_after_ms=3000, failover_timeout_ms=30_000)
        try:
            t.kill("primary")
            t.advance(20)
            return [(e.time_ms, e.node, e.what, e.detail) for e in t.events
                    if e.node.startswith("sentinel")]
        finally:
            t.close()

    assert story(9) == story(9)


def test_impossible_sentinel_parameters() -> None:
    with pytest.raises(ValueError, match="quorum of 4"):
        Topology.sentinel(sentinels=3, quorum=4)
    with pytest.raises(ValueError, match="sentinels"):
        Topology.sentinel(sentinels=0, quorum=1)


def test_restarted_sentinel_remembers_its_configuration(topo: Topology) -> None:
    myid = topo.call("sentinel-2", "SENTINEL", "MYID")
    topo.kill("sentinel-2")
    topo.advance(1)
    topo.restart("sentinel-2")
    assert topo.call("sentinel-2", "SENTINEL", "MYID") == myid
    topo.advance(3)
    assert len(topo.call("sentinel-2", "SENTINEL", "SENTINELS", "mymaster")) == 2


# ---------------------------------------------------------------------------------------------
# Against a real Sentinel


def _names(fields: list) -> list[bytes]:
    return list(fields[::2])


@pytest.mark.real
def test_replies_match_a_real_sentinel() -> None:
    import time

    from tests.support.real_redis import RedisSentinel, RedisServer, wire

    primary = RedisServer()
    replica = RedisServer()
    sentinel = None
    try:
        rc = replica.client()
        rc.execute("REPLICAOF", "127.0.0.1", str(primary.port))
        sentinel = RedisSentinel(primary.port)
        sc = sentinel.client()
        deadline = time.monotonic() + 20
        while not sc.execute("SENTINEL", "REPLICAS", "mymaster") or \
                b"slave-repl-offset" not in sc.execute("SENTINEL", "REPLICAS", "mymaster")[0]:
            assert time.monotonic() < deadline, "real sentinel did not find the replica"
            time.sleep(0.1)  # waiting for a real server, not a test timing
        while b"flags" not in sc.execute("SENTINEL", "MASTER", "mymaster") or \
                sc.execute("SENTINEL", "MASTER", "mymaster")[9] != b"master":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        real = {
            "master": _names(sc.execute("SENTINEL", "MASTER", "mymaster")),
            "replica": _names(sc.execute("SENTINEL", "REPLICAS", "mymaster")[0]),
            "role": sc.execute("ROLE"),
            "info": [line.split(b":")[0] for line in
                     sc.execute("INFO", "sentinel").split(b"\r\n") if b":" in line],
            "sections": [line for line in sc.execute("INFO").split(b"\r\n")
                         if line.startswith(b"#")],
            "errors": [sc.execute(*cmd) for cmd in _ERROR_CASES],
        }
        rc.close()
        sc.close()
    finally:
        if sentinel is not None:
            sentinel.stop()
        primary.stop()
        replica.stop()

    t = Topology.sentinel(replicas=1, sentinels=1, quorum=1, seed=1)
    try:
        ours = {
            "master": _names(t.call("sentinel-1", "SENTINEL", "MASTER", "mymaster")),
            "replica": _names(t.call("sentinel-1", "SENTINEL", "REPLICAS", "mymaster")[0]),
            "role": wire(t.call("sentinel-1", "ROLE")),
            "info": [line.split(b":")[0] for line in
                     t.call("sentinel-1", "INFO", "sentinel").split(b"\r\n") if b":" in line],
            "sections": [line for line in t.call("sentinel-1", "INFO").split(b"\r\n")
                         if line.startswith(b"#")],
            "errors": [wire(t.call("sentinel-1", *cmd)) for cmd in _ERROR_CASES],
        }
    finally:
        t.close()
    assert len(real["master"]) > 15 and real["role"][0] == b"sentinel"
    assert ours == real


_ERROR_CASES = [
    ("SENTINEL", "MASTER", "nope"),
    ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"),
    ("SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "7000", "2"),
    ("SENTINEL", "MONITOR", "m2", "127.0.0.1", "7000", "0"),
    ("SENTINEL", "MONITOR", "m2", "notanip", "7000", "1"),
    ("SENTINEL", "MONITOR", "m2", "127.0.0.1", "abc", "1"),
    ("SENTINEL", "MONITOR", "m2", "127.0.0.1", "7000", "x"),
    ("SENTINEL", "SET", "mymaster", "foo", "1"),
    ("SENTINEL", "SET", "mymaster", "quorum", "0"),
    ("SENTINEL", "FAILOVER", "nope"),
    ("SENTINEL", "RESET", "nope"),
    ("SENTINEL", "CKQUORUM", "nope"),
    ("GET", "x"),
    ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"),
    ("SENTINEL", "DEBUG"),
    ("SENTINEL", "DEBUG", "foo", "1"),
    ("SENTINEL", "DEBUG", "info-period", "0"),
    ("SENTINEL", "CONFIG", "GET", "*"),
    ("SENTINEL", "CONFIG", "SET", "foo", "bar"),
    ("SENTINEL", "CONFIG", "SET", "announce-port", "abc"),
    ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"),
    ("SENTINEL", "CONFIG", "FOO", "x"),
    ("SENTINEL", "SIMULATE-FAILURE", "foo"),
    ("SENTINEL", "SIMULATE-FAILURE", "help"),
    ("SENTINEL", "INFO-CACHE", "nope"),
    ("SENTINEL", "FLUSHCONFIG"),
    ("SENTINEL", "PENDING-SCRIPTS"),
]


def test_replica_priority_decides_the_promotion() -> None:
    t = Topology.sentinel(replicas=3, sentinels=3, quorum=2, seed=5, down_after_ms=3000)
    try:
        t.call("replica-1", "CONFIG", "SET", "replica-priority", "0")    # never promoted
        t.call("replica-3", "CONFIG", "SET", "replica-priority", "10")   # preferred
        t.advance(11)     # the Sentinels read the priorities from INFO every 10 s
        t.kill("primary")
        t.advance(20)
        assert master_addr(t) == ("127.0.0.1", t.node("replica-3").port)
        selected = [e.detail for e in t.events if e.what == "+selected-slave"]
        assert selected and "7003" in selected[0]
    finally:
        t.close()


@pytest.mark.parametrize("seed", range(4))
def test_random_faults_settle_on_one_primary(seed: int) -> None:
    import random

    from redislab.sim.topology import NodeDown

    rng = random.Random(seed)
    t = Topology.sentinel(seed=seed, down_after_ms=2000, failover_timeout_ms=10_000)
    names = list(t.nodes)
    try:
        for _ in range(50):
            op = rng.choice(["write", "write", "advance", "advance", "kill", "restart",
                             "partition", "heal", "delay", "failover"])
            n = rng.choice(names)
            if op == "write" and t.primary():
                try:
                    t.call(t.primary(), "INCR", "c")
                except NodeDown:
                    pass
            elif op == "advance":
                t.advance(rng.choice([0.01, 0.5, 3, 12]))
            elif op == "kill" and t.nodes[n].alive and \
                    sum(x.alive for x in t.nodes.values()) > 4:
                t.kill(n, rng.choice(["process", "power"]))
            elif op == "restart" and not t.nodes[n].alive:
                t.restart(n)
            elif op == "partition":
                a = rng.sample(names, 2)
                t.partition(a, [x for x in names if x not in a])
            elif op == "heal":
                t.heal()
            elif op == "delay":
                a, b = rng.sample(names, 2)
                t.delay(a, b, rng.choice([0, 50, 500]))
            elif op == "failover":
                try:
                    t.failover()
                except ValueError:
                    pass
        t.heal()
        t.advance(90)
        live = [n for n in t.data_nodes() if t.nodes[n].alive]
        masters = [n for n in live if t.role(n) == "master"]
        assert len(masters) <= 1, t.describe()
        if masters and t.sentinels:
            assert master_addr(t, next(iter(t.sentinels)))[1] == t.node(masters[0]).port
    finally:
        t.close()


def test_info_cache_and_debug(topo: Topology) -> None:
    cache = topo.call("sentinel-1", "SENTINEL", "INFO-CACHE", "mymaster")
    assert cache[0] == b"mymaster" and len(cache[1]) == 3
    age, text = cache[1][0]
    assert 0 <= age <= 10_000 and text.startswith(b"# Server")
    assert topo.call("sentinel-1", "SENTINEL", "DEBUG", "ping-period", "200") == "OK"
    debug = topo.call("sentinel-1", "SENTINEL", "DEBUG")
    assert dict(zip(debug[::2], debug[1::2]))[b"PING-PERIOD"] == b"200"


def test_simulated_crash_after_election_delays_the_failover(topo: Topology) -> None:
    for s in topo.sentinel_nodes():
        topo.call(s, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election")
    topo.kill("primary")
    topo.advance(30)
    crashed = [e.node for e in topo.events if e.what == "simulated-crash"]
    assert len(crashed) == 1 and not topo.nodes[crashed[0]].alive
    for s in topo.sentinels:
        # Any SIMULATE-FAILURE call first clears the simulated failures.
        topo.call(s, "SENTINEL", "SIMULATE-FAILURE", "help")
    # The remaining two wait out twice the failover timeout (60 s) before trying again.
    assert not events(topo, "+switch-master")
    topo.advance(80)
    assert not events(topo, "+switch-master")
    topo.advance(60)
    assert events(topo, "+switch-master")


def _event_shape(what: str, detail: str) -> tuple[str, str]:
    """An event without addresses or ids: its name and the kind of instance it is about."""
    first = detail.split(" ", 1)[0] if detail else ""
    return what, first if first in ("master", "slave", "sentinel") else ""


@pytest.mark.real
def test_failover_events_match_a_real_sentinel() -> None:
    import os
    import re
    import time

    from tests.support.real_redis import RedisSentinel, RedisServer

    primary, r1, r2 = RedisServer(), RedisServer(), RedisServer()
    sentinel = None
    try:
        for r in (r1, r2):
            c = r.client()
            c.execute("REPLICAOF", "127.0.0.1", str(primary.port))
            c.close()
        sentinel = RedisSentinel(primary.port, quorum=1, down_after_ms=1000)
        sc = sentinel.client()
        deadline = time.monotonic() + 30
        while True:
            reps = sc.execute("SENTINEL", "REPLICAS", "mymaster")
            if len(reps) == 2 and all(dict(zip(x[::2], x[1::2]))[b"master-link-status"]
                                      == b"ok" for x in reps):
                break
            assert time.monotonic() < deadline, "the real Sentinel did not see the replicas"
            time.sleep(0.1)  # waiting for real servers, not a test timing
        sc.close()
        primary.proc.kill()
        log_path = os.path.join(sentinel.dir, "log")
        while b"+switch-master" not in open(log_path, "rb").read():
            assert time.monotonic() < deadline + 30, "the real Sentinel did not fail over"
            time.sleep(0.1)
        real = []
        for line in open(log_path).read().splitlines():
            m = re.search(r" [#*] ([+-][\w-]+) ?(.*)", line)
            if m:
                real.append(_event_shape(m.group(1), m.group(2)))
    finally:
        if sentinel is not None:
            sentinel.stop()
        for server in (primary, r1, r2):
            server.stop()

    t = Topology.sentinel(replicas=2, sentinels=1, quorum=1, seed=1, down_after_ms=1000)
    try:
        t.kill("primary")
        t.advance(20)
        ours = [_event_shape(e.what, e.detail) for e in t.events
                if e.node == "sentinel-1" and e.what.startswith(("+", "-"))]
    finally:
        t.close()

    def failover(events: list[tuple[str, str]]) -> list[tuple[str, str]]:
        start = events.index(("+sdown", "master"))
        end = events.index(("+switch-master", ""))
        return events[start:end + 1]

    assert failover(ours) == failover(real)
