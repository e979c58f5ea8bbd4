"""Many clients at once, maxclients, and clients that vanish mid-command or while blocked."""

from __future__ import annotations

import resource
import socket
import struct
from typing import Iterator

import pytest

from redislab.protocol import ReplyParser, encode_command

from ..support.real_redis import RawClient
from .conftest import RunningServer

CLIENTS = 1000
# Both ends of every connection live in this process, plus the interpreter's own files.
FILES_NEEDED = 2 * CLIENTS + 200


@pytest.fixture
def fresh() -> Iterator[RunningServer]:
    s = RunningServer()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def enough_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= FILES_NEEDED:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < FILES_NEEDED:
        pytest.skip(f"{CLIENTS} connections need {FILES_NEEDED} open files; the hard limit "
                    f"(ulimit -Hn) is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILES_NEEDED, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _settle(checker: RawClient, expected: int) -> list[str]:
    """CLIENT LIST once the server has seen every hang-up (closes arrive asynchronously)."""
    lines: list[str] = []
    for _ in range(100_000):
        lines = checker.execute("CLIENT", "LIST").decode().splitlines()
        if len(lines) == expected:
            break
    return lines


def _info_field(client: RawClient, section: str, name: str) -> str:
    for line in client.execute("INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise KeyError(name)


def test_thousand_concurrent_clients(fresh: RunningServer, enough_files: None) -> None:
    socks = [socket.create_connection(("127.0.0.1", fresh.port), timeout=30)
             for _ in range(CLIENTS)]
    try:
        # Everyone pipelines a few commands before anyone reads.
        for i, s in enumerate(socks):
            s.sendall(encode_command("SET", f"k:{i}", i) + encode_command("INCR", "total")
                      + encode_command("GET", f"k:{i}") + encode_command("CLIENT", "ID"))
        ids = set()
        totals = []
        for i, s in enumerate(socks):
            parser = ReplyParser()
            replies: list[object] = []
            while len(replies) < 4:
                parser.feed(s.recv(4096))
                replies += list(parser.replies())
            assert replies[0] == "OK" and replies[2] == str(i).encode()
            totals.append(replies[1])
            ids.add(replies[3])
        assert sorted(totals) == list(range(1, CLIENTS + 1))  # every INCR counted once
        assert len(ids) == CLIENTS
        checker = RawClient(fresh.port)
        assert len(_settle(checker, CLIENTS + 1)) == CLIENTS + 1
        assert _info_field(checker, "clients", "connected_clients") == str(CLIENTS + 1)
        assert checker.execute("GET", "total") == str(CLIENTS).encode()

        # At the limit, the next client gets Redis's error and is closed.
        assert checker.execute("CONFIG", "SET", "maxclients", str(CLIENTS + 1)) == "OK"
        with socket.create_connection(("127.0.0.1", fresh.port), timeout=10) as extra:
            data = b""
            while chunk := extra.recv(1024):
                data += chunk
        assert data == b"-ERR max number of clients reached\r\n"
        assert _info_field(checker, "stats", "rejected_connections") == "1"
        assert _info_field(checker, "clients", "connected_clients") == str(CLIENTS + 1)
    finally:
        for s in socks:
            s.close()
    assert len(_settle(checker, 1)) == 1
    assert _info_field(checker, "clients", "connected_clients") == "1"
    # Room again once the others left.
    late = RawClient(fresh.port)
    assert late.execute("PING") == "PONG"
    late.close()
    checker.close()


def _abort(sock: socket.socket) -> None:
    """Hang up with a reset, as a crashed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_vanishing_mid_command_or_blocked_are_forgotten(fresh: RunningServer) -> None:
    checker = RawClient(fresh.port)
    half = socket.create_connection(("127.0.0.1", fresh.port))
    half.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc")  # never finished
    blocked = [RawClient(fresh.port) for _ in range(3)]
    for i, c in enumerate(blocked):
        c.send("BLPOP", "queue", "0" if i else "100")
    c2 = RawClient(fresh.port)
    c2.send("XREAD", "BLOCK", "0", "STREAMS", "events", "$")
    for _ in range(100_000):
        if _info_field(checker, "clients", "blocked_clients") == "4":
            break
    assert _info_field(checker, "clients", "blocked_clients") == "4"
    assert _info_field(checker, "clients", "connected_clients") == "6"

    half.close()
    _abort(blocked[0].sock)
    blocked[1].close()
    _abort(blocked[2].sock)
    _abort(c2.sock)
    assert len(_settle(checker, 1)) == 1
    assert _info_field(checker, "clients", "blocked_clients") == "0"
    assert _info_field(checker, "clients", "clients_in_timeout_table") == "0"
    # Nothing is handed to a client that is gone: the pushed element stays in the list.
    assert checker.execute("RPUSH", "queue", "job") == 1
    assert checker.execute("LRANGE", "queue", "0", "-1") == [b"job"]
    assert checker.execute("EXISTS", "half") == 0
    # A new blocked client is served normally.
    waiter = RawClient(fresh.port)
    assert waiter.execute("BLPOP", "queue", "0") == [b"queue", b"job"]
    waiter.close()
    checker.close()
