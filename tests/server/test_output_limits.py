"""client-output-buffer-limit: slow readers closed past the hard limit, or the soft limit held."""

from __future__ import annotations

import logging
import socket
from typing import Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol import ReplyParser

from ..support.real_redis import RawClient
from .conftest import RunningServer

MESSAGE = b"m" * 65536


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fresh(clock: ManualClock) -> Iterator[RunningServer]:
    s = RunningServer(Engine(clock))
    try:
        yield s
    finally:
        s.stop()


class SlowReader(RawClient):
    """A client that reads nothing, with a small receive window so output backs up fast."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.parser = ReplyParser()
        self.resp = 2


def connection_of(running: RunningServer, client: RawClient):  # type: ignore[no-untyped-def]
    local = "%s:%d" % client.sock.getsockname()
    return next(c for c in running.server.connections
                if c.session is not None and c.session.addr == local)


def _subscribed(running: RunningServer, pub: RawClient) -> RawClient:
    sub = SlowReader(running.port)
    sub.send("SUBSCRIBE", "firehose")
    for _ in range(100_000):
        if pub.execute("PUBSUB", "NUMSUB", "firehose") == [b"firehose", 1]:
            break
    return sub


def test_pubsub_hard_limit_closes_a_slow_subscriber(fresh: RunningServer, caplog) -> None:
    pub = RawClient(fresh.port)
    assert pub.execute("CONFIG", "SET", "client-output-buffer-limit",
                       "pubsub 1mb 0 0") == "OK"
    sub = _subscribed(fresh, pub)
    caplog.set_level(logging.WARNING, logger="redislab.server")
    receivers = []
    for _ in range(1000):  # at most 64 MB: far past the kernel's buffers plus 1 MB
        receivers.append(pub.execute("PUBLISH", "firehose", MESSAGE))
        if receivers[-1] == 0:
            break
    assert receivers[-1] == 0 and receivers[0] == 1
    assert pub.execute("PUBSUB", "NUMSUB", "firehose") == [b"firehose", 0]
    listing = pub.execute("CLIENT", "LIST").decode().splitlines()
    assert len(listing) == 1 and "cmd=client|list" in listing[0]
    closed = [r.getMessage() for r in caplog.records
              if "closed ASAP for overcoming of output buffer limits" in r.getMessage()]
    assert len(closed) == 1 and "flags=P" in closed[0] and "sub=1" in closed[0]
    sub.close()
    pub.close()


def test_soft_limit_must_hold_longer_than_its_seconds(fresh: RunningServer,
                                                      clock: ManualClock) -> None:
    pub = RawClient(fresh.port)
    assert pub.execute("CONFIG", "SET", "client-output-buffer-limit",
                       "pubsub 0 256kb 10") == "OK"
    sub = _subscribed(fresh, pub)
    conn = connection_of(fresh, sub)
    for _ in range(1000):
        assert pub.execute("PUBLISH", "firehose", MESSAGE) == 1
        if conn.soft_limit_since is not None:
            break
    assert conn.soft_limit_since is not None
    clock.advance(10)
    assert pub.execute("PUBLISH", "firehose", MESSAGE) == 1  # 10 s: not more than 10
    assert not conn.closing
    clock.advance(1)
    assert pub.execute("PUBLISH", "firehose", MESSAGE) == 1  # delivered, then closed
    assert conn.closing
    for _ in range(100_000):
        if pub.execute("PUBLISH", "firehose", b"x") == 0:
            break
    assert pub.execute("PUBLISH", "firehose", b"x") == 0
    sub.close()
    pub.close()


def test_normal_clients_have_no_limit_by_default_and_obey_one_when_set(
        fresh: RunningServer) -> None:
    setter = RawClient(fresh.port)
    assert setter.execute("SET", "big", "v" * 512 * 1024) == "OK"
    reader = SlowReader(fresh.port)
    for _ in range(40):  # 20 MB of replies, unread: no limit for normal clients by default
        reader.send("GET", "big")
    for _ in range(100_000):  # until the server has run the whole pipeline
        if b"cmdstat_get:calls=40," in setter.execute("INFO", "commandstats"):
            break
    assert b"cmdstat_get:calls=40," in setter.execute("INFO", "commandstats")
    assert len(setter.execute("CLIENT", "LIST").decode().splitlines()) == 2
    assert setter.execute("CONFIG", "SET", "client-output-buffer-limit",
                          "normal 4mb 0 0") == "OK"
    reader.send("GET", "big")  # the next reply finds the buffer over 4 MB
    for _ in range(100_000):
        if len(setter.execute("CLIENT", "LIST").decode().splitlines()) == 1:
            break
    assert len(setter.execute("CLIENT", "LIST").decode().splitlines()) == 1
    reader.close()
    setter.close()


@pytest.mark.real
def test_config_matches_redis(differ) -> None:
    differ.check_all("""
    CONFIG GET client-output-buffer-limit
    CONFIG SET client-output-buffer-limit "pubsub 1mb 512kb 10"
    CONFIG GET client-output-buffer-limit
    CONFIG SET client-output-buffer-limit "normal 1 2"
    CONFIG SET client-output-buffer-limit "bogus 1 2 3"
    CONFIG SET client-output-buffer-limit "master 1 2 3"
    CONFIG SET client-output-buffer-limit "normal x 2 3"
    CONFIG SET client-output-buffer-limit "normal 1 2 -3"
    CONFIG SET client-output-buffer-limit "normal 1 2 3.5"
    CONFIG SET client-output-buffer-limit "replica 1gb 2gb 3 slave 5 6 7"
    CONFIG SET client-output-buffer-limit "NORMAL 1K 2 3"
    CONFIG SET client-output-buffer-limit ""
    CONFIG GET client-output-buffer-limit
    CONFIG SET client-output-buffer-limit "normal 0 0 0 slave 268435456 67108864 60 pubsub 32mb 8mb 60"
    CONFIG GET client-output-buffer-limit
    """)


def test_info_reports_the_recent_largest_output_buffer(fresh: RunningServer,
                                                       clock: ManualClock) -> None:
    pub = RawClient(fresh.port)
    info = pub.execute("INFO", "clients").decode()
    assert "client_recent_max_output_buffer:0\r\n" in info
    sub = _subscribed(fresh, pub)
    conn = connection_of(fresh, sub)
    backlog = 0
    for _ in range(1000):
        pub.execute("PUBLISH", "firehose", MESSAGE)
        backlog = conn.transport.get_write_buffer_size()
        if backlog:
            break
    assert backlog > 0
    fresh.server.track_output_peaks()   # what the server's cron does every tick
    field = next(line for line in pub.execute("INFO", "clients").decode().splitlines()
                 if line.startswith("client_recent_max_output_buffer:"))
    assert int(field.split(":")[1]) >= backlog
    sub.close()
    for _ in range(100_000):  # until the server has seen the subscriber go
        if pub.execute("PUBSUB", "NUMSUB", "firehose") == [b"firehose", 0]:
            break
    clock.advance(8)  # eight seconds on: the peak has aged out of every slot
    fresh.server.track_output_peaks()
    assert "client_recent_max_output_buffer:0\r\n" in pub.execute("INFO", "clients").decode()
    pub.close()
