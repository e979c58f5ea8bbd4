"""Pub/sub: subscriptions, publishing, the RESP2 context, keyspace notifications."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine import Engine
from redislab.protocol import NO_REPLY

from ...support.real_redis import normalize, wire


class Pair:
    """One engine session and one real connection, compared reply-stream against reply-stream."""

    def __init__(self, engine: Engine, server: Any, resp: int = 2) -> None:
        self.session = engine.session()
        self.real = server.client()
        self.resp3 = resp == 3
        if self.resp3:
            self.session.execute("HELLO", "3") if engine.table.get("HELLO").handler else None
            self.session.resp = 3
            self.real.execute("HELLO", "3")

    def ours(self, *args: Any) -> list[Any]:
        reply = self.session.execute(*args)
        out = [normalize(wire(p, self.resp3)) for p in self.session.drain()]
        if reply is not NO_REPLY:
            out.append(normalize(wire(reply, self.resp3)))
        return out

    def theirs(self, count: int, *args: Any) -> list[Any]:
        if args:
            self.real.send(*args)
        return [normalize(self.real.read()) for _ in range(count)]

    def check(self, *args: Any) -> list[Any]:
        ours = self.ours(*args)
        theirs = self.theirs(len(ours), *args)
        assert ours == theirs, f"{args!r}: {ours!r} != {theirs!r}"
        return ours

    def pending(self) -> list[Any]:
        return [normalize(wire(p, self.resp3)) for p in self.session.drain()]


@pytest.fixture
def pair_factory(redis_server):
    pairs: list[Pair] = []
    real = redis_server.client()
    real.execute("FLUSHALL")
    real.execute("CONFIG", "SET", "notify-keyspace-events", "")
    engine = Engine()

    def make(resp: int = 2) -> Pair:
        p = Pair(engine, redis_server, resp)
        pairs.append(p)
        return p

    yield make
    for p in pairs:
        p.real.close()
    real.execute("CONFIG", "SET", "notify-keyspace-events", "")
    real.close()


@pytest.mark.parametrize("resp", [2, 3])
def test_subscribe_publish_unsubscribe(pair_factory, resp):
    sub = pair_factory(resp)
    pub = pair_factory()
    sub.check("SUBSCRIBE", "a", "b", "a")
    sub.check("PSUBSCRIBE", "a*", "[xy]z")
    if resp == 2:
        sub.check("GET", "k")
        sub.check("PUBLISH", "a", "x")
    assert pub.check("PUBLISH", "a", "hello") == [2]
    assert pub.check("PUBLISH", "yz", "there") == [1]
    got = sub.pending()
    assert got == sub.theirs(len(got))
    sub.check("UNSUBSCRIBE", "a")
    sub.check("PUNSUBSCRIBE")
    sub.check("UNSUBSCRIBE")
    sub.check("UNSUBSCRIBE")
    sub.check("PUNSUBSCRIBE")


def test_pubsub_introspection(pair_factory):
    s1 = pair_factory()
    s2 = pair_factory()
    admin = pair_factory()
    s1.check("SUBSCRIBE", "news", "sports")
    s2.check("SUBSCRIBE", "news")
    s2.check("PSUBSCRIBE", "n*", "n*", "s*")
    assert admin.check("PUBSUB", "NUMSUB", "news", "sports", "none")
    assert admin.check("PUBSUB", "NUMPAT")
    ours = admin.ours("PUBSUB", "CHANNELS")
    theirs = admin.theirs(1, "PUBSUB", "CHANNELS")
    assert sorted(ours[0][1]) == sorted(theirs[0][1])
    admin.check("PUBSUB", "CHANNELS", "s*")
    admin.check("PUBSUB", "NUMSUB")
    admin.check("PUBLISH", "news", "m")
    assert s1.pending() == s1.theirs(1)
    assert s2.pending() == s2.theirs(2)


def test_shard_channels(pair_factory):
    s = pair_factory()
    p = pair_factory()
    s.check("SSUBSCRIBE", "orders")
    p.check("SPUBLISH", "orders", "1")
    assert s.pending() == s.theirs(1)
    p.check("PUBSUB", "SHARDCHANNELS")
    p.check("PUBSUB", "SHARDNUMSUB", "orders", "x")
    s.check("SUNSUBSCRIBE")
    s.check("SUNSUBSCRIBE")


def test_keyspace_notifications_unit(engine):
    listener = engine.session()
    writer = engine.session()
    config = engine.config
    config.set("notify-keyspace-events", "KEA")
    assert config["notify-keyspace-events"] == "AKE"
    listener.execute("PSUBSCRIBE", "__key*__:*")
    listener.drain()
    writer.execute("SET", "k", "v")
    msgs = listener.drain()
    assert [m[2] for m in msgs] == [b"__keyspace@0__:k", b"__keyevent@0__:set"]
    assert [m[3] for m in msgs] == [b"set", b"k"]


def test_keyspace_notifications_expired_on_manual_clock(engine, clock):
    listener = engine.session()
    writer = engine.session()
    engine.config.set("notify-keyspace-events", "Ex")
    listener.execute("SUBSCRIBE", "__keyevent@0__:expired")
    listener.drain()
    writer.execute("SET", "k", "v", "PX", "100")
    engine.advance(0.2)
    assert listener.drain() == [[b"message", b"__keyevent@0__:expired", b"k"]]


def test_notification_streams_match_redis(redis_server):
    """The same writes produce the same keyspace/keyevent messages, in the same order."""
    engine = Engine()
    ours_sub, ours = engine.session(), engine.session()
    real_sub, real = redis_server.client(), redis_server.client()
    real.execute("FLUSHALL")
    try:
        for flags in ("KEA", "KEn$gx"):
            real.execute("CONFIG", "SET", "notify-keyspace-events", flags)
            engine.config.set("notify-keyspace-events", flags)
            assert engine.config["notify-keyspace-events"] == \
                real.execute("CONFIG", "GET", "notify-keyspace-events")[1].decode()
        real_sub.execute("PSUBSCRIBE", "__key*__:*")
        ours_sub.execute("PSUBSCRIBE", "__key*__:*")
        ours_sub.drain()
        script = [["SET", "k", "v"], ["SET", "k", "w"], ["APPEND", "k", "x"], ["INCR", "n"],
                  ["EXPIRE", "k", "100"], ["PERSIST", "k"], ["DEL", "k", "n"], ["GET", "zz"]]
        for cmd in script:
            real.execute(*cmd)
            ours.execute(*cmd)
        mine = [normalize(wire(m)) for m in ours_sub.drain()]
        theirs = [normalize(real_sub.read()) for _ in mine]
        assert mine == theirs
    finally:
        real.execute("CONFIG", "SET", "notify-keyspace-events", "")
        real_sub.close()
        real.close()
