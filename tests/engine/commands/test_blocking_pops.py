"""Blocking pops: immediate answers compared with Redis, waiting and serving on the engine."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine
from redislab.protocol import NULL_ARRAY

IMMEDIATE = """
RPUSH l a b c d e f g
BLPOP missing l 0
BRPOP l 0
BLPOP l 1.5
BLPOP l -1
BLPOP l abc
BLMPOP 0 2 missing l LEFT COUNT 2
BLMPOP 0 1 l RIGHT
BLMPOP 0 0 l LEFT
BLMPOP 0 1 l MIDDLE
RPUSH src x y
BLMOVE src dst LEFT RIGHT 0
BRPOPLPUSH src dst 0
LRANGE dst 0 -1
ZADD z 1 a 2 b 3 c
BZPOPMIN missing z 0
BZPOPMAX z 0
BZMPOP 0 1 z MIN COUNT 10
BZMPOP 0 1 z SIDEWAYS
SET str v
BLPOP str 0
BZPOPMIN str 0
MULTI
BLPOP empty 0
BLMOVE empty dst LEFT LEFT 0
BZPOPMIN empty 0
BLMPOP 0 1 empty LEFT
EXEC
"""


def test_immediate_replies_match_redis(differ):
    differ.check_all(IMMEDIATE)


def test_immediate_replies_match_redis_resp3(differ3):
    differ3.check_all(IMMEDIATE)


def _waiter(engine: Engine) -> tuple[Any, list[Any]]:
    s = engine.session()
    got: list[Any] = []
    s.on_unblocked = lambda session, reply: got.append(reply)
    return s, got


def test_clients_are_served_in_arrival_order(engine):
    first, got1 = _waiter(engine)
    second, got2 = _waiter(engine)
    writer = engine.session()
    assert type(first.execute("BLPOP", "q", "0")).__name__ == "Blocked"
    assert type(second.execute("BRPOP", "q", "0")).__name__ == "Blocked"
    assert writer.execute("RPUSH", "q", "a") == 1
    assert got1 == [[b"q", b"a"]] and got2 == []
    writer.execute("RPUSH", "q", "b", "c")
    assert got2 == [[b"q", b"c"]]
    assert writer.execute("LRANGE", "q", "0", "-1") == [b"b"]


def test_timeout_follows_the_engine_clock(engine):
    s, got = _waiter(engine)
    s.execute("BZPOPMIN", "z", "2.5")
    engine.advance(2.4)
    assert got == []
    engine.advance(0.2)
    assert got == [NULL_ARRAY]


def test_blmove_serves_and_moves(engine):
    s, got = _waiter(engine)
    writer = engine.session()
    s.execute("BLMOVE", "jobs", "working", "LEFT", "RIGHT", "0")
    writer.execute("LPUSH", "jobs", "j1")
    assert got == [b"j1"]
    assert writer.execute("LRANGE", "working", "0", "-1") == [b"j1"]
    assert writer.execute("EXISTS", "jobs") == 0


def test_client_served_in_the_db_it_blocked_in(engine):
    s, got = _waiter(engine)
    s.execute("SELECT", "3")
    s.execute("BLPOP", "k", "0")
    writer = engine.session()
    writer.execute("RPUSH", "k", "in-db0")
    assert got == []
    writer.execute("SELECT", "3")
    writer.execute("RPUSH", "k", "in-db3")
    assert got == [[b"k", b"in-db3"]]


def test_bzmpop_served_with_count(engine):
    s, got = _waiter(engine)
    s.execute("BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2")
    engine.session().execute("ZADD", "b", "1", "x", "2", "y", "3", "z")
    assert got == [[b"b", [[b"z", 3.0], [b"y", 2.0]]]]


@pytest.mark.parametrize("command", [["BLPOP", "k", "0.01"], ["BZPOPMAX", "k", "0.01"],
                                     ["BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"]])
def test_timeout_reply_matches_redis(redis_server, engine, clock, command):
    real = redis_server.client()
    theirs = real.execute(*command)  # real Redis waits 10 ms
    real.close()
    s, got = _waiter(engine)
    s.execute(*command)
    engine.advance(0.02)
    assert got == [theirs]
