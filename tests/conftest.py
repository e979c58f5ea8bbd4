"""Fixtures: an engine on a manual clock, and a real redis-server for differential tests."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock, Session
from redislab.protocol import split_args

from .support.real_redis import RawClient, RedisServer, normalize, wire
from .support.served import ServedEngine

# Differential files whose tests also run with our side behind the TCP server in every run;
# ``--differ-transport=both`` (or REDISLAB_DIFFER_TRANSPORT=both) does it for all of them.
TCP_EVERY_RUN = {"test_strings.py", "test_keyspace.py", "test_hashes.py", "test_lists.py",
                 "test_sets.py", "test_sorted_sets.py", "test_streams.py"}


def pytest_addoption(parser: Any) -> None:
    parser.addoption(
        "--differ-transport", choices=("default", "engine", "tcp", "both"),
        default=os.environ.get("REDISLAB_DIFFER_TRANSPORT", "default"),
        help="how differential tests reach our engine: in-process (engine), through the "
             "RESP server over TCP (tcp), or both; default: engine, plus tcp for "
             + ", ".join(sorted(TCP_EVERY_RUN)))


def pytest_generate_tests(metafunc: Any) -> None:
    if "differ_transport" not in metafunc.fixturenames:
        return
    mode = metafunc.config.getoption("differ_transport")
    if mode == "default":
        every = Path(str(metafunc.definition.fspath)).name in TCP_EVERY_RUN
        transports = ["engine", "tcp"] if every else ["engine"]
    else:
        transports = ["engine", "tcp"] if mode == "both" else [mode]
    if transports != ["engine"]:
        metafunc.parametrize("differ_transport", transports)


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
    """Runs the same command on the engine and on real Redis and compares the wire replies.

    With ``transport="tcp"`` our commands go over a socket to the RESP server serving the
    engine; ``session`` is then that connection's server-side session.
    """

    def __init__(self, server: RedisServer, resp: int = 2, transport: str = "engine") -> None:
        self.real = server.client()
        self.engine = Engine()
        self.served: ServedEngine | None = None
        self.ours: RawClient | None = None
        if transport == "tcp":
            self.served = ServedEngine(self.engine)
            self.ours = self.served.client()
            self.ours.execute("SELECT", "0")
            self.session = self.served.session_of(self.ours)
        else:
            self.session = self.engine.session()
        self.resp3 = resp == 3
        self.real.execute("FLUSHALL")
        self.real.execute("SELECT", "0")
        if self.resp3:
            self.real.execute("HELLO", "3")
            self.run_ours("HELLO", "3")

    def run_ours(self, *args: Any) -> Any:
        """One command on our side, as parsed off the wire."""
        if self.ours is not None:
            return self.ours.execute(*args)
        return wire(self.session.execute(*args), self.resp3)

    def both(self, *args: Any) -> tuple[Any, Any]:
        if len(args) == 1 and isinstance(args[0], str) and " " in args[0]:
            parsed = split_args(args[0])
            assert parsed is not None
            args = tuple(parsed)
        ours = normalize(self.run_ours(*args))
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
        if self.ours is not None:
            self.ours.close()
        if self.served is not None:
            self.served.stop()


@pytest.fixture
def differ_transport() -> str:
    return "engine"


@pytest.fixture
def differ(redis_server: RedisServer, differ_transport: str) -> Iterator[Differ]:
    d = Differ(redis_server, transport=differ_transport)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def differ3(redis_server: RedisServer, differ_transport: str) -> Iterator[Differ]:
    d = Differ(redis_server, resp=3, transport=differ_transport)
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
