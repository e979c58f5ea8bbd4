"""Cluster mode in the engine: hash slots, the CLUSTER commands and the redirects, in-process.

Nodes here are engines on one manual clock joined with ``form_cluster``; the bus is a list of
messages delivered by hand, so every step is explicit.
"""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.cluster import (
    BusMessage, ClusterState, crc16, create_slot_split, form_cluster, key_hash_slot,
)
from redislab.protocol.reply import ErrorReply, Verbatim


class Bus:
    """Engines in cluster mode with messages delivered when the test says so."""

    def __init__(self, n: int, replicas: dict[int, int] | None = None,
                 config: dict[str, str] | None = None) -> None:
        self.clock = ManualClock()
        self.engines = [Engine(self.clock, config={"cluster-enabled": "yes",
                                                   "port": str(7000 + i), **(config or {})})
                        for i in range(n)]
        self.states: list[ClusterState] = [e.extensions["cluster"] for e in self.engines]
        self.queue: list[tuple[tuple[str, int], BusMessage]] = []
        self.down: set[int] = set()
        for i, st in enumerate(self.states):
            st.set_address("127.0.0.1", 7000 + i)
            st.send = lambda address, msg: self.queue.append((address, msg))
        masters = n - len(replicas or {})
        form_cluster(self.states, masters, replicas)
        self.sessions = [e.session() for e in self.engines]

    def run(self, i: int, *args: Any) -> Any:
        return self.sessions[i].execute(*args)

    def deliver(self) -> int:
        n = 0
        while self.queue:
            (host, port), msg = self.queue.pop(0)
            target = port - 7000
            sender = next(i for i, st in enumerate(self.states) if st.myself.id == msg.sender)
            if target in self.down or sender in self.down:
                continue
            self.states[target].receive(msg)
            n += 1
        return n

    def tick(self, seconds: float) -> None:
        """Move time in 100 ms steps: each live node's cron, then deliver its messages."""
        for _ in range(int(round(seconds * 10))):
            self.clock.advance(ms=100)
            for i, e in enumerate(self.engines):
                if i not in self.down:
                    e.cron()
            self.deliver()


def slot_key(slot: int, prefix: str = "k") -> bytes:
    """A key that hashes to ``slot``."""
    i = 0
    while True:
        key = f"{prefix}{i}".encode()
        if key_hash_slot(key) == slot:
            return key
        i += 1


# ---------------------------------------------------------------------------------------------
# Hash slots

def test_crc16_reference_value() -> None:
    # The check value of CRC-16/XMODEM, and the slots the Redis documentation gives.
    assert crc16(b"123456789") == 0x31C3
    assert key_hash_slot(b"foo") == 12182
    assert key_hash_slot(b"{user1000}.following") == key_hash_slot(b"{user1000}.followers")


@pytest.mark.parametrize("key,hashed", [
    (b"{user}:1", b"user"),
    (b"a{b}c{d}", b"b"),         # the first tag only
    (b"{}x", b"{}x"),            # an empty tag: the whole key
    (b"x{}{y}", b"x{}{y}"),      # first { then first } after it: empty, whole key
    (b"{a", b"{a"),              # no closing brace
    (b"a}b{c}", b"c"),           # a } before the { does not count
    (b"{{a}}", b"{a"),           # first { ... first }
    (b"", b""),
])
def test_hash_tags(key: bytes, hashed: bytes) -> None:
    assert key_hash_slot(key) == crc16(hashed) % 16384


def test_create_split_matches_redis_cli() -> None:
    assert create_slot_split(3) == [(0, 5460), (5461, 10922), (10923, 16383)]
    split = create_slot_split(5)
    assert split[0][0] == 0 and split[-1][1] == 16383
    assert all(b + 1 == c for (_, b), (c, _) in zip(split, split[1:]))


# ---------------------------------------------------------------------------------------------
# Disabled

def test_disabled_keeps_hot_path_and_refuses_cluster_commands(run: Any, engine: Engine) -> None:
    assert engine.gate is False
    assert "cluster" not in engine.extensions
    for line in ("CLUSTER INFO", "CLUSTER KEYSLOT a", "CLUSTER HELP", "ASKING", "READONLY",
                 "READWRITE", "CLUSTER SETSLOT 1 STABLE"):
        assert run(line) == ErrorReply("ERR This instance has cluster support disabled")
    assert run("CLUSTER KEYSLOT") == ErrorReply(
        "ERR wrong number of arguments for 'cluster|keyslot' command")
    assert run("CLUSTER NOPE") == ErrorReply("ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.")


def test_enabled_takes_careful_path() -> None:
    e = Engine(ManualClock(), config={"cluster-enabled": "yes"})
    assert e.gate is True
    s = e.session()
    assert s.execute("INFO", "cluster") == b"# Cluster\r\ncluster_enabled:1\r\n"


# ---------------------------------------------------------------------------------------------
# A single node

@pytest.fixture
def node() -> Any:
    clock = ManualClock()
    e = Engine(clock, config={"cluster-enabled": "yes", "port": "7000"})
    return e, e.session()


def test_fresh_node(node: Any) -> None:
    e, s = node
    info = s.execute("CLUSTER", "INFO")
    assert isinstance(info, Verbatim)
    assert info.startswith(b"cluster_state:fail\r\ncluster_slots_assigned:0\r\n")
    assert b"cluster_size:1\r\n" in info
    assert s.execute("SET", "a", "1") == ErrorReply("CLUSTERDOWN Hash slot not served")
    assert s.execute("PING") == "PONG"      # keyless commands are served
    myid = s.execute("CLUSTER", "MYID")
    assert len(myid) == 40 and int(myid, 16) >= 0
    assert s.execute("CLUSTER", "NODES") == myid + b" :7000@17000 myself,master - 0 0 0 " \
                                                   b"connected\n"


def test_writable_delay_then_ok(node: Any) -> None:
    e, s = node
    assert s.execute("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == "OK"
    # A master waits two seconds from start before declaring the cluster ok.
    assert s.execute("SET", "a", "1") == ErrorReply("CLUSTERDOWN The cluster is down")
    e.advance(2.1)
    assert s.execute("SET", "a", "1") == "OK"
    assert s.execute("CLUSTER", "INFO").startswith(b"cluster_state:ok\r\n")
    assert s.execute("CLUSTER", "COUNTKEYSINSLOT", key_hash_slot(b"a")) == 1
    s.execute("SET", "{a}2", "x")
    assert s.execute("CLUSTER", "GETKEYSINSLOT", key_hash_slot(b"a"), 10) == [b"{a}2", b"a"]
    assert s.execute("CLUSTER", "GETKEYSINSLOT", key_hash_slot(b"a"), 1) == [b"{a}2"]


def test_crossslot_everywhere(node: Any) -> None:
    e, s = node
    s.execute("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    e.advance(2.1)
    cross = ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")
    assert s.execute("MSET", "a", "1", "b", "2") == cross
    assert s.execute("MSET", "{t}a", "1", "{t}b", "2") == "OK"
    assert s.execute("EVAL", "return 1", 2, "a", "b") == cross
    assert s.execute("EVAL", "return 1", 2, "{t}a", "{t}b") == 1
    assert s.execute("MULTI") == "OK"
    assert s.execute("SET", "a", "1") == "QUEUED"
    assert s.execute("SET", "b", "1") == "QUEUED"
    # The transaction is dropped and the error passed on as it is, not as EXECABORT.
    assert s.execute("EXEC") == cross
    assert s.execute("EXEC") == ErrorReply("ERR EXEC without MULTI")
    assert s.execute("SELECT", "1") == ErrorReply("ERR SELECT is not allowed in cluster mode")


def test_slot_argument_errors(node: Any) -> None:
    e, s = node
    invalid = ErrorReply("ERR Invalid or out of range slot")
    assert s.execute("CLUSTER", "ADDSLOTS", "16384") == invalid
    assert s.execute("CLUSTER", "ADDSLOTS", "-1") == invalid
    assert s.execute("CLUSTER", "ADDSLOTS", "x") == invalid
    assert s.execute("CLUSTER", "ADDSLOTS", "5", "5") == ErrorReply(
        "ERR Slot 5 specified multiple times")
    assert s.execute("CLUSTER", "DELSLOTS", "5") == ErrorReply("ERR Slot 5 is already unassigned")
    assert s.execute("CLUSTER", "ADDSLOTSRANGE", "9", "3") == ErrorReply(
        "ERR start slot number 9 is greater than end slot number 3")
    assert s.execute("CLUSTER", "ADDSLOTSRANGE", "1", "2", "3") == ErrorReply(
        "ERR wrong number of arguments for 'cluster|addslotsrange' command")
    assert s.execute("CLUSTER", "COUNTKEYSINSLOT", "16384") == ErrorReply("ERR Invalid slot")
    assert s.execute("CLUSTER", "GETKEYSINSLOT", "1", "-1") == ErrorReply(
        "ERR Invalid slot or number of keys")
    assert s.execute("CLUSTER", "SETSLOT", "1", "FOO") == ErrorReply(
        "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
    # Nothing half-done: a failed ADDSLOTS assigned no slot.
    assert s.execute("CLUSTER", "INFO").split(b"\r\n")[1] == b"cluster_slots_assigned:0"


def test_epoch_commands(node: Any) -> None:
    e, s = node
    assert s.execute("CLUSTER", "SET-CONFIG-EPOCH", "-1") == ErrorReply(
        "ERR Invalid config epoch specified: -1")
    assert s.execute("CLUSTER", "SET-CONFIG-EPOCH", "5") == "OK"
    assert s.execute("CLUSTER", "SET-CONFIG-EPOCH", "6") == ErrorReply(
        "ERR Node config epoch is already non-zero")
    assert s.execute("CLUSTER", "BUMPEPOCH") == "STILL 5"
    info = s.execute("CLUSTER", "INFO")
    assert b"cluster_current_epoch:5\r\ncluster_my_epoch:5\r\n" in info


def test_flushslots_and_reset(node: Any) -> None:
    e, s = node
    s.execute("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    e.advance(2.1)
    s.execute("SET", "a", "1")
    assert s.execute("CLUSTER", "FLUSHSLOTS") == ErrorReply(
        "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    assert s.execute("CLUSTER", "RESET") == ErrorReply(
        "ERR CLUSTER RESET can't be called with master nodes containing keys")
    s.execute("DEL", "a")
    old = s.execute("CLUSTER", "MYID")
    assert s.execute("CLUSTER", "RESET", "SOFT") == "OK"
    assert s.execute("CLUSTER", "MYID") == old
    assert s.execute("CLUSTER", "RESET", "HARD") == "OK"
    assert s.execute("CLUSTER", "MYID") != old
    assert s.execute("CLUSTER", "RESET", "X") == ErrorReply("ERR syntax error")


# ---------------------------------------------------------------------------------------------
# Three primaries

def test_moved_to_the_owner() -> None:
    bus = Bus(3)
    slot = key_hash_slot(b"foo")
    assert slot == 12182
    assert bus.run(0, "SET", "foo", "bar") == ErrorReply("MOVED 12182 127.0.0.1:7002")
    assert bus.run(2, "SET", "foo", "bar") == "OK"
    assert bus.run(1, "GET", "foo") == ErrorReply("MOVED 12182 127.0.0.1:7002")
    # Keys in different slots are refused before any redirect.
    assert bus.run(0, "MGET", "foo", "a") == ErrorReply(
        "CROSSSLOT Keys in request don't hash to the same slot")
    # A transaction's queued command that belongs elsewhere poisons it.
    assert bus.run(0, "MULTI") == "OK"
    assert bus.run(0, "GET", "foo") == ErrorReply("MOVED 12182 127.0.0.1:7002")
    assert bus.run(0, "EXEC") == ErrorReply(
        "EXECABORT Transaction discarded because of previous errors.")


def test_views_agree() -> None:
    bus = Bus(3)
    slots = bus.run(0, "CLUSTER", "SLOTS")
    assert [(e[0], e[1], e[2][1]) for e in slots] == [
        (0, 5460, 7000), (5461, 10922, 7001), (10923, 16383, 7002)]
    assert slots[0][2][2] == bus.states[0].myself.id.encode()
    nodes = bus.run(1, "CLUSTER", "NODES").decode().splitlines()
    assert len(nodes) == 3
    mine = [line for line in nodes if "myself" in line][0].split()
    assert mine[1:4] == ["127.0.0.1:7001@17001", "myself,master", "-"]
    assert mine[6:] == ["2", "connected", "5461-10922"]
    shards = bus.run(2, "CLUSTER", "SHARDS")
    assert sorted(dict(s)[b"slots"] for s in shards) == [[0, 5460], [5461, 10922], [10923, 16383]]
    info = bus.run(0, "CLUSTER", "INFO")
    assert b"cluster_state:ok" in info and b"cluster_known_nodes:3" in info
    assert b"cluster_size:3" in info and b"cluster_current_epoch:3" in info


def test_ask_during_migration_then_moved() -> None:
    bus = Bus(3)
    slot = 12182
    bus.run(2, "SET", "foo", "bar")
    bus.run(2, "SET", "{foo}2", "baz")
    a_id, c_id = bus.states[0].myself.id, bus.states[2].myself.id
    assert bus.run(0, "CLUSTER", "SETSLOT", slot, "IMPORTING", c_id) == "OK"
    assert bus.run(2, "CLUSTER", "SETSLOT", slot, "MIGRATING", a_id) == "OK"
    assert f"[{slot}->-{a_id}]".encode() in bus.run(2, "CLUSTER", "NODES")
    # The key is still on the source: served there.
    assert bus.run(2, "GET", "foo") == b"bar"
    # Move one key as MIGRATE does.
    payload = bus.run(2, "DUMP", "foo")
    assert bus.run(0, "RESTORE-ASKING", "foo", 0, payload) == "OK"
    bus.run(2, "DEL", "foo")
    assert bus.run(2, "GET", "foo") == ErrorReply(f"ASK {slot} 127.0.0.1:7000")
    # Without ASKING the target sends the client back to the owner.
    assert bus.run(0, "GET", "foo") == ErrorReply(f"MOVED {slot} 127.0.0.1:7002")
    assert bus.run(0, "ASKING") == "OK"
    assert bus.run(0, "GET", "foo") == b"bar"
    # ASKING covers one command.
    assert bus.run(0, "GET", "foo") == ErrorReply(f"MOVED {slot} 127.0.0.1:7002")
    # Two keys, one moved: neither side can serve them together.
    assert bus.run(2, "MGET", "foo", "{foo}2") == ErrorReply(
        "TRYAGAIN Multiple keys request during rehashing of slot")
    assert bus.run(2, "CLUSTER", "SETSLOT", slot, "NODE", a_id) == ErrorReply(
        f"ERR Can't assign hashslot {slot} to a different node while I still hold keys for "
        "this hash slot.")
    payload = bus.run(2, "DUMP", "{foo}2")
    bus.run(0, "RESTORE-ASKING", "{foo}2", 0, payload)
    bus.run(2, "DEL", "{foo}2")
    assert bus.run(0, "CLUSTER", "SETSLOT", slot, "NODE", a_id) == "OK"
    assert bus.run(2, "CLUSTER", "SETSLOT", slot, "NODE", a_id) == "OK"
    # Taking an imported slot gives the importer a new config epoch, above every other.
    assert bus.states[0].myself.config_epoch == 4
    bus.deliver()
    assert bus.run(1, "GET", "foo") == ErrorReply(f"MOVED {slot} 127.0.0.1:7000")
    assert bus.run(0, "MGET", "foo", "{foo}2") == [b"bar", b"baz"]


def test_setslot_checks() -> None:
    bus = Bus(3)
    b_id = bus.states[1].myself.id
    assert bus.run(0, "CLUSTER", "SETSLOT", 0, "IMPORTING", b_id) == ErrorReply(
        "ERR I'm already the owner of hash slot 0")
    assert bus.run(0, "CLUSTER", "SETSLOT", 6000, "MIGRATING", b_id) == ErrorReply(
        "ERR I'm not the owner of hash slot 6000")
    assert bus.run(0, "CLUSTER", "SETSLOT", 0, "MIGRATING", "x" * 40) == ErrorReply(
        "ERR I don't know about node " + "x" * 40)
    assert bus.run(0, "CLUSTER", "SETSLOT", 0, "NODE", "nope") == ErrorReply(
        "ERR Unknown node nope")
    assert bus.run(0, "CLUSTER", "FORGET", bus.states[0].myself.id) == ErrorReply(
        "ERR I tried hard but I can't forget myself...")
    assert bus.run(0, "CLUSTER", "REPLICATE", b_id) == ErrorReply(
        "ERR To set a master the node must be empty and without assigned slots.")
    assert bus.run(0, "CLUSTER", "FAILOVER") == ErrorReply(
        "ERR You should send CLUSTER FAILOVER to a replica")
    assert bus.run(0, "CLUSTER", "FAILOVER", "NOW") == ErrorReply("ERR syntax error")
    assert bus.run(0, "CLUSTER", "MEET", "127.0.0.1", "x") == ErrorReply(
        "ERR Invalid TCP base port specified: x")
    assert bus.run(0, "CLUSTER", "MEET", "nohost", "7000") == ErrorReply(
        "ERR Invalid node address specified: nohost:7000")
    assert bus.run(0, "CLUSTER", "COUNT-FAILURE-REPORTS", b_id) == 0


def test_replica_reads_with_readonly() -> None:
    bus = Bus(3, replicas={2: 0})
    key = slot_key(100)
    assert bus.run(0, "SET", key, "v") == "OK"
    # No replication stream in this bus: put the value on the replica as its primary would.
    bus.engines[2].dbs[0].data[key] = bus.engines[0].dbs[0].data[key]
    assert bus.run(2, "GET", key) == ErrorReply("MOVED 100 127.0.0.1:7000")
    assert bus.run(2, "READONLY") == "OK"
    assert bus.run(2, "GET", key) == b"v"
    assert bus.run(2, "SET", key, "w") == ErrorReply("MOVED 100 127.0.0.1:7000")
    assert bus.run(2, "READWRITE") == "OK"
    assert bus.run(2, "GET", key) == ErrorReply("MOVED 100 127.0.0.1:7000")
    replicas = bus.run(0, "CLUSTER", "REPLICAS", bus.states[0].myself.id)
    assert len(replicas) == 1 and b" slave " + bus.states[0].myself.id.encode() in replicas[0]
    assert bus.run(0, "CLUSTER", "REPLICAS", bus.states[2].myself.id) == ErrorReply(
        "ERR The specified node is not a master")


def test_failure_detection_and_failover() -> None:
    bus = Bus(4, replicas={3: 2}, config={"cluster-node-timeout": "2000"})
    bus.tick(1)
    key = slot_key(15000)
    assert bus.run(2, "SET", key, "v") == "OK"
    bus.down.add(2)
    bus.tick(1.5)
    # Not yet past the node timeout: still believed up, clients are sent to it.
    assert bus.run(0, "GET", key) == ErrorReply("MOVED 15000 127.0.0.1:7002")
    dead = bus.states[0].nodes[bus.states[2].myself.id]
    while not dead.pfail and not dead.fail:
        bus.tick(0.1)
    assert bus.clock.time_ms() - dead.ping_sent > 2000
    while not dead.fail:
        bus.tick(0.1)
    assert b"cluster_state:fail" in bus.run(0, "CLUSTER", "INFO")
    assert bus.run(0, "GET", key) == ErrorReply("CLUSTERDOWN The cluster is down")
    assert bus.run(0, "PING") == "PONG"
    old_epoch = bus.states[0].current_epoch
    bus.tick(3)
    replica = bus.states[3]
    assert replica.myself.master and 15000 in replica.myself.slots
    assert replica.myself.config_epoch == old_epoch + 1
    assert b"cluster_state:ok" in bus.run(0, "CLUSTER", "INFO")
    assert bus.run(0, "GET", key) == ErrorReply("MOVED 15000 127.0.0.1:7003")
    line = [ln for ln in bus.run(0, "CLUSTER", "NODES").decode().splitlines()
            if ln.startswith(bus.states[2].myself.id)][0]
    assert line.split()[2] == "master,fail"


def test_meet_and_gossip_join_nodes() -> None:
    clock = ManualClock()
    engines = [Engine(clock, config={"cluster-enabled": "yes", "port": str(7000 + i)})
               for i in range(3)]
    states = [e.extensions["cluster"] for e in engines]
    queue: list[tuple[tuple[str, int], BusMessage]] = []
    for i, st in enumerate(states):
        st.set_address("127.0.0.1", 7000 + i)
        st.send = lambda address, msg: queue.append((address, msg))
    sessions = [e.session() for e in engines]
    assert sessions[0].execute("CLUSTER", "MEET", "127.0.0.1", "7001") == "OK"
    assert sessions[0].execute("CLUSTER", "MEET", "127.0.0.1", "7002") == "OK"
    assert b"handshake" in sessions[0].execute("CLUSTER", "NODES")
    for _ in range(30):
        clock.advance(ms=100)
        for e in engines:
            e.cron()
        while queue:
            (_, port), msg = queue.pop(0)
            states[port - 7000].receive(msg)
    for s in sessions:
        nodes = s.execute("CLUSTER", "NODES").decode()
        assert len(nodes.splitlines()) == 3 and "handshake" not in nodes
    assert sessions[1].execute("CLUSTER", "FORGET", states[2].myself.id) == "OK"
    assert len(sessions[1].execute("CLUSTER", "NODES").splitlines()) == 2


def test_saveconfig_writes_nodes_conf(tmp_path: Any) -> None:
    e = Engine(ManualClock(), config={"cluster-enabled": "yes", "port": "7000",
                                      "dir": str(tmp_path)})
    s = e.session()
    s.execute("CLUSTER", "ADDSLOTSRANGE", "0", "99")
    s.execute("CLUSTER", "SET-CONFIG-EPOCH", "3")
    assert s.execute("CLUSTER", "SAVECONFIG") == "OK"
    text = (tmp_path / "nodes.conf").read_text()
    myid = s.execute("CLUSTER", "MYID").decode()
    assert text == (f"{myid} :7000@17000 myself,master - 0 0 3 connected 0-99\n"
                    "vars currentEpoch 3 lastVoteEpoch 0\n")
