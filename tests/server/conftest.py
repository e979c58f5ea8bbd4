"""A redislab server on a free loopback port, run in a background thread per test module."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator

import pytest

from redislab.engine import Engine
from redislab.server import Server


class RunningServer:
    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or Engine()
        self.server = Server(self.engine, port=0)
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
            raise RuntimeError("server did not start")
        self.port = self.server.port

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop)
        fut.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served() -> Iterator[RunningServer]:
    s = RunningServer()
    try:
        yield s
    finally:
        s.stop()
