"""The TCP server: framing, pipelining, blocking across connections, pub/sub, bad input."""

from __future__ import annotations

import random
import socket
import subprocess
import shutil

import pytest

from ..support.real_redis import RawClient


def _recv_all(sock: socket.socket, expect_close: bool = True) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_pipelined_commands_answer_in_order(served):
    c = RawClient(served.port)
    for i in range(50):
        c.send("INCR", "counter")
    assert [c.read() for _ in range(50)] == list(range(1, 51))
    c.close()


def test_inline_commands(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(b'SET inline "a b"\r\nGET inline\r\n')
        data = b""
        while data.count(b"\r\n") < 3:
            data += s.recv(1024)
    assert data == b"+OK\r\n$3\r\na b\r\n"


def test_protocol_error_closes_only_that_client(served):
    other = RawClient(served.port)
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
        s.sendall(b"*1\r\n$3\r\nGET\r\n*1\r\nx\r\n")
        data = _recv_all(s)
    assert data.endswith(b"-ERR Protocol error: expected '$', got 'x'\r\n")
    assert other.execute("SET", "still", "ok") == "OK"
    other.close()


def test_fuzzed_frames_never_stop_the_server(served):
    rng = random.Random(7)
    pieces = [b"*", b"$", b"\r\n", b"-1", b"3", b"abc", b"*2\r\n", b"$3\r\nGET\r\n", b"\x00",
              b"99999999999", b'"', b"'", b"\n", b"PING"]
    for _ in range(300):
        frame = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        with socket.create_connection(("127.0.0.1", served.port), timeout=2) as s:
            s.sendall(frame)
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    c = RawClient(served.port)
    assert c.execute("SET", "alive", "yes") == "OK"
    c.close()


def test_blocked_client_is_served_by_another_connection(served):
    reader = RawClient(served.port)
    writer = RawClient(served.port)
    reader.send("XREAD", "BLOCK", "0", "STREAMS", "jobs", "$")
    reader.send("GET", "after")
    writer.execute("SET", "after", "x")
    writer.execute("XADD", "jobs", "1-1", "task", "t1")
    assert reader.read() == [[b"jobs", [[b"1-1", [b"task", b"t1"]]]]]
    assert reader.read() == b"x"
    reader.close()
    writer.close()


def test_pubsub_messages_reach_idle_subscribers(served):
    sub = RawClient(served.port)
    pub = RawClient(served.port)
    sub.send("SUBSCRIBE", "news")
    assert sub.read() == [b"subscribe", b"news", 1]
    assert pub.execute("PUBLISH", "news", "hello") == 1
    assert sub.read() == [b"message", b"news", b"hello"]
    sub.close()
    pub.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_talks_to_the_server(served):
    def cli(*args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(served.port), *args],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    assert cli("SET", "cli", "works") == "OK"
    assert cli("GET", "cli") == "works"
