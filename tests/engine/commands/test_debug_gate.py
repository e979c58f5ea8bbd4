"""DEBUG follows enable-debug-command as Redis 7.0 does, and DEBUG OBJECT reports as Redis."""

from __future__ import annotations

import re
from typing import Any

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol import split_args

from ...support.machines import compared
from ...support.real_redis import RedisServer, normalize

# The address and the clock readings differ between any two servers (a shared integer's
# idle time counts from the server's start).
_VOLATILE = re.compile(r"Value at:0x[0-9a-f]+|lru:\d+|lru_seconds_idle:\d+")


def _steady(reply: Any) -> Any:
    if isinstance(reply, tuple) and reply[0] == "status":
        return ("status", _VOLATILE.sub("", reply[1]))
    return reply


@pytest.mark.real
@pytest.mark.parametrize("setting", ["no", "local", "yes"])
def test_debug_gate_matches_redis(setting):
    server = RedisServer(extra=["--enable-debug-command", setting])
    real = server.client()
    try:
        engine = Engine(ManualClock(), config={"enable-debug-command": setting})
        ours = engine.session()  # an in-process client counts as local
        for args in (["SET", "k", "v"], ["DEBUG", "OBJECT", "missing"], ["DEBUG", "OBJECT", "k"],
                     ["DEBUG", "SLEEP", "0"], ["DEBUG", "BOGUS"]):
            assert _steady(compared(ours.execute(*args))) == \
                _steady(normalize(real.execute(*args))), args
    finally:
        real.close()
        server.stop()


DEBUG_OBJECT_SCRIPT = """
SET int 5
SET bigint 123456
SET str hello
SET long "a fairly long string value that is past forty-four bytes"
INCRBYFLOAT f 2
APPEND raw x
RPUSH l a b c 1 2 3
LPUSH lp x y z
SADD s 1 2 70000
SREM s 70000
SADD hs a b
HSET h f v
ZADD z 1 a
XADD x 1-1 f v
PFADD hll a b c
DEBUG OBJECT int
DEBUG OBJECT bigint
DEBUG OBJECT str
DEBUG OBJECT long
DEBUG OBJECT f
DEBUG OBJECT raw
DEBUG OBJECT l
DEBUG OBJECT lp
DEBUG OBJECT s
DEBUG OBJECT hs
DEBUG OBJECT h
DEBUG OBJECT z
DEBUG OBJECT x
DEBUG OBJECT hll
DEBUG OBJECT missing
DEBUG OBJECT
"""


def test_debug_object_matches_redis(redis_server):
    real = redis_server.client()
    try:
        real.execute("FLUSHALL")
        ours = Engine(ManualClock(), config={"enable-debug-command": "yes"}).session()
        for line in DEBUG_OBJECT_SCRIPT.strip().splitlines():
            args = split_args(line)
            assert args is not None
            assert _steady(compared(ours.execute(*args))) == \
                _steady(normalize(real.execute(*args))), line
    finally:
        real.close()


def test_debug_object_idle_time_follows_the_engine_clock():
    engine = Engine(ManualClock(), config={"enable-debug-command": "yes"})
    s = engine.session()
    s.execute("SET", "str", "hello")
    engine.advance(5)
    s.execute("SET", "int", "5")
    engine.advance(10)
    assert "lru_seconds_idle:15" in s.execute("DEBUG", "OBJECT", "str")
    # A shared integer is as old as the server, whenever the key was set.
    assert "lru_seconds_idle:15" in s.execute("DEBUG", "OBJECT", "int")
    s.execute("GET", "str")
    assert "lru_seconds_idle:0" in s.execute("DEBUG", "OBJECT", "str")
