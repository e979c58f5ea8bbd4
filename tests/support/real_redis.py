"""A real redis-server started on a free loopback port, and a raw RESP client for it.

Differential tests run the same commands on the engine and on this server and compare the
replies as they look on the wire. If the binary is missing the tests skip, unless
REDISLAB_REQUIRE_REDIS=1 (CI sets it) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import pytest

from redislab.protocol import ErrorReply, ReplyParser, encode, encode_command

REQUIRE = os.environ.get("REDISLAB_REQUIRE_REDIS") == "1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def skip_or_fail(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (REDISLAB_REQUIRE_REDIS=1 forbids skipping)")
    pytest.skip(reason)


class RawClient:
    """A minimal blocking RESP client that returns reply values exactly as parsed."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.parser = ReplyParser()
        self.resp = 2

    def send(self, *args: Any) -> None:
        self.sock.sendall(encode_command(*args))

    def read(self) -> Any:
        while True:
            for reply in self.parser.replies():
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.parser.feed(data)

    def execute(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class RedisServer:
    """A redis-server process owned by the tests."""

    def __init__(self, extra: list[str] | None = None) -> None:
        binary = redis_server_binary()
        if binary is None:
            skip_or_fail("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="redislab-real-")
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                "--enable-debug-command", "yes", "--logfile", os.path.join(self.dir, "log")]
        self.proc = subprocess.Popen(args + (extra or []), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                c = RawClient(self.port)
                if c.execute("PING") == "PONG":
                    c.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)  # waiting for a child process to listen; not a test timing
        probe = RawClient(self.port)
        info = probe.execute("INFO", "server")
        probe.close()
        self.version = next((line.split(":", 1)[1].strip() for line in info.decode().splitlines()
                             if line.startswith("redis_version:")), "")

    def client(self) -> RawClient:
        return RawClient(self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisSentinel(RedisServer):
    """A redis-server in sentinel mode (it needs a writable configuration file) that
    monitors ``master_port`` on loopback as ``name``."""

    def __init__(self, master_port: int, name: str = "mymaster", quorum: int = 1,
                 down_after_ms: int = 3000) -> None:
        binary = redis_server_binary()
        if binary is None:
            skip_or_fail("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="redislab-sentinel-")
        self.port = free_port()
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
                    f"sentinel down-after-milliseconds {name} {down_after_ms}\n")
        self.proc = subprocess.Popen([binary, conf, "--sentinel", "--logfile",
                                      os.path.join(self.dir, "log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                c = RawClient(self.port)
                if c.execute("PING") == "PONG":
                    c.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("redis-server --sentinel did not start")
            time.sleep(0.02)  # waiting for a child process to listen; not a test timing
        self.version = ""


def wire(reply: Any, resp3: bool = False) -> Any:
    """A reply value as a client would parse it off the wire (normalises our value types)."""
    p = ReplyParser()
    p.feed(encode(reply, resp3))
    return next(p.replies())


def normalize(reply: Any) -> Any:
    """Turn a parsed reply into plain comparable data (errors become ('error', text))."""
    if isinstance(reply, ErrorReply):
        return ("error", reply.message)
    if isinstance(reply, list):
        kind = type(reply).__name__
        items = [normalize(x) if not isinstance(x, tuple) else tuple(normalize(y) for y in x)
                 for x in reply]
        return (kind, items)
    if isinstance(reply, str):
        return ("status", str(reply))
    if isinstance(reply, float):
        return ("double", repr(float(reply)))
    return reply
