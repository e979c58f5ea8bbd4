"""Engines served over TCP from one background event loop, for tests that talk RESP to them.

The differential suites use it to run their commands a second time through ``redislab
serve``'s code path: the same Server and connection protocol, on a free loopback port, with a
real socket between the test and the engine.
"""

from __future__ import annotations

import asyncio
import threading

from redislab.engine import Engine, Session
from redislab.server import Server

from .real_redis import RawClient

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def shared_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread, started on first use and kept for the test run."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="redislab-served",
                                      daemon=True)
            thread.start()
            _loop = loop
        return _loop


class ServedEngine:
    """An engine behind its own Server on a free port, run by the shared loop."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine()
        self.server = Server(self.engine, port=0)
        self.loop = shared_loop()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.port = self.server.port

    def client(self) -> RawClient:
        return RawClient(self.port)

    def session_of(self, client: RawClient) -> Session:
        """The server-side session of a connected client (after one round trip)."""
        local = client.sock.getsockname()
        addr = f"{local[0]}:{local[1]}"
        for conn in list(self.server.connections):
            if conn.session is not None and conn.session.addr == addr:
                return conn.session
        raise LookupError(f"no connection from {addr}")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
