"""Scaffolding for state machines that run random command sequences on the engine and on a
real redis-server and compare the replies.

A machine subclasses :class:`DiffMachine` (one client per side) or :class:`MultiMachine`
(several clients per side, for blocking commands and pub/sub), sets ``server`` to the
``redis_server`` fixture, and is run by :func:`run_machine`. Example counts stay small so
that all machines together take seconds; in CI (``HYPOTHESIS_PROFILE=ci``, ``CI``, or
``REDISLAB_REQUIRE_REDIS=1`` as .ci/run sets) they are also derandomised so that a run is
repeatable. ``REDISLAB_MACHINE_SCALE=N`` multiplies the examples for a deeper search by hand.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize

from redislab.engine import Engine, ManualClock, Session

from .real_redis import RawClient, RedisServer, normalize, wire

settings.register_profile("machines", deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile("machines-ci", deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))


def _profile() -> settings:
    # .ci/run sets REDISLAB_REQUIRE_REDIS=1; most CI services also set CI.
    ci = os.environ.get("HYPOTHESIS_PROFILE") == "ci" or bool(os.environ.get("CI")) or \
        os.environ.get("REDISLAB_REQUIRE_REDIS") == "1"
    return settings.get_profile("machines-ci" if ci else "machines")


def run_machine(machine: type[RuleBasedStateMachine], server: RedisServer, *,
                examples: int, steps: int) -> None:
    """Run ``machine`` against ``server`` with a modest budget."""
    machine.server = server  # type: ignore[attr-defined]
    # REDISLAB_MACHINE_SCALE=10 runs ten times the examples, for a deeper search by hand.
    examples *= int(os.environ.get("REDISLAB_MACHINE_SCALE", "1"))
    machine.TestCase.settings = settings(_profile(), max_examples=examples,
                                         stateful_step_count=steps)
    machine.TestCase().runTest()


def compared(reply: Any, resp3: bool = False) -> Any:
    """Our reply as real Redis's would look once parsed off the wire."""
    return normalize(wire(reply, resp3))


class DiffMachine(RuleBasedStateMachine):
    """One engine session and one connection to real Redis, emptied at the start."""

    server: RedisServer
    # CONFIG SET pairs applied on both sides at the start (and reset on the server after).
    config: dict[str, str] = {}

    @initialize()
    def start(self) -> None:
        self.real = self.server.client()
        self.real.execute("FLUSHALL")
        self.saved = {}
        for name, value in self.config.items():
            self.saved[name] = self.real.execute("CONFIG", "GET", name)[1]
            self.real.execute("CONFIG", "SET", name, value)
        self.clock = ManualClock()
        self.engine = Engine(self.clock, config=dict(self.config))
        self.session = self.engine.session()

    def teardown(self) -> None:
        real = getattr(self, "real", None)
        if real is None:
            return
        for name, value in self.saved.items():
            real.execute("CONFIG", "SET", name, value)
        real.close()

    def both(self, *args: Any) -> tuple[Any, Any]:
        return compared(self.session.execute(*args)), normalize(self.real.execute(*args))

    def check(self, *args: Any, transform: Callable[[Any], Any] | None = None) -> Any:
        """Run on both sides; ``transform`` may drop what is not deterministic first."""
        ours, theirs = self.both(*args)
        if transform is not None:
            ours, theirs = transform(ours), transform(theirs)
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
        return ours

    def check_unordered(self, *args: Any) -> Any:
        """For replies whose order is the hash table's (sets, hash fields)."""
        return self.check(*args, transform=sort_nested)


def sort_nested(reply: Any) -> Any:
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], list):
        return (reply[0], sorted((sort_nested(x) for x in reply[1]), key=repr))
    return reply


class Pair:
    """One client on each side: an engine session and a raw connection."""

    def __init__(self, engine: Engine, server: RedisServer) -> None:
        self.session: Session = engine.session()
        self.real: RawClient = server.client()
        self.served: list[Any] = []
        self.session.on_unblocked = lambda _s, reply: self.served.append(reply)
        self.blocked = False
        self.real_id = self.real.execute("CLIENT", "ID")

    def close(self) -> None:
        self.real.close()


class MultiMachine(RuleBasedStateMachine):
    """Several client pairs, a writer pair, and a control connection that watches the
    server's state."""

    server: RedisServer
    clients = 3
    config: dict[str, str] = {}

    @initialize()
    def start(self) -> None:
        self.control = self.server.client()
        self.control.execute("FLUSHALL")
        self.saved = {}
        for name, value in self.config.items():
            self.saved[name] = self.control.execute("CONFIG", "GET", name)[1]
            self.control.execute("CONFIG", "SET", name, value)
        self.clock = ManualClock()
        self.engine = Engine(self.clock, config=dict(self.config))
        self.pairs = [Pair(self.engine, self.server) for _ in range(self.clients)]
        self.writer = Pair(self.engine, self.server)
        self.setup()

    def setup(self) -> None:
        """Per-example state of a subclass."""

    def teardown(self) -> None:
        control = getattr(self, "control", None)
        if control is None:
            return
        for p in self.pairs:
            p.close()
        self.writer.close()
        # Closing a blocked connection frees it; wait until the server has noticed so that
        # the next example starts from a server with nobody blocked.
        self.wait_for(lambda: self.real_blocked() == 0)
        for name, value in self.saved.items():
            control.execute("CONFIG", "SET", name, value)
        control.close()

    def real_blocked(self) -> int:
        info = self.control.execute("INFO", "clients").decode()
        for line in info.splitlines():
            if line.startswith("blocked_clients:"):
                return int(line.split(":", 1)[1])
        raise AssertionError("INFO clients has no blocked_clients")

    def wait_for(self, condition: Callable[[], bool], what: str = "the server") -> None:
        """Poll until ``condition`` holds: another connection's command has to be read and
        run by the server first. Each poll is a round trip; no sleeping, no timing."""
        deadline = time.monotonic() + 10
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} never reached the expected state")
