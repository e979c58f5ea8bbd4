"""Files written by redislab load in redis-server 7.0, and files it writes load here.

Every key is compared by reading it (type, encoding after the load, expire time, content;
streams through XINFO STREAM FULL), never by comparing DUMP payloads, for RDB snapshots and
for multi-part AOFs (with and without an RDB preamble), in both directions. Real Redis's own
checkers (redis-check-rdb, redis-check-aof) must accept our files too.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from typing import Any, Callable

import pytest

from redislab.engine import Engine, ManualClock

from ...support.real_redis import RedisServer, normalize, redis_server_binary, wire

pytestmark = pytest.mark.real

FUNCTION_CODE = ("#!lua name=lib1\n"
                 "redis.register_function('f1', function(keys, args) return args[1] end)")


def _script(seed: int = 1) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    cmds: list[tuple[Any, ...]] = [
        ("SET", "s:str", "hello"), ("SET", "s:int", "-12345"), ("SET", "s:big", "9" * 19),
        ("SET", "s:long", "abc" * 100), ("SET", "s:bin", bytes(range(256))),
        ("SET", "s:ttl", "v", "PX", "36000000"), ("APPEND", "s:app", "x"), ("APPEND", "s:app", "y"),
        ("SETBIT", "s:bits", "1000", "1"), ("PFADD", "s:hll", *["e%d" % i for i in range(50)]),
        ("SADD", "set:int", "1", "2", "300000", "-7"), ("SADD", "set:str", "a", "b", "c"),
        ("SADD", "set:big", *[str(i) for i in range(600)]),
        ("HSET", "h:small", "f", "v", "n", "12"), ("HSET", "h:long", "f", "x" * 100),
        ("HSET", "h:many", *[x for i in range(600) for x in ("k%d" % i, "v%d" % i)]),
        ("ZADD", "z:small", "1", "a", "2.5", "b", "-inf", "c"),
        ("ZADD", "z:big", *[x for i in range(200) for x in (str(i / 3), "m%d" % i)]),
        ("ZADD", "z:longmember", "1", "m" * 80), ("EXPIRE", "z:big", "5000"),
        ("RPUSH", "l:small", "a", "b", "1"),
        ("RPUSH", "l:big", *["item%d" % rng.randint(0, 10**6) for _ in range(3000)]),
        ("LPUSH", "l:left", *["v" * rng.randint(1, 200) for _ in range(300)]),
        ("SELECT", "1"), ("SET", "db1:key", "one"), ("HSET", "db1:h", "a", "b"),
        ("SELECT", "15"), ("SET", "db15:key", "fifteen"), ("SELECT", "0"),
        ("FUNCTION", "LOAD", FUNCTION_CODE),
    ]
    for i in range(260):
        cmds.append(("XADD", "x:big", "*", "field", "value%d" % i, "n", str(i)))
    cmds += [
        ("XADD", "x:small", "1-1", "a", "1"), ("XADD", "x:small", "1-2", "b", "2"),
        ("XADD", "x:small", "2-0", "a", "3"), ("XDEL", "x:small", "1-2"),
        ("XGROUP", "CREATE", "x:small", "g1", "0"), ("XGROUP", "CREATE", "x:small", "g2", "$"),
        ("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "x:small", ">"),
        ("XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "x:small", ">"),
        ("XGROUP", "CREATECONSUMER", "x:small", "g2", "idle"),
        ("XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM"),
        ("XTRIM", "x:big", "MAXLEN", "150"),
    ]
    return cmds


Executor = Callable[..., Any]


def _ours(session: Any) -> Executor:
    return lambda *a: normalize(wire(session.execute(*a)))


def _theirs(client: Any) -> Executor:
    return lambda *a: normalize(client.execute(*a))


def _without_seen_time(value: Any) -> Any:
    """XINFO output with consumers' seen-time blanked: an AOF replay sets it to the time of
    the replay, in Redis as here."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list):
        items = [_without_seen_time(v) for v in value[1]]
        for i in range(len(items) - 1):
            if items[i] == b"seen-time":
                items[i + 1] = 0
        return (value[0], items)
    return value


def read_everything(ex: Executor, replayed: bool = False) -> dict[Any, Any]:
    """Every key of every database, read back in a form both servers must agree on."""
    out: dict[Any, Any] = {}
    for db in range(16):
        ex("SELECT", db)
        keys = sorted(ex("KEYS", "*")[1])
        for key in keys:
            kind = ex("TYPE", key)[1]
            row: dict[str, Any] = {"type": kind, "encoding": ex("OBJECT", "ENCODING", key),
                                   "expire": ex("PEXPIRETIME", key)}
            if kind == "string":
                row["value"] = ex("GET", key)
            elif kind == "list":
                row["value"] = ex("LRANGE", key, 0, -1)
            elif kind == "set":
                row["value"] = sorted(ex("SMEMBERS", key)[1])
            elif kind == "zset":
                row["value"] = ex("ZRANGE", key, 0, -1, "WITHSCORES")
            elif kind == "hash":
                flat = ex("HGETALL", key)[1]
                row["value"] = sorted(zip(flat[::2], flat[1::2]))
            elif kind == "stream":
                row["value"] = ex("XINFO", "STREAM", key, "FULL")
                if replayed:
                    row["value"] = _without_seen_time(row["value"])
            out[(db, key)] = row
    ex("SELECT", 0)
    out["functions"] = ex("FUNCTION", "LIST", "WITHCODE")
    return out


def _engine_at(path: str, clock: ManualClock | None = None, **config: str) -> Engine:
    # A minute in the past: times recorded here (stream deliveries) must not lie in the
    # future of the real server that loads them, or it would clamp them to its own now.
    clock = clock or ManualClock(int(time.time() * 1000) - 60_000)
    return Engine.from_dir(path, clock=clock, config={"save": "", **config})


def _fill(session: Any) -> None:
    for cmd in _script():
        reply = session.execute(*cmd)
        assert not getattr(reply, "message", None), (cmd, reply)


@pytest.fixture
def folder(tmp_path: Any) -> str:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")
    return str(tmp_path)


def _server(folder: str, *extra: str) -> RedisServer:
    return RedisServer(extra=["--dir", folder, *extra])


def _stop(server: RedisServer, client: Any = None) -> None:
    if client is not None:
        client.close()
    server.stop()


# ------------------------------------------------------------------------------------------
# RDB


def test_our_rdb_loads_in_redis(folder):
    eng = _engine_at(folder)
    s = eng.session()
    _fill(s)
    assert s.execute("SAVE") == "OK"
    out = subprocess.run(["redis-check-rdb", os.path.join(folder, "dump.rdb")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "RDB looks OK" in out.stdout, out.stdout
    server = _server(folder, "--dbfilename", "dump.rdb")
    client = server.client()
    try:
        theirs = read_everything(_theirs(client))
    finally:
        _stop(server, client)
    again = _engine_at(folder)
    ours = read_everything(_ours(again.session()))
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key


def test_redis_rdb_loads_here(folder):
    server = _server(folder, "--dbfilename", "dump.rdb")
    client = server.client()
    try:
        for cmd in _script(2):
            client.execute(*cmd)
        assert client.execute("SAVE") == "OK"
        client.execute("DEBUG", "RELOAD")  # so both sides hold freshly loaded objects
        theirs = read_everything(_theirs(client))
    finally:
        _stop(server, client)
    eng = _engine_at(folder)
    ours = read_everything(_ours(eng.session()))
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("policy,option,value,read", [
    ("allkeys-lfu", "FREQ", "77", "FREQ"),
    ("allkeys-lru", "IDLETIME", "5000", "IDLETIME"),
])
def test_lru_and_lfu_data_survive(folder, policy, option, value, read):
    eng = _engine_at(folder, **{"maxmemory-policy": policy})
    s = eng.session()
    s.execute("SET", "k", "v")
    payload = s.execute("DUMP", "k")
    s.execute("RESTORE", "r", "0", payload, option, value)
    s.execute("SAVE")
    server = _server(folder, "--maxmemory-policy", policy)
    client = server.client()
    try:
        got = client.execute("OBJECT", read, "r")
    finally:
        _stop(server, client)
    assert abs(got - int(value)) <= 2


# ------------------------------------------------------------------------------------------
# AOF


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_our_aof_loads_in_redis(folder, preamble):
    eng = _engine_at(folder, appendonly="yes", **{"aof-use-rdb-preamble": preamble})
    s = eng.session()
    script = _script(3)
    half = len(script) // 2
    for cmd in script[:half]:
        s.execute(*cmd)
    assert s.execute("BGREWRITEAOF") == "Background append only file rewriting started"
    eng.advance(2)
    for cmd in script[half:]:
        s.execute(*cmd)
    s.execute("INCR", "counter")
    s.execute("MULTI")
    s.execute("SET", "in-multi", "1")
    s.execute("SELECT", "4")
    s.execute("SET", "in-multi-4", "1")
    s.execute("EXEC")
    s.execute("EVAL", "redis.call('SELECT', 5); redis.call('SET', 'from-lua', 'x'); return 1", "0")
    eng.advance(2)
    manifest = os.path.join(folder, "appendonlydir", "appendonly.aof.manifest")
    out = subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    server = _server(folder, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    client = server.client()
    try:
        theirs = read_everything(_theirs(client), replayed=True)
    finally:
        _stop(server, client)
    again = _engine_at(folder, eng.clock, appendonly="yes")
    ours = read_everything(_ours(again.session()), replayed=True)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key
    assert (5, b"from-lua") in ours and (4, b"in-multi-4") in ours


def test_redis_aof_loads_here(folder):
    server = _server(folder, "--appendonly", "yes")
    client = server.client()
    try:
        script = _script(4)
        half = len(script) // 2
        for cmd in script[:half]:
            client.execute(*cmd)
        client.execute("BGREWRITEAOF")
        for _ in range(200):
            info = client.execute("INFO", "persistence").decode()
            if "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info:
                break
            time.sleep(0.02)  # waiting for the real server's child process, not a timing
        for cmd in script[half:]:
            client.execute(*cmd)
        client.execute("MULTI")
        client.execute("SET", "in-multi", "1")
        client.execute("EXEC")
        client.execute("XADD", "x:approx", "MAXLEN", "~", "5", "*", "f", "v")
    finally:
        _stop(server, client)
    assert len(os.listdir(os.path.join(folder, "appendonlydir"))) == 3
    # What Redis itself rebuilds from these files is the reference.
    server = _server(folder, "--appendonly", "yes")
    client = server.client()
    try:
        theirs = read_everything(_theirs(client), replayed=True)
    finally:
        _stop(server, client)
    eng = _engine_at(folder, ManualClock(int(time.time() * 1000)), appendonly="yes")
    ours = read_everything(_ours(eng.session()), replayed=True)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], key


def test_old_single_file_aof_is_upgraded(folder):
    # A pre-7.0 layout: appendonly.aof in dir, RDB preamble then commands.
    eng = Engine(ManualClock(int(time.time() * 1000)), config={"save": ""})
    s = eng.session()
    s.execute("SET", "a", "1")
    from redislab.engine.persistence import rdb as rdbfmt
    from redislab.engine.persistence.aof import encode_command

    image = rdbfmt.write_rdb(eng, aof_base=True)
    image += encode_command([b"SELECT", b"0"]) + encode_command([b"SET", b"b", b"2"])
    with open(os.path.join(folder, "appendonly.aof"), "wb") as f:
        f.write(image)
    shutil.copy(os.path.join(folder, "appendonly.aof"), os.path.join(folder, "orig.aof"))
    eng = _engine_at(folder, appendonly="yes")
    s = eng.session()
    assert sorted(s.execute("KEYS", "*")) == [b"a", b"b"]
    assert sorted(os.listdir(os.path.join(folder, "appendonlydir"))) == [
        "appendonly.aof", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    # Real Redis reads the upgraded layout too.
    server = _server(folder, "--appendonly", "yes")
    client = server.client()
    try:
        assert sorted(client.execute("KEYS", "*")) == [b"a", b"b"]
    finally:
        _stop(server, client)
