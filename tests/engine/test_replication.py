"""Replication as Redis 7.0 does it, on a simulated topology (and against a real server)."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.blocking import NOTHING
from redislab.engine.replication import command_bytes
from redislab.engine.session import Blocked
from redislab.protocol import ErrorReply
from redislab.sim.topology import Topology


def info(t: Topology, node: str) -> dict[str, str]:
    text = t.call(node, "INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


@pytest.fixture
def topo():
    t = Topology.replicas(2, seed=11, config={"repl-timeout": "5"})
    yield t
    t.close()


def test_full_sync_copies_every_db_with_expiry() -> None:
    t = Topology(["primary", "replica"], seed=1)
    try:
        p = t.session("primary")
        p.execute("SET", "a", "1")
        p.execute("SET", "t", "v", "EX", "100")
        p.execute("SELECT", "3")
        p.execute("RPUSH", "l", "x", "y")
        t.replicaof("replica", "primary")
        assert t.call("replica", "ROLE")[3] == b"handshake"
        # Diskless sync waits repl-diskless-sync-delay (5 s) for more replicas.
        t.advance(4.9)
        assert info(t, "replica")["master_link_status"] == "down"
        assert info(t, "primary")["slave0"].startswith("ip=127.0.0.1,port=7001,state=wait_bgsave")
        t.advance(0.3)
        assert info(t, "replica")["master_link_status"] == "up"
        r = t.session("replica")
        assert r.execute("GET", "a") == b"1"
        assert r.execute("PTTL", "t") == 100_000 - 5_200
        r.execute("SELECT", "3")
        assert r.execute("LRANGE", "l", 0, -1) == [b"x", b"y"]
        assert info(t, "replica")["master_replid"] == info(t, "primary")["master_replid"]
    finally:
        t.close()


def test_offsets_count_the_resp_bytes_of_the_stream(topo: Topology) -> None:
    before = int(info(topo, "primary")["master_repl_offset"])
    p = topo.session("primary")
    p.execute("SET", "k", "v")
    p.execute("SELECT", "1")
    p.execute("SET", "k", "w")
    expected = (command_bytes([b"SET", b"k", b"v"]) + command_bytes([b"SELECT", b"1"])
                + command_bytes([b"SET", b"k", b"w"]))
    # The stream after a full sync starts with SELECT 0 (the replica's db is unknown).
    first = command_bytes([b"SELECT", b"0"])
    grown = int(info(topo, "primary")["master_repl_offset"]) - before
    assert grown in (len(expected), len(expected) + len(first))
    topo.advance(0.01)
    assert info(topo, "replica-1")["slave_repl_offset"] == info(topo, "primary")[
        "master_repl_offset"]
    r = topo.session("replica-1")
    r.execute("SELECT", "1")
    assert r.execute("GET", "k") == b"w"


def test_primary_pings_replicas_every_ten_seconds(topo: Topology) -> None:
    start = int(info(topo, "primary")["master_repl_offset"])
    topo.advance(30)
    grown = int(info(topo, "primary")["master_repl_offset"]) - start
    assert grown == 3 * len(command_bytes([b"PING"]))
    assert info(topo, "replica-2")["slave_repl_offset"] == str(start + grown)


def test_partial_resync_after_a_short_cut(topo: Topology) -> None:
    p = topo.session("primary")
    topo.partition(["primary"], ["replica-1"])
    for i in range(20):
        p.execute("INCR", "n")
    topo.advance(8)  # past repl-timeout (5 s): both sides drop the link
    assert info(topo, "replica-1")["master_link_status"] == "down"
    assert info(topo, "primary")["connected_slaves"] == "1"
    topo.heal()
    topo.advance(1.5)
    lines = [str(e) for e in topo.events]
    assert any("partial-sync" in x and x.startswith("replica-1") for x in lines)
    assert not any("full-sync" in x and "7001" in x for x in lines[-6:])
    assert topo.call("replica-1", "GET", "n") == b"20"
    assert info(topo, "replica-1")["master_link_status"] == "up"


def test_full_resync_after_the_backlog_overflowed(topo: Topology) -> None:
    p = topo.session("primary")
    p.execute("CONFIG", "SET", "repl-backlog-size", "200")
    topo.partition(["primary"], ["replica-1"])
    for i in range(30):
        p.execute("SET", f"k{i}", "x" * 10)
    topo.advance(8)
    topo.heal()
    topo.advance(1.5)
    assert any("full-sync-needed" in str(e) for e in topo.events[-4:])
    assert info(topo, "replica-1")["master_link_status"] == "down"
    topo.advance(6)
    assert info(topo, "replica-1")["master_link_status"] == "up"
    assert topo.call("replica-1", "DBSIZE") == 30
    backlog = info(topo, "primary")
    assert int(backlog["repl_backlog_histlen"]) <= 200


def test_lag_follows_the_link_delay(topo: Topology) -> None:
    topo.delay("primary", "replica-1", 300)
    topo.call("primary", "SET", "k", "v")
    topo.advance(0.2)
    assert topo.call("replica-1", "GET", "k") is None
    assert topo.call("replica-2", "GET", "k") == b"v"
    assert "replica-1: replica of primary, link up, 50B behind" in topo.describe()
    topo.advance(0.2)
    assert topo.call("replica-1", "GET", "k") == b"v"


def test_wait_counts_acknowledgements(topo: Topology) -> None:
    p = topo.session("primary")
    # A client that never wrote waits for nothing.
    assert p.execute("WAIT", 2, 0) == 2
    p.execute("SET", "k", "v")
    reply = p.execute("WAIT", 2, 1000)
    assert isinstance(reply, Blocked)
    topo.advance(0.05)
    assert p.pending_reply == 2
    topo.partition(["primary"], ["replica-2"])
    p.execute("SET", "k", "w")
    assert isinstance(p.execute("WAIT", 2, 500), Blocked)
    topo.advance(0.4)
    assert p.blocked is not None
    topo.advance(0.2)
    assert p.pending_reply == 1
    assert isinstance(p.execute("WAIT", 1, 0), int)
    assert p.execute("WAIT", "x", 0) == ErrorReply("ERR value is not an integer or out of "
                                                    "range")


def test_wait_on_a_replica_is_refused(topo: Topology) -> None:
    reply = topo.call("replica-1", "WAIT", 1, 0)
    assert isinstance(reply, ErrorReply)
    assert reply.message.startswith("ERR WAIT cannot be used with replica instances.")


def test_min_replicas_to_write(topo: Topology) -> None:
    p = topo.session("primary")
    p.execute("CONFIG", "SET", "min-replicas-to-write", "2")
    p.execute("CONFIG", "SET", "min-replicas-max-lag", "3")
    topo.advance(1)
    assert p.execute("SET", "k", "v") == "OK"
    assert info(topo, "primary")["min_slaves_good_slaves"] == "2"
    topo.partition(["primary"], ["replica-2"])
    topo.advance(2)
    assert p.execute("SET", "k", "v") == "OK"   # acks are still recent enough
    topo.advance(3)
    assert p.execute("SET", "k", "v") == ErrorReply(
        "NOREPLICAS Not enough good replicas to write.")
    assert p.execute("GET", "k") == b"v"        # reads are never refused
    topo.heal()
    topo.advance(8)
    assert p.execute("SET", "k", "w") == "OK"


def test_replicas_refuse_writes(topo: Topology) -> None:
    r = topo.session("replica-1")
    assert r.execute("SET", "k", "v") == ErrorReply(
        "READONLY You can't write against a read only replica.")
    r.execute("MULTI")
    assert r.execute("SET", "k", "v") == ErrorReply(
        "READONLY You can't write against a read only replica.")
    assert r.execute("EXEC") == ErrorReply(
        "EXECABORT Transaction discarded because of previous errors.")
    r.execute("CONFIG", "SET", "replica-read-only", "no")
    assert r.execute("SET", "local", "1") == "OK"
    topo.advance(0.1)
    assert topo.call("primary", "GET", "local") is None


def test_expiry_is_driven_by_the_primary(topo: Topology) -> None:
    p = topo.session("primary")
    topo.node("primary").engine.active_expire_enabled = False   # DEBUG SET-ACTIVE-EXPIRE 0
    p.execute("SET", "k", "v", "PX", "500")
    topo.advance(0.1)
    assert topo.call("replica-1", "GET", "k") == b"v"
    topo.advance(1)
    r = topo.session("replica-1")
    # Logically expired: reads say nil, but the key stays until the primary's DEL.
    assert r.execute("GET", "k") is None
    assert r.execute("EXISTS", "k") == 0
    assert r.execute("DBSIZE") == 1
    assert p.execute("GET", "k") is None       # the primary expires it and propagates DEL
    topo.advance(0.01)
    assert r.execute("DBSIZE") == 0


def test_acknowledged_write_lost_when_the_primary_dies() -> None:
    t = Topology.replicas(1, seed=5)
    try:
        t.delay("primary", "replica-1", 50)
        p = t.session("primary")
        assert p.execute("SET", "order:1", "paid") == "OK"     # acknowledged
        t.advance(0.02)                                       # still on the wire
        t.kill("primary", "power")
        t.advance(1)
        assert t.failover("replica-1") == "replica-1"
        assert t.role("replica-1") == "master"
        assert t.call("replica-1", "GET", "order:1") is None
    finally:
        t.close()


def test_promotion_keeps_the_history_for_the_other_replicas(topo: Topology) -> None:
    topo.call("primary", "SET", "k", "v")
    topo.advance(1)
    old = info(topo, "replica-1")
    topo.kill("primary")
    topo.failover("replica-1")
    promoted = info(topo, "replica-1")
    assert promoted["role"] == "master"
    assert promoted["master_replid2"] == old["master_replid"]
    assert promoted["second_repl_offset"] == str(int(old["master_repl_offset"]) + 1)
    topo.advance(1.5)
    # replica-2 continues from the promoted node's backlog: no full sync.
    assert any(str(e).startswith("replica-1: partial-sync") for e in topo.events)
    assert topo.call("replica-2", "GET", "k") == b"v"


def test_replicaof_without_a_network_keeps_the_link_down() -> None:
    e = Engine(ManualClock())
    s = e.session()
    assert s.execute("REPLICAOF", "10.0.0.9", "6379") == "OK"
    assert s.execute("REPLICAOF", "10.0.0.9", "6379") == "OK Already connected to specified master"
    assert s.execute("ROLE") == [b"slave", b"10.0.0.9", 6379, b"connect", -1]
    text = s.execute("INFO", "replication").decode()
    assert "master_link_status:down" in text
    assert any("no network" in line for line in e.replication.log)
    assert s.execute("SET", "k", "v") == ErrorReply(
        "READONLY You can't write against a read only replica.")
    assert s.execute("REPLICAOF", "NO", "ONE") == "OK"
    assert s.execute("SET", "k", "v") == "OK"
    assert s.execute("PSYNC", "?", "-1").message.startswith("ERR PSYNC and SYNC need")


@pytest.mark.parametrize("args", [("h", "abc"), ("h", "-1"), ("h", "65536"), ("h", "1.5")])
def test_replicaof_port_errors(args: tuple[str, str]) -> None:
    s = Engine(ManualClock()).session()
    assert s.execute("REPLICAOF", *args) == ErrorReply("ERR Invalid master port")


def test_plain_engine_has_no_replication_state() -> None:
    e = Engine(ManualClock())
    s = e.session()
    s.execute("SET", "k", "v")
    assert s.execute("REPLCONF", "listening-port", "6380") == "OK"
    assert s.execute("REPLCONF", "foo", "bar") == ErrorReply(
        "ERR Unrecognized REPLCONF option: foo")
    assert e.replication is None
    assert not e.gate
    assert s.execute("ROLE") == [b"master", 0, []]


def test_min_replicas_refuses_writes_on_a_primary_with_no_replica_yet() -> None:
    e = Engine(ManualClock())
    s = e.session()
    assert s.execute("CONFIG", "SET", "min-replicas-to-write", "1") == "OK"
    assert s.execute("SET", "k", "v") == ErrorReply("NOREPLICAS Not enough good replicas to write.")
    assert s.execute("GET", "k") is None
    s.execute("CONFIG", "SET", "min-replicas-max-lag", "0")
    assert s.execute("SET", "k", "v") == "OK"
    started = Engine(ManualClock(), config={"min-replicas-to-write": "2"}).session()
    assert started.execute("INCR", "n") == ErrorReply(
        "NOREPLICAS Not enough good replicas to write.")


@pytest.mark.real
def test_min_replicas_without_replicas_like_redis(differ: Any) -> None:
    differ.check_all("""
        CONFIG SET min-replicas-to-write 1
        SET k v
        GET k
        MSET a 1 b 2
        CONFIG SET min-replicas-to-write 0
        SET k v
    """)


# ---------------------------------------------------------------------------------------------
# Against a real redis-server


def _fields(text: bytes) -> list[str]:
    out = []
    for line in text.decode().split("\r\n"):
        if ":" in line:
            name = line.split(":", 1)[0]
            out.append("slaveN" if name.startswith("slave") and name[5:].isdigit() else name)
    return out


def _shape(x: Any) -> Any:
    if isinstance(x, list):
        return [_shape(y) for y in x]
    return type(x).__name__


@pytest.mark.real
def test_info_and_role_match_a_real_primary_and_replica() -> None:
    import time

    from tests.support.real_redis import RedisServer, wire

    primary = RedisServer()
    replica = RedisServer()
    try:
        pc, rc = primary.client(), replica.client()
        rc.execute("REPLICAOF", "127.0.0.1", str(primary.port))
        deadline = time.monotonic() + 20
        while b"master_link_status:up" not in rc.execute("INFO", "replication") or \
                b"state=online" not in pc.execute("INFO", "replication"):
            assert time.monotonic() < deadline, "real replica did not sync"
            time.sleep(0.1)  # waiting for a real server, not a test timing
        pc.execute("SET", "k", "v")
        real_master = _fields(pc.execute("INFO", "replication"))
        real_replica = _fields(rc.execute("INFO", "replication"))
        real_roles = (_shape(pc.execute("ROLE")), _shape(rc.execute("ROLE")))
        real_errors = [rc.execute("REPLICAOF", "127.0.0.1", "x"),
                       rc.execute("REPLICAOF", "127.0.0.1", str(primary.port)),
                       rc.execute("SET", "a", "b"),
                       rc.execute("WAIT", "1", "0")]
        from tests.support.real_redis import free_port

        real_failover = [pc.execute(*cmd) for cmd in _FAILOVER_CASES]
        real_failover.append(rc.execute("FAILOVER"))
        pc.execute("CONFIG", "SET", "min-replicas-to-write", "1")
        real_master_min = _fields(pc.execute("INFO", "replication"))
        rc.execute("REPLICAOF", "127.0.0.1", str(free_port()))
        real_link_down = (_fields(rc.execute("INFO", "replication")),
                          _shape(rc.execute("ROLE")))
        pc.close()
        rc.close()
    finally:
        primary.stop()
        replica.stop()

    t = Topology.replicas(1, seed=2)
    try:
        t.call("primary", "SET", "k", "v")
        t.advance(1.1)
        assert _fields(t.call("primary", "INFO", "replication")) == real_master
        assert _fields(t.call("replica-1", "INFO", "replication")) == real_replica
        ours = (_shape(wire(t.call("primary", "ROLE"))), _shape(wire(t.call("replica-1", "ROLE"))))
        assert ours == real_roles
        mine = [wire(t.call("replica-1", "REPLICAOF", "127.0.0.1", "x")),
                wire(t.call("replica-1", "REPLICAOF", "127.0.0.1", "7000")),
                wire(t.call("replica-1", "SET", "a", "b")),
                wire(t.call("replica-1", "WAIT", "1", "0"))]
        assert mine == real_errors
        ours_failover = [wire(t.call("primary", *cmd)) for cmd in _FAILOVER_CASES]
        ours_failover.append(wire(t.call("replica-1", "FAILOVER")))
        assert ours_failover == real_failover
        t.call("primary", "CONFIG", "SET", "min-replicas-to-write", "1")
        assert _fields(t.call("primary", "INFO", "replication")) == real_master_min
        t.kill("primary")
        t.call("replica-1", "REPLICAOF", "127.0.0.1", "7999")
        assert (_fields(t.call("replica-1", "INFO", "replication")),
                _shape(wire(t.call("replica-1", "ROLE")))) == real_link_down
    finally:
        t.close()


_FAILOVER_CASES = [
    ("FAILOVER", "ABORT"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "TO", "127.0.0.1", "1"),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "x"),
    ("FAILOVER", "bogus"),
    ("FAILOVER", "ABORT", "ABORT"),
]


def test_failover_hands_the_role_over_without_losing_writes(topo: Topology) -> None:
    p = topo.session("primary")
    p.execute("SET", "a", "1")
    assert p.execute("FAILOVER", "TO", "127.0.0.1", "7002") == "OK"
    assert info(topo, "primary")["master_failover_state"] == "waiting-for-sync"
    held = p.execute("SET", "b", "2")          # writes wait while the replica catches up
    assert isinstance(held, Blocked)
    assert p.execute("GET", "a") == b"1"       # reads do not
    topo.advance(2)
    assert topo.role("replica-2") == "master"
    assert topo.call("primary", "ROLE")[:3] == [b"slave", b"127.0.0.1", 7002]
    assert info(topo, "primary")["master_failover_state"] == "no-failover"
    assert p.pending_reply == ErrorReply("READONLY You can't write against a read only "
                                         "replica.")
    assert topo.call("replica-2", "GET", "a") == b"1"
    assert any("partial-sync" in str(e) and e.node == "primary" for e in topo.events)


def test_failover_times_out_without_a_caught_up_replica(topo: Topology) -> None:
    p = topo.session("primary")
    topo.partition(["primary"], ["replica-1", "replica-2"])
    p.execute("SET", "a", "1")
    assert p.execute("FAILOVER", "TIMEOUT", "500") == "OK"
    topo.advance(1)
    assert info(topo, "primary")["master_failover_state"] == "no-failover"
    assert topo.role("primary") == "master"
    assert any("Replica never caught up before timeout" in e.detail for e in topo.events)


def test_sync_counters_in_info_stats(topo: Topology) -> None:
    def stats(node: str) -> dict[str, str]:
        text = topo.call(node, "INFO", "stats").decode()
        return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)

    assert stats("primary")["sync_full"] == "2"
    topo.partition(["primary"], ["replica-1"])
    topo.call("primary", "SET", "k", "v")
    topo.advance(8)
    topo.heal()
    topo.advance(1.5)
    s = stats("primary")
    assert s["sync_partial_ok"] == "1"
    assert int(s["total_net_repl_output_bytes"]) > 0
    assert int(stats("replica-1")["total_net_repl_input_bytes"]) > 0


def test_stale_replica_can_refuse_reads(topo: Topology) -> None:
    r = topo.session("replica-1")
    r.execute("CONFIG", "SET", "replica-serve-stale-data", "no")
    assert r.execute("GET", "k") is None
    topo.kill("primary")
    topo.advance(0.1)
    assert r.execute("GET", "k") == ErrorReply(
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    assert r.execute("INFO", "replication").startswith(b"# Replication")   # INFO is stale-ok


def test_chained_replica_follows_its_upstream(topo: Topology) -> None:
    topo.replicaof("replica-2", "replica-1")
    topo.advance(7)
    topo.call("primary", "SET", "k", "chain")
    topo.advance(0.05)
    assert topo.call("replica-2", "GET", "k") == b"chain"
    assert info(topo, "replica-2")["master_port"] == "7001"
    assert info(topo, "replica-2")["master_replid"] == info(topo, "primary")["master_replid"]


def test_a_replica_waiting_for_its_snapshot_does_not_time_out() -> None:
    # repl-timeout (3 s) shorter than repl-diskless-sync-delay (5 s): the primary's
    # keepalive newlines hold the handshake open, so one full sync is enough.
    t = Topology(["primary", "replica"], seed=4, config={"repl-timeout": "3"})
    try:
        t.replicaof("replica", "primary")
        t.advance(6)
        assert info(t, "replica")["master_link_status"] == "up"
        assert sum(1 for e in t.events if e.what == "full-sync" and e.node == "primary") == 1
    finally:
        t.close()


_STREAM_SCRIPT = [
    ("SET", "a", "1"),
    ("INCR", "a"),
    ("SELECT", "3"),
    ("RPUSH", "l", "x", "y"),
    ("BLPOP", "l", "0"),
    ("MULTI",), ("SET", "m", "1"), ("HSET", "h", "f", "v"), ("EXEC",),
    ("EVAL", "redis.call('set', KEYS[1], 'x'); return redis.call('incr', 'n')", "1", "k"),
    ("SELECT", "0"),
    ("XADD", "s", "5-1", "f", "v"),
    ("DEL", "a", "missing"),
    ("GET", "nothing"),
    ("SET", "a", "2"),
    ("FLUSHDB",),
]


def _real_stream(script: list[tuple[str, ...]]) -> bytes:
    """The bytes a real primary streams to a replica for ``script`` (after the snapshot)."""
    import socket
    import time

    from tests.support.real_redis import RedisServer

    real = RedisServer(["--repl-diskless-sync", "no", "--repl-ping-replica-period", "60"])
    try:
        # Act as a replica: handshake, PSYNC, skip the snapshot, then read the stream.
        sock = socket.create_connection(("127.0.0.1", real.port), timeout=10)
        sock.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n9999\r\n")
        # PSYNC is refused while a reply is still pending: read the +OK first.
        buf = b""
        while b"\r\n" not in buf:
            buf += sock.recv(64)
        sock.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
        buf = b""
        deadline = time.monotonic() + 20
        while True:
            buf += sock.recv(1 << 16)
            head = buf.find(b"+FULLRESYNC")
            line_end = buf.find(b"\r\n", head) if head >= 0 else -1
            if line_end >= 0:
                # The primary sends newlines while the snapshot is being made.
                dollar = line_end + 2
                while dollar < len(buf) and buf[dollar:dollar + 1] == b"\n":
                    dollar += 1
                end = buf.find(b"\r\n", dollar)
                if buf[dollar:dollar + 1] == b"$" and end >= 0:
                    size = int(buf[dollar + 1:end])
                    if len(buf) >= end + 2 + size:
                        rest = buf[end + 2 + size:]
                        break
            assert time.monotonic() < deadline, "no snapshot from the real primary"
        c = real.client()
        for cmd in script:
            c.execute(*cmd)
        c.execute("PING")
        c.close()
        # Everything the script wrote is on its way once PING has been answered.
        sock.settimeout(0.5)
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except socket.timeout:
                break
            if not chunk:
                break
            rest += chunk
        sock.close()
        return rest
    finally:
        real.stop()


def _our_stream(script: list[tuple[str, ...]]) -> bytes:
    t = Topology.replicas(1, seed=6)
    try:
        repl = t.node("primary").engine.replication
        before = repl.offset
        s = t.session("primary")
        for cmd in script:
            s.execute(*cmd)
        return bytes(repl.backlog.buf)[before - repl.backlog.first + 1:]
    finally:
        t.close()


@pytest.mark.real
def test_the_stream_is_byte_for_byte_what_a_real_primary_sends() -> None:
    theirs = _real_stream(_STREAM_SCRIPT)
    assert theirs.split(b"\r\n") == _our_stream(_STREAM_SCRIPT).split(b"\r\n")


@pytest.mark.real
def test_set_get_is_propagated_without_get() -> None:
    script = [("SET", "a", "1"), ("SET", "a", "2", "GET"), ("SET", "get", "get", "get", "KEEPTTL",
                                                            "GET")]
    assert _real_stream(script) == _our_stream(script)
