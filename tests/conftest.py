"""Fixtures: an engine on a manual clock, and a real redis-server for differential tests."""

from __future__ import annotations

import shlex
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock, Session
from redislab.protocol import split_args

from .support.real_redis import RawClient, RedisServer, normalize, wire


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return Engine(clock)


@pytest.fixture
def session(engine: Engine) -> Session:
    return engine.session()


@pytest.fixture
def run(session: Session):  # type: ignore[no-untyped-def]
    """``run("SET a 1")`` runs one command line (redis-cli quoting) on a fresh engine."""

    def _run(line: str) -> Any:
        args = split_args(line)
        assert args is not None, f"unbalanced quotes in {line!r}"
        return session.execute(*args)

    return _run


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


class Differ:
    """Runs the same command on the engine and on real Redis and compares the wire replies."""

    def __init__(self, server: RedisServer, resp: int = 2) -> None:
        self.real = server.client()
        self.engine = Engine()
        self.session = self.engine.session()
        self.resp3 = resp == 3
        self.real.execute("FLUSHALL")
        self.real.execute("SELECT", "0")
        if self.resp3:
            self.real.execute("HELLO", "3")
            self.session.execute("HELLO", "3")

    def both(self, *args: Any) -> tuple[Any, Any]:
        if len(args) == 1 and isinstance(args[0], str) and " " in args[0]:
            parsed = split_args(args[0])
            assert parsed is not None
            args = tuple(parsed)
        ours = normalize(wire(self.session.execute(*args), self.resp3))
        theirs = normalize(self.real.execute(*args))
        return ours, theirs

    def check(self, *args: Any) -> Any:
        ours, theirs = self.both(*args)
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def reset(self) -> None:
        """Empty both sides (for tests that run several scripts on one server)."""
        self.real.execute("FLUSHALL")
        self.session.execute("FLUSHALL") if self.engine.table.get("FLUSHALL").handler \
            else self.engine.flushall()

    def check_all(self, script: str) -> None:
        """Run a script of command lines (one per line, redis-cli quoting, # comments)."""
        for line in script.strip().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parsed = split_args(line)
            assert parsed is not None, line
            self.check(*parsed)

    def close(self) -> None:
        self.real.close()


@pytest.fixture
def differ(redis_server: RedisServer) -> Iterator[Differ]:
    d = Differ(redis_server)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def differ3(redis_server: RedisServer) -> Iterator[Differ]:
    d = Differ(redis_server, resp=3)
    try:
        yield d
    finally:
        d.close()


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "differ" in getattr(item, "fixturenames", ()) or \
                "differ3" in getattr(item, "fixturenames", ()) or \
                "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real)


__all__ = ["Differ", "RawClient", "shlex"]
