"""Simulated clients' connections: redis-py clients whose commands are scheduling points.

:func:`sim_client` returns a ``redis.Redis`` on the simulation's engine (the same in-process
connections as ``redislab.client()``) with the scheduling points added: before each command
(a pipeline's commands one by one, since other clients' commands can land between them on a
real server too) and while a blocked command waits for its reply. A command is scheduled
as a turn of whichever simulated client's thread sends it; on any other thread the client
behaves exactly as the ordinary one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from ..client import EngineConnection, EngineConnectionPool, _Argv, _prepare_engine
from .scheduler import SimCrash, current_task

if TYPE_CHECKING:
    from .scheduler import Sim

__all__ = ["SimConnection", "SimRedis", "sim_client"]

MAX_CONNECTIONS = 1_000_000


def _argv(args: tuple[Any, ...]) -> list[bytes]:
    out = []
    for a in args:
        if isinstance(a, bytes):
            out.append(a)
        elif isinstance(a, str):
            out.extend(a.encode().split()) if not out else out.append(a.encode())
        elif isinstance(a, bool):
            out.append(b"1" if a else b"0")
        elif isinstance(a, int):
            out.append(b"%d" % a)
        elif isinstance(a, float):
            out.append(repr(a).encode())
        else:
            out.append(str(a).encode())
    return out


class SimRedis(redis.Redis):
    """``redis.Redis`` taking a turn before each command sent on a simulated client's thread."""

    sim: "Sim"

    def execute_command(self, *args: Any, **options: Any) -> Any:
        task = current_task()
        if task is None:
            return super().execute_command(*args, **options)
        sim = self.sim
        argv = _argv(args)
        sim.gate(task, argv)
        task.in_command = True
        try:
            return super().execute_command(*args, **options)
        finally:
            task.in_command = False
            sim.done_command(task, argv)


class SimConnection(EngineConnection):
    """An engine connection that schedules pipelines, immediate commands and blocked waits."""

    sim: "Sim"
    _handshake = False

    def on_connect(self, *args: Any, **kwargs: Any) -> None:
        self._handshake = True
        try:
            super().on_connect(*args, **kwargs)
        finally:
            self._handshake = False

    def on_connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        self._handshake = True
        try:
            super().on_connect_check_health(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._handshake = False

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        task = current_task()
        if task is None or task.in_command or self._handshake:
            super().send_command(*args, **kwargs)
            return
        # A command sent straight on the connection (pub/sub, a pipeline after WATCH).
        sim = self.sim
        argv = self._argv(args)
        try:
            sim.gate(task, argv)
        except SimCrash:
            self.disconnect()
            raise
        super().send_command(*args, **kwargs)
        sim.done_command(task, argv)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        task = current_task()
        if task is None or isinstance(command, (str, bytes, bytearray, memoryview)):
            super().send_packed_command(command, check_health)
            return
        sim = self.sim
        # One round trip for the batch, a turn before every command in it.
        first = not task.in_command
        for item in command:
            argv = list(item) if type(item) is _Argv else None
            try:
                sim.gate(task, argv, round_trip=first)
            except SimCrash:
                self.disconnect()  # a crash drops the connection: MULTI is discarded
                raise
            first = False
            super().send_packed_command([item], check_health)
            if argv is not None:
                sim.done_command(task, argv)

    def _wait_ready(self, timeout: float | None) -> bool:
        task = current_task()
        if task is None:
            return super()._wait_ready(timeout)
        sim = self.sim
        while not self._ready():
            if self._session is None:
                return True
            try:
                sim.wait_blocked(task, self)
            except SimCrash:
                self.disconnect()
                raise
        return True


def sim_client(sim: "Sim", **kwargs: Any) -> SimRedis:
    """A client on the simulation's engine whose commands take turns."""
    kwargs.setdefault("max_connections", MAX_CONNECTIONS)
    pool = EngineConnectionPool(sim.engine, **kwargs)
    pool.connection_class = type("SimConnection", (SimConnection,), {"sim": sim})
    r = SimRedis(connection_pool=pool, decode_responses=kwargs.get("decode_responses", False))
    r.sim = sim
    r.auto_close_connection_pool = True
    _prepare_engine(sim.engine, False)
    return r
