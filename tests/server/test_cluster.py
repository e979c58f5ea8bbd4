"""A served cluster: redis-py's RedisCluster and ``redis-cli -c`` against N primaries in one
process, including a slot moved by hand and the MOVED that follows."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import sys
import threading
from typing import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from redislab.engine import Engine
from redislab.engine.cluster import key_hash_slot
from redislab.server.cluster import ClusterServer


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive loopback ports that are free right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + n > 65535:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no run of free ports")


class RunningCluster:
    def __init__(self, n: int) -> None:
        self.port = free_ports(n)
        self.engines = [Engine(config={"cluster-enabled": "yes"}) for _ in range(n)]
        self.server = ClusterServer(self.engines, "127.0.0.1", self.port)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("cluster did not start")

    def node(self, i: int) -> redis.Redis:
        return redis.Redis(port=self.port + i)

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop)
        fut.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def served_cluster() -> Iterator[RunningCluster]:
    c = RunningCluster(3)
    try:
        yield c
    finally:
        c.stop()


def test_redis_py_cluster_client(served_cluster: RunningCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=served_cluster.port)
    try:
        for i in range(60):
            assert rc.set(f"key:{i}", i) is True
        assert [rc.get(f"key:{i}") for i in range(60)] == [str(i).encode() for i in range(60)]
        # The keys really are spread over the three engines, each holding its own slots.
        counts = [len(e.dbs[0].data) for e in served_cluster.engines]
        assert sum(counts) == 60 and all(counts)
        for e in served_cluster.engines:
            st = e.extensions["cluster"]
            assert all(st.slots[key_hash_slot(k)] is st.myself for k in e.dbs[0].data)
        pipe = rc.pipeline()
        for i in range(20):
            pipe.incr(f"counter:{i}")
        pipe.get("key:7")
        assert pipe.execute() == [1] * 20 + [b"7"]
        assert rc.mget_nonatomic(["key:1", "key:2", "key:3"]) == [b"1", b"2", b"3"]
        info = rc.cluster_info()
        assert info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == 3
    finally:
        rc.close()


def test_moved_after_a_reshard(served_cluster: RunningCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=served_cluster.port)
    try:
        rc.set("foo", "bar")
        slot = key_hash_slot(b"foo")
        src = next(i for i, e in enumerate(served_cluster.engines) if b"foo" in e.dbs[0].data)
        dst = (src + 1) % 3
        a, b = served_cluster.node(src), served_cluster.node(dst)
        src_id = a.execute_command("CLUSTER", "MYID")
        dst_id = b.execute_command("CLUSTER", "MYID")
        # What redis-cli --cluster reshard does for one slot.
        b.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        a.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        payload = a.dump("foo")
        b.execute_command("RESTORE-ASKING", "foo", 0, payload)
        a.delete("foo")
        # redis-py names the error by its class and keeps the rest of the text.
        with pytest.raises(redis.exceptions.AskError) as ask:
            a.get("foo")
        assert str(ask.value) == f"{slot} 127.0.0.1:{served_cluster.port + dst}"
        for i in (dst, src, 3 - src - dst):
            served_cluster.node(i).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        with pytest.raises(redis.exceptions.MovedError) as moved:
            a.get("foo")
        assert str(moved.value) == f"{slot} 127.0.0.1:{served_cluster.port + dst}"
        # The cluster client's map is stale: it is told MOVED, follows it and learns.
        assert rc.get("foo") == b"bar"
        assert rc.get("foo") == b"bar"
    finally:
        rc.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_follows_redirects(served_cluster: RunningCluster) -> None:
    def cli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-c", "-p", str(served_cluster.port), *args],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    assert cli("SET", "foo", "bar") == "OK"
    assert cli("GET", "foo") == "bar"
    assert served_cluster.engines[2].dbs[0].data.get(b"foo") is not None   # slot 12182
    out = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{served_cluster.port}"],
                         capture_output=True, text=True, timeout=20).stdout
    assert "All nodes agree about slots configuration." in out
    assert "All 16384 slots covered." in out


def test_serve_cluster_cli() -> None:
    bad = subprocess.run([sys.executable, "-m", "redislab", "serve", "--cluster", "3",
                          "--port", "0"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1
    assert "needs 3 consecutive ports" in bad.stderr
    port = free_ports(2)
    proc = subprocess.Popen([sys.executable, "-m", "redislab", "serve", "--cluster", "2",
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(rf"cluster of 2 primaries on 127\.0\.0\.1:{port}-{port + 1}", line), line
        r = redis.Redis(port=port + 1)
        assert r.execute_command("CLUSTER", "SLOTS")[0][:2] == [0, 8191]
        r.shutdown(nosave=True)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_reshard_moves_keys_with_migrate(served_cluster: RunningCluster) -> None:
    rc = RedisCluster(host="127.0.0.1", port=served_cluster.port)
    try:
        for i in range(300):
            rc.set(f"key:{i}", i)
        ids = [served_cluster.node(i).execute_command("CLUSTER", "MYID").decode()
               for i in range(3)]
        out = subprocess.run(
            ["redis-cli", "--cluster", "reshard", f"127.0.0.1:{served_cluster.port}",
             "--cluster-from", ids[0], "--cluster-to", ids[1], "--cluster-slots", "500",
             "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr
        first = served_cluster.engines[0].extensions["cluster"]
        assert first.slots[0] is first.nodes[ids[1]] and first.slots[499] is first.nodes[ids[1]]
        assert first.slots[500] is first.myself
        # Every key is where its slot now lives, and the client still finds all of them.
        for e in served_cluster.engines:
            st = e.extensions["cluster"]
            assert all(st.slots[key_hash_slot(k)] is st.myself for k in e.dbs[0].data)
        assert [rc.get(f"key:{i}") for i in range(300)] == [str(i).encode() for i in range(300)]
    finally:
        rc.close()
